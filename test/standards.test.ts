// The standards suite's pure parts: the kube-bench config for our host layout, the benchmark's paths mapped onto
// ours, and the tallies of kube-bench and of the conformance run.
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { hostLayout } from "../render/layout";
import {
    CONFORMANCE_CANNOT_PASS_HERE, CONFORMANCE_LEFT_OUT, conformanceSelection, ginkgoCliSelection, readDryRun, tallyConformance,
    NETWORK_POLICY_FOCUS,
    WHOLE_CONFORMANCE_FOCUS,
} from "./e2e/conformance";
import {
    adminConfPaths, auditMaps, judgeBench, kubeBenchConfig, mapAudits, NOT_APPLICABLE, readKubeBench, staleWarnings, tallyOf, TARGET_SECTION,
    WARN_EXPLAINED,
} from "./e2e/kubeBench";

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
    const encryption = String.raw`sed 's%.*encryption-provider-config[= ]\([^ ]*\).*%\1%')`;
    const master = [
        `audit: "find /etc/kubernetes/pki/ | xargs stat -c %U:%G"`,
        `audit: "find /etc/kubernetes/pki/ -name '*.crt' | xargs stat -c permissions=%a"`,
        `audit: "find /etc/kubernetes/pki/ -name '*.key' | xargs stat -c permissions=%a"`,
        encryption,
    ].join("\n");
    const mapped = mapAudits(master, auditMaps(hostLayout("systemd")), "master.yaml");
    assert.equal(mapped, [
        `audit: "find /etc/kdw/control-plane/pki/ | xargs stat -c %U:%G"`,
        `audit: "find /etc/kdw/control-plane/pki/ -name '*.pem' ! -name '*-key.pem' | xargs stat -c permissions=%a"`,
        `audit: "find /etc/kdw/control-plane/pki/ -name '*-key.pem' | xargs stat -c permissions=%a"`,
        `${encryption.slice(0, -1)} | sed 's%^/etc/kubernetes/%/etc/kdw/control-plane/%')`,
    ].join("\n"));
    assert.match(mapAudits(master, auditMaps(hostLayout("boot2docker")), "master.yaml"),
        /find \/var\/lib\/boot2docker\/kdw\/etc\/control-plane\/pki\/ \|/);
    assert.throws(() => mapAudits("audit: true", auditMaps(hostLayout("systemd")), "master.yaml"), /review the audit map/);
    assert.equal(mapAudits("audit: true", auditMaps(hostLayout("systemd")), "etcd.yaml"), "audit: true");
});

test("kube-bench: 1.2.28 reads the encryption configuration on the host, 4.3.1 kube-proxy's configuration", () => {
    const master = String.raw`ENCRYPTION_PROVIDER_CONFIG=$(ps -ef | grep $apiserverbin | grep -- --encryption-provider-config | ` +
        String.raw`sed 's%.*encryption-provider-config[= ]\([^ ]*\).*%\1%')`;
    const pki = "find /etc/kubernetes/pki/ -name '*.crt'\nfind /etc/kubernetes/pki/ -name '*.key'\nfind /etc/kubernetes/pki/ |";
    const mapped = mapAudits(`${master}\n${pki}`, auditMaps(hostLayout("boot2docker")), "master.yaml");
    // The flag's value as the apiserver's container sees it, turned into the host's path.
    const flag = "kube-apiserver --encryption-provider-config=/etc/kubernetes/encryption-config.yaml --v=2";
    const audit = mapped.split("\n")[0].replace("ps -ef | grep $apiserverbin | grep -- --encryption-provider-config", `echo '${flag}'`);
    assert.equal(execFileSync("sh", ["-c", `${audit}; echo "$ENCRYPTION_PROVIDER_CONFIG"`], { encoding: "utf8" }).trim(),
        "/var/lib/boot2docker/kdw/etc/control-plane/encryption-config.yaml");
    const node = `        audit_config: "/bin/sh -c 'if test -e $proxykubeconfig; then cat $proxykubeconfig; fi'"`;
    assert.equal(mapAudits(node, auditMaps(hostLayout("systemd")), "node.yaml"),
        `        audit_config: "/bin/sh -c 'if test -e $proxyconf; then cat $proxyconf; fi'"`);
});

