// Interrupted runs end to end: the real CLI's process group is killed with SIGKILL (as a closed terminal, a lost SSH
// session or a CI timeout kills it) at points spread over a `pulumi up` from nothing, once during a `pulumi destroy`,
// once during the `pulumi up` that rebuilds a controller lost for good, once mid-way through a rotation of the key
// that encrypts Secrets, and once while etcd is restored from a snapshot after every controller was lost. After each
// kill: what it left (in-flight steps, pending operations, and on every host), `pulumi cancel`, then alternately
// `pulumi up` (succeeds, all workers Ready, `pulumi preview --expect-no-changes` passes) and `pulumi destroy` (empty
// stack, no machine, and on every host no container, process, route, unit, rule, mount or file of ours). Each scenario
// first checks the state it starts from (an empty stack and clean hosts, or the converged cluster the scenario before it
// left) in a check of its own, which fails, naming what it found and what it did, when it has to make that state first:
// one failure does not fail the scenarios after it. Writes .cache/e2e/interrupt.json and ends with "N passed, N failed".
// The kill points come in three groups, in this order, any of which can run without the others (KDW_INTERRUPT_GROUP, a
// comma-separated list), as CI runs them on two sets of hosts side by side: `builds` (an up from nothing killed during
// machine creation, host preparation and etcd's start, and a destroy killed), `starts` (an up from nothing killed while
// the control plane and while the workers start; the last leaves a converged cluster) and `recoveries` (the rebuilt
// controller, the key rotation, the restore: they start from a converged cluster, which `starts` leaves, else the
// group's first check brings one up).
//
//   source scripts/env.sh && npm run hosts:up -- 6 && npm run e2e:interrupt
//   KDW_INTERRUPT_GROUP=starts,recoveries npm run e2e:interrupt
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { validateConfig } from "../../../config";
import { sweepCommand } from "../../../components/machineHost";
import { engineEvents, resourceName } from "../engineEvents";
import { assertRejoined, clusterClient } from "../cluster";
import { eventually, HOSTS_SET_SUFFIX, hostsState, replaceHost, ROOT, run, ssh, WORK } from "../harness";
import { leftoversOn } from "../leftovers";
import { descendants, processTable } from "../../processes";
import { Scenario } from "../scenario";
import { takeManualSnapshot } from "../objectStore";
import { machineStorage, objectStore, writeStackConfig } from "../stackConfig";

/** One stack per set of hosts: the two groups of kill points may run side by side on two sets (CI). */
const STACK = `interrupt${HOSTS_SET_SUFFIX}`;
const report = new Scenario("interrupt");
const { hosts } = hostsState();
const cluster = hosts.slice(0, 6);
const kubeconfigPath = path.join(WORK, `${STACK}.kubeconfig`);
// PULUMI_DEBUG_COMMANDS enables --event-log (as the Automation API does).
const env = { ...process.env, MACHINE_STORAGE_PATH: machineStorage(STACK), PULUMI_DEBUG_COMMANDS: "true" };

/** Components and the stack are "in flight" until the end; only real steps count. */
const isStep = (type: string) => type !== "pulumi:pulumi:Stack" && !type.startsWith("dumbway:index:");

/** When to kill: the first event that `matches`, then `delayMs` later. */
interface KillPoint {
    name: string;
    matches(op: string, resource: string): boolean;
    delayMs: number;
}

interface CliRun {
    code: number | null;
    /** Killed at its kill point. */
    killed: boolean;
    /** Killed because it was still running at its deadline (not at a kill point). */
    timedOut: boolean;
    seconds: number;
    output: string;
    /** Steps started and not finished when the run ended (or was killed). */
    inFlight: string[];
    /** Processes of the killed run's tree still running 3 s after the kill (none, once it is killed whole). */
    leftover: string[];
}

/** Each command's output goes to its own numbered log in .cache/e2e. */
let commands = 0;

/**
 * Runs `pulumi <args>` in its own process group, following its engine events; at the kill point, SIGKILL to the whole
 * tree, as a CI job's timeout ends it: the CLI's group, and every process under the CLI in a group of its own (Pulumi
 * starts its plugins so, and a SIGKILL to the CLI's group alone left them running, with their SSH sessions and
 * commands). `leftover` lists what of the tree still ran a few seconds after the kill.
 */
