// Day 2 under load: a 3+3 cluster brought up at the previous Kubernetes minor (the toolchain's bin-previous/) runs a
// web server (3 replicas, a PodDisruptionBudget of minAvailable 2, a NodePort Service); the API and the Service are
// polled every 0.5 s while `pulumi up` upgrades the cluster to the pinned version, then while a flag change reaches the
// apiservers only, then while the key that encrypts Secrets is rotated (with a change of provider) as Secrets are
// written. Unsupported version changes and rotations are refused first. Writes .cache/e2e/upgrade.json and ends with
// "N passed, N failed".
//
//   source scripts/env.sh && npm run hosts:up -- 6 && npm run e2e:upgrade
import * as auto from "@pulumi/pulumi/automation";
import * as assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as path from "node:path";
import { hostLayout } from "../../../render/layout";
import { ANSWER_WITHIN_SECONDS, assertAvailable, describeAvailability, kubeconfigTls, pollApi, POLL_SECONDS, ROLL_BOUND } from "../apiPoller";
import { clusterClient } from "../cluster";
import { assertOneHostAtATime, describeSteps, stepRecorder } from "../steps";
import { asRoot, destroyStack, eventually, freshStack, hostsState, requireEnv, ROOT, run, ssh, stackSecretsEnv, TestHost, WORK } from "../harness";
import { Scenario } from "../scenario";
import { machineStorage, writeStackConfig } from "../stackConfig";
import { describeWrites, startWriter } from "../writer";

const STACK = "upgrade";
const report = new Scenario("upgrade");
const { hosts, registry } = hostsState();
const kubeconfigPath = path.join(WORK, "upgrade-kubeconfig");
const caPath = path.join(WORK, "upgrade-ca.pem");
const controllers = hosts.slice(0, 3);
const workers = hosts.slice(3, 6);
const controllerNames = controllers.map((_, i) => `kdw-controller-${i}`);
const workerNames = workers.map((_, i) => `kdw-worker-${i}`);
const versions = JSON.parse(readFileSync(path.join(ROOT, "versions.json"), "utf8"));
const previous: string = versions.kubernetesPrevious;
const pinned: string = versions.kubernetes;
const cluster = clusterClient(kubeconfigPath, controllers);
const { kubectl } = cluster;

/** The workload: pods spread over the workers, a budget that lets one go at a time, a preStop pause so that a pod
 * being evicted keeps serving until every kube-proxy has taken it out of the Service. */