test("kube-bench: a bash construct fails a benchmark file that runs under a POSIX sh, not the policies", () => {
    const maps = { "policies.yaml": [], "node.yaml": [] } as Record<string, [string, string][]>;
    for (const bash of [`if [[ "\${a}" == b ]]; then`, `caps_list+="\${cap},"`]) {
        assert.throws(() => mapAudits(bash, maps, "node.yaml"), /run it with bash/);
        assert.equal(mapAudits(bash, maps, "policies.yaml"), bash);
    }
    assert.equal(mapAudits("a=$((a + 1)); [ \"$a\" = 2 ]", maps, "node.yaml"), "a=$((a + 1)); [ \"$a\" = 2 ]");
});

test("kube-bench: the files 1.1.13 reads come from its audit; a changed audit fails loudly", () => {
    const audit = "for adminconf in /etc/kubernetes/admin.conf /etc/kubernetes/super-admin.conf; do if test -e $adminconf; then";
    assert.deepEqual(adminConfPaths(audit), ["/etc/kubernetes/admin.conf", "/etc/kubernetes/super-admin.conf"]);
    assert.throws(() => adminConfPaths("stat /etc/kubernetes/admin.conf"), /review adminConfPaths/);
});

test("kube-bench: every check we call not applicable says why and what shows it; every accepted WARN says why", () => {
    for (const [id, { why, verified }] of Object.entries(NOT_APPLICABLE)) {
        assert.match(id, /^\d+\.\d+\.\d+$/);
        assert.ok(why.length > 20 && why.endsWith("."), `${id}: ${why}`);
        assert.ok(verified.length > 20 && verified.endsWith("."), `${id}: ${verified}`);
    }
    for (const [id, { why, shownBy }] of Object.entries(WARN_EXPLAINED)) {
        assert.match(id, /^\d+(\.\d+)+$/);
        assert.ok(!NOT_APPLICABLE[id], `${id} is both not applicable and an accepted WARN`);
        assert.ok(why.length > 20 && why.endsWith("."), `${id}: ${why}`);
        if (shownBy) {
            // The check named exists in the scenario named.
            const [scenario, check] = shownBy.split(": ", 2);
            const source = readFileSync(path.join(__dirname, "..", "..", "test", "e2e", "scenarios", `${scenario}.ts`), "utf8");
            assert.ok(source.includes(check), `${id}: no check "${check}" in test/e2e/scenarios/${scenario}.ts`);
        }
    }
});

const result = (id: string, status: string, extra: Record<string, unknown> = {}) =>
    ({ test_number: id, test_desc: `check ${id}`, status, scored: true, ...extra });
const controls = (id: string, nodeType: string, ...results: ReturnType<typeof result>[]) =>
    ({ id, text: `section ${id}`, node_type: nodeType, tests: [{ results }] });

test("kube-bench tallies: PASS, FAIL, WARN and INFO per target", () => {
    const json = JSON.stringify({
        Controls: [
            controls("1", "master", result("1.1.1", "INFO"), result("1.1.11", "PASS"), result("1.1.12", "FAIL"), result("1.2.1", "WARN"),
                result("1.2.2", "PASS")),
            controls("2", "etcd", result("2.1", "PASS")),
        ],
        Totals: {},
    });
    assert.deepEqual(readKubeBench(json).map(tallyOf), [
        { target: "master", pass: 2, fail: 1, warn: 1, info: 1 },
        { target: "etcd", pass: 1, fail: 0, warn: 0, info: 0 },
    ]);
});

