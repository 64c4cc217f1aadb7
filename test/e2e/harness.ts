// Shared plumbing of the end-to-end scenarios: shell helpers, SSH into test hosts, kubectl, the suites' stacks.
import * as auto from "@pulumi/pulumi/automation";
import * as assert from "node:assert/strict";
import { execFile, ExecFileOptions } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import * as path from "node:path";

export const ROOT = path.resolve(__dirname, "..", "..", "..");
export const WORK = path.join(ROOT, ".cache", "e2e");

export function run(cmd: string, args: string[], opts: ExecFileOptions & { input?: string } = {}): Promise<string> {
    return new Promise((resolve, reject) => {
        const child = execFile(cmd, args, { maxBuffer: 64 * 1024 * 1024, timeout: 300_000, ...opts, encoding: "utf8" },
            (err, stdout, stderr) => {
                if (err) {
                    // The exit status (or the signal that ended it) and what it printed, for callers that tell failures apart.
                    const status = (err as { code?: number | string }).code ?? (err as { signal?: string }).signal;
                    reject(Object.assign(new Error(`${cmd} ${args.join(" ")} failed (${status}): ${String(stderr || err.message).trim()}`),
                        { status, stderr: String(stderr) }));
                } else {
                    resolve(String(stdout));
                }
            });
        if (opts.input !== undefined) {
            child.stdin?.end(opts.input);
        }
    });
}

export interface TestHost {
    name: string;
    ip: string;
    /** How the host runs services and what survives its reboot (scripts/hosts/README.md). */
    kind: "systemd" | "boot2docker";
    sshUser: string;
    sshKeyPath: string;
}

/** `command` to run as root on `host`: through sudo when its SSH user is not root (boot2docker's docker user). */
export function asRoot(host: TestHost, command: string): string {
    return host.sshUser === "root" ? command : `sudo -n sh -c '${command.replace(/'/g, "'\\''")}'`;
}

/**
 * A shell command for any host kind (boot2docker has busybox, no procps) that prints the pid of the oldest process
 * whose command line starts with a path ending in `program` (`bin/kubelet`), ignoring a supervisor that names it as
 * an argument.
 */
export function pidOfCommand(program: string): string {
    return `for p in $(ls /proc | grep '^[0-9][0-9]*$' | sort -n); do ` +
        `case "$(tr '\\000' ' ' 2>/dev/null <"/proc/$p/cmdline")" in (/*'${program} '*) echo "$p"; break ;; esac; done`;
}

/** A shell command that prints how many seconds ago the process whose pid `pidCommand` prints started (from /proc). */
export function processAgeCommand(pidCommand: string): string {
    return `pid=$(${pidCommand}) && [ -n "$pid" ] && ` +
        `awk -v start="$(cut -d' ' -f22 "/proc/$pid/stat")" -v hz="$(getconf CLK_TCK 2>/dev/null || echo 100)" ` +
        `'{ print int($1 - start / hz) }' /proc/uptime`;
}

/**
 * What tells this set of test hosts' files apart from another set's, for the things a suite keeps in this work tree
 * (a stack, its kubeconfig, a scenario's report): suites on two sets may run side by side from one clone (CI does).
 * Empty for the default set.
 */
export const HOSTS_SET_SUFFIX = process.env.KDW_HOSTS_INSTANCE ? `-${process.env.KDW_HOSTS_INSTANCE}` : "";

export function hostsState(): { hosts: TestHost[]; registry: { address: string; caCertPath: string }; stateDir: string } {
    const stateDir = process.env.KDW_HOSTS_STATE_DIR
        ?? path.join(process.env.KDW_CACHE_DIR ?? path.join(process.env.HOME ?? "/root", ".cache", "kube-dumb-way"), "hosts",
            `state${HOSTS_SET_SUFFIX}`);
    const read = (file: string) => JSON.parse(readFileSync(path.join(stateDir, file), "utf8"));
    return { hosts: read("hosts.json"), registry: read("registry.json"), stateDir };
}

