// A binary folder that lacks binaries stops the real program before it registers anything (it used to create the
// machines and then die with an unhandled exception).
import * as assert from "node:assert/strict";
import { rmSync } from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { fakeBinaryFolder, runProgram } from "./program";

test("index.ts with a binary folder lacking the kubelet registers no resource and names the key and the file", async () => {
    const folder = fakeBinaryFolder();
    rmSync(path.join(folder, "kubelet"));
    const { resources, error } = await runProgram({ controllers: 1, workers: 1, binarySource: folder });
    assert.ok(error, "the program accepted the folder");
    assert.equal(error.constructor.name, "RunError", "expected a clean RunError without a stack trace");
    assert.match(error.message, new RegExp(`kube-dumb-way:binarySource lacks kubelet: there is no file ${folder}/kubelet\\.`));
    assert.deepEqual(resources.map(r => `${r.type} ${r.name}`), []);
});
