// The rolling steps' host-side decisions, run for real with stand-ins for docker and kubectl on PATH that record what
// they were asked: etcd's quorum guard, the drain and uncordon around a worker's roll.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { validateConfig, WORKER_BINARIES } from "../config";
import { hostScript, scriptCommand } from "../host/remote";
import { nodeDrainCommand } from "../components/workerNode";
import { ETCD_SNAPSHOT_LIBRARY } from "../components/etcdSnapshots";
import { apiReadyCommand } from "../components/cluster";

function scratch(): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kdw-roll-"));
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    return dir;
}

/** An executable NAME in DIR that appends its arguments to DIR/calls and runs BODY (sh). */
function standIn(dir: string, name: string, body: string) {
    const file = path.join(dir, name);
    writeFileSync(file, `#!/bin/sh\necho "${name} $*" >> ${dir}/calls\n${body}\n`);
    chmodSync(file, 0o755);
}

const members = ["https://10.0.0.1:2379", "https://10.0.0.2:2379", "https://10.0.0.3:2379"];

const CLUSTER_ID = "c".repeat(64);

/**
 * etcd.sh ACTION on member 0 with the given members healthy (by index), over data a cluster left (`owner`: the cluster
 * it recorded, null for none) or none; the docker stand-in reports their health.
 */
