// Binaries from a mirror: fetched once on the machine running Pulumi, each pinned by its sha256, then copied from
// that one download to every worker.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { WORKER_BINARIES } from "../components/config";
import { named, ofType, runProgram } from "./program";

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
    const copies = ofType(resources, "command:remote:CopyToRemote");
    assert.equal(copies.length, 2 * WORKER_BINARIES.length);
    const kubelet = copies.filter(c => c.name.endsWith("-copy-kubelet"));
    assert.deepEqual(kubelet.map(c => c.inputs.triggers), [[pins.kubelet], [pins.kubelet]]);
});
