// The worker binaries on the machine running Pulumi: read from a checked folder (its manifest and pinned digests) and
// staged as one folder per set of digests, which WorkerNode copies to each worker.
import { createHash } from "crypto";
import {
    copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync,
} from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigError, Versions, WORKER_BINARIES } from "../config/types";

export type BinaryName = typeof WORKER_BINARIES[number];

export interface LocalBinary {
    path: string;
    sha256: string;
}

export type BinarySet = Record<BinaryName, LocalBinary>;

/** The worker binaries on the machine running Pulumi: each file, and one folder holding exactly them, as copied. */
export interface WorkerBinarySet {
    binaries: BinarySet;
    /** A folder with exactly the worker binaries under their relativePath (CNI plugins in cni/): one copy per worker. */
    folder: string;
    /** A digest of every binary's digest: the copy's trigger. */
    digest: string;
}

/** Where the program keeps what it can make again: downloads, staged folders, digests. */
export const cacheHome = (): string =>
    path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "kube-dumb-way");

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

/**
 * sha256 of files, remembered across runs by what identifies a file's content without reading it (device, inode, size,
 * modification and change times: a write changes the change time, which no user call can set back), as git's index
 * does; every run would otherwise read each binary (270 MB for a worker set) to check it.
 */
const DIGEST_CACHE = "digests.json";
let digests: Map<string, string> | undefined;

function digestCache(): Map<string, string> {
    if (digests === undefined) {
        try {
            digests = new Map(Object.entries(JSON.parse(readFileSync(path.join(cacheHome(), DIGEST_CACHE), "utf8"))));
        } catch {
            // None yet, or unreadable: it is a cache, made again.
            digests = new Map();
        }
    }
    return digests;
}

function saveDigestCache(cache: Map<string, string>): void {
    try {
        mkdirSync(cacheHome(), { recursive: true });
        const file = path.join(cacheHome(), DIGEST_CACHE);
        const temporary = `${file}.${process.pid}`;
        writeFileSync(temporary, JSON.stringify(Object.fromEntries(cache)));
        renameSync(temporary, file);
    } catch {
        // A read-only home only costs the next run the reads.
    }
}

export function fileSha256(file: string): string {
    const { dev, ino, size, mtimeMs, ctimeMs } = statSync(file);
    const key = `${path.resolve(file)}\0${dev}\0${ino}\0${size}\0${mtimeMs}\0${ctimeMs}`;
    const cache = digestCache();
    let digest = cache.get(key);
    if (digest === undefined) {
        digest = createHash("sha256").update(readFileSync(file)).digest("hex");
        for (const old of cache.keys()) {
            if (old.startsWith(`${path.resolve(file)}\0`)) {
                cache.delete(old);
            }
        }
        cache.set(key, digest);
        saveDigestCache(cache);
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

/** One digest for a set of binaries: each relative path with its sha256 (the names of a URL source's pins). */
export const setPins = (digestOf: (name: BinaryName) => string): string =>
    WORKER_BINARIES.map(b => `${relativePath(b)}=${digestOf(b)}`).join(" ");

export const setDigest = (pins: string): string => createHash("sha256").update(pins).digest("hex");

/**
 * The set's folder under `root`: a hard link to each checked file (a copy when the folder is on another file system),
 * checked again on every run (the same file, or a copy with the right digest) and nothing else in it, so that what is
 * copied to a worker is exactly the checked set.
 */
export function stageFolder(binaries: BinarySet, root: string): WorkerBinarySet {
    const digest = setDigest(setPins(name => binaries[name].sha256));
    const folder = path.join(root, digest.slice(0, 16));
    const wanted = new Set(WORKER_BINARIES.map(relativePath));
    for (const sub of [".", "cni"]) {
        const dir = path.join(folder, sub);
        for (const entry of existsSync(dir) ? readdirSync(dir, { withFileTypes: true }) : []) {
            const relative = path.join(sub, entry.name);
            if (!(entry.isDirectory() && relative === "cni") && !wanted.has(relative)) {
                rmSync(path.join(dir, entry.name), { recursive: true, force: true });
            }
        }
    }
    for (const name of WORKER_BINARIES) {
        const source = binaries[name];
        const staged = path.join(folder, relativePath(name));
        if (existsSync(staged)) {
            const [a, b] = [statSync(staged), statSync(source.path)];
            if ((a.dev === b.dev && a.ino === b.ino) || fileSha256(staged) === source.sha256) {
                continue;
            }
        }
        mkdirSync(path.dirname(staged), { recursive: true });
        // Made beside the folder, not in it: programs running at once (CI's suites) clean the folder of what does not
        // belong there, and must not take each other's half-made links for strays.
        const partial = path.join(root, ".partial");
        mkdirSync(partial, { recursive: true });
        const temporary = path.join(partial, `${path.basename(folder)}-${relativePath(name).replace("/", "-")}.${process.pid}`);
        rmSync(temporary, { force: true });
        try {
            // To the file itself: a link to a symbolic link would break when the link is relative.
            linkSync(realpathSync(source.path), temporary);
        } catch {
            copyFileSync(source.path, temporary);
        }
        renameSync(temporary, staged);
    }
    return { binaries, folder, digest };
}
