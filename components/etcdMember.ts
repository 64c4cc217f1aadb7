import * as pulumi from "@pulumi/pulumi";
import { CertAuthority } from "./certAuthority";
import { etcdArgs, Member } from "./flags";
import { MachineHost } from "./machineHost";
import { etcdPeerCert, etcdServerCert } from "./pki";
import { asset, hostStep } from "./remote";

export interface EtcdMemberArgs {
    host: MachineHost;
    /** Every member, this one included: all start with the same --initial-cluster. */
    members: pulumi.Input<Member[]>;
    etcdCa: CertAuthority;
    image: string;
    clusterName: string;
}

/** One etcd member in a container on a controller, with client and peer TLS and client-certificate auth. */
export class EtcdMember extends pulumi.ComponentResource {
    readonly clientUrl: pulumi.Output<string>;

    constructor(name: string, args: EtcdMemberArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dumbway:index:EtcdMember", name, {}, opts);
        const { host, etcdCa } = args;
        const server = etcdCa.issue(`${name}-server`, host.ip.apply(ip => etcdServerCert(host.nodeName, ip)), this);
        const peer = etcdCa.issue(`${name}-peer`, host.ip.apply(ip => etcdPeerCert(host.nodeName, ip)), this);
        const dir = host.layout.apply(l => `${l.etc}/etcd`);

        const run = hostStep(`${name}-run`, {
            connection: host.connection,
            script: asset("etcd.sh"),
            files: [
                { path: dir.apply(d => `${d}/ca.pem`), content: etcdCa.certPem },
                { path: dir.apply(d => `${d}/server.pem`), content: server.certPem },
                { path: dir.apply(d => `${d}/server-key.pem`), content: server.keyPem, mode: "0600" },
                { path: dir.apply(d => `${d}/peer.pem`), content: peer.certPem },
                { path: dir.apply(d => `${d}/peer-key.pem`), content: peer.keyPem, mode: "0600" },
            ],
            env: pulumi.all([host.layout, host.ip, args.members]).apply(([l, ip, members]) => ({
                KDW_NODE: host.nodeName,
                KDW_ETC: l.etc,
                KDW_DATA: l.data,
                KDW_IMAGE: args.image,
                KDW_ETCD_ARGS: etcdArgs({ name: host.nodeName, ip }, members, args.clusterName).join(" "),
            })),
        }, { parent: this, dependsOn: [host.ready] });

        this.clientUrl = host.ip.apply(ip => `https://${ip}:2379`);
        this.registerOutputs({ clientUrl: this.clientUrl, run: run.id });
    }
}
