// The critical-path bound of a deployment, from its state and the engine's per-resource wall times: what `up` would take
// with unlimited parallelism. Used by `npm run bench`; pure, so it is unit-tested.

export interface StateResource {
    urn: string;
    custom: boolean;
    parent?: string;
    dependencies?: string[];
    /** `<provider urn>::<id>`: a resource waits for its provider as for a dependency. */
    provider?: string;
}

/**
 * The longest chain of custom resources, each weighted by its own wall time, following the dependencies recorded in the
 * state (a dependency on a component stands for all the custom resources under it; a resource also waits for its
 * provider and for what its parents depend on): its length, the critical-path
 * bound (what `up` would take with unlimited parallelism), and its resources, first to last.
 */
export function longestChain(resources: StateResource[], seconds: Map<string, number>): { seconds: number; chain: string[] } {
    const children = new Map<string, string[]>();
    for (const r of resources) {
        if (r.parent) {
            children.set(r.parent, [...(children.get(r.parent) ?? []), r.urn]);
        }
    }
    const byUrn = new Map(resources.map(r => [r.urn, r]));
    const customUnder = (urn: string): string[] => {
        const r = byUrn.get(urn);
        return [...(r?.custom ? [urn] : []), ...(children.get(urn) ?? []).flatMap(customUnder)];
    };
    // What a resource waits for: its dependencies, its provider, and what its parents wait for (a child registers only
    // once its parent has, and a component registers only once what it depends on is done).
    const waitsFor = (r: StateResource | undefined): string[] => r === undefined ? [] : [
        ...(r.dependencies ?? []),
        ...(r.provider ? [r.provider.slice(0, r.provider.lastIndexOf("::"))] : []),
        ...(r.parent ? waitsFor(byUrn.get(r.parent)) : []),
    ];
    const memo = new Map<string, { finish: number; previous?: string }>();
    const finish = (urn: string): number => {
        const known = memo.get(urn);
        if (known) {
            return known.finish;
        }
        memo.set(urn, { finish: 0 });
        let previous: string | undefined;
        let start = 0;
        for (const dep of waitsFor(byUrn.get(urn)).flatMap(customUnder)) {
            const f = finish(dep);
            if (f > start) {
                start = f;
                previous = dep;
            }
        }
        const value = (seconds.get(urn) ?? 0) + start;
        memo.set(urn, { finish: value, previous });
        return value;
    };
    let last: string | undefined;
    let longest = 0;
    for (const r of resources.filter(x => x.custom)) {
        if (finish(r.urn) > longest) {
            longest = finish(r.urn);
            last = r.urn;
        }
    }
    const chain: string[] = [];
    for (let urn = last; urn !== undefined; urn = memo.get(urn)?.previous) {
        chain.unshift(urn);
    }
    return { seconds: longest, chain };
}

/** The critical-path bound alone. */
export const criticalPath = (resources: StateResource[], seconds: Map<string, number>): number =>
    longestChain(resources, seconds).seconds;
