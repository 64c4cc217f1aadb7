// Availability measured, not assumed: asks the API through the admin kubeconfig every 0.5 s (a new TLS connection
// each time, so a dead backend shows at once) while something disruptive runs, then reports the longest time without
// an answer and how many requests failed. Each request may take up to ANSWER_WITHIN_SECONDS: the requests overlap, so
// an API that answers slowly on a loaded machine (CI runs three clusters on two cores) still answers every 0.5 s and
// shows no gap, while an API that does not answer at all shows one; how slow the answers were is reported beside.
// A request is a GET as client-go makes it (kubectl, controllers, every Go client): a connection reset, which is what
// a request in flight meets when the virtual IP moves to another controller, is retried after 1 s (client-go's
// request.go retries a GET on a reset or an EOF, as if the server had said Retry-After: 1); any other error, or no
// answer within the request's time, is a failure. Resets are counted and reported apart.
// The poller is an instrument: it runs in a process of its own (apiPollerProcess.ts), in a CPU cgroup of its own that
// outweighs every test host's, at a raised nice value, so that what it measures is the API, not the event loop of the
// suite that starts it (which parses the engine's events meanwhile) nor the machine's load on its own timer. Measured
// 2026-12-04 with CI's three clusters at load average 64: a 100 ms timer at most 9 ms late in such a cgroup, 690 ms at
// nice -10 beside the hosts, 1243 ms at nice 0. How late its timer ever fired is reported beside, so that a
// measurement it could not make on time says so.
import { fork } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ssh, TestHost } from "./harness";
import { Availability } from "./apiPollerLoop";
import { KUBE_VIP_LEASE } from "../../render/flags";

export { ANSWER_WITHIN_SECONDS, Availability, kubeconfigTls, RETRY_AFTER_SECONDS } from "./apiPollerLoop";

/** How much higher than the suite's the poller's CPU priority is (a nice value below it; needs root, as CI runs). */
export const POLLER_PRIORITY_RAISE = 10;

/** The CPU cgroup the instruments run in, beside the test hosts' (docker's), and its weight: the most either version allows. */
export const INSTRUMENTS_CGROUP = "kdw-test-instruments";

/** Moves a process into the instruments' CPU cgroup (made if missing), on cgroup v1 or v2; returns the cgroup's folder. */
export function intoInstrumentsCgroup(pid: number): string {
    const v1 = ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"].find(d => existsSync(`${d}/cpu.shares`));
    const v2 = existsSync("/sys/fs/cgroup/cgroup.controllers") &&
        readFileSync("/sys/fs/cgroup/cgroup.controllers", "utf8").split(/\s+/).includes("cpu") ? "/sys/fs/cgroup" : undefined;
    const root = v1 ?? v2;
    if (!root) {
        throw new Error("no CPU cgroup controller at /sys/fs/cgroup (v1 cpu or v2 with cpu): the API poller needs one to run ahead of the test hosts");
    }
    const dir = path.join(root, INSTRUMENTS_CGROUP);
    try {
        mkdirSync(dir, { recursive: true });
        if (v1) {
            writeFileSync(`${dir}/cpu.shares`, "262144");
        } else {
            writeFileSync(`${root}/cgroup.subtree_control`, "+cpu");
            writeFileSync(`${dir}/cpu.weight`, "10000");
        }
        writeFileSync(`${dir}/cgroup.procs`, String(pid));
    } catch (err) {
        throw new Error(`the API poller could not be put in the CPU cgroup ${dir} (${(err as Error).message}): it needs root, as CI runs`);
    }
    return dir;
}

/**
 * Starts polling `apiPath` (default: the default namespace) every `everyMs` in a process of its own (see the top of
 * this file); resolves once its first request is sent. `stop()` ends it and returns the figures.
 */
