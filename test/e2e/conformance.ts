// Which of Kubernetes' conformance tests the standards suite runs, and how their Ginkgo reports are read. Pure, so
// the unit tests read it directly.

/**
 * The tests the standards suite runs (in CI): every [Conformance] test of sig-network (DNS and Services among them);
 * sig-api-machinery's [Conformance] tests of admission and CRD conversion webhooks and of the aggregation layer (the
 * apiservers reach a webhook's or an aggregated API server's pods by their addresses, with no kube-proxy on the
 * controllers); sig-auth's discovery of the service-account issuer (OIDC), which a pod reaches through the clients'
 * endpoint; and a slice of the workloads' own: sig-apps' Deployment and ReplicaSet, sig-node's Pods [Conformance] tests.
 */
export const CONFORMANCE_FOCUS = [
    String.raw`\[sig-network\].*\[Conformance\]`,
    String.raw`\[sig-api-machinery\] (AdmissionWebhook|CustomResourceConversionWebhook|Aggregator) .*\[Conformance\]`,
    String.raw`\[sig-auth\] ServiceAccounts ServiceAccountIssuerDiscovery .*\[Conformance\]`,
    String.raw`\[sig-apps\] (Deployment|ReplicaSet) .*\[Conformance\]`,
    String.raw`\[sig-node\] Pods .*\[Conformance\]`,
].join("|");

/**
 * sig-network's NetworkPolicy tests (Netpol, [Feature:NetworkPolicy]: what a policy must allow and deny, probed between
 * pods of three namespaces on every worker), a suite of their own (`npm run e2e:netpol`, and in `.ci/run --full`): on the
 * machine of 2026-12-06 they were two thirds of the conformance run's time (4794 of 7583 Ginkgo process-seconds), more
 * than CI's 90 minutes leave once every other suite has run. The e2e suite's own NetworkPolicy check (a default-deny
 * and an allow policy on every worker) runs in CI.
 */
export const NETWORK_POLICY_FOCUS = String.raw`\[sig-network\].*\[Feature:NetworkPolicy\]`;

/**
 * Selected tests that cannot pass here for a reason outside the cluster, by a regular expression of their name, with
 * the reason (docs/testing.md lists them). They are skipped by name and counted as skipped, never as passed.
 */
export const CONFORMANCE_CANNOT_PASS_HERE: Record<string, string> = {
    [String.raw`\[Feature:SCTPConnectivity\]`]: "the test hosts share this machine's kernel, built without SCTP " +
        "(CONFIG_IP_SCTP is not set in /proc/config.gz): no pod can open an SCTP socket",
};

/**
 * Why the tests that run agnhost:2.55 (the suite's AgnhostPrev) are left out: 2.55 is no release's own agnhost, so
 * no module the proxy serves builds it (checked 2026-12-04: k8s.io/kubernetes v1.33.6 carries agnhost 2.53 and v1.34.0
 * 2.56 in test/images/agnhost/VERSION; 2.55 was built from a commit between them, and the proxy refuses versions that
 * are not releases). Another agnhost tagged 2.55 would be a stand-in, which scripts/images.sh refuses.
 */
const AGNHOST_PREVIOUS_REASON = "its pods run agnhost:2.55, which no Kubernetes release's tree builds (v1.33.6 has 2.53, " +
    "v1.34.0 2.56) and so no module the proxy serves; the toolchain builds the release's own, 2.66.1";

/**
 * Tests of the focus left out of the selection for now, by a regular expression of their name, with the reason
 * (docs/testing.md lists them): never run, so counted neither as run nor as skipped.
 */