const workload = (image: string) => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 8
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {app: web}}}
      containers:
      - name: web
        image: ${image}
        ports: [{containerPort: 80}]
        readinessProbe: {httpGet: {path: /, port: 80}, periodSeconds: 1}
        lifecycle: {preStop: {exec: {command: ["sleep", "5"]}}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec: {minAvailable: 2, selector: {matchLabels: {app: web}}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {type: NodePort, selector: {app: web}, ports: [{port: 80, targetPort: 80}]}
`;


/**
 * Asks the Service every `everyMs` through the node port of a worker that is not being drained or rolled at that
 * moment (round robin over the others), each request on a new connection; a failure is an error, not 200, or no answer
 * within the time the API's requests get (ANSWER_WITHIN_SECONDS): a packet sent to a pod that is gone is never answered,
 * while a slow answer on a busy machine is an answer (once, 2 s counted it lost while the control planes rolled and
 * nothing on the workers changed).
 */
function pollService(port: number, busy: Set<string>, everyMs = 500) {
    let requests = 0;
    let slowest = 0;
    const failures: string[] = [];
    const pending = new Set<Promise<void>>();
    let turn = 0;
    const start = Date.now();
    const ask = () => {
        const free = workers.filter((_, i) => !busy.has(workerNames[i]));
        requests++;
        if (free.length === 0) {
            failures.push(`${((Date.now() - start) / 1000).toFixed(1)}s: every worker is being rolled at once`);
            return;
        }
        const target = free[turn++ % free.length];
        const attempt = new Promise<void>(resolve => {
            const fail = (why: string) => {
                failures.push(`${((Date.now() - start) / 1000).toFixed(1)}s ${target.name}: ${why}`);
                resolve();
            };
            const sent = Date.now();
            const req = http.get({ host: target.ip, port, path: "/", agent: false, timeout: ANSWER_WITHIN_SECONDS * 1000 }, res => {
                res.resume();
                res.on("end", () => {
                    slowest = Math.max(slowest, Date.now() - sent);
                    if (res.statusCode === 200) resolve(); else fail(`HTTP ${res.statusCode}`);
                });
            });
            req.on("timeout", () => req.destroy(new Error(`no answer within ${ANSWER_WITHIN_SECONDS} s`)));
            req.on("error", err => fail(err.message));
        });
        pending.add(attempt);
        attempt.finally(() => pending.delete(attempt));
    };
    ask();
    const timer = setInterval(ask, everyMs);
    return {
        async stop() {
            clearInterval(timer);
            await Promise.all([...pending]);
            return { requests, failures, slowestSeconds: slowest / 1000 };
        },
    };
}

/** The apiservers' /version and the nodes' kubelet versions. */
async function runningVersions(): Promise<{ apiservers: string[]; kubelets: string[] }> {
    const apiservers = [];
    for (const [i, c] of controllers.entries()) {
        const out = await run("curl", ["--silent", "--fail", "--max-time", "10", "--cacert", caPath, `https://${c.ip}:6443/version`]);
        apiservers.push(`${controllerNames[i]}=${JSON.parse(out).gitVersion}`);
    }
    const nodes = JSON.parse(await kubectl("get", "nodes", "-o", "json")).items as any[];
    const kubelets = nodes.map(n => `${n.metadata.name}=${n.status.nodeInfo.kubeletVersion}`).sort();
    return { apiservers, kubelets };
}

async function expectVersions(version: string) {
    const { apiservers, kubelets } = await runningVersions();
    assert.deepEqual(apiservers, controllerNames.map(n => `${n}=${version}`), "apiservers");
    assert.deepEqual(kubelets, workerNames.map(n => `${n}=${version}`), "kubelets");
    return { apiservers, kubelets };
}


