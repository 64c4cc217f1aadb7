// The cluster measured against the standards: Kubernetes' own conformance tests of sig-network (DNS, Services,
// networking; its NetworkPolicy tests are the netpol-conformance scenario's), of admission and conversion webhooks
// and of the service-account issuer's discovery (the
// e2e.test binary of the pinned release) and the CIS Kubernetes Benchmark (kube-bench) on a controller
// and a worker of each host kind and, for its policies, through the API; on the e2e cluster of the set of test hosts (3+3,
// a controller and a worker of the boot2docker kind), brought up if there is none; the suite's destroy scenario removes
// it. Writes .cache/e2e/standards.json (the tallies under `timings`) and ends with "N passed, N failed".
//
//   source scripts/env.sh && npm run hosts:up -- 7 --boot2docker 2,5 && npm run e2e:standards
import * as assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as https from "node:https";
import * as path from "node:path";
import { KUBE_VIP_LEASE } from "../../../render/flags";
import { hostLayout } from "../../../render/layout";
import { asRoot, eventually, requireEnv, ROOT, run, scp, ssh, TestHost, WORK } from "../harness";
import {
    adminConfPaths, auditMaps, BENCHMARK, BenchTally, BenchTarget, judgeBench, kubeBenchConfig, mapAudits, NOT_APPLICABLE, readKubeBench,
    staleWarnings, tallyOf, TARGETS, WARN_EXPLAINED,
} from "../kubeBench";
import { CONFORMANCE_FOCUS, CONFORMANCE_PROCS, ConformanceTally } from "../conformance";
import { assertEveryTestPassed, runConformance, tallyLine } from "../conformanceRun";
import { controlPlaneRestarts, kubeVipLogs } from "../apiPoller";
import { Scenario } from "../scenario";
import { clusterStack, hosts, kubeconfigPath, kubectl } from "../e2eCluster";

const report = new Scenario("standards");
const versions = JSON.parse(readFileSync(path.join(ROOT, "versions.json"), "utf8"));

/** The virtual IP's Lease: its holder and how often it changed hands. */
async function vipLease(): Promise<string> {
    const lease = JSON.parse(await kubectl("get", "lease", "-n", "kube-system", KUBE_VIP_LEASE.name, "-o", "json"));
    return `${lease.spec.holderIdentity}, ${lease.spec.leaseTransitions ?? 0} transitions`;
}

/**
 * The selected conformance tests (conformanceRun.ts): the run must run exactly those Ginkgo's dry run selects and pass
 * every one, matched by name.
 */
async function conformance(): Promise<string> {
    const { dryRun, tally, code, start } = await runConformance({
        kubeconfigPath, focus: CONFORMANCE_FOCUS, procs: CONFORMANCE_PROCS, dir: path.join(WORK, "conformance"), timeoutMinutes: 120,
    });
    report.timings.conformanceDryRun = { willRun: dryRun.willRun, total: dryRun.total };
    report.timings.conformance = tally;
    const line = tallyLine(tally);
    // Who held the API's virtual IP meanwhile, and whether an etcd or apiserver restarted: a move of the address resets the connections clients hold to it. In the
    // failure's message too, as CI shows the failed checks' messages in short.
    const vipLines = tally.failed === 0 ? [] : [...await controlPlaneRestarts(hosts.slice(0, 3)),
        ...await kubeVipLogs(hosts.slice(0, 3), start, Date.now(), "leader|[Ll]ease|ARP|restart")];
    for (const line of vipLines) {
        console.log(`     ${line}`);
    }
    assertEveryTestPassed({ tally, code }, vipLines);
    return `${line} in ${tally.seconds}s (dry run: Ran ${dryRun.willRun} of ${dryRun.total} Specs)`;
}

/**
 * kube-bench for each host kind, in a folder to copy to a host: the binary, the benchmark's files with our changes
 * and our config.yaml in cfg/, and the scripts that run it (kube-bench-run.sh, kube-bench-ps.sh).
 */
