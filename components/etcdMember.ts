import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { CertAuthority } from "./certAuthority";
import { ETCD_SNAPSHOT_LIBRARY } from "./etcdSnapshots";
import { ETCD_CLIENT_PORT, etcdArgs, Member } from "../render/flags";
import { MachineHost } from "./machineHost";
import { etcdPeerCert, etcdServerCert } from "../render/pki";
import { hostScript, rollingStep } from "../host/remote";

export interface EtcdMemberArgs {
    host: MachineHost;
    /** Every member, this one included: all start with the same --initial-cluster. */
    members: pulumi.Input<Member[]>;
    /**
     * Every member's host, this one's included. A member of a cluster being made answers only once a quorum of its
     * fellows runs, so it starts when every host is ready, not as soon as its own is: on a busy machine one host's
     * preparation can outlast another member's wait.
     */
    memberHosts: MachineHost[];
    etcdCa: CertAuthority;
    image: string;
    clusterName: string;
    /** What a change waits for before it reaches this member: the previous member's roll. */
    rollsAfter: pulumi.Resource[];
    /** What the member's first start waits for besides the hosts: its data restored from a snapshot (EtcdRestore). */
    startsAfter?: pulumi.Resource[];
}

/**
 * Which cluster a member's data belongs to (etcd.sh refuses another's): the CA that signs its members, by its public
 * key, which a renewal of the CA's certificate keeps.
 */
export const etcdClusterId = (etcdCa: CertAuthority): pulumi.Output<string> =>
    etcdCa.publicKeyPem.apply(caKey => createHash("sha256").update(caKey).digest("hex"));

const clientUrl = (ip: string) => `https://${ip}:${ETCD_CLIENT_PORT}`;

/**
 * One etcd member in a container on a controller, with client and peer TLS and client-certificate auth. Members start
 * together; a change rolls member by member (etcd.sh `roll`: never the one whose restart would cost the quorum, and
 * each healthy in a cluster with quorum before the next).
 */
export class EtcdMember extends pulumi.ComponentResource {
    readonly clientUrl: pulumi.Output<string>;
    /** Done when a change has reached this member and it is healthy again. */
    readonly rolled: pulumi.Resource;
    /** Done when the member first answers on its host. */
    readonly installed: pulumi.Resource;

    constructor(name: string, args: EtcdMemberArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dumbway:index:EtcdMember", name, {}, opts);
        const { host, etcdCa } = args;
        const server = etcdCa.issue(`${name}-server`, host.ip.apply(ip => etcdServerCert(host.nodeName, ip)), this);
        const peer = etcdCa.issue(`${name}-peer`, host.ip.apply(ip => etcdPeerCert(host.nodeName, ip)), this);
        const dir = host.layout.apply(l => `${l.etc}/etcd`);

        const run = rollingStep(name, {
            machineId: host.machineId,
            connection: host.connection,
            script: hostScript("etcd.sh"),
            libraries: [ETCD_SNAPSHOT_LIBRARY],
            files: [
                { path: dir.apply(d => `${d}/ca.pem`), content: etcdCa.certPem },
                { path: dir.apply(d => `${d}/server.pem`), content: server.certPem },
                { path: dir.apply(d => `${d}/server-key.pem`), content: server.keyPem, mode: "0600" },
                { path: dir.apply(d => `${d}/peer.pem`), content: peer.certPem },
                { path: dir.apply(d => `${d}/peer-key.pem`), content: peer.keyPem, mode: "0600" },
            ],
            env: pulumi.all([host.layout, host.ip, args.members, etcdClusterId(etcdCa)]).apply(([l, ip, members, clusterId]) => ({
                KDW_NODE: host.nodeName,
                KDW_ETC: l.etc,
                KDW_DATA: l.data,
                KDW_IMAGE: args.image,
                KDW_ETCD_ARGS: etcdArgs({ name: host.nodeName, ip }, members, args.clusterName).join(" "),
                KDW_ETCD_SELF: clientUrl(ip),
                KDW_ETCD_ENDPOINTS: members.map(m => clientUrl(m.ip)).join(","),
                KDW_CLUSTER_ID: clusterId,
            })),
        }, { parent: this, dependsOn: [...args.memberHosts.map(h => h.ready), ...args.startsAfter ?? []], rollsAfter: args.rollsAfter, formerName: `${name}-run` });

        this.rolled = run.roll;
        this.installed = run.install;
        this.clientUrl = host.ip.apply(clientUrl);
        this.registerOutputs({ clientUrl: this.clientUrl, install: run.install.id, roll: run.roll.id });
    }
}
