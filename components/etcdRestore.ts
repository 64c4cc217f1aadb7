import * as pulumi from "@pulumi/pulumi";
import { CertAuthority } from "./certAuthority";
import { EtcdSnapshots as SnapshotSettings } from "../config/types";
import { ETCDCTL_LIBRARY } from "./etcdMembership";
import { APISERVER_SCRIPT_LIBRARIES } from "./controlPlane";
import { snapshotSettingsFiles } from "./etcdSnapshots";
import { ETCD_CLIENT_PORT, ETCD_PEER_PORT, Member } from "../render/flags";
import { MachineHost } from "./machineHost";
import { clientCert } from "../render/pki";
import { hostScript, settingStep, sha256 } from "../host/remote";

export interface EtcdRestoreArgs {
    controllers: MachineHost[];
    /** Every member, as the restored cluster is made of them. */
    members: pulumi.Input<Member[]>;
    /** The snapshot settings: the store the snapshot is downloaded from, and `restore` (with its sha256). */
    settings: SnapshotSettings;
    etcdCa: CertAuthority;
    /** The etcd image: its etcdutl restores, its etcdctl checks the cluster. */
    image: string;
    clusterName: string;
    /** Which cluster the members' data belongs to (EtcdMember's KDW_CLUSTER_ID). */
    clusterId: pulumi.Input<string>;
    apiServerPort: number;
}

/** What a restore is called by on the hosts and in etcd: the snapshot's key and sha256 together. */
export const restoreId = (key: string, snapshotSha256: string) => sha256(key, snapshotSha256).slice(0, 16);

/**
 * etcd rebuilt from a snapshot on every controller (etcdRestoreSnapshot; host/scripts/etcd-restore.sh). `data`: per
 * controller, before its member's own step, the control plane and the member stopped and the member's data restored
 * from the snapshot as one of a new cluster. `startControlPlane` adds, per controller once every member's step is done,
 * the wait for the new cluster's quorum and the control plane's start on it. Both run when the setting is made or
 * names another snapshot, not when a machine is made again.
 */
export class EtcdRestore extends pulumi.ComponentResource {
    /** Per controller, in order: done when its member's data is the snapshot's. */
    readonly data: pulumi.Resource[];
    private readonly step: (host: MachineHost, phase: "data" | "finish") => Parameters<typeof settingStep>[1];

    constructor(name: string, args: EtcdRestoreArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dumbway:index:EtcdRestore", name, {}, opts);
        const restore = args.settings.restore;
        if (!restore?.sha256) {
            throw new Error("EtcdRestore needs the snapshot's recorded sha256 (main.ts reads it from the store)");
        }
        const id = restoreId(restore.key, restore.sha256);
        const client = args.etcdCa.issue(`${name}-client`, clientCert("kube-dumb-way-etcd-restore"), this);
        this.step = (host, phase) => ({
            connection: host.connection,
            script: hostScript("etcd-restore.sh"),
            libraries: [...APISERVER_SCRIPT_LIBRARIES, ETCDCTL_LIBRARY],
            files: pulumi.all([host.layout, args.members, args.etcdCa.certPem, client.certPem, client.keyPem])
                .apply(([l, members, ca, cert, key]) => {
                    const work = `${l.etc}/etcd-restore`;
                    const endpoints = members.map(m => `https://${m.ip}:${ETCD_CLIENT_PORT}`);
                    return snapshotSettingsFiles(work, host, l, args.settings, args.image, endpoints).apply(settings => [
                        { path: `${work}/kdw-etcd-snapshot`, content: hostScript("kdw-etcd-snapshot.sh"), mode: "0755" },
                        ...settings,
                        { path: `${work}/pki/ca.pem`, content: ca },
                        { path: `${work}/pki/client.pem`, content: cert },
                        { path: `${work}/pki/client-key.pem`, content: key, mode: "0600" },
                    ]);
                }),
            env: pulumi.all([host.layout, host.ip, args.members, args.clusterId]).apply(([l, ip, members, clusterId]) => ({
                KDW_NODE: host.nodeName, KDW_ETC: l.etc, KDW_DATA: l.data, KDW_IMAGE: args.image,
                KDW_CLUSTER_ID: clusterId, KDW_RESTORE_PHASE: phase, KDW_RESTORE_KEY: restore.key,
                KDW_RESTORE_SHA256: restore.sha256!, KDW_RESTORE_ID: id,
                KDW_ETCD_INITIAL_CLUSTER: members.map(m => `${m.name}=https://${m.ip}:${ETCD_PEER_PORT}`).join(","),
                KDW_ETCD_PEER_URL: `https://${ip}:${ETCD_PEER_PORT}`,
                KDW_ETCD_SELF: `https://${ip}:${ETCD_CLIENT_PORT}`,
                KDW_ETCD_ENDPOINTS: members.map(m => `https://${m.ip}:${ETCD_CLIENT_PORT}`).join(","),
                // A new cluster's token: no member of the old cluster can talk to the restored one.
                KDW_ETCD_TOKEN: `${args.clusterName}-etcd-restore-${id}`,
                KDW_PORT: String(args.apiServerPort),
            })),
        });
        this.data = args.controllers.map(host => settingStep(`${host.nodeName}-etcd-restore`, this.step(host, "data"),
            { parent: this, dependsOn: [host.ready] }));
    }

    /** The control plane started on the restored cluster, per controller, once every member's step is done. */
    startControlPlane(controllers: MachineHost[], membersInstalled: pulumi.Resource[]): pulumi.Resource[] {
        const started = controllers.map(host => settingStep(`${host.nodeName}-etcd-restored`, this.step(host, "finish"),
            { parent: this, dependsOn: [...this.data, ...membersInstalled] }));
        this.registerOutputs({});
        return started;
    }
}
