// The cluster the e2e suite's scenarios share: stack `e2e` (`e2e-<n>` on the set of test hosts n), 3 controllers and 3 workers on the local test hosts over
// docker-machine's generic driver, one controller and one worker of them of the boot2docker kind (the seed's
// VirtualBox machines), the others systemd (Debian); host 6 is the worker the scale scenario adds. A scenario run alone
// brings the cluster up first when the stack has none (clusterStack), and its workloads when they are missing
// (ensureWorkloads), so that every scenario also runs by itself.
//
//   source scripts/env.sh && npm run hosts:up -- 7 --boot2docker 2,5 && npm run e2e [-- <scenario>...]
import * as auto from "@pulumi/pulumi/automation";
import * as assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { KUBE_VIP_LEASE } from "../../render/flags";
import { clusterClient } from "./cluster";
import { engineEvents } from "./engineEvents";
import { eventually, freshStack, HOSTS_SET_SUFFIX, hostsState, ROOT, run, ssh, stackSecretsEnv, TestHost, WORK } from "./harness";
import { Scenario } from "./scenario";
import { machineStorage, testVip, writeStackConfig } from "./stackConfig";

/** Stack `e2e` on the default set of test hosts, `e2e-<n>` on set n (`KDW_HOSTS_INSTANCE`). */
export const STACK = `e2e${HOSTS_SET_SUFFIX}`;
export const { hosts, registry } = hostsState();
export const kubeconfigPath = path.join(WORK, `${STACK}.kubeconfig`);
export const caPath = path.join(WORK, `${STACK}-ca.pem`);
export const controllers = hosts.slice(0, 3);
export const workers = hosts.slice(3, 6);
export const spare = hosts[6];
export const vip = testVip();
export const BOOT2DOCKER_HOSTS = [2, 5];
const HOSTS_UP = `npm run hosts:up -- 7 --boot2docker ${BOOT2DOCKER_HOSTS.join(",")}`;
export const nodeOf = (worker: TestHost) => `kdw-worker-${workers.indexOf(worker)}`;
export const workerOfKind = (kind: TestHost["kind"]) => workers.find(w => w.kind === kind)!;
/** The smoke test's web server, as scripts/images.sh builds it. */
export const image = `${registry.address}/kdw-smoke:2`;
export const writeConfig = (workerCount: number, extra: Record<string, unknown> = {}) => writeStackConfig(STACK, workerCount, extra);
export const { kubectl, etcdctl, etcdMembers, readyNodes, expectReady, podsOf, etcdHealthy } = clusterClient(kubeconfigPath, controllers);
/** The environment of a scenario's Pulumi and docker-machine commands. */
export const stackEnv = (stack: string) => ({ ...stackSecretsEnv(), MACHINE_STORAGE_PATH: machineStorage(stack) });

/** The test hosts are what the e2e needs: 7, with hosts 2 and 5 of the boot2docker kind. */
export function assertTestHosts(): void {
    assert.ok(hosts.length >= 7, `need 7 test hosts (3 controllers, 3 workers, 1 to scale to), found ${hosts.length}: ${HOSTS_UP}`);
    const kinds = hosts.slice(0, 7).map((h, i) => `${i}:${h.kind}`);
    const wanted = hosts.slice(0, 7).map((_, i) => `${i}:${BOOT2DOCKER_HOSTS.includes(i) ? "boot2docker" : "systemd"}`);
    assert.deepEqual(kinds, wanted, `the e2e runs on a mixed cluster: ${HOSTS_UP}`);
}

export async function workspace(stack = STACK): Promise<auto.LocalWorkspace> {
    mkdirSync(WORK, { recursive: true });
    return auto.LocalWorkspace.create({ workDir: ROOT, envVars: stackEnv(stack) });
}

/** Writes the admin kubeconfig and the CA certificate from the stack's outputs, for kubectl and curl. */
export async function saveAccess(stack: auto.Stack): Promise<void> {
    const outputs = await stack.outputs();
    writeFileSync(kubeconfigPath, outputs.kubeconfig.value, { mode: 0o600 });
    writeFileSync(caPath, outputs.caCertificate.value);
}

/** `pulumi up` of the 3+3 cluster as a check, with its slowest steps in the scenario's timings. */
export async function upCheck(report: Scenario, stack: auto.Stack, onOutput?: (line: string) => void): Promise<boolean> {
    writeConfig(3);
    return report.check("pulumi up: 3 controllers + 3 workers over the generic driver", async () => {
        const events = engineEvents();
        const start = Date.now();
        const result = await stack.up({
            onEvent: events.onEvent,
            onOutput: line => { onOutput?.(line); process.stdout.write(`     | ${line}`); },
        });
        // When `pulumi up` returned, as its user sees it end (the engine's own end time is earlier, by the CLI's
        // writing of the state and its plugins' shutdown).
        const returnedAt = Date.now();
        const seconds = (returnedAt - start) / 1000;
        report.timings.up = { seconds, returnedAt, slowest: events.slowest(15), summary: result.summary.resourceChanges };
        await saveAccess(stack);
        return `${seconds.toFixed(0)}s, ${result.summary.resourceChanges?.create ?? 0} resources created`;
    });
}

/**
 * The e2e stack with a converged cluster: the one the scenarios before left, or, when the stack has no resources or
 * its last update did not succeed, one that `pulumi up` makes now (a check of this scenario).
 */
