// `npm run bench`: what the cluster costs as it grows, on the local test hosts. For each size (3 controllers and
// 3, 6, 12 workers by default): resources, `up` from nothing against the critical path of its own graph (computed from
// the engine's per-resource timings and the dependencies in the state), a no-op preview against a program that imports
// the same packages and registers nothing (paired runs, median ratio), adding and removing one worker (time and the
// resources each touches), and destroy. Prints a table and writes .cache/bench/bench.json. A benchmark, not a test.
//
//   source scripts/env.sh && npm run hosts:up -- 16 && npm run bench      # KDW_BENCH_SIZES=3,6 for fewer
import * as auto from "@pulumi/pulumi/automation";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ROOT, WORK } from "../e2e/harness";
import { criticalPath } from "./criticalPath";
import { machineStorage, writeStackConfig } from "../e2e/stackConfig";

const STACK = "bench";
const OUT = path.join(ROOT, ".cache", "bench");
const sizes = (process.env.KDW_BENCH_SIZES ?? "3,6,12").split(",").map(Number);
const PAIRS = 5;

interface Timed { start: number; end: number }

/** Wall times per resource from the engine's events, taken as they arrive (finer than the events' own seconds). */
function eventClock() {
    const spans = new Map<string, Partial<Timed>>();
    const ops = new Map<string, string>();
    return {
        onEvent(e: auto.EngineEvent) {
            const pre = e.resourcePreEvent?.metadata;
            const done = e.resOutputsEvent?.metadata;
            if (pre) {
                spans.set(pre.urn, { start: Date.now() });
                ops.set(pre.urn, pre.op);
            } else if (done && spans.has(done.urn)) {
                spans.get(done.urn)!.end = Date.now();
            }
        },
        spans: () => new Map([...spans].filter(([, s]) => s.end !== undefined) as [string, Timed][]),
        changed: () => [...ops].filter(([, op]) => op !== "same").map(([urn, op]) => `${op} ${urn.split("::").pop()}`),
    };
}

function timeCommand(cmd: string, args: string[], cwd: string): number {
    const start = process.hrtime.bigint();
    execFileSync(cmd, args, { cwd, stdio: "ignore", env: process.env });
    return Number(process.hrtime.bigint() - start) / 1e9;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A program that imports the four packages and registers nothing, with its own stack on the same backend. */
function emptyProgram(): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kdw-empty-"));
    writeFileSync(path.join(dir, "Pulumi.yaml"), "name: kdw-empty\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n");
    writeFileSync(path.join(dir, "index.ts"), ["command", "kubernetes", "pulumi", "tls"]
        .map(p => `import * as ${p} from "@pulumi/${p}";\nvoid ${p};\n`).join(""));
    copyFileSync(path.join(ROOT, "tsconfig.json"), path.join(dir, "tsconfig.json"));
    writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "kdw-empty", main: "index.ts" }));
    symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    execFileSync("pulumi", ["stack", "select", "--create", "empty", "--non-interactive"], { cwd: dir, stdio: "ignore" });
    return dir;
}

async function measure(stack: auto.Stack, workers: number, emptyDir: string) {
    writeStackConfig(STACK, workers);
    const clock = eventClock();
    let start = Date.now();
    const up = await stack.up({ onEvent: clock.onEvent });
    const upSeconds = (Date.now() - start) / 1000;
    const state = await stack.exportStack();
    const resources = (state.deployment.resources ?? []).map((r: any) => ({
        urn: r.urn, custom: r.custom, parent: r.parent, dependencies: r.dependencies,
    }));
    const seconds = new Map([...clock.spans()].map(([urn, s]) => [urn, (s.end - s.start) / 1000]));
    const bound = criticalPath(resources, seconds);

    const ours: number[] = [];
    const empty: number[] = [];
    for (let i = 0; i < PAIRS; i++) {
        ours.push(timeCommand("pulumi", ["preview", "--stack", STACK, "--non-interactive", "--expect-no-changes"], ROOT));
        empty.push(timeCommand("pulumi", ["preview", "--stack", "empty", "--non-interactive"], emptyDir));
    }
    const ratios = ours.map((t, i) => t / empty[i]);

    writeStackConfig(STACK, workers + 1);
    const addClock = eventClock();
    start = Date.now();
    await stack.up({ onEvent: addClock.onEvent });
    const addSeconds = (Date.now() - start) / 1000;
    writeStackConfig(STACK, workers);
    const removeClock = eventClock();
    start = Date.now();
    await stack.up({ onEvent: removeClock.onEvent });
    const removeSeconds = (Date.now() - start) / 1000;

    start = Date.now();
    await stack.destroy();
    const destroySeconds = (Date.now() - start) / 1000;
    return {
        size: `3+${workers}`,
        resources: up.summary.resourceChanges?.create ?? 0,
        upSeconds, criticalPathSeconds: bound, upOverCriticalPath: upSeconds / bound,
        noopPreviewSeconds: median(ours), emptyPreviewSeconds: median(empty), noopOverEmpty: median(ratios),
        addWorker: { seconds: addSeconds, changes: addClock.changed() },
        removeWorker: { seconds: removeSeconds, changes: removeClock.changed() },
        destroySeconds,
    };
}

async function main() {
    mkdirSync(OUT, { recursive: true });
    const env = { PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE ?? "", MACHINE_STORAGE_PATH: machineStorage(STACK) };
    Object.assign(process.env, env);
    const ws = await auto.LocalWorkspace.create({ workDir: ROOT, envVars: env });
    writeStackConfig(STACK, sizes[0]);
    const stack = await auto.Stack.createOrSelect(STACK, ws);
    const emptyDir = emptyProgram();
    const rows: Awaited<ReturnType<typeof measure>>[] = [];
    try {
        for (const workers of sizes) {
            const row = await measure(stack, workers, emptyDir);
            rows.push(row);
            console.log(JSON.stringify(row));
        }
    } finally {
        rmSync(emptyDir, { recursive: true, force: true });
    }
    const result = { date: new Date().toISOString(), machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB`, rows };
    writeFileSync(path.join(OUT, "bench.json"), JSON.stringify(result, null, 2));
    console.log(`\n| size | resources | per added worker | up | critical path | up / path | no-op preview / empty | add worker (changes) | remove worker (changes) | destroy |`);
    console.log(`|---|---|---|---|---|---|---|---|---|---|`);
    rows.forEach((r, i) => {
        const perWorker = i === 0 ? "" : ((r.resources - rows[i - 1].resources) / (sizes[i] - sizes[i - 1])).toFixed(1);
        console.log(`| ${r.size} | ${r.resources} | ${perWorker} | ${r.upSeconds.toFixed(0)} s | ${r.criticalPathSeconds.toFixed(0)} s | ` +
            `${r.upOverCriticalPath.toFixed(2)} | ${r.noopPreviewSeconds.toFixed(1)} s / ${r.emptyPreviewSeconds.toFixed(1)} s = ` +
            `${r.noopOverEmpty.toFixed(2)} | ${r.addWorker.seconds.toFixed(0)} s (${r.addWorker.changes.length}) | ` +
            `${r.removeWorker.seconds.toFixed(0)} s (${r.removeWorker.changes.length}) | ${r.destroySeconds.toFixed(0)} s |`);
    });
    console.log(`\n${result.date}, ${result.machine}; details in ${path.relative(ROOT, OUT)}/bench.json (work: ${path.relative(ROOT, WORK)})`);
}

main().catch(err => {
    console.error(err);
    process.exitCode = 1;
});
