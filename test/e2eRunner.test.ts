// The end-to-end suites' runner and report (test/e2e/run.ts, reporter.ts, scenario.ts) on fixture scenarios: every
// check's line as CI's summary reads it, a failure outside any check counted and named, a skipped test counted as a
// failure, and the last line's tally; and the harness's ssh, which tries again only when the host was not reached.
import * as assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { run, test } from "node:test";
import { ssh, TestHost } from "./e2e/harness";
import { summaryReporter, Tally } from "./e2e/reporter";
import { scenariosOf, SUITES } from "./e2e/run";

const fixture = (name: string) => path.join(__dirname, "fixtures", "scenarios", `${name}.js`);

async function runScenarios(names: string[]): Promise<{ lines: string[]; tally: Tally }> {
    // This file runs as a child of `node --test`, which marks it so in the environment; the scenarios' processes are
    // children of the runner here instead, as under scripts/e2e.sh.
    delete process.env.NODE_TEST_CONTEXT;
    const tally: Tally = { passed: 0, failed: 0 };
    let out = "";
    for await (const chunk of run({ files: names.map(fixture), concurrency: 1 }).compose(summaryReporter(tally))) {
        out += chunk;
    }
    return { lines: out.split("\n").filter(Boolean), tally };
}

test("a scenario's checks print PASS and FAIL lines with a failure's further lines indented, and the tally counts them", async () => {
    const { lines, tally } = await runScenarios(["passes-and-fails"]);
    const checks = lines.filter(l => /^(PASS|FAIL) |^ {5}/.test(l)).map(l => l.replace(/ \(\d+(\.\d+)?s\)/, ""));
    assert.deepEqual(checks, [
        "PASS first passes: what it found",
        "FAIL second fails: what went wrong",
        "     its second line",
        "PASS third passes",
    ]);
    assert.deepEqual(tally, { passed: 2, failed: 1 });
    assert.equal(lines.at(-1), "2 passed, 1 failed");
    const saved = JSON.parse(readFileSync(path.join(__dirname, "..", "..", ".cache", "e2e", "fixture-passes-and-fails.json"), "utf8"));
    assert.deepEqual(saved.checks.map((c: { passed: boolean }) => c.passed), [true, false, true]);
});

test("a scenario that fails outside its checks is a failure named by its file; a skipped test is a failure, never a pass", async () => {
    const { lines, tally } = await runScenarios(["crashes", "throws", "skips"]);
    assert.ok(lines.includes("FAIL scenario crashes: its process ended with exit code 3 (its output is above)"), lines.join("\n"));
    assert.ok(lines.some(l => /^FAIL fixture-throws: runs to its end \(\d+(\.\d+)?s\): the hosts are not there$/.test(l)), lines.join("\n"));
    assert.ok(lines.includes("FAIL skipped on purpose: skipped: a check is never skipped"), lines.join("\n"));
    // crashes: its one check may or may not be reported before the process ends; the crash and the others are failures.
    assert.equal(tally.failed, 3, lines.join("\n"));
    assert.equal(lines.at(-1), `${tally.passed} passed, 3 failed`);
});

test("every scenario of every suite has its file, and no scenario file belongs to no suite", () => {
    const listed = Object.values(SUITES).flat();
    const dir = path.join(__dirname, "e2e", "scenarios");
    for (const name of listed) {
        assert.ok(existsSync(path.join(dir, `${name}.js`)), `${name} has no file`);
    }
    const files = require("node:fs").readdirSync(dir).filter((f: string) => f.endsWith(".js")).map((f: string) => f.slice(0, -3));
    assert.deepEqual(files.filter((f: string) => !listed.includes(f)), []);
});

/**
 * The e2e runs one of .ci/run's lanes makes (`npm run e2e -- <names>` and `npm run e2e:<suite>`), in order, in the
 * branch of its function that the default run (`else`) or `--full` (`then`) takes; each run's scenarios.
 */
function ciLane(lane: string, branch: "then" | "else"): string[][] {
    const ci = readFileSync(path.join(__dirname, "..", "..", ".ci", "run"), "utf8");
    const body = new RegExp(`\\n${lane}\\(\\) \\{\\n([\\s\\S]*?)\\n\\}\\n`).exec(ci)?.[1];
    assert.ok(body, `.ci/run has no function ${lane}`);
    const [then, otherwise] = body.split(/\n {4}else\n/);
    assert.ok(otherwise, `${lane}: no "else" between --full's runs and the default run's`);
    const part = branch === "then" ? then : otherwise.split(/\n {4}fi\n/)[0];
    // `npm run e2e` alone runs the e2e suite.
    return [...part.matchAll(/npm run e2e(?: -- ([^|&;]+?)|:([a-z]+))?\s*\|\|/g)]
        .map(([, names, suite]) => scenariosOf(names ? names.trim().split(/\s+/) : suite ? [suite] : []));
}

