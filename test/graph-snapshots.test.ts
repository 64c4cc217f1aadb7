// A 3+1 cluster whose etcd snapshots go to an object store every 30 minutes, 2 kept: every controller's snapshot
// service names its own member first and the store, the secret key travels only on stdin and stays a secret in the
// state, and every roll of etcd and of the control plane takes a snapshot before it changes anything.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { fakeBinaryFolder, filesOf, isSecretValue, mockIp, named, runProgram, ProgramRun } from "./program";

const STORE = { endpoint: "https://s3.example.com:9000", bucket: "etcd", accessKeyId: "AKID", secretAccessKey: "the-secret-key" };
let result: Promise<ProgramRun> | undefined;
const run = () => (result ??= runProgram({
    controllers: 3, workers: 1, binarySource: fakeBinaryFolder(), etcdSnapshotEveryMinutes: 30, etcdSnapshotKeep: 2,
    etcdSnapshotStore: STORE,
}, undefined, undefined, undefined, ["etcdSnapshotStore"]));
const controllers = [0, 1, 2].map(i => `kdw-controller-${i}`);

/** The NAME='value' lines of a settings file, as a map. */
const settingsOf = (text: string) => new Map(text.trim().split("\n").map(line => {
    const [, name, value] = /^([A-Z_]+)=(.*)$/.exec(line)!;
    return [name, value.replace(/^'(.*)'$/, "$1")];
}));

test("each controller's snapshot service: its own member first, the schedule, what it keeps, the store, the etcd image", async () => {
    const { resources, error } = await run();
    assert.equal(error, undefined);
    for (const [i, name] of controllers.entries()) {
        const step = named(resources, `${name}-etcd-snapshots-service`);
        assert.match(step.inputs.create, / kdw up$/);
        assert.match(step.inputs.delete, / kdw down$/);
        assert.ok(step.dependencies.includes(named(resources, `${name}-etcd-install`).urn), `${name}'s snapshots wait for its member`);
        const files = filesOf(step);
        assert.match(files.get("/opt/kdw/bin/kdw-etcd-snapshot")!, /^#!\/bin\/sh\n# kdw-etcd-snapshot takes snapshots/);
        const settings = settingsOf(files.get("/etc/kdw/etcd-snapshot/settings")!);
        const others = controllers.filter(c => c !== name).map(c => `https://${mockIp(c)}:2379`);
        assert.equal(settings.get("KDW_ETCD_ENDPOINTS"), [`https://${mockIp(controllers[i])}:2379`, ...others].join(","));
        assert.equal(settings.get("KDW_SNAPSHOT_EVERY_MINUTES"), "30");
        assert.equal(settings.get("KDW_SNAPSHOT_KEEP"), "2");
        assert.equal(settings.get("KDW_NODE"), name);
        assert.equal(settings.get("KDW_STORE_ENDPOINT"), STORE.endpoint);
        assert.equal(settings.get("KDW_STORE_BUCKET"), "etcd");
        assert.equal(settings.get("KDW_STORE_REGION"), "us-east-1");
        assert.equal(settings.get("KDW_STORE_PREFIX"), "kube-dumb-way");
        assert.equal(settings.get("KDW_STORE_ACCESS_KEY"), "AKID");
        assert.match(settings.get("KDW_IMAGE")!, /\/etcd:\d+\.\d+\.\d+-0$/);
        assert.equal(files.get("/etc/kdw/etcd-snapshot/store-secret"), STORE.secretAccessKey);
    }
});

test("the store's secret key: only on stdin, which the state keeps as a secret; never on a command line", async () => {
    const { resources, error } = await run();
    assert.equal(error, undefined);
    for (const name of controllers) {
        const step = named(resources, `${name}-etcd-snapshots-service`);
        assert.ok(isSecretValue(step.inputs.stdin), `${name}: stdin is not a secret`);
    }
    const inPlainText = resources.filter(r => JSON.stringify({ ...r.inputs, stdin: undefined }).includes(STORE.secretAccessKey));
    assert.deepEqual(inPlainText.map(r => r.name), []);
});

test("every roll of etcd and of the control plane takes a snapshot before it changes anything", async () => {
    const { resources, error } = await run();
    assert.equal(error, undefined);
    for (const name of controllers) {
        for (const [step, before] of [["etcd-roll", "docker stop --time 30"], ["control-plane-roll", "step_aside_kube_vip\n"]]) {
            const roll = named(resources, `${name}-${step}`).inputs.update as string;
            const script = roll.replace(/\\''/g, "'");
            assert.match(script, /kdw_snapshot_before_roll\(\) \{/, `${name}-${step} lacks the library`);
            const call = script.indexOf("|| kdw_snapshot_before_roll");
            assert.ok(call > 0, `${name}-${step} does not call it`);
            assert.ok(call < script.indexOf(before, call - 200), `${name}-${step}: the snapshot is not taken first`);
        }
    }
});
