// Runs end-to-end suites or single scenarios by name, one scenario file after another in the order given, through
// node:test: `node bin/test/e2e/run.js [suite or scenario]...` (scripts/e2e.sh builds first). Exits 1 unless at least
// one check ran and every check passed.
import { existsSync } from "node:fs";
import * as path from "node:path";
import { run } from "node:test";
import { summaryReporter, Tally } from "./reporter";

/**
 * The suites and their scenarios, in the order they run. The e2e's scenarios share one cluster (stack `e2e`): the
 * first that needs it brings it up (scenarios/e2eCluster.ts), so each also runs alone; `destroy` takes it down. The
 * standards, restore and resize suites run on the same kind of cluster (stack `e2e-<set>` on another set of test
 * hosts), so the three can run on one cluster: `standards+restore+resize` in one run, or, as CI does in a lane of its
 * own with `--full`, `restore+resize` and then `standards` on the cluster it leaves.
 */
const E2E = ["bad-config", "up", "cluster", "routes", "scale", "vip-loss", "reboot", "recovery", "snapshots", "renewal", "destroy"];

export const SUITES: Record<string, string[]> = {
    e2e: E2E,
    // CI's default run (.ci/run): the e2e suite but its certificate renewal, its longest scenario, which runs in CI's
    // other lane on the other set's cluster, after the restore and before the standards suite, so that the lanes end
    // together.
    "e2e-but-renewal": E2E.filter(name => name !== "renewal"),
    // Its other lane: the restore, then on the cluster it leaves the renewal, then the standards suite but its
    // NetworkPolicy tests, which destroys it (a name given to the runner is a suite's before it is a scenario's:
    // `restore` and `standards` alone are suites that end in `destroy`).
    "restore+renewal": ["restore", "renewal"],
    "standards-but-netpol": ["standards", "destroy"],
    restore: ["restore", "destroy"],
    // The control plane resized 3→5→3 on the e2e cluster.
    resize: ["resize", "destroy"],
    // Hours: not in CI (docs/testing.md has its tally). Kubernetes' whole conformance suite on the e2e cluster.
    conformance: ["whole-conformance", "destroy"],
    // CI's default run takes `standards-but-netpol`: the NetworkPolicy tests do not fit its 90 minutes (conformance.ts,
    // NETWORK_POLICY_FOCUS).
    standards: ["standards", "netpol-conformance", "destroy"],
    netpol: ["netpol-conformance", "destroy"],
    // The three on one cluster, one up and one destroy (neither the restore nor the resize needs a cluster of its own;
    // each leaves it 3+3).
    "standards+restore+resize": ["standards", "netpol-conformance", "restore", "resize", "destroy"],
    // CI's (--full): the restore and the resize while the toolchain builds what the standards suite needs, which then
    // runs on the cluster they leave and destroys it (`standards`).
    "restore+resize": ["restore", "resize"],
    upgrade: ["upgrade"],
    // Six VMs made by docker-machine's qemu driver (issue 24); its own stack and network, the registry of a hosts set.
    vms: ["vms"],
    interrupt: ["interrupt"],
};

const scenarioFile = (name: string) => path.join(__dirname, "scenarios", `${name}.js`);

/** The scenarios a run of these suite or scenario names runs, in order: a suite's name stands for its scenarios. */
export const scenariosOf = (asked: string[]): string[] => (asked.length > 0 ? asked : ["e2e"]).flatMap(n => SUITES[n] ?? [n]);

function main(): void {
    const names = scenariosOf(process.argv.slice(2));
    const unknown = names.filter(n => !existsSync(scenarioFile(n)));
    if (unknown.length > 0) {
        const known = Object.entries(SUITES).map(([suite, scenarios]) => `${suite} (${scenarios.join(", ")})`).join("; ");
        console.error(`no such suite or scenario: ${unknown.join(", ")}. Suites and their scenarios: ${known}`);
        process.exit(2);
    }
    const tally: Tally = { passed: 0, failed: 0 };
    const stream = run({ files: names.map(scenarioFile), concurrency: 1 }).compose(summaryReporter(tally));
    stream.pipe(process.stdout);
    stream.on("end", () => {
        process.exitCode = tally.failed === 0 && tally.passed > 0 ? 0 : 1;
    });
}

if (require.main === module) {
    main();
}
