import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { existsSync, readFileSync, statSync } from "fs";
import * as os from "os";
import * as path from "path";
import { BinarySource, ConfigError, Versions, WORKER_BINARIES } from "./config";
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

const KEY = "kube-dumb-way:binarySource";

/** The folder's manifest.json entries by file name; none without a manifest; a sentence when it cannot be read. */
function readManifest(folder: string): Map<string, ManifestEntry> | string {
    const file = path.join(folder, "manifest.json");
    if (!existsSync(file)) {
        return new Map();
    }
    try {
        const parsed = JSON.parse(readFileSync(file, "utf8"));
        const entries: unknown = Array.isArray(parsed) ? parsed : parsed?.artifacts;
        if (!Array.isArray(entries) || entries.some(e => typeof e?.name !== "string")) {
            return `${KEY} has ${file}, which is not a list of {name, version, sha256} entries (nor {"artifacts": [...]}).`;
        }
        return new Map((entries as ManifestEntry[]).map(e => [e.name, e]));
    } catch (err) {
        return `${KEY} has ${file}, which is not valid JSON: ${(err as Error).message}.`;
    }
}

/** Digests by path, size and modification time: validation and WorkerBinaries read each binary once per run. */
const digests = new Map<string, string>();

function fileSha256(file: string): string {
    const { size, mtimeMs } = statSync(file);
    const key = `${file}\0${size}\0${mtimeMs}`;
    let digest = digests.get(key);
    if (digest === undefined) {
        digest = createHash("sha256").update(readFileSync(file)).digest("hex");
        digests.set(key, digest);
    }
    return digest;
}

/**
 * Checks a local folder of binaries (as `npm run toolchain` makes: CNI plugins in cni/, a manifest.json naming each
 * file by its relative path): each one present, its digest matching any pin (binaryChecksums, then the folder's
 * manifest.json), and its manifest version matching the configured version. Every problem is one sentence naming
 * kube-dumb-way:binarySource and the file.
 */
export function inspectFolder(folder: string, pins: Record<string, string>, versions: Versions): { binaries: BinarySet; problems: string[] } {
    const binaries = {} as BinarySet;
    if (!existsSync(folder) || !statSync(folder).isDirectory()) {
        return { binaries, problems: [`${KEY} is the folder ${folder}, which does not exist.`] };
    }
    const manifest = readManifest(folder);
    const problems = typeof manifest === "string" ? [manifest] : [];
    for (const name of WORKER_BINARIES) {
        const file = path.join(folder, relativePath(name));
        if (!existsSync(file) || !statSync(file).isFile()) {
            problems.push(`${KEY} lacks ${name}: there is no file ${file}.`);
            continue;
        }
        const digest = fileSha256(file);
        const entry = typeof manifest === "string" ? undefined : manifest.get(relativePath(name));
        if (pins[name] && pins[name] !== digest) {
            problems.push(`${KEY} has ${file} with sha256 ${digest}, but kube-dumb-way:binaryChecksums pins ${pins[name]}.`);
        } else if (!pins[name] && entry?.sha256 && entry.sha256 !== digest) {
            problems.push(`${KEY} has ${file} with sha256 ${digest}, but ${path.join(folder, "manifest.json")} says ${entry.sha256}.`);
        }
        const versionKey = VERSION_OF[name];
        if (versionKey && entry?.version && entry.version !== versions[versionKey]) {
            problems.push(`${KEY} has ${file} at ${entry.version} according to manifest.json, but the configured ` +
                `${versionKey} version is ${versions[versionKey]}.`);
        }
        binaries[name] = { path: file, sha256: digest };
    }
    return { binaries, problems };
}

/** The folder's binaries; throws with every problem (validation has normally reported them before). */
export function verifyFolder(folder: string, pins: Record<string, string>, versions: Versions): BinarySet {
    const { binaries, problems } = inspectFolder(folder, pins, versions);
    if (problems.length > 0) {
        throw new ConfigError(problems);
    }
    return binaries;
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
