// Which of Kubernetes' conformance tests the standards suite runs, and how their Ginkgo report is tallied. Pure, so
// the unit tests read it directly.

/** The conformance tests this suite runs: every [Conformance] test of sig-network (DNS and Services among them). */
export const CONFORMANCE_FOCUS = String.raw`\[sig-network\].*\[Conformance\]`;

/**
 * Selected tests that cannot pass here for a reason outside the cluster, by a regular expression of their name, with
 * the reason (the README lists them). They are skipped by name and counted as skipped, never as passed.
 */
export const CONFORMANCE_CANNOT_PASS_HERE: Record<string, string> = {};

interface SpecReport {
    ContainerHierarchyTexts: string[] | null;
    LeafNodeText: string;
    State: string;
    RunTime: number;
    Failure?: { Message: string };
}

export interface ConformanceTally {
    passed: number;
    failed: number;
    skipped: number;
    notPassing: { name: string; state: string; why: string }[];
    seconds: number;
}

/** Tallies the selected specs of a Ginkgo JSON report; a spec the run never reached counts as failed. */
export function tallyConformance(json: string, focus: RegExp): Omit<ConformanceTally, "seconds"> {
    const specs = (JSON.parse(json) as { SpecReports: SpecReport[] | null }[]).flatMap(s => s.SpecReports ?? [])
        .map(s => ({ ...s, name: [...(s.ContainerHierarchyTexts ?? []), s.LeafNodeText].join(" ") }))
        .filter(s => s.LeafNodeText && focus.test(s.name));
    const known = (name: string) => Object.entries(CONFORMANCE_CANNOT_PASS_HERE).find(([re]) => new RegExp(re).test(name))?.[1];
    const notPassing = specs.filter(s => s.State !== "passed").map(s => ({
        name: s.name, state: s.State,
        why: s.State === "skipped" ? known(s.name) ?? "skipped by the test itself" : (s.Failure?.Message ?? "").split("\n")[0],
    }));
    return {
        passed: specs.filter(s => s.State === "passed").length,
        failed: specs.filter(s => s.State !== "passed" && s.State !== "skipped").length,
        skipped: specs.filter(s => s.State === "skipped").length,
        notPassing,
    };
}
