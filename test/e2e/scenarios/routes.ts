// Pod routes heal by themselves: a route deleted by hand on one worker and all of ours flushed on another come back
// through every host's route loop, and pod traffic with them, with no `pulumi up`; the preview then shows no change.
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { clusterStack, image, kubeconfigPath, kubectl, workers } from "../e2eCluster";
import { previewChanges } from "../engineEvents";
import { asRoot, eventually, ROOT, ssh, TestHost, workerNames } from "../harness";
import { Scenario } from "../scenario";

const report = new Scenario("routes");

/**
 * The longest a lost pod route may stay lost: one period of the kdw-routes loop (its INTERVAL), plus 2 s for the pass
 * and the first probe round through the mended route (a round gives up after 1 s). Measured: 2–5 s.
 */
const ROUTE_REPAIR_BOUND = Number(/^INTERVAL=(\d+)$/m.exec(readFileSync(path.join(ROOT, "host", "scripts", "kdw-routes.sh"), "utf8"))![1]) + 2;

report.run(async () => {
    const stack = await clusterStack(report);
    await report.check(`routes heal: a route deleted by hand on one worker, all of ours flushed on another; pod traffic ` +
        `broken by each, back within ${ROUTE_REPAIR_BOUND}s of it; no change to preview`, async () => {
        // One pod pinned to each worker, so that each path below crosses exactly the routes it names.
        const probes = workerNames(3).map((node, i) => ({ pod: `route-probe-${i}`, node }));
        for (const p of probes) {
            await kubectl("run", p.pod, `--image=${image}`, "--restart=Never", `--overrides=${JSON.stringify({ spec: { nodeName: p.node } })}`);
        }
        try {
            await kubectl("wait", "--for=condition=Ready", ...probes.map(p => `pod/${p.pod}`), "--timeout=120s");
            const ipOf = new Map<string, string>();
            for (const p of probes) {
                ipOf.set(p.pod, (await kubectl("get", "pod", p.pod, "-o", "jsonpath={.status.podIP}")).trim());
            }
            /**
             * Breaks routes on a worker while a pod on that worker requests a page from each target pod every 0.1 s
             * (a request gives up after 1 s) and prints `<uptime> ok|fail` per round. The pod and the host share the
             * host's clock (/proc/uptime), so the repair time is from the break to the first round that got through
             * after it, however slowly kubectl streams those lines here. Fails 30 s after the break.
             */
            const repair = async (worker: TestHost, from: string, breakIt: string, targets: string[]) => {
                const watch = 'n=0; while [ $n -lt 900 ]; do read t _ < /proc/uptime; r=ok; ' +
                    'for ip in "$@"; do timeout 1 wget -q -O /dev/null "http://$ip/" || r=fail; done; echo "$t $r"; n=$((n+1)); sleep 0.1; done';
                const watcher = spawn("kubectl", ["--kubeconfig", kubeconfigPath, "exec", from, "--", "sh", "-c", watch, "watch",
                    ...targets.map(t => ipOf.get(t)!)], { stdio: ["ignore", "pipe", "ignore"] });
                const rounds: { t: number; ok: boolean }[] = [];
                let partial = "";
                watcher.stdout.on("data", chunk => {
                    const lines = (partial + chunk).split("\n");
                    partial = lines.pop()!;
                    for (const [t, result] of lines.map(l => l.trim().split(" "))) {
                        rounds.push({ t: Number(t), ok: result === "ok" });
                    }
                });
                try {
                    await eventually(90, async () => assert.ok(rounds.some(r => r.ok), `${from} does not reach ${targets.join(", ")} before the break`), 500);
                    // The time once the break is done: a round that started before it may still get through, and
                    // would pass for a repair that never happened.
                    const brokenAt = Number((await ssh(worker, asRoot(worker, `${breakIt} && read t _ < /proc/uptime && echo $t`))).trim());
                    assert.ok(brokenAt > 0, "no time for the break");
                    return await eventually(120, async () => {
                        const after = rounds.filter(r => r.t > brokenAt);
                        const firstFail = after.findIndex(r => !r.ok);
                        const back = after.find((r, i) => r.ok && i > firstFail);
                        const latest = after.length > 0 ? after[after.length - 1].t - brokenAt : 0;
                        if (back && (firstFail >= 0 || after[0] === back)) {
                            return { seconds: Number((back.t - brokenAt).toFixed(2)), trafficBroke: firstFail >= 0, rounds: after.length };
                        }
                        if (latest > 30) {
                            throw new Error(`${from} -> ${targets.join(", ")} still failing ${latest.toFixed(0)}s after \`${breakIt}\``);
                        }
                        throw new Error(`waiting: ${after.length} rounds since the break`);
                    }, 500);
                } finally {
                    watcher.kill();
                }
            };
            /**
             * A break that the loop happens to mend before a round could fail (it runs every 10 s, a round takes up to
             * 1 s) shows no broken traffic: such a break is repeated, up to three times, and every repair is bounded.
             */
            const breakUntilBroken = async (...args: Parameters<typeof repair>) => {
                const tries = [];
                for (let i = 0; i < 3; i++) {
                    const r = await repair(...args);
                    assert.ok(r.seconds <= ROUTE_REPAIR_BOUND, `pod traffic back only ${r.seconds}s after \`${args[2]}\``);
                    tries.push(r);
                    if (r.trafficBroke) {
                        return { ...r, tries: tries.length };
                    }
                }
                throw new Error(`\`${args[2]}\` on ${args[0].name} never broke pod traffic in ${tries.length} tries: ` +
                    tries.map(t => `${t.seconds}s`).join(", "));
            };
            const [w0, w1, w2] = workers;
            const one = await breakUntilBroken(w1, "route-probe-1", "ip route del 10.200.0.0/24", ["route-probe-0"]);
            const all = await breakUntilBroken(w2, "route-probe-2", "ip route show proto 201 | grep -q . && ip route flush proto 201",
                ["route-probe-0", "route-probe-1"]);
            for (const host of [w0, w1, w2]) {
                const routes = (await ssh(host, "ip route show proto 201")).trim().split("\n").length;
                assert.equal(routes, 2, `${host.name} does not have its 2 pod routes back`);
            }
            assert.deepEqual((await previewChanges(stack, true)).changes, []);
            report.timings.routeRepair = { deletedOne: one, flushedAll: all };
            return `one route deleted on ${w1.name}: pod traffic back ${one.seconds}s after (break ${one.tries} of 3);` +
                ` all flushed on ${w2.name}: back ${all.seconds}s after (break ${all.tries} of 3); preview: no change`;
        } finally {
            await kubectl("delete", "pod", "--wait=false", ...probes.map(p => p.pod));
        }
    });
});
