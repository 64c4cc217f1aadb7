// Certificate renewal as a day-2 change: every leaf certificate made due at once, re-issued by `up` and rolled out
// one host at a time under a polled API (test/e2e/renewal.ts).
import { hostLayout } from "../../../render/layout";
import { ROLL_BOUND } from "../apiPoller";
import { clusterStack, controllers, etcdHealthy, expectReady, kubeconfigPath, workers, writeConfig } from "../e2eCluster";
import { ssh, workerNames } from "../harness";
import { certificateRenewal } from "../renewal";
import { Scenario } from "../scenario";

const report = new Scenario("renewal");

report.run(async () => {
    const stack = await clusterStack(report);
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
});