test("kube-bench judged: a missing or empty target, a FAIL, an unexplained WARN or INFO, a not-applicable check run", () => {
    const skipped = Object.keys(NOT_APPLICABLE).filter(id => id.startsWith("1.")).map(id => result(id, "INFO"));
    const good = readKubeBench(JSON.stringify({ Controls: [controls("1", "master", ...skipped, result("1.2.2", "PASS"))] }));
    assert.deepEqual(judgeBench(good, ["master"]), []);
    // An empty tally is no pass.
    assert.deepEqual(judgeBench([], ["master"]), ["target master: not in kube-bench's report"]);
    const empty = readKubeBench(JSON.stringify({ Controls: [controls("1", "master", ...skipped)] }));
    assert.match(judgeBench(empty, ["master"]).join("\n"), /target master: no check passed/);
    const bad = readKubeBench(JSON.stringify({ Controls: [
        controls("1", "master", ...skipped.slice(1), result("1.2.2", "PASS"), result("1.2.5", "FAIL", { reason: "flag missing" }),
            result("1.9.9", "WARN", { scored: false }), result("1.9.8", "INFO"), result(skipped[0].test_number, "PASS"),
            result("1.3.3", "PASS", { actual_value: "kube-bench-ps: option -p is not supported here" })),
        controls("4", "node", result("4.1.1", "PASS")),
    ] }));
    assert.deepEqual(judgeBench(bad, ["master", "etcd"]), [
        "target etcd: not in kube-bench's report",
        "target node: reported, though not asked for",
        "FAIL 1.2.5 check 1.2.5 (flag missing)",
        "WARN not explained in WARN_EXPLAINED: 1.9.9 check 1.9.9",
        "INFO not in NOT_APPLICABLE: 1.9.8 check 1.9.8",
        `PASS for a check skipped as not applicable: ${skipped[0].test_number} check ${skipped[0].test_number}`,
        "the ps stand-in (kube-bench-ps.sh) refused an audit's ps, whatever the status: 1.3.3 check 1.3.3 " +
            "(kube-bench-ps: option -p is not supported here)",
    ]);
});

test("kube-bench: an explained WARN that warned nowhere its target ran is reported, one never measured too", () => {
    const ids = Object.keys(WARN_EXPLAINED);
    const targetOf = (id: string) => Object.entries(TARGET_SECTION).find(([, n]) => n === id.split(".")[0])![0];
    const warned = (status: string) => [...new Set(ids.map(targetOf))].map(target =>
        readKubeBench(JSON.stringify({ Controls: [controls(TARGET_SECTION[target], target,
            ...ids.filter(id => targetOf(id) === target).map(id => result(id, status)))] }))[0]);
    assert.deepEqual(staleWarnings([warned("WARN")]), { nowPass: [], notMeasured: [] });
    // Warned on one host and passed on another: still explained.
    assert.deepEqual(staleWarnings([warned("PASS"), warned("WARN")]).nowPass, []);
    assert.deepEqual(staleWarnings([warned("PASS")]).nowPass, ids.map(id => `${id}: PASS`));
    assert.deepEqual(staleWarnings([]).notMeasured, ids);
});

test("kube-bench's ps stand-in: shellcheck-clean, and as procps selects by name here", () => {
    const script = path.join(__dirname, "..", "..", "test", "e2e", "kube-bench-ps.sh");
    for (const file of [script, path.join(path.dirname(script), "kube-bench-run.sh")]) {
        const sc = spawnSync("shellcheck", ["--shell=sh", "--severity=style", file], { encoding: "utf8" });
        assert.equal(sc.status, 0, sc.stdout + sc.stderr);
    }
    // This test's own process, by its name; busybox's sh runs it as boot2docker would.
    const self = readFileSync("/proc/self/comm", "utf8").trim();
    const shells = [["sh"], ...(spawnSync("busybox", ["true"]).status === 0 ? [["busybox", "sh"]] : [])];
    for (const shell of shells) {
        const ps = (...args: string[]) => spawnSync(shell[0], [...shell.slice(1), script, ...args], { encoding: "utf8" });
        const byName = ps("-C", self, "-o", "cmd", "--no-headers");
        assert.equal(byName.status, 0, byName.stderr);
        assert.ok(byName.stdout.split("\n").includes(readFileSync("/proc/self/cmdline", "utf8").split("\0").join(" ").trim()),
            `${shell.join(" ")}: ${byName.stdout}`);
        const full = ps("-fC", self);
        assert.match(full.stdout, /^UID +PID +PPID +C STIME TTY +TIME CMD\n\S+ +\d+ +\d+ /);
        assert.ok(ps("-ef").stdout.split("\n").length > 3);
        assert.equal(ps("-C", "no-such-program", "-o", "cmd", "--no-headers").status, 1);
        assert.equal(ps("aux").status, 1, "an option it does not know is refused");
    }
});

