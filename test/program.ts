// Runs index.ts under Pulumi mocks with a given config and records every resource it registers.
// index.ts runs once per process, so each graph test file runs it once (node --test gives each file its own process).
import * as pulumi from "@pulumi/pulumi";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "fs";
import * as os from "os";
import * as path from "path";
import { relativePath } from "../host/binaries";
import { PINNED_VERSIONS, PROJECT, WORKER_BINARIES } from "../config";

export interface Registered {
    type: string;
    name: string;
    inputs: Record<string, any>;
    urn: string;
    /** The URNs it was registered as depending on (dependsOn and inputs from other resources). */
    dependencies: string[];
    /** The aliases it was registered with, as URNs or alias specs. */
    aliases: unknown[];
    /** Whether a replacement deletes it before it makes the new one. */
    deleteBeforeReplace: boolean;
}

/** The secret wrapper Pulumi puts around secret values on the wire. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
export const isSecretValue = (v: unknown): boolean =>
    typeof v === "object" && v !== null && (v as Record<string, unknown>)[SECRET_SIG] === "1b47061264138c4ac30d75fd1eb44270";
export const reveal = (v: any): any => (isSecretValue(v) ? v.value : v);

// The program's cache (staged binary folders, remembered digests) goes to a folder of this test run, not the user's;
// programs this test starts in processes of their own share it, as runs of one user do.
if (!process.env.KDW_TEST_CACHE_HOME) {
    const cacheHomeOfRun = mkdtempSync(path.join(os.tmpdir(), "kdw-cache-"));
    process.env.KDW_TEST_CACHE_HOME = cacheHomeOfRun;
    process.on("exit", () => rmSync(cacheHomeOfRun, { recursive: true, force: true }));
}
process.env.XDG_CACHE_HOME = process.env.KDW_TEST_CACHE_HOME;

/** A folder that looks like the toolchain's output: every worker binary and a manifest with the pinned versions. */
export function fakeBinaryFolder(): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kdw-bin-"));
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(path.join(dir, "cni"));
    for (const name of WORKER_BINARIES) {
        writeFileSync(path.join(dir, relativePath(name)), `#!/bin/sh\necho ${name}\n`);
    }
    const version = (name: string) => name.startsWith("kube") ? PINNED_VERSIONS.kubernetes : name.startsWith("containerd")
        ? PINNED_VERSIONS.containerd : name === "runc" ? PINNED_VERSIONS.runc : name === "crictl" ? PINNED_VERSIONS.crictl
            : ["bridge", "host-local", "loopback", "portmap"].includes(name) ? PINNED_VERSIONS.cniPlugins : "v0.1.0";
    writeFileSync(path.join(dir, "manifest.json"), JSON.stringify({
        artifacts: WORKER_BINARIES.map(name => ({ name: relativePath(name), version: version(name) })),
    }));
    return dir;
}

/** Host addresses the mocked docker-machine hands out: controllers .10+, workers .20+ (more than 10 never needed). */
export function mockIp(nodeName: string): string {
    const m = /-(controller|worker)-(\d+)$/.exec(nodeName);
    if (!m) {
        throw new Error(`not a node name: ${nodeName}`);
    }
    return `192.168.99.${(m[1] === "controller" ? 10 : 50) + Number(m[2])}`;
}

/**
 * Pulumi mocks for the cluster's resources: docker-machine hands out addresses (mockIp), the probe answers `probe`,
 * the program's read of its own last outputs gets `deployed`, the tls plugin returns named stand-ins; `record` sees
 * every resource registered. Also used by the program that installs the packed package (test/package.test.ts).
 */
export function clusterMocks(probe: string, deployed: Record<string, unknown> | undefined,
    record: (r: Registered) => void): pulumi.runtime.Mocks {
    return {
        newResource(args) {
            const state: Record<string, unknown> = { ...args.inputs };
            const machine = /^(.*)-machine$/.exec(args.name);
            if (args.type === "command:local:Command" && machine) {
                state.stdout = JSON.stringify({ ip: mockIp(machine[1]), sshUser: "docker", sshKeyPath: `/machines/${machine[1]}/id_rsa` });
            } else if (args.type === "command:local:Command" && args.name.endsWith("-ssh-key")) {
                state.stdout = `-----BEGIN RSA PRIVATE KEY-----\n${args.name}\n-----END RSA PRIVATE KEY-----\n`;
            } else if (args.type === "command:local:Command" && args.name === "encryption-key") {
                state.stdout = Buffer.alloc(32, 7).toString("base64");
            } else if (args.type === "command:local:Command" && args.name === "encryption-key-seed") {
                state.stdout = Buffer.alloc(32, 9).toString("base64");
            } else if (args.type === "command:remote:Command" && args.name.endsWith("-probe")) {
                state.stdout = probe;
            } else if (args.type === "pulumi:pulumi:StackReference") {
                state.outputs = deployed ?? {};
            } else if (args.type === "tls:index/privateKey:PrivateKey") {
                state.privateKeyPem = `PRIVATE KEY OF ${args.name}`;
                state.publicKeyPem = `PUBLIC KEY OF ${args.name}`;
            } else if (args.type === "tls:index/selfSignedCert:SelfSignedCert" || args.type === "tls:index/locallySignedCert:LocallySignedCert") {
                state.certPem = `CERTIFICATE ${args.name}`;
            } else if (args.type === "tls:index/certRequest:CertRequest") {
                state.certRequestPem = `CSR ${args.name}`;
            }
            record({ type: args.type, name: args.name, inputs: args.inputs, urn: "", dependencies: [], aliases: [], deleteBeforeReplace: false });
            return { id: args.custom ? `${args.name}-id` : "", state };
        },
        call(args) {
            return args.inputs;
        },
    };
}

