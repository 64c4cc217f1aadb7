import * as pulumi from "@pulumi/pulumi";
import { EtcdSnapshots as SnapshotSettings } from "../config/types";
import { HostFile, hostScript, hostStep, shellQuote } from "../host/remote";
import { HostLayout } from "../render/layout";
import { MachineHost } from "./machineHost";

export interface EtcdSnapshotsArgs {
    /** The controller whose etcd member this takes snapshots of. */
    host: MachineHost;
    settings: SnapshotSettings;
    /** The etcd image: its etcdctl takes a snapshot, its etcdutl verifies it. */
    image: string;
    /** Every member's client URL, this one's first: a snapshot comes from another member when this one does not answer. */
    endpoints: pulumi.Input<string[]>;
    /** The member, installed: the first snapshot is taken as soon as the service starts. */
    member: pulumi.Resource;
}

/** What a roll of etcd or the control plane calls first: a snapshot of etcd (host/scripts/lib-etcd-snapshot.sh). */
export const ETCD_SNAPSHOT_LIBRARY = "lib-etcd-snapshot.sh";

/** The settings file kdw-etcd-snapshot reads (host/scripts/kdw-etcd-snapshot.sh): `NAME='value'` lines. */
export function snapshotSettingsFile(values: Record<string, string>): string {
    return Object.entries(values).map(([name, value]) => `${name}=${shellQuote(value)}\n`).join("");
}

/**
 * The folder of kdw-etcd-snapshot's settings (KDW_SNAPSHOT_SETTINGS): the settings file, the object store's secret key
 * (from a secret, so the files are one) and its CA. The restore's steps (EtcdRestore) write one of their own.
 */
export function snapshotSettingsFiles(dir: string, host: MachineHost, l: HostLayout, settings: SnapshotSettings, image: string,
    endpoints: string[]): pulumi.Output<HostFile[]> {
    const store = settings.store;
    const values: Record<string, string> = {
        KDW_NODE: host.nodeName, KDW_PROFILE: l.profile, KDW_HOME: l.home, KDW_DATA: l.data, KDW_ETC: l.etc,
        KDW_IMAGE: image, KDW_ETCD_ENDPOINTS: endpoints.join(","),
        KDW_SNAPSHOT_EVERY_MINUTES: String(settings.everyMinutes), KDW_SNAPSHOT_KEEP: String(settings.keep),
        ...(store ? {
            KDW_STORE_ENDPOINT: store.endpoint, KDW_STORE_BUCKET: store.bucket, KDW_STORE_REGION: store.region,
            KDW_STORE_PREFIX: store.prefix, KDW_STORE_ACCESS_KEY: store.accessKeyId,
        } : {}),
    };
    // The secret key goes only on stdin, which stays a secret in the state (all of it, since a part is).
    return pulumi.secret(store?.secretAccessKey ?? "").apply(secret => [
        { path: `${dir}/settings`, content: snapshotSettingsFile(values), mode: "0600" },
        { path: `${dir}/store-secret`, content: secret, mode: "0600" },
        { path: `${dir}/store-ca.pem`, content: store?.caCert ?? "" },
    ]);
}

/**
 * The etcd snapshots of one controller: kdw-etcd-snapshot, its settings and its service, which takes a snapshot at
 * once and then every `everyMinutes`, verifies it, keeps the newest `keep` on the host and copies each to the object
 * store when one is set. etcd.sh and control-plane.sh take one before every roll with the same program. A change of
 * settings updates this step in place on every controller at once: it restarts only the service, nothing of etcd.
 */
export class EtcdSnapshots extends pulumi.ComponentResource {
    constructor(name: string, args: EtcdSnapshotsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dumbway:index:EtcdSnapshots", name, {}, opts);
        const { host, settings } = args;
        const files = pulumi.all([host.layout, args.endpoints]).apply(([l, endpoints]) =>
            snapshotSettingsFiles(`${l.etc}/etcd-snapshot`, host, l, settings, args.image, endpoints).apply(settingsFiles => [
                { path: `${l.home}/bin/kdw-etcd-snapshot`, content: hostScript("kdw-etcd-snapshot.sh"), mode: "0755" },
                ...settingsFiles,
            ]));
        const step = hostStep(`${name}-service`, {
            connection: host.connection,
            script: hostScript("etcd-snapshot.sh"),
            env: host.layout.apply(l => ({ KDW_HOME: l.home, KDW_ETC: l.etc })),
            machineId: host.machineId,
            files,
        }, { parent: this, dependsOn: [args.member] });
        this.registerOutputs({ service: step.id });
    }
}
