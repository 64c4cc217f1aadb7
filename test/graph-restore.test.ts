// A 3+1 cluster with etcdRestoreSnapshot set: every controller's member is rebuilt from the snapshot before its own step
// starts it, as a member of one new cluster (the same token everywhere, every member in its initial cluster), with the
// sha256 recorded beside the snapshot; the control plane starts on it once every member's step is done; nothing of the
// restore runs again for a new machine; the store's secret key stays on a secret stdin.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { restoreId } from "../components/etcdRestore";
import { fakeBinaryFolder, filesOf, isSecretValue, mockIp, named, runProgram, ProgramRun } from "./program";

const STORE = { endpoint: "https://s3.example.com:9000", bucket: "etcd", accessKeyId: "AKID", secretAccessKey: "the-secret-key" };
const KEY = "kube-dumb-way/kdw-controller-0/kdw-controller-0-20261204T101500Z-scheduled.db";
const SHA256 = "ab".repeat(32);
let result: Promise<ProgramRun> | undefined;
const run = () => (result ??= runProgram({
    controllers: 3, workers: 1, binarySource: fakeBinaryFolder(), etcdSnapshotStore: STORE, etcdRestoreSnapshot: KEY,
}, undefined, undefined, undefined, ["etcdSnapshotStore"], SHA256));
const controllers = [0, 1, 2].map(i => `kdw-controller-${i}`);

/** A step's environment, from its command line's NAME=value words. */
const envOf = (command: string) => new Map([...command.matchAll(/ (KDW_[A-Z0-9_]+)=('[^']*'|\S+)/g)]
    .map(([, name, value]) => [name, value.replace(/^'(.*)'$/, "$1")]));

test("every member's data is restored from the snapshot, as one new cluster, before its own step starts it", async () => {
    const { resources, error } = await run();
    assert.equal(error, undefined);
    const id = restoreId(KEY, SHA256);
    const initialCluster = controllers.map(c => `${c}=https://${mockIp(c)}:2380`).join(",");
    for (const name of controllers) {
        const step = named(resources, `${name}-etcd-restore`);
        const env = envOf(step.inputs.create);
        assert.equal(step.inputs.update, step.inputs.create, "a new snapshot restores again");
        assert.match(step.inputs.create, / kdw up$/);
        assert.equal(env.get("KDW_RESTORE_PHASE"), "data");
        assert.equal(env.get("KDW_RESTORE_KEY"), KEY);
        assert.equal(env.get("KDW_RESTORE_SHA256"), SHA256);
        assert.equal(env.get("KDW_RESTORE_ID"), id);
        assert.equal(env.get("KDW_ETCD_TOKEN"), `kube-dumb-way-etcd-restore-${id}`);
        assert.equal(env.get("KDW_ETCD_INITIAL_CLUSTER"), initialCluster);
        assert.equal(env.get("KDW_ETCD_PEER_URL"), `https://${mockIp(name)}:2380`);
        assert.equal(env.get("KDW_MACHINE"), undefined, "a machine made again would restore again");
        assert.ok(named(resources, `${name}-etcd-install`).dependencies.includes(step.urn),
            `${name}'s member starts before its data is restored`);
        const files = filesOf(step);
        assert.match(files.get("/etc/kdw/etcd-restore/kdw-etcd-snapshot")!, /^#!\/bin\/sh\n# kdw-etcd-snapshot/);
        assert.equal(files.get("/etc/kdw/etcd-restore/store-secret"), STORE.secretAccessKey);
        assert.ok(files.has("/etc/kdw/etcd-restore/pki/client-key.pem"));
        assert.ok(isSecretValue(step.inputs.stdin), `${name}: stdin is not a secret`);
    }
    const members = controllers.map(c => named(resources, `${c}-etcd-install`).urn);
    const data = controllers.map(c => named(resources, `${c}-etcd-restore`).urn);
    for (const name of controllers) {
        const finish = named(resources, `${name}-etcd-restored`);
        assert.equal(envOf(finish.inputs.create).get("KDW_RESTORE_PHASE"), "finish");
        assert.deepEqual([...members, ...data].filter(urn => !finish.dependencies.includes(urn)), [],
            `${name}'s control plane starts before every member is restored and running`);
    }
    const inPlainText = resources.filter(r => JSON.stringify({ ...r.inputs, stdin: undefined }).includes(STORE.secretAccessKey));
    assert.deepEqual(inPlainText.map(r => r.name), []);
});

test("without etcdRestoreSnapshot nothing of a restore is made", async () => {
    const { resources, error } = await runProgram({ controllers: 3, workers: 1, binarySource: fakeBinaryFolder() });
    assert.equal(error, undefined);
    assert.deepEqual(resources.filter(r => /etcd-restore/.test(r.name)).map(r => r.name), []);
});
