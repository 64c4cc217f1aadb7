// Certificate renewal as a day-2 change: every leaf certificate made due at once, re-issued by `up` and rolled out
// one host at a time under a polled API (test/e2e/renewal.ts).
import * as assert from "node:assert/strict";
import { hostLayout } from "../../../render/layout";
import { ROLL_BOUND } from "../apiPoller";
import { clusterStack, controllers, etcdHealthy, expectReady, kubeconfigPath, workers, writeConfig } from "../e2eCluster";
import { ssh, workerNames } from "../harness";
import { certificateRenewal } from "../renewal";
import { PREFIX, storeKeys, takenAt } from "../objectStore";
import { Scenario } from "../scenario";
import { objectStore } from "../stackConfig";

const report = new Scenario("renewal");

report.run(async () => {
    const stack = await clusterStack(report);
    const start = Date.now();
    await report.check("certificate renewal: every leaf certificate due, `up` re-issues every signed one and rolls them out one host " +
        "at a time, kube-vip included, nothing replaced; " +
        "servers, the hosts' certificate files and the admin kubeconfig use the new ones; the API's longest gap at most " +
        `${ROLL_BOUND.maxGapSeconds}s with at most ${ROLL_BOUND.maxFailed} failed; nodes stay Ready`, async () => {
        const result = await certificateRenewal({
            stack, controllers, workers, kubeconfigPath, ssh,
            certificateDirs: host => [hostLayout(host.kind).etc, hostLayout(host.kind).kubeletDir],
            writeConfig: extra => writeConfig(3, extra),
            expectWorkersReady: seconds => expectReady(workerNames(3), seconds),
            etcdHealthy: () => etcdHealthy(120),
        });
        report.timings.renewal = result;
        return result;
    });

    await report.check("every roll of etcd and of the control plane in that renewal took a snapshot of etcd first: each " +
        "controller's folder in the object store holds exactly 2 before-roll snapshots taken since the renewal began", async () => {
        const store = objectStore();
        assert.ok(store, "the test set has no object store: scripts/e2e.sh starts it (scripts/hosts.sh object-store)");
        const found: string[] = [];
        for (const node of controllers.map((_, i) => `kdw-controller-${i}`)) {
            const snapshots: string[] = (await storeKeys(store, `${PREFIX}/${node}/`)).filter(k => k.endsWith(".db"));
            const beforeRolls: string[] = snapshots.filter(k => takenAt(k).reason === "before-roll" && takenAt(k).at >= start - 1000);
            assert.equal(beforeRolls.length, 2, `${node}'s snapshots: ${snapshots.join(", ")}`);
            found.push(`${node}: ${beforeRolls.map(k => k.split("/").pop()).join(", ")}`);
        }
        return found.join("; ");
    });
});
