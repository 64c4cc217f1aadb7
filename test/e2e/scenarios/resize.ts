// The control plane resized in place, 3→5→3 controllers, by `pulumi up` with a new `controllers` count: the e2e cluster
// gives up one worker (its host, 5, and the spare, 6, become the new controllers: one of each host kind), grows to five
// controllers, shrinks back to three with etcd's leadership on a controller that leaves, and takes its third worker
// back, with an etcd member left behind as a failed resize leaves one, which that `up` removes. A writer creates a ConfigMap every 200 ms and a poller asks the API through the VIP every 0.5 s throughout each
// resize: every acknowledged write must be there after, and the API's longest gap is bounded.
import * as assert from "node:assert/strict";
import * as auto from "@pulumi/pulumi/automation";
import { assertAvailable, AvailabilityBound, describeAvailability, pollApi } from "../apiPoller";
import {
    clusterStack, controllers, ensureWorkloads, etcdctl, etcdHealthy, etcdMembers, expectReady, hosts, kubeconfigPath, kubectl,
    writeConfig,
} from "../e2eCluster";
import { engineEvents } from "../engineEvents";
import { eventually, ssh, TestHost, workerNames } from "../harness";
import { leftoversOn } from "../leftovers";
import { Scenario } from "../scenario";
import { describeWrites, startWriter, WRITER_LABEL } from "../writer";

const report = new Scenario("resize");

/** Issue 21: a resize keeps the API answering through the VIP with gaps of at most 5 s. */
const RESIZE_BOUND = new AvailabilityBound(5);
const WRITE_EVERY_SECONDS = 0.2;

const entry = (h: TestHost) => ({ address: h.ip, sshUser: h.sshUser, sshKeyPath: h.sshKeyPath });
/** The controllers on hosts 0-2 and, grown, 5 and 6; the two workers on hosts 3 and 4 keep their entries. */
const GROWN = [0, 1, 2, 5, 6];
const writeResized = (controllerHosts: number[]) => writeConfig(2, {
    controllers: controllerHosts.length, genericHosts: [...controllerHosts, 3, 4].map(i => entry(hosts[i])),
});
const controllerNames = (n: number) => Array.from({ length: n }, (_, i) => `kdw-controller-${i}`);

/** The addresses of the `kubernetes` Service's endpoints: the apiservers that run. */
const apiEndpoints = async () =>
    (await kubectl("get", "endpoints", "kubernetes", "-o", "jsonpath={.subsets[*].addresses[*].ip}")).trim().split(/\s+/).sort();

/**
 * `pulumi up` with a writer and the availability poller running throughout: what changed, the writes and the API's
 * gaps; no acknowledged write may be missing after, and the gaps are bounded.
 */
