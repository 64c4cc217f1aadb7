// etcd snapshots off the hosts: the e2e stack copies every controller's snapshots to the test set's object store
// (versitygw, `scripts/hosts.sh object-store`). With the schedule shortened to a minute and 2 kept, the store and each
// controller's disk must hold exactly the 2 newest scheduled snapshots, one schedule apart, each with a sha256 that its
// content matches and readable by etcdutl; then the defaults come back.
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as auto from "@pulumi/pulumi/automation";
import { hostLayout } from "../../../render/layout";
import { clusterStack, controllers, writeConfig } from "../e2eCluster";
import { asRoot, run, sleep, ssh } from "../harness";
import { upChanges } from "../engineEvents";
import { Scenario } from "../scenario";
import { objectStore } from "../stackConfig";
import { PREFIX, Store, storeKeys, storeRequest, takenAt } from "../objectStore";

const report = new Scenario("snapshots");

const EVERY_MINUTES = 1;
const KEEP = 2;
/** How long the shortened schedule runs before the store is read: two and a half periods. */
const WAIT_SECONDS = 150;
/** `pulumi up`, which must change only the controllers' snapshot services, each in place. */
async function upChangingSnapshotsOnly(stack: auto.Stack): Promise<string> {
    const changed = await upChanges(stack);
    assert.deepEqual(changed, controllers.map((_, i) => `update kdw-controller-${i}-etcd-snapshots-service`));
    return changed.join(", ");
}

/** One controller's snapshots as read from the store (keys) and its disk: the checks the scenario names; what it found. */
async function checkController(store: Store, node: string, keys: string[], onDisk: string[], dir: string): Promise<string> {
    const snapshots = keys.filter(k => k.endsWith(".db"));
    assert.equal(snapshots.length, KEEP, `${node}'s snapshots in the store: ${keys.join(", ")}`);
    assert.deepEqual(keys, snapshots.flatMap(k => [k, `${k}.sha256`]).sort(), `${node}: a snapshot without its sha256`);
    const taken = snapshots.map(k => takenAt(k));
    assert.deepEqual(taken.map(t => t.reason), snapshots.map(() => "scheduled"), `${node}: ${snapshots.join(", ")}`);
    const age = (Date.now() - taken[KEEP - 1].at) / 1000;
    assert.ok(age <= 90, `${node}'s newest snapshot is ${age.toFixed(0)}s old`);
    const apart = (taken[KEEP - 1].at - taken[KEEP - 2].at) / 1000;
    assert.ok(apart >= 50 && apart <= 130, `${node}'s last two snapshots are ${apart}s apart`);
    assert.deepEqual(onDisk, snapshots.map(k => path.basename(k)), `${node}: what its disk keeps`);
    for (const key of snapshots) {
        const file = path.join(dir, path.basename(key));
        await storeRequest(store, `/${key}`, "--output", file);
        const recorded: string[] = (await storeRequest(store, `/${key}.sha256`)).trim().split(/\s+/);
        const actual = createHash("sha256").update(readFileSync(file)).digest("hex");
        assert.deepEqual(recorded, [actual, path.basename(key)], `${key}: its .sha256 does not match its content`);
        const status = JSON.parse(await run("etcdutl", ["snapshot", "status", file, "-w", "json"]));
        assert.ok(status.revision > 0 && status.totalKey > 0, `${key}: etcdutl reads ${JSON.stringify(status)}`);
    }
    return `${node}: ${snapshots.map(k => path.basename(k).replace(`${node}-`, "")).join(", ")} (${apart}s apart)`;
}

report.run(async () => {
    const stack = await clusterStack(report);
    const store = objectStore();
    assert.ok(store, "the test set has no object store: scripts/e2e.sh starts it (scripts/hosts.sh object-store)");

    await report.check(`etcd snapshots on a schedule, off the hosts: with etcdSnapshotEveryMinutes ${EVERY_MINUTES} and etcdSnapshotKeep ` +
        `${KEEP}, pulumi up changes only the controllers' snapshot services; ${WAIT_SECONDS}s later each controller has exactly ` +
        `${KEEP} snapshots in the object store and the same ${KEEP} on its disk, scheduled, the newest at most 90s old and one ` +
        `schedule apart (50-130s), each with a .sha256 that its content matches, each read by etcdutl (revision and keys above 0)`, async () => {
        writeConfig(3, { etcdSnapshotEveryMinutes: EVERY_MINUTES, etcdSnapshotKeep: KEEP });
        const changed = await upChangingSnapshotsOnly(stack);
        await sleep(WAIT_SECONDS * 1000);
        const dir = mkdtempSync(path.join(os.tmpdir(), "kdw-snapshots-"));
        const found: string[] = [];
        try {
            for (const [i, host] of controllers.entries()) {
                const node = `kdw-controller-${i}`;
                const disk = async () => (await ssh(host, asRoot(host, `ls ${hostLayout(host.kind).data}/etcd-snapshots`)))
                    .trim().split("\n").filter(f => f.endsWith(".db"));
                // What the store and the disk hold, each read before and after the checks: a scheduled snapshot that
                // lands meanwhile (a minute apart; the reads and downloads took longer on a loaded machine, the cold CI
                // of 2026-12-06) changes one of them, and the read is tried again; one whose two reads agree is checked.
                let checked = "";
                for (let attempt = 1; ; attempt++) {
                    const before = { disk: await disk(), keys: await storeKeys(store, `${PREFIX}/${node}/`) };
                    let failure: unknown;
                    try {
                        checked = await checkController(store, node, before.keys, before.disk, dir);
                    } catch (err) {
                        failure = err;
                    }
                    const after = { disk: await disk(), keys: await storeKeys(store, `${PREFIX}/${node}/`) };
                    const settled = JSON.stringify(before) === JSON.stringify(after);
                    if (settled || attempt === 3) {
                        if (failure) throw failure;
                        assert.ok(settled, `${node}: a snapshot landed during each of 3 reads: ${JSON.stringify({ before, after })}`);
                        break;
                    }
                }
                found.push(checked);
            }
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
        return `${changed}; ${found.join("; ")}`;
    });

    await report.check("back to the default schedule (every 360 minutes, 5 kept): pulumi up changes only the snapshot services; " +
        "then no change to preview", async () => {
        writeConfig(3);
        const changed = await upChangingSnapshotsOnly(stack);
        await stack.preview({ expectNoChanges: true });
        return changed;
    });
});
