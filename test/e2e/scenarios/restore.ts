// etcd restored from a snapshot after losing every controller (issue 21's scenario): ConfigMaps and Secrets written, a
// snapshot taken to the test set's object store, more ConfigMaps written after it; then all three controllers are lost
// for good, their disks too, and blank hosts put at their addresses (no member is left, the API does not answer). With
// etcdRestoreSnapshot naming the snapshot, `pulumi up` makes the three controllers again and rebuilds every member from
// it as a new cluster, touching no worker: what was written before the snapshot is back (Secrets decrypt to their
// values), what was written after it is not, three new members are healthy, the nodes are Ready and the `kubernetes`
// Service's endpoints are the three controllers. Then the setting is removed and nothing on the hosts changes.
import * as assert from "node:assert/strict";
import { clusterStack, controllers, etcdHealthy, etcdMembers, expectReady, hosts, kubeconfigPath, kubectl, writeConfig } from "../e2eCluster";
import { clusterClient } from "../cluster";
import { eventually, replaceHost, run, workerNames } from "../harness";
import { upChanges } from "../engineEvents";
import { Scenario } from "../scenario";
import { objectStore } from "../stackConfig";
import { takeManualSnapshot } from "../objectStore";

const report = new Scenario("restore");
const CONFIGMAPS_BEFORE = 500;
const SECRETS_BEFORE = 100;
const AFTER = 100;
const cluster = clusterClient(kubeconfigPath, controllers);

report.run(async () => {
    const stack = await clusterStack(report);
    const store = objectStore();
    assert.ok(store, "the test set has no object store: scripts/e2e.sh starts it (scripts/hosts.sh object-store)");
    const label = `before-${Date.now()}`;
    const later = `after-${Date.now()}`;
    let snapshotKey = "";
    let membersBefore: string[] = [];

    await report.check(`a snapshot taken after ${CONFIGMAPS_BEFORE} ConfigMaps and ${SECRETS_BEFORE} Secrets are written, then ` +
        `${AFTER} more ConfigMaps; all three controllers lost with their disks, blank hosts at their addresses, and the API then ` +
        "answers nothing", async () => {
        await cluster.createConfigMaps(label, CONFIGMAPS_BEFORE);
        await cluster.createSecrets(label, SECRETS_BEFORE);
        const c0 = controllers[0];
        snapshotKey = await takeManualSnapshot(store, c0, "kdw-controller-0");
        await cluster.createConfigMaps(later, AFTER);
        membersBefore = (await etcdMembers(c0)).map(m => m.id).sort();
        for (const c of controllers) {
            await replaceHost(hosts.indexOf(c));
        }
        await assert.rejects(run("kubectl", ["--kubeconfig", kubeconfigPath, "--request-timeout=5s", "get", "--raw", "/readyz"]),
            "the API answered with every controller lost");
        return `snapshot ${snapshotKey}; members before ${membersBefore.join(", ")}`;
    });

    await report.check("etcdRestoreSnapshot: pulumi up makes the three controllers again and restores every member from the " +
        "snapshot, changing no worker's step; 3 healthy members, none of the old ones; what was written before the snapshot is back (every Secret with its " +
        "value), what was written after it is not; nodes Ready; the kubernetes Service's endpoints are the 3 controllers; " +
        "then no change to preview", async () => {
        writeConfig(3, { etcdRestoreSnapshot: snapshotKey });
        const started = Date.now();
        const changed = await upChanges(stack);
        const seconds = (Date.now() - started) / 1000;
        assert.deepEqual(changed.filter(c => / kdw-worker-/.test(c)), [], "a worker's steps changed");
        for (const c of controllers.map((_, i) => `kdw-controller-${i}`)) {
            assert.ok(changed.includes(`replace ${c}-machine`), `${c}'s machine was not made again: ${changed.join(", ")}`);
            assert.ok(changed.includes(`create ${c}-etcd-restore`) && changed.includes(`create ${c}-etcd-restored`),
                `${c} not restored: ${changed.join(", ")}`);
        }
        await etcdHealthy(60);
        const membersAfter = (await etcdMembers(controllers[0])).map(m => m.id).sort();
        assert.deepEqual(membersAfter.filter(id => membersBefore.includes(id)), [], "an old member is in the restored cluster");
        assert.equal(membersAfter.length, 3);
        await eventually(60, async () => assert.equal(await cluster.configMapsOf(label), CONFIGMAPS_BEFORE), 2000);
        assert.equal(await cluster.configMapsOf(later), 0, "objects written after the snapshot are there: it was not restored");
        const names = Array.from({ length: SECRETS_BEFORE }, (_, n) => `${label}-${n}`);
        assert.deepEqual(await cluster.secretsNotReadBack(names), []);
        await expectReady(workerNames(3), 120);
        await eventually(60, async () => {
            const ips = (await kubectl("get", "endpoints", "kubernetes", "-o", "jsonpath={.subsets[*].addresses[*].ip}")).trim().split(/\s+/).sort();
            assert.deepEqual(ips, controllers.map(c => c.ip).sort());
        }, 2000);
        await stack.preview({ expectNoChanges: true });
        return `up ${seconds.toFixed(0)}s (${changed.length} changes); members ${membersAfter.join(", ")}; ${CONFIGMAPS_BEFORE} ConfigMaps ` +
            `and ${SECRETS_BEFORE} Secrets back, ${AFTER} later gone`;
    });

    await report.check("the setting removed: pulumi up deletes only the restore's steps, and the cluster stays", async () => {
        writeConfig(3, {});
        const changed = await upChanges(stack);
        assert.deepEqual(changed.filter(c => !/^delete (kdw-controller-\d-etcd-restored?|etcd-restore-client-(key|csr|cert)|etcd-restore)$/.test(c)), [],
            "changed besides the restore's steps");
        await etcdHealthy(30);
        assert.equal(await cluster.configMapsOf(label), CONFIGMAPS_BEFORE);
        await stack.preview({ expectNoChanges: true });
        return changed.join(", ");
    });
});
