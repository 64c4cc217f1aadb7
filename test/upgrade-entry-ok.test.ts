// The program's entry lets a supported change through to the whole cluster (node --test runs each file in its own
// process, and a process runs the program once).
import * as assert from "node:assert/strict";
import { test } from "node:test";
import * as yaml from "js-yaml";
import { fakeBinaryFolder, filesOf, named, ofType, promiseOf, runProgram } from "./program";

test("entry: one minor up goes on to the cluster, and the kubernetesVersion output is the new version; a cluster made " +
    "before the provider was recorded keeps encrypting Secrets with aescbc, and now reads secretbox too", async () => {
    const { error, resources, outputs } = await runProgram({ binarySource: fakeBinaryFolder() }, undefined, { kubernetesVersion: "v1.36.3" });
    assert.equal(error, undefined);
    assert.equal(ofType(resources, "pulumi:pulumi:StackReference").length, 1);
    assert.ok(ofType(resources, "dumbway:index:ControlPlane").length === 3);
    assert.match(await promiseOf(outputs.kubernetesVersion), /^v1\.37\.\d+$/);
    for (const i of [0, 1, 2]) {
        const config = yaml.load(filesOf(named(resources, `kdw-controller-${i}-encryption-roll`))
            .get("/etc/kdw/control-plane/encryption-config.yaml") ?? "") as any;
        assert.deepEqual(config?.resources?.[0]?.providers?.map((p: object) => Object.keys(p)[0]), ["aescbc", "secretbox", "identity"]);
    }
    assert.equal(await promiseOf(outputs.secretsEncryption), "aescbc");
    assert.equal(await promiseOf(outputs.encryptionKeyGeneration), 0);
});