async function kubeBenchBundle(): Promise<string> {
    const bundle = path.join(WORK, "kube-bench");
    rmSync(bundle, { recursive: true, force: true });
    const module = `github.com/aquasecurity/kube-bench@${versions.kubeBench}`;
    const upstream = JSON.parse(await run("go", ["mod", "download", "-json", module], {
        env: { ...process.env, GONOSUMDB: "github.com/aquasecurity/kube-bench", GOFLAGS: "-mod=mod" },
    })).Dir as string;
    for (const profile of ["systemd", "boot2docker"] as const) {
        const layout = hostLayout(profile);
        const cfg = path.join(bundle, profile, "cfg", BENCHMARK);
        mkdirSync(cfg, { recursive: true });
        copyFileSync(path.join(upstream, "cfg", "config.yaml"), path.join(bundle, profile, "cfg", "config.yaml"));
        for (const file of readdirSync(path.join(upstream, "cfg", BENCHMARK)).filter(f => f !== "config.yaml")) {
            const text = readFileSync(path.join(upstream, "cfg", BENCHMARK, file), "utf8");
            writeFileSync(path.join(cfg, file), mapAudits(text, auditMaps(layout), file));
        }
        // JSON is YAML.
        writeFileSync(path.join(cfg, "config.yaml"), JSON.stringify(kubeBenchConfig(layout), null, 2));
        copyFileSync(path.join(requireEnv("KDW_TOOLCHAIN_HOME"), "bin", "kube-bench"), path.join(bundle, profile, "kube-bench"));
        for (const script of ["kube-bench-run.sh", "kube-bench-ps.sh"]) {
            copyFileSync(path.join(ROOT, "test", "e2e", script), path.join(bundle, profile, script));
        }
    }
    writeFileSync(path.join(bundle, "admin-conf-paths"),
        adminConfPaths(readFileSync(path.join(upstream, "cfg", BENCHMARK, "master.yaml"), "utf8")).join("\n"));
    return bundle;
}

/** The runs' targets so far, by where they ran, for the check that the allowed warnings still warn. */
const benchRuns: Record<string, BenchTarget[]> = {};

/** Judges a run (see judgeBench), prints and records its tallies; throws naming every problem. */
function judged(label: string, out: string, expected: readonly string[]): string {
    writeFileSync(path.join(WORK, `kube-bench-${label}.json`), out);
    const targets = readKubeBench(out);
    benchRuns[label] = targets;
    const tallies = targets.map(tallyOf);
    (report.timings.kubeBench as Record<string, BenchTally[]>)[label] = tallies;
    const lines = tallies.map(t => `${t.target}: ${t.pass} PASS, ${t.fail} FAIL, ${t.warn} WARN, ${t.info} INFO`);
    lines.forEach(l => console.log(`     ${l}`));
    const problems = judgeBench(targets, expected);
    if (problems.length) {
        throw new Error(`${problems.length} problem(s) on ${label}:\n${problems.join("\n")}`);
    }
    return lines.join("; ");
}

/**
 * The test hosts to benchmark: a controller (hosts 0-2) and a worker (hosts 3-5) of each host kind; fails naming the
 * kind that has none.
 */
function benchHost(role: "controller" | "worker", kind: TestHost["kind"]): TestHost {
    const pool = role === "controller" ? hosts.slice(0, 3) : hosts.slice(3, 6);
    const host = pool.find(h => h.kind === kind);
    if (!host) {
        throw new Error(`no ${kind} ${role} among the test hosts (${pool.map(h => `${h.name} ${h.kind}`).join(", ")}): ` +
            "the suite benchmarks both host kinds; npm run hosts:up -- 7 --boot2docker 2,5");
    }
    return host;
}

/** Runs the benchmark's targets for `role` as root on a host (kube-bench-run.sh) and judges the result. */
async function kubeBenchOnHost(bundle: string, host: TestHost, role: "controller" | "worker"): Promise<string> {
    const remote = "/tmp/kdw-kube-bench";
    await ssh(host, `${asRoot(host, `rm -rf ${remote}`)} && mkdir -m 0700 ${remote}`);
    try {
        const staged = path.join(bundle, host.kind);
        await scp(host, readdirSync(staged).map(f => path.join(staged, f)), remote);
        const targets = TARGETS[role];
        const out = await ssh(host, asRoot(host, `sh ${remote}/kube-bench-run.sh ${remote} ${BENCHMARK} ${targets.join(",")} ` +
            `${Object.keys(NOT_APPLICABLE).join(",")} || ` +
            `{ echo "kube-bench failed: $(tail -5 ${remote}/stderr.log)" >&2; exit 1; }`), 600_000);
        const log = await ssh(host, asRoot(host, `cat ${remote}/stderr.log`));
        const missing = log.split("\n").filter(l => /Unable to detect running programs/i.test(l));
        assert.deepEqual(missing, [], `kube-bench found a component not running on ${host.name}`);
        return judged(`${role}-${host.kind}-${host.name}`, out, targets);
    } finally {
        await ssh(host, asRoot(host, `rm -rf ${remote}`));
    }
}

