// sig-network's NetworkPolicy tests of the pinned release's e2e.test ([Feature:NetworkPolicy]: what a policy must allow
// and deny, probed between pods of three namespaces on every worker; kube-router's policy controller enforces them),
// on the e2e cluster of the set of test hosts, brought up if there is none. In the standards suite after its own
// selection; not in CI's default run, whose 90 minutes they do not fit on a machine of this kind (`.ci/run --full`
// runs them; docs/testing.md).
//
//   source scripts/env.sh && npm run hosts:up -- 7 --boot2docker 2,5 && npm run e2e:netpol
import * as path from "node:path";
import { NETWORK_POLICY_FOCUS } from "../conformance";
import { conformanceScenario } from "../conformanceRun";
import { ROOT } from "../harness";

const { kubernetes } = require(path.join(ROOT, "versions.json")) as { kubernetes: string };

conformanceScenario("netpol-conformance", {
    title: `conformance: sig-network's NetworkPolicy tests ([Feature:NetworkPolicy], e2e.test ${kubernetes})`,
    focus: NETWORK_POLICY_FOCUS, timeoutMinutes: 120,
});
