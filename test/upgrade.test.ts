// The version skew policy as the program applies it to a change of kubernetesVersion.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { resizeProblem, runningSecretsEncryption, secretsEncryptionProblem, upgradeProblem } from "../config/upgrade";

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

test("resize: the same count, a new cluster or an invalid count pass; any other count is refused with the way out", () => {
    const three = [{ name: "kdw-controller-0" }, { name: "kdw-controller-1" }, { name: "kdw-controller-2" }];
    assert.equal(resizeProblem(three, 3), undefined);
    assert.equal(resizeProblem(undefined, 5), undefined);
    assert.equal(resizeProblem(three, Number("abc")), undefined);
    assert.match(resizeProblem(three, 5) ?? "", /^kube-dumb-way:controllers 5 differs from the 3 controllers the cluster runs: .*Set kube-dumb-way:controllers back to 3/);
    assert.match(resizeProblem(three, 1) ?? "", /^kube-dumb-way:controllers 1 differs from the 3 /);
});

test("secrets' encryption: a new cluster takes the setting; a running one keeps its provider, another is refused naming both", () => {
    assert.equal(secretsEncryptionProblem(undefined, "aescbc"), undefined);
    assert.equal(secretsEncryptionProblem("aescbc", undefined), undefined);
    assert.equal(secretsEncryptionProblem("secretbox", "secretbox"), undefined);
    assert.match(secretsEncryptionProblem("secretbox", "aescbc") ?? "",
        /^kube-dumb-way:secretsEncryption aescbc differs from secretbox, which encrypts .* unset \(or secretbox\) to keep it/);
});

test("secrets' encryption of the running cluster: as recorded; aescbc when a cluster ran before it was recorded; none when new", () => {
    const deployed = { kubernetesVersion: undefined, controllers: undefined, machines: undefined, secretsEncryption: undefined };
    assert.equal(runningSecretsEncryption(deployed), undefined);
    assert.equal(runningSecretsEncryption({ ...deployed, kubernetesVersion: "v1.37.2" }), "aescbc");
    assert.equal(runningSecretsEncryption({ ...deployed, kubernetesVersion: "v1.37.2", secretsEncryption: "secretbox" }), "secretbox");
    assert.equal(runningSecretsEncryption({ ...deployed, secretsEncryption: "aescbc" }), "aescbc");
    assert.throws(() => runningSecretsEncryption({ ...deployed, secretsEncryption: "rot13" }),
        /The stack's output secretsEncryption is "rot13", not one of secretbox, aescbc: its state was changed by hand/);
});