/**
 * The policies target from this machine, through the API as the admin, with the toolchain's kubectl and this
 * machine's jq (the audits read the API's JSON with it: without it a check could pass on an empty answer). Its audits
 * are bash (BASH_AUDITS) and kube-bench runs each with /bin/sh, here dash: kube-bench runs in a mount namespace of its
 * own where /bin/sh is bash (under dash, 5.1.1's `[[` was a command not found whose `else` said compliant).
 */
async function kubeBenchPolicies(bundle: string): Promise<string> {
    const which = (program: string) => run("sh", ["-c", `command -v ${program}`]).then(p => p.trim(), () => {
        throw new Error(`${program} is not installed on this machine; the policies target's audits need it (apt-get install -y ${program})`);
    });
    await which("jq");
    const bash = await which("bash");
    assert.equal(path.dirname(await which("kubectl")), path.join(requireEnv("KDW_TOOLCHAIN_HOME"), "bin"), "kubectl is not the toolchain's");
    const kubeBench = [path.join(bundle, "systemd", "kube-bench"), "run", "--config-dir", path.join(bundle, "systemd", "cfg"),
        "--benchmark", BENCHMARK, "--targets", TARGETS.cluster.join(","), "--skip", Object.keys(NOT_APPLICABLE).join(","), "--json"];
    const out = await run("unshare", ["--mount", "--propagation", "private", "sh", "-c",
        "mount --bind \"$1\" /bin/sh && shift && [ -n \"$(/bin/sh -c 'echo \"$BASH_VERSION\"')\" ] && exec \"$@\"",
        "kube-bench-bash", bash, ...kubeBench], { env: { ...process.env, KUBECONFIG: kubeconfigPath }, timeout: 600_000 });
    return judged("cluster-policies", out, TARGETS.cluster);
}

/** The admin kubeconfig's client certificate as the kubeconfig carries it (base64 of the PEM). */
function adminCertData(): string {
    const data = /client-certificate-data: (\S+)/.exec(readFileSync(kubeconfigPath, "utf8"))?.[1];
    assert.ok(data && data.length > 400, "the admin kubeconfig carries no client certificate to look for");
    return data;
}

/**
 * 1.1.13/1.1.14 do not apply because no host holds the admin kubeconfig: on every host, nothing at the paths the
 * check reads, and no file where a kubeconfig is kept holds the admin's client certificate (a line of its PEM's
 * signature, or a piece of that as a kubeconfig carries it in base64).
 */
async function noAdminKubeconfigOnHosts(bundle: string): Promise<string> {
    const paths = readFileSync(path.join(bundle, "admin-conf-paths"), "utf8").trim().split("\n");
    const certData = adminCertData();
    // From the certificate's end, its signature: its beginning (the issuer, the validity) is much like every other
    // certificate of the cluster CA's.
    const pemLines = Buffer.from(certData, "base64").toString("utf8").trim().split("\n");
    const pemLine = pemLines.slice(0, -1).reverse().find(l => /^[A-Za-z0-9+/]{64}$/.test(l));
    assert.ok(pemLine, "no full PEM line in the admin's certificate");
    const needles = [certData.replace(/=+$/, "").slice(-120, -56), pemLine];
    const found: string[] = [];
    for (const host of hosts.slice(0, 6)) {
        const dirs = [...new Set(["/etc", "/root", "/home", "/tmp", hostLayout(host.kind).etc])];
        const out = await ssh(host, asRoot(host, `for f in ${paths.join(" ")}; do [ ! -e "$f" ] || echo "$f exists"; done; ` +
            `for d in ${dirs.join(" ")}; do [ ! -d "$d" ] || grep -rlsF -e '${needles[0]}' -e '${needles[1]}' "$d"; done; true`), 300_000);
        found.push(...out.trim().split("\n").filter(Boolean).map(l => `${host.name}: ${l}`));
    }
    assert.deepEqual(found, [], "the admin kubeconfig (or its certificate) is on a host");
    return `6 hosts: nothing at ${paths.join(", ")}; the admin's certificate in no file under /etc, /root, /home, /tmp ` +
        "or the cluster's configuration folder";
}