async function main() {
    mkdirSync(WORK, { recursive: true });
    const env = { ...stackSecretsEnv(), MACHINE_STORAGE_PATH: machineStorage(STACK) };
    const previousBinaries = requireEnv("KDW_PREVIOUS_BINARY_DIR");
    assert.ok(hosts.length >= 6, `need 6 test hosts (3 controllers, 3 workers), found ${hosts.length}: npm run hosts:up -- 6`);
    const atPrevious = { kubernetesVersion: previous, binarySource: previousBinaries };
    const writeConfig = (extra: Record<string, unknown>) => writeStackConfig(STACK, 3, extra);
    const ws = await auto.LocalWorkspace.create({ workDir: ROOT, envVars: env });
    const stack = await freshStack(ws, STACK, machineStorage(STACK));
    writeConfig(atPrevious);

    /** The error `attempt` fails with under the settings `trying`; `settled` is put back whatever happens. */
    const refusal = async (trying: Record<string, unknown>, settled: Record<string, unknown>, attempt: () => Promise<unknown>) => {
        writeConfig(trying);
        try {
            await attempt();
            return undefined;
        } catch (err) {
            return err as Error;
        } finally {
            writeConfig(settled);
        }
    };

    /**
     * `pulumi up`, its engine events to `onEvent`, while `watchers` (pollers, a writer) run: each stopped once the up
     * ends, however it ends, and its result given back with the up's time in seconds.
     */
    const upWhile = async <W extends Record<string, { stop(): Promise<unknown> }>>(
        onEvent: (e: auto.EngineEvent) => void, watchers: W) => {
        const start = Date.now();
        let failed: { error: unknown } | undefined;
        await stack.up({ onEvent, onOutput: line => process.stdout.write(`     | ${line}`) }).catch(error => { failed = { error }; });
        const results = {} as { [K in keyof W]: Awaited<ReturnType<W[K]["stop"]>> };
        for (const name of Object.keys(watchers) as (keyof W)[]) {
            results[name] = await watchers[name].stop() as Awaited<ReturnType<W[typeof name]["stop"]>>;
        }
        if (failed) {
            throw failed.error;
        }
        return { seconds: (Date.now() - start) / 1000, ...results };
    };

    const first = stepRecorder();
    const upOk = await report.check(`pulumi up at the previous minor ${previous}: hosts install in parallel, rolls are created without running`, async () => {
        const start = Date.now();
        const result = await stack.up({ onEvent: first.onEvent, onOutput: line => process.stdout.write(`     | ${line}`) });
        const seconds = (Date.now() - start) / 1000;
        const outputs = await stack.outputs();
        writeFileSync(kubeconfigPath, outputs.kubeconfig.value, { mode: 0o600 });
        writeFileSync(caPath, outputs.caCertificate.value);
        assert.equal(outputs.kubernetesVersion?.value, previous, "the kubernetesVersion output");
        // What the first up now costs: the roll steps are created after the installs, in a chain; their creates run
        // nothing, so the chain ends soon after the last install.
        const lastOf = (re: RegExp) => Math.max(...first.steps.filter(s => re.test(s.name)).map(s => s.doneAt ?? Infinity));
        const installsDone = lastOf(/-install$/);
        const rollsDone = lastOf(/-(roll|drain|uncordon)$/);
        const installs = first.steps.filter(s => s.name.endsWith("-install")).map(s => s.at);
        report.timings.firstUp = {
            seconds, resources: result.summary.resourceChanges, installsDone, rollsDone,
            installsStartedWithin: Math.max(...installs) - Math.min(...installs),
        };
        return `${seconds.toFixed(0)}s, ${result.summary.resourceChanges?.create ?? 0} resources; last install done at ` +
            `${installsDone.toFixed(1)}s, last roll step created at ${rollsDone.toFixed(1)}s (+${Math.max(0, rollsDone - installsDone).toFixed(1)}s)`;
    });
    if (!upOk) {
        await destroy(stack, writeConfig, atPrevious);
        return;
    }

    await report.check(`every apiserver and kubelet runs ${previous}`, async () => {
        const { apiservers, kubelets } = await expectVersions(previous);
        return [...apiservers, ...kubelets].join(", ");
    });

    let nodePort = 0;
    await report.check("workload: 3 web replicas over the workers, PodDisruptionBudget minAvailable 2, NodePort Service answering", async () => {
        await run("kubectl", ["--kubeconfig", kubeconfigPath, "apply", "-f", "-"], { input: workload(`${registry.address}/kdw-smoke:2`) });
        await kubectl("rollout", "status", "deployment/web", "--timeout=180s");
        nodePort = Number((await kubectl("get", "service", "web", "-o", "jsonpath={.spec.ports[0].nodePort}")).trim());
        const pods = await cluster.podsOf("web");
        assert.equal(pods.length, 3);
        // The pods are Ready; each worker's kube-proxy programs the new Service on its own time (one sync, seconds on a
        // loaded machine). The polling under the upgrade starts only once every worker answers.
        const start = Date.now();
        await eventually(30, async () => {
            for (const w of workers) {
                await run("curl", ["--silent", "--fail", "--max-time", "5", `http://${w.ip}:${nodePort}/`]);
            }
        }, 500);
        return `pods on ${pods.map(p => p.node).join(", ")}; node port ${nodePort}, answering on every worker ` +
            `${((Date.now() - start) / 1000).toFixed(1)}s after the rollout`;
    });

    await report.check("refused before anything changes: two minors up, naming kubernetesVersion and the skew policy", async () => {
        const skipping = `v1.${Number(previous.split(".")[1]) + 2}.0`;
        const refused = await refusal({ ...atPrevious, kubernetesVersion: skipping }, atPrevious, () => stack.up());
        assert.ok(refused, `pulumi up accepted ${skipping}`);
        assert.match(refused.message, new RegExp(`kube-dumb-way:kubernetesVersion ${skipping.replace(/\./g, "\\.")} would upgrade the cluster from ${previous.replace(/\./g, "\\.")} across 2 minor versions; the Kubernetes version skew policy supports one minor at a time`));
        await stack.preview({ expectNoChanges: true });
        await expectVersions(previous);
        return refused.message.split("\n").find(l => l.includes("kubernetesVersion"))?.trim();
    });

    const upgrade = stepRecorder();
    await report.check(`upgrade ${previous} → ${pinned} under load: one host at a time; polled every 0.5 s, the API's longest ` +
        `gap at most ${ROLL_BOUND.maxGapSeconds}s with at most ${ROLL_BOUND.maxFailed} failed, no Service request failed`, async () => {
        writeConfig({});
        const { seconds, api: apiResult, service: serviceResult } = await upWhile(upgrade.onEvent,
            { api: await pollApi(kubeconfigPath), service: pollService(nodePort, upgrade.busy) });
        const order = upgrade.steps.filter(s => s.op === "update" && /-(roll|drain|uncordon)$/.test(s.name)).map(s => s.name);
        report.timings.upgrade = {
            seconds, api: apiResult, service: { requests: serviceResult.requests, failed: serviceResult.failures.length, slowestSeconds: serviceResult.slowestSeconds, failures: serviceResult.failures.slice(0, 20) },
            steps: upgrade.steps, order,
        };
        const replaced = upgrade.steps.filter(s => s.op !== "update");
        assert.deepEqual(replaced.map(s => `${s.op} ${s.name}`), [], "host steps were replaced or created");
        assert.deepEqual(order, [
            ...controllerNames.map(n => `${n}-control-plane-roll`),
            ...workerNames.flatMap(n => [`${n}-node-drain`, `${n}-node-roll`, `${n}-node-uncordon`]),
        ], "the order of the rolls");
        assertOneHostAtATime(upgrade.steps);
        assert.deepEqual(serviceResult.failures, [], `${serviceResult.failures.length}/${serviceResult.requests} Service requests failed`);
        await assertAvailable(apiResult, ROLL_BOUND, "the upgrade", controllers);
        return `${seconds.toFixed(0)}s; ${describeAvailability(apiResult)}; Service: ${serviceResult.failures.length}/${serviceResult.requests} ` +
            `requests failed, slowest answer ${serviceResult.slowestSeconds.toFixed(1)} s; order: ${describeSteps(upgrade.steps.filter(s => s.op === "update" && /-(roll|drain|uncordon)$/.test(s.name)))}`;
    });

    await report.check(`after the upgrade: every kubelet and apiserver at ${pinned}, etcd healthy, the workload whole, nodes schedulable`, async () => {
        const { apiservers, kubelets } = await expectVersions(pinned);
        await cluster.etcdHealthy(60);
        const members = JSON.parse(await cluster.etcdctl(controllers[0], "endpoint health -w json",
            controllers.map(c => `https://${c.ip}:2379`).join(","))) as any[];
        // The last drained worker's pod is made again elsewhere when it is evicted; it may still be starting.
        await eventually(60, async () => assert.equal((await cluster.podsOf("web")).length, 3, "web pods Running"));
        const nodes = JSON.parse(await kubectl("get", "nodes", "-o", "json")).items as any[];
        assert.deepEqual(nodes.filter(n => n.spec.unschedulable).map(n => n.metadata.name), [], "cordoned nodes");
        assert.equal((await stack.outputs()).kubernetesVersion?.value, pinned);
        report.timings.afterUpgrade = { apiservers, kubelets, etcd: members.map(m => `${m.endpoint} ${m.health ? "healthy" : "unhealthy"}`) };
        return `${[...apiservers, ...kubelets].join(", ")}; etcd: ${members.map(m => `${m.endpoint} ${m.health ? "healthy" : "unhealthy"}`).join(", ")}`;
    });

    await report.check("no-op after the upgrade: preview shows no change", async () => {
        await stack.preview({ expectNoChanges: true });
    });

    await report.check(`refused before anything changes: a downgrade to ${previous}`, async () => {
        const refused = await refusal(atPrevious, {}, () => stack.preview());
        assert.ok(refused, "preview accepted the downgrade");
        assert.match(refused.message, new RegExp(`kube-dumb-way:kubernetesVersion ${previous.replace(/\./g, "\\.")} is older than ${pinned.replace(/\./g, "\\.")}, which the cluster runs: Kubernetes does not support downgrades`));
        return refused.message.split("\n").find(l => l.includes("kubernetesVersion"))?.trim();
    });

    await report.check("refused before anything changes: another machineDriver for the running machines, naming the key, " +
        "both drivers and the way out", async () => {
        const refused = await refusal({ machineDriver: "virtualbox", genericHosts: [] }, {}, () => stack.preview());
        assert.ok(refused, "preview accepted another driver for the running machines");
        const named = /kube-dumb-way:machineDriver is "virtualbox", but the running machines \(([^)]*)\) were made with "generic", and docker-machine cannot change that on a made machine/.exec(refused.message);
        assert.ok(named, refused.message);
        assert.deepEqual(named[1].split(", ").sort(), [...controllerNames, ...workerNames].sort(), "the machines named");
        assert.match(refused.message, /Set kube-dumb-way:machineDriver back to "generic"; to move the cluster to new machines, take an etcd snapshot/);
        await stack.preview({ expectNoChanges: true });
        return refused.message.split("\n").find(l => l.includes("machineDriver"))?.trim().slice(0, 160);
    });

    const flag = stepRecorder();
    await report.check("flags for the apiservers only (apiServerExtraArgs event-ttl=2h, audit-log-maxsize=1) roll the control planes " +
        `one at a time; polled every 0.5 s, the API's longest gap at most ${ROLL_BOUND.maxGapSeconds}s with at most ${ROLL_BOUND.maxFailed} failed`, async () => {
        writeConfig({ apiServerExtraArgs: APISERVER_FLAGS });
        const { seconds, api: apiResult } = await upWhile(flag.onEvent, { api: await pollApi(kubeconfigPath) });
        report.timings.flagChange = { seconds, api: apiResult, steps: flag.steps };
        assert.deepEqual(flag.steps.map(s => `${s.op} ${s.name}`).sort(), [
            ...controllerNames.map(n => `update ${n}-control-plane-install`),
            ...controllerNames.map(n => `update ${n}-control-plane-roll`),
        ].sort(), "what changed");
        const rollOrder = flag.steps.filter(s => s.name.endsWith("-roll")).map(s => s.name);
        assert.deepEqual(rollOrder, controllerNames.map(n => `${n}-control-plane-roll`));
        assertOneHostAtATime(flag.steps);
        for (const c of controllers) {
            const args = await ssh(c, "docker inspect --format '{{json .Args}}' kdw-kube-apiserver");
            for (const [name, value] of Object.entries(APISERVER_FLAGS)) {
                assert.ok(args.includes(`--${name}=${value}`), `${c.name}'s apiserver runs without --${name}=${value}`);
            }
        }
        await assertAvailable(apiResult, ROLL_BOUND, "the flag change", controllers);
        return `${seconds.toFixed(0)}s; ${describeAvailability(apiResult)}; order: ${describeSteps(flag.steps.filter(s => s.name.endsWith("-roll")))}`;
    });

    await report.check(`each controller's audit log rotates at its size: ${AUDIT_FLOOD_BYTES / 2 ** 20} MiB of audited reads sent to ` +
        "its apiserver leave a new audit-<time>.log of at most 1 MiB (audit-log-maxsize=1) and at least 1 MiB less one " +
        "record", async () => {
        const results: string[] = [];
        for (const c of controllers) {
            const before = await rotatedAuditLogs(c);
            const sent = await sendAuditedReads(c, AUDIT_FLOOD_BYTES);
            const made = (await rotatedAuditLogs(c)).filter(f => !before.some(b => b.name === f.name));
            assert.ok(made.length > 0, `${c.name}: no rotated audit log after ${sent} audited reads (before: ${before.map(f => f.name).join(", ") || "none"})`);
            for (const f of made) {
                assert.ok(f.bytes <= 2 ** 20 && f.bytes >= 2 ** 20 - AUDIT_RECORD_BOUND,
                    `${c.name}: ${f.name} holds ${f.bytes} bytes, not 1 MiB less at most one record (${AUDIT_RECORD_BOUND} bytes)`);
            }
            results.push(`${c.name}: ${sent} reads, ${made.map(f => `${f.name} ${f.bytes} B`).join(", ")}`);
        }
        return results.join("; ");
    });

    /** Secrets made before the rotation (issue 22: 200), besides those written during it. */
    const SECRETS_BEFORE = 200;
    const rotated = { apiServerExtraArgs: APISERVER_FLAGS, encryptionKeyGeneration: 1, secretsEncryption: "aescbc" };
    const rotation = stepRecorder();
    await report.check("key rotation under load (encryptionKeyGeneration 0 → 1, secretbox → aescbc): the new key reads on " +
        "every apiserver, then writes, every Secret is rewritten, then the old key is dropped, each phase one controller " +
        "at a time, no apiserver restarted (each reloads its file); every Secret written before and during it reads back " +
        `with its value, every Secret in etcd is under aescbc key2, no controller keeps key1; the API's longest gap at most ${ROLL_BOUND.maxGapSeconds}s with at most ` +
        `${ROLL_BOUND.maxFailed} failed; then no change to preview`, async () => {
        const before = Array.from({ length: SECRETS_BEFORE }, (_, n) => `rotation-before-${n}`);
        await cluster.createSecrets("rotation-before", SECRETS_BEFORE);
        const apiserversStarted = () => Promise.all(controllers.map(c =>
            ssh(c, "docker inspect --format '{{.State.StartedAt}}' kdw-kube-apiserver").then(out => `${c.name} ${out.trim()}`)));
        const startedBefore = await apiserversStarted();
        writeConfig(rotated);
        const { seconds, writes, api: apiResult } = await upWhile(rotation.onEvent, {
            writes: startWriter(kubeconfigPath, `rotation-${Date.now()}`, POLL_SECONDS * 1000, "Secret"), api: await pollApi(kubeconfigPath),
        });
        report.timings.rotation = { seconds, api: apiResult, writes: { ...writes, acknowledged: writes.acknowledged.length }, steps: rotation.steps };
        const order = rotation.steps.filter(s => s.op === "update" && !s.name.endsWith("-install")).map(s => s.name);
        assert.deepEqual(order, [
            ...controllerNames.map(n => `${n}-encryption-read`), ...controllerNames.map(n => `${n}-encryption-write`),
            "encryption-rewrite-secrets", ...controllerNames.map(n => `${n}-encryption-roll`),
        ], "what rolled, in order");
        assert.deepEqual(rotation.steps.filter(s => s.name.endsWith("-install")).map(s => `${s.op} ${s.name}`).sort(),
            controllerNames.map(n => `update ${n}-encryption-install`), "installs other than the encryption's recorded inputs");
        assertOneHostAtATime(rotation.steps);
        assert.deepEqual(await apiserversStarted(), startedBefore, "an apiserver restarted during the rotation");
        const unread = await cluster.secretsNotReadBack([...before, ...writes.acknowledged]);
        assert.deepEqual(unread, [], "Secrets missing or not read back with their value");
        assert.ok(writes.acknowledged.length > 100, `only ${writes.acknowledged.length} Secrets written during the rotation: nothing was measured`);
        assert.ok(writes.failed <= ROLL_BOUND.maxFailed,
            `${writes.failed} writes failed, at most ${ROLL_BOUND.maxFailed} allowed: ${describeWrites(writes, writes.acknowledged.length - unread.length)}; ` +
            `the API meanwhile: ${describeAvailability(apiResult)}`);
        const stored = await cluster.assertEncryptedUnder("k8s:enc:aescbc:v1:key2:", "key2");
        assert.ok(stored >= before.length + writes.acknowledged.length, `only ${stored} Secrets in etcd`);
        const outputs = await stack.outputs();
        assert.deepEqual([outputs.secretsEncryption?.value, outputs.encryptionKeyGeneration?.value], ["aescbc", 1]);
        await assertAvailable(apiResult, ROLL_BOUND, "the key rotation", controllers);
        await stack.preview({ expectNoChanges: true });
        return `${seconds.toFixed(0)}s; ${stored} Secrets in etcd under aescbc key2; ${describeWrites(writes, writes.acknowledged.length)}; ` +
            `${describeAvailability(apiResult)}; order: ${describeSteps(rotation.steps.filter(s => s.op === "update" && !s.name.endsWith("-install")))}`;
    });

    // The refusals' other cases (two generations at once, a provider without a rotation) are the entry's unit tests.
    await report.check("refused before anything changes: the key's generation back to 0 (its key is gone from the hosts)", async () => {
        const back = await refusal({ ...rotated, encryptionKeyGeneration: 0 }, rotated, () => stack.preview());
        assert.match(back?.message ?? "accepted", /kube-dumb-way:encryptionKeyGeneration 0 is below 1, the generation that encrypts the running cluster's Secrets/);
        return back!.message.split("\n").find(l => l.includes("encryptionKeyGeneration"))?.trim();
    });

    await destroy(stack, writeConfig, rotated);
}

