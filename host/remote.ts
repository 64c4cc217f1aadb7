// How the program talks to hosts: SSH connections, scripts run as root with their settings in the environment,
// files (key material included) sent on stdin; steps that run `up` again on any change, and steps that roll host by
// host (a digest of what a roll sends decides when it runs).
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { existsSync, readFileSync } from "fs";
import * as path from "path";

export interface HostConnection {
    host: pulumi.Input<string>;
    user: pulumi.Input<string>;
    privateKey: pulumi.Input<string>;
    port?: pulumi.Input<number>;
}

/**
 * The project folder, the one with the host scripts (host/scripts/), whether this runs from source, compiled into
 * bin/, or installed as a package (which carries the scripts, not Pulumi.yaml).
 */
function projectRoot(): string {
    for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
        if (existsSync(path.join(dir, "host", "scripts", "host.sh"))) {
            return dir;
        }
    }
    throw new Error(`no host/scripts/host.sh above ${__dirname}`);
}

/** The scripts and config templates that run on the hosts. */
export const HOST_SCRIPT_DIR = path.join(projectRoot(), "host", "scripts");
/** The scripts that run on the machine running Pulumi (docker-machine's certificates, binaries, kubectl's waits). */
export const LOCAL_SCRIPT_DIR = path.join(projectRoot(), "host", "local");

/** The file each host script was read from, by its text: a step's lock is named after its script (withLibraries). */
const hostScriptNames = new Map<string, string>();

/** A host script or config template, read from host/scripts/. */
export function hostScript(name: string): string {
    const text = readFileSync(path.join(HOST_SCRIPT_DIR, name), "utf8");
    hostScriptNames.set(text, name);
    return text;
}

/** A script that runs on the machine running Pulumi, read from host/local/. */
export const localScript = (name: string): string => readFileSync(path.join(LOCAL_SCRIPT_DIR, name), "utf8");

/** Fills `{{NAME}}` placeholders; a placeholder without a value, or a value without a placeholder, is a bug. */
export function render(template: string, values: Record<string, string | number>): string {
    const unused = new Set(Object.keys(values));
    const out = template.replace(/\{\{([A-Z0-9_]+)\}\}/g, (_, name: string) => {
        if (!(name in values)) {
            throw new Error(`template placeholder {{${name}}} has no value`);
        }
        unused.delete(name);
        return String(values[name]);
    });
    if (unused.size > 0) {
        throw new Error(`template has no placeholder for ${[...unused].join(", ")}`);
    }
    return out;
}