export async function pollApi(kubeconfigPath: string, apiPath = "/api/v1/namespaces/default", everyMs = POLL_SECONDS * 1000) {
    const child = fork(path.join(__dirname, "apiPollerProcess.js"), [kubeconfigPath, apiPath, String(everyMs)],
        { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const messages: unknown[] = [];
    const waiters: ((message: unknown) => void)[] = [];
    let exited: Error | undefined;
    child.on("message", message => (waiters.shift() ?? (m => messages.push(m)))(message));
    // "close", not "exit": Node may emit "exit" before the child's last message; "close" comes after its channel is drained.
    child.once("close", code => {
        exited = new Error(`the API poller exited (${code}) before it reported`);
        waiters.splice(0).forEach(w => w(exited));
    });
    const next = () => new Promise<unknown>((resolve, reject) => {
        const settle = (m: unknown) => (m instanceof Error ? reject(m) : resolve(m));
        if (messages.length > 0) {
            settle(messages.shift());
        } else if (exited) {
            reject(exited);
        } else {
            waiters.push(settle);
        }
    });
    await new Promise<void>((resolve, reject) => child.once("spawn", resolve).once("error", reject));
    try {
        intoInstrumentsCgroup(child.pid!);
        os.setPriority(child.pid!, os.getPriority(process.pid) - POLLER_PRIORITY_RAISE);
    } catch (err) {
        child.kill();
        throw new Error(`the API poller's priority could not be raised: ${(err as Error).message}`);
    }
    const started = await next();
    if (started !== "polling") {
        child.kill();
        throw new Error(`the API poller did not start: ${JSON.stringify(started)}`);
    }
    // A second stop (a check's finally after its body stopped the poller) reads the same figures again.
    let figures: Promise<Availability> | undefined;
    return {
        pid: child.pid!,
        stop(): Promise<Availability> {
            figures ??= (async () => {
                child.send("stop");
                return await next() as Availability;
            })();
            return figures;
        },
    };
}

export const describeAvailability = (a: Availability) =>
    `longest API gap ${a.longestGapSeconds.toFixed(1)}s, ${a.failed}/${a.requests} requests failed, slowest answer ` +
    `${a.slowestAnswerSeconds.toFixed(1)}s, ${a.resetsRetried} resets retried, poller at most ${a.latestAskSeconds.toFixed(1)}s late` +
    (a.errors.length ? ` (${a.errors.join("; ")})` : "");

/** How often the poller asks, in seconds (pollApi's default). */
export const POLL_SECONDS = 0.5;

/**
 * The most a change may cost the API's clients: the longest time without an answer, and how many requests may fail.
 * By default, the polls that fit in one gap of that length (requests fail only within such a time); a bound may allow
 * fewer.
 */
export class AvailabilityBound {
    readonly maxFailed: number;

    constructor(readonly maxGapSeconds: number, maxFailed?: number) {
        this.maxFailed = maxFailed ?? Math.floor(maxGapSeconds / POLL_SECONDS);
    }
}

/**
 * The loss of the virtual IP's holder without warning (the whole host at once, as in a power cut): nothing is handed
 * over, and another controller takes the Lease once it has seen it unrenewed for its duration, which it sees up to one
 * try late; it tries every `retry` with client-go's jitter (up to 2.2 times that apart); then about 1 s to announce the
 * address and answer. With the Lease of render/flags.ts (10 s, tries every 1 s): 10 + 2.2 + 2.2 + 1 = 15.4 s.
 */
export const HOLDER_KILLED_BOUND = new AvailabilityBound(
    KUBE_VIP_LEASE.durationSeconds + 2 * 2.2 * KUBE_VIP_LEASE.retrySeconds + 1);

/**
 * Rolls of the control plane, one host at a time (an upgrade, a flag change, a key rotation, a renewal): issue 22's
 * figure, at most 3 s without an answer and no request failed. Each controller hands the VIP over before its apiserver
 * or kube-vip stops (lib-vip-handover.sh), so no moment is left without a host answering on the address; what is left
 * is how slowly a busy machine answers. Measured 2026-12-04 on a flag change, polled every 0.5 s: 0.6 s and 0 of 250
 * failed on the idle machine, 3.3 s (slowest answer 3.7 s) and 0 of 733 failed beside 40 busy loops on its two cores;
 * before the hand-over, 1.5 s idle and 5.2–7.3 s with failed requests (EHOSTUNREACH: no host on the address) in CI.
 */
export const ROLL_BOUND = new AvailabilityBound(3, 0);

/**
 * Fails unless `a` is within `bound`, saying what was measured; past the bound, also when the longest gap was, the
 * failed requests, and what each controller's kube-vip logged around that gap (who held the Lease and the address), so
 * that a failure in CI says why.
 */
export async function assertAvailable(a: Availability, bound: AvailabilityBound, during: string, controllers: TestHost[]): Promise<void> {
    if (a.requests < 10) {
        throw new Error(`the API was polled only ${a.requests} times during ${during}: nothing was measured`);
    }
    if (a.longestGapSeconds > bound.maxGapSeconds || a.failed > bound.maxFailed) {
        const failures = a.failures.map(f => `request sent ${f.sent} failed after ${f.seconds.toFixed(1)}s: ${f.message}`);
        throw new Error([
            `the API during ${during}: ${describeAvailability(a)}; at most ${bound.maxGapSeconds}s and ${bound.maxFailed} failed allowed`,
            `longest gap from ${a.longestGapWindow.from} to ${a.longestGapWindow.to}`,
            ...failures,
            ...await kubeVipLogs(controllers, Date.parse(a.longestGapWindow.from) - 10_000, Date.parse(a.longestGapWindow.to) + 2_000),
        ].join("\n"));
    }
}

/**
 * Each controller's control-plane containers: how often Docker restarted each, when it last started, whether the kernel
 * killed it for memory (a restarted apiserver or etcd also moves the virtual IP: its kube-vip cannot renew the Lease).
 */
export async function controlPlaneRestarts(controllers: TestHost[]): Promise<string[]> {
    const format = "{{.Name}} restarts {{.RestartCount}}, started {{.State.StartedAt}}, OOM-killed {{.State.OOMKilled}}";
    const lines: string[] = [];
    for (const c of controllers) {
        try {
            const out = await ssh(c, `docker inspect --format '${format}' kdw-etcd kdw-kube-apiserver kdw-kube-vip 2>&1`, 30_000);
            lines.push(`${c.name}: ${out.trim().split("\n").join("; ")}`);
        } catch (err) {
            lines.push(`${c.name}: (not read: ${(err as Error).message.split("\n")[0]})`);
        }
    }
    return lines;
}

/**
 * Each controller's kube-vip log lines between two times, with their timestamps (or why they could not be read); with
 * `matching` (an extended regular expression), only the lines it matches.
 */
export async function kubeVipLogs(controllers: TestHost[], fromMs: number, toMs: number, matching?: string): Promise<string[]> {
    const since = new Date(fromMs).toISOString(), until = new Date(toMs).toISOString();
    const filter = matching ? ` | grep -E '${matching}'` : "";
    const lines: string[] = [];
    for (const c of controllers) {
        lines.push(`kube-vip on ${c.name} from ${since} to ${until}${matching ? `, lines matching ${matching}` : ""}:`);
        try {
            const log = await ssh(c, `docker logs --timestamps --since ${since} --until ${until} kdw-kube-vip 2>&1${filter} | tail -n 25`, 30_000);
            lines.push(...log.trim().split("\n").filter(l => l).map(l => `  ${l}`));
        } catch (err) {
            lines.push(`  (not read: ${(err as Error).message.split("\n")[0]})`);
        }
    }
    return lines;
}
