// Kubernetes' whole conformance suite, as a certified distribution runs it: every [Conformance] test of the pinned
// release's e2e.test, [Serial] and [Disruptive] included (the Ginkgo CLI runs the serial ones alone, after the others),
// on the e2e cluster of the set of test hosts, brought up if there is none; the suite's destroy scenario removes it.
// Hours on this machine, so not in CI (docs/testing.md has its tally).
//
//   source scripts/env.sh && npm run hosts:up -- 7 --boot2docker 2,5 && npm run conformance
import * as path from "node:path";
import { WHOLE_CONFORMANCE_FOCUS } from "../conformance";
import { conformanceScenario } from "../conformanceRun";
import { ROOT } from "../harness";

const { kubernetes } = require(path.join(ROOT, "versions.json")) as { kubernetes: string };

conformanceScenario("whole-conformance", {
    title: `Kubernetes' whole conformance suite (every [Conformance] test of e2e.test ${kubernetes}, Serial and Disruptive included)`,
    focus: WHOLE_CONFORMANCE_FOCUS, timeoutMinutes: 360,
});
