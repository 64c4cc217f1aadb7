// The cluster measured against the standards: Kubernetes' own conformance tests of sig-network (DNS, Services,
// networking; the e2e.test binary of the pinned release) and the CIS Kubernetes Benchmark (kube-bench), on a 3+3
// cluster that the program brings up on the local test hosts through the Automation API, then destroys. Writes
// .cache/e2e/standards.json (the tallies under `timings`) and ends with "N passed, N failed".
//
//   source scripts/env.sh && npm run hosts:up -- 6 && npm run e2e:standards
import * as auto from "@pulumi/pulumi/automation";
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, createWriteStream, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { hostLayout } from "../../components/layout";
import {
    destroyStack, eventually, freshStack, hostsState, kubectlWith, readyNodes, Report, requireEnv, ROOT, run, scp, ssh, TestHost, WORK, workerNames,
} from "./harness";
import {
    auditPathMap, BENCHMARK, BenchTally, kubeBenchConfig, mapAuditPaths, NOT_APPLICABLE, tallyKubeBench, TARGETS,
} from "./kubeBench";
import { CONFORMANCE_CANNOT_PASS_HERE, CONFORMANCE_FOCUS, ConformanceTally, tallyConformance } from "./conformance";
import { machineStorage, writeStackConfig } from "./stackConfig";

const STACK = "standards";
const report = new Report("standards.json");
const { hosts, stateDir } = hostsState();
const kubeconfigPath = path.join(WORK, "standards-kubeconfig");
const kubectl = kubectlWith(kubeconfigPath);
const versions = JSON.parse(readFileSync(path.join(ROOT, "versions.json"), "utf8"));

/** Runs a program with its output to a log file (the conformance run prints megabytes); resolves with its exit code. */
function runLogged(cmd: string, args: string[], log: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
        const out = createWriteStream(log);
        const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
        child.stdout.pipe(out, { end: false });
        child.stderr.pipe(out, { end: false });
        const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
        child.on("error", reject);
        child.on("close", code => { clearTimeout(timer); out.end(); resolve(code ?? -1); });
    });
}

async function conformance(): Promise<string> {
    const dir = path.join(WORK, "conformance");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const skip = Object.keys(CONFORMANCE_CANNOT_PASS_HERE);
    const args = [
        `--kubeconfig=${kubeconfigPath}`, "--provider=skeleton", `--report-dir=${dir}`,
        `--ginkgo.focus=${CONFORMANCE_FOCUS}`, ...(skip.length ? [`--ginkgo.skip=${skip.join("|")}`] : []),
        `--ginkgo.json-report=${path.join(dir, "ginkgo.json")}`, "--ginkgo.no-color", "--ginkgo.timeout=2h",
    ];
    const start = Date.now();
    const code = await runLogged(path.join(requireEnv("KDW_TOOLCHAIN_HOME"), "bin", "e2e.test"), args,
        path.join(dir, "e2e.log"), { ...process.env, KUBE_TEST_REPO_LIST: path.join(stateDir, "kube-test-repo-list.yaml") },
        150 * 60_000);
    const tally: ConformanceTally = {
        ...tallyConformance(readFileSync(path.join(dir, "ginkgo.json"), "utf8"), new RegExp(CONFORMANCE_FOCUS)),
        seconds: Math.round((Date.now() - start) / 1000),
    };
    report.timings.conformance = tally;
    const line = `${tally.passed} passed, ${tally.failed} failed, ${tally.skipped} skipped`;
    console.log(`conformance: ${line} (${tally.seconds}s; log: ${path.join(dir, "e2e.log")})`);
    for (const t of tally.notPassing) {
        console.log(`     ${t.state}: ${t.name}: ${t.why}`);
    }
    assert.ok(tally.passed + tally.failed + tally.skipped > 0, `no conformance test ran (e2e.test exited ${code})`);
    assert.equal(tally.failed, 0, `${line}: ${tally.notPassing.filter(t => t.state !== "skipped").map(t => t.name).join("; ")}`);
    const unexplained = tally.notPassing.filter(t => t.state === "skipped" && !Object.keys(CONFORMANCE_CANNOT_PASS_HERE)
        .some(re => new RegExp(re).test(t.name)));
    assert.deepEqual(unexplained.map(t => t.name), [], "skipped without a reason listed here and in the README");
    assert.equal(code, 0, `e2e.test exited ${code}`);
    return `${line} in ${tally.seconds}s`;
}