async function resize(stack: auto.Stack, label: string) {
    const prefix = `resize-${label}-${Date.now()}`;
    const writer = startWriter(kubeconfigPath, prefix, WRITE_EVERY_SECONDS * 1000);
    const poller = await pollApi(kubeconfigPath, "/readyz");
    const events = engineEvents();
    try {
        const start = Date.now();
        await stack.up({ onEvent: events.onEvent, onOutput: line => process.stdout.write(`     | ${line}`) });
        const seconds = (Date.now() - start) / 1000;
        const writes = await writer.stop();
        const availability = await poller.stop();
        const changes = events.changes().filter(s => s.op !== "read" && !s.type.startsWith("pulumi:")).map(s => `${s.op} ${s.name}`);
        const present = new Set((await kubectl("get", "configmaps", "-l", `${WRITER_LABEL}=${prefix}`, "-o", "name"))
            .trim().split("\n").map(n => n.replace(/^configmap\//, "")));
        const missing = writes.acknowledged.filter(n => !present.has(n));
        report.timings[label] = {
            seconds, changes: changes.length, slowest: events.slowest(10), availability,
            writes: { ...writes, acknowledged: writes.acknowledged.length, missing: missing.length },
        };
        assert.deepEqual(missing, [], `${missing.length} acknowledged writes lost`);
        assert.ok(writes.acknowledged.length > 100, `only ${writes.acknowledged.length} writes acknowledged: nothing was measured`);
        assert.ok(writes.failed <= Math.floor(RESIZE_BOUND.maxGapSeconds / WRITE_EVERY_SECONDS), `${writes.failed} writes failed`);
        assert.deepEqual(changes.filter(c => /^(create|replace|delete) kdw-worker-\d+-machine$/.test(c)), [],
            "a worker's machine changed: the workers keep their machines through a resize");
        await assertAvailable(availability, RESIZE_BOUND, `the resize (${label})`, controllers);
        return { seconds, changes, summary: `pulumi up ${seconds.toFixed(0)}s, ${changes.length} changes; ` +
            `${describeWrites(writes, writes.acknowledged.length - missing.length)}; ${describeAvailability(availability)}` };
    } finally {
        await writer.stop();
        await poller.stop();
        await kubectl("delete", "configmaps", "-l", `${WRITER_LABEL}=${prefix}`, "--wait=false").catch(() => undefined);
    }
}

/** etcd's members are exactly `n` controllers, each started and voting, healthy with quorum. */
async function assertMembers(n: number) {
    const members = await etcdMembers(controllers[0]);
    assert.deepEqual(members.map(m => m.name).sort(), controllerNames(n), `members: ${JSON.stringify(members)}`);
    assert.deepEqual(members.filter(m => m.status !== "started" || m.learner), [], "members not started, or learners");
    await etcdHealthy(60);
    return members;
}

report.run(async () => {
    const stack = await clusterStack(report);
    await ensureWorkloads();

    await report.check("the e2e cluster gives up its third worker for the resize: 3 controllers + 2 workers", async () => {
        writeConfig(2);
        await stack.up({ onOutput: line => process.stdout.write(`     | ${line}`) });
        await expectReady(workerNames(2), 120);
    });

    await report.check(`3→5 controllers: pulumi up joins two etcd members (5 voting, no learner), runs the control plane and ` +
        `kube-vip on both; the API answers through the VIP with gaps of at most ${RESIZE_BOUND.maxGapSeconds}s; no ` +
        "acknowledged write lost; the kubernetes Service lists 5 apiservers; then no change to preview", async () => {
        writeResized(GROWN);
        const up = await resize(stack, "grow");
        const members = await assertMembers(5);
        await eventually(60, async () => assert.deepEqual(await apiEndpoints(), GROWN.map(i => hosts[i].ip).sort()));
        for (const i of [5, 6]) {
            const running = await ssh(hosts[i], "docker ps --format '{{.Names}}' | sort");
            for (const name of ["kdw-etcd", "kdw-kube-apiserver", "kdw-kube-controller-manager", "kdw-kube-scheduler", "kdw-kube-vip"]) {
                assert.match(running, new RegExp(`^${name}$`, "m"), `${name} does not run on host ${i}`);
            }
        }
        await expectReady(workerNames(2), 120);
        await stack.preview({ expectNoChanges: true });
        return `${up.summary}; members ${members.map(m => m.name).join(", ")}`;
    });

    await report.check(`5→3 controllers with etcd's leader on a controller that leaves: pulumi up hands leadership over and ` +
        `removes both members (3 voting), takes the two controllers down to nothing; gaps at most ${RESIZE_BOUND.maxGapSeconds}s; ` +
        "no acknowledged write lost; the kubernetes Service lists 3 apiservers; then no change to preview", async () => {
        const before = await etcdMembers(controllers[0]);
        const leaving = before.find(m => m.name === "kdw-controller-4");
        assert.ok(leaving, `no member kdw-controller-4 in ${JSON.stringify(before)}`);
        const all = GROWN.map(i => `https://${hosts[i].ip}:2379`).join(",");
        await etcdctl(controllers[0], `move-leader ${leaving.id}`, all);
        writeResized([0, 1, 2]);
        const up = await resize(stack, "shrink");
        const members = await assertMembers(3);
        assert.ok(!members.some(m => m.id === leaving.id), "the leader that left is still a member");
        await eventually(60, async () => assert.deepEqual(await apiEndpoints(), [0, 1, 2].map(i => hosts[i].ip).sort()));
        for (const i of [5, 6]) {
            assert.equal((await ssh(hosts[i], leftoversOn(hosts[i]))).trim(), "", `host ${i} keeps some of the cluster`);
        }
        await expectReady(workerNames(2), 120);
        await stack.preview({ expectNoChanges: true });
        return `${up.summary}; members ${members.map(m => m.name).join(", ")}`;
    });

    await report.check("an etcd member the stack does not declare, as a failed resize leaves one (a voting member added " +
        "at host 6's address, never started), and the third worker back: pulumi up finds the member as it starts and " +
        "runs the membership step, which removes it; 3 started voting members, the added one gone; 3 controllers + 3 " +
        "workers, all Ready; then no change to preview", async () => {
        const all = [0, 1, 2].map(i => `https://${hosts[i].ip}:2379`).join(",");
        const added = await etcdctl(controllers[0], `member add kdw-controller-4 --peer-urls=https://${hosts[6].ip}:2380`, all);
        const id = /Member ([0-9a-f]+) added/.exec(added)?.[1];
        assert.ok(id, `no member added: ${added}`);
        assert.equal((await etcdMembers(controllers[0])).length, 4);
        writeConfig(3);
        const events = engineEvents();
        let output = "";
        await stack.up({ onEvent: events.onEvent, onOutput: line => { output += line; process.stdout.write(`     | ${line}`); } });
        const changes = events.changes().map(s => `${s.op} ${s.name}`);
        assert.ok(changes.includes("update etcd-membership-members"), `the membership step did not run: ${changes.join(", ")}`);
        assert.match(output, new RegExp(`has 1 member\\(s\\) at no declared controller's address and no machine the stack records: \\(not started\\) ${id} at `));
        const members = await assertMembers(3);
        assert.ok(!members.some(m => m.id === id), "the undeclared member is still there");
        await expectReady(workerNames(3), 180);
        await ensureWorkloads();
        await stack.preview({ expectNoChanges: true });
        return `member ${id} added by hand, removed by pulumi up (${changes.length} changes)`;
    });
});