/** An anonymous HTTPS request to the API (the kubeconfig's server, checked against its CA): the answer's status code. */
function anonymousStatus(urlPath: string): Promise<number> {
    const config = readFileSync(kubeconfigPath, "utf8");
    const server = /server: (\S+)/.exec(config)?.[1];
    const ca = /certificate-authority-data: (\S+)/.exec(config)?.[1];
    assert.ok(server && ca, "the kubeconfig has no server or CA");
    return new Promise((resolve, reject) => {
        const req = https.get(new URL(urlPath, server), { ca: Buffer.from(ca, "base64"), timeout: 20_000 }, res => {
            res.resume();
            resolve(res.statusCode ?? 0);
        });
        req.on("timeout", () => req.destroy(new Error(`${urlPath}: no answer in 20s`)));
        req.on("error", reject);
    });
}

/** 1.2.1's intent: anonymous requests reach the health and version endpoints only; the API refuses them. */
async function anonymousOnlyHealth(): Promise<string> {
    const open = ["/readyz", "/livez", "/healthz", "/version"];
    const closed = ["/api", "/apis", "/api/v1/namespaces", "/api/v1/namespaces/kube-system/secrets", "/api/v1/nodes"];
    const got: Record<string, number> = {};
    for (const p of [...open, ...closed]) {
        got[p] = await anonymousStatus(p);
    }
    assert.deepEqual(open.filter(p => got[p] !== 200), [], `health or version refused: ${JSON.stringify(got)}`);
    assert.deepEqual(closed.filter(p => got[p] !== 401 && got[p] !== 403), [], `answered an anonymous request: ${JSON.stringify(got)}`);
    return `${open.join(", ")}: 200; ${closed.map(p => `${p}: ${got[p]}`).join(", ")}`;
}

/**
 * 3.2.1/3.2.2's intent: the apiservers' audit logs (the layout's auditLogs folder) record, at Metadata level (no request or
 * response bodies), the admin's creation and deletion of a ConfigMap and a Secret and its read of the Secret.
 */
async function auditLogRecords(): Promise<string> {
    const name = `kdw-audit-probe-${Date.now()}`;
    await kubectl("-n", "default", "create", "configmap", name, "--from-literal=k=v");
    await kubectl("-n", "default", "create", "secret", "generic", name, "--from-literal=k=v");
    await kubectl("-n", "default", "get", "secret", name, "-o", "name");
    await kubectl("-n", "default", "delete", "configmap,secret", name);
    const expected = ["create configmaps", "create secrets", "get secrets", "delete configmaps", "delete secrets"];
    return eventually(60, async () => {
        const events: {
            verb: string; objectRef?: { resource: string; name: string }; requestObject?: unknown; responseObject?: unknown;
        }[] = [];
        for (const host of hosts.slice(0, 3)) {
            const out = await ssh(host, asRoot(host, `grep -h -F '"${name}"' ${hostLayout(host.kind).auditLogs}/audit.log* || true`));
            events.push(...out.trim().split("\n").filter(Boolean).map(line => JSON.parse(line)));
        }
        const seen = events.filter(e => e.objectRef?.name === name).map(e => `${e.verb} ${e.objectRef!.resource}`);
        assert.deepEqual(expected.filter(e => !seen.includes(e)), [], `not in the audit logs (seen: ${seen.join(", ")})`);
        assert.deepEqual(events.filter(e => e.requestObject || e.responseObject).length, 0, "a request's or response's body in the log");
        return `${events.length} records of ${name} on the 3 controllers: ${[...new Set(seen)].join(", ")}`;
    }, 5000);
}