test("conformance: the dry run's count is Ginkgo's, and must agree with itself", () => {
    const spec = (texts: string[], leaf: string, State: string, LeafNodeType = "It") =>
        ({ ContainerHierarchyTexts: texts, LeafNodeType, LeafNodeText: leaf, State, RunTime: 0 });
    const report = (specs: unknown[], willRun: number, DryRun = true) =>
        JSON.stringify([{ SuiteConfig: { DryRun }, PreRunStats: { TotalSpecs: 5, SpecsThatWillRun: willRun }, SpecReports: specs }]);
    const specs = [
        spec(["[sig-network] DNS"], "should provide DNS for the cluster [Conformance]", "passed"),
        spec(["[sig-network] Services"], "should serve a basic endpoint from pods [Conformance]", "passed"),
        spec(["[sig-network] Networking"], "should do something else", "skipped"),
        spec([], "", "passed", "SynchronizedBeforeSuite"),
    ];
    const dry = readDryRun(report(specs, 2), "Ran 2 of 5 Specs in 0.1 seconds\nSUCCESS!");
    assert.deepEqual([dry.willRun, dry.total, dry.names.length], [2, 5, 2]);
    assert.throws(() => readDryRun(report(specs, 3), "Ran 3 of 5 Specs"), /disagrees with itself/);
    assert.throws(() => readDryRun(report(specs, 2, false), "Ran 2 of 5 Specs"), /not a dry run/);
    assert.throws(() => readDryRun(report(specs, 2), "no summary"), /Ran N of M/);
    assert.throws(() => readDryRun(report([], 0), "Ran 0 of 5 Specs"), /selects no test/);
});

test("conformance tallies: every test the run reports counts, matched to the dry run's by name", () => {
    const dry = { names: ["A", "B", "C"].map(t => `[sig-network] ${t} [Conformance]`), willRun: 3, total: 9 };
    const spec = (name: string, State: string, Message = "") => ({
        ContainerHierarchyTexts: [name.split(" ")[0]], LeafNodeType: "It", LeafNodeText: name.split(" ").slice(1).join(" "),
        State, RunTime: 1, Failure: { Message },
    });
    const all = JSON.stringify([{ SpecReports: [spec(dry.names[0], "passed"), spec(dry.names[1], "passed"), spec(dry.names[2], "passed"),
        spec("[sig-storage] D", "skipped")] }]);
    const focus = String.raw`\[sig-network\].*\[Conformance\]`;
    const good = tallyConformance(all, dry, focus);
    assert.deepEqual([good.selected, good.ran, good.passed, good.failed, good.skipped, good.missing, good.unexpected],
        [3, 3, 3, 0, 0, [], []]);
    // A narrower run agrees with itself no more: what the dry run selected and the run lacks is missing.
    const narrow = tallyConformance(JSON.stringify([{ SpecReports: [spec(dry.names[0], "passed")] }]), dry, focus);
    assert.deepEqual([narrow.ran, narrow.passed, narrow.missing], [1, 1, dry.names.slice(1)]);
    // A test outside the selection that ran counts too, and is named; a failure and a test that skipped itself are told.
    const mixed = tallyConformance(JSON.stringify([{ SpecReports: [spec(dry.names[0], "failed", "timed out\nmore"),
        spec(dry.names[1], "timedout", "slow"), spec(dry.names[2], "skipped"), spec("[sig-apps] E", "passed")] }]), dry, focus);
    assert.deepEqual([mixed.ran, mixed.passed, mixed.failed, mixed.skipped, mixed.unexpected], [3, 1, 2, 1, ["[sig-apps] E"]]);
    assert.deepEqual(mixed.notPassing.map(t => `${t.state}: ${t.why}`),
        ["failed: timed out", "timedout: slow", "skipped: skipped by the test itself"]);
    // A test that cannot pass here (SCTP) counts as skipped, with its reason, only where the focus selects it: the
    // report lists every test of the binary.
    const sctp = "[sig-network] Netpol [Feature:SCTPConnectivity] should enforce policy [Feature:NetworkPolicy]";
    const withSctp = JSON.stringify([{ SpecReports: [...dry.names.map(n => spec(n, "passed")), spec(sctp, "skipped")] }]);
    assert.equal(tallyConformance(withSctp, dry, focus).skipped, 0, "outside the focus");
    const netpol = tallyConformance(withSctp, dry, `${focus}|\\[Feature:NetworkPolicy\\]`);
    assert.deepEqual([netpol.skipped, netpol.notPassing[0]?.why.startsWith("the test hosts share")], [1, true]);
});