export function shellQuote(value: string): string {
    return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

export function sha256(...parts: string[]): string {
    const hash = createHash("sha256");
    for (const part of parts) {
        hash.update(part).update("\0");
    }
    return hash.digest("hex");
}

/**
 * What a host script is asked to do: `up` installs and starts (first `up` of a host, every host at once), `roll` changes
 * a running host (one host at a time, with the script's health gates), `down` removes what `up` made.
 */
export type HostAction = "up" | "roll" | "down";

/**
 * The command line that runs `script` as root (sudo when the SSH user is not root) with `env` set. Settings go in the
 * environment, never key material: command lines are stored in state in plain text and visible in `ps`.
 */
export function scriptCommand(script: string, action: HostAction, env: Record<string, string>): string {
    return asRoot(script, action, envAssignments(env));
}

/** `NAME=value ...`, each value quoted for the shell. */
export const envAssignments = (env: Record<string, string>): string =>
    Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}`).join(" ");

/** The command line that runs `script` as root with `assignments` (shell words, such as envAssignments gives). */
export function asRoot(script: string, action: HostAction, assignments: string): string {
    return `if [ "$(id -u)" = 0 ]; then KDW_SUDO=; else KDW_SUDO="sudo -n"; fi; ` +
        `$KDW_SUDO env ${assignments} sh -c ${shellQuote(script)} kdw ${action}`;
}

export interface HostFile {
    path: pulumi.Input<string>;
    content: pulumi.Input<string>;
    mode?: string;
}

/**
 * Files for a host, as one stdin stream of `path mode base64` lines that host/scripts/lib-files.sh writes out.
 * The result is secret whenever any content is.
 */
export function fileBundle(files: pulumi.Input<pulumi.Input<HostFile>[]>): pulumi.Output<string> {
    return pulumi.output(files).apply(list => list.map(f =>
        `${f.path} ${f.mode ?? "0644"} ${Buffer.from(f.content).toString("base64")}\n`).join(""));
}

export interface HostStepArgs {
    connection: pulumi.Input<HostConnection>;
    /** Shell script (POSIX sh) taking `up` or `down` as its first argument. */
    script: string;
    env: pulumi.Input<Record<string, pulumi.Input<string>>>;
    files?: pulumi.Input<pulumi.Input<HostFile>[]>;
    /** The machine's identity: a new machine runs `up` again. */
    machineId: pulumi.Input<string>;
    /** Extra facts whose change must re-run the step (binary digests, for example). */
    triggers?: pulumi.Input<string>[];
    /** Shell libraries from host/scripts/ that the script uses, sent ahead of it (lib-files.sh comes with files). */
    libraries?: string[];
}

/**
 * A host script as sent: for a script of host/scripts/, its step lock first (lib-step.sh: a step of an
 * interrupted run still running on the host is stopped before this one starts), then the libraries it uses, then the
 * script.
 */
export function withLibraries(script: string, libraries: string[]): string {
    const name = hostScriptNames.get(script)?.replace(/\.sh$/, "");
    const lock = name ? [hostScript("lib-step.sh"), `kdw_step_lock ${name}`] : [];
    return [...lock, ...libraries.map(hostScript), script].join("\n");
}

/** A script that runs on the machine running Pulumi with the admin kubeconfig on stdin, with admin_kubeconfig. */
export const withAdminKubeconfig = (name: string): string =>
    [localScript("lib-admin-kubeconfig.sh"), localScript(name)].join("\n");

/** A step's script as hostStep sends it: with the file writer when it takes files, and its libraries. */
export const stepScript = (args: Pick<HostStepArgs, "script" | "libraries" | "files">): string =>
    withLibraries(args.script, [...(args.files !== undefined ? ["lib-files.sh"] : []), ...(args.libraries ?? [])]);

/** A step's environment: its settings, and a digest of its extra facts (so that their change is a change of it). */
const stepEnv = (args: Pick<HostStepArgs, "env" | "triggers">) =>
    pulumi.all([args.env, pulumi.all(args.triggers ?? [])]).apply(([e, facts]) =>
        facts.length > 0 ? { ...e, KDW_FACTS: sha256(...facts) } : e);

/** The command provider's connection to a host, retrying its dial while a new machine's SSH comes up. */
const remoteConnection = (connection: pulumi.Input<HostConnection>) => pulumi.output(connection).apply(c => ({
    host: c.host, user: c.user, privateKey: c.privateKey, port: c.port ?? 22, dialErrorLimit: 30, perDialTimeout: 10,
}));

/**
 * One idempotent step on a host: `up` on create and again on every change of what it sends (its script, settings,
 * files, facts, or a new machine), `down` on delete. It is never replaced: its `down` is for a host leaving the
 * cluster, and the prepare step's `down` sweeps the host, so a replace (the old resource's `down`, then `up`) would
 * take everything else on the host with it. A no-op `pulumi up` runs nothing.
 */
export function hostStep(name: string, args: HostStepArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
    const env = pulumi.all([stepEnv(args), args.machineId]).apply(([e, machine]) => ({ ...e, KDW_MACHINE: machine }));
    const script = stepScript(args);
    const up = env.apply(e => scriptCommand(script, "up", e));
    return new command.remote.Command(name, {
        connection: remoteConnection(args.connection),
        create: up,
        update: up,
        delete: env.apply(e => scriptCommand(script, "down", e)),
        stdin: fileBundle(args.files ?? []),
        addPreviousOutputInEnv: false,
    }, {
        ...opts,
        // Stacks made before this kept a digest of the step's content in `triggers`, which the command provider
        // replaces on: ignored, so that taking such a step over updates it (runs `up`) instead of replacing it.
        ignoreChanges: ["triggers"],
    });
}

/**
 * A host step that belongs to a setting rather than to a machine: `up` when the setting is made or changed, `down` when
 * it is removed. A new machine does not run it again as it would a hostStep: its script decides on the host what a
 * machine made since needs.
 */
export function settingStep(name: string, args: Omit<HostStepArgs, "machineId">, opts: pulumi.CustomResourceOptions): command.remote.Command {
    const script = stepScript(args);
    const env = stepEnv(args);
    return new command.remote.Command(name, {
        connection: remoteConnection(args.connection),
        create: env.apply(e => scriptCommand(script, "up", e)),
        update: env.apply(e => scriptCommand(script, "up", e)),
        delete: env.apply(e => scriptCommand(script, "down", e)),
        stdin: fileBundle(args.files ?? []),
        addPreviousOutputInEnv: false,
    }, opts);
}

export interface RollingStepOptions {
    parent: pulumi.Resource;
    /** What the first `up` waits for (the host prepared, files staged...). */
    dependsOn: pulumi.Input<pulumi.Resource>[];
    /**
     * What a change waits for before it reaches this host: the previous host's roll (etcd members, then control planes,
     * then workers, one host at a time).
     */
    rollsAfter: pulumi.Resource[];
    /**
     * A step the roll waits for, made from the digest of what the roll sends (a worker's drain, which must act exactly
     * when the roll does); it takes over `rollsAfter`.
     */
    beforeRoll?: (digest: pulumi.Output<string>) => pulumi.Resource;
    /** The name this host's step had when it was a plain hostStep, so that a stack made then is taken over. */
    formerName?: string;
}

/**
 * A host step that is installed in parallel and changed one host at a time. Two resources:
 * - `install` runs the script's `up` once, when the host (its machine) is new; all hosts install at once, as a plain
 *   step would. A later change of content only updates its recorded inputs (its `update` reads stdin, nothing else),
 *   so that a new machine is installed with current content;
 * - `roll` runs nothing when created (no `create`: the command provider does not even connect), then the script's
 *   `roll` with the new content on every change, after `rollsAfter`: chained host after host, changes roll while the
 *   first `up` stays parallel. Its `delete` runs `down`, so a removed host is cleaned with current content.
 * Nothing is replaced for a change of content: `triggers`, the only input the command provider replaces on, hold only
 * the machine's identity. `digest` is a hash of what the roll sends.
 */
export function rollingStep(name: string, args: HostStepArgs, opts: RollingStepOptions) {
    const stdin = fileBundle(args.files ?? []);
    const withLib = stepScript(args);
    const env = stepEnv(args);
    const commandLine = (action: HostAction) => env.apply(e => scriptCommand(withLib, action, e));
    const connection = remoteConnection(args.connection);
    const roll = commandLine("roll");
    const digest = pulumi.all([roll, stdin, connection]).apply(([r, s, c]) => sha256(r, s, c.host, String(c.port)));
    const install = new command.remote.Command(`${name}-install`, {
        connection,
        create: commandLine("up"),
        // Nothing to do, but stdin must be read: a command that exits first makes the provider's write of stdin fail (EOF).
        update: "cat >/dev/null",
        stdin,
        triggers: [args.machineId],
        addPreviousOutputInEnv: false,
    }, {
        parent: opts.parent, dependsOn: opts.dependsOn,
        // A stack made with the plain step: its `down` runs before this `up` (once, on every host at once).
        deleteBeforeReplace: true, aliases: opts.formerName ? [{ name: opts.formerName }] : undefined,
    });
    const rolled = rollCommand(`${name}-roll`, { connection, roll, stdin, down: commandLine("down") },
        { parent: opts.parent, dependsOn: [install, ...(opts.beforeRoll ? [opts.beforeRoll(digest)] : opts.rollsAfter)] });
    return { install, roll: rolled, digest };
}

/** A step that runs nothing when created (no `create`: the command provider does not even connect), `roll` on change. */
function rollCommand(name: string, args: {
    connection: pulumi.Input<HostConnection>; roll: pulumi.Input<string>; stdin: pulumi.Input<string>; down?: pulumi.Input<string>;
}, opts: pulumi.CustomResourceOptions): command.remote.Command {
    return new command.remote.Command(name, {
        connection: args.connection, update: args.roll, delete: args.down, stdin: args.stdin, addPreviousOutputInEnv: false,
    }, opts);
}

/**
 * A step that only rolls: nothing when created, the script's `roll` on every change of what it sends, after
 * `rollsAfter`; nothing when deleted. For a change that reaches running hosts one at a time and that a new host does
 * not need (a key rotation's intermediate phases).
 */
export function rollOnlyStep(name: string, args: Omit<HostStepArgs, "machineId">,
    opts: { parent: pulumi.Resource; rollsAfter: pulumi.Resource[] }): command.remote.Command {
    const roll = stepEnv(args).apply(e => scriptCommand(stepScript(args), "roll", e));
    return rollCommand(name, { connection: remoteConnection(args.connection), roll, stdin: fileBundle(args.files ?? []) },
        { parent: opts.parent, dependsOn: opts.rollsAfter });
}
