// End to end: the real Pulumi CLI and providers build a 3+3 cluster on the local test hosts with docker-machine's
// generic driver, then the smoke tests of Kubernetes the Hard Way and more run against it: no-op, scale up and down,
// losing a controller, destroy, bad configs. Writes .cache/e2e/report.json and ends with "N passed, N failed".
//
//   source scripts/env.sh && npm run hosts:up -- 7 && npm run e2e
import * as auto from "@pulumi/pulumi/automation";
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import {
    eventually, hostsState, kubectlWith, readyNodes as readyNodesOf, Report, requireEnv, ROOT, run, sleep, ssh, TestHost, WORK, workerNames,
} from "./harness";
import { certificateRenewal } from "./renewal";
import { MACHINE_STORAGE, writeStackConfig } from "./stackConfig";

const STACK = "e2e";
const report = new Report();
const { hosts, registry } = hostsState();
const kubeconfigPath = path.join(WORK, "kubeconfig");
const caPath = path.join(WORK, "ca.pem");
const controllers = hosts.slice(0, 3);
const workers = hosts.slice(3, 6);
const spare = hosts[6];

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

const kubectl = kubectlWith(kubeconfigPath);

async function etcdctl(host: TestHost, args: string, endpoints = "https://127.0.0.1:2379"): Promise<string> {
    return ssh(host, `docker exec kdw-etcd etcdctl --endpoints=${endpoints} --cacert=/etc/etcd/ca.pem ` +
        `--cert=/etc/etcd/server.pem --key=/etc/etcd/server-key.pem ${args}`);
}

const readyNodes = () => readyNodesOf(kubectl);

async function expectReady(names: string[], seconds: number) {
    await eventually(seconds, async () => assert.deepEqual(await readyNodes(), [...names].sort()));
}

async function podsOf(app: string): Promise<{ name: string; ip: string; node: string }[]> {
    const pods = JSON.parse(await kubectl("get", "pods", "-l", `app=${app}`, "-o", "json")).items as any[];
    return pods.filter(p => p.status.phase === "Running" && p.metadata.deletionTimestamp === undefined)
        .map(p => ({ name: p.metadata.name, ip: p.status.podIP, node: p.spec.nodeName }));
}

/** All three etcd members answer healthy (within `seconds`). */
async function etcdHealthy(seconds: number) {
    await eventually(seconds, async () => {
        const health = JSON.parse(await etcdctl(controllers[0], "endpoint health -w json",
            controllers.map(c => `https://${c.ip}:2379`).join(","))) as any[];
        assert.equal(health.filter(h => h.health).length, 3, JSON.stringify(health));
    }, 3000);
}

async function main() {
    mkdirSync(WORK, { recursive: true });
    const env = { PULUMI_CONFIG_PASSPHRASE: requireEnv("PULUMI_CONFIG_PASSPHRASE"), MACHINE_STORAGE_PATH: MACHINE_STORAGE };
    assert.ok(hosts.length >= 7, `need 7 test hosts (3 controllers, 3 workers, 1 to scale to), found ${hosts.length}: npm run hosts:up -- 7`);
    const ws = await auto.LocalWorkspace.create({ workDir: ROOT, envVars: env });
    writeConfig(3);
    const stack = await auto.Stack.createOrSelect(STACK, ws);
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
        await report.check("secrets: no private key in plain text in the stack state or the command logs", async () => {
            // The Automation API's exportStack decrypts secrets (--show-secrets); the CLI's plain export shows the state as stored.
            const state = await run("pulumi", ["stack", "export", "--stack", STACK], { cwd: ROOT });
            assert.doesNotMatch(state, /PRIVATE KEY/, "a private key is stored unencrypted");
            assert.match(state, /"ciphertext"/, "no encrypted secret in the state at all");
            assert.doesNotMatch(upOutput, /PRIVATE KEY/, "a private key appeared in the output of pulumi up");
            const kubeconfig = (await stack.outputs()).kubeconfig;
            assert.equal(kubeconfig.secret, true, "the kubeconfig output is not a secret");
        });
        await clusterChecks(stack);
    } else {
        await report.check("cluster checks after up", async () => { throw new Error("not run: pulumi up failed"); });
    }

    await report.check("destroy: stack empty, no machine, nothing of ours left on the hosts", async () => {
        writeConfig(3);
        const start = Date.now();
        await stack.destroy({ onOutput: line => process.stdout.write(`     | ${line}`) });
        report.timings.destroy = { seconds: (Date.now() - start) / 1000 };
        const state = await stack.exportStack();
        const left = (state.deployment.resources ?? []).filter((r: any) => r.type !== "pulumi:pulumi:Stack");
        assert.deepEqual(left.map((r: any) => r.urn), []);
        await noHostMade();
        for (const host of hosts.slice(0, 7)) {
            const leftovers = await ssh(host, "docker ps -a --format '{{.Names}}' | grep '^kdw-' || true; " +
                "ip route | grep '^10\\.200\\.' || true; pgrep -af '^/opt/kdw/' || true; ls -d /opt/kdw /etc/kdw /var/lib/kdw 2>/dev/null || true");
            assert.equal(leftovers.trim(), "", `${host.name} still has: ${leftovers.trim()}`);
        }
        return `${report.timings.destroy && (report.timings.destroy as any).seconds}s`;
    });
}

