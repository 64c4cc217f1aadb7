// The binary source is checked before anything is created: every problem is one sentence naming
// kube-dumb-way:binarySource (or binaryChecksums) and the file.
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
    existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync,
} from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { cacheHome, inspectFolder, relativePath, stageFolder } from "../host/binaries";
import { ConfigError, PINNED_VERSIONS, validateConfig, WORKER_BINARIES } from "../config";
import { fakeBinaryFolder } from "./program";

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
const inspect = (folder: string, pins: Record<string, string> = {}) => inspectFolder(folder, pins, PINNED_VERSIONS).problems;

/** validateConfig as loadConfig calls it: with the real folder check. */
function configProblems(raw: Record<string, unknown>): string[] {
    try {
        validateConfig(raw, {
            fileExists: existsSync,
            binaryFolderProblems: (folder, checksums, versions) => inspectFolder(folder, checksums, versions).problems,
        });
    } catch (err) {
        assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
        return err.problems;
    }
    return [];
}

const manifest = (folder: string) => path.join(folder, "manifest.json");
const editManifest = (folder: string, edit: (entries: { name: string; version?: string; sha256?: string }[]) => void) => {
    const parsed = JSON.parse(readFileSync(manifest(folder), "utf8"));
    edit(parsed.artifacts);
    writeFileSync(manifest(folder), JSON.stringify(parsed));
};

test("a complete folder passes, and gives every binary with its digest", () => {
    const folder = fakeBinaryFolder();
    const { binaries, problems } = inspectFolder(folder, {}, PINNED_VERSIONS);
    assert.deepEqual(problems, []);
    assert.deepEqual(Object.keys(binaries).sort(), [...WORKER_BINARIES].sort());
    assert.equal(binaries.bridge.path, path.join(folder, "cni", "bridge"));
    assert.equal(binaries.kubelet.sha256, sha256(path.join(folder, "kubelet")));
    assert.deepEqual(configProblems({ binarySource: folder }), []);
});

test("a folder that does not exist", () => {
    assert.deepEqual(configProblems({ binarySource: "/nowhere/bin" }), ["kube-dumb-way:binarySource is the folder /nowhere/bin, which does not exist."]);
    assert.deepEqual(inspect("/nowhere/bin"), ["kube-dumb-way:binarySource is the folder /nowhere/bin, which does not exist."]);
});

test("missing binaries, one sentence each with the file (a folder with only some of them, as the issue found)", () => {
    const folder = fakeBinaryFolder();
    rmSync(path.join(folder, "kubelet"));
    rmSync(path.join(folder, "cni", "portmap"));
    rmSync(path.join(folder, "crictl"));
    mkdirSync(path.join(folder, "crictl")); // a folder where a file should be
    assert.deepEqual(configProblems({ binarySource: folder }), [
        `kube-dumb-way:binarySource lacks kubelet: there is no file ${folder}/kubelet.`,
        `kube-dumb-way:binarySource lacks crictl: there is no file ${folder}/crictl.`,
        `kube-dumb-way:binarySource lacks portmap: there is no file ${folder}/cni/portmap.`,
    ]);
});

test("a version that differs from the configured one, according to manifest.json", () => {
    const folder = fakeBinaryFolder();
    editManifest(folder, entries => { entries.find(e => e.name === "kube-proxy")!.version = "v1.30.0"; });
    assert.deepEqual(configProblems({ binarySource: folder }), [`kube-dumb-way:binarySource has ${folder}/kube-proxy at v1.30.0 ` +
        `according to manifest.json, but the configured kubernetes version is ${PINNED_VERSIONS.kubernetes}.`]);
    // Configuring that version instead is the way out (it is then the kubelet that differs).
    assert.ok(configProblems({ binarySource: folder, kubernetesVersion: "v1.30.0" }).every(p => !p.includes("kube-proxy at")));
});

test("a digest that differs from manifest.json, or from a binaryChecksums pin (which wins)", () => {
    const folder = fakeBinaryFolder();
    const runc = path.join(folder, "runc");
    const real = sha256(runc);
    editManifest(folder, entries => { entries.find(e => e.name === "runc")!.sha256 = "b".repeat(64); });
    assert.deepEqual(configProblems({ binarySource: folder }),
        [`kube-dumb-way:binarySource has ${runc} with sha256 ${real}, but ${folder}/manifest.json says ${"b".repeat(64)}.`]);
    assert.deepEqual(configProblems({ binarySource: folder, binaryChecksums: { runc: real } }), [], "a correct pin overrides the manifest");
    assert.deepEqual(configProblems({ binarySource: folder, binaryChecksums: { runc: "c".repeat(64) } }),
        [`kube-dumb-way:binarySource has ${runc} with sha256 ${real}, but kube-dumb-way:binaryChecksums pins ${"c".repeat(64)}.`]);
    writeFileSync(runc, "changed after the pin\n");
    assert.match(inspect(folder, { runc: real }).join("\n"), /runc with sha256 [0-9a-f]{64}, but kube-dumb-way:binaryChecksums pins/,
        "a file changed since its digest was read is read again");
});

test("a manifest.json that cannot be read is named, not thrown", () => {
    const folder = fakeBinaryFolder();
    writeFileSync(manifest(folder), "{ not json");
    const [problem, ...rest] = configProblems({ binarySource: folder });
    assert.match(problem, new RegExp(`^kube-dumb-way:binarySource has ${folder}/manifest.json, which is not valid JSON: `));
    assert.deepEqual(rest, []);
    writeFileSync(manifest(folder), JSON.stringify({ artifacts: [{ version: "v1" }] }));
    assert.deepEqual(configProblems({ binarySource: folder }), [`kube-dumb-way:binarySource has ${folder}/manifest.json, ` +
        "which is not a list of {name, version, sha256} entries (nor {\"artifacts\": [...]})."]);
});