async function pulumi(args: string[], kill?: KillPoint, timeoutMs = 30 * 60_000): Promise<CliRun> {
    const eventLog = path.join(WORK, `${STACK}-events.jsonl`);
    rmSync(eventLog, { force: true });
    const log = path.join(WORK, `${STACK}-${++commands}-${args[0]}.log`);
    const out = openSync(log, "w");
    const start = Date.now();
    const followed = ["up", "destroy", "preview"].includes(args[0]) ? ["--event-log", eventLog] : [];
    const child = spawn("pulumi", [...args, "--stack", STACK, "--non-interactive", ...followed],
        { cwd: ROOT, env, detached: true, stdio: ["ignore", out, out] });
    closeSync(out);
    const events = engineEvents();
    let killed = false;
    let timedOut = false;
    let read = 0;
    let timer: NodeJS.Timeout | undefined;
    let tree: number[] = [];
    const killGroup = () => {
        tree = descendants(child.pid!).map(p => p.pid);
        for (const target of [-child.pid!, ...tree]) {
            try {
                process.kill(target, "SIGKILL");
            } catch {
                // already gone
            }
        }
    };
    const poll = setInterval(() => {
        if (!existsSync(eventLog)) {
            return;
        }
        const text = readFileSync(eventLog, "utf8");
        const complete = text.lastIndexOf("\n") + 1;
        for (const line of text.slice(read, complete).split("\n").filter(Boolean)) {
            const step = events.onEvent(JSON.parse(line));
            if (step && step.op !== "same" && isStep(step.type) && kill && !timer && kill.matches(step.op, step.name)) {
                timer = setTimeout(() => {
                    killed = !timedOut;
                    killGroup();
                }, kill.delayMs);
            }
        }
        read = complete;
    }, 100);
    const deadline = setTimeout(() => {
        timedOut = !killed;
        killGroup();
    }, timeoutMs);
    const code = await new Promise<number | null>(resolve => child.on("exit", c => resolve(c)));
    clearInterval(poll);
    clearTimeout(deadline);
    clearTimeout(timer);
    const seconds = Math.round((Date.now() - start) / 100) / 10;
    let leftover: string[] = [];
    if (tree.length > 0) {
        await new Promise(resolve => setTimeout(resolve, 3000));
        leftover = processTable().filter(p => tree.includes(p.pid) && !p.zombie).map(p => `${p.pid} ${p.cmdline.slice(0, 120)}`);
    }
    return {
        code, killed, timedOut, seconds, leftover,
        output: readFileSync(log, "utf8"),
        inFlight: events.running().filter(st => st.op !== "same" && isStep(st.type)).map(st => `${st.op} ${st.name}`),
    };
}

/** Fails unless the run ended by itself with status 0; a run killed at its deadline says so. */
function assertSucceeded(cli: CliRun, what: string): void {
    assert.ok(!cli.timedOut, `${what} timed out: still running after ${cli.seconds}s, killed\n${lastLines(cli.output, 25)}`);
    assert.equal(cli.code, 0, `${what} failed:\n${lastLines(cli.output, 25)}`);
}

/**
 * The steps of a killed run that a run's steps found still running on their hosts and stopped (lib-step.sh says so
 * on the step's stderr), as " (it stopped ...)", or nothing.
 */