async function clusterChecks(stack: auto.Stack) {
    await report.check("etcd: member list shows 3 started members over TLS", async () => {
        const members = JSON.parse(await etcdctl(controllers[0], "member list -w json")).members as any[];
        assert.equal(members.length, 3);
        assert.ok(members.every(m => m.name && m.clientURLs[0].startsWith("https://")), JSON.stringify(members));
        return members.map(m => m.name).join(", ");
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

    await report.check("no-op: preview shows 0 changes and up runs nothing (expectNoChanges)", async () => {
        const preview = await stack.preview({ expectNoChanges: true });
        const changed = Object.entries(preview.changeSummary).filter(([op, n]) => op !== "same" && n > 0);
        assert.deepEqual(changed, []);
        const start = Date.now();
        await stack.up({ expectNoChanges: true });
        report.timings.noopUp = { seconds: (Date.now() - start) / 1000 };
        return `${preview.changeSummary.same} unchanged; no-op up ${((Date.now() - start) / 1000).toFixed(0)}s`;
    });

    await report.check("scale 3→4 workers: preview touches only the new worker and its routes; it becomes Ready", async () => {
        writeConfig(4);
        const ops: string[] = [];
        await stack.preview({ onEvent: e => { const m = e.resourcePreEvent?.metadata; if (m && m.op !== "same") { ops.push(`${m.op} ${m.urn.split("::").pop()}`); } } });
        const strays = ops.filter(o => !/kdw-worker-3/.test(o));
        assert.deepEqual(strays, [], "changes beyond worker-3 and its routes");
        assert.ok(ops.some(o => o === "create kdw-worker-3-node-install"));
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

    await report.check("scale 4→3 workers: the worker, its routes and its Node object go", async () => {
        await kubectl("scale", "deployment/web", "--replicas=3");
        writeConfig(3);
        await stack.up();
        const nodes = (await kubectl("get", "nodes", "-o", "name")).trim().split("\n").sort();
        assert.deepEqual(nodes, workerNames(3).map(n => `node/${n}`));
        for (const host of [...controllers, ...workers]) {
            const routes = await ssh(host, "ip route show 10.200.3.0/24");
            assert.equal(routes.trim(), "", `${host.name} still routes worker-3's pods`);
        }
        assert.equal((await ssh(spare, "pgrep -af ^/opt/kdw/ || true")).trim(), "");
    });

    await report.check("losing a controller: the API still answers within 15s and nodes stay Ready", async () => {
        const lost = controllers[2];
        await run("docker", ["stop", "--time", "5", lost.name]);
        const stopped = Date.now();
        try {
            await eventually(15, () => kubectl("get", "nodes"), 1000);
            const answeredAfter = (Date.now() - stopped) / 1000;
            // Longer than the node monitor grace period, so a node cut off from the API would turn NotReady.
            for (let i = 0; i < 9; i++) {
                await sleep(10_000);
                assert.deepEqual(await readyNodes(), workerNames(3));
            }
            return `API answered ${answeredAfter.toFixed(1)}s after the stop; nodes Ready for 90s`;
        } finally {
            await run("docker", ["start", lost.name]);
        }
    });

    await report.check("the lost controller comes back: etcd has 3 healthy members again", async () => {
        await etcdHealthy(120);
    });

    await report.check("certificate renewal: every leaf certificate due, `up` re-issues and rolls them out, nodes stay Ready", async () => {
        const result = await certificateRenewal({
            stack, controllers, workers, kubeconfigPath, ssh,
            writeConfig: extra => writeConfig(3, extra),
            expectWorkersReady: seconds => expectReady(workerNames(3), seconds),
            etcdHealthy: () => etcdHealthy(120),
        });
        report.timings.renewal = result;
        return result;
    });

}

main().catch(err => {
    report.checks.push({ name: "e2e run", passed: false, seconds: 0, message: (err as Error).message });
    console.log(`FAIL e2e run: ${(err as Error).message}`);
}).finally(() => {
    report.save();
    console.log(report.summary());
    process.exitCode = report.checks.some(c => !c.passed) || report.checks.length === 0 ? 1 : 0;
});