test("a folder without manifest.json is checked for presence and pins only", () => {
    const folder = fakeBinaryFolder();
    rmSync(manifest(folder));
    assert.deepEqual(configProblems({ binarySource: folder }), []);
    assert.equal(relativePath("loopback"), "cni/loopback");
});

test("URL sources: a malformed or missing checksum is a config problem, before any download", () => {
    const pins = Object.fromEntries(WORKER_BINARIES.map(b => [b, "a".repeat(64)]));
    assert.deepEqual(configProblems({ binarySource: "https://mirror.example/kdw", binaryChecksums: pins }), []);
    assert.deepEqual(configProblems({ binarySource: "https://mirror.example/kdw", binaryChecksums: { ...pins, runc: "A".repeat(64) } }),
        [`kube-dumb-way:binaryChecksums has "${"A".repeat(64)}" for runc, which is not a lowercase hex sha256 digest.`,
            "kube-dumb-way:binaryChecksums must pin a sha256 for every binary downloaded from https://mirror.example/kdw; missing: runc."]);
});

test("a file rewritten in place is read again: its remembered digest is not reused", () => {
    const folder = fakeBinaryFolder();
    const kubelet = path.join(folder, "kubelet");
    const before = inspectFolder(folder, {}, PINNED_VERSIONS).binaries.kubelet.sha256;
    assert.equal(before, sha256(kubelet));
    // Same size, same modification time: only the change time (and the content) tell.
    const { mtime } = statSync(kubelet);
    writeFileSync(kubelet, readFileSync(kubelet, "utf8").replace("kubelet", "kubeleT"));
    utimesSync(kubelet, mtime, mtime);
    const after = inspectFolder(folder, {}, PINNED_VERSIONS).binaries.kubelet.sha256;
    assert.notEqual(after, before);
    assert.equal(after, sha256(kubelet));
    const remembered = JSON.parse(readFileSync(path.join(cacheHome(), "digests.json"), "utf8"));
    assert.equal(Object.keys(remembered).filter(k => k.startsWith(`${kubelet}\0`)).length, 1, "one entry per file");
});

test("the staged folder holds exactly the checked binaries, and is put right from any leftover", async () => {
    const folder = fakeBinaryFolder();
    const root = path.join(cacheHome(), "staged-test");
    const { binaries } = inspectFolder(folder, {}, PINNED_VERSIONS);
    const staged = stageFolder(binaries, root);
    const listing = (dir: string): string[] => readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter(e => e.isFile()).map(e => path.relative(dir, path.join(e.parentPath, e.name))).sort();
    assert.deepEqual(listing(staged.folder), WORKER_BINARIES.map(relativePath).sort());
    for (const name of WORKER_BINARIES) {
        const file = path.join(staged.folder, relativePath(name));
        assert.equal(statSync(file).ino, statSync(binaries[name].path).ino, `${name} is a hard link to the checked file`);
    }
    // What an interrupted run or a hand can leave: a stray file, a staged file with other content.
    writeFileSync(path.join(staged.folder, "kubelet.123.new"), "half");
    writeFileSync(path.join(staged.folder, "cni", "stray"), "x");
    rmSync(path.join(staged.folder, "runc"));
    writeFileSync(path.join(staged.folder, "runc"), "not runc");
    const again = stageFolder(binaries, root);
    assert.equal(again.folder, staged.folder);
    assert.equal(again.digest, staged.digest);
    assert.deepEqual(listing(again.folder), WORKER_BINARIES.map(relativePath).sort());
    assert.equal(sha256(path.join(again.folder, "runc")), binaries.runc.sha256);
    // A folder of relative symbolic links (as one might make for a second version) stages the files themselves.
    const linked = path.join(cacheHome(), "linked");
    mkdirSync(path.join(linked, "cni"), { recursive: true });
    for (const name of WORKER_BINARIES) {
        symlinkSync(path.relative(path.dirname(path.join(linked, relativePath(name))), binaries[name].path), path.join(linked, relativePath(name)));
    }
    const fromLinks = stageFolder(inspectFolder(linked, {}, PINNED_VERSIONS).binaries, path.join(cacheHome(), "staged-links"));
    for (const name of WORKER_BINARIES) {
        const file = path.join(fromLinks.folder, relativePath(name));
        assert.ok(lstatSync(file).isFile(), `${name} is staged as a file, not a link`);
        assert.equal(sha256(file), binaries[name].sha256);
    }
    // Programs staging the same set at once (CI's suites side by side) each end with the whole set, none failing. (This
    // does not force the moment two of them interleave; that their half-made links never sit in the folder, where the
    // others' clean-up would take them for strays, holds by construction: they are made in root/.partial.)
    rmSync(staged.folder, { recursive: true, force: true });
    const script = `require(${JSON.stringify(path.join(__dirname, "..", "host", "binaries.js"))}).stageFolder(` +
        `${JSON.stringify(binaries)}, ${JSON.stringify(root)})`;
    const runs = await Promise.all(Array.from({ length: 4 }, () => new Promise<number | null>(resolve =>
        spawn(process.execPath, ["-e", script], { stdio: "inherit" }).on("exit", resolve))));
    assert.deepEqual(runs, [0, 0, 0, 0]);
    assert.deepEqual(listing(staged.folder), WORKER_BINARIES.map(relativePath).sort());
    // Another set of binaries is another folder.
    writeFileSync(path.join(folder, "crictl"), "#!/bin/sh\necho crictl 2\n");
    const other = stageFolder(inspectFolder(folder, {}, PINNED_VERSIONS).binaries, root);
    assert.notEqual(other.folder, staged.folder);
    assert.notEqual(other.digest, staged.digest);
});
