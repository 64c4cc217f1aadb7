// How the program talks to hosts: SSH connections, scripts run as root with their settings in the environment,
// files (key material included) sent on stdin, and content hashes that decide when a step re-runs.
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

/** The project folder (the one with Pulumi.yaml), whether this runs from source or compiled into bin/. */
function projectRoot(): string {
    for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
        if (existsSync(path.join(dir, "Pulumi.yaml"))) {
            return dir;
        }
    }
    throw new Error(`no Pulumi.yaml above ${__dirname}`);
}

export const SCRIPT_DIR = path.join(projectRoot(), "components", "scripts");

/** A host script or config template, read from components/scripts/. */
export function asset(name: string): string {
    return readFileSync(path.join(SCRIPT_DIR, name), "utf8");
}

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
 * The command line that runs `script` as root (sudo when the SSH user is not root) with `env` set. Settings go in the
 * environment, never key material: command lines are stored in state in plain text and visible in `ps`.
 */
export function scriptCommand(script: string, action: "up" | "down", env: Record<string, string>): string {
    const assignments = Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}`).join(" ");
    return `if [ "$(id -u)" = 0 ]; then KDW_SUDO=; else KDW_SUDO="sudo -n"; fi; ` +
        `$KDW_SUDO env ${assignments} sh -c ${shellQuote(script)} kdw ${action}`;
}

export interface HostFile {
    path: pulumi.Input<string>;
    content: pulumi.Input<string>;
    mode?: string;
}

/**
 * Files for a host, as one stdin stream of `path mode base64` lines that components/scripts/lib-files.sh writes out.
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
    /**
     * Files the script applies idempotently (a route table, for example): a change to them re-runs `up` in place, an
     * update, instead of replacing the step, so the host never goes through `down` for it.
     */
    filesUpdatedInPlace?: pulumi.Input<pulumi.Input<HostFile>[]>;
    /** Extra facts whose change must re-run the step (binary digests, for example). */
    triggers?: pulumi.Input<string>[];
}

/**
 * One idempotent step on a host: `up` on create, `down` on delete. Its trigger is a hash of everything it sends but
 * `filesUpdatedInPlace`, so a no-op `pulumi up` runs nothing and any change re-runs exactly this step (a trigger change
 * replaces the resource; deleteBeforeReplace makes that a clean `down` then `up` instead of an `up` undone by the old
 * resource's `down`; a change to `filesUpdatedInPlace` alone runs `up` again as an update).
 */
export function hostStep(name: string, args: HostStepArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
    const env = pulumi.output(args.env);
    const takesFiles = args.files !== undefined || args.filesUpdatedInPlace !== undefined;
    const fixedFiles = fileBundle(args.files ?? []);
    const stdin = pulumi.all([fixedFiles, fileBundle(args.filesUpdatedInPlace ?? [])]).apply(([a, b]) => a + b);
    const withLib = takesFiles ? `${asset("lib-files.sh")}\n${args.script}` : args.script;
    const up = env.apply(e => scriptCommand(withLib, "up", e));
    const down = env.apply(e => scriptCommand(withLib, "down", e));
    const trigger = pulumi.all([up, fixedFiles, ...(args.triggers ?? [])]).apply(parts => sha256(...parts));
    return new command.remote.Command(name, {
        connection: pulumi.output(args.connection).apply(c => ({
            host: c.host, user: c.user, privateKey: c.privateKey, port: c.port ?? 22,
            dialErrorLimit: 30, perDialTimeout: 10,
        })),
        create: up,
        update: args.filesUpdatedInPlace ? up : undefined,
        delete: down,
        stdin,
        triggers: [trigger],
        addPreviousOutputInEnv: false,
    }, { deleteBeforeReplace: true, ...opts });
}