function etcdScript(action: "up" | "roll" | "down", healthy: number[], data?: { owner: string | null }, snapshotExit?: number) {
    const dir = scratch();
    if (snapshotExit !== undefined) {
        // This controller takes snapshots: kdw-etcd-snapshot and its settings, as the EtcdSnapshots step leaves them.
        mkdirSync(path.join(dir, "etc", "etcd-snapshot"), { recursive: true });
        writeFileSync(path.join(dir, "etc", "etcd-snapshot", "settings"), `KDW_HOME=${dir}\n`);
        mkdirSync(path.join(dir, "bin"));
        standIn(dir, "bin/kdw-etcd-snapshot", `[ "$KDW_SNAPSHOT_SETTINGS" = ${dir}/etc/etcd-snapshot ] || exit 9\nexit ${snapshotExit}`);
    }
    const lines = members.map((m, i) => healthy.includes(i) ? `${m} is healthy: successfully committed proposal` : `${m} is unhealthy: failed`);
    writeFileSync(path.join(dir, "health"), lines.join("\n") + "\n");
    standIn(dir, "docker", `case "$1 $*" in
  "run "*"endpoint health"*) cat ${dir}/health ;;
  "exec "*"endpoint health"*|"exec "*"endpoint status"*) exit 0 ;;
esac`);
    // etcd's own user, as if it existed (the test must not add users to this machine) and owned what it is given.
    standIn(dir, "id", `case "$*" in *etcd) echo 1000 ;; *) exec ${spawnSync("sh", ["-c", "command -v id"], { encoding: "utf8" }).stdout.trim()} "$@" ;; esac`);
    standIn(dir, "chown", "");
    const dataDir = path.join(dir, "data");
    if (data) {
        mkdirSync(path.join(dataDir, "etcd", "member", "snap"), { recursive: true });
        writeFileSync(path.join(dataDir, "etcd", "member", "snap", "db"), "their keys");
        if (data.owner !== null) {
            writeFileSync(path.join(dataDir, "etcd.cluster"), `${data.owner}\n`);
        }
    }
    // As the step sends it (stepScript), but for the step lock, which this test has no use for.
    const script = ["lib-files.sh", ETCD_SNAPSHOT_LIBRARY, "etcd.sh"].map(hostScript).join("\n");
    const command = scriptCommand(script, action, {
        KDW_ETC: path.join(dir, "etc"), KDW_DATA: dataDir, KDW_IMAGE: "registry.test/etcd:3.6.16-0",
        KDW_ETCD_ARGS: "--name=c0", KDW_NODE: "kdw-controller-0", KDW_ETCD_SELF: members[0], KDW_ETCD_ENDPOINTS: members.join(","),
        KDW_CLUSTER_ID: CLUSTER_ID,
    });
    const caPem = path.join(dir, "etc", "etcd", "ca.pem");
    const input = `${caPem} 0644 ${Buffer.from("this cluster's CA").toString("base64")}\n`;
    const result = spawnSync("sh", ["-c", command], { encoding: "utf8", input, env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
    const calls = existsSync(path.join(dir, "calls")) ? readFileSync(path.join(dir, "calls"), "utf8") : "";
    const owner = path.join(dataDir, "etcd.cluster");
    return {
        status: result.status, stderr: result.stderr, stdout: result.stdout, restarted: /docker run --detach --name kdw-etcd/.test(calls), calls,
        owner: existsSync(owner) ? readFileSync(owner, "utf8").trim() : null,
        theirData: existsSync(path.join(dataDir, "etcd", "member", "snap", "db")),
        filesWritten: existsSync(caPem),
    };
}

const etcdRoll = (healthy: number[]) => etcdScript("roll", healthy);

test("etcd roll on a controller that takes snapshots: one first, before the member stops; a failed one stops the roll", () => {
    const taken = etcdScript("roll", [0, 1, 2], undefined, 0);
    assert.equal(taken.status, 0, taken.stderr);
    const calls = taken.calls.split("\n");
    const snapshot = calls.indexOf("bin/kdw-etcd-snapshot take before-roll");
    assert.ok(snapshot >= 0, taken.calls);
    assert.ok(snapshot < calls.findIndex(c => c.startsWith("docker stop")), `the member stopped before its snapshot:\n${taken.calls}`);
    assert.ok(taken.restarted);

    const failed = etcdScript("roll", [0, 1, 2], undefined, 1);
    assert.notEqual(failed.status, 0);
    assert.equal(failed.restarted, false, failed.calls);
    assert.doesNotMatch(failed.calls, /docker stop/);
    assert.match(failed.stderr, /kdw-controller-0: not rolling: the etcd snapshot before the roll failed/);

    // No member gave one: the roll may be what mends etcd, so it goes on.
    const none = etcdScript("roll", [0, 1, 2], undefined, 3);
    assert.equal(none.status, 0, none.stderr);
    assert.ok(none.restarted, none.calls);
    assert.match(none.stdout, /no etcd member gave a snapshot before this roll; rolling on/);
});

test("etcd roll: with every other member healthy, the member restarts and waits until it is healthy with quorum", () => {
    const r = etcdRoll([0, 1, 2]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.restarted, r.calls);
    assert.match(r.calls, /docker stop --time 30 kdw-etcd[\s\S]*docker run --detach[\s\S]*docker exec kdw-etcd etcdctl --endpoints=https:\/\/127\.0\.0\.1:2379 endpoint health/);
    assert.match(r.stdout, /etcd member healthy, cluster has quorum/);
});

test("etcd roll: refused, before anything stops, when another member is down and the restart would cost the quorum", () => {
    const r = etcdRoll([0, 2]);
    assert.equal(r.status, 1);
    assert.equal(r.restarted, false, r.calls);
    assert.doesNotMatch(r.calls, /docker (stop|rm)/);
    assert.match(r.stderr, /kdw-controller-0: not restarting this etcd member: 1 of the other 2 members are healthy and the cluster needs 2 to keep its quorum/);
    assert.match(r.stderr, /10\.0\.0\.2:2379 is unhealthy/);
});

test("etcd roll: a cluster that has lost its quorum has nothing to lose, so the roll goes on", () => {
    const r = etcdRoll([]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.restarted);
});

test("etcd up on a fresh host records this cluster as the data's owner, then starts the member", () => {
    const r = etcdScript("up", [0, 1, 2]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.restarted, r.calls);
    assert.equal(r.owner, CLUSTER_ID);
    assert.ok(r.filesWritten);
});

test("etcd up over this cluster's own data (a resumed up) starts the member on it", () => {
    const r = etcdScript("up", [0, 1, 2], { owner: CLUSTER_ID });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.restarted, r.calls);
    assert.ok(r.theirData);
});

for (const [kind, owner, says] of [
    ["another cluster's data", "a".repeat(64), /another cluster \(its etcd CA's key digest is a{64}, this cluster's c{64}\)/],
    ["data of no recorded cluster", null, /a cluster this program has no record of/],
] as const) {
    test(`etcd up over ${kind}: refused before anything changes, the data kept, the way out named`, () => {
        const r = etcdScript("up", [0, 1, 2], { owner });
        assert.equal(r.status, 1);
        assert.match(r.stderr, says);
        assert.match(r.stderr, /^kdw-controller-0 \(.*\): \S+\/data\/etcd holds etcd data of /);
        assert.match(r.stderr, /Nothing was changed on this host\. .* remove it on the host: docker rm -f kdw-etcd; rm -rf \S+\/data\/etcd \S+\/data\/etcd\.cluster; then run pulumi up again/);
        assert.doesNotMatch(r.calls, /^docker /m, "docker was called");
        assert.ok(r.theirData, "their data was removed");
        assert.equal(r.owner, owner, "the record of the data's owner changed");
        assert.equal(r.filesWritten, false, "this cluster's certificates were written over theirs");
    });
}

test("etcd roll records this cluster as the owner of a member made before the record was kept", () => {
    const r = etcdScript("roll", [0, 1, 2], { owner: null });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.owner, CLUSTER_ID);
    assert.ok(r.theirData);
});

