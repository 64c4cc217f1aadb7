// The program's entry lets a supported change through to the whole cluster (node --test runs each file in its own process).
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { fakeBinaryFolder, ofType, runProgram } from "./program";

test("entry: one minor up goes on to the cluster, and the kubernetesVersion output is the new version", async () => {
    const { error, resources, outputs } = await runProgram({ binarySource: fakeBinaryFolder() }, undefined, { kubernetesVersion: "v1.36.3" });
    assert.equal(error, undefined);
    assert.equal(ofType(resources, "pulumi:pulumi:StackReference").length, 1);
    assert.ok(ofType(resources, "dumbway:index:ControlPlane").length === 3);
    assert.match(await new Promise<string>(r => outputs.kubernetesVersion.apply(v => { r(v); return v; })), /^v1\.37\.\d+$/);
});