export const CONFORMANCE_LEFT_OUT: Record<string, string> = {
    [String.raw`\[sig-apps\] Deployment (RecreateDeployment should delete old pods and create new ones|should run the lifecycle of a Deployment) `]:
        AGNHOST_PREVIOUS_REASON,
    [String.raw`\[sig-node\] Pods should run through the lifecycle of Pods and PodStatus `]:
        AGNHOST_PREVIOUS_REASON,
    // Every StatefulSet of these tests is e2estatefulset.NewStatefulSet's (test/e2e/framework/statefulset/fixtures.go),
    // whose pods run AgnhostPrev: in the whole run of 2026-12-05 each of the 8 waited for pods that never pulled.
    [String.raw`\[sig-apps\] StatefulSet Basic StatefulSet functionality \[StatefulSetBasic\] `]: AGNHOST_PREVIOUS_REASON,
    // It rolls the DaemonSet's pods to AgnhostPrev and waits for them (test/e2e/apps/daemon_set.go): in the whole run of
    // 2026-12-05 it ran out of time waiting, the suite's one failure.
    [String.raw`\[sig-apps\] Daemon set should update pod when spec was updated and update strategy is RollingUpdate `]:
        AGNHOST_PREVIOUS_REASON,
    // The test mounts kitten as an image volume and reads it: data.json was read (its first expectation held in the
    // whole run of 2026-12-05), then it expects /etc/os-release to say "Alpine Linux", the base of upstream's image.
    [String.raw`\[sig-node\] ImageVolume should succeed with pod and pull policy of Always `]: "it expects the kitten " +
        "image's /etc/os-release to say Alpine Linux, upstream's base image, which no registry here serves (the " +
        "project's kitten carries the release's own files on Debian's); the image volume itself mounts and reads",
};

/**
 * Kubernetes' whole conformance suite, as a certified distribution runs it (`npm run conformance`): every [Conformance]
 * test, [Serial] and [Disruptive] included. Too long for CI on this machine; its tally is in docs/testing.md.
 */
export const WHOLE_CONFORMANCE_FOCUS = String.raw`\[Conformance\]`;

/**
 * The Ginkgo arguments that select the tests of `focus` (the standards suite's by default): the same for the dry run
 * that counts them and the run itself.
 */
export function conformanceSelection(focus = CONFORMANCE_FOCUS): string[] {
    const skip = [...Object.keys(CONFORMANCE_CANNOT_PASS_HERE), ...Object.keys(CONFORMANCE_LEFT_OUT)];
    return [`--ginkgo.focus=${focus}`, ...(skip.length ? [`--ginkgo.skip=${skip.join("|")}`] : [])];
}

/**
 * Ginkgo processes the run is spread over, as sonobuoy and hydrophone run the suite (Ginkgo runs the [Serial] tests
 * alone, after the others): much of a test's time goes to waiting on pods and on probes between them, so more
 * processes than this machine's two cores.
 */
export const CONFORMANCE_PROCS = 4;

/** The same selection as the Ginkgo CLI's flags (e2e.test's own without their `ginkgo.` prefix). */
export function ginkgoCliSelection(focus = CONFORMANCE_FOCUS): string[] {
    return conformanceSelection(focus).map(arg => arg.replace(/^--ginkgo\./, "--"));
}

interface SpecReport {
    ContainerHierarchyTexts: string[] | null;
    LeafNodeType?: string;
    LeafNodeText: string;
    State: string;
    RunTime: number;
    Failure?: { Message: string };
}

interface SuiteReport {
    SuiteConfig?: { DryRun?: boolean };
    PreRunStats?: { TotalSpecs: number; SpecsThatWillRun: number };
    SpecReports: SpecReport[] | null;
}

/** The tests (Ginkgo's `It` specs, not its suite set-up nodes) of a JSON report, by full name. */
function specsOf(json: string): (SpecReport & { name: string })[] {
    return (JSON.parse(json) as SuiteReport[]).flatMap(s => s.SpecReports ?? [])
        .filter(s => (s.LeafNodeType ?? "It") === "It" && s.LeafNodeText)
        .map(s => ({ ...s, name: [...(s.ContainerHierarchyTexts ?? []), s.LeafNodeText].join(" ") }));
}

