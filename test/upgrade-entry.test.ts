// The program's entry refuses an unsupported Kubernetes version change before it registers anything but the read of
// the stack's own outputs, and goes on to the cluster otherwise.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { fakeBinaryFolder, runProgram } from "./program";

test("entry: an upgrade across two minors registers nothing but the StackReference, and says why", async () => {
    const { error, resources } = await runProgram({ binarySource: fakeBinaryFolder() }, undefined, { kubernetesVersion: "v1.35.4" });
    assert.match(error?.message ?? "", /Refused \(nothing was changed\): kube-dumb-way:kubernetesVersion v1\.\d+\.\d+ would upgrade the cluster from v1\.35\.4 across 2 minor versions/);
    assert.deepEqual(resources.map(r => r.type), ["pulumi:pulumi:StackReference"]);
    assert.equal(error?.constructor.name, "RunError");
    assert.doesNotMatch(error?.stack ?? "", /\n\s+at /, "the refusal carries stack frames (refusal(), config/refusal.ts)");
});
