// Runs a selection of Kubernetes' conformance tests (test/e2e/conformance.ts) against a cluster: Ginkgo's dry run of
// the selection counts them (nothing runs), then the Ginkgo CLI runs the same selection over several e2e.test
// processes and merges their reports, which are tallied against the dry run. The standards suite runs its selection
// so; the whole-conformance and netpol-conformance scenarios (conformanceScenario) run the whole suite and the
// NetworkPolicy tests.
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync, rmSync } from "node:fs";
import * as path from "node:path";
import { CONFORMANCE_CANNOT_PASS_HERE, CONFORMANCE_PROCS, ConformanceTally, conformanceSelection, DryRun, ginkgoCliSelection, readDryRun, tallyConformance } from "./conformance";
import { clusterStack, kubeconfigPath } from "./e2eCluster";
import { hostsState, requireEnv, WORK } from "./harness";
import { Scenario } from "./scenario";

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

export interface ConformanceRun {
    dryRun: DryRun;
    tally: ConformanceTally;
    /** The Ginkgo CLI's exit code. */
    code: number;
    /** When the run (not the dry run) started, in ms since the epoch. */
    start: number;
    /** The run's output. */
    log: string;
}

/**
 * The dry run, then the run of the tests `focus` selects over `procs` Ginkgo processes, in `dir` (made afresh): its
 * tally, read whole from the run's merged report (not through the selection again). Fails when the dry run does.
 */
export async function runConformance(opts: { kubeconfigPath: string; focus: string; procs: number; dir: string; timeoutMinutes: number }): Promise<ConformanceRun> {
    const { kubeconfigPath, focus, procs, dir } = opts;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const bin = path.join(requireEnv("KDW_TOOLCHAIN_HOME"), "bin");
    const env = { ...process.env, KUBE_TEST_REPO_LIST: path.join(hostsState().stateDir, "kube-test-repo-list.yaml") };
    const dryLog = path.join(dir, "dry-run.log");
    const dryCode = await runLogged(path.join(bin, "e2e.test"), [`--kubeconfig=${kubeconfigPath}`, "--provider=skeleton",
        ...conformanceSelection(focus), "--ginkgo.no-color", "--ginkgo.dry-run", `--ginkgo.json-report=${path.join(dir, "dry-run.json")}`],
    dryLog, env, 10 * 60_000);
    const dryTail = readFileSync(dryLog, "utf8").trim().split("\n").slice(-5).join(" | ");
    assert.equal(dryCode, 0, `e2e.test --ginkgo.dry-run exited ${dryCode}: ${dryTail}`);
    const dryRun = readDryRun(readFileSync(path.join(dir, "dry-run.json"), "utf8"), readFileSync(dryLog, "utf8"));
    console.log(`     dry run: Ran ${dryRun.willRun} of ${dryRun.total} Specs`);

    const start = Date.now();
    const log = path.join(dir, "e2e.log");
    const code = await runLogged(path.join(bin, "ginkgo"), ["run", `--procs=${procs}`, ...ginkgoCliSelection(focus), "--no-color",
        `--timeout=${opts.timeoutMinutes}m`, `--output-dir=${dir}`, "--json-report=ginkgo.json", path.join(bin, "e2e.test"), "--",
        `--kubeconfig=${kubeconfigPath}`, "--provider=skeleton", `--report-dir=${dir}`],
    log, env, (opts.timeoutMinutes + 30) * 60_000);
    const tally: ConformanceTally = {
        ...tallyConformance(readFileSync(path.join(dir, "ginkgo.json"), "utf8"), dryRun, focus),
        seconds: Math.round((Date.now() - start) / 1000),
    };
    const line = `${tally.passed} passed, ${tally.failed} failed, ${tally.skipped} skipped of ${tally.selected} selected`;
    console.log(`conformance: ${line} (${tally.seconds}s; log: ${log})`);
    for (const t of tally.notPassing) {
        console.log(`     ${t.state}: ${t.name}: ${t.why}`);
    }
    return { dryRun, tally, code, start, log };
}

/** "N passed, N failed, N skipped of N selected". */
export const tallyLine = (t: ConformanceTally) => `${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped of ${t.selected} selected`;

/**
 * Fails unless the run ran exactly the tests its dry run selects and every one passed, skipped only those that cannot
 * pass here (CONFORMANCE_CANNOT_PASS_HERE, with their reason); `context`: lines that say more about a failure.
 */
export function assertEveryTestPassed(run: Pick<ConformanceRun, "tally" | "code">, context: string[] = []): void {
    const { tally, code } = run;
    const line = tallyLine(tally);
    assert.deepEqual(tally.missing, [], "selected by the dry run, absent from the run's report");
    assert.deepEqual(tally.unexpected, [], "ran, though the dry run did not select them");
    assert.equal(tally.ran, tally.selected, `${tally.ran} tests ran, the dry run selects ${tally.selected} (e2e.test exited ${code})`);
    assert.equal(tally.failed, 0, [`${line}:`, ...tally.notPassing.filter(t => t.state !== "skipped").map(t => `${t.name}: ${t.why}`),
        ...context].join("\n"));
    const unexplained = tally.notPassing.filter(t => t.state === "skipped" && !Object.keys(CONFORMANCE_CANNOT_PASS_HERE)
        .some(re => new RegExp(re).test(t.name)));
    assert.deepEqual(unexplained.map(t => t.name), [], "skipped without a reason listed in CONFORMANCE_CANNOT_PASS_HERE");
    assert.equal(tally.passed, tally.selected, line);
    assert.equal(code, 0, `e2e.test exited ${code}`);
}

/**
 * A scenario of one check: the selection `focus` run on the e2e cluster of the set of test hosts (3+3, a controller
 * and a worker of the boot2docker kind), brought up if there is none; every test Ginkgo's dry run selects must run
 * and pass. Its tally and every test that did not pass, with why, are in .cache/e2e/<name>.json; its run's reports in
 * .cache/e2e/<name>/.
 */
export function conformanceScenario(name: string, opts: { title: string; focus: string; timeoutMinutes: number }): void {
    const report = new Scenario(name);
    report.run(async () => {
        await clusterStack(report);
        await report.check(`${opts.title}: every test Ginkgo's dry run selects ran and passed`, async () => {
            const run = await runConformance({
                kubeconfigPath, focus: opts.focus, procs: CONFORMANCE_PROCS, dir: path.join(WORK, name), timeoutMinutes: opts.timeoutMinutes,
            });
            report.timings.dryRun = { willRun: run.dryRun.willRun, total: run.dryRun.total };
            report.timings.conformance = run.tally;
            assertEveryTestPassed(run);
            return `${tallyLine(run.tally)} in ${run.tally.seconds}s (dry run: Ran ${run.dryRun.willRun} of ${run.dryRun.total} Specs)`;
        });
    });
}