test("etcd down removes the member and keeps its data (the host's own down removes that)", () => {
    const r = etcdScript("down", [0, 1, 2], { owner: CLUSTER_ID });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.calls, /^docker rm -f kdw-etcd$/m);
    assert.ok(r.theirData);
    assert.equal(r.owner, CLUSTER_ID);
});

/** node-drain.sh ACTION as the program runs it, with the admin kubeconfig on stdin and a kubectl stand-in. */
function nodeDrain(action: "drain" | "uncordon", opts: { previous?: string; kubectl?: string; standIns?: Record<string, string> } = {}) {
    const dir = scratch();
    for (const [name, body] of Object.entries(opts.standIns ?? {})) {
        standIn(dir, name, body);
    }
    standIn(dir, "kubectl", `for a in "$@"; do case "$a" in --kubeconfig) next=1 ;; *) [ -z "\${next:-}" ] || { cp "$a" ${dir}/kubeconfig-seen; echo "$a" > ${dir}/kubeconfig-path; }; next= ;; esac; done
${opts.kubectl ?? ""}`);
    const cfg = validateConfig({ binarySource: "/bin", drainTimeoutSeconds: 30 }, { fileExists: () => true });
    const result = spawnSync("sh", ["-c", nodeDrainCommand(action, "kdw-worker-1", cfg)], {
        encoding: "utf8", input: "apiVersion: v1\nusers: [{user: {client-key-data: S3CR3T}}]\n",
        env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, KDW_ROLL: "abc", PULUMI_COMMAND_STDOUT: opts.previous ?? "" },
    });
    const read = (f: string) => existsSync(path.join(dir, f)) ? readFileSync(path.join(dir, f), "utf8") : "";
    return { ...result, read, calls: read("calls"), kubeconfig: read("kubeconfig-seen"), kubeconfigPath: read("kubeconfig-path").trim() };
}

test("drain: cordons and evicts with the timeout, the kubeconfig in a private file that is gone afterwards", () => {
    // A clock that stands still: the whole timeout is left for the first try however slow this machine is.
    const r = nodeDrain("drain", { standIns: movingClock(0) });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.calls, /^kubectl --kubeconfig \S+ --request-timeout=20s drain kdw-worker-1 --ignore-daemonsets --delete-emptydir-data --timeout=30s$/m);
    assert.doesNotMatch(r.calls, /S3CR3T/, "the key is on a command line");
    assert.match(r.kubeconfig, /client-key-data: S3CR3T/);
    assert.equal(existsSync(r.kubeconfigPath), false, "the kubeconfig file is left behind");
    assert.equal(r.stdout.trim(), "rolled abc");
});

/** A clock for the scripts that moves `step` seconds at each reading, and a sleep that only counts the waits. */
function movingClock(step: number): Record<string, string> {
    return {
        date: `t=$(cat "\${0%/*}/clock" 2>/dev/null || echo 1000); echo $((t + ${step})) > "\${0%/*}/clock"; echo "$t"`,
        sleep: `echo "$*" >> "\${0%/*}/slept"`,
    };
}

