// `npm run bench`: what the cluster costs as it grows, on the local test hosts. For each size (3 controllers and
// 3, 6, 12 workers by default): resources; `up` from nothing against two bounds, the critical path of its own graph
// (the engine's per-resource timings and what each resource waits for in the state) and the machine's CPU work over its
// cores; a no-op preview against a program that imports the same packages and registers nothing, and against one that
// registers as many trivial resources (interleaved runs, median ratios: what the cluster costs beyond Pulumi's own cost
// per resource); adding and removing one worker (time and the resources each touches); and destroy. Prints a table and
// writes .cache/bench/bench.json. A benchmark, not a test.
//
//   source scripts/env.sh && npm run hosts:up -- 16 && npm run bench      # KDW_BENCH_SIZES=3,6 for fewer
import * as auto from "@pulumi/pulumi/automation";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ROOT, stackSecretsEnv, WORK } from "../e2e/harness";
import { longestChain, StateResource } from "./criticalPath";
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

/**
 * Busy CPU seconds of the whole machine so far (every process: the engine, the plugins, the program, and the test
 * hosts' own work), from /proc/stat's clock ticks (USER_HZ is 100 on Linux).
 */
function busyCpuSeconds(): number {
    const [, ...fields] = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = fields;
    return (user + nice + system + irq + softirq + steal) / 100;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * The baselines, one program with its own stacks on the same backend: it imports the four packages and registers
 * `resources` trivial local commands (`true`). Stack `empty` registers none; stack `floor` as many as the cluster has
 * resources: what the engine and the Node.js SDK cost per resource, whatever the resource.
 */
function baselineProgram(): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kdw-baseline-"));
    writeFileSync(path.join(dir, "Pulumi.yaml"), "name: kdw-baseline\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n");
    writeFileSync(path.join(dir, "index.ts"), [
        ...["command", "kubernetes", "pulumi", "tls"].map(p => `import * as ${p} from "@pulumi/${p}";\nvoid ${p};`),
        "const count = new pulumi.Config().getNumber(\"resources\") ?? 0;",
        "for (let i = 0; i < count; i++) {",
        "    new command.local.Command(`trivial-${i}`, { create: \"true\" });",
        "}",
    ].join("\n") + "\n");
    copyFileSync(path.join(ROOT, "tsconfig.json"), path.join(dir, "tsconfig.json"));
    writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "kdw-baseline", main: "index.ts" }));
    symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    for (const stack of ["empty", "floor"]) {
        execFileSync("pulumi", ["stack", "select", "--create", stack, "--non-interactive"], { cwd: dir, stdio: "ignore" });
    }
    return dir;
}

/** The floor stack brought to `count` resources. */
function setFloor(dir: string, count: number): void {
    execFileSync("pulumi", ["config", "set", "resources", String(count), "--stack", "floor"], { cwd: dir, stdio: "ignore" });
    execFileSync("pulumi", ["up", "--yes", "--skip-preview", "--stack", "floor", "--non-interactive"], { cwd: dir, stdio: "ignore" });
}

async function measure(stack: auto.Stack, workers: number, baselineDir: string) {
    writeStackConfig(STACK, workers);
    const clock = eventClock();
    let start = Date.now();
    const busyBefore = busyCpuSeconds();
    const up = await stack.up({ onEvent: clock.onEvent });
    const upSeconds = (Date.now() - start) / 1000;
    // The other bound: the work `up` made the machine do, spread over all its cores at once.
    const cpuBoundSeconds = (busyCpuSeconds() - busyBefore) / os.cpus().length;
    const state = await stack.exportStack();
    const resources: StateResource[] = (state.deployment.resources ?? []).map((r: any) => ({
        urn: r.urn, custom: r.custom, parent: r.parent, dependencies: r.dependencies, provider: r.provider,
    }));
    const spans = clock.spans();
    const seconds = new Map([...spans].map(([urn, s]) => [urn, (s.end - s.start) / 1000]));
    const { seconds: bound, chain } = longestChain(resources, seconds);
    // Where `up` spends the time the chain does not: before its first step, between its steps (the program and the
    // engine getting the next one going), after its last.
    const upEnd = start + upSeconds * 1000;
    const steps = chain.map((urn, i) => {
        const span = spans.get(urn)!;
        const before = i === 0 ? start : spans.get(chain[i - 1])!.end;
        return { name: urn.split("::").pop()!, seconds: (span.end - span.start) / 1000, waitedBefore: (span.start - before) / 1000 };
    });
    const upBreakdown = {
        beforeFirst: steps[0]?.waitedBefore ?? 0,
        betweenSteps: steps.slice(1).reduce((sum, s) => sum + s.waitedBefore, 0),
        afterLast: chain.length > 0 ? (upEnd - spans.get(chain[chain.length - 1])!.end) / 1000 : 0,
        chain: steps,
        // Everything the bound came from, for a second look: each resource's dependencies and its span in seconds
        // from the start of `up`.
        resources: resources.map(r => {
            const span = spans.get(r.urn);
            return { ...r, span: span ? [(span.start - start) / 1000, (span.end - start) / 1000] : undefined };
        }),
    };

    // The no-op preview against both baselines, interleaved so that the machine's noise hits all three alike.
    setFloor(baselineDir, resources.length);
    const ours: number[] = [];
    const empty: number[] = [];
    const floor: number[] = [];
    for (let i = 0; i < PAIRS; i++) {
        ours.push(timeCommand("pulumi", ["preview", "--stack", STACK, "--non-interactive", "--expect-no-changes"], ROOT));
        empty.push(timeCommand("pulumi", ["preview", "--stack", "empty", "--non-interactive"], baselineDir));
        floor.push(timeCommand("pulumi", ["preview", "--stack", "floor", "--non-interactive", "--expect-no-changes"], baselineDir));
    }
    const ratios = ours.map((t, i) => t / empty[i]);
    const floorRatios = floor.map((t, i) => t / empty[i]);

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
        upSeconds, criticalPathSeconds: bound, upOverCriticalPath: upSeconds / bound, cpuBoundSeconds,
        upOverBound: upSeconds / Math.max(bound, cpuBoundSeconds), upBreakdown,
        noopPreviewSeconds: median(ours), emptyPreviewSeconds: median(empty), noopOverEmpty: median(ratios),
        floorPreviewSeconds: median(floor), floorOverEmpty: median(floorRatios),
        addWorker: { seconds: addSeconds, changes: addClock.changed() },
        removeWorker: { seconds: removeSeconds, changes: removeClock.changed() },
        destroySeconds,
    };
}

