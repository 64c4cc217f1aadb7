// End to end: the real Pulumi CLI and providers build a 3+3 cluster on the local test hosts with docker-machine's
// generic driver, then the smoke tests of Kubernetes the Hard Way and more run against it: no-op, scale up and down,
// losing the controller that holds the API's virtual IP (twice), reboots, destroy, bad configs. The cluster is mixed: one
// controller and one worker are boot2docker-kind hosts, the others systemd (Debian). Writes .cache/e2e/report.json and
// ends with "N passed, N failed".
//
//   source scripts/env.sh && npm run hosts:up -- 7 --boot2docker 2,5 && npm run e2e
import * as auto from "@pulumi/pulumi/automation";
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { KUBE_VIP_LEASE } from "../../render/flags";
import { hostLayout } from "../../render/layout";
import { assertAvailable, AvailabilityBound, describeAvailability, pollApi, ROLL_BOUND } from "./apiPoller";
import { clusterClient } from "./cluster";
import {
    asRoot, destroyStack, eventually, freshStack, hostsState, Report, ROOT, run, sleep, ssh, stackSecretsEnv, TestHost, WORK, workerNames,
} from "./harness";
import { leftoversOn } from "./leftovers";
import { keyMaterial } from "./secrets";
import { certificateRenewal } from "./renewal";
import { machineStorage, testVip, writeStackConfig } from "./stackConfig";

const STACK = "e2e";
const report = new Report();
const { hosts, registry } = hostsState();
const kubeconfigPath = path.join(WORK, "kubeconfig");
const caPath = path.join(WORK, "ca.pem");
const controllers = hosts.slice(0, 3);
const workers = hosts.slice(3, 6);
const spare = hosts[6];
const vip = testVip();
// A controller and a worker of the boot2docker kind (the seed's VirtualBox machines), the rest systemd.
const BOOT2DOCKER_HOSTS = [2, 5];
const HOSTS_UP = `npm run hosts:up -- 7 --boot2docker ${BOOT2DOCKER_HOSTS.join(",")}`;
const nodeOf = (worker: TestHost) => `kdw-worker-${workers.indexOf(worker)}`;
const workerOfKind = (kind: TestHost["kind"]) => workers.find(w => w.kind === kind)!;

/**
 * How the VIP's holder is lost, and the longest the API may then give no answer through the VIP (polled every 0.5 s):
 * - shut down: kube-vip hands the Lease over as its host stops; measured 1.0–1.3 s in CI's layout (docs/testing.md),
 *   bound at three times that;
 * - killed: nothing is handed over; another controller takes the Lease once it has seen it expire, so the Lease's
 *   timings bound the gap (render/flags.ts kubeVipArgs): 5 s after the last renewal it saw, which it may see up
 *   to one try late, and it tries every 1 s with client-go's jitter (up to 2.2 s apart): 5 + 2.2 + 2.2 s; then about
 *   1 s to announce the address and answer: 10.5 s. Measured 5.5 s and 8.2 s (2026-12-02, four clusters on the two
 *   cores); 8 s would need shorter Leases, which a loaded apiserver would then fail to renew in time.
 */
const VIP_LOSSES: { how: "shut down" | "killed"; bound: AvailabilityBound }[] = [
    { how: "shut down", bound: new AvailabilityBound(4) },
    { how: "killed", bound: new AvailabilityBound(10.5) },
    { how: "killed", bound: new AvailabilityBound(10.5) },
];

/**
 * The longest a lost pod route may stay lost: one period of the kdw-routes loop (its INTERVAL), plus 2 s for the pass
 * and the first probe round through the mended route (a round gives up after 1 s). Measured: 2–5 s.
 */
const ROUTE_REPAIR_BOUND = Number(/^INTERVAL=(\d+)$/m.exec(readFileSync(path.join(ROOT, "host", "scripts", "kdw-routes.sh"), "utf8"))![1]) + 2;

const writeConfig = (workers: number, extra: Record<string, unknown> = {}) => writeStackConfig(STACK, workers, extra);

/** Per-resource wall time from the engine's events, slowest first. */
function timingRecorder() {
    const started = new Map<string, number>();
    const took: { urn: string; seconds: number }[] = [];
    return {
        onEvent(e: auto.EngineEvent) {
            const pre = e.resourcePreEvent?.metadata;
            const done = e.resOutputsEvent?.metadata;
            if (pre) {
                started.set(pre.urn, e.timestamp);
            } else if (done && started.has(done.urn)) {
                took.push({ urn: done.urn.split("::").slice(-2).join("::"), seconds: e.timestamp - started.get(done.urn)! });
            }
        },
        slowest: (n: number) => took.sort((a, b) => b.seconds - a.seconds).slice(0, n),
    };
}

const { kubectl, etcdctl, readyNodes, expectReady, podsOf, etcdHealthy } = clusterClient(kubeconfigPath, controllers);


/** The preview's changes, as `<op> <resource name>`. */
/**
 * A preview (with `expectNoChanges` when asked): its changes as `<op> <resource name>`, and how many resources stay as
 * they are. The read of the stack's own last outputs (`deployed`, main.ts's version-skew check) changes nothing, as
 * Pulumi's own expect-no-changes agrees.
 */
async function previewSteps(stack: auto.Stack, expectNoChanges = false): Promise<{ changes: string[]; same: number }> {
    const changes: string[] = [];
    let same = 0;
    await stack.preview({ expectNoChanges, onEvent: e => {
        const m = e.resourcePreEvent?.metadata;
        const name = m?.urn.split("::").pop();
        if (m?.op === "same") {
            same++;
        } else if (m && !(m.op === "read" && name === "deployed")) {
            changes.push(`${m.op} ${name}`);
        }
    } });
    return { changes, same };
}

/** Scaling between 3 and 4 workers updates the route table of each of the 3+3 hosts that stay, and nothing else. */
const tableUpdates = [0, 1, 2].flatMap(i => [`update kdw-controller-${i}-routes-table`, `update kdw-worker-${i}-routes-table`]).sort();

/** The running pod of app `app` on `node`. */
async function podOn(app: string, node: string) {
    const pod = (await podsOf(app)).find(p => p.node === node);
    assert.ok(pod, `no running ${app} pod on ${node}`);
    return pod;
}

/** The page of the smoke-test web server at `ip`, fetched from inside `pod`. */
const fetchFrom = (pod: string, ip: string) => kubectl("exec", pod, "--", "timeout", "10", "wget", "-q", "-O", "-", `http://${ip}/`);

