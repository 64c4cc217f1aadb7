// A 1+1 cluster with podSecurity and auditPolicyFile set, NetworkPolicy not enforced and no resource metrics: what each
// control plane's roll sends follows them, no policy controller and no metrics-server are made, and a bad policy file
// stops the program before it registers anything.
import * as assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { fakeBinaryFolder, filesOf, named, runProgram, ProgramRun } from "./program";

const dir = mkdtempSync(path.join(os.tmpdir(), "kdw-policy-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
const POLICY = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: RequestResponse\n";
writeFileSync(path.join(dir, "policy.yaml"), POLICY);

let result: Promise<ProgramRun> | undefined;
const run = () => (result ??= runProgram({
    controllers: 1, workers: 1, binarySource: fakeBinaryFolder(), auditPolicyFile: path.join(dir, "policy.yaml"),
    podSecurity: { enforce: "restricted", exemptNamespaces: ["kube-system", "monitoring"] }, networkPolicy: "none",
    resourceMetrics: "none",
}));

test("podSecurity and auditPolicyFile: the control plane's install and roll send the given levels and the file's policy", async () => {
    const { resources, error } = await run();
    assert.equal(error, undefined);
    for (const step of ["kdw-controller-0-control-plane-install", "kdw-controller-0-control-plane-roll"]) {
        const files = filesOf(named(resources, step));
        assert.equal(files.get("/etc/kdw/control-plane/audit-policy.yaml"), POLICY, `${step}: the audit policy`);
        const pss = JSON.parse(files.get("/etc/kdw/control-plane/admission-config.yaml")!).plugins[0].configuration;
        assert.deepEqual(pss.defaults, {
            enforce: "restricted", "enforce-version": "latest", audit: "restricted", "audit-version": "latest",
            warn: "restricted", "warn-version": "latest",
        }, step);
        assert.deepEqual(pss.exemptions.namespaces, ["kube-system", "monitoring"], step);
    }
});

test("networkPolicy none: no policy controller, nothing of kube-router's in the cluster", async () => {
    const { resources, error } = await run();
    assert.equal(error, undefined);
    assert.deepEqual(resources.filter(r => /NetworkPolicy|kube-router|DaemonSet/.test(`${r.type} ${r.name}`)).map(r => r.name), []);
});

test("resourceMetrics none: no metrics-server, no APIService; the aggregation layer is still there for others' servers", async () => {
    const { resources, error } = await run();
    assert.equal(error, undefined);
    assert.deepEqual(resources.filter(r => /ResourceMetrics|metrics-server|APIService/.test(`${r.type} ${r.name}`)).map(r => r.name), []);
    assert.ok(filesOf(named(resources, "kdw-controller-0-control-plane-install")).has("/etc/kdw/control-plane/pki/front-proxy-ca.pem"));
});
