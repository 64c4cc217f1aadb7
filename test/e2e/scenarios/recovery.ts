// Machines lost for good, and `pulumi up` brings them back: the controller that holds both the etcd leader and the
// API's virtual IP is removed with its disk (its test host's container and data volume), a blank host is put at the
// same address, and `pulumi up` rebuilds it (its etcd member removed by the survivors, a new one joined as a learner and
// promoted); then the same for a worker. A writer creates a ConfigMap every 200 ms and a poller asks the API through
// the VIP every 0.5 s throughout each loss and rebuild: every acknowledged write must be there after, and the API's
// longest gap is bounded.
import * as assert from "node:assert/strict";
import * as auto from "@pulumi/pulumi/automation";
import { assertAvailable, describeAvailability, HOLDER_KILLED_BOUND, pollApi } from "../apiPoller";
import { assertRejoined } from "../cluster";
import {
    clusterStack, controllers, ensureWorkloads, etcdctl, etcdHealthy, etcdMembers, hosts, kubeconfigPath, kubectl, leaseHolder,
    nodeOf, podsOf, readyNodes, vipHolders, workers,
} from "../e2eCluster";
import { engineEvents } from "../engineEvents";
import { eventually, replaceHost, sleep, TestHost, workerNames } from "../harness";
import { Scenario } from "../scenario";
import { describeWrites, startWriter, Writes, WRITER_LABEL } from "../writer";

const report = new Scenario("recovery");

/**
 * The longest the API may give no answer through the VIP while a controller is lost and rebuilt: the loss of the VIP's
 * holder without warning, bound as in the vip-loss scenario (the Lease's expiry, the others' tries, the announcement);
 * the rebuild itself moves nothing (the new controller's kube-vip joins as a follower).
 */
const CONTROLLER_LOSS = HOLDER_KILLED_BOUND;
/** How long a rebuilt worker may take to be Ready, from the start of the `pulumi up` that rebuilds it (issue 21). */
const WORKER_READY_SECONDS = 180;
/** How often the writer creates a ConfigMap (issue 21: one every 200 ms). */
const WRITE_EVERY_SECONDS = 0.2;

const endpointOf = (host: TestHost) => `https://${host.ip}:2379`;

/**
 * The controller whose etcd member leads: the endpoint whose member id is its leader's (`endpoint status -w json`; ids are
 * 64-bit and compared as JSON numbers, each side rounded alike).
 */
async function etcdLeader(via: TestHost): Promise<TestHost> {
    const out = await etcdctl(via, "endpoint status -w json", controllers.map(endpointOf).join(","));
    const statuses = JSON.parse(out) as { Endpoint: string; Status: { header: { member_id: number }; leader: number } }[];
    const leading = statuses.find(s => s.Status.header.member_id === s.Status.leader);
    const leader = controllers.find(c => endpointOf(c) === leading?.Endpoint);
    assert.ok(leader, `no etcd leader in:\n${out}`);
    return leader;
}

/**
 * Loses a test host for good, its data disk too, without warning (as a VM deleted), and puts a blank one of its kind at
 * its address (`scripts/hosts.sh replace`); then lets the cluster run without it a while, as after a real loss.
 */
async function loseAndReplace(host: TestHost): Promise<{ replacedSeconds: number }> {
    const start = Date.now();
    await replaceHost(hosts.indexOf(host));
    const replacedSeconds = (Date.now() - start) / 1000;
    await sleep(20_000);
    return { replacedSeconds };
}