export interface ProgramRun {
    resources: Registered[];
    outputs: Record<string, pulumi.Output<any>>;
    error?: Error;
}

/**
 * `deployed`: the outputs the stack's last update left, which the program's entry (main.ts) reads back through a
 * StackReference; given, the program runs from main.ts, else from index.ts alone, or from `entry` (a module path
 * from bin/test) when given. `secretKeys`: the settings the stack's config holds as secrets (set with --secret).
 */
export async function runProgram(config: Record<string, unknown>, probe = "profile=systemd cgroup=v1",
    deployed?: Record<string, unknown>, entry?: string, secretKeys: string[] = [], snapshotSha256?: string): Promise<ProgramRun> {
    const resources: Registered[] = [];
    const allConfig: Record<string, string> = {};
    for (const [key, value] of Object.entries(config)) {
        allConfig[`${PROJECT}:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
    }
    pulumi.runtime.setAllConfig(allConfig, secretKeys.map(key => `${PROJECT}:${key}`));
    await pulumi.runtime.setMocks(clusterMocks(probe, deployed, r => resources.push(r)), PROJECT, "test", false, "organization");

    // The mocks are not told what a resource depends on: the monitor's requests are.
    const settings = require("@pulumi/pulumi/runtime/settings");
    const mockMonitor = settings.getMonitor();
    const dependencies = new Map<string, string[]>();
    const aliases = new Map<string, unknown[]>();
    const deleteBeforeReplace = new Map<string, boolean>();
    const register = mockMonitor.registerResource.bind(mockMonitor);
    mockMonitor.registerResource = (req: any, callback: unknown) => {
        dependencies.set(`${req.getType()}::${req.getName()}`, req.getDependenciesList());
        deleteBeforeReplace.set(`${req.getType()}::${req.getName()}`, req.getDeletebeforereplace());
        aliases.set(`${req.getType()}::${req.getName()}`, [
            ...req.getAliasurnsList(), ...req.getAliasesList().map((a: any) => a.toObject()),
        ]);
        return register(req, callback);
    };

    let error: Error | undefined;
    let outputs: Record<string, pulumi.Output<any>> = {};
    try {
        outputs = entry ? await require(entry) : deployed ? await require("../main") : require("../index").stack({}, undefined, snapshotSha256);
    } catch (err) {
        error = err as Error;
    }
    // Registrations run asynchronously; wait until none is pending.
    await settings.waitForRPCs();
    const monitor = settings.getMonitor() as { resources: Map<string, { urn: string }> };
    const urns = [...monitor.resources.keys()];
    for (const r of resources) {
        r.urn = urns.find(u => u.endsWith(`::${r.name}`) && u.split("::")[2].split("$").pop() === r.type) ?? "";
        r.dependencies = dependencies.get(`${r.type}::${r.name}`) ?? [];
        r.aliases = aliases.get(`${r.type}::${r.name}`) ?? [];
        r.deleteBeforeReplace = deleteBeforeReplace.get(`${r.type}::${r.name}`) ?? false;
    }
    return { resources, outputs, error };
}

export function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise(resolve => output.apply(v => { resolve(v); return v; }));
}

export async function isSecretOutput(output: pulumi.Output<unknown>): Promise<boolean> {
    return (output as any).isSecret as Promise<boolean>;
}

export const ofType = (rs: Registered[], type: string) => rs.filter(r => r.type === type);
export const named = (rs: Registered[], name: string) => {
    const found = rs.filter(r => r.name === name);
    if (found.length !== 1) {
        throw new Error(`expected one resource named ${name}, found ${found.length}`);
    }
    return found[0];
};

/** The files a host step sends on its stdin (the lib-files.sh format), by path. */
export function filesOf(step: Registered): Map<string, string> {
    const lines = Buffer.from(reveal(step.inputs.stdin) ?? "").toString().split("\n").filter(Boolean);
    return new Map(lines.map(line => line.split(" ")).map(([p, , data]) => [p, Buffer.from(data, "base64").toString()]));
}

/** The route table a PodRoute step writes on its host. */
export function routeTableOf(step: Registered): string {
    const tables = [...filesOf(step)].filter(([p]) => p.endsWith("/pod-routes"));
    if (tables.length !== 1) {
        throw new Error(`${step.name} sends ${tables.length} route tables`);
    }
    return tables[0][1];
}
