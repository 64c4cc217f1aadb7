// etcd restored from a snapshot after losing its quorum: objects and Secrets written, a snapshot taken to the test set's
// object store, more objects written after it; then two of the three members lose their data (the survivor alone has
// no quorum, so the API answers no write). With etcdRestoreSnapshot naming the snapshot, `pulumi up` rebuilds every
// member from it as a new cluster: what was written before the snapshot is back (Secrets decrypt to their values),
// what was written after it is not, three new members are healthy, the nodes are Ready and the `kubernetes` Service's
// endpoints are the three controllers. Then the setting is removed and nothing on the hosts changes.
import * as assert from "node:assert/strict";
import { hostLayout } from "../../../render/layout";
import { clusterStack, controllers, etcdHealthy, etcdMembers, expectReady, kubeconfigPath, kubectl, writeConfig } from "../e2eCluster";
import { clusterClient } from "../cluster";
import { asRoot, eventually, run, ssh, workerNames } from "../harness";
import { upChanges } from "../engineEvents";
import { Scenario } from "../scenario";
import { objectStore } from "../stackConfig";
import { PREFIX, storeKeys } from "../objectStore";

const report = new Scenario("restore");
const BEFORE = 40;
const AFTER = 10;
const cluster = clusterClient(kubeconfigPath, controllers);

const configMaps = (label: string, count: number) => run("kubectl", ["--kubeconfig", kubeconfigPath, "apply", "-f", "-"], {
    input: JSON.stringify({
        apiVersion: "v1", kind: "List", items: Array.from({ length: count }, (_, n) => ({
            apiVersion: "v1", kind: "ConfigMap", metadata: { name: `${label}-${n}`, labels: { "kdw-restore": label } }, data: { n: String(n) },
        })),
    }),
});
const configMapsOf = async (label: string) =>
    (JSON.parse(await kubectl("get", "configmaps", "-l", `kdw-restore=${label}`, "-o", "json")).items as any[]).length;

report.run(async () => {
    const stack = await clusterStack(report);
    const store = objectStore();
    assert.ok(store, "the test set has no object store: scripts/e2e.sh starts it (scripts/hosts.sh object-store)");
    const label = `before-${Date.now()}`;
    const later = `after-${Date.now()}`;
    let snapshotKey = "";
    let membersBefore: string[] = [];

    await report.check(`a snapshot taken after ${BEFORE} ConfigMaps and ${BEFORE} Secrets are written, then ${AFTER} more ` +
        "ConfigMaps; two of the three etcd members lose their data, and the API then takes no write", async () => {
        await configMaps(label, BEFORE);
        await cluster.createSecrets(label, BEFORE);
        const c0 = controllers[0];
        const l = hostLayout(c0.kind);
        await ssh(c0, asRoot(c0, `KDW_SNAPSHOT_SETTINGS=${l.etc}/etcd-snapshot ${l.home}/bin/kdw-etcd-snapshot take manual`));
        const keys = (await storeKeys(store, `${PREFIX}/kdw-controller-0/`)).filter(k => k.endsWith("-manual.db"));
        assert.ok(keys.length > 0, "no manual snapshot in the store");
        snapshotKey = keys[keys.length - 1];
        await configMaps(later, AFTER);
        membersBefore = (await etcdMembers(c0)).map(m => m.id).sort();
        for (const c of controllers.slice(1)) {
            // Its member stopped (Docker does not start a stopped container again) and its data gone, as on a lost disk.
            await ssh(c, asRoot(c, `docker stop kdw-etcd >/dev/null && rm -rf ${hostLayout(c.kind).data}/etcd/member`));
        }
        await eventually(30, async () => {
            await assert.rejects(run("kubectl", ["--kubeconfig", kubeconfigPath, "--request-timeout=5s", "create", "configmap",
                `no-quorum-${Date.now()}`]), "a write landed without quorum");
        }, 1000);
        return `snapshot ${snapshotKey}; members before ${membersBefore.join(", ")}`;
    });

    await report.check("etcdRestoreSnapshot: pulumi up restores every member from the snapshot and creates only the restore's " +
        "steps; 3 healthy members, none of the old ones; what was written before the snapshot is back (every Secret with its " +
        "value), what was written after it is not; nodes Ready; the kubernetes Service's endpoints are the 3 controllers; " +
        "then no change to preview", async () => {
        writeConfig(3, { etcdRestoreSnapshot: snapshotKey });
        const started = Date.now();
        const changed = await upChanges(stack);
        const seconds = (Date.now() - started) / 1000;
        assert.deepEqual(changed.filter(c => !/^create (etcd-restore|kdw-controller-\d-etcd-restored?|etcd-restore-client-(key|csr|cert))$/.test(c)), [],
            "changed besides the restore's steps");
        assert.equal(changed.filter(c => /-etcd-restored?$/.test(c)).length, 6);
        await etcdHealthy(60);
        const membersAfter = (await etcdMembers(controllers[0])).map(m => m.id).sort();
        assert.deepEqual(membersAfter.filter(id => membersBefore.includes(id)), [], "an old member is in the restored cluster");
        assert.equal(membersAfter.length, 3);
        await eventually(60, async () => assert.equal(await configMapsOf(label), BEFORE), 2000);
        assert.equal(await configMapsOf(later), 0, "objects written after the snapshot are there: it was not restored");
        const names = Array.from({ length: BEFORE }, (_, n) => `${label}-${n}`);
        assert.deepEqual(await cluster.secretsNotReadBack(names), []);
        await expectReady(workerNames(3), 120);
        await eventually(60, async () => {
            const ips = (await kubectl("get", "endpoints", "kubernetes", "-o", "jsonpath={.subsets[*].addresses[*].ip}")).trim().split(/\s+/).sort();
            assert.deepEqual(ips, controllers.map(c => c.ip).sort());
        }, 2000);
        await stack.preview({ expectNoChanges: true });
        return `up ${seconds.toFixed(0)}s; members ${membersAfter.join(", ")}; ${BEFORE} ConfigMaps and Secrets back, ${AFTER} later gone`;
    });

    await report.check("the setting removed: pulumi up deletes only the restore's steps, and the cluster stays", async () => {
        writeConfig(3, {});
        const changed = await upChanges(stack);
        assert.deepEqual(changed.filter(c => !/^delete (kdw-controller-\d-etcd-restored?|etcd-restore-client-(key|csr|cert)|etcd-restore)$/.test(c)), [],
            "changed besides the restore's steps");
        await etcdHealthy(30);
        assert.equal(await configMapsOf(label), BEFORE);
        await stack.preview({ expectNoChanges: true });
        return changed.join(", ");
    });
});