test("conformance selection: sig-network's [Conformance] tests, sig-api-machinery's webhook and aggregator, sig-auth's issuer discovery, sig-apps' Deployment and ReplicaSet, sig-node's Pods [Conformance] tests, no other; the NetworkPolicy tests a selection of their own, SCTP's skipped there with a reason", () => {
    const [focus, skip] = conformanceSelection();
    const focused = new RegExp(focus.replace("--ginkgo.focus=", ""));
    const skipped = new RegExp(skip.replace("--ginkgo.skip=", ""));
    const netpol = "[sig-network] Netpol NetworkPolicy between server and client should support a 'default-deny-ingress' policy [Feature:NetworkPolicy]";
    const sctp = "[sig-network] Netpol [Feature:SCTPConnectivity] [LinuxOnly] NetworkPolicy between server and client using SCTP " +
        "should support a 'default-deny-ingress' policy [Feature:NetworkPolicy]";
    assert.ok(!focused.test(netpol), "NetworkPolicy tests are NETWORK_POLICY_FOCUS's");
    const [netpolFocus, netpolSkip] = conformanceSelection(NETWORK_POLICY_FOCUS);
    const netpolFocused = new RegExp(netpolFocus.replace("--ginkgo.focus=", ""));
    assert.ok(netpolFocused.test(netpol) && !skipped.test(netpol));
    assert.ok(!netpolFocused.test("[sig-network] DNS should provide DNS for the cluster [Conformance]"));
    assert.equal(netpolSkip, skip);
    assert.ok(focused.test("[sig-network] DNS should provide DNS for the cluster [Conformance]"));
    assert.ok(!focused.test("[sig-apps] StatefulSet Basic StatefulSet functionality [StatefulSetBasic] should perform rolling updates and roll backs of template modifications [Conformance]"));
    assert.ok(!focused.test("[sig-node] Container Runtime blackbox test on terminated container should report termination message [Conformance]"));
    for (const name of ["[sig-api-machinery] AdmissionWebhook [Privileged:ClusterAdmin] should be able to deny pod and configmap creation [Conformance]",
        "[sig-api-machinery] CustomResourceConversionWebhook [Privileged:ClusterAdmin] should be able to convert from CR v1 to CR v2 [Conformance]",
        "[sig-auth] ServiceAccounts ServiceAccountIssuerDiscovery should support OIDC discovery of service account issuer [Conformance]",
        "[sig-api-machinery] Aggregator Should be able to support the 1.17 Sample API Server using the current Aggregator [LinuxOnly] [Conformance]",
        "[sig-apps] Deployment deployment should support rollover [Conformance]",
        "[sig-apps] ReplicaSet should serve a basic image on each replica with a public image [Conformance]",
        "[sig-node] Pods should be submitted and removed [Conformance] [NodeConformance]"]) {
        assert.ok(focused.test(name) && !skipped.test(name), name);
    }
    assert.ok(!focused.test("[sig-api-machinery] ResourceQuota should create a ResourceQuota and capture the life of a pod. [Conformance]"));
    assert.ok(!focused.test("[sig-auth] ServiceAccounts should mount an API token into pods [Conformance]"));
    assert.ok(!focused.test("[sig-api-machinery] AdmissionWebhook [Privileged:ClusterAdmin] should not be conformance"),
        "webhook tests outside the conformance suite");
    assert.ok(!focused.test("[sig-network] Networking should check kube-proxy urls [Feature:Networking-IPv4]"));
    assert.ok(netpolFocused.test(sctp) && skipped.test(sctp), "SCTP's NetworkPolicy tests are selected, then skipped");
    for (const name of ["[sig-apps] Deployment should run the lifecycle of a Deployment [Conformance]",
        "[sig-apps] Deployment RecreateDeployment should delete old pods and create new ones [Conformance]",
        "[sig-node] Pods should run through the lifecycle of Pods and PodStatus [Conformance]"]) {
        assert.ok(focused.test(name) && skipped.test(name), `${name}: left out (agnhost:2.55)`);
    }
    assert.ok(skipped.test("[sig-apps] StatefulSet Basic StatefulSet functionality [StatefulSetBasic] should have a working " +
        "scale subresource [Conformance]"), "StatefulSetBasic left out (agnhost:2.55)");
    assert.ok(skipped.test("[sig-apps] Daemon set should update pod when spec was updated and update strategy is RollingUpdate " +
        "[Conformance] [Serial]"), "DaemonSet's rolling update left out (agnhost:2.55)");
    assert.ok(!skipped.test("[sig-apps] Daemon set should rollback without unnecessary restarts [Conformance] [Serial]"));
    const imageVolume = "[sig-node] ImageVolume should succeed with pod and pull policy of Always [LinuxOnly] [MinimumKubeletVersion:1.35] [Conformance]";
    assert.ok(skipped.test(imageVolume), "ImageVolume left out (Alpine's os-release)");
    assert.ok(!skipped.test("[sig-apps] StatefulSet MinReadySeconds should be honored when enabled"), "StatefulSet tests outside StatefulSetBasic run");
    for (const [pattern, why] of Object.entries({ ...CONFORMANCE_CANNOT_PASS_HERE, ...CONFORMANCE_LEFT_OUT })) {
        assert.ok(skipped.source.includes(pattern), pattern);
        assert.ok(why.length > 40, `${pattern}: the reason is said`);
    }
});