test("drain: a drain that times out fails the step with a sentence naming the key and the way out", () => {
    const r = nodeDrain("drain", { kubectl: `case "$*" in *drain*) echo "error: Cannot evict pod as it would violate the pod's disruption budget." >&2; exit 1 ;; esac`,
        standIns: movingClock(4) });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /kdw-worker-1: draining did not finish within 30s \(kube-dumb-way:drainTimeoutSeconds\), for kubectl's reason above: a PodDisruptionBudget/);
    assert.match(r.stderr, /stays cordoned and unchanged/);
    assert.match(r.stderr, /Cannot evict pod as it would violate the pod's disruption budget/, "kubectl's own reason is not shown");
    // Each try gets what is left of the 30 s, never 0 s (kubectl's "wait for ever").
    const timeouts = [...r.calls.matchAll(/drain kdw-worker-1 .*--timeout=(-?\d+)s$/gm)].map(m => Number(m[1]));
    assert.ok(timeouts.length >= 2, `tried ${timeouts.length} time(s)`);
    assert.ok(timeouts[0] <= 30, `first try ${timeouts[0]} s`);
    assert.ok(timeouts.every((t, i) => t > 0 && (i === 0 || t < timeouts[i - 1])), `timeouts ${timeouts}`);
});

test("drain: a drain that fails on a lost API request is tried again within the timeout, and the roll goes on", () => {
    // The first drain fails as it did in CI while a controller was loaded; the second one drains.
    const r = nodeDrain("drain", { kubectl: `case "$*" in *drain*)
        n=$(cat "\${0%/*}/drains" 2>/dev/null || echo 0); echo $((n + 1)) > "\${0%/*}/drains"
        [ "$n" -gt 0 ] || { echo 'error: unable to drain node "kdw-worker-1": net/http: request canceled (Client.Timeout exceeded while awaiting headers)' >&2; exit 1; } ;; esac`,
        standIns: movingClock(1) });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.read("drains").trim(), "2");
    assert.match(r.stderr, /kdw-worker-1: kubectl drain failed \(above\) with \d+s of the timeout left; trying again\./);
    assert.equal(r.stdout.trim(), "rolled abc");
});

test("drain and uncordon: nothing happens when only the credentials changed (the roll's digest is the one last acted on)", () => {
    for (const action of ["drain", "uncordon"] as const) {
        const r = nodeDrain(action, { previous: "rolled abc" });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.calls, "", `${action} ran kubectl`);
        assert.equal(r.stdout.trim(), "rolled abc");
    }
});

test("uncordon: waits for the Node Ready at the configured kubelet version, then uncordons", () => {
    const version = validateConfig({ binarySource: "/bin" }, { fileExists: () => true }).versions.kubernetes;
    const r = nodeDrain("uncordon", { kubectl: `case "$*" in *"get node"*) printf 'True ${version}' ;; esac` });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.calls, /get node kdw-worker-1 -o jsonpath=[\s\S]*uncordon kdw-worker-1/);
});

test("uncordon: waits while the Node is NotReady or at another kubelet version, and uncordons only once both are right", () => {
    const version = validateConfig({ binarySource: "/bin" }, { fileExists: () => true }).versions.kubernetes;
    // Two answers that must not uncordon (the old kubelet Ready, the new one not yet Ready), then the right one; the
    // stand-in for sleep only counts the waits.
    const r = nodeDrain("uncordon", { kubectl: `case "$*" in *"get node"*)
        n=$(cat "\${0%/*}/asked" 2>/dev/null || echo 0); echo $((n + 1)) > "\${0%/*}/asked"
        case $n in 0) printf 'True v1.0.0' ;; 1) printf 'False ${version}' ;; *) printf 'True ${version}' ;; esac ;; esac`,
        standIns: { sleep: `echo "$*" >> "\${0%/*}/slept"` } });
    assert.equal(r.status, 0, r.stderr);
    const calls = r.calls.trim().split("\n").filter(c => c.startsWith("kubectl "))
        .map(c => c.replace(/^kubectl --kubeconfig \S+ --request-timeout=20s /, ""));
    assert.deepEqual(calls.map(c => c.split(" ").slice(0, 3).join(" ")),
        ["get node kdw-worker-1", "get node kdw-worker-1", "get node kdw-worker-1", "uncordon kdw-worker-1"]);
    assert.equal(r.read("slept"), "2\n2\n", "it does not wait between the answers");
});