/** What Ginkgo's dry run of the selection says would run: the tests' names, and Ginkgo's own "Ran N of M Specs". */
export interface DryRun { names: string[]; willRun: number; total: number }

/**
 * Reads a dry run (`e2e.test --ginkgo.dry-run` with the run's selection): its JSON report, whose tests that would run
 * are reported passed and the others skipped, and its output's "Ran N of M Specs" line. Throws when the two disagree,
 * when the report is not a dry run's, or when nothing would run.
 */
export function readDryRun(json: string, output: string): DryRun {
    const suites = JSON.parse(json) as SuiteReport[];
    if (!suites.length || suites.some(s => s.SuiteConfig?.DryRun !== true)) {
        throw new Error("the dry run's report is not a dry run's (SuiteConfig.DryRun is not true)");
    }
    const names = specsOf(json).filter(s => s.State === "passed").map(s => s.name).sort();
    const ran = /Ran (\d+) of (\d+) Specs/.exec(output);
    if (!ran) {
        throw new Error("the dry run printed no \"Ran N of M Specs\" line");
    }
    const [willRun, total] = [Number(ran[1]), Number(ran[2])];
    const preRun = suites.reduce((n, s) => n + (s.PreRunStats?.SpecsThatWillRun ?? 0), 0);
    if (names.length !== willRun || preRun !== willRun) {
        throw new Error(`the dry run disagrees with itself: "Ran ${willRun} of ${total} Specs", ` +
            `${preRun} in its report's PreRunStats, ${names.length} tests reported as would-run`);
    }
    if (willRun === 0) {
        throw new Error(`the dry run selects no test of ${total}: review CONFORMANCE_FOCUS for this release`);
    }
    return { names, willRun, total };
}

export interface ConformanceTally {
    /** Tests Ginkgo's dry run of the selection says would run. */
    selected: number;
    /** Tests the run ran (reported in any state but skipped); of those, passed and failed (any other state). */
    ran: number;
    passed: number;
    failed: number;
    /**
     * Tests the run skipped that the dry run selected (a test that skipped itself) or that cannot pass here (skipped by
     * name); and selected tests its report lacks.
     */
    skipped: number;
    missing: string[];
    /** Tests the run ran that the dry run did not select. */
    unexpected: string[];
    notPassing: { name: string; state: string; why: string }[];
    seconds: number;
}

/**
 * Tallies a run's Ginkgo JSON report against the dry run of the same selection (`focus`): every test the report says
 * ran counts, as Ginkgo reports it (nothing is selected by name here), and each is matched by name to the dry run's; a
 * test of the focus that cannot pass here counts as skipped (the report lists every test of the binary, skipped or not).
 */
export function tallyConformance(json: string, dryRun: DryRun, focus: string): Omit<ConformanceTally, "seconds"> {
    const specs = specsOf(json);
    const selected = new Set(dryRun.names);
    const ran = specs.filter(s => s.State !== "skipped");
    const focused = new RegExp(focus);
    const known = (name: string) => (focused.test(name) || undefined) &&
        Object.entries(CONFORMANCE_CANNOT_PASS_HERE).find(([re]) => new RegExp(re).test(name))?.[1];
    const skipped = specs.filter(s => s.State === "skipped" && (selected.has(s.name) || known(s.name)));
    const reported = new Set(specs.map(s => s.name));
    return {
        selected: dryRun.willRun,
        ran: ran.length,
        passed: ran.filter(s => s.State === "passed").length,
        failed: ran.filter(s => s.State !== "passed").length,
        skipped: skipped.length,
        missing: dryRun.names.filter(n => !reported.has(n)),
        unexpected: ran.filter(s => !selected.has(s.name)).map(s => s.name),
        notPassing: [...ran.filter(s => s.State !== "passed"), ...skipped].map(s => ({
            name: s.name, state: s.State,
            why: s.State === "skipped" ? known(s.name) ?? "skipped by the test itself" : (s.Failure?.Message ?? "").split("\n")[0],
        })),
    };
}
