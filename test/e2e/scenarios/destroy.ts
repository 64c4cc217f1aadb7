// `pulumi destroy` of the e2e cluster: the stack empty, no machine in docker-machine's store, and nothing of ours left
// on any of the 7 test hosts.
import * as assert from "node:assert/strict";
import * as auto from "@pulumi/pulumi/automation";
import { assertTestHosts, hosts, noMachine, STACK, workspace, writeConfig } from "../e2eCluster";
import { destroyStack, ssh } from "../harness";
import { leftoversOn } from "../leftovers";
import { Scenario } from "../scenario";

const report = new Scenario("destroy");

report.run(async () => {
    assertTestHosts();
    const stack = await auto.Stack.createOrSelect(STACK, await workspace());
    await report.check("destroy: stack empty, no machine, nothing of ours left on the hosts", async () => {
        writeConfig(3);
        const seconds = await destroyStack(stack);
        report.timings.destroy = { seconds };
        await noMachine(STACK);
        for (const host of hosts.slice(0, 7)) {
            const leftovers = await ssh(host, leftoversOn(host));
            assert.equal(leftovers.trim(), "", `${host.name} still has: ${leftovers.trim()}`);
        }
        return `${seconds}s`;
    });
});
