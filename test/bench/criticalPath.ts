// The critical-path bound of a deployment, from its state and the engine's per-resource wall times: what `up` would take
// with unlimited parallelism. Used by `npm run bench`; pure, so it is unit-tested.

export interface StateResource {
    urn: string;
    custom: boolean;
    parent?: string;
    dependencies?: string[];
}

/**
 * The critical-path bound: the longest chain of custom resources, each weighted by its own wall time, following the
 * dependencies recorded in the state (a dependency on a component stands for all the custom resources under it).
 */
export function criticalPath(resources: StateResource[], seconds: Map<string, number>): number {
    const children = new Map<string, string[]>();
    for (const r of resources) {
        if (r.parent) {
            children.set(r.parent, [...(children.get(r.parent) ?? []), r.urn]);
        }
    }
    const customUnder = (urn: string): string[] => {
        const r = resources.find(x => x.urn === urn);
        return [...(r?.custom ? [urn] : []), ...(children.get(urn) ?? []).flatMap(customUnder)];
    };
    const byUrn = new Map(resources.map(r => [r.urn, r]));
    const memo = new Map<string, number>();
    const finish = (urn: string): number => {
        if (memo.has(urn)) {
            return memo.get(urn)!;
        }
        memo.set(urn, 0);
        const deps = (byUrn.get(urn)?.dependencies ?? []).flatMap(customUnder);
        const value = (seconds.get(urn) ?? 0) + Math.max(0, ...deps.map(finish));
        memo.set(urn, value);
        return value;
    };
    return Math.max(0, ...resources.filter(r => r.custom).map(r => finish(r.urn)));
}

