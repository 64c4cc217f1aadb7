// Reboots: a controller and a worker of each host kind restarted together come back with no `pulumi up` (the
// worker Ready with its pods running again, the apiserver ready, etcd healthy, every route back); the smoke checks
// across host kinds pass again and the preview shows no change.
import * as assert from "node:assert/strict";
import * as auto from "@pulumi/pulumi/automation";
import * as path from "node:path";
import {
    caPath, clusterStack, controllers, ensureWorkloads, etcdctl, expectAllRoutes, hosts, kindChecks, kubectl, nodeOf, podOn, workerOfKind,
} from "../e2eCluster";
import { previewChanges } from "../engineEvents";
import { eventually, ROOT, run, sleep, TestHost } from "../harness";
import { Scenario } from "../scenario";

const report = new Scenario("reboot");

/** When the test host's container last started (ms), or undefined while it has none (a boot2docker host is remade). */
async function hostStartedAt(host: TestHost): Promise<number | undefined> {
    try {
        return Date.parse((await run("docker", ["inspect", "-f", "{{.State.StartedAt}}", host.name])).trim());
    } catch {
        return undefined;
    }
}

/**
 * Waits for `host` to start again after `restart` (ms) and then for `ok(bootedAt)` to pass, polling every second from
 * the start, so that the time measured is the host's and not the poll's. Returns when the host started and when `ok`
 * first passed after that.
 */
async function backAfterBoot(host: TestHost, restart: number, ok: (bootedAt: number) => Promise<void>):
    Promise<{ bootedAt: number; passedAt: number }> {
    const deadline = restart + 300_000;
    let bootedAt: number | undefined;
    let last = "the host has not started again";
    for (;;) {
        if (bootedAt === undefined) {
            const started = await hostStartedAt(host);
            bootedAt = started !== undefined && started > restart ? started : undefined;
        }
        if (bootedAt !== undefined) {
            try {
                await ok(bootedAt);
                return { bootedAt, passedAt: Date.now() };
            } catch (err) {
                last = (err as Error).message;
            }
        }
        if (Date.now() > deadline) {
            throw new Error(`${host.name} not back within 300s: ${last}`);
        }
        await sleep(1000);
    }
}

const seconds = (from: number, to: number) => Math.round((to - from) / 100) / 10;

/**
 * Reboots a controller and a worker of one kind together (scripts/hosts.sh reboot) and, with no `pulumi up`, waits for
 * the worker's node to report Ready again (a heartbeat from after the boot), its pods to run again (started after the
 * boot), the controller's apiserver to be ready and etcd to have 3 healthy members, and every route to be back.
 * Returns the times from the restart and from the boot.
 */
async function rebootCheck(stack: auto.Stack, kind: TestHost["kind"], controller: TestHost, worker: TestHost) {
    await report.check(`reboot of a ${kind} controller and worker (${controller.name}, ${worker.name}): ` +
        "back with no pulumi up", async () => {
        const node = nodeOf(worker);
        await podOn("kinds", node);
        const restart = Date.now();
        const [table, nodeReady, podsRunning, controllerReady] = await Promise.all([
            run("bash", [path.join(ROOT, "scripts", "hosts.sh"), "reboot",
                String(hosts.indexOf(controller)), String(hosts.indexOf(worker))], { timeout: 600_000 }),
            backAfterBoot(worker, restart, async bootedAt => {
                const status = JSON.parse(await kubectl("get", "node", node, "-o", "json")).status;
                const ready = status.conditions.find((c: any) => c.type === "Ready");
                // The kubelet that came back reports Ready: a heartbeat from after the boot (seconds precision).
                assert.ok(ready?.status === "True" && Date.parse(ready.lastHeartbeatTime) >= bootedAt - 1000,
                    `${node}: ${JSON.stringify(ready)}`);
            }),
            backAfterBoot(worker, restart, async bootedAt => {
                const pods = JSON.parse(await kubectl("get", "pods", "-A", "--field-selector", `spec.nodeName=${node}`,
                    "-o", "json")).items as any[];
                // Every container of every pod: a pod whose statuses are not all reported yet is not running again.
                const stale = pods.filter(p => {
                    const statuses = (p.status.containerStatuses ?? []) as any[];
                    return statuses.length !== p.spec.containers.length || !statuses.every(c =>
                        c.ready && Date.parse(c.state.running?.startedAt ?? 0) >= bootedAt - 1000);
                });
                assert.ok(pods.length > 0 && stale.length === 0, `not running again: ${stale.map(p => p.metadata.name).join(", ")}`);
            }),
            backAfterBoot(controller, restart, async () => {
                await run("curl", ["--silent", "--fail", "--max-time", "5", "--cacert", caPath, `https://${controller.ip}:6443/readyz`]);
                const health = JSON.parse(await etcdctl(controllers[0], "endpoint health -w json",
                    controllers.map(c => `https://${c.ip}:2379`).join(","))) as any[];
                assert.equal(health.filter(h => h.health).length, 3, JSON.stringify(health));
            }),
        ]);
        await eventually(60, () => expectAllRoutes(stack));
        const timings = {
            workerReady: seconds(restart, nodeReady.passedAt), workerReadyAfterBoot: seconds(nodeReady.bootedAt, nodeReady.passedAt),
            podsRunning: seconds(restart, podsRunning.passedAt),
            controllerReady: seconds(restart, controllerReady.passedAt),
            controllerReadyAfterBoot: seconds(controllerReady.bootedAt, controllerReady.passedAt),
        };
        report.timings[`reboot-${kind}`] = { hosts: table.trim().split("\n"), ...timings };
        return `${node} Ready ${timings.workerReady}s after the restart (${timings.workerReadyAfterBoot}s after it booted), ` +
            `its pods running after ${timings.podsRunning}s; ${controller.name} apiserver ready and etcd healthy after ` +
            `${timings.controllerReady}s (${timings.controllerReadyAfterBoot}s after boot)`;
    });
}

report.run(async () => {
    const stack = await clusterStack(report);
    await ensureWorkloads();
    // Reboots, one kind at a time so that etcd keeps its majority (controller-0 stays up); the VIP moves if it must.
    await rebootCheck(stack, "systemd", controllers[1], workerOfKind("systemd"));
    await rebootCheck(stack, "boot2docker", controllers.find(c => c.kind === "boot2docker")!, workerOfKind("boot2docker"));
    await kindChecks(report, "after the reboots");
    await report.check("after the reboots: preview shows no change", async () => {
        const preview = await previewChanges(stack, true);
        assert.deepEqual(preview.changes, []);
        return `${preview.same} unchanged`;
    });
});