/** What the flag change gives the apiservers: one flag of the apiserver alone, and the audit log's size in MiB at which it
 * rotates, small so that the test can fill it. */
const APISERVER_FLAGS = { "event-ttl": "2h", "audit-log-maxsize": "1" };
const AUDIT_FLOOD_BYTES = 1.5 * 2 ** 20;
/** A bound on one audit record of sendAuditedReads' requests (its URI with a 6 KiB label selector, and the rest). */
const AUDIT_RECORD_BOUND = 16 * 1024;

/** The rotated audit logs (lumberjack's `audit-<time>.log` beside `audit.log`) in the controller's audit folder. */
async function rotatedAuditLogs(controller: TestHost): Promise<{ name: string; bytes: number }[]> {
    const folder = hostLayout(controller.kind).auditLogs;
    const out = await ssh(controller, asRoot(controller, `cd ${folder} && for f in audit-*.log; do [ -e "$f" ] && wc -c "$f"; done; true`));
    return out.split("\n").filter(Boolean).map(line => {
        const [bytes, name] = line.trim().split(/\s+/);
        return { name, bytes: Number(bytes) };
    });
}

/**
 * Lists ConfigMaps on the controller's own apiserver (not through the VIP) with a long label selector, until the audit
 * records (Metadata level, which holds the request's URI) add up to `bytes`. Returns how many reads were sent.
 */