/** kube-bench, the benchmark files with our paths and our config.yaml, in one folder to copy to a host. */
async function kubeBenchBundle(): Promise<string> {
    const bundle = path.join(WORK, "kube-bench");
    rmSync(bundle, { recursive: true, force: true });
    const cfg = path.join(bundle, "cfg", BENCHMARK);
    mkdirSync(cfg, { recursive: true });
    const module = `github.com/aquasecurity/kube-bench@${versions.kubeBench}`;
    const upstream = JSON.parse(await run("go", ["mod", "download", "-json", module], {
        env: { ...process.env, GONOSUMDB: "github.com/aquasecurity/kube-bench", GOFLAGS: "-mod=mod" },
    })).Dir as string;
    copyFileSync(path.join(upstream, "cfg", "config.yaml"), path.join(bundle, "cfg", "config.yaml"));
    const layout = hostLayout("systemd");
    for (const file of readdirSync(path.join(upstream, "cfg", BENCHMARK)).filter(f => f !== "config.yaml")) {
        const text = readFileSync(path.join(upstream, "cfg", BENCHMARK, file), "utf8");
        writeFileSync(path.join(cfg, file), mapAuditPaths(text, auditPathMap(layout), file));
    }
    // JSON is YAML.
    writeFileSync(path.join(cfg, "config.yaml"), JSON.stringify(kubeBenchConfig(layout), null, 2));
    copyFileSync(path.join(requireEnv("KDW_TOOLCHAIN_HOME"), "bin", "kube-bench"), path.join(bundle, "kube-bench"));
    return bundle;
}

/** Runs the benchmark's `targets` on a host; the policies target reads the cluster with kubectl as the admin. */
async function kubeBench(host: TestHost, targets: readonly string[], bundle: string): Promise<BenchTally[]> {
    const remote = "/root/kdw-kube-bench";
    await ssh(host, `rm -rf ${remote} && mkdir -m 0700 ${remote}`);
    try {
        const extra = targets.includes("policies") ? [path.join(requireEnv("KDW_TOOLCHAIN_HOME"), "bin", "kubectl"), kubeconfigPath] : [];
        await scp(host, [path.join(bundle, "kube-bench"), path.join(bundle, "cfg"), ...extra], remote);
        const out = await ssh(host, `cd ${remote} && PATH=${remote}:$PATH KUBECONFIG=${remote}/${path.basename(kubeconfigPath)} ` +
            `./kube-bench run --config-dir ${remote}/cfg --benchmark ${BENCHMARK} --targets ${targets.join(",")} ` +
            `--skip ${Object.keys(NOT_APPLICABLE).join(",")} --json 2>${remote}/stderr.log || ` +
            `{ echo "kube-bench failed: $(tail -5 ${remote}/stderr.log)" >&2; exit 1; }`, 300_000);
        writeFileSync(path.join(WORK, `kube-bench-${host.name}.json`), out);
        return tallyKubeBench(out);
    } finally {
        // The admin kubeconfig goes with it.
        await ssh(host, `rm -rf ${remote}`);
    }
}

