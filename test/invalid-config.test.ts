// A bad config stops the real program before it registers anything, with a message naming the keys.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { fakeBinaryFolder, runProgram } from "./program";

test("index.ts with a bad config registers no resource and names every bad key", async () => {
    const { resources, error } = await runProgram({
        controllers: 2, workers: 3, serviceCidr: "10.200.0.0/24", binarySource: fakeBinaryFolder(),
    });
    assert.ok(error, "the program accepted the config");
    assert.equal(error.constructor.name, "RunError", "expected a clean RunError without a stack trace");
    // Pulumi's run-time formats the whole error (util.inspect) before it prints the message: frames took it 24 s of CPU.
    assert.doesNotMatch(error.stack ?? "", /\n\s+at /, "the error carries stack frames");
    assert.match(error.message, /kube-dumb-way:controllers must be odd/);
    assert.match(error.message, /kube-dumb-way:serviceCidr 10\.200\.0\.0\/24 overlaps clusterCidr/);
    assert.deepEqual(resources.map(r => `${r.type} ${r.name}`), []);
});

test("index.ts with a setting misspelt in the stack's config registers nothing and names the setting it meant", async () => {
    // Pulumi itself accepts keys the project does not declare: kube-dumb-way:worker would be ignored, and 3 workers built.
    const { resources, error } = await runProgram({ worker: 5, controllers: 2, binarySource: fakeBinaryFolder() });
    assert.ok(error, "the program accepted an unknown setting");
    assert.equal(error.constructor.name, "RunError");
    assert.match(error.message, /kube-dumb-way:worker is not a setting of this program; did you mean kube-dumb-way:workers\? \(`pulumi config rm kube-dumb-way:worker` removes it\.\)/);
    assert.match(error.message, /kube-dumb-way:controllers must be odd/, "the other problems are reported with it");
    assert.deepEqual(resources.map(r => `${r.type} ${r.name}`), []);
});

test("index.ts with an auditPolicyFile that does not exist registers nothing and names the key and the way out", async () => {
    const { resources, error } = await runProgram({ auditPolicyFile: "/nonexistent/audit.yaml", binarySource: fakeBinaryFolder() });
    assert.ok(error, "the program accepted a policy file that does not exist");
    assert.match(error.message, /kube-dumb-way:auditPolicyFile is \/nonexistent\/audit\.yaml, which does not exist on this machine; give an audit Policy .* or leave the key empty for the program's own\./);
    assert.deepEqual(resources.map(r => `${r.type} ${r.name}`), []);
});
