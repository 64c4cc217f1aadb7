// The snapshot a restore names (etcdRestoreSnapshot), looked up in the object store before anything is registered: a
// key the store does not hold is refused then, and the sha256 recorded beside the snapshot when it was taken becomes
// the restore's input, which every controller checks its download against.
import * as aws4 from "aws4";
import * as https from "node:https";
import * as http from "node:http";
import { ConfigError, EtcdSnapshots, PROJECT } from "./types";

const KEY = `${PROJECT}:etcdRestoreSnapshot`;
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** One signed request to the store: its status and body. */
async function storeRequest(snapshots: EtcdSnapshots, method: "GET" | "HEAD", key: string): Promise<{ status: number; body: string }> {
    const store = snapshots.store!;
    const url = new URL(`${store.endpoint}/${store.bucket}/${key}`);
    const signed = aws4.sign({
        host: url.host, path: url.pathname, method, service: "s3", region: store.region,
        headers: { "x-amz-content-sha256": EMPTY_SHA256 },
    }, { accessKeyId: store.accessKeyId, secretAccessKey: store.secretAccessKey });
    const client = url.protocol === "https:" ? https : http;
    return new Promise((resolve, reject) => {
        const req = client.request(url, {
            method, headers: signed.headers as http.OutgoingHttpHeaders, timeout: 30_000,
            ...(store.caCert ? { ca: store.caCert } : {}),
        }, res => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", chunk => { body += chunk; });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("timeout", () => req.destroy(new Error("no answer within 30 s")));
        req.on("error", reject);
        req.end();
    });
}

/**
 * The sha256 recorded beside the snapshot to restore (`<key>.sha256`, as kdw-etcd-snapshot writes it), once the store
 * holds both; nothing when no restore is asked for. Throws ConfigError naming the key and the way out.
 */
export async function recordedSnapshotSha256(snapshots: EtcdSnapshots): Promise<string | undefined> {
    const key = snapshots.restore?.key;
    if (key === undefined || !snapshots.store) {
        return undefined;
    }
    const where = `${snapshots.store.endpoint}/${snapshots.store.bucket}`;
    const refuse = (why: string) => new ConfigError([`${KEY} ${key}: ${why} Nothing was changed. The controllers' ` +
        "snapshots are listed by `kdw-etcd-snapshot list` on any controller that runs, or by listing the store under " +
        `${snapshots.store!.prefix}/.`]);
    let snapshot, recorded;
    try {
        [snapshot, recorded] = await Promise.all([storeRequest(snapshots, "HEAD", key), storeRequest(snapshots, "GET", `${key}.sha256`)]);
    } catch (err) {
        throw refuse(`the object store ${where} could not be asked for it (${(err as Error).message}); the machine running ` +
            "Pulumi reads the snapshot's recorded sha256 there before anything changes.");
    }
    if (snapshot.status !== 200) {
        throw refuse(`${where} does not hold it (HTTP ${snapshot.status}).`);
    }
    const sha256 = recorded.status === 200 ? recorded.body.trim().split(/\s+/)[0] : "";
    if (!/^[0-9a-f]{64}$/.test(sha256)) {
        throw refuse(`${where} holds no sha256 recorded beside it (${key}.sha256: HTTP ${recorded.status}); a snapshot ` +
            "is restored only with the sha256 taken with it, which every controller checks its copy against.");
    }
    return sha256;
}