test("uncordon: an uncordon that fails on a lost API request is tried again, and the step succeeds", () => {
    const version = validateConfig({ binarySource: "/bin" }, { fileExists: () => true }).versions.kubernetes;
    const r = nodeDrain("uncordon", { kubectl: `case "$*" in *"get node"*) printf 'True ${version}' ;;
        *uncordon*) n=$(cat "\${0%/*}/uncordons" 2>/dev/null || echo 0); echo $((n + 1)) > "\${0%/*}/uncordons"
            [ "$n" -gt 0 ] || { echo 'error: http2: client connection lost' >&2; exit 1; } ;; esac`,
        standIns: movingClock(1) });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.read("uncordons").trim(), "2");
    assert.equal(r.stdout.trim(), "rolled abc");
});

test("uncordon: a Node not Ready at the kubelet version within the timeout fails the step, stays cordoned, names the version", () => {
    const version = validateConfig({ binarySource: "/bin" }, { fileExists: () => true }).versions.kubernetes;
    // A clock that moves 4 s at each reading, so that the 30 s timeout comes after a few answers.
    const r = nodeDrain("uncordon", { kubectl: `case "$*" in *"get node"*) printf 'False ${version}' ;; esac`,
        standIns: movingClock(4) });
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`kdw-worker-1: the Node is not Ready with kubelet ${version.replace(/\./g, "\\.")}, or not uncordoned, after 30s \\(now: False ${version.replace(/\./g, "\\.")}\\); it stays cordoned\\.`));
    assert.doesNotMatch(r.calls, /uncordon/, "it uncordoned a Node that never became Ready");
    assert.doesNotMatch(r.stdout, /rolled/, "the step reports the roll done");
});

/** api-ready.sh as the program runs it, the admin kubeconfig on stdin, kubectl answering /openapi/v2 per `kubectl`. */
function apiReady(kubectl: string, clockStep: number) {
    const dir = scratch();
    for (const [name, body] of Object.entries(movingClock(clockStep))) {
        standIn(dir, name, body);
    }
    standIn(dir, "kubectl", `case "$*" in *"config view"*) echo https://10.0.0.250:6443 ;; *) ${kubectl} ;; esac`);
    const result = spawnSync("sh", ["-c", apiReadyCommand], {
        encoding: "utf8", input: "apiVersion: v1\nusers: [{user: {client-key-data: S3CR3T}}]\n",
        env: { ...process.env, PATH: `${dir}:${process.env.PATH}` },
    });
    return { ...result, calls: existsSync(path.join(dir, "calls")) ? readFileSync(path.join(dir, "calls"), "utf8") : "" };
}

test("api-ready: asks for the OpenAPI document again until the API serves it, the kubeconfig only in a file", () => {
    const r = apiReady(`n=$(cat "\${0%/*}/asked" 2>/dev/null || echo 0); echo $((n + 1)) > "\${0%/*}/asked"
        [ "$n" -ge 2 ] || { echo 'context deadline exceeded' >&2; exit 1; }`, 1);
    assert.equal(r.status, 0, r.stderr);
    const asks = r.calls.split("\n").filter(c => / get --raw \/openapi\/v2$/.test(c));
    assert.equal(asks.length, 3, r.calls);
    assert.doesNotMatch(r.calls, /S3CR3T/, "the key is on a command line");
    assert.match(r.stdout, /^the API serves its OpenAPI document after \d+s$/m);
});

test("api-ready: an API that never serves it fails after the timeout, naming the endpoint and the way out", () => {
    const r = apiReady("exit 1", 40);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /the API does not serve \/openapi\/v2 through https:\/\/10\.0\.0\.250:6443 after 300s .*run pulumi up again/s);
});

test("the toolchain's bin-previous/ holds every worker binary: kubelet and kube-proxy of the previous release, the rest shared", () => {
    const script = readFileSync(path.join(__dirname, "..", "..", "scripts", "toolchain.sh"), "utf8");
    const shared = /^PREVIOUS_SHARED="([^"]*)"$/m.exec(script)![1].split(" ").map(b => b.replace(/^cni\//, ""));
    assert.deepEqual([...shared, "kubelet", "kube-proxy"].sort(), [...WORKER_BINARIES].sort());
});
