import * as assert from "node:assert/strict";
import { test } from "node:test";
import { criticalPath, longestChain } from "./bench/criticalPath";

test("critical path: the longest chain of custom resources by their own wall times", () => {
    const seconds = new Map([["a", 2], ["b", 5], ["c", 1], ["d", 4]]);
    // a → b → d and a → c → d: the chain through b is the longer one; e has no time of its own.
    const resources = [
        { urn: "a", custom: true },
        { urn: "b", custom: true, dependencies: ["a"] },
        { urn: "c", custom: true, dependencies: ["a"] },
        { urn: "d", custom: true, dependencies: ["b", "c"] },
        { urn: "e", custom: true },
    ];
    assert.equal(criticalPath(resources, seconds), 11);
    assert.deepEqual(longestChain(resources, seconds).chain, ["a", "b", "d"]);
});

test("critical path: a dependency on a component waits for every custom resource under it", () => {
    const seconds = new Map([["slow", 9], ["fast", 1], ["after", 2]]);
    const resources = [
        { urn: "comp", custom: false },
        { urn: "inner", custom: false, parent: "comp" },
        { urn: "fast", custom: true, parent: "comp" },
        { urn: "slow", custom: true, parent: "inner" },
        { urn: "after", custom: true, dependencies: ["comp"] },
    ];
    assert.equal(criticalPath(resources, seconds), 11);
    assert.deepEqual(longestChain(resources, seconds).chain, ["slow", "after"]);
});

test("critical path: a resource waits for its provider, which the state records apart from its dependencies", () => {
    const seconds = new Map([["controlPlane", 30], ["provider", 1], ["node", 2], ["other", 5]]);
    const resources = [
        { urn: "controlPlane", custom: true },
        { urn: "provider", custom: true, dependencies: ["controlPlane"] },
        { urn: "node", custom: true, provider: "provider::0d1e2f" },
        { urn: "other", custom: true },
    ];
    assert.equal(criticalPath(resources, seconds), 33);
    assert.deepEqual(longestChain(resources, seconds).chain, ["controlPlane", "provider", "node"]);
});

test("critical path: a child waits for what its parent component depends on, which the state records on the parent", () => {
    const seconds = new Map([["etcd", 20], ["install", 10], ["fast", 1]]);
    const resources = [
        { urn: "etcdMember", custom: false },
        { urn: "etcd", custom: true, parent: "etcdMember" },
        { urn: "controlPlane", custom: false, dependencies: ["etcdMember"] },
        { urn: "install", custom: true, parent: "controlPlane", dependencies: ["fast"] },
        { urn: "fast", custom: true },
    ];
    assert.equal(criticalPath(resources, seconds), 30);
    assert.deepEqual(longestChain(resources, seconds).chain, ["etcd", "install"]);
});