async function main() {
    mkdirSync(OUT, { recursive: true });
    const env = { ...stackSecretsEnv(), MACHINE_STORAGE_PATH: machineStorage(STACK) };
    Object.assign(process.env, env);
    const ws = await auto.LocalWorkspace.create({ workDir: ROOT, envVars: env });
    writeStackConfig(STACK, sizes[0]);
    const stack = await auto.Stack.createOrSelect(STACK, ws);
    const baselineDir = baselineProgram();
    const rows: Awaited<ReturnType<typeof measure>>[] = [];
    try {
        for (const workers of sizes) {
            const row = await measure(stack, workers, baselineDir);
            rows.push(row);
            console.log(JSON.stringify({ ...row, upBreakdown: { ...row.upBreakdown, resources: undefined } }));
        }
    } finally {
        execFileSync("pulumi", ["destroy", "--yes", "--skip-preview", "--stack", "floor", "--non-interactive"], { cwd: baselineDir, stdio: "ignore" });
        rmSync(baselineDir, { recursive: true, force: true });
    }
    const result = { date: new Date().toISOString(), machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB`, rows };
    writeFileSync(path.join(OUT, "bench.json"), JSON.stringify(result, null, 2));
    console.log(`\n| size | resources | per added worker | up | critical path | up / path | CPU work / cores | up / larger bound | no-op preview / empty | same number of trivial resources / empty | add worker (changes) | remove worker (changes) | destroy |`);
    console.log(`|---|---|---|---|---|---|---|---|---|---|---|---|---|`);
    rows.forEach((r, i) => {
        const perWorker = i === 0 ? "" : ((r.resources - rows[i - 1].resources) / (sizes[i] - sizes[i - 1])).toFixed(1);
        console.log(`| ${r.size} | ${r.resources} | ${perWorker} | ${r.upSeconds.toFixed(0)} s | ${r.criticalPathSeconds.toFixed(0)} s | ` +
            `${r.upOverCriticalPath.toFixed(2)} | ${r.cpuBoundSeconds.toFixed(0)} s | ${r.upOverBound.toFixed(2)} | ${r.noopPreviewSeconds.toFixed(1)} s / ${r.emptyPreviewSeconds.toFixed(1)} s = ` +
            `${r.noopOverEmpty.toFixed(2)} | ${r.floorPreviewSeconds.toFixed(1)} s / ${r.emptyPreviewSeconds.toFixed(1)} s = ` +
            `${r.floorOverEmpty.toFixed(2)} | ${r.addWorker.seconds.toFixed(0)} s (${r.addWorker.changes.length}) | ` +
            `${r.removeWorker.seconds.toFixed(0)} s (${r.removeWorker.changes.length}) | ${r.destroySeconds.toFixed(0)} s |`);
    });
    for (const r of rows) {
        const b = r.upBreakdown;
        console.log(`${r.size}: up ${r.upSeconds.toFixed(0)} s = ${b.beforeFirst.toFixed(1)} s before the critical path's first ` +
            `step + its ${b.chain.length} steps ${r.criticalPathSeconds.toFixed(1)} s + ${b.betweenSteps.toFixed(1)} s between them ` +
            `+ ${b.afterLast.toFixed(1)} s after the last`);
    }
    console.log(`\n${result.date}, ${result.machine}; details in ${path.relative(ROOT, OUT)}/bench.json (work: ${path.relative(ROOT, WORK)})`);
}

main().catch(err => {
    console.error(err);
    process.exitCode = 1;
});
