// Binaries from a mirror: fetched once on the machine running Pulumi, each pinned by its sha256, then copied from
// that one download to every worker.
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as path from "node:path";
import { test } from "node:test";
import { WORKER_BINARIES } from "../config";
import { named, ofType, runProgram } from "./program";

const sha256Hex = (text: string) => createHash("sha256").update(text).digest("hex");
const pins = Object.fromEntries(WORKER_BINARIES.map((b, i) => [b, i.toString(16).padStart(64, "a")]));

test("a URL binary source: one verified download, every worker copies from it", async () => {
    const { resources, error } = await runProgram({
        controllers: 1, workers: 2, binarySource: "https://mirror.example/kdw/v1", binaryChecksums: pins,
    });
    assert.equal(error, undefined);
    const fetch = named(resources, "worker-binaries-fetch");
    assert.equal(fetch.inputs.environment.KDW_BASE_URL, "https://mirror.example/kdw/v1");
    assert.match(fetch.inputs.environment.KDW_PINS, new RegExp(`(^| )cni/bridge=${pins.bridge}( |$)`));
    assert.match(fetch.inputs.environment.KDW_PINS, new RegExp(`(^| )kubelet=${pins.kubelet}( |$)`));
    assert.equal(ofType(resources, "command:local:Command").filter(r => r.name.includes("fetch")).length, 1);
    const copies = ofType(resources, "command:local:Command").filter(c => c.name.endsWith("-node-binaries"));
    assert.deepEqual(copies.map(c => c.name), ["kdw-worker-0-node-binaries", "kdw-worker-1-node-binaries"]);
    const download = path.join(process.env.XDG_CACHE_HOME!, "kube-dumb-way", "binaries");
    for (const copy of copies) {
        const folder: string = copy.inputs.environment.KDW_FOLDER;
        assert.equal(path.dirname(folder), download);
        assert.equal(folder, fetch.inputs.environment.KDW_DIR, "the folder the fetch fills");
        assert.equal(copy.inputs.environment.KDW_STAGE, "/opt/kdw/stage");
    }
    // The set's trigger: the digest of the pins, the same for every worker.
    assert.deepEqual(copies.map(c => c.inputs.triggers[0]), [sha256Hex(fetch.inputs.environment.KDW_PINS), sha256Hex(fetch.inputs.environment.KDW_PINS)]);
});