/** Scenarios that make and remove stacks of their own, not the set's e2e cluster. */
const OWN_STACKS = ["interrupt", "upgrade", "vms"];

test("CI's lanes, default and --full: every scenario of the e2e suite, the restore, the standards' own scenario and the " +
    "interrupted runs run; each lane's e2e cluster is destroyed once, after the last scenario on it, and no run in " +
    "between destroys the cluster the next one takes over", () => {
    for (const [lane, branch] of ["lane_e2e", "lane_recovery_standards"].flatMap(l => [[l, "else"], [l, "then"]] as const)) {
        const runs = ciLane(lane, branch);
        assert.ok(runs.length > 0, `${lane}: no e2e run in the ${branch === "else" ? "default" : "--full"} branch`);
        const scenarios = runs.flat().filter(s => !OWN_STACKS.includes(s));
        assert.deepEqual(scenarios.filter(s => s === "destroy").length, 1, `${lane}: ${runs.map(r => r.join(" ")).join(" | ")}`);
        assert.equal(scenarios.at(-1), "destroy", `${lane}: ${scenarios.join(" ")}`);
    }
    const both = [...ciLane("lane_e2e", "else"), ...ciLane("lane_recovery_standards", "else")].flat();
    assert.deepEqual([...SUITES.e2e, "restore", "standards", "interrupt"].filter(s => !both.includes(s)), []);
    // What `--full` runs besides.
    const full = [...ciLane("lane_e2e", "then"), ...ciLane("lane_recovery_standards", "then")].flat();
    assert.deepEqual([...SUITES.e2e, "restore", "resize", "standards", "netpol-conformance", "upgrade"].filter(s => !full.includes(s)), []);
});

/** A stand-in `ssh` first on PATH that fails as `failures` say (status and stderr), one per call, then prints "ran". */
const fakeSshDirs: string[] = [];
function fakeSsh(failures: { status: number; stderr: string }[]) {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kdw-ssh-"));
    fakeSshDirs.push(dir);
    const lines = failures.map((f, i) => `[ "$n" = ${i} ] && { echo '${f.stderr}' >&2; exit ${f.status}; }`);
    writeFileSync(path.join(dir, "ssh"), `#!/bin/sh\nn=$(cat "${dir}/calls" 2>/dev/null || echo 0)\necho $((n + 1)) > "${dir}/calls"\n` +
        `${lines.join("\n")}\necho ran\n`, { mode: 0o755 });
    return { dir, calls: () => Number(readFileSync(path.join(dir, "calls"), "utf8")) };
}

test("harness ssh: tried again when ssh could not reach the host (255 and ssh's own message), never when the command failed", async (t) => {
    const host: TestHost = { name: "h", ip: "127.0.0.1", kind: "systemd", sshUser: "root", sshKeyPath: "/dev/null" };
    const savedPath = process.env.PATH;
    t.after(() => {
        process.env.PATH = savedPath;
        for (const dir of fakeSshDirs) rmSync(dir, { recursive: true, force: true });
    });
    const unreachable = fakeSsh([{ status: 255, stderr: "Connection timed out during banner exchange" }]);
    process.env.PATH = `${unreachable.dir}:${savedPath}`;
    assert.equal(await ssh(host, "true"), "ran\n");
    assert.equal(unreachable.calls(), 2);
    // The command's own failure, even with status 255, is the caller's: one call.
    const failed = fakeSsh([{ status: 1, stderr: "Error: No such container: kdw-etcd" }, { status: 255, stderr: "etcdctl: lost" }]);
    process.env.PATH = `${failed.dir}:${savedPath}`;
    await assert.rejects(ssh(host, "x"), /failed \(1\): Error: No such container/);
    assert.equal(failed.calls(), 1);
    // A host that stays unreachable fails after three attempts, with each one's error.
    const gone = fakeSsh([0, 1, 2].map(() => ({ status: 255, stderr: "ssh: connect to host 127.0.0.1 port 22: Connection refused" })));
    process.env.PATH = `${gone.dir}:${savedPath}`;
    await assert.rejects(ssh(host, "x"), /failed 3 times/);
    assert.equal(gone.calls(), 3);
});