export async function clusterStack(report: Scenario): Promise<auto.Stack> {
    assertTestHosts();
    const stack = await auto.Stack.createOrSelect(STACK, await workspace());
    writeConfig(3);
    const resources = (await stack.exportStack()).deployment.resources ?? [];
    const [last] = await stack.history(1);
    if (resources.length <= 1 || last?.kind !== "update" || last.result !== "succeeded") {
        assert.ok(await upCheck(report, stack), "the cluster this scenario needs could not be brought up");
    }
    await saveAccess(stack);
    return stack;
}

/** `kubectl apply` of objects given as JSON. */
export const apply = (...objects: object[]) =>
    run("kubectl", ["--kubeconfig", kubeconfigPath, "apply", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }) });

const webServer = (app: string) => ({
    metadata: { labels: { app } },
    spec: { containers: [{ name: "web", image, ports: [{ containerPort: 80 }] }] },
});
/** The smoke test's workloads: a web server of 3 replicas behind a NodePort Service, and one on every worker. */
export const WEB = {
    apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web" },
    spec: { replicas: 3, selector: { matchLabels: { app: "web" } }, template: webServer("web") },
};
export const WEB_SERVICE = {
    apiVersion: "v1", kind: "Service", metadata: { name: "web" },
    spec: { type: "NodePort", selector: { app: "web" }, ports: [{ port: 80, targetPort: 80 }] },
};
export const KINDS = {
    apiVersion: "apps/v1", kind: "DaemonSet", metadata: { name: "kinds" },
    spec: { selector: { matchLabels: { app: "kinds" } }, template: webServer("kinds") },
};

/** The workloads the cluster scenario makes, made (or left as they are) for a scenario that runs without it. */
export async function ensureWorkloads(): Promise<void> {
    const missing = [];
    for (const [kind, name] of [["deployment", "web"], ["service", "web"], ["daemonset", "kinds"]]) {
        if ((await kubectl("get", kind, "--ignore-not-found", "-o", "name", name)).trim() === "") {
            missing.push(kind === "deployment" ? WEB : kind === "service" ? WEB_SERVICE : KINDS);
        }
    }
    if (missing.length > 0) {
        await apply(...missing);
    }
    await kubectl("rollout", "status", "deployment/web", "--timeout=180s");
    await kubectl("rollout", "status", "daemonset/kinds", "--timeout=180s");
}

/** The running pod of app `app` on `node`. */
export async function podOn(app: string, node: string) {
    const pod = (await podsOf(app)).find(p => p.node === node);
    assert.ok(pod, `no running ${app} pod on ${node}`);
    return pod;
}

/** The page of the smoke-test web server at `ip`, fetched from inside `pod`. */
export const fetchFrom = (pod: string, ip: string) => kubectl("exec", pod, "--", "timeout", "10", "wget", "-q", "-O", "-", `http://${ip}/`);

/**
 * The smoke checks across the two host kinds, on the daemon set `kinds` (a web server pod on every worker): pod to pod
 * both ways, exec and logs on the boot2docker worker, DNS and the service IP from each kind, NodePort on each kind.
 */
export async function kindChecks(report: Scenario, when: string) {
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
export async function expectAllRoutes(stack: auto.Stack) {
    const ranges = ((await stack.outputs()).workers.value as { ip: string; podCidr: string }[]);
    for (const host of [...controllers, ...workers]) {
        const table = await ssh(host, "ip route");
        const missing = ranges.filter(r => r.ip !== host.ip && !table.includes(`${r.podCidr} via ${r.ip}`));
        assert.deepEqual(missing, [], `${host.name} lacks routes; its table:\n${table}`);
    }
}

/** The controllers that have the virtual IP on an interface, by node name. */
export async function vipHolders(among: TestHost[]): Promise<string[]> {
    const holders: string[] = [];
    for (const host of among) {
        if ((await ssh(host, `ip -o -4 addr show | grep -cF ' ${vip}/32 ' || true`)).trim() !== "0") {
            holders.push(`kdw-controller-${controllers.indexOf(host)}`);
        }
    }
    return holders;
}

export const leaseHolder = async () =>
    (await kubectl("get", "lease", "-n", "kube-system", KUBE_VIP_LEASE.name, "-o", "jsonpath={.spec.holderIdentity}")).trim();

/** docker-machine has no machine in `stack`'s store. */
export async function noMachine(stack: string): Promise<void> {
    const ls = (await run("docker-machine", ["ls", "-q"], { env: { ...process.env, ...stackEnv(stack) } })).trim();
    assert.equal(ls, "", `docker-machine has machines: ${ls}`);
}

/**
 * The e2e stack made afresh: a cluster left by an earlier run is destroyed first (its hosts cleaned), and a stack whose
 * hosts are gone (so that its destroy cannot reach them) is dropped with its killed run's lock.
 */
export async function freshClusterStack(): Promise<auto.Stack> {
    assertTestHosts();
    const ws = await workspace();
    if ((await ws.listStacks()).some(s => s.name === STACK)) {
        const stack = await auto.Stack.select(STACK, ws);
        writeConfig(3);
        await stack.cancel().catch(() => undefined);
        await stack.destroy({ onOutput: line => process.stdout.write(`     | ${line}`) })
            .catch(err => console.log(`     | the earlier e2e stack could not be destroyed; dropping it: ${(err as Error).message.split("\n")[0]}`));
    }
    const stack = await freshStack(ws, STACK, machineStorage(STACK));
    writeConfig(3);
    return stack;
}
