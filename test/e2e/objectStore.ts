// The test set's object store (scripts/hosts.sh object-store), read as the suites check the etcd snapshots the
// clusters copy there: signed requests with curl's SigV4 (the secret key on stdin), the keys under a folder, and when
// a snapshot was taken, from its name.
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { hostLayout } from "../../render/layout";
import { asRoot, run, ssh, TestHost } from "./harness";
import { objectStore } from "./stackConfig";

/** A test stack's folder in the bucket: its cluster's name (the default namePrefix). */
export const PREFIX = "kube-dumb-way";

export type Store = NonNullable<ReturnType<typeof objectStore>>;

/** The sha256 of no payload, which S3 wants signed with a request that sends none. */
const EMPTY_SHA256 = createHash("sha256").digest("hex");

/** A signed request to the store that sends no body. */
export const storeRequest = (store: Store, pathAndQuery: string, ...curlArgs: string[]): Promise<string> =>
    run("curl", ["--silent", "--show-error", "--fail", "--max-time", "60", "--config", "-", "--cacert", store.caCertFile,
        "--aws-sigv4", "aws:amz:us-east-1:s3", "--header", `x-amz-content-sha256: ${EMPTY_SHA256}`, ...curlArgs,
        `${store.endpoint}/${store.bucket}${pathAndQuery}`],
    { input: `user = "${store.accessKeyId}:${store.secretAccessKey}"\n` });

/** The store's keys under a folder, sorted (one page of ListObjectsV2: a few snapshots a controller). */
export async function storeKeys(store: Store, prefix: string): Promise<string[]> {
    const xml = await storeRequest(store, `?list-type=2&prefix=${encodeURIComponent(prefix)}`);
    return [...xml.matchAll(/<Key>([^<]+)<\/Key>/g)].map(m => m[1]).sort();
}

/** When a snapshot was taken and why, from its name (<node>-<UTC time>-<reason>.db). */
export function takenAt(name: string): { at: number; reason: string } {
    const m = /-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-([a-z-]+)\.db$/.exec(name);
    assert.ok(m, `${name} is not named <node>-<time>-<reason>.db`);
    return { at: Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]), reason: m[7] };
}

/**
 * A snapshot taken now on a controller (its node name `node`) by the cluster's own snapshot command (the one its
 * schedule runs), copied to the store; returns its key, the newest manual snapshot of that controller.
 */
export async function takeManualSnapshot(store: Store, controller: TestHost, node: string): Promise<string> {
    const l = hostLayout(controller.kind);
    await ssh(controller, asRoot(controller, `KDW_SNAPSHOT_SETTINGS=${l.etc}/etcd-snapshot ${l.home}/bin/kdw-etcd-snapshot take manual`));
    const keys = (await storeKeys(store, `${PREFIX}/${node}/`)).filter(k => k.endsWith("-manual.db"));
    assert.ok(keys.length > 0, `no manual snapshot of ${node} in the store`);
    return keys[keys.length - 1];
}
