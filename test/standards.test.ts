// The standards suite's pure parts: the kube-bench config for our host layout, the benchmark's paths mapped onto
// ours, and the tallies of kube-bench and of the conformance run.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { hostLayout } from "../components/layout";
import { CONFORMANCE_FOCUS, tallyConformance } from "./e2e/conformance";
import { auditPathMap, kubeBenchConfig, mapAuditPaths, NOT_APPLICABLE, tallyKubeBench } from "./e2e/kubeBench";

test("kube-bench config: our files, services and data on a systemd host", () => {
    const c = kubeBenchConfig(hostLayout("systemd")) as any;
    assert.deepEqual(c.node.kubelet.confs, ["/etc/kdw/worker/kubelet-config.yaml"]);
    assert.equal(c.node.kubelet.defaultsvc, "/etc/systemd/system/kdw-kubelet.service");
    assert.equal(c.node.kubelet.defaultkubeconfig, "/etc/kdw/worker/kubelet.kubeconfig");
    assert.equal(c.node.kubelet.defaultcafile, "/etc/kdw/worker/ca.pem");
    assert.equal(c.node.proxy.defaultkubeconfig, "/etc/kdw/worker/kube-proxy.kubeconfig");
    assert.equal(c.master.etcd.defaultdatadir, "/var/lib/kdw/etcd");
    assert.equal(c.master.scheduler.defaultkubeconfig, "/etc/kdw/control-plane/kube-scheduler.kubeconfig");
    assert.equal(c.master.controllermanager.defaultkubeconfig, "/etc/kdw/control-plane/kube-controller-manager.kubeconfig");
    assert.ok(!c.master.components.includes("kubelet"), "controllers run no kubelet");
});

test("kube-bench config: boot2docker keeps everything under its persistent disk, services as command files", () => {
    const c = kubeBenchConfig(hostLayout("boot2docker")) as any;
    assert.equal(c.node.kubelet.defaultsvc, "/var/lib/boot2docker/kdw/etc/worker/kubelet.cmd");
    assert.equal(c.master.etcd.defaultdatadir, "/var/lib/boot2docker/kdw/data/etcd");
});

test("kube-bench: kubeadm's literal PKI paths become ours; a mapping that no longer matches fails loudly", () => {
    const master = [
        `audit: "find /etc/kubernetes/pki/ | xargs stat -c %U:%G"`,
        `audit: "find /etc/kubernetes/pki/ -name '*.crt' | xargs stat -c permissions=%a"`,
        `audit: "find /etc/kubernetes/pki/ -name '*.key' | xargs stat -c permissions=%a"`,
    ].join("\n");
    const mapped = mapAuditPaths(master, auditPathMap(hostLayout("systemd")), "master.yaml");
    assert.equal(mapped, [
        `audit: "find /etc/kdw/control-plane/pki/ | xargs stat -c %U:%G"`,
        `audit: "find /etc/kdw/control-plane/pki/ -name '*.pem' ! -name '*-key.pem' | xargs stat -c permissions=%a"`,
        `audit: "find /etc/kdw/control-plane/pki/ -name '*-key.pem' | xargs stat -c permissions=%a"`,
    ].join("\n"));
    assert.throws(() => mapAuditPaths("audit: true", auditPathMap(hostLayout("systemd")), "master.yaml"), /review the path mapping/);
    assert.equal(mapAuditPaths("audit: true", auditPathMap(hostLayout("systemd")), "node.yaml"), "audit: true");
});

test("kube-bench: every check we call not applicable says why", () => {
    for (const [id, { why }] of Object.entries(NOT_APPLICABLE)) {
        assert.match(id, /^\d+\.\d+\.\d+$/);
        assert.ok(why.length > 20 && why.endsWith("."), `${id}: ${why}`);
    }
});

test("kube-bench tallies: PASS, FAIL, WARN and INFO per target, with the failed checks named", () => {
    const result = (n: string, status: string) => ({ test_number: n, test_desc: `check ${n}`, status, scored: true });
    const json = JSON.stringify({
        Controls: [
            { id: "1", text: "Control Plane Security Configuration", tests: [
                { results: [result("1.1.1", "INFO"), result("1.1.11", "PASS"), result("1.1.12", "FAIL")] },
                { results: [result("1.2.1", "WARN"), result("1.2.2", "PASS")] }] },
            { id: "2", text: "Etcd Node Configuration", tests: [{ results: [result("2.1", "PASS")] }] },
        ],
        Totals: {},
    });
    assert.deepEqual(tallyKubeBench(json), [
        { target: "1 Control Plane Security Configuration", pass: 2, fail: 1, warn: 1, info: 1, failed: ["1.1.12 check 1.1.12"] },
        { target: "2 Etcd Node Configuration", pass: 1, fail: 0, warn: 0, info: 0, failed: [] },
    ]);
});

test("conformance tallies: only the focused specs count; anything but passed or skipped is a failure", () => {
    const spec = (texts: string[], leaf: string, State: string, Message = "") =>
        ({ ContainerHierarchyTexts: texts, LeafNodeText: leaf, State, RunTime: 1, Failure: { Message } });
    const json = JSON.stringify([{ SpecReports: [
        spec(["[sig-network] DNS"], "should provide DNS for the cluster [Conformance]", "passed"),
        spec(["[sig-network] Services"], "should serve a basic endpoint from pods [Conformance]", "failed", "timed out\nmore"),
        spec(["[sig-network] Services"], "should be able to create a functioning NodePort service [Conformance]", "timedout", "slow"),
        spec(["[sig-network] Networking"], "should do something else", "skipped"),
        spec(["[sig-storage] Volumes"], "should work [Conformance]", "skipped"),
        spec([], "", "passed"),
    ] }]);
    const tally = tallyConformance(json, new RegExp(CONFORMANCE_FOCUS));
    assert.deepEqual([tally.passed, tally.failed, tally.skipped], [1, 2, 0]);
    assert.deepEqual(tally.notPassing.map(t => `${t.state}: ${t.why}`), ["failed: timed out", "timedout: slow"]);
});
