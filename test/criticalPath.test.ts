import * as assert from "node:assert/strict";
import { test } from "node:test";
import { criticalPath, longestChain } from "./bench/criticalPath";

type Resource = Parameters<typeof criticalPath>[0][number];

/** Each case: the resources as the state records them, their own wall times, the critical path's length and chain. */
const CASES: { name: string; seconds: Record<string, number>; resources: Resource[]; total: number; chain: string[] }[] = [
    {
        // a → b → d and a → c → d: the chain through b is the longer one; e has no time of its own.
        name: "the longest chain of custom resources by their own wall times",
        seconds: { a: 2, b: 5, c: 1, d: 4 },
        resources: [
            { urn: "a", custom: true }, { urn: "b", custom: true, dependencies: ["a"] },
            { urn: "c", custom: true, dependencies: ["a"] }, { urn: "d", custom: true, dependencies: ["b", "c"] },
            { urn: "e", custom: true },
        ],
        total: 11, chain: ["a", "b", "d"],
    },
    {
        name: "a dependency on a component waits for every custom resource under it",
        seconds: { slow: 9, fast: 1, after: 2 },
        resources: [
            { urn: "comp", custom: false }, { urn: "inner", custom: false, parent: "comp" },
            { urn: "fast", custom: true, parent: "comp" }, { urn: "slow", custom: true, parent: "inner" },
            { urn: "after", custom: true, dependencies: ["comp"] },
        ],
        total: 11, chain: ["slow", "after"],
    },
    {
        name: "a resource waits for its provider, which the state records apart from its dependencies",
        seconds: { controlPlane: 30, provider: 1, node: 2, other: 5 },
        resources: [
            { urn: "controlPlane", custom: true }, { urn: "provider", custom: true, dependencies: ["controlPlane"] },
            { urn: "node", custom: true, provider: "provider::0d1e2f" }, { urn: "other", custom: true },
        ],
        total: 33, chain: ["controlPlane", "provider", "node"],
    },
    {
        name: "a child waits for what its parent component depends on, which the state records on the parent",
        seconds: { etcd: 20, install: 10, fast: 1 },
        resources: [
            { urn: "etcdMember", custom: false }, { urn: "etcd", custom: true, parent: "etcdMember" },
            { urn: "controlPlane", custom: false, dependencies: ["etcdMember"] },
            { urn: "install", custom: true, parent: "controlPlane", dependencies: ["fast"] }, { urn: "fast", custom: true },
        ],
        total: 30, chain: ["etcd", "install"],
    },
];

for (const c of CASES) {
    test(`critical path: ${c.name}`, () => {
        const seconds = new Map(Object.entries(c.seconds));
        assert.equal(criticalPath(c.resources, seconds), c.total);
        assert.deepEqual(longestChain(c.resources, seconds).chain, c.chain);
    });
}
