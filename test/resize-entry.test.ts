// The program's entry refuses a new controller count on a running cluster, with a version change and a provider of
// Secrets' encryption it cannot take in the same run, before it registers anything but the read of the stack's own
// outputs: every problem named at once.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { fakeBinaryFolder, runProgram } from "./program";

test("entry: 3 controllers running, 5 asked for, a version two minors on and secretbox for a cluster made with aescbc: " +
    "nothing registered but the StackReference, every refusal said", async () => {
    const running = [0, 1, 2].map(i => ({ name: `kdw-controller-${i}`, ip: `192.168.99.${10 + i}` }));
    const { error, resources } = await runProgram({ binarySource: fakeBinaryFolder(), controllers: 5, secretsEncryption: "secretbox" }, undefined,
        { kubernetesVersion: "v1.35.4", controllers: running });
    const message = error?.message ?? "";
    assert.match(message, /Refused \(nothing was changed\): kube-dumb-way:kubernetesVersion v1\.\d+\.\d+ would upgrade the cluster from v1\.35\.4 across 2 minor versions/);
    assert.match(message, /kube-dumb-way:controllers 5 differs from the 3 controllers the cluster runs: the control plane cannot be resized in place yet .* Set kube-dumb-way:controllers back to 3, or build a new cluster with 5 \(pulumi destroy, then pulumi up\)\./);
    assert.match(message, /kube-dumb-way:secretsEncryption secretbox cannot be applied yet: the cluster was made before its apiservers read more than one key \(aescbc, key generation 0\)\. Run pulumi up once with kube-dumb-way:secretsEncryption unset and kube-dumb-way:encryptionKeyGeneration 0/);
    assert.deepEqual(resources.map(r => r.type), ["pulumi:pulumi:StackReference"]);
});