function stopped(cli: CliRun): string {
    const found = new Set([...cli.output.matchAll(/ ([\w-]+): stopping a step of an interrupted run still running here \(([\w-]+)\.lock/g)]
        .map(m => `${m[2]} on ${m[1]}`));
    return found.size > 0 ? ` (it stopped steps of the killed run still running: ${[...found].sort().join(", ")})` : "";
}

/** The error lines of a run's output, then its last lines. */
function lastLines(text: string, n = 15): string {
    const lines = text.trim().split("\n");
    const errors = lines.filter(l => /error:|failed|not healthy|not Ready|keeps exiting/i.test(l)).slice(0, 10);
    return [...errors, "...", ...lines.slice(-n)].join("\n");
}

/** A preview that expects no changes, with each change's properties (--diff) for the report when there are some. */
const previewNoChanges = () => pulumi(["preview", "--expect-no-changes", "--diff"]);

/** What a failed previewNoChanges proposed: the resources and properties that change (--diff marks them ~, +, -). */
function proposedChanges(output: string, n = 40): string {
    const changes = output.split("\n").filter(l => /^\s*[-+~]/.test(l) && !/^\s*[-+~]+\s*$/.test(l));
    // Each prefixed, so that CI's short list of failures (which drops engine progress lines) keeps them.
    return (changes.length > 0 ? changes.slice(0, n).map(l => `change: ${l.trimEnd()}`)
        : ["(no change line found)", ...output.trim().split("\n").slice(-n)]).join("\n");
}

/** The state as stored: resources other than the stack, and pending operations. */
async function storedState(): Promise<{ resources: string[]; pending: string[] }> {
    const state = JSON.parse(await run("pulumi", ["stack", "export", "--stack", STACK], { cwd: ROOT, env }));
    const deployment = state.deployment ?? {};
    return {
        resources: (deployment.resources ?? []).filter((r: any) => r.type !== "pulumi:pulumi:Stack").map((r: any) => r.urn),
        pending: (deployment.pending_operations ?? []).map((p: any) => `${p.type} ${resourceName(p.resource.urn)}`),
    };
}

async function hostLeftovers(): Promise<Record<string, string[]>> {
    const found: Record<string, string[]> = {};
    await Promise.all(cluster.map(async host => {
        const lines = (await ssh(host, leftoversOn(host))).trim().split("\n").filter(Boolean);
        if (lines.length > 0) {
            found[host.name] = lines;
        }
    }));
    return found;
}

/** The machines in docker-machine's store. */
async function machines(): Promise<string[]> {
    const dir = path.join(machineStorage(STACK), "machines");
    return existsSync(dir) ? readdirSync(dir) : [];
}

/**
 * Drops the records of interrupted creates, which Pulumi keeps (warning about them on every run) until a refresh;
 * the program has redone or swept what they name.
 */
async function clearPendingCreates(): Promise<string> {
    const refresh = await pulumi(["refresh", "--yes", "--skip-preview", "--clear-pending-creates"]);
    assertSucceeded(refresh, "pulumi refresh --clear-pending-creates");
    return `refresh --clear-pending-creates ${refresh.seconds}s`;
}

const summarize = (left: Record<string, string[]>) => Object.entries(left)
    .map(([host, lines]) => `${host}: ${[...new Set(lines.map(l => l.split(" ")[0]))].map(kind =>
        `${lines.filter(l => l.startsWith(`${kind} `)).length} ${kind}`).join(", ")}`).join("; ") || "nothing";

async function readyWorkers(): Promise<string[]> {
    const nodes = JSON.parse(await run("kubectl", ["--kubeconfig", kubeconfigPath, "--request-timeout=20s", "get", "nodes", "-o", "json"])).items as any[];
    return nodes.filter(n => n.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"))
        .map(n => n.metadata.name).sort();
}

/** `pulumi up` to completion: all workers Ready, then a preview that expects no changes. */
async function upConverges(): Promise<string> {
    const up = await pulumi(["up", "--yes", "--skip-preview"]);
    assertSucceeded(up, "pulumi up");
    writeFileSync(kubeconfigPath, await run("pulumi", ["stack", "output", "kubeconfig", "--show-secrets", "--stack", STACK], { cwd: ROOT, env }),
        { mode: 0o600 });
    await eventually(60, async () => assert.deepEqual(await readyWorkers(), ["kdw-worker-0", "kdw-worker-1", "kdw-worker-2"]));
    const refresh = await clearPendingCreates();
    const preview = await previewNoChanges();
    assert.ok(!preview.timedOut, `the preview after up timed out after ${preview.seconds}s:\n${lastLines(preview.output, 25)}`);
    assert.equal(preview.code, 0, `the preview after up shows changes:\n${proposedChanges(preview.output)}`);
    assert.deepEqual((await storedState()).pending, []);
    return `up ${up.seconds}s (all workers Ready)${stopped(up)}, ${refresh}, preview --expect-no-changes ${preview.seconds}s`;
}

/** `pulumi destroy` to completion: nothing in the state, no machine, nothing of ours on any host. */
async function destroyCleans(): Promise<string> {
    const destroy = await pulumi(["destroy", "--yes", "--skip-preview"]);
    assertSucceeded(destroy, "pulumi destroy");
    const resources = (await storedState()).resources;
    const stale = await machines();
    const left = await hostLeftovers();
    const refresh = await clearPendingCreates();
    const pending = (await storedState()).pending;
    const problems = [
        ...(resources.length > 0 ? [`resources in the state: ${resources.join(", ")}`] : []),
        ...(pending.length > 0 ? [`pending operations after the refresh: ${pending.join(", ")}`] : []),
        ...(stale.length > 0 ? [`machines in docker-machine's store: ${stale.join(", ")}`] : []),
        ...Object.entries(left).map(([host, lines]) => `on ${host}: ${lines.join("; ")}`),
    ];
    assert.deepEqual(problems, [], "destroy left something");
    return `destroy ${destroy.seconds}s${stopped(destroy)}: empty stack, no machine, nothing on the hosts; ${refresh}`;
}

/** Whether a killed run's lock is still on the stack: a lock file under the file backend's .pulumi/locks. */
function stackLocked(): boolean {
    const backend = /^file:\/\/([^?]+)/.exec(process.env.PULUMI_BACKEND_URL ?? "")?.[1];
    const locks = backend ? path.join(backend, ".pulumi", "locks") : "";
    const find = (dir: string): boolean => existsSync(dir) && readdirSync(dir, { withFileTypes: true }).some(e => e.isDirectory() &&
        ((e.name === STACK && readdirSync(path.join(dir, e.name)).some(f => f.endsWith(".json"))) || find(path.join(dir, e.name))));
    return find(locks);
}

/** What is in the stack, in docker-machine's store and on the hosts: the lines of what an empty start would not have. */
async function whatIsLeft(): Promise<string[]> {
    const state = await storedState();
    const left = await hostLeftovers();
    const stale = await machines();
    return [
        ...(stackLocked() ? ["the stack is locked"] : []),
        ...(state.resources.length > 0 ? [`${state.resources.length} resources in the state`] : []),
        ...(state.pending.length > 0 ? [`pending operations: ${state.pending.join(", ")}`] : []),
        ...(stale.length > 0 ? [`machines in docker-machine's store: ${stale.join(", ")}`] : []),
        ...Object.entries(left).map(([host, lines]) => `on ${host}: ${lines.slice(0, 6).join("; ")}` +
            `${lines.length > 6 ? `; and ${lines.length - 6} more` : ""}`),
    ];
}

/**
 * Empties the stack and cleans the hosts, whatever the last check left: the lock released, `destroy` (a second one if
 * the first fails), then for what is still there the host sweep the probe's delete runs (host.sh down, over SSH) and
 * `docker-machine rm`. Returns what it did.
 */
async function cleanUp(): Promise<string[]> {
    const done: string[] = [];
    if (stackLocked()) {
        const cancel = await pulumi(["cancel", "--yes"]);
        done.push(`cancel: code ${cancel.code}`);
    }
    const state = await storedState();
    if (state.resources.length > 0 || state.pending.length > 0) {
        for (let attempt = 1; attempt <= 2; attempt++) {
            const destroy = await pulumi(["destroy", "--yes", "--skip-preview"]);
            done.push(`destroy: ${destroy.timedOut ? `timed out after ${destroy.seconds}s` : `code ${destroy.code}, ${destroy.seconds}s`}`);
            if (destroy.code === 0) {
                break;
            }
        }
        if ((await storedState()).pending.length > 0) {
            const refresh = await pulumi(["refresh", "--yes", "--skip-preview", "--clear-pending-creates"]);
            done.push(`refresh --clear-pending-creates: code ${refresh.code}`);
        }
    }
    const left = await hostLeftovers();
    const sweep = sweepCommand(validateConfig({ binarySource: "/bin" }, { fileExists: () => true }));
    await Promise.all(cluster.filter(h => left[h.name]).map(async host => {
        await ssh(host, sweep, 300_000).then(() => done.push(`swept ${host.name}`),
            (err: Error) => done.push(`the sweep of ${host.name} failed: ${err.message.split("\n").slice(-3).join(" ")}`));
    }));
    for (const machine of await machines()) {
        await run("docker-machine", ["rm", "--force", "-y", machine], { env }).catch(() => undefined);
        rmSync(path.join(machineStorage(STACK), "machines", machine), { recursive: true, force: true });
        done.push(`removed machine ${machine} from the store`);
    }
    return done;
}

/** A converged cluster: no lock, no pending operation, every machine, all workers Ready, nothing to change. */
async function clusterProblems(): Promise<string[]> {
    const problems: string[] = [];
    if (stackLocked()) {
        problems.push("the stack is locked");
    }
    const state = await storedState();
    if (state.resources.length === 0) {
        return [...problems, "the stack is empty"];
    }
    if (state.pending.length > 0) {
        problems.push(`pending operations: ${state.pending.join(", ")}`);
    }
    const stale = await machines();
    if (stale.length !== cluster.length) {
        problems.push(`${stale.length} machines in docker-machine's store, not ${cluster.length}`);
    }
    const running = Object.entries(await hostLeftovers()).flatMap(([host, lines]) =>
        lines.filter(l => l.startsWith("step still running")).map(l => `on ${host}: ${l}`));
    problems.push(...running);
    if (problems.length > 0) {
        return problems;
    }
    const ready = existsSync(kubeconfigPath) ? await readyWorkers().catch((err: Error) => [err.message]) : ["no kubeconfig"];
    if (ready.join(",") !== "kdw-worker-0,kdw-worker-1,kdw-worker-2") {
        problems.push(`Ready workers: ${ready.join(", ") || "none"}`);
    }
    const preview = await previewNoChanges();
    if (preview.code !== 0) {
        problems.push(`preview --expect-no-changes: ${preview.timedOut ? `timed out\n${lastLines(preview.output, 10)}` : `changes\n${proposedChanges(preview.output)}`}`);
    }
    return problems;
}

/** KDW_INTERRUPT_ONLY=etcd,destroy runs only the kill points whose names contain one of these words (to debug one). */
const only = (process.env.KDW_INTERRUPT_ONLY ?? "").split(",").filter(Boolean);
/** The groups of kill points (see the top of this file); KDW_INTERRUPT_GROUP runs those it lists, else all run. */
const GROUPS = ["builds", "starts", "recoveries"] as const;
type Group = typeof GROUPS[number];
const groups = (process.env.KDW_INTERRUPT_GROUP ?? "").split(",").map(name => name.trim()).filter(Boolean);
const unknownGroups = groups.filter(name => !(GROUPS as readonly string[]).includes(name));
if (unknownGroups.length > 0) {
    throw new Error(`KDW_INTERRUPT_GROUP is "${process.env.KDW_INTERRUPT_GROUP}": ${unknownGroups.join(", ")} is not a group; ` +
        `it must list some of ${GROUPS.join(", ")} (comma-separated), or be unset for all`);
}
/**
 * A scenario was left out (KDW_INTERRUPT_ONLY, KDW_INTERRUPT_GROUP) since the last one that ran: the state it left is
 * not there to check.
 */
let leftOut = false;

/**
 * The check before a scenario: the state it starts from is there, an empty stack and clean hosts (`empty`), or the
 * converged cluster the scenario before it leaves (`cluster`); and if not, it is made (cleaned up, then for
 * `cluster` brought up). Having to clean up fails this check, naming what was found and after which check, so that
 * the failure is told once and the scenario itself runs from the state it expects; returns whether it does.
 */
async function startsFrom(state: "empty" | "cluster", name: string): Promise<boolean> {
    const after = report.checks.at(-1);
    const previous = after ? `"${after.name}" (${after.passed ? "passed" : "failed"})` : "an earlier run of this suite";
    const expected = state === "empty" ? "an empty stack, no machine and clean hosts" : "a converged cluster";
    let ready = false;
    await report.check(name, async () => {
        const found = state === "empty" ? await whatIsLeft() : await clusterProblems();
        if (found.length === 0) {
            ready = true;
            return expected;
        }
        const onlyEmpty = state === "cluster" && found.length === 1 && found[0] === "the stack is empty";
        const dirty = state === "empty" ? found : await whatIsLeft();
        const done = dirty.length > 0 ? await cleanUp() : [];
        const left = await whatIsLeft();
        let made = "";
        if (left.length === 0 && state === "cluster") {
            made = await upConverges().then(result => `; then ${result}`, (err: Error) => `; then up failed: ${err.message}`);
        }
        ready = left.length === 0 && (state === "empty" || !made.startsWith("; then up failed"));
        const what = `${done.length > 0 ? done.join(", ") : "nothing to clean"}${made}`;
        if (onlyEmpty && done.length === 0 && ready && leftOut) {
            return `made (the scenario before it was left out): ${what}`;
        }
        assert.fail(`not ${expected} at the start, as ${previous} left it: ${found.join("; ")}\n` +
            `made so: ${what}${left.length > 0 ? `\nstill left after cleaning: ${left.join("; ")}` : ""}`);
    });
    leftOut = false;
    return ready;
}

/**
 * Kills a run at `point`, reports what it left, cancels the lock, and runs `next`; first checks where it starts, then
 * does `before` (a loss the run is to recover from). Returns whether it ran (KDW_INTERRUPT_ONLY or KDW_INTERRUPT_GROUP
 * may leave it out).
 */
async function interrupted(of: Group, command: "up" | "destroy", point: KillPoint, next: "up" | "destroy", before?: () => Promise<string>) {
    const name = `${command} killed ${point.name}; cancel; ${next}`;
    if ((groups.length > 0 && !groups.includes(of)) || (only.length > 0 && !only.some(word => `${command} ${point.name}`.includes(word)))) {
        leftOut = true;
        return false;
    }
    // An up from nothing, or a run on the cluster the scenario before left (a destroy, a rebuild after a loss).
    const fromCluster = command === "destroy" || before !== undefined;
    const ready = await startsFrom(fromCluster ? "cluster" : "empty", `${name}: starts from ${
        fromCluster ? "a converged cluster" : "an empty stack and clean hosts"}`);
    await report.check(name, async () => {
        assert.ok(ready, "not run: the state it starts from could not be made (see the check before)");
        const lost = before ? `${await before()}; ` : "";
        const killedRun = await pulumi([command, "--yes", "--skip-preview"], point);
        assert.ok(!killedRun.timedOut, `the run timed out (still running after ${killedRun.seconds}s, killed) ` +
            `before the kill point:\n${lastLines(killedRun.output)}`);
        assert.ok(killedRun.killed, `the run ended (code ${killedRun.code}) before the kill point:\n${lastLines(killedRun.output)}`);
        assert.deepEqual(killedRun.leftover, [], "processes of the killed run still running 3 s after its kill");
        // What the killed run left, read before the lock is released; the lock is released even when reading fails, so
        // that the checks after this one start from a stack they can use.
        const inspected = await Promise.all([storedState(), hostLeftovers(), machines()])
            .then(read => ({ read }), (error: unknown) => ({ error }));
        const cancel = await pulumi(["cancel", "--yes"]);
        assert.equal(cancel.code, 0, `pulumi cancel failed:\n${cancel.output}`);
        if ("error" in inspected) {
            throw inspected.error;
        }
        const [state, left, stale] = inspected.read;
        const result = next === "up" ? await upConverges() : await destroyCleans();
        const record = {
            killedAfter: killedRun.seconds, inFlight: killedRun.inFlight, stateResources: state.resources.length,
            pending: state.pending, machines: stale.length, onHosts: left, next: result,
        };
        report.timings[`${command} killed ${point.name}`] = record;
        return `${lost}killed at ${killedRun.seconds}s with ${killedRun.inFlight.length} steps in flight ` +
            `(${killedRun.inFlight.slice(0, 4).join(", ")}${killedRun.inFlight.length > 4 ? ", ..." : ""}); ` +
            `state: ${state.resources.length} resources, pending ${state.pending.length}; ${stale.length} machines; ` +
            `on hosts: ${summarize(left)}; then ${result}`;
    });
    return true;
}

/** Looks at the cluster through its admin kubeconfig and controller-0's etcdctl. */
const clusterView = clusterClient(kubeconfigPath, cluster.slice(0, 3));

/** kdw-controller-1's member id before its loss, to check that it is gone after. */
let lostMember = "";

/** Loses controller 1 for good: its test host and data disk removed, a blank host at its address (hosts.sh replace). */
async function loseController(): Promise<string> {
    lostMember = (await clusterView.etcdMembers(cluster[0])).find(m => m.name === "kdw-controller-1")?.id ?? "";
    assert.ok(lostMember, "kdw-controller-1 is not an etcd member before its loss");
    await replaceHost(1);
    return `kdw-controller-1 (member ${lostMember}) lost, a blank host in its place`;
}

async function etcdRejoined(): Promise<string> {
    const members = await clusterView.etcdMembers(cluster[0]);
    assertRejoined(members, lostMember, ["kdw-controller-0", "kdw-controller-1", "kdw-controller-2"]);
    return members.map(m => `${m.name} ${m.id}`).join(", ");
}

/** Secrets made before the rotation killed part-way (issue 22: 200), each to be read back with its value after. */
const ROTATION_SECRETS = 200;
/** The key's generation the stack is at: the settings of the scenarios after the rotation keep it. */
let keyGeneration = 0;

async function startRotation(): Promise<string> {
    await clusterView.createSecrets("rotation", ROTATION_SECRETS);
    keyGeneration = 1;
    writeStackConfig(STACK, 3, { encryptionKeyGeneration: keyGeneration });
    return `${ROTATION_SECRETS} Secrets made; encryptionKeyGeneration 0 → 1`;
}

async function rotationDone(): Promise<string> {
    const unread = await clusterView.secretsNotReadBack(Array.from({ length: ROTATION_SECRETS }, (_, n) => `rotation-${n}`));
    assert.deepEqual(unread, [], "Secrets missing or not read back with their value");
    const stored = await clusterView.assertEncryptedUnder("k8s:enc:secretbox:v1:key2:", "key2");
    return `${ROTATION_SECRETS} Secrets read back; ${stored} Secrets in etcd, all under secretbox key2; every controller reads key2 alone`;
}

/** What the restore killed part-way must bring back (written before its snapshot) and not (written after). */
const RESTORE_BEFORE = { configMaps: 50, secrets: 20 };
const RESTORE_AFTER = 20;
let restoreMembersBefore: string[] = [];

/**
 * Quorum lost for good (docs/recovery.md): objects written, a snapshot taken to the set's object store, more written;
 * then every controller's machine lost with its disk and a blank host at its address; the stack then names the
 * snapshot (etcdRestoreSnapshot).
 */
async function loseEveryControllerAfterSnapshot(): Promise<string> {
    const store = objectStore();
    assert.ok(store, "the test set has no object store: scripts/e2e.sh starts it (scripts/hosts.sh object-store)");
    await clusterView.createConfigMaps("restore-before", RESTORE_BEFORE.configMaps);
    await clusterView.createSecrets("restore-before", RESTORE_BEFORE.secrets);
    const key = await takeManualSnapshot(store, cluster[0], "kdw-controller-0");
    await clusterView.createConfigMaps("restore-after", RESTORE_AFTER);
    restoreMembersBefore = (await clusterView.etcdMembers(cluster[0])).map(m => m.id);
    for (const i of [0, 1, 2]) {
        await replaceHost(i);
    }
    writeStackConfig(STACK, 3, { encryptionKeyGeneration: keyGeneration, etcdRestoreSnapshot: key });
    return `${RESTORE_BEFORE.configMaps} ConfigMaps and ${RESTORE_BEFORE.secrets} Secrets, snapshot ${key}, ` +
        `${RESTORE_AFTER} ConfigMaps more; every controller lost, blank hosts in their places; etcdRestoreSnapshot set`;
}

async function restoredFromSnapshot(): Promise<string> {
    const members = await clusterView.etcdMembers(cluster[0]);
    assert.deepEqual(members.filter(m => m.status !== "started" || m.learner || restoreMembersBefore.includes(m.id)), [],
        "members not started, learners, or members of the lost cluster");
    assert.deepEqual(members.map(m => m.name).sort(), ["kdw-controller-0", "kdw-controller-1", "kdw-controller-2"]);
    assert.equal(await clusterView.configMapsOf("restore-before"), RESTORE_BEFORE.configMaps, "ConfigMaps written before the snapshot");
    assert.equal(await clusterView.configMapsOf("restore-after"), 0, "ConfigMaps written after the snapshot are there: not restored");
    const secrets = Array.from({ length: RESTORE_BEFORE.secrets }, (_, n) => `restore-before-${n}`);
    assert.deepEqual(await clusterView.secretsNotReadBack(secrets), [], "Secrets not read back with their value");
    const endpoints = (await clusterView.kubectl("get", "endpoints", "kubernetes", "-o", "jsonpath={.subsets[*].addresses[*].ip}"))
        .trim().split(/\s+/).sort();
    assert.deepEqual(endpoints, cluster.slice(0, 3).map(c => c.ip).sort(), "the kubernetes Service's endpoints");
    return `members ${members.map(m => `${m.name} ${m.id}`).join(", ")}; ${RESTORE_BEFORE.configMaps} ConfigMaps and ` +
        `${RESTORE_BEFORE.secrets} Secrets back, the ${RESTORE_AFTER} later ones not; endpoints ${endpoints.join(", ")}`;
}

const first = (op: string, suffix: string, delayMs: number, name: string): KillPoint =>
    ({ name, delayMs, matches: (o, resource) => o === op && resource.endsWith(suffix) });

async function main() {
    mkdirSync(WORK, { recursive: true });
    assert.ok(hosts.length >= 6, `need 6 test hosts (3 controllers, 3 workers), found ${hosts.length}: npm run hosts:up -- 6`);
    const start = Date.now();
    writeStackConfig(STACK, 3);
    await run("pulumi", ["stack", "select", "--create", STACK], { cwd: ROOT, env });
    writeStackConfig(STACK, 3);

    // Each scenario checks where it starts (startsFrom); the first one's check is the suite's own start.
    // Spread over an `up` from nothing: machine creation, host preparation, etcd, the control plane, the workers.
    if (await interrupted("builds", "up", first("create", "-machine", 3000, "during machine creation"), "up")) {
        await report.check("destroy after that up", destroyCleans);
    }
    await interrupted("builds", "up", first("create", "-prepare", 500, "during host preparation"), "destroy");
    await interrupted("builds", "up", first("create", "-etcd-install", 1500, "while etcd starts"), "up");
    // A destroy killed part-way, while the workers' node components are being removed.
    await interrupted("builds", "destroy", first("delete", "-node-roll", 1500, "while workers are removed"), "destroy");
    await interrupted("starts", "up", first("create", "-control-plane-install", 4000, "while the control plane starts"), "destroy");
    await interrupted("starts", "up", first("create", "-node-install", 6000, "while the workers start"), "up");
    // A controller lost for good (docs/recovery.md): its rebuild killed while its etcd member joins the others.
    if (await interrupted("recoveries", "up", first("create-replacement", "-etcd-install", 3000, "while a lost controller's etcd member rejoins"), "up",
        loseController)) {
        await report.check("after the rebuilt controller's up: 3 started voting etcd members, no learner, the lost member gone", etcdRejoined);
    }
    // A key rotation killed part-way (docs/day2.md): the new key reads everywhere, and writes on the first controller.
    if (await interrupted("recoveries", "up", first("update", "-encryption-write", 3000, "mid-rotation of the key that encrypts Secrets"), "up",
        startRotation)) {
        await report.check("after the rotation's up: every Secret reads back with its value, every one in etcd under the new " +
            "key (secretbox key2), no controller keeps key1", rotationDone);
    }
    // Quorum lost and etcd restored from a snapshot (docs/recovery.md): the restore killed while the members' data is
    // being restored, two seconds into the first controller's.
    if (await interrupted("recoveries", "up", first("create", "-etcd-restore", 2000, "mid-restore of etcd from a snapshot after every controller was lost"),
        "up", loseEveryControllerAfterSnapshot)) {
        await report.check("after the restore's up: 3 started voting members, none of the lost cluster's; what was written before " +
            "the snapshot is back (every Secret with its value), what was written after it is not; the kubernetes Service's " +
            "endpoints are the 3 controllers", restoredFromSnapshot);
    }
    await report.check("final destroy", destroyCleans);
    report.timings.totalSeconds = Math.round((Date.now() - start) / 1000);
}

report.run(main);