/** The acknowledged writes missing from the cluster. */
async function lostWrites(writes: Writes, prefix: string): Promise<string[]> {
    const present = new Set((await kubectl("get", "configmaps", "-l", `${WRITER_LABEL}=${prefix}`, "-o", "name"))
        .trim().split("\n").map(n => n.replace(/^configmap\//, "")));
    return writes.acknowledged.filter(n => !present.has(n));
}

/** `pulumi up`, recording which resources changed and how; steps of hosts other than `node` must not change. */
async function rebuild(stack: auto.Stack, node: string) {
    const events = engineEvents();
    const changed: string[] = [];
    const start = Date.now();
    const result = await stack.up({
        onEvent: e => {
            events.onEvent(e);
            const m = e.resourcePreEvent?.metadata;
            if (m && m.op !== "same" && m.op !== "read" && !m.type.startsWith("pulumi:")) {
                changed.push(`${m.op} ${m.urn.split("::").pop()}`);
            }
        },
        onOutput: line => process.stdout.write(`     | ${line}`),
    });
    const seconds = (Date.now() - start) / 1000;
    // etcd's membership step runs on controller-0: a new machine there is a new connection for it (it checks the members).
    const ofNode = (name: string) => name.startsWith(`${node}-`) || (node === "kdw-controller-0" && name === "etcd-membership-members");
    const others = changed.filter(c => !ofNode(c.split(" ")[1]));
    assert.deepEqual(others, [], `steps of other hosts changed while ${node} was rebuilt`);
    assert.ok(changed.includes(`replace ${node}-machine`), `${node}'s machine was not made again: ${changed.join(", ")}`);
    // When each changed step started and ended, in seconds from the up's start: where its time went.
    const timeline = events.changes().filter(c => !c.type.startsWith("pulumi:"))
        .map(c => `${c.at.toFixed(0)}-${c.doneAt === undefined ? "?" : c.doneAt.toFixed(0)}s ${c.op} ${c.name}`).join(", ");
    return { seconds, start, changed, summary: result.summary.resourceChanges, slowest: events.slowest(8), timeline };
}

report.run(async () => {
    const stack = await clusterStack(report);
    await ensureWorkloads();

    await report.check(`a lost controller holding the etcd leader and the VIP (container and disk removed, a blank host at its address) is rebuilt by pulumi up: ` +
        `3 voting members, no learner, the old member gone; every acknowledged write kept; the API's longest gap through the VIP at most ` +
        `${CONTROLLER_LOSS.maxGapSeconds}s; nodes Ready; then no change to preview`, async () => {
        const holder = await leaseHolder();
        assert.deepEqual(await vipHolders(controllers), [holder], "not exactly one VIP holder, or not the one the Lease names");
        const lost = controllers[Number(holder.split("-").pop())];
        const survivor = controllers.find(c => c !== lost)!;
        // etcd's leadership moved to the VIP's holder, so that the loss takes both at once.
        const before = await etcdMembers(survivor);
        const lostMember = before.find(m => m.name === holder);
        assert.ok(lostMember, `no etcd member named ${holder}`);
        const leader = await etcdLeader(survivor);
        if (leader !== lost) {
            await etcdctl(survivor, `move-leader ${lostMember.id}`, endpointOf(leader));
        }
        assert.equal(await etcdLeader(survivor), lost, "the etcd leader did not move to the VIP's holder");

        const prefix = `recovery-controller-${Date.now()}`;
        const writer = startWriter(kubeconfigPath, prefix, WRITE_EVERY_SECONDS * 1000);
        const poller = await pollApi(kubeconfigPath, "/readyz");
        let writes: Writes | undefined;
        try {
            const { replacedSeconds } = await loseAndReplace(lost);
            const up = await rebuild(stack, holder);
            writes = await writer.stop();
            const availability = await poller.stop();
            const after = await etcdMembers(survivor);
            report.timings.controller = {
                lost: holder, oldMember: lostMember.id, members: after, writes: { ...writes, acknowledged: writes.acknowledged.length },
                availability, replacedSeconds, up,
            };
            assertRejoined(after, lostMember.id, controllers.map((_, i) => `kdw-controller-${i}`));
            await etcdHealthy(60);
            const missing = await lostWrites(writes, prefix);
            assert.deepEqual(missing, [], `${missing.length} acknowledged writes lost`);
            assert.ok(writes.acknowledged.length > 100, `only ${writes.acknowledged.length} writes acknowledged: nothing was measured`);
            // A write fails only while the API does not answer: at most the writes that fit in the longest gap allowed.
            const maxFailedWrites = Math.floor(CONTROLLER_LOSS.maxGapSeconds / WRITE_EVERY_SECONDS);
            assert.ok(writes.failed <= maxFailedWrites, `${writes.failed} writes failed, at most ${maxFailedWrites} allowed`);
            await assertAvailable(availability, CONTROLLER_LOSS, `the loss and rebuild of ${holder}`, controllers.filter(c => c !== lost));
            await eventually(120, async () => assert.deepEqual(await readyNodes(), workerNames(3)));
            await stack.preview({ expectNoChanges: true });
            return `${holder} (etcd leader and VIP holder) lost, a blank host in its place in ${replacedSeconds.toFixed(0)}s; ` +
                `pulumi up ${up.seconds.toFixed(0)}s (${up.changed.length} steps of ${holder}); member ${lostMember.id} replaced by ` +
                `${after.find(m => m.name === holder)!.id}; ${describeWrites(writes, writes.acknowledged.length)}; ${describeAvailability(availability)}`;
        } finally {
            await writer.stop();
            await poller.stop();
            await kubectl("delete", "configmaps", "-l", `${WRITER_LABEL}=${prefix}`, "--wait=false").catch(() => undefined);
        }
    });

    await report.check(`a lost worker (container and disk removed, a blank host at its address) is rebuilt by pulumi up: Ready within ` +
        `${WORKER_READY_SECONDS}s of the up's start, the same Node object (no orphan), web's 3 replicas running; then no change to preview`, async () => {
        const lost = workers.find(w => w.kind === "systemd" && w !== workers[0]) ?? workers[1];
        const node = nodeOf(lost);
        const nodeUid = (await kubectl("get", "node", node, "-o", "jsonpath={.metadata.uid}")).trim();
        const prefix = `recovery-worker-${Date.now()}`;
        const writer = startWriter(kubeconfigPath, prefix, WRITE_EVERY_SECONDS * 1000);
        try {
            const { replacedSeconds } = await loseAndReplace(lost);
            const up = await rebuild(stack, node);
            // The up ends once the node's install saw it Ready (worker.sh); measured again here from the up's start.
            await eventually(60, async () => assert.deepEqual(await readyNodes(), workerNames(3)));
            const readyAfter = (Date.now() - up.start) / 1000;
            const writes = await writer.stop();
            const nodes = (await kubectl("get", "nodes", "-o", "name")).trim().split("\n").map(n => n.replace(/^node\//, "")).sort();
            assert.deepEqual(nodes, workerNames(3), "orphan or missing Node objects");
            assert.equal((await kubectl("get", "node", node, "-o", "jsonpath={.metadata.uid}")).trim(), nodeUid,
                "the Node object was made anew (a lost worker's node keeps its name and object)");
            await kubectl("rollout", "status", "deployment/web", "--timeout=180s");
            const web = await podsOf("web");
            assert.equal(web.length, 3, `web pods running: ${JSON.stringify(web)}`);
            const missing = await lostWrites(writes, prefix);
            assert.deepEqual(missing, [], `${missing.length} acknowledged writes lost`);
            // A worker is not on the API's path: no write may fail while it is lost and rebuilt.
            assert.deepEqual(writes.errors, [], `${writes.failed} writes failed`);
            report.timings.worker = {
                lost: node, up, readyAfterSeconds: readyAfter, replacedSeconds,
                writes: { ...writes, acknowledged: writes.acknowledged.length },
            };
            assert.ok(readyAfter <= WORKER_READY_SECONDS,
                `${node} Ready ${readyAfter.toFixed(0)}s after the up began (up ${up.seconds.toFixed(0)}s; its steps: ${up.timeline})`);
            await stack.preview({ expectNoChanges: true });
            return `${node} lost; pulumi up ${up.seconds.toFixed(0)}s (${up.changed.length} steps of ${node}), Ready ` +
                `${readyAfter.toFixed(0)}s after it began; web on ${web.map(p => p.node).join(", ")}; ` +
                describeWrites(writes, writes.acknowledged.length - missing.length);
        } finally {
            await writer.stop();
            await kubectl("delete", "configmaps", "-l", `${WRITER_LABEL}=${prefix}`, "--wait=false").catch(() => undefined);
        }
    });
});
