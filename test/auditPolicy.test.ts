// The program's audit policy (host/scripts/audit-policy.yaml), read as the apiserver reads it: the first rule
// that matches a request sets its level.
import * as assert from "node:assert/strict";
import * as yaml from "js-yaml";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { validateConfig } from "../config";
import { HOST_SCRIPT_DIR } from "../host/remote";


interface Rule {
    level: string;
    verbs?: string[];
    resources?: { group?: string; resources?: string[] }[];
    nonResourceURLs?: string[];
}

const POLICY_FILE = path.join(HOST_SCRIPT_DIR, "audit-policy.yaml");
const policy = yaml.load(readFileSync(POLICY_FILE, "utf8")) as { rules: Rule[]; omitStages?: string[] };

type Request = { verb: string; group?: string; resource?: string; url?: string };

/** The level of the first rule that matches, as the apiserver's policy checker decides it. */
function levelOf(req: Request): string {
    const matches = (rule: Rule) => {
        if (rule.verbs && !rule.verbs.includes(req.verb)) {
            return false;
        }
        if (rule.nonResourceURLs) {
            return req.url !== undefined && rule.nonResourceURLs.some(u => u.endsWith("*") ? req.url!.startsWith(u.slice(0, -1)) : u === req.url);
        }
        if (rule.resources) {
            return req.resource !== undefined && rule.resources.some(g => (g.group ?? "") === (req.group ?? "") &&
                (!g.resources || g.resources.length === 0 || g.resources.includes(req.resource!)));
        }
        return true;
    };
    return policy.rules.find(matches)?.level ?? "None";
}

const WRITES = ["create", "update", "patch", "delete", "deletecollection"];
const READS = ["get", "list", "watch"];

test("audit policy: Secrets, ConfigMaps and tokens at Metadata for every verb, reads included, never with a body", () => {
    for (const [group, resource] of [["", "secrets"], ["", "configmaps"], ["", "serviceaccounts/token"], ["authentication.k8s.io", "tokenreviews"]]) {
        for (const verb of [...READS, ...WRITES]) {
            assert.equal(levelOf({ verb, group, resource }), "Metadata", `${verb} ${group}/${resource}`);
        }
    }
});

test("audit policy: changes to RBAC with their request bodies (level Request), not their responses; RBAC reads not logged", () => {
    for (const resource of ["roles", "rolebindings", "clusterroles", "clusterrolebindings"]) {
        for (const verb of WRITES) {
            assert.equal(levelOf({ verb, group: "rbac.authorization.k8s.io", resource }), "Request", `${verb} ${resource}`);
        }
        for (const verb of READS) {
            assert.equal(levelOf({ verb, group: "rbac.authorization.k8s.io", resource }), "None", `${verb} ${resource}`);
        }
    }
});

test("audit policy: nothing for health probes, the version, Leases (leader election, node heartbeats) and events", () => {
    for (const url of ["/healthz", "/livez", "/readyz", "/readyz/etcd", "/healthz/poststarthook/rbac", "/version"]) {
        assert.equal(levelOf({ verb: "get", url }), "None", url);
    }
    for (const verb of ["get", "create", "update", "patch"]) {
        assert.equal(levelOf({ verb, group: "coordination.k8s.io", resource: "leases" }), "None", `${verb} leases`);
        assert.equal(levelOf({ verb, group: "", resource: "events" }), "None", `${verb} events`);
    }
});

test("audit policy: other changes and the reads that reach into pods or nodes at Metadata, other reads not logged", () => {
    assert.equal(levelOf({ verb: "create", group: "apps", resource: "deployments" }), "Metadata");
    assert.equal(levelOf({ verb: "delete", group: "", resource: "pods" }), "Metadata");
    assert.equal(levelOf({ verb: "create", group: "", resource: "pods/exec" }), "Metadata");
    assert.equal(levelOf({ verb: "get", group: "", resource: "nodes/proxy" }), "Metadata");
    assert.equal(levelOf({ verb: "get", group: "", resource: "pods" }), "None");
    assert.equal(levelOf({ verb: "post", url: "/api/v1/whatever" }), "Metadata");
    assert.deepEqual(policy.omitStages, ["RequestReceived"]);
    assert.ok(!policy.rules.some(r => r.level === "RequestResponse"), "a rule logs responses' bodies");
});

test("audit policy: the program's own passes the check auditPolicyFile makes of a user's", () => {
    const cfg = validateConfig({ binarySource: "/bin", auditPolicyFile: POLICY_FILE },
        { fileExists: () => true, readFile: p => readFileSync(p, "utf8") });
    assert.equal(cfg.auditPolicy, readFileSync(POLICY_FILE, "utf8"));
});
