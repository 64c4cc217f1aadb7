import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { existsSync, readFileSync } from "fs";
import * as os from "os";
import * as path from "path";
import { BinarySource, Versions, WORKER_BINARIES } from "./config";
import { asset, shellQuote } from "./remote";

export type BinaryName = typeof WORKER_BINARIES[number];

export interface LocalBinary {
    path: string;
    sha256: string;
}

export type BinarySet = Record<BinaryName, LocalBinary>;

export const CNI_PLUGINS: BinaryName[] = ["bridge", "host-local", "loopback", "portmap"];

/** Where a binary sits in a binary folder or under a URL base: CNI plugins in cni/, the rest at the top. */
export const relativePath = (name: BinaryName): string => (CNI_PLUGINS.includes(name) ? `cni/${name}` : name);

/** Which pinned version a binary must be, for the check against a folder's manifest.json. */
const VERSION_OF: Partial<Record<BinaryName, keyof Versions>> = {
    kubelet: "kubernetes", "kube-proxy": "kubernetes", containerd: "containerd",
    "containerd-shim-runc-v2": "containerd", runc: "runc", crictl: "crictl",
    bridge: "cniPlugins", "host-local": "cniPlugins", loopback: "cniPlugins", portmap: "cniPlugins",
};

interface ManifestEntry {
    name: string;
    version?: string;
    sha256?: string;
}

function readManifest(folder: string): ManifestEntry[] {
    const file = path.join(folder, "manifest.json");
    if (!existsSync(file)) {
        return [];
    }
    const parsed = JSON.parse(readFileSync(file, "utf8"));
    return Array.isArray(parsed) ? parsed : (parsed.artifacts ?? []);
}

function fileSha256(file: string): string {
    return createHash("sha256").update(readFileSync(file)).digest("hex");
}

/**
 * Checks a local folder of binaries (as `npm run toolchain` makes: CNI plugins in cni/, a manifest.json naming each
 * file by its relative path): each one present, its digest matching any pin (binaryChecksums, then the
 * folder's manifest.json), and its manifest version matching the configured version.
 */
export function verifyFolder(folder: string, pins: Record<string, string>, versions: Versions): BinarySet {
    const manifest = new Map(readManifest(folder).map(e => [e.name, e]));
    const problems: string[] = [];
    const set = {} as BinarySet;
    for (const name of WORKER_BINARIES) {
        const file = path.join(folder, relativePath(name));
        if (!existsSync(file)) {
            problems.push(`${name} is missing from ${folder}`);
            continue;
        }
        const digest = fileSha256(file);
        const entry = manifest.get(relativePath(name));
        const expected = pins[name] ?? entry?.sha256;
        if (expected && expected !== digest) {
            problems.push(`${file} has sha256 ${digest}, expected ${expected}`);
        }
        const versionKey = VERSION_OF[name];
        if (versionKey && entry?.version && entry.version !== versions[versionKey]) {
            problems.push(`${file} is ${entry.version} according to manifest.json, but the configured ${versionKey} version is ${versions[versionKey]}`);
        }
        set[name] = { path: file, sha256: digest };
    }
    if (problems.length > 0) {
        throw new Error(`kube-dumb-way:binarySource does not hold the binaries this cluster needs:\n  - ${problems.join("\n  - ")}`);
    }
    return set;
}

export interface WorkerBinariesArgs {
    source: BinarySource;
    versions: Versions;
    /** Where downloads are kept; one folder per set of pinned digests. */
    cacheDir?: string;
}

/**
 * The binaries workers need, on the machine running Pulumi: fetched once (and verified against pinned digests) or
 * taken from a local folder. WorkerNode copies them to each worker.
 */
export class WorkerBinaries extends pulumi.ComponentResource {
    readonly binaries: pulumi.Output<BinarySet>;

    constructor(name: string, args: WorkerBinariesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dumbway:index:WorkerBinaries", name, {}, opts);
        const source = args.source;
        if (source.kind === "folder") {
            this.binaries = pulumi.output(verifyFolder(source.path, source.checksums, args.versions));
        } else {
            const pins = WORKER_BINARIES.map(b => `${relativePath(b)}=${source.checksums[b]}`).join(" ");
            const dir = path.join(args.cacheDir ?? path.join(os.homedir(), ".cache", "kube-dumb-way", "binaries"),
                createHash("sha256").update(pins).digest("hex").slice(0, 16));
            const fetch = new command.local.Command(`${name}-fetch`, {
                create: `sh -c ${shellQuote(asset("fetch-binaries.sh"))} fetch`,
                environment: { KDW_BASE_URL: source.baseUrl, KDW_DIR: dir, KDW_PINS: pins },
                triggers: [source.baseUrl, pins],
            }, { parent: this });
            this.binaries = fetch.stdout.apply(() => Object.fromEntries(WORKER_BINARIES.map(b =>
                [b, { path: path.join(dir, relativePath(b)), sha256: source.checksums[b] }])) as BinarySet);
        }
        this.registerOutputs({ binaries: this.binaries });
    }
}