/** A shell command that prints `kubelet running` when a process named kubelet runs (busybox has no pgrep). */
const KUBELET_RUNNING = `for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" != kubelet ] || { echo "kubelet running"; break; }; done`;
const CONTROL_PLANE = ["kdw-etcd", "kdw-kube-apiserver", "kdw-kube-controller-manager", "kdw-kube-scheduler"];

/**
 * 1.1.1-1.1.8 do not apply because the control plane runs as containers, not static pods, on a controller of each host
 * kind: the containers run, no kubelet runs (none could start a static pod), kubeadm's manifest folder holds nothing;
 * and their intent holds: only root can read or change the containers' definitions, which dockerd keeps.
 */
async function controlPlaneNotStaticPods(): Promise<string> {
    const problems: string[] = [];
    let files = 0;
    for (const host of ["systemd", "boot2docker"].map(kind => benchHost("controller", kind as TestHost["kind"]))) {
        const out = await ssh(host, asRoot(host, `${KUBELET_RUNNING}; ` +
            "[ -z \"$(ls -A /etc/kubernetes/manifests 2>/dev/null)\" ] || echo \"manifests in /etc/kubernetes/manifests\"; " +
            `for c in ${CONTROL_PLANE.join(" ")}; do ` +
            "[ \"$(docker inspect --format '{{.State.Running}}' $c)\" = true ] || echo \"$c not running\"; done; " +
            "root=$(docker info --format '{{.DockerRootDir}}'); " +
            `for c in ${CONTROL_PLANE.join(" ")}; do d=$root/containers/$(docker inspect --format '{{.Id}}' $c); ` +
            "stat -c 'stat %n %a %U:%G' $root $root/containers $d $d/config.v2.json $d/hostconfig.json; done"));
        for (const line of out.trim().split("\n")) {
            if (!line.startsWith("stat ")) {
                problems.push(`${host.name}: ${line}`);
                continue;
            }
            files++;
            // Folders closed to others (so nothing below them is readable by others), files writable by root alone.
            const [, file, mode, owner] = line.split(" ");
            const bits = parseInt(mode, 8);
            if (owner !== "root:root" || (file.endsWith(".json") ? (bits & 0o022) !== 0 : (bits & 0o007) !== 0)) {
                problems.push(`${host.name}: ${file} ${mode} ${owner}: open to others`);
            }
        }
    }
    assert.deepEqual(problems, []);
    return `2 controllers: ${CONTROL_PLANE.length} containers running each, no kubelet, no manifests; ` +
        `${files} definition files and folders root's alone`;
}

/**
 * 1.1.9/1.1.10 do not apply because controllers run no pods: on a controller of each host kind no kubelet runs and no
 * CNI configuration exists; and their intent holds where pods run: every CNI file of a worker of each kind is 0600
 * root:root.
 */
async function cniOnlyOnWorkers(): Promise<string> {
    const problems: string[] = [];
    let files = 0;
    for (const kind of ["systemd", "boot2docker"] as const) {
        const controller = benchHost("controller", kind);
        const cni = `${hostLayout(kind).etc}/worker/cni`;
        const out = await ssh(controller, asRoot(controller, `${KUBELET_RUNNING}; for d in /etc/cni/net.d ${cni}; do ` +
            "[ -z \"$(ls -A $d 2>/dev/null)\" ] || echo \"CNI configuration in $d\"; done"));
        problems.push(...out.trim().split("\n").filter(Boolean).map(l => `${controller.name}: ${l}`));
        const worker = benchHost("worker", kind);
        const stats = (await ssh(worker, asRoot(worker, `stat -c '%n %a %U:%G' ${cni}/*`))).trim().split("\n");
        files += stats.length;
        problems.push(...stats.filter(l => !/ 600 root:root$/.test(l)).map(l => `${worker.name}: ${l}`));
    }
    assert.deepEqual(problems, []);
    assert.ok(files >= 4, `only ${files} CNI files on the two workers`);
    return `2 controllers without kubelet or CNI configuration; ${files} CNI files on 2 workers, all 0600 root:root`;
}