/**
 * The smoke checks across the two host kinds, on the daemon set `kinds` (a web server pod on every worker): pod to pod
 * both ways, exec and logs on the boot2docker worker, DNS and the service IP from each kind, NodePort on each kind.
 */
async function kindChecks(when: string) {
    const b2d = nodeOf(workerOfKind("boot2docker"));
    const systemd = nodeOf(workerOfKind("systemd"));
    await report.check(`pod to pod between a boot2docker and a systemd worker, both ways (${when})`, async () => {
        const [a, b] = [await podOn("kinds", b2d), await podOn("kinds", systemd)];
        assert.match(await eventually(30, () => fetchFrom(a.name, b.ip)), /kube-dumb-way smoke test/);
        assert.match(await eventually(30, () => fetchFrom(b.name, a.ip)), /kube-dumb-way smoke test/);
        return `${a.node} <-> ${b.node}`;
    });
    await report.check(`exec and logs in a pod on the boot2docker worker (${when})`, async () => {
        const pod = await podOn("kinds", b2d);
        assert.match(await kubectl("exec", pod.name, "--", "busybox"), /BusyBox v\d/);
        await kubectl("exec", pod.name, "--", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/");
        await eventually(20, async () => assert.match(await kubectl("logs", pod.name), /GET \/|response:200|127\.0\.0\.1/));
    });
    await report.check(`DNS and the kubernetes service IP from a pod on each host kind (${when})`, async () => {
        const ip = (await kubectl("get", "service", "web", "-o", "jsonpath={.spec.clusterIP}")).trim();
        for (const node of [b2d, systemd]) {
            const pod = await podOn("kinds", node);
            const web = await eventually(30, () => kubectl("exec", pod.name, "--", "nslookup", "web.default.svc.cluster.local"));
            assert.ok(web.includes(ip), `from ${node}, web resolved to:\n${web}`);
            await kubectl("exec", pod.name, "--", "sh", "-c", "echo | nc -w 5 10.32.0.1 443");
        }
    });
    await report.check(`NodePort answers on a worker of each host kind (${when})`, async () => {
        const port = (await kubectl("get", "service", "web", "-o", "jsonpath={.spec.ports[0].nodePort}")).trim();
        for (const worker of [workerOfKind("boot2docker"), workerOfKind("systemd")]) {
            const page = await eventually(30, () => run("curl", ["--silent", "--fail", "--max-time", "5", `http://${worker.ip}:${port}/`]));
            assert.match(page, /kube-dumb-way smoke test/);
        }
        return `port ${port}`;
    });
}

/** On every host, a route to each other worker's pod range via that worker. */
async function expectAllRoutes(stack: auto.Stack) {
    const ranges = ((await stack.outputs()).workers.value as { ip: string; podCidr: string }[]);
    for (const host of [...controllers, ...workers]) {
        const table = await ssh(host, "ip route");
        const missing = ranges.filter(r => r.ip !== host.ip && !table.includes(`${r.podCidr} via ${r.ip}`));
        assert.deepEqual(missing, [], `${host.name} lacks routes; its table:\n${table}`);
    }
}

/** When the test host's container last started (ms), or undefined while it has none (a boot2docker host is remade). */
async function hostStartedAt(host: TestHost): Promise<number | undefined> {
    try {
        return Date.parse((await run("docker", ["inspect", "-f", "{{.State.StartedAt}}", host.name])).trim());
    } catch {
        return undefined;
    }
}

/**
 * Waits for `host` to start again after `restart` (ms) and then for `ok(bootedAt)` to pass, polling every second from
 * the start, so that the time measured is the host's and not the poll's. Returns when the host started and when `ok`
 * first passed after that.
 */
async function backAfterBoot(host: TestHost, restart: number, ok: (bootedAt: number) => Promise<void>):
    Promise<{ bootedAt: number; passedAt: number }> {
    const deadline = restart + 300_000;
    let bootedAt: number | undefined;
    let last = "the host has not started again";
    for (;;) {
        if (bootedAt === undefined) {
            const started = await hostStartedAt(host);
            bootedAt = started !== undefined && started > restart ? started : undefined;
        }
        if (bootedAt !== undefined) {
            try {
                await ok(bootedAt);
                return { bootedAt, passedAt: Date.now() };
            } catch (err) {
                last = (err as Error).message;
            }
        }
        if (Date.now() > deadline) {
            throw new Error(`${host.name} not back within 300s: ${last}`);
        }
        await sleep(1000);
    }
}

const seconds = (from: number, to: number) => Math.round((to - from) / 100) / 10;

/**
 * Reboots a controller and a worker of one kind together (scripts/hosts.sh reboot) and, with no `pulumi up`, waits for
 * the worker's node to report Ready again (a heartbeat from after the boot), its pods to run again (started after the
 * boot), the controller's apiserver to be ready and etcd to have 3 healthy members, and every route to be back.
 * Returns the times from the restart and from the boot.
 */
async function rebootCheck(stack: auto.Stack, kind: TestHost["kind"], controller: TestHost, worker: TestHost) {
    await report.check(`reboot of a ${kind} controller and worker (${controller.name}, ${worker.name}): ` +
        "back with no pulumi up", async () => {
        const node = nodeOf(worker);
        await podOn("kinds", node);
        const restart = Date.now();
        const [table, nodeReady, podsRunning, controllerReady] = await Promise.all([
            run("bash", [path.join(ROOT, "scripts", "hosts.sh"), "reboot",
                String(hosts.indexOf(controller)), String(hosts.indexOf(worker))], { timeout: 600_000 }),
            backAfterBoot(worker, restart, async bootedAt => {
                const status = JSON.parse(await kubectl("get", "node", node, "-o", "json")).status;
                const ready = status.conditions.find((c: any) => c.type === "Ready");
                // The kubelet that came back reports Ready: a heartbeat from after the boot (seconds precision).
                assert.ok(ready?.status === "True" && Date.parse(ready.lastHeartbeatTime) >= bootedAt - 1000,
                    `${node}: ${JSON.stringify(ready)}`);
            }),
            backAfterBoot(worker, restart, async bootedAt => {
                const pods = JSON.parse(await kubectl("get", "pods", "-A", "--field-selector", `spec.nodeName=${node}`,
                    "-o", "json")).items as any[];
                // Every container of every pod: a pod whose statuses are not all reported yet is not running again.
                const stale = pods.filter(p => {
                    const statuses = (p.status.containerStatuses ?? []) as any[];
                    return statuses.length !== p.spec.containers.length || !statuses.every(c =>
                        c.ready && Date.parse(c.state.running?.startedAt ?? 0) >= bootedAt - 1000);
                });
                assert.ok(pods.length > 0 && stale.length === 0, `not running again: ${stale.map(p => p.metadata.name).join(", ")}`);
            }),
            backAfterBoot(controller, restart, async () => {
                await run("curl", ["--silent", "--fail", "--max-time", "5", "--cacert", caPath, `https://${controller.ip}:6443/readyz`]);
                const health = JSON.parse(await etcdctl(controllers[0], "endpoint health -w json",
                    controllers.map(c => `https://${c.ip}:2379`).join(","))) as any[];
                assert.equal(health.filter(h => h.health).length, 3, JSON.stringify(health));
            }),
        ]);
        await eventually(60, () => expectAllRoutes(stack));
        const timings = {
            workerReady: seconds(restart, nodeReady.passedAt), workerReadyAfterBoot: seconds(nodeReady.bootedAt, nodeReady.passedAt),
            podsRunning: seconds(restart, podsRunning.passedAt),
            controllerReady: seconds(restart, controllerReady.passedAt),
            controllerReadyAfterBoot: seconds(controllerReady.bootedAt, controllerReady.passedAt),
        };
        report.timings[`reboot-${kind}`] = { hosts: table.trim().split("\n"), ...timings };
        return `${node} Ready ${timings.workerReady}s after the restart (${timings.workerReadyAfterBoot}s after it booted), ` +
            `its pods running after ${timings.podsRunning}s; ${controller.name} apiserver ready and etcd healthy after ` +
            `${timings.controllerReady}s (${timings.controllerReadyAfterBoot}s after boot)`;
    });
}

async function main() {
    mkdirSync(WORK, { recursive: true });
    const env = { ...stackSecretsEnv(), MACHINE_STORAGE_PATH: machineStorage(STACK) };
    assert.ok(hosts.length >= 7, `need 7 test hosts (3 controllers, 3 workers, 1 to scale to), found ${hosts.length}: ${HOSTS_UP}`);
    const kinds = hosts.slice(0, 7).map((h, i) => `${i}:${h.kind}`);
    const wanted = hosts.slice(0, 7).map((_, i) => `${i}:${BOOT2DOCKER_HOSTS.includes(i) ? "boot2docker" : "systemd"}`);
    assert.deepEqual(kinds, wanted, `the e2e runs on a mixed cluster: ${HOSTS_UP}`);
    const ws = await auto.LocalWorkspace.create({ workDir: ROOT, envVars: env });
    const stack = await freshStack(ws, STACK, machineStorage(STACK));
    writeConfig(3);

    const noHostMade = async () => {
        const ls = (await run("docker-machine", ["ls", "-q"], { env: { ...process.env, ...env } })).trim();
        assert.equal(ls, "", `docker-machine has machines: ${ls}`);
    };

    // Bad configs: rejected by preview with the key named, before any host is made.
    const bad: [string, Record<string, unknown>, RegExp][] = [
        ["an even controller count", { controllers: 2 }, /kube-dumb-way:controllers must be odd/],
        ["overlapping pod and service ranges", { serviceCidr: "10.200.8.0/24" }, /kube-dumb-way:serviceCidr 10\.200\.8\.0\/24 overlaps clusterCidr/],
        ["a DNS IP outside the service range", { clusterDns: "10.99.0.10" }, /kube-dumb-way:clusterDns 10\.99\.0\.10 is outside serviceCidr/],
        ["a virtual IP that a host has", { apiServerVip: controllers[1].ip }, /kube-dumb-way:apiServerVip \S+ is the address of genericHosts\[1\]/],
    ];
    for (const [what, extra, message] of bad) {
        await report.check(`bad config rejected: ${what}`, async () => {
            writeConfig(3, extra);
            let rejected: Error | undefined;
            try {
                await stack.preview();
            } catch (err) {
                rejected = err as Error;
            }
            assert.ok(rejected, "preview accepted the config");
            assert.match(rejected.message, message);
            await noHostMade();
        });
    }
    writeConfig(3);

    const upTimings = timingRecorder();
    let upOutput = "";
    const upOk = await report.check("pulumi up: 3 controllers + 3 workers over the generic driver", async () => {
        const start = Date.now();
        const result = await stack.up({
            onEvent: upTimings.onEvent,
            onOutput: line => { upOutput += line; process.stdout.write(`     | ${line}`); },
        });
        const seconds = (Date.now() - start) / 1000;
        report.timings.up = { seconds, slowest: upTimings.slowest(15), summary: result.summary.resourceChanges };
        const outputs = await stack.outputs();
        writeFileSync(kubeconfigPath, outputs.kubeconfig.value, { mode: 0o600 });
        writeFileSync(caPath, outputs.caCertificate.value);
        return `${seconds.toFixed(0)}s, ${result.summary.resourceChanges?.create ?? 0} resources created`;
    });

    if (upOk) {
        await report.check("secrets: no key material in the stored state, the plain exports or the output of pulumi up, " +
            "in any encoding (PEM, its body, base64 of it, the encryption key's base64, bytes or hex)", async () => {
            // The state with its secrets shown (the Automation API's export keeps them encrypted).
            const needles = keyMaterial(JSON.parse(await run("pulumi", ["stack", "export", "--show-secrets", "--stack", STACK], { cwd: ROOT })));
            // As stored, and as a user without --show-secrets sees them.
            const stored = await run("pulumi", ["stack", "export", "--stack", STACK], { cwd: ROOT });
            const outputs = await run("pulumi", ["stack", "output", "--json", "--stack", STACK], { cwd: ROOT });
            assert.match(stored, /"ciphertext"/, "no encrypted secret in the state at all");
            for (const [where, text] of [["the stored state", stored], ["pulumi stack output", outputs], ["pulumi up's output", upOutput]]) {
                const found = needles.filter(n => text.includes(n.text)).map(n => n.what);
                assert.deepEqual(found, [], `key material in ${where}`);
                assert.doesNotMatch(text, /PRIVATE KEY/, `a private key in ${where}`);
            }
            assert.equal((await stack.outputs()).kubeconfig.secret, true, "the kubeconfig output is not a secret");
            const keys = new Set(needles.map(n => n.what.split(":")[0]));
            return `${keys.size} keys (${needles.length} encodings) looked for in each`;
        });
        await clusterChecks(stack);
    } else {
        await report.check("cluster checks after up", async () => { throw new Error("not run: pulumi up failed"); });
    }

    await report.check("destroy: stack empty, no machine, nothing of ours left on the hosts", async () => {
        writeConfig(3);
        report.timings.destroy = { seconds: await destroyStack(stack) };
        await noHostMade();
        for (const host of hosts.slice(0, 7)) {
            const leftovers = await ssh(host, leftoversOn(host));
            assert.equal(leftovers.trim(), "", `${host.name} still has: ${leftovers.trim()}`);
        }
        return `${report.timings.destroy && (report.timings.destroy as any).seconds}s`;
    });
}

/** `kubectl apply --dry-run=server` of `manifest`: its exit status and what it printed, warnings (stderr) included. */
async function dryRunApply(manifest: object): Promise<{ status: number; output: string }> {
    const out = await run("sh", ["-c", `kubectl --kubeconfig ${kubeconfigPath} apply --dry-run=server -f - 2>&1; echo "exit=$?"`],
        { input: JSON.stringify(manifest) });
    const status = Number(/exit=(\d+)\s*$/.exec(out)?.[1]);
    return { status, output: out.replace(/exit=\d+\s*$/, "").trim() };
}

interface AuditEvent {
    level: string; verb: string; objectRef?: { resource: string; name: string; namespace?: string };
    requestObject?: any; responseObject?: unknown; annotations?: Record<string, string>;
}

/** The audit records of the three controllers' apiservers whose line names `name`. */
async function auditRecordsOf(name: string): Promise<{ events: AuditEvent[]; lines: string[] }> {
    const lines: string[] = [];
    for (const host of controllers) {
        const out = await ssh(host, asRoot(host, `grep -h -F '"${name}"' ${hostLayout(host.kind).auditLogs}/audit.log* || true`));
        lines.push(...out.split("\n").filter(Boolean));
    }
    const events = lines.map(line => JSON.parse(line) as AuditEvent).filter(e => e.objectRef?.name === name);
    return { events, lines };
}

/**
 * Secure by default (issue 22): Pod Security Admission's defaults (enforce baseline, warn and audit restricted,
 * kube-system exempt) as a user meets them, and the audit policy's treatment of a Secret and of an RBAC change.
 */
async function securityChecks(image: string) {
    const pod = (name: string, namespace: string, securityContext?: object) => ({
        apiVersion: "v1", kind: "Pod", metadata: { name, namespace },
        spec: { containers: [{ name: "probe", image, ...(securityContext ? { securityContext } : {}) }] },
    });
    await report.check("Pod Security: a privileged pod in default is refused (server dry run) for violating baseline", async () => {
        const { status, output } = await dryRunApply(pod("kdw-psa-privileged", "default", { privileged: true }));
        assert.notEqual(status, 0, `admitted: ${output}`);
        assert.match(output, /pods "kdw-psa-privileged" is forbidden: violates PodSecurity "baseline:latest": privileged \(container "probe" must not set securityContext\.privileged=true\)/);
        return output.split("\n").pop();
    });
    await report.check("Pod Security: the same privileged pod in kube-system is admitted (server dry run), without a warning", async () => {
        const { status, output } = await dryRunApply(pod("kdw-psa-privileged", "kube-system", { privileged: true }));
        assert.equal(status, 0, output);
        assert.equal(output, "pod/kdw-psa-privileged created (server dry run)");
        return output;
    });
    const baselineOnly = `kdw-psa-baseline-${Date.now()}`;
    await report.check("Pod Security: a pod that meets baseline but not restricted is admitted in default (server dry run) " +
        "with a restricted warning, and its audit record names the restricted violations", async () => {
        const { status, output } = await dryRunApply(pod(baselineOnly, "default"));
        assert.equal(status, 0, output);
        assert.match(output, /^Warning: would violate PodSecurity "restricted:latest": .*allowPrivilegeEscalation != false/m);
        assert.match(output, new RegExp(`^pod/${baselineOnly} created \\(server dry run\\)$`, "m"));
        return eventually(60, async () => {
            const { events } = await auditRecordsOf(baselineOnly);
            const create = events.find(e => e.verb === "create" && e.objectRef?.resource === "pods");
            assert.ok(create, `no audit record of the pod's creation (${events.length} records of it)`);
            assert.match(create.annotations?.["pod-security.kubernetes.io/audit-violations"] ?? "",
                /would violate PodSecurity "restricted:latest"/, JSON.stringify(create.annotations));
            return output.split("\n")[0];
        }, 5000);
    });

    await report.check("audit log: a Secret read is recorded at Metadata level without the Secret's data; an RBAC change " +
        "(a Role and a RoleBinding created) is recorded at Request level with its request body", async () => {
        const stamp = Date.now();
        const [secret, role, binding] = ["secret", "role", "binding"].map(what => `kdw-audit-${what}-${stamp}`);
        const value = `kdw-audit-value-${stamp}`;
        await kubectl("-n", "default", "create", "secret", "generic", secret, `--from-literal=k=${value}`);
        await kubectl("-n", "default", "get", "secret", secret, "-o", "name");
        await kubectl("-n", "default", "create", "role", role, "--verb=get", "--resource=pods");
        await kubectl("-n", "default", "create", "rolebinding", binding, `--role=${role}`, "--user=kdw-audit-user");
        try {
            return await eventually(60, async () => {
                const secretRecords = await auditRecordsOf(secret);
                const read = secretRecords.events.find(e => e.verb === "get" && e.objectRef?.resource === "secrets");
                assert.ok(read, `no audit record of the Secret's read (${secretRecords.events.map(e => e.verb).join(", ")})`);
                assert.equal(read.level, "Metadata");
                for (const e of secretRecords.events) {
                    assert.equal(e.level, "Metadata", `${e.verb} secrets at ${e.level}`);
                    assert.ok(!e.requestObject && !e.responseObject, `${e.verb} secrets recorded with a body`);
                }
                const leaked = secretRecords.lines.filter(l => l.includes(value) || l.includes(Buffer.from(value).toString("base64")));
                assert.deepEqual(leaked, [], "the Secret's data in the audit log");
                const roleCreate = (await auditRecordsOf(role)).events.find(e => e.verb === "create" && e.objectRef?.resource === "roles");
                const bindingCreate = (await auditRecordsOf(binding)).events.find(e => e.verb === "create" && e.objectRef?.resource === "rolebindings");
                assert.ok(roleCreate && bindingCreate, "no audit record of the Role's or the RoleBinding's creation");
                for (const e of [roleCreate, bindingCreate]) {
                    assert.equal(e.level, "Request", `${e.objectRef!.resource} created at ${e.level}`);
                    assert.equal(e.responseObject, undefined, `${e.objectRef!.resource}: the response's body recorded`);
                }
                assert.deepEqual(roleCreate.requestObject?.rules?.[0]?.verbs, ["get"], JSON.stringify(roleCreate.requestObject));
                assert.equal(bindingCreate.requestObject?.subjects?.[0]?.name, "kdw-audit-user", JSON.stringify(bindingCreate.requestObject));
                return `${secretRecords.events.length} records of the Secret (${[...new Set(secretRecords.events.map(e => e.verb))].join(", ")}) ` +
                    "at Metadata, its data in none; the Role's and the RoleBinding's creation at Request with their bodies";
            }, 5000);
        } finally {
            await kubectl("-n", "default", "delete", "secret", secret);
            await kubectl("-n", "default", "delete", "rolebinding", binding);
            await kubectl("-n", "default", "delete", "role", role);
        }
    });
}

/** The controllers that have the virtual IP on an interface, by node name. */
async function vipHolders(among: TestHost[]): Promise<string[]> {
    const holders: string[] = [];
    for (const host of among) {
        if ((await ssh(host, `ip -o -4 addr show | grep -cF ' ${vip}/32 ' || true`)).trim() !== "0") {
            holders.push(`kdw-controller-${controllers.indexOf(host)}`);
        }
    }
    return holders;
}

const leaseHolder = async () =>
    (await kubectl("get", "lease", "-n", "kube-system", KUBE_VIP_LEASE, "-o", "jsonpath={.spec.holderIdentity}")).trim();

async function clusterChecks(stack: auto.Stack) {
    await report.check("virtual IP: the kubeconfig and the endpoint use it, one controller holds it (the Lease's holder), " +
        "kube-vip may hold its Lease and nothing else", async () => {
        const outputs = await stack.outputs();
        assert.equal(outputs.apiServerEndpoint.value, `https://${vip}:6443`);
        assert.ok(readFileSync(kubeconfigPath, "utf8").includes(`server: https://${vip}:6443\n`), "the kubeconfig is not on the VIP");
        const holder = await leaseHolder();
        assert.deepEqual(await vipHolders(controllers), [holder]);
        const canI = async (what: string) => (await run("sh", ["-c",
            `kubectl --kubeconfig ${kubeconfigPath} auth can-i ${what} --as kube-vip || true`])).trim();
        for (const allowed of [`get lease/${KUBE_VIP_LEASE} -n kube-system`, `update lease/${KUBE_VIP_LEASE} -n kube-system`,
            "create leases -n kube-system"]) {
            assert.equal(await canI(allowed), "yes", `kube-vip cannot ${allowed}`);
        }
        for (const denied of ["update lease/kube-scheduler -n kube-system", "list leases -n kube-system",
            `get lease/${KUBE_VIP_LEASE} -n default`, "get pods -n kube-system", "get nodes", "get secrets -n kube-system"]) {
            assert.equal(await canI(denied), "no", `kube-vip can ${denied}`);
        }
        for (const host of controllers) {
            const refused = (await ssh(host, "docker logs --since 30s kdw-kube-vip 2>&1 | grep -ci forbidden || true")).trim();
            assert.equal(refused, "0", `kube-vip on ${host.name} was refused something in the last 30s`);
        }
        return `${vip} on ${holder}`;
    });

    await report.check("etcd: member list shows 3 started members over TLS", async () => {
        const members = JSON.parse(await etcdctl(controllers[0], "member list -w json")).members as any[];
        assert.equal(members.length, 3);
        assert.ok(members.every(m => m.name && m.clientURLs[0].startsWith("https://")), JSON.stringify(members));
        return members.map(m => m.name).join(", ");
    });

    await report.check("etcd's `up` over another cluster's data (the install's own command, another CA) is refused on a systemd and a boot2docker controller; the member runs on, untouched", async () => {
        const state = (await stack.exportStack()).deployment.resources as { urn: string; inputs?: { create?: string } }[];
        const seen: string[] = [];
        for (const i of [0, BOOT2DOCKER_HOSTS[0]]) {
            const controller = controllers[i];
            const install = state.find(r => r.urn.endsWith(`::kdw-controller-${i}-etcd-install`))?.inputs?.create;
            assert.ok(install, `no kdw-controller-${i}-etcd-install in the state`);
            const ownId = /KDW_CLUSTER_ID=([0-9a-f]{64}) /.exec(install)?.[1];
            const data = /KDW_DATA=(\S+) /.exec(install)?.[1];
            assert.ok(ownId && data, "the install command names no cluster or data folder");
            const foreign = install.replace(`KDW_CLUSTER_ID=${ownId} `, `KDW_CLUSTER_ID=${"0".repeat(64)} `);
            const started = async () => (await ssh(controller, "docker inspect --format '{{.State.StartedAt}}' kdw-etcd")).trim();
            const before = await started();
            // Without the files on stdin: the script reads it (empty here) before it refuses.
            const refused = await ssh(controller, `${foreign} </dev/null`).then(() => undefined, (err: Error) => err.message);
            assert.ok(refused, `${controller.name}: etcd.sh up ran over this cluster's data under another cluster's id`);
            assert.match(refused, new RegExp(`${data.replace(/[/.]/g, "\\$&")}/etcd holds etcd data of another cluster .*this cluster's 0{64}.*Nothing was changed on this host`));
            assert.equal(await started(), before, `${controller.name}: the etcd member was restarted`);
            assert.equal((await ssh(controller, asRoot(controller, `cat ${data}/etcd.cluster`))).trim(), ownId, "the data's owner changed");
            seen.push(`${controller.name} (${controller.kind})`);
        }
        await etcdHealthy(30);
        return seen.join(", ");
    });

    await report.check("/version through the cluster CA on every controller", async () => {
        const versions = [];
        for (const c of controllers) {
            const out = await run("curl", ["--silent", "--fail", "--max-time", "10", "--cacert", caPath, `https://${c.ip}:6443/version`]);
            versions.push(JSON.parse(out).gitVersion);
        }
        const pinned = JSON.parse(readFileSync(path.join(ROOT, "versions.json"), "utf8")).kubernetes;
        assert.deepEqual(versions, [pinned, pinned, pinned]);
        return versions[0];
    });

    await report.check("all workers Ready", async () => {
        await expectReady(workerNames(3), 180);
    });

    await report.check("encryption at rest: a secret is stored as k8s:enc:aescbc:v1:key1 in etcd", async () => {
        await kubectl("create", "secret", "generic", "kdw-e2e", "--from-literal=mykey=mydata");
        const raw = await etcdctl(controllers[0], "get /registry/secrets/default/kdw-e2e --print-value-only");
        assert.ok(raw.startsWith("k8s:enc:aescbc:v1:key1"), `stored as: ${JSON.stringify(raw.slice(0, 40))}`);
        assert.ok(!raw.includes("mydata"), "the value is readable in etcd");
    });

    const image = `${registry.address}/kdw-smoke:2`; // as scripts/images.sh builds it
    await securityChecks(image);

    await report.check("deployment: pods Running on the workers", async () => {
        await kubectl("create", "deployment", "web", `--image=${image}`, "--replicas=3", "--port=80");
        await kubectl("rollout", "status", "deployment/web", "--timeout=180s");
        const pods = await podsOf("web");
        assert.equal(pods.length, 3);
        return pods.map(p => `${p.name}@${p.node}`).join(", ");
    });

    await report.check("port-forward answers on loopback", async () => {
        const [pod] = await podsOf("web");
        const pf = spawn("kubectl", ["--kubeconfig", kubeconfigPath, "port-forward", pod.name, "18080:80"], { stdio: "ignore" });
        try {
            const page = await eventually(20, () => run("curl", ["--silent", "--fail", "--max-time", "5", "http://127.0.0.1:18080/"]), 1000);
            assert.match(page, /kube-dumb-way smoke test/);
        } finally {
            pf.kill();
        }
    });

    await report.check("logs: kubectl logs shows the web server's log", async () => {
        const [pod] = await podsOf("web");
        await kubectl("logs", pod.name);
        await kubectl("exec", pod.name, "--", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/");
        const logs = await eventually(20, async () => {
            const out = await kubectl("logs", pod.name);
            assert.match(out, /GET \/|response:200|127\.0\.0\.1/);
            return out;
        });
        return `${logs.split("\n").length} lines`;
    });

    await report.check("exec: a command runs in a pod", async () => {
        const [pod] = await podsOf("web");
        assert.match(await kubectl("exec", pod.name, "--", "busybox"), /BusyBox v\d/);
    });

    await report.check("NodePort service answers on a worker", async () => {
        await kubectl("expose", "deployment", "web", "--port=80", "--type=NodePort");
        const port = (await kubectl("get", "service", "web", "-o", "jsonpath={.spec.ports[0].nodePort}")).trim();
        const page = await eventually(30, () => run("curl", ["--silent", "--fail", "--max-time", "5", `http://${workers[1].ip}:${port}/`]));
        assert.match(page, /kube-dumb-way smoke test/);
        return `port ${port}`;
    });

    await report.check("DNS: kubernetes.default and a service name resolve from a pod", async () => {
        const [pod] = await podsOf("web");
        await kubectl("rollout", "status", "-n", "kube-system", "deployment/coredns", "--timeout=120s");
        const kube = await eventually(30, () => kubectl("exec", pod.name, "--", "nslookup", "kubernetes.default.svc.cluster.local"));
        assert.match(kube, /10\.32\.0\.1\b/);
        const web = await kubectl("exec", pod.name, "--", "nslookup", "web.default.svc.cluster.local");
        const ip = (await kubectl("get", "service", "web", "-o", "jsonpath={.spec.clusterIP}")).trim();
        assert.ok(web.includes(ip), `web resolved to:\n${web}`);
    });

    await report.check("pod to pod across two workers, through the routes", async () => {
        const pods = await podsOf("web");
        const [a, b] = [pods[0], pods.find(p => p.node !== pods[0].node)];
        assert.ok(b, `all pods on one node: ${JSON.stringify(pods)}`);
        const page = await kubectl("exec", a.name, "--", "timeout", "10", "wget", "-q", "-O", "-", `http://${b.ip}/`);
        assert.match(page, /kube-dumb-way smoke test/);
        return `${a.node} -> ${b.node}`;
    });

    await report.check("a pod reaches the kubernetes service IP", async () => {
        const [pod] = await podsOf("web");
        await kubectl("exec", pod.name, "--", "sh", "-c", "echo | nc -w 5 10.32.0.1 443");
    });

    await report.check("daemon set: a web server pod Running on every worker, of both host kinds", async () => {
        const daemonSet = {
            apiVersion: "apps/v1", kind: "DaemonSet", metadata: { name: "kinds" },
            spec: {
                selector: { matchLabels: { app: "kinds" } },
                template: { metadata: { labels: { app: "kinds" } }, spec: { containers: [{ name: "web", image, ports: [{ containerPort: 80 }] }] } },
            },
        };
        await run("kubectl", ["--kubeconfig", kubeconfigPath, "apply", "-f", "-"], { input: JSON.stringify(daemonSet) });
        await kubectl("rollout", "status", "daemonset/kinds", "--timeout=180s");
        const nodes = (await podsOf("kinds")).map(p => p.node).sort();
        assert.deepEqual(nodes, workerNames(3));
        return workers.map(w => `${nodeOf(w)} (${w.kind})`).join(", ");
    });

    await kindChecks("after up");

    await report.check(`routes heal: a route deleted by hand on one worker, all of ours flushed on another; pod traffic ` +
        `broken by each, back within ${ROUTE_REPAIR_BOUND}s of it; no change to preview`, async () => {
        // One pod pinned to each worker, so that each path below crosses exactly the routes it names.
        const probes = workerNames(3).map((node, i) => ({ pod: `route-probe-${i}`, node }));
        for (const p of probes) {
            await kubectl("run", p.pod, `--image=${image}`, "--restart=Never", `--overrides=${JSON.stringify({ spec: { nodeName: p.node } })}`);
        }
        try {
            await kubectl("wait", "--for=condition=Ready", ...probes.map(p => `pod/${p.pod}`), "--timeout=120s");
            const ipOf = new Map<string, string>();
            for (const p of probes) {
                ipOf.set(p.pod, (await kubectl("get", "pod", p.pod, "-o", "jsonpath={.status.podIP}")).trim());
            }
            /**
             * Breaks routes on a worker while a pod on that worker requests a page from each target pod every 0.1 s
             * (a request gives up after 1 s) and prints `<uptime> ok|fail` per round. The pod and the host share the
             * host's clock (/proc/uptime), so the repair time is from the break to the first round that got through
             * after it, however slowly kubectl streams those lines here. Fails 30 s after the break.
             */
            const repair = async (worker: TestHost, from: string, breakIt: string, targets: string[]) => {
                const watch = 'n=0; while [ $n -lt 900 ]; do read t _ < /proc/uptime; r=ok; ' +
                    'for ip in "$@"; do timeout 1 wget -q -O /dev/null "http://$ip/" || r=fail; done; echo "$t $r"; n=$((n+1)); sleep 0.1; done';
                const watcher = spawn("kubectl", ["--kubeconfig", kubeconfigPath, "exec", from, "--", "sh", "-c", watch, "watch",
                    ...targets.map(t => ipOf.get(t)!)], { stdio: ["ignore", "pipe", "ignore"] });
                const rounds: { t: number; ok: boolean }[] = [];
                let partial = "";
                watcher.stdout.on("data", chunk => {
                    const lines = (partial + chunk).split("\n");
                    partial = lines.pop()!;
                    for (const [t, result] of lines.map(l => l.trim().split(" "))) {
                        rounds.push({ t: Number(t), ok: result === "ok" });
                    }
                });
                try {
                    await eventually(90, async () => assert.ok(rounds.some(r => r.ok), `${from} does not reach ${targets.join(", ")} before the break`), 500);
                    // The time once the break is done: a round that started before it may still get through, and
                    // would pass for a repair that never happened.
                    const brokenAt = Number((await ssh(worker, asRoot(worker, `${breakIt} && read t _ < /proc/uptime && echo $t`))).trim());
                    assert.ok(brokenAt > 0, "no time for the break");
                    return await eventually(120, async () => {
                        const after = rounds.filter(r => r.t > brokenAt);
                        const firstFail = after.findIndex(r => !r.ok);
                        const back = after.find((r, i) => r.ok && i > firstFail);
                        const latest = after.length > 0 ? after[after.length - 1].t - brokenAt : 0;
                        if (back && (firstFail >= 0 || after[0] === back)) {
                            return { seconds: Number((back.t - brokenAt).toFixed(2)), trafficBroke: firstFail >= 0, rounds: after.length };
                        }
                        if (latest > 30) {
                            throw new Error(`${from} -> ${targets.join(", ")} still failing ${latest.toFixed(0)}s after \`${breakIt}\``);
                        }
                        throw new Error(`waiting: ${after.length} rounds since the break`);
                    }, 500);
                } finally {
                    watcher.kill();
                }
            };
            /**
             * A break that the loop happens to mend before a round could fail (it runs every 10 s, a round takes up to
             * 1 s) shows no broken traffic: such a break is repeated, up to three times, and every repair is bounded.
             */
            const breakUntilBroken = async (...args: Parameters<typeof repair>) => {
                const tries = [];
                for (let i = 0; i < 3; i++) {
                    const r = await repair(...args);
                    assert.ok(r.seconds <= ROUTE_REPAIR_BOUND, `pod traffic back only ${r.seconds}s after \`${args[2]}\``);
                    tries.push(r);
                    if (r.trafficBroke) {
                        return { ...r, tries: tries.length };
                    }
                }
                throw new Error(`\`${args[2]}\` on ${args[0].name} never broke pod traffic in ${tries.length} tries: ` +
                    tries.map(t => `${t.seconds}s`).join(", "));
            };
            const [w0, w1, w2] = workers;
            const one = await breakUntilBroken(w1, "route-probe-1", "ip route del 10.200.0.0/24", ["route-probe-0"]);
            const all = await breakUntilBroken(w2, "route-probe-2", "ip route show proto 201 | grep -q . && ip route flush proto 201",
                ["route-probe-0", "route-probe-1"]);
            for (const host of [w0, w1, w2]) {
                const routes = (await ssh(host, "ip route show proto 201")).trim().split("\n").length;
                assert.equal(routes, 2, `${host.name} does not have its 2 pod routes back`);
            }
            assert.deepEqual((await previewSteps(stack, true)).changes, []);
            report.timings.routeRepair = { deletedOne: one, flushedAll: all };
            return `one route deleted on ${w1.name}: pod traffic back ${one.seconds}s after (break ${one.tries} of 3);` +
                ` all flushed on ${w2.name}: back ${all.seconds}s after (break ${all.tries} of 3); preview: no change`;
        } finally {
            await kubectl("delete", "pod", "--wait=false", ...probes.map(p => p.pod));
        }
    });

    await report.check("no-op: preview shows 0 changes and up runs nothing (expectNoChanges)", async () => {
        const preview = await previewSteps(stack, true);
        assert.deepEqual(preview.changes, []);
        const start = Date.now();
        await stack.up({ expectNoChanges: true });
        report.timings.noopUp = { seconds: (Date.now() - start) / 1000 };
        return `${preview.same} unchanged; no-op up ${((Date.now() - start) / 1000).toFixed(0)}s`;
    });

    await report.check("scale 3→4 workers: preview touches only the new worker and one route-table step per host; it becomes Ready", async () => {
        writeConfig(4);
        const ops = (await previewSteps(stack)).changes;
        const strays = ops.filter(o => !/kdw-worker-3/.test(o)).sort();
        assert.deepEqual(strays, tableUpdates, "changes beyond worker-3 and one route-table update per existing host");
        assert.ok(ops.some(o => o === "create kdw-worker-3-node-install"));
        assert.ok(ops.some(o => o === "create kdw-worker-3-routes-table"));
        const start = Date.now();
        await stack.up();
        report.timings.scaleUp = { seconds: (Date.now() - start) / 1000 };
        await expectReady(workerNames(4), 180);
        await kubectl("scale", "deployment/web", "--replicas=8");
        await kubectl("rollout", "status", "deployment/web", "--timeout=180s");
        const onNew = (await podsOf("web")).find(p => p.node === "kdw-worker-3");
        assert.ok(onNew, "no pod scheduled on kdw-worker-3");
        const [other] = (await podsOf("web")).filter(p => p.node !== "kdw-worker-3");
        const page = await kubectl("exec", other.name, "--", "timeout", "10", "wget", "-q", "-O", "-", `http://${onNew.ip}/`);
        assert.match(page, /kube-dumb-way smoke test/);
        return `${ops.length} changes, up ${((Date.now() - start) / 1000).toFixed(0)}s`;
    });

    await report.check("scale 4→3 workers: the worker, its routes (on every host, for good) and its Node object go", async () => {
        await kubectl("scale", "deployment/web", "--replicas=3");
        writeConfig(3);
        const ops = (await previewSteps(stack)).changes;
        assert.deepEqual(ops.filter(o => !/kdw-worker-3/.test(o)).sort(), tableUpdates,
            "changes beyond worker-3 and one route-table update per remaining host");
        assert.deepEqual(ops.filter(o => /kdw-worker-3/.test(o) && !o.startsWith("delete ")), []);
        await stack.up();
        const nodes = (await kubectl("get", "nodes", "-o", "name")).trim().split("\n").sort();
        assert.deepEqual(nodes, workerNames(3).map(n => `node/${n}`));
        const routed = async () => {
            for (const host of [...controllers, ...workers]) {
                const routes = await ssh(host, "ip route show 10.200.3.0/24");
                assert.equal(routes.trim(), "", `${host.name} still routes worker-3's pods`);
            }
        };
        await routed();
        assert.equal((await ssh(spare, leftoversOn(spare))).trim(), "", `${spare.name} keeps some of the cluster`);
        await sleep(15_000); // more than one pass of every host's route loop
        await routed();
    });

    // The virtual IP's holder is lost three times, each time whichever controller holds it then: once shut down (its
    // kube-vip hands the Lease over as it stops), then twice killed without warning (the whole host at once, as in a
    // power cut), when only the Lease's expiry moves the address.
    let previousHolder: string | undefined;
    for (const [round, loss] of VIP_LOSSES.entries()) {
        let lost: TestHost | undefined;
        const which = `${round + 1} of ${VIP_LOSSES.length}, ${loss.how}`;
        await report.check(`losing the VIP holder (${which}): the API's longest gap on the VIP at most ${loss.bound.maxGapSeconds}s ` +
            `with at most ${loss.bound.maxFailed} failed polls, a ConfigMap is written and read back, nodes stay Ready for 90s`, async () => {
            const holder = await leaseHolder();
            assert.deepEqual(await vipHolders(controllers), [holder], "not exactly one holder, or not the one the Lease names");
            assert.notEqual(holder, previousHolder, "the VIP is on the controller lost before");
            previousHolder = holder;
            lost = controllers[Number(holder.split("-").pop())];
            const poller = pollApi(kubeconfigPath, "/readyz");
            try {
                await sleep(2000);
                const stopping = Date.now();
                await run("docker", loss.how === "shut down" ? ["stop", "--time", "5", lost.name] : ["kill", lost.name]);
                const stopped = Date.now();
                // A client of its own (2 s per request), besides the poller that measures.
                await eventually(15, () => run("kubectl", ["--kubeconfig", kubeconfigPath, "--request-timeout=2s", "get", "--raw", "/readyz"]), 250);
                const answeredAfter = (Date.now() - stopped) / 1000;
                // A client retries a write that etcd could not commit while it chose a new leader ("etcdserver:
                // request timed out"); the write must still land within the same 15 s of the stop. Applied, not
                // created, so a retry of a write that did land is not an error.
                const configMap = `vip-failover-${round + 1}`;
                const manifest = await kubectl("create", "configmap", configMap, `--from-literal=lost=${holder}`, "--dry-run=client", "-o", "yaml");
                await eventually(Math.max(1, 15 - (Date.now() - stopped) / 1000),
                    () => run("kubectl", ["--kubeconfig", kubeconfigPath, "--request-timeout=5s", "apply", "-f", "-"], { input: manifest }), 250);
                const writtenAfter = (Date.now() - stopped) / 1000;
                assert.equal((await kubectl("get", "configmap", configMap, "-o", "jsonpath={.data.lost}")).trim(), holder);
                // Longer than the node monitor grace period, so a node cut off from the API would turn NotReady.
                for (let i = 0; i < 9; i++) {
                    await sleep(10_000);
                    assert.deepEqual(await readyNodes(), workerNames(3));
                }
                const availability = await poller.stop();
                const newHolder = await leaseHolder();
                assert.notEqual(newHolder, holder, "the Lease still names the lost controller");
                assert.deepEqual(await vipHolders(controllers.filter(c => c !== lost)), [newHolder]);
                report.timings[`vipFailover${round + 1}`] = {
                    how: loss.how, lost: holder, newHolder, ...availability, kubectlAnsweredAfterStopSeconds: answeredAfter,
                    writtenAfterStopSeconds: writtenAfter, dockerStopSeconds: (stopped - stopping) / 1000,
                };
                assertAvailable(availability, loss.bound, `the loss of ${holder}`);
                return `${holder} ${loss.how} (docker ${loss.how === "shut down" ? "stop" : "kill"} took ${((stopped - stopping) / 1000).toFixed(1)}s): ` +
                    `${describeAvailability(availability)}; kubectl answered ${answeredAfter.toFixed(1)}s and wrote ${writtenAfter.toFixed(1)}s ` +
                    `after the stop returned; VIP now on ${newHolder}`;
            } finally {
                await poller.stop(); // when a step above failed; a second stop only reads the figures again
            }
        });

        await report.check(`the lost VIP holder comes back (${which}): etcd has 3 healthy members, its apiserver is ready, ` +
            "its kube-vip runs and the VIP stays on one controller", async () => {
            assert.ok(lost, "no controller was stopped");
            const host = lost;
            await run("docker", ["start", host.name]);
            await etcdHealthy(120);
            await eventually(180, () => run("curl", ["--silent", "--fail", "--max-time", "5", "--cacert", caPath, `https://${host.ip}:6443/readyz`]), 3000);
            await eventually(60, async () => assert.equal((await ssh(host, "docker inspect --format '{{.State.Running}}' kdw-kube-vip")).trim(), "true"));
            assert.deepEqual(await vipHolders(controllers), [await leaseHolder()]);
        });
    }

    // Reboots, one kind at a time so that etcd keeps its majority (controller-0 stays up); the VIP moves if it must.
    await rebootCheck(stack, "systemd", controllers[1], workerOfKind("systemd"));
    await rebootCheck(stack, "boot2docker", controllers.find(c => c.kind === "boot2docker")!, workerOfKind("boot2docker"));
    await kindChecks("after the reboots");
    await report.check("after the reboots: preview shows no change", async () => {
        const preview = await previewSteps(stack, true);
        assert.deepEqual(preview.changes, []);
        return `${preview.same} unchanged`;
    });

    await report.check("certificate renewal: every leaf certificate due, `up` re-issues every signed one and rolls them out one host " +
        "at a time, kube-vip included, nothing replaced; " +
        "servers, the hosts' certificate files and the admin kubeconfig use the new ones; the API's longest gap at most " +
        `${ROLL_BOUND.maxGapSeconds}s with at most ${ROLL_BOUND.maxFailed} failed; nodes stay Ready`, async () => {
        const result = await certificateRenewal({
            stack, controllers, workers, kubeconfigPath, ssh,
            certificateDirs: host => [hostLayout(host.kind).etc, hostLayout(host.kind).kubeletDir],
            writeConfig: extra => writeConfig(3, extra),
            expectWorkersReady: seconds => expectReady(workerNames(3), seconds),
            etcdHealthy: () => etcdHealthy(120),
        });
        report.timings.renewal = result;
        return result;
    });
}

report.run("e2e", main);
