// Kubernetes' whole conformance suite, as a certified distribution runs it: every [Conformance] test of the pinned
// release's e2e.test, [Serial] and [Disruptive] included (the Ginkgo CLI runs the serial ones alone, after the others),
// on the e2e cluster of the set of test hosts (3+3, a controller and a worker of the boot2docker kind), brought up if
// there is none; the suite's destroy scenario removes it. Hours on this machine, so not in CI (docs/testing.md has
// its tally); the tally and every test that did not pass, with why, are in .cache/e2e/whole-conformance.json.
//
//   source scripts/env.sh && npm run hosts:up -- 7 --boot2docker 2,5 && npm run conformance
import * as path from "node:path";
import { CONFORMANCE_PROCS, WHOLE_CONFORMANCE_FOCUS } from "../conformance";
import { assertEveryTestPassed, runConformance, tallyLine } from "../conformanceRun";
import { clusterStack, kubeconfigPath } from "../e2eCluster";
import { ROOT, WORK } from "../harness";
import { Scenario } from "../scenario";

const report = new Scenario("whole-conformance");
const { kubernetes } = require(path.join(ROOT, "versions.json")) as { kubernetes: string };

report.run(async () => {
    await clusterStack(report);
    await report.check(`Kubernetes' whole conformance suite (every [Conformance] test of e2e.test ${kubernetes}, Serial and ` +
        "Disruptive included): every test Ginkgo's dry run selects ran and passed", async () => {
        const run = await runConformance({
            kubeconfigPath, focus: WHOLE_CONFORMANCE_FOCUS, procs: CONFORMANCE_PROCS,
            dir: path.join(WORK, "whole-conformance"), timeoutMinutes: 360,
        });
        report.timings.dryRun = { willRun: run.dryRun.willRun, total: run.dryRun.total };
        report.timings.conformance = run.tally;
        assertEveryTestPassed(run);
        return `${tallyLine(run.tally)} in ${run.tally.seconds}s (dry run: Ran ${run.dryRun.willRun} of ${run.dryRun.total} Specs)`;
    });
});