const sshOptions = (host: TestHost) => ["-i", host.sshKeyPath, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5"];

/**
 * What ssh prints when it could not reach the host or lost it (its exit status is then 255). With three clusters side
 * by side on two cores, a host's sshd now and then misses ConnectTimeout's 5 s (CI, 2026-12-05: "Connection timed out
 * during banner exchange" on a running controller), which says nothing of the cluster.
 */
const SSH_UNREACHED = /banner exchange|kex_exchange_identification|Connection (refused|reset|closed|timed out)|No route to host|^$/;
const SSH_ATTEMPTS = 3;

/**
 * `command` on the host; tried again, up to SSH_ATTEMPTS times 3 s apart, when ssh itself failed to reach the host
 * (status 255, SSH_UNREACHED). The command's own failures are not retried. A host that stays unreachable fails the
 * call, with each attempt's error.
 */
export async function ssh(host: TestHost, command: string, timeoutMs = 120_000): Promise<string> {
    const errors: string[] = [];
    for (let attempt = 1; ; attempt++) {
        try {
            return await run("ssh", [...sshOptions(host), `${host.sshUser}@${host.ip}`, command], { timeout: timeoutMs });
        } catch (err) {
            const failure = err as Error & { status?: number | string; stderr?: string };
            errors.push(failure.message);
            if (failure.status !== 255 || !SSH_UNREACHED.test((failure.stderr ?? "").trim()) || attempt === SSH_ATTEMPTS) {
                throw errors.length === 1 ? failure : new Error(`ssh to ${host.name} (${host.ip}) failed ${errors.length} times:\n` +
                    errors.join("\n"));
            }
            await sleep(3000);
        }
    }
}

/**
 * Loses test host `index` for good, its data disk too, without warning, and puts a blank one of its kind at its
 * address (`scripts/hosts.sh replace`, on the set KDW_HOSTS_INSTANCE names).
 */
export const replaceHost = (index: number) =>
    run("bash", ["scripts/hosts.sh", "replace", String(index)], { cwd: ROOT, timeout: 300_000 });

/** Copies local files or folders into a folder on a test host. */
export function scp(host: TestHost, sources: string[], remoteDir: string): Promise<string> {
    return run("scp", [...sshOptions(host), "-r", "-q", ...sources, `${host.sshUser}@${host.ip}:${remoteDir}/`], { timeout: 300_000 });
}

export function requireEnv(name: string): string {
    const value = process.env[name];
    if (!value) {
        throw new Error(`${name} is not set: run \`source scripts/env.sh\` first`);
    }
    return value;
}

/** The passphrase (or its file) of the test stacks' secrets (scripts/test-stacks.sh), for the Automation API's CLI. */
export function stackSecretsEnv(): Record<string, string> {
    for (const name of ["PULUMI_CONFIG_PASSPHRASE_FILE", "PULUMI_CONFIG_PASSPHRASE"]) {
        const value = process.env[name];
        if (value !== undefined) {
            return { [name]: value };
        }
    }
    throw new Error("neither PULUMI_CONFIG_PASSPHRASE_FILE nor PULUMI_CONFIG_PASSPHRASE is set: run the suites through " +
        "scripts/e2e.sh (npm run e2e), which sets the test stacks' passphrase, or source scripts/test-stacks.sh first");
}

export type Kubectl = (...args: string[]) => Promise<string>;

export const kubectlWith = (kubeconfigPath: string): Kubectl =>
    (...args) => run("kubectl", ["--kubeconfig", kubeconfigPath, "--request-timeout=20s", ...args]);

export async function readyNodes(kubectl: Kubectl): Promise<string[]> {
    const nodes = JSON.parse(await kubectl("get", "nodes", "-o", "json")).items as any[];
    return nodes.filter(n => n.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"))
        .map(n => n.metadata.name).sort();
}

export const workerNames = (n: number) => Array.from({ length: n }, (_, i) => `kdw-worker-${i}`);

export const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/** Retries `body` until it returns without throwing or `seconds` pass; then throws its last error. */
export async function eventually<T>(seconds: number, body: () => Promise<T>, everyMs = 2000): Promise<T> {
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
        try {
            return await body();
        } catch (err) {
            if (Date.now() > deadline) {
                throw new Error(`still failing after ${seconds}s: ${(err as Error).message}`);
            }
            await sleep(everyMs);
        }
    }
}

/**
 * The suites' stacks are throwaway, made on fresh test hosts: a stack and machines left by an earlier run that was
 * killed (its lock still held, its resources on hosts that are gone) would fail this one, so they go first.
 */
export async function freshStack(ws: auto.LocalWorkspace, name: string, machineStorage: string): Promise<auto.Stack> {
    rmSync(machineStorage, { recursive: true, force: true });
    if ((await ws.listStacks()).some(s => s.name === name)) {
        const stale = await auto.Stack.select(name, ws);
        // Only a killed run's lock needs releasing; without one, cancel has nothing to do and says so.
        await stale.cancel().catch(() => undefined);
        await ws.removeStack(name, { force: true });
    }
    return auto.Stack.create(name, ws);
}

/** Destroys the stack, echoing the CLI's output, and fails unless nothing is left in it; returns how long it took (s). */
export async function destroyStack(stack: auto.Stack): Promise<number> {
    const start = Date.now();
    await stack.destroy({ onOutput: line => process.stdout.write(`     | ${line}`) });
    const seconds = (Date.now() - start) / 1000;
    const state = await stack.exportStack();
    const left = (state.deployment.resources ?? []).filter((r: { type: string }) => r.type !== "pulumi:pulumi:Stack");
    assert.deepEqual(left.map((r: { urn: string }) => r.urn), [], "resources left in the stack");
    return seconds;
}