async function sendAuditedReads(controller: TestHost, bytes: number): Promise<number> {
    const { tls } = kubeconfigTls(readFileSync(kubeconfigPath, "utf8"));
    const values = Array.from({ length: 90 }, (_, n) => `v${n}`.padEnd(63, "x")).join(",");
    const uri = `/api/v1/namespaces/default/configmaps?labelSelector=${encodeURIComponent(`audit-flood notin (${values})`)}`;
    const reads = Math.ceil(bytes / uri.length);
    const get = () => new Promise<void>((resolve, reject) => {
        https.get({ host: controller.ip, port: 6443, path: uri, ...tls, agent: false, timeout: 10_000 }, res => {
            res.resume();
            res.on("end", () => res.statusCode === 200 ? resolve() : reject(new Error(`${controller.name}: HTTP ${res.statusCode}`)));
        }).on("error", reject).on("timeout", function (this: http.ClientRequest) { this.destroy(new Error("no answer in 10 s")); });
    });
    for (let sent = 0; sent < reads; sent += 8) {
        await Promise.all(Array.from({ length: Math.min(8, reads - sent) }, get));
    }
    return reads;
}

async function destroy(stack: auto.Stack, writeConfig: (extra: Record<string, unknown>) => void, extra: Record<string, unknown>) {
    await report.check("destroy: the stack is empty", async () => {
        writeConfig(extra);
        return `${(await destroyStack(stack)).toFixed(0)}s`;
    });
}

const started = Date.now();
report.run(async () => {
    try {
        await main();
    } finally {
        report.timings.suiteSeconds = (Date.now() - started) / 1000;
    }
}, () => console.log(`suite ran ${((Date.now() - started) / 1000).toFixed(0)}s`));
