// Cost linear in hosts: the graph of 3 controllers with 3, 4, 6 and 12 workers under mocks, each in a process of its
// own. Each added worker adds the same resources, and adding one changes nothing that exists but one small step per
// host (its route table, updated in place); removing one is the mirror.
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { fakeBinaryFolder } from "./program";
import type { Snapshot } from "./graphSnapshot";

const binarySource = fakeBinaryFolder();
const scratch = mkdtempSync(path.join(os.tmpdir(), "kdw-scaling-"));
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));

function snapshot(workers: number): Promise<Snapshot> {
    const out = path.join(scratch, `3x${workers}.json`);
    const config = JSON.stringify({ controllers: 3, workers, binarySource });
    return new Promise((resolve, reject) => execFile(process.execPath, [path.join(__dirname, "graphSnapshot.js"), config, out],
        (err, _stdout, stderr) => err ? reject(new Error(`3+${workers}: ${stderr}`)) : resolve(JSON.parse(readFileSync(out, "utf8")))));
}

const sizes = [3, 4, 6, 12];
const runs = Promise.all(sizes.map(snapshot)).then(list => new Map(sizes.map((n, i) => [n, list[i]])));
const count = (s: Snapshot) => Object.keys(s.resources).length + s.components.length;

test("resources grow linearly in hosts: the same number per added worker from 3+3 to 3+12, one route step per host", async (t) => {
    const graphs = await runs;
    const total = sizes.map(n => count(graphs.get(n)!));
    const perWorker = (a: number, b: number) => (count(graphs.get(b)!) - count(graphs.get(a)!)) / (b - a);
    assert.equal(perWorker(3, 4), perWorker(3, 6), `totals ${total.join(", ")}`);
    assert.equal(perWorker(3, 6), perWorker(6, 12), `totals ${total.join(", ")}`);
    for (const n of sizes) {
        const routeSteps = Object.keys(graphs.get(n)!.resources).filter(name => name.endsWith("-routes-table"));
        assert.equal(routeSteps.length, 3 + n);
    }
    t.diagnostic(`resources (components included) for 3+${sizes.join(", 3+")}: ${total.join(", ")}; ${perWorker(3, 12)} per added worker`);
});

/** What changes between two graphs, as the engine would see it: created, deleted, and changed with the inputs that differ. */
function changes(from: Snapshot, to: Snapshot) {
    const created = Object.keys(to.resources).filter(n => !from.resources[n]);
    const deleted = Object.keys(from.resources).filter(n => !to.resources[n]);
    const changed: Record<string, string[]> = {};
    for (const [name, r] of Object.entries(to.resources)) {
        const before = from.resources[name];
        if (before) {
            const keys = new Set([...Object.keys(before.inputs), ...Object.keys(r.inputs)]);
            const differ = [...keys].filter(k => before.inputs[k] !== r.inputs[k]);
            if (differ.length > 0) {
                changed[name] = differ;
            }
        }
    }
    return { created, deleted, changed };
}

const existingHosts = [0, 1, 2].map(i => `kdw-controller-${i}`).concat([0, 1, 2].map(i => `kdw-worker-${i}`));
const onlyTableUpdates = Object.fromEntries(existingHosts.map(h => [`${h}-routes-table`, ["stdin"]]));

test("scale 3→4 under mocks: only the new worker's resources are made; each existing host's route table is updated in place", async () => {
    const graphs = await runs;
    const { created, deleted, changed } = changes(graphs.get(3)!, graphs.get(4)!);
    assert.deepEqual(deleted, []);
    assert.deepEqual(created.filter(n => !n.startsWith("kdw-worker-3-")), [], "made beyond worker-3");
    assert.ok(created.includes("kdw-worker-3-routes-table") && created.includes("kdw-worker-3-node-install"));
    // stdin (the table) alone differs: an update that re-applies the table, not a replacement (triggers unchanged).
    assert.deepEqual(changed, onlyTableUpdates);
});

test("scale 4→3 under mocks: only worker-3's resources go; each remaining host's route table is updated in place", async () => {
    const graphs = await runs;
    const { created, deleted, changed } = changes(graphs.get(4)!, graphs.get(3)!);
    assert.deepEqual(created, []);
    assert.deepEqual(deleted.filter(n => !n.startsWith("kdw-worker-3-")), [], "removed beyond worker-3");
    assert.equal(deleted.length, Object.keys(graphs.get(4)!.resources).length - Object.keys(graphs.get(3)!.resources).length);
    assert.deepEqual(changed, onlyTableUpdates);
});
