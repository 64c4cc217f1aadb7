// The version skew policy as the program applies it to a change of kubernetesVersion.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { encryptionProblem, runningEncryption, upgradeProblem } from "../config/upgrade";

test("upgrade path: a new cluster, the same version, a patch and the next minor are supported", () => {
    assert.equal(upgradeProblem(undefined, "v1.37.2"), undefined);
    assert.equal(upgradeProblem("v1.37.2", "v1.37.2"), undefined);
    assert.equal(upgradeProblem("v1.37.2", "v1.37.5"), undefined);
    assert.equal(upgradeProblem("v1.36.3", "v1.37.2"), undefined);
    assert.equal(upgradeProblem("v1.36.3", "v1.37.0"), undefined);
});

test("upgrade path: more than one minor is refused, naming the key and the path", () => {
    const problem = upgradeProblem("v1.35.4", "v1.37.2");
    assert.match(problem ?? "", /^kube-dumb-way:kubernetesVersion v1\.37\.2 would upgrade the cluster from v1\.35\.4 across 2 minor versions/);
    assert.match(problem ?? "", /version skew policy supports one minor at a time: set the latest v1\.36 patch, run pulumi up/);
});

test("upgrade path: a downgrade is refused, of a minor or of a patch", () => {
    assert.match(upgradeProblem("v1.37.2", "v1.36.3") ?? "", /^kube-dumb-way:kubernetesVersion v1\.36\.3 is older than v1\.37\.2, .*does not support downgrades/);
    assert.match(upgradeProblem("v1.37.2", "v1.37.1") ?? "", /does not support downgrades/);
});

test("upgrade path: pre-releases are versions like the others (semver order), never a way around the policy", () => {
    assert.match(upgradeProblem("v1.35.4", "v1.37.0-rc.1") ?? "", /across 2 minor versions/);
    assert.match(upgradeProblem("v1.37.2", "v1.37.0-rc.1") ?? "", /is older than v1\.37\.2, .*does not support downgrades/);
    assert.match(upgradeProblem("v1.38.0", "v1.38.0-rc.1") ?? "", /does not support downgrades/);
    assert.equal(upgradeProblem("v1.37.2", "v1.38.0-rc.1"), undefined);
    assert.equal(upgradeProblem("v1.38.0-rc.1", "v1.38.0"), undefined);
});

test("encryption at rest: a new cluster takes any setting; a running one rotates one generation up at a time, never " +
    "down, and changes provider only with a rotation", () => {
    const running = { provider: "secretbox", generation: 2, recorded: true } as const;
    assert.equal(encryptionProblem(undefined, "aescbc", 7), undefined);
    assert.equal(encryptionProblem(running, undefined, 2), undefined);
    assert.equal(encryptionProblem(running, "secretbox", 3), undefined);
    assert.equal(encryptionProblem(running, "aescbc", 3), undefined);
    assert.match(encryptionProblem(running, undefined, 1) ?? "",
        /^kube-dumb-way:encryptionKeyGeneration 1 is below 2, the generation that encrypts .* Set kube-dumb-way:encryptionKeyGeneration to 2, or 3 to rotate again\.$/);
    assert.match(encryptionProblem(running, undefined, 4) ?? "",
        /^kube-dumb-way:encryptionKeyGeneration 4 would rotate the key 2 generations at once, from 2: .* Set 3, run pulumi up/);
    assert.match(encryptionProblem(running, "aescbc", 2) ?? "",
        /^kube-dumb-way:secretsEncryption aescbc differs from secretbox, .* Raise kube-dumb-way:encryptionKeyGeneration to 3 with it, or leave kube-dumb-way:secretsEncryption unset \(or secretbox\) to keep it\.$/);
    const unrecorded = { provider: "aescbc", generation: 0, recorded: false } as const;
    assert.equal(encryptionProblem(unrecorded, undefined, 0), undefined);
    assert.equal(encryptionProblem(unrecorded, "aescbc", 0), undefined);
    for (const [provider, generation] of [[undefined, 1], ["secretbox", 1], ["secretbox", 0]] as const) {
        assert.match(encryptionProblem(unrecorded, provider, generation) ?? "",
            /cannot be applied yet: the cluster was made before its apiservers read more than one key \(aescbc, key generation 0\)\. Run pulumi up once with kube-dumb-way:secretsEncryption unset and kube-dumb-way:encryptionKeyGeneration 0/);
    }
});

test("encryption of the running cluster: as recorded; aescbc and the first key when a cluster ran before they were " +
    "recorded; none when new; an output changed by hand refused", () => {
    const deployed = { kubernetesVersion: undefined, controllers: undefined, machines: undefined, secretsEncryption: undefined,
        encryptionKeyGeneration: undefined, etcdUndeclaredMembersRemoved: undefined };
    assert.equal(runningEncryption(deployed), undefined);
    assert.deepEqual(runningEncryption({ ...deployed, kubernetesVersion: "v1.37.2" }), { provider: "aescbc", generation: 0, recorded: false });
    assert.deepEqual(runningEncryption({ ...deployed, kubernetesVersion: "v1.37.2", secretsEncryption: "secretbox", encryptionKeyGeneration: 3 }),
        { provider: "secretbox", generation: 3, recorded: true });
    for (const [provider, generation] of [["rot13", 0], ["aescbc", undefined], ["aescbc", -1], ["aescbc", 1.5], [undefined, 0]]) {
        assert.throws(() => runningEncryption({ ...deployed, secretsEncryption: provider, encryptionKeyGeneration: generation }),
            /The stack's outputs secretsEncryption .* are not a provider \(secretbox, aescbc\) and a generation \(0 or more\): the state was changed by hand/);
    }
});
