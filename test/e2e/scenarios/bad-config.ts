// Bad configs are rejected by `pulumi preview` with the key named, before any host is made: on a stack of their own
// (e2e-bad-config), so that this runs whatever the e2e cluster's state.
import * as assert from "node:assert/strict";
import { rmSync } from "node:fs";
import * as path from "node:path";
import { assertTestHosts, controllers, noMachine, workspace } from "../e2eCluster";
import { freshStack, ROOT } from "../harness";
import { Scenario } from "../scenario";
import { machineStorage, objectStore, writeStackConfig } from "../stackConfig";

const STACK = "e2e-bad-config";
const report = new Scenario("bad-config");

const BAD: [string, Record<string, unknown>, RegExp][] = [
    ["an even controller count", { controllers: 2 }, /kube-dumb-way:controllers must be odd/],
    ["overlapping pod and service ranges", { serviceCidr: "10.200.8.0/24" }, /kube-dumb-way:serviceCidr 10\.200\.8\.0\/24 overlaps clusterCidr/],
    ["a DNS IP outside the service range", { clusterDns: "10.99.0.10" }, /kube-dumb-way:clusterDns 10\.99\.0\.10 is outside serviceCidr/],
    ["a virtual IP that a host has", { apiServerVip: controllers[1].ip }, /kube-dumb-way:apiServerVip \S+ is the address of genericHosts\[1\]/],
    // docker-machine would look for the plugin only when it makes the first machine, after the certificates.
    ["a driver docker-machine cannot find", { machineDriver: "kvm" },
        /kube-dumb-way:machineDriver is "kvm", which is not one of docker-machine's own drivers, and its plugin, docker-machine-driver-kvm, is not on this machine's PATH/],
    ["the API on etcd's port", { apiServerPort: 2379 }, /kube-dumb-way:apiServerPort is 2379, which the cluster uses for etcd's client and peer ports/],
    // The set's own object store, its secret key written in the stack's file as plain text.
    ["an object store's secret key not set as a secret", { etcdSnapshotStore: { ...objectStore() } },
        /kube-dumb-way:etcdSnapshotStore holds secretAccessKey in the stack's config in plain text; set it as a secret/],
];

report.run(async () => {
    assertTestHosts();
    const ws = await workspace(STACK);
    const stack = await freshStack(ws, STACK, machineStorage(STACK));
    try {
        for (const [what, extra, message] of BAD) {
            await report.check(`bad config rejected: ${what}`, async () => {
                writeStackConfig(STACK, 3, extra);
                let rejected: Error | undefined;
                try {
                    await stack.preview();
                } catch (err) {
                    rejected = err as Error;
                }
                assert.ok(rejected, "preview accepted the config");
                assert.match(rejected.message, message);
                await noMachine(STACK);
            });
        }
    } finally {
        await ws.removeStack(STACK, { force: true });
        rmSync(path.join(ROOT, `Pulumi.${STACK}.yaml`), { force: true });
    }
});