test("conformance selection: the Ginkgo CLI's run selects as the dry run of e2e.test does (the same patterns, its own flag names)", () => {
    const dry = conformanceSelection();
    const cli = ginkgoCliSelection();
    assert.deepEqual(cli.map(a => a.split("=")[0]), ["--focus", "--skip"]);
    assert.deepEqual(cli.map(a => a.slice(a.indexOf("=") + 1)), dry.map(a => a.slice(a.indexOf("=") + 1)));
});

test("whole conformance selection: every [Conformance] test of every sig, Serial and Disruptive included, nothing else; " +
    "the same skips (with their reasons) as the standards suite's", () => {
    const [focus, skip] = conformanceSelection(WHOLE_CONFORMANCE_FOCUS);
    const focused = new RegExp(focus.replace("--ginkgo.focus=", ""));
    for (const name of ["[sig-apps] StatefulSet Basic StatefulSet functionality [StatefulSetBasic] should perform rolling updates and roll backs of template modifications [Conformance]",
        "[sig-scheduling] SchedulerPredicates [Serial] validates resource limits of pods that are allowed to run [Conformance]",
        "[sig-node] NoExecuteTaintManager Multiple Pods [Serial] evicts pods with minTolerationSeconds [Disruptive] [Conformance]",
        "[sig-storage] ConfigMap should be consumable from pods in volume [NodeConformance] [Conformance]"]) {
        assert.ok(focused.test(name), name);
    }
    assert.ok(!focused.test("[sig-network] Netpol NetworkPolicy between server and client should support a 'default-deny-ingress' policy [Feature:NetworkPolicy]"));
    assert.ok(!focused.test("[sig-node] Pods should support remote command execution over websockets [NodeConformance]"),
        "[NodeConformance] alone is not [Conformance]");
    assert.equal(skip, conformanceSelection()[1]);
    assert.deepEqual(ginkgoCliSelection(WHOLE_CONFORMANCE_FOCUS).map(a => a.split("=")[0]), ["--focus", "--skip"]);
});
