// One place pins every version: the npm packages must be the plugin versions the toolchain builds.
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { test } from "node:test";

const root = path.join(__dirname, "..", "..");
const versions = JSON.parse(readFileSync(path.join(root, "versions.json"), "utf8"));
const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"));

test("package.json pins each provider package at the plugin version in versions.json", () => {
    for (const [plugin, version] of Object.entries(versions.plugins as Record<string, string>)) {
        assert.equal(`v${pkg.dependencies[`@pulumi/${plugin}`]}`, version, `@pulumi/${plugin}`);
    }
});

test("installed provider packages declare the same plugin versions", () => {
    for (const plugin of ["tls", "kubernetes", "command"]) {
        const installed = JSON.parse(readFileSync(path.join(root, "node_modules", "@pulumi", plugin, "package.json"), "utf8"));
        const declared = installed.pulumi?.version ?? installed.version;
        assert.equal(`v${declared}`, versions.plugins[plugin], `@pulumi/${plugin} declares ${declared}`);
    }
});

test("every dependency is pinned exactly", () => {
    for (const [name, spec] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies } as Record<string, string>)) {
        assert.match(spec, /^\d+\.\d+\.\d+$/, `${name} is pinned as ${spec}`);
    }
});

test("the qemu machine driver builds against the docker-machine module and version that versions.json pins", () => {
    const [module, version] = (versions.dockerMachine as string).split("@");
    const goMod = readFileSync(path.join(root, "tools", "docker-machine-driver-qemu", "go.mod"), "utf8");
    const required = [...goMod.matchAll(/^\s*(?:require\s+)?(\S+)\s+(v\S+)/gm)].filter(m => m[1] === module).map(m => m[2]);
    assert.deepEqual(required, [version], `tools/docker-machine-driver-qemu/go.mod requires ${module} ${required.join(", ") || "not at all"}`);
});