async function benchmark(bundle: string, host: TestHost, kind: keyof typeof TARGETS): Promise<string> {
    const tallies = await kubeBench(host, TARGETS[kind], bundle);
    (report.timings.kubeBench as Record<string, BenchTally[]>)[kind] = tallies;
    const lines = tallies.map(t => `${t.target}: ${t.pass} PASS, ${t.fail} FAIL, ${t.warn} WARN, ${t.info} INFO`);
    lines.forEach(l => console.log(`     ${l}`));
    const failed = tallies.flatMap(t => t.failed);
    assert.deepEqual(failed, [], `FAIL on ${host.name}`);
    return lines.join("; ");
}

async function main() {
    mkdirSync(WORK, { recursive: true });
    const env = { PULUMI_CONFIG_PASSPHRASE: requireEnv("PULUMI_CONFIG_PASSPHRASE"), MACHINE_STORAGE_PATH: machineStorage(STACK) };
    assert.ok(hosts.length >= 6, `need 6 test hosts (3 controllers, 3 workers), found ${hosts.length}: npm run hosts:up -- 6`);
    const [controller, worker] = [hosts[0], hosts[3]];
    const ws = await auto.LocalWorkspace.create({ workDir: ROOT, envVars: env });
    const stack = await freshStack(ws, STACK, machineStorage(STACK));
    writeStackConfig(STACK, 3);

    const up = await report.check("pulumi up: 3 controllers + 3 workers", async () => {
        const start = Date.now();
        await stack.up({ onOutput: line => process.stdout.write(`     | ${line}`) });
        report.timings.up = { seconds: (Date.now() - start) / 1000 };
        writeFileSync(kubeconfigPath, (await stack.outputs()).kubeconfig.value, { mode: 0o600 });
        await eventually(180, async () => assert.deepEqual(await readyNodes(kubectl), workerNames(3)));
        return `${((Date.now() - start) / 1000).toFixed(0)}s`;
    });

    if (up) {
        await report.check(`conformance: sig-network [Conformance] tests (e2e.test ${versions.kubernetes})`, conformance);
        report.timings.kubeBench = {};
        const bundle = await kubeBenchBundle();
        await report.check(`CIS ${BENCHMARK} (kube-bench ${versions.kubeBench}) on a controller: 0 FAIL`,
            () => benchmark(bundle, controller, "controller"));
        await report.check(`CIS ${BENCHMARK} (kube-bench ${versions.kubeBench}) on a worker: 0 FAIL`,
            () => benchmark(bundle, worker, "worker"));
        await report.check("not-applicable CIS checks, their intent: only root can read or change the control plane's container definitions", async () => {
            const out = await ssh(controller, "for c in kdw-etcd kdw-kube-apiserver kdw-kube-controller-manager kdw-kube-scheduler; do " +
                "d=/var/lib/docker/containers/$(docker inspect --format '{{.Id}}' $c); " +
                "stat -c '%n %a %U:%G' /var/lib/docker /var/lib/docker/containers $d $d/config.v2.json $d/hostconfig.json; done");
            // Folders closed to others (so nothing below them is readable by others), files writable by root alone.
            const loose = out.trim().split("\n").filter(line => {
                const [file, mode, owner] = line.split(" ");
                const bits = parseInt(mode, 8);
                return owner !== "root:root" || (file.endsWith(".json") ? (bits & 0o022) !== 0 : (bits & 0o007) !== 0);
            });
            assert.deepEqual(loose, [], "open to others");
            return `${out.trim().split("\n").length} files and folders checked`;
        });
    } else {
        await report.check("standards after up", async () => { throw new Error("not run: pulumi up failed"); });
    }

    await report.check("destroy: stack empty", async () => {
        report.timings.destroy = { seconds: await destroyStack(stack) };
    });
}

if (require.main === module) {
    const start = Date.now();
    report.run("standards", async () => {
        try {
            await main();
        } finally {
            report.timings.total = { seconds: Math.round((Date.now() - start) / 1000) };
        }
    }, () => {
        const c = report.timings.conformance as ConformanceTally | undefined;
        if (c) {
            console.log(`conformance: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`);
        }
    });
}
