// The program's entry on a running cluster asked for the next key generation and another provider: the rotation's
// phases, in Kubernetes' documented order (node --test runs each file in its own process; a process runs the program
// once).
import * as assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { test } from "node:test";
import * as yaml from "js-yaml";
import { fakeBinaryFolder, filesOf, named, promiseOf, runProgram } from "./program";

/** RFC 5869's HKDF-SHA256 with an empty salt, written out: an independent check of the derived key. */
function hkdf(seed: Buffer, info: string): string {
    const prk = createHmac("sha256", Buffer.alloc(32)).update(seed).digest();
    return createHmac("sha256", prk).update(Buffer.concat([Buffer.from(info), Buffer.from([1])])).digest().toString("base64");
}

test("entry: secretbox at generation 0 running, aescbc at generation 1 asked for: read, write, rewrite, final, each " +
    "phase's keys in order; generation 1 derived from the seed; the outputs say aescbc and 1", async () => {
    const running = [0, 1, 2].map(i => ({ name: `kdw-controller-${i}`, ip: `192.168.99.${10 + i}` }));
    const { error, resources, outputs } = await runProgram(
        { binarySource: fakeBinaryFolder(), encryptionKeyGeneration: 1, secretsEncryption: "aescbc" }, undefined,
        { kubernetesVersion: "v1.37.2", controllers: running, secretsEncryption: "secretbox", encryptionKeyGeneration: 0 });
    assert.equal(error, undefined);
    // The mocks' first key is 32 bytes of 7, the seed 32 bytes of 9.
    const key1 = Buffer.alloc(32, 7).toString("base64");
    const key2 = hkdf(Buffer.alloc(32, 9), "kube-dumb-way secrets encryption key 1");
    assert.notEqual(key2, key1);
    const both = (name: string, secret: string) => [{ aescbc: { keys: [{ name, secret }] } }, { secretbox: { keys: [{ name, secret }] } }];
    const expected = {
        read: [...both("key1", key1), ...both("key2", key2), { identity: {} }],
        write: [...both("key2", key2), ...both("key1", key1), { identity: {} }],
        roll: [...both("key2", key2), { identity: {} }],
        install: [...both("key2", key2), { identity: {} }],
    };
    for (const i of [0, 1, 2]) {
        for (const [phase, providers] of Object.entries(expected)) {
            const step = `kdw-controller-${i}-encryption-${phase}`;
            const config = yaml.load(filesOf(named(resources, step)).get("/etc/kdw/control-plane/encryption-config.yaml") ?? "") as any;
            assert.deepEqual(config?.resources?.[0]?.providers, providers, step);
        }
    }
    assert.match(named(resources, "encryption-rewrite-secrets").inputs.update, /^KDW_ENCRYPTION='aescbc key generation 1' /);
    assert.equal(await promiseOf(outputs.secretsEncryption), "aescbc");
    assert.equal(await promiseOf(outputs.encryptionKeyGeneration), 1);
});
