// The cluster as a component of another program (test/fixtures/reuse.ts): its settings given in code, not in a stack's
// config, and the same cluster as index.ts makes from the same settings.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { fakeBinaryFolder, isSecretOutput, promiseOf, runProgram } from "./program";

test("another program makes a cluster in a few lines: one Cluster component, its parts inside, the kubeconfig a secret", async () => {
    process.env.KDW_TEST_BINARIES = fakeBinaryFolder();
    // No stack config at all: every setting comes from the program.
    const { resources, outputs, error } = await runProgram({}, undefined, undefined, "./fixtures/reuse");
    assert.equal(error, undefined, error?.stack);
    const clusters = resources.filter(r => r.type === "dumbway:index:Cluster");
    assert.deepEqual(clusters.map(c => c.name), ["lab"]);
    assert.deepEqual(resources.filter(r => r.type === "dumbway:index:MachineHost").map(r => r.name).sort(),
        ["lab-controller-0", "lab-worker-0", "lab-worker-1"]);
    assert.ok(resources.filter(r => r.type !== "dumbway:index:Cluster").every(r => r.urn.split("::")[2].includes("$")),
        "a resource outside the cluster");
    assert.equal(await isSecretOutput(outputs.kubeconfig), true);
    assert.match(await promiseOf(outputs.kubeconfig), /server: https:\/\/192\.168\.99\.10:6443/);
    assert.deepEqual((outputs.workers as unknown as { podCidr: string }[]).map(w => w.podCidr), ["10.200.0.0/24", "10.200.1.0/24"]);
});