async function main() {
    mkdirSync(WORK, { recursive: true });
    // The e2e cluster of this set of test hosts, brought up when there is none; the suite's destroy removes it. The
    // restore and resize scenarios may run on it before (CI's restore+resize) or after (standards+restore+resize).
    await clusterStack(report);
    // Before conformance, whose tests leave namespaces terminating: the policies target reads every pod.
    report.timings.kubeBench = {};
    const bundle = kubeBenchBundle();
    bundle.catch(() => undefined); // each check that needs it fails with its error
    const cis = `CIS ${BENCHMARK} (kube-bench ${versions.kubeBench})`;
    for (const role of ["controller", "worker"] as const) {
        for (const kind of ["systemd", "boot2docker"] as const) {
            const each = TARGETS[role].length > 1 ? " each" : "";
            await report.check(`${cis} on a ${kind} ${role}: ${TARGETS[role].join(", ")}${each} with a PASS; no FAIL; ` +
                "every WARN explained; every INFO a check not applicable",
            async () => kubeBenchOnHost(await bundle, benchHost(role, kind), role));
        }
    }
    await report.check(`${cis} ${TARGETS.cluster.join(", ")}, from this machine through the API: a PASS; no FAIL; ` +
        "every WARN explained", async () => kubeBenchPolicies(await bundle));
    await report.check(`${cis}: every explained WARN still warns on some host (else it comes off WARN_EXPLAINED)`, async () => {
        const runs = Object.entries(benchRuns);
        assert.equal(runs.length, 5, `${runs.length} of 5 kube-bench runs have results (${runs.map(([l]) => l).join(", ")}): ` +
            "the others' failures are above");
        const { nowPass, notMeasured } = staleWarnings(runs.map(([, targets]) => targets));
        assert.deepEqual(notMeasured, [], "explained WARNs of a target no run covered");
        assert.deepEqual(nowPass, [], "explained WARNs that warned nowhere: take them off WARN_EXPLAINED");
        return `${Object.keys(WARN_EXPLAINED).length} explained WARNs, each seen`;
    });
    await report.check(`${cis} not applicable 1.1.1-1.1.8 (pod specification files): on a controller of each host kind ` +
        "the control plane runs as containers, no kubelet, no manifests; only root can read or change the containers' definitions",
    controlPlaneNotStaticPods);
    await report.check(`${cis} not applicable 1.1.9, 1.1.10 (CNI files on controllers): no kubelet and no CNI configuration ` +
        "on a controller of each host kind; every CNI file of a worker of each kind 0600 root:root", cniOnlyOnWorkers);
    await report.check(`${cis} not applicable 1.1.13, 1.1.14 (admin.conf): no host holds the admin kubeconfig, at the ` +
        "paths the check reads or anywhere a kubeconfig is kept", async () => noAdminKubeconfigOnHosts(await bundle));
    await report.check("anonymous requests: health and version answer, the API refuses them (the intent of CIS 1.2.1)",
        anonymousOnlyHealth);
    await report.check("audit log: the admin's changes and its read of a secret are recorded, without bodies, by the " +
        "apiservers (CIS 3.2.1, 3.2.2)", auditLogRecords);
    // No host is lost meanwhile, so the address must not move: a move resets every connection clients hold to it.
    const leaseBefore = await vipLease().catch((err: Error) => `not read: ${err.message}`);
    await report.check(`conformance: sig-network [Conformance] tests; sig-api-machinery's ` +
        "webhook and aggregator, sig-auth's issuer discovery, sig-apps' Deployment and ReplicaSet, sig-node's Pods " +
        `[Conformance] tests (e2e.test ${versions.kubernetes}): every test ` +
        "Ginkgo's dry run selects ran and passed, and no other", conformance);
    await report.check("the API's virtual IP stayed with one controller through the conformance run: its Lease's holder " +
        "and count of transitions the same after as before", async () => {
        const after = await vipLease();
        assert.equal(after, leaseBefore, "the virtual IP moved with no host lost");
        return after;
    });
}

const start = Date.now();
report.run(async () => {
    try {
        await main();
    } finally {
        report.timings.total = { seconds: Math.round((Date.now() - start) / 1000) };
    }
}, () => {
    const c = report.timings.conformance as ConformanceTally | undefined;
    if (c) {
        console.log(`conformance: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped of ${c.selected} selected`);
    }
});
