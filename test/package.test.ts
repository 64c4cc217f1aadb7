// The project as a package others import: `npm pack` makes the tarball a user would install, a program of its own (in
// a folder with nothing of this repository in reach) installs it, type-checks against its declarations through
// package.json `exports`, and builds a cluster graph under Pulumi mocks with the package's own copy of @pulumi/pulumi.
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { fakeBinaryFolder } from "./program";

const ROOT = path.resolve(__dirname, "..", "..");
const npm = (args: string[], cwd: string) => execFileSync("npm", args, {
    cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 300_000,
    // A user's install runs no package scripts either (the project's .npmrc sets ignore-scripts for its own).
    env: { ...process.env, npm_config_ignore_scripts: "true", npm_config_audit: "false", npm_config_fund: "false" },
});

const PROGRAM = `
import { clusterConfig, ConfigError, KubeCluster, RawConfig } from "kube-dumb-way-pulumi";

const settings: RawConfig = { controllers: 1, workers: 2, namePrefix: "lab", binarySource: process.env.KDW_TEST_BINARIES };
const lab = new KubeCluster("lab", { config: clusterConfig(settings) });

export const kubeconfig = lab.kubeconfig;
export const workers = lab.workers;
export const refused = (() => {
    try {
        clusterConfig({ controllers: 2 });
        return "accepted";
    } catch (err) {
        return err instanceof ConfigError ? err.message : \`not a ConfigError: \${err}\`;
    }
})();
`;

// Runs program.js under mocks (this repository's, test/program.ts, given as KDW_MOCKS) on the consumer's own
// @pulumi/pulumi, and prints what it registered and its outputs.
const RUNNER = `
const pulumi = require("@pulumi/pulumi");
const { clusterMocks } = require(process.env.KDW_MOCKS);
const registered = [];
pulumi.runtime.setMocks(clusterMocks("profile=systemd cgroup=v1", undefined, r => registered.push(r.type + " " + r.name)),
    "consumer", "test", false);
(async () => {
    const out = require("./program.js");
    const value = o => new Promise(resolve => pulumi.output(o).apply(v => { resolve(v); return v; }));
    const result = {
        packageAt: require.resolve("kube-dumb-way-pulumi"),
        pulumiAt: require.resolve("@pulumi/pulumi"),
        registered,
        kubeconfigSecret: await out.kubeconfig.isSecret,
        kubeconfig: await value(out.kubeconfig),
        podCidrs: (await value(out.workers)).map(w => w.podCidr),
        refused: out.refused,
    };
    await require("@pulumi/pulumi/runtime/settings").waitForRPCs();
    console.log(JSON.stringify(result));
})().catch(err => { console.error(err); process.exit(1); });
`;

test("npm pack makes a package another program installs, imports by name with its types, and builds a cluster with", (t) => {
    const work = realpathSync(mkdtempSync(path.join(os.tmpdir(), "kdw-package-")));
    t.after(() => rmSync(work, { recursive: true, force: true }));
    const tarball = npm(["pack", "--pack-destination", work, "--silent"], ROOT).trim().split("\n").pop()!;
    const contents = execFileSync("tar", ["-tzf", path.join(work, tarball)], { encoding: "utf8" }).split("\n");
    for (const needed of ["package/bin/api.js", "package/bin/api.d.ts", "package/host/scripts/host.sh", "package/host/local/api-ready.sh", "package/versions.json"]) {
        assert.ok(contents.includes(needed), `the package lacks ${needed}`);
    }
    assert.deepEqual(contents.filter(f => f.startsWith("package/bin/test/")), [], "the package carries the tests");

    const consumer = path.join(work, "consumer");
    mkdirSync(consumer);
    writeFileSync(path.join(consumer, "package.json"), JSON.stringify({ name: "consumer", private: true }));
    npm(["install", "--prefer-offline", "--no-save", path.join(work, tarball)], consumer);
    writeFileSync(path.join(consumer, "program.ts"), PROGRAM);
    writeFileSync(path.join(consumer, "tsconfig.json"), JSON.stringify({
        compilerOptions: { strict: true, module: "node16", moduleResolution: "node16", target: "es2022", skipLibCheck: true },
        files: ["program.ts"],
    }));
    const tsc = spawnSync(path.join(ROOT, "node_modules", ".bin", "tsc"), ["-p", consumer], { encoding: "utf8" });
    assert.equal(tsc.status, 0, `the program does not type-check against the package:\n${tsc.stdout}${tsc.stderr}`);
    writeFileSync(path.join(consumer, "run.js"), RUNNER);

    const run = spawnSync("node", ["run.js"], {
        cwd: consumer, encoding: "utf8", timeout: 120_000,
        env: { ...process.env, KDW_MOCKS: path.join(__dirname, "program.js"), KDW_TEST_BINARIES: fakeBinaryFolder() },
    });
    assert.equal(run.status, 0, run.stderr);
    const result = JSON.parse(run.stdout.trim().split("\n").pop()!);
    assert.equal(result.packageAt, path.join(consumer, "node_modules", "kube-dumb-way-pulumi", "bin", "api.js"));
    assert.equal(result.pulumiAt.startsWith(path.join(consumer, "node_modules", "@pulumi", "pulumi")), true, result.pulumiAt);
    assert.deepEqual(result.registered.filter((r: string) => r.startsWith("dumbway:index:Cluster ")), ["dumbway:index:Cluster lab"]);
    assert.deepEqual(result.registered.filter((r: string) => r.startsWith("dumbway:index:MachineHost ")).sort(),
        ["dumbway:index:MachineHost lab-controller-0", "dumbway:index:MachineHost lab-worker-0", "dumbway:index:MachineHost lab-worker-1"]);
    assert.ok(result.registered.some((r: string) => r.startsWith("command:remote:Command lab-worker-1-")), "no host step");
    assert.equal(result.kubeconfigSecret, true, "the kubeconfig is not a secret");
    assert.match(result.kubeconfig, /server: https:\/\/192\.168\.99\.10:6443/);
    assert.deepEqual(result.podCidrs, ["10.200.0.0/24", "10.200.1.0/24"]);
    assert.match(result.refused, /kube-dumb-way:controllers must be odd/);
    assert.ok(readdirSync(path.join(consumer, "node_modules", "kube-dumb-way-pulumi", "host", "scripts")).includes("worker.sh"));
});

test("Pulumi runs main.ts, not the package's entry: Pulumi.yaml names the program (Pulumi would take package.json's exports)", () => {
    const project = readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8");
    const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));
    assert.equal(/^main:\s*(\S+)\s*$/m.exec(project)?.[1], pkg.main, "Pulumi.yaml's main is not package.json's main");
    assert.equal(pkg.main, "main.ts");
    assert.notEqual(pkg.exports["."].default, pkg.main);
});
