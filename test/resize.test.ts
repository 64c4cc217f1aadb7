// A control plane that changes size: the machines the cluster runs keep their nodes (genericHosts gives its entries in
// order, so a new controller count with the list unchanged would move workers onto other nodes' machines), refused by
// the program's entry before it registers anything but the read of its own outputs; an edited list is taken.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MachineRecord, movedMachineProblems } from "../host/identity";
import { fakeBinaryFolder, named, ProgramRun, promiseOf, reveal, runProgram } from "./program";

const key = path.join(os.tmpdir(), "kdw-resize-test-key");
writeFileSync(key, "not a key: only its path is used\n");
const address = (i: number) => `192.168.99.${10 + i}`;
const host = (i: number) => ({ address: address(i), sshUser: "root", sshKeyPath: key });
const record = (ip: string): MachineRecord => ({ ip, sshUser: "root", sshKeyPath: key, sshPort: 22, id: `${ip}-id`, replaces: "" });
// 3 controllers and 2 workers running on hosts 0-4.
const running: Record<string, MachineRecord> = {
    "kdw-controller-0": record(address(0)), "kdw-controller-1": record(address(1)), "kdw-controller-2": record(address(2)),
    "kdw-worker-0": record(address(3)), "kdw-worker-1": record(address(4)),
};
const plan = (controllers: number[], workers: number[]) => [
    ...controllers.map((h, i) => ({ name: `kdw-controller-${i}`, address: address(h) })),
    ...workers.map((h, i) => ({ name: `kdw-worker-${i}`, address: address(h) })),
];

test("resize: every node keeping its machine's address passes, grown or shrunk, and nodes new or without an address pass", () => {
    assert.deepEqual(movedMachineProblems(running, plan([0, 1, 2], [3, 4])), []);
    assert.deepEqual(movedMachineProblems(running, plan([0, 1, 2, 5, 6], [3, 4])), []);
    assert.deepEqual(movedMachineProblems(running, plan([0], [3, 4])), []);
    assert.deepEqual(movedMachineProblems(running, [{ name: "kdw-worker-0" }]), []);
    assert.deepEqual(movedMachineProblems({}, plan([0, 1, 2, 3, 4], [5, 6])), []);
});

test("resize: a list left as it was when controllers grow gives workers' machines to new controllers: each move named, with the way out", () => {
    // controllers 5 over the same seven entries: controller-3 and -4 get the workers' machines, the workers new ones.
    const problems = movedMachineProblems(running, plan([0, 1, 2, 3, 4], [5, 6]));
    assert.equal(problems.length, 2);
    assert.match(problems[0], /^kube-dumb-way:genericHosts gives 192\.168\.99\.13 to kdw-controller-3, but it is the machine of kdw-worker-0, which the cluster runs there\. /);
    assert.match(problems[1], /gives 192\.168\.99\.14 to kdw-controller-4, but it is the machine of kdw-worker-1/);
    assert.match(problems[0], /when the count of controllers changes, edit it so that every running node keeps its address/);
    // controllers 1 with the list unchanged: the workers would take controller-1's and -2's machines.
    assert.deepEqual(movedMachineProblems(running, plan([0], [1, 2])).map(p => p.split(", but")[0]),
        ["kube-dumb-way:genericHosts gives 192.168.99.11 to kdw-worker-0", "kube-dumb-way:genericHosts gives 192.168.99.12 to kdw-worker-1"]);
});

test("resize entry: 3 controllers running, 5 asked for over an unchanged genericHosts list: refused before anything is registered", async () => {
    const { error, resources } = await runProgram({
        binarySource: fakeBinaryFolder(), controllers: 5, workers: 2, machineDriver: "generic",
        genericHosts: [0, 1, 2, 3, 4, 5, 6].map(host),
    }, undefined, { kubernetesVersion: "v1.37.2", machines: running });
    assert.match(error?.message ?? "", /^Refused \(nothing was changed\): kube-dumb-way:genericHosts gives 192\.168\.99\.13 to kdw-controller-3, but it is the machine of kdw-worker-0/);
    assert.deepEqual(resources.map(r => r.type), ["pulumi:pulumi:StackReference"]);
});

test("resize: 5 controllers, the new ones' entries after the others': every member declared to etcd's membership step, " +
    "which heads the etcd roll; the new members start with the whole list (etcd.sh joins them to the running cluster)", async () => {
    const { error, resources } = await runProgram({
        binarySource: fakeBinaryFolder(), controllers: 5, workers: 2, machineDriver: "generic",
        genericHosts: [0, 1, 2, 5, 6, 3, 4].map(host),
    });
    assert.equal(error, undefined);
    const step = named(resources, "etcd-membership-members");
    const peers = /KDW_ETCD_PEERS=(\S+) /.exec(reveal(step.inputs.create) as string)?.[1].split(",");
    assert.deepEqual(peers, [0, 1, 2, 5, 6].map(h => `https://${address(h)}:2380`));
    // The workers keep their machines: the entries after the controllers'.
    assert.match(JSON.stringify(named(resources, "kdw-worker-0-machine").inputs), /192\.168\.99\.13/);
    assert.match(JSON.stringify(named(resources, "kdw-controller-3-machine").inputs), /192\.168\.99\.15/);
    assert.ok(named(resources, "kdw-controller-0-etcd-roll").dependencies.includes(step.urn));
    // A new member's install starts from the whole declared list; etcd.sh swaps in the running cluster's own list when
    // it joins (tested on the hosts by the resize scenario).
    const initialCluster = [0, 1, 2, 5, 6].map((h, i) => `kdw-controller-${i}=https://${address(h)}:2380`).join(",");
    for (const i of [3, 4]) {
        assert.match(reveal(named(resources, `kdw-controller-${i}-etcd-install`).inputs.create) as string,
            new RegExp(`--initial-cluster=${initialCluster.replace(/\./g, "\\.")} `));
    }
});

test("resize: an etcd member found at no declared controller's address goes to the membership step (a change, so it " +
    "runs and removes it, though the declared members are as its record says), and the output records it once the step " +
    "ran; none found: no such variable, so a stack recorded before sees no change", async () => {
    const config = { binarySource: fakeBinaryFolder(), controllers: 3, workers: 2, machineDriver: "generic", genericHosts: [0, 1, 2, 3, 4].map(host) };
    const found = await runProgram(config, undefined, undefined, "./fixtures/undeclared");
    assert.equal(found.error, undefined);
    const env = (run: ProgramRun) => reveal(named(run.resources, "etcd-membership-members").inputs.create) as string;
    assert.match(env(found), / KDW_ETCD_UNDECLARED=a1b2c3d4e5f60718=https:\/\/192\.168\.99\.15:2380 /);
    assert.equal(await promiseOf(found.outputs.etcdUndeclaredMembersRemoved), "a1b2c3d4e5f60718=https://192.168.99.15:2380");
    const none = await runProgram(config);
    assert.doesNotMatch(env(none), / KDW_ETCD_UNDECLARED=/);
    assert.equal(await promiseOf(none.outputs.etcdUndeclaredMembersRemoved), "");
    // Nothing else differs: the step's command but for the variable, and every other resource's inputs.
    assert.equal(env(found).replace(/ KDW_ETCD_UNDECLARED=\S+/, ""), env(none));
    const inputs = (run: ProgramRun) => run.resources.filter(r => r.name !== "etcd-membership-members")
        .map(r => `${r.type} ${r.name} ${JSON.stringify(r.inputs)}`).sort();
    assert.deepEqual(inputs(found), inputs(none));
});
