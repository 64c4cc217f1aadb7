// A no-op runs nothing; adding a worker touches only it and one route-table step per host, and removing it takes
// away the worker, its routes on every host and its Node object.
import * as assert from "node:assert/strict";
import { clusterStack, controllers, ensureWorkloads, expectReady, kubectl, podsOf, spare, workers, writeConfig } from "../e2eCluster";
import { previewChanges } from "../engineEvents";
import { sleep, ssh, workerNames } from "../harness";
import { leftoversOn } from "../leftovers";
import { Scenario } from "../scenario";

const report = new Scenario("scale");

/** Scaling between 3 and 4 workers updates the route table of each of the 3+3 hosts that stay, and nothing else. */
const tableUpdates = [0, 1, 2].flatMap(i => [`update kdw-controller-${i}-routes-table`, `update kdw-worker-${i}-routes-table`]).sort();

report.run(async () => {
    const stack = await clusterStack(report);
    await ensureWorkloads();
    await report.check("no-op: preview shows 0 changes and up runs nothing (expectNoChanges)", async () => {
        const preview = await previewChanges(stack, true);
        assert.deepEqual(preview.changes, []);
        const start = Date.now();
        await stack.up({ expectNoChanges: true });
        report.timings.noopUp = { seconds: (Date.now() - start) / 1000 };
        return `${preview.same} unchanged; no-op up ${((Date.now() - start) / 1000).toFixed(0)}s`;
    });

    await report.check("scale 3→4 workers: preview touches only the new worker and one route-table step per host; it becomes Ready", async () => {
        writeConfig(4);
        const ops = (await previewChanges(stack)).changes;
        const strays = ops.filter(o => !/kdw-worker-3/.test(o)).sort();
        assert.deepEqual(strays, tableUpdates, "changes beyond worker-3 and one route-table update per existing host");
        assert.ok(ops.some(o => o === "create kdw-worker-3-node-install"));
        assert.ok(ops.some(o => o === "create kdw-worker-3-routes-table"));
        const start = Date.now();
        await stack.up();
        report.timings.scaleUp = { seconds: (Date.now() - start) / 1000 };
        await expectReady(workerNames(4), 180);
        await kubectl("scale", "deployment/web", "--replicas=8");
        await kubectl("rollout", "status", "deployment/web", "--timeout=180s");
        const onNew = (await podsOf("web")).find(p => p.node === "kdw-worker-3");
        assert.ok(onNew, "no pod scheduled on kdw-worker-3");
        const [other] = (await podsOf("web")).filter(p => p.node !== "kdw-worker-3");
        const page = await kubectl("exec", other.name, "--", "timeout", "10", "wget", "-q", "-O", "-", `http://${onNew.ip}/`);
        assert.match(page, /kube-dumb-way smoke test/);
        return `${ops.length} changes, up ${((Date.now() - start) / 1000).toFixed(0)}s`;
    });

    await report.check("scale 4→3 workers: the worker, its routes (on every host, for good) and its Node object go", async () => {
        await kubectl("scale", "deployment/web", "--replicas=3");
        writeConfig(3);
        const ops = (await previewChanges(stack)).changes;
        assert.deepEqual(ops.filter(o => !/kdw-worker-3/.test(o)).sort(), tableUpdates,
            "changes beyond worker-3 and one route-table update per remaining host");
        assert.deepEqual(ops.filter(o => /kdw-worker-3/.test(o) && !o.startsWith("delete ")), []);
        await stack.up();
        const nodes = (await kubectl("get", "nodes", "-o", "name")).trim().split("\n").sort();
        assert.deepEqual(nodes, workerNames(3).map(n => `node/${n}`));
        const routed = async () => {
            for (const host of [...controllers, ...workers]) {
                const routes = await ssh(host, "ip route show 10.200.3.0/24");
                assert.equal(routes.trim(), "", `${host.name} still routes worker-3's pods`);
            }
        };
        await routed();
        assert.equal((await ssh(spare, leftoversOn(spare))).trim(), "", `${spare.name} keeps some of the cluster`);
        await sleep(15_000); // more than one pass of every host's route loop
        await routed();
    });
});
