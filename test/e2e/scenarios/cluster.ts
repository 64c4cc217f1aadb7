// The cluster as a user meets it after `up`: the API's virtual IP, etcd, the API through the cluster CA, Ready
// workers, encryption at rest, Pod Security and the audit log, then the smoke tests of Kubernetes the Hard Way
// (a deployment, port-forward, logs, exec, a NodePort Service, DNS, pod to pod across workers, the service IP) and
// the same across the two host kinds, on a daemon set with a web server on every worker, and NetworkPolicy enforced on
// both kinds. Leaves its workloads (web, kinds) for the scenarios after it.
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { KUBE_VIP_LEASE } from "../../../render/flags";
import { hostLayout } from "../../../render/layout";
import {
    apply, BOOT2DOCKER_HOSTS, caPath, clusterStack, controllers, etcdctl, etcdHealthy, expectReady, image, KINDS, kindChecks, kubeconfigPath,
    kubectl, leaseHolder, nodeOf, podsOf, vip, vipHolders, WEB, WEB_SERVICE, workers,
} from "../e2eCluster";
import { asRoot, eventually, ROOT, run, ssh, workerNames } from "../harness";
import { Scenario } from "../scenario";

const report = new Scenario("cluster");

/** How soon a policy must take effect on every worker (issue 22), in ms. */
const POLICY_EFFECT_MS = 5000;

/**
 * Of `ips`, those whose web server answers a pod within `seconds`, asked from pod `pod` of namespace `namespace`. The
 * time limit is busybox's `timeout`: the smoke image's busybox (Debian's static 1.35.0) crashes on `wget -T`.
 */
async function reachableFrom(namespace: string, pod: string, ips: string[], seconds = 1): Promise<string[]> {
    const probe = ips.map(ip => `(timeout ${seconds} wget -q -O /dev/null http://${ip}/ && echo ${ip}) &`).join(" ") + " wait";
    const out = await kubectl("exec", "-n", namespace, pod, "--", "sh", "-c", probe);
    return out.split("\n").map(l => l.trim()).filter(l => ips.includes(l)).sort();
}

/** How long a server that no longer answers is given before it counts as cut off: a slow answer is not a denial. */
const CUT_OFF_CONFIRM_S = 5;

/**
 * Polls until `reachableFrom` gives `want`; how long that took from `since`, in ms, or throws after 30 s. A server
 * seen answering is proof; one seen not answering within a second is asked again with more time before it counts as
 * cut off (the time is that of the first sighting).
 */
async function msUntilReachable(since: number, namespace: string, pod: string, ips: string[], want: string[]): Promise<number> {
    const wanted = JSON.stringify([...want].sort());
    let seen: string[] = [];
    while (Date.now() - since < 30_000) {
        seen = await reachableFrom(namespace, pod, ips);
        if (JSON.stringify(seen) !== wanted) continue;
        const at = Date.now() - since;
        if (want.length === ips.length) return at;
        seen = await reachableFrom(namespace, pod, ips, CUT_OFF_CONFIRM_S);
        if (JSON.stringify(seen) === wanted) return at;
    }
    throw new Error(`after 30 s ${namespace}/${pod} reaches ${JSON.stringify(seen)}, not ${wanted}`);
}

/**
 * NetworkPolicy is enforced on every worker, of both host kinds (nf_tables and legacy iptables): a web server on each
 * worker in one namespace, a client pod in another; a default-deny policy cuts the client off, an allow policy for
 * its namespace lets it back in, and a pod of a third namespace stays out.
 */
async function networkPolicyChecks() {
    const [server, client] = ["kdw-np-server", "kdw-np-client"];
    const labels = { app: "np-server" };
    await report.check(`NetworkPolicy: a default-deny policy cuts a pod off from another namespace's web servers on every worker within ${POLICY_EFFECT_MS / 1000} s; an allow policy for its namespace lets it back in as fast, and only it`, async () => {
        await kubectl("rollout", "status", "-n", "kube-system", "daemonset/kube-router", "--timeout=180s");
        await apply(
            { apiVersion: "v1", kind: "Namespace", metadata: { name: server } },
            { apiVersion: "v1", kind: "Namespace", metadata: { name: client } },
            {
                apiVersion: "apps/v1", kind: "DaemonSet", metadata: { name: "np-server", namespace: server },
                spec: {
                    selector: { matchLabels: labels },
                    template: { metadata: { labels }, spec: { containers: [{ name: "web", image, ports: [{ containerPort: 80 }] }] } },
                },
            },
            {
                apiVersion: "v1", kind: "Pod", metadata: { name: "client", namespace: client },
                spec: { containers: [{ name: "client", image, command: ["sleep", "3600"] }] },
            });
        try {
            await kubectl("rollout", "status", "-n", server, "daemonset/np-server", "--timeout=180s");
            await kubectl("wait", "-n", client, "--for=condition=Ready", "pod/client", "--timeout=180s");
            const servers = JSON.parse(await kubectl("get", "pods", "-n", server, "-o", "json")).items as any[];
            const ips = servers.map(p => p.status.podIP as string).sort();
            assert.deepEqual(servers.map(p => p.spec.nodeName).sort(), workerNames(3), "a web server on every worker");
            const [outsider] = await podsOf("web");
            // Before any policy every server answers both clients, within the bound a policy has to take effect.
            const open = await msUntilReachable(Date.now(), client, "client", ips, ips);
            const openFromDefault = await msUntilReachable(Date.now(), "default", outsider.name, ips, ips);
            assert.ok(open <= POLICY_EFFECT_MS && openFromDefault <= POLICY_EFFECT_MS,
                `before any policy the servers answered after ${open} ms, from default after ${openFromDefault} ms`);

            await apply({
                apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name: "default-deny", namespace: server },
                spec: { podSelector: {}, policyTypes: ["Ingress"] },
            });
            const denied = await msUntilReachable(Date.now(), client, "client", ips, []);
            assert.ok(denied <= POLICY_EFFECT_MS, `the deny took ${denied} ms`);

            await apply({
                apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name: "allow-client", namespace: server },
                spec: {
                    podSelector: {}, policyTypes: ["Ingress"],
                    ingress: [{ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": client } } }] }],
                },
            });
            const allowed = await msUntilReachable(Date.now(), client, "client", ips, ips);
            assert.ok(allowed <= POLICY_EFFECT_MS, `the allow took ${allowed} ms`);
            assert.deepEqual(await reachableFrom("default", outsider.name, ips, CUT_OFF_CONFIRM_S), [], "a pod of default still reaches them");
            return `open before any policy in ${Math.max(open, openFromDefault)} ms, denied in ${denied} ms, allowed in ${allowed} ms, on ${workers.map(w => `${nodeOf(w)} (${w.kind})`).join(", ")}`;
        } finally {
            await kubectl("delete", "namespace", server, client, "--wait=false");
        }
    });
}

/** `kubectl apply --dry-run=server` of `manifest`: its exit status and what it printed, warnings (stderr) included. */
async function dryRunApply(manifest: object): Promise<{ status: number; output: string }> {
    const out = await run("sh", ["-c", `kubectl --kubeconfig ${kubeconfigPath} apply --dry-run=server -f - 2>&1; echo "exit=$?"`],
        { input: JSON.stringify(manifest) });
    const status = Number(/exit=(\d+)\s*$/.exec(out)?.[1]);
    return { status, output: out.replace(/exit=\d+\s*$/, "").trim() };
}

interface AuditEvent {
    level: string; verb: string; objectRef?: { resource: string; name: string; namespace?: string };
    requestObject?: any; responseObject?: unknown; annotations?: Record<string, string>;
}

/** The audit records of the three controllers' apiservers whose line names `name`. */
async function auditRecordsOf(name: string): Promise<{ events: AuditEvent[]; lines: string[] }> {
    const lines: string[] = [];
    for (const host of controllers) {
        const out = await ssh(host, asRoot(host, `grep -h -F '"${name}"' ${hostLayout(host.kind).auditLogs}/audit.log* || true`));
        lines.push(...out.split("\n").filter(Boolean));
    }
    const events = lines.map(line => JSON.parse(line) as AuditEvent).filter(e => e.objectRef?.name === name);
    return { events, lines };
}

/**
 * Secure by default (issue 22): Pod Security Admission's defaults (enforce baseline, warn and audit restricted,
 * kube-system exempt) as a user meets them, and the audit policy's treatment of a Secret and of an RBAC change.
 */
async function securityChecks(image: string) {
    const pod = (name: string, namespace: string, securityContext?: object) => ({
        apiVersion: "v1", kind: "Pod", metadata: { name, namespace },
        spec: { containers: [{ name: "probe", image, ...(securityContext ? { securityContext } : {}) }] },
    });
    await report.check("Pod Security: a privileged pod in default is refused (server dry run) for violating baseline", async () => {
        const { status, output } = await dryRunApply(pod("kdw-psa-privileged", "default", { privileged: true }));
        assert.notEqual(status, 0, `admitted: ${output}`);
        assert.match(output, /pods "kdw-psa-privileged" is forbidden: violates PodSecurity "baseline:latest": privileged \(container "probe" must not set securityContext\.privileged=true\)/);
        return output.split("\n").pop();
    });
    await report.check("Pod Security: the same privileged pod in kube-system is admitted (server dry run), without a warning", async () => {
        const { status, output } = await dryRunApply(pod("kdw-psa-privileged", "kube-system", { privileged: true }));
        assert.equal(status, 0, output);
        assert.equal(output, "pod/kdw-psa-privileged created (server dry run)");
        return output;
    });
    const baselineOnly = `kdw-psa-baseline-${Date.now()}`;
    await report.check("Pod Security: a pod that meets baseline but not restricted is admitted in default (server dry run) " +
        "with a restricted warning, and its audit record names the restricted violations", async () => {
        const { status, output } = await dryRunApply(pod(baselineOnly, "default"));
        assert.equal(status, 0, output);
        assert.match(output, /^Warning: would violate PodSecurity "restricted:latest": .*allowPrivilegeEscalation != false/m);
        assert.match(output, new RegExp(`^pod/${baselineOnly} created \\(server dry run\\)$`, "m"));
        return eventually(60, async () => {
            const { events } = await auditRecordsOf(baselineOnly);
            const create = events.find(e => e.verb === "create" && e.objectRef?.resource === "pods");
            assert.ok(create, `no audit record of the pod's creation (${events.length} records of it)`);
            assert.match(create.annotations?.["pod-security.kubernetes.io/audit-violations"] ?? "",
                /would violate PodSecurity "restricted:latest"/, JSON.stringify(create.annotations));
            return output.split("\n")[0];
        }, 5000);
    });

    await report.check("audit log: a Secret read is recorded at Metadata level without the Secret's data; an RBAC change " +
        "(a Role and a RoleBinding created) is recorded at Request level with its request body", async () => {
        const stamp = Date.now();
        const [secret, role, binding] = ["secret", "role", "binding"].map(what => `kdw-audit-${what}-${stamp}`);
        const value = `kdw-audit-value-${stamp}`;
        await kubectl("-n", "default", "create", "secret", "generic", secret, `--from-literal=k=${value}`);
        await kubectl("-n", "default", "get", "secret", secret, "-o", "name");
        await kubectl("-n", "default", "create", "role", role, "--verb=get", "--resource=pods");
        await kubectl("-n", "default", "create", "rolebinding", binding, `--role=${role}`, "--user=kdw-audit-user");
        try {
            return await eventually(60, async () => {
                const secretRecords = await auditRecordsOf(secret);
                const read = secretRecords.events.find(e => e.verb === "get" && e.objectRef?.resource === "secrets");
                assert.ok(read, `no audit record of the Secret's read (${secretRecords.events.map(e => e.verb).join(", ")})`);
                assert.equal(read.level, "Metadata");
                for (const e of secretRecords.events) {
                    assert.equal(e.level, "Metadata", `${e.verb} secrets at ${e.level}`);
                    assert.ok(!e.requestObject && !e.responseObject, `${e.verb} secrets recorded with a body`);
                }
                const leaked = secretRecords.lines.filter(l => l.includes(value) || l.includes(Buffer.from(value).toString("base64")));
                assert.deepEqual(leaked, [], "the Secret's data in the audit log");
                const roleCreate = (await auditRecordsOf(role)).events.find(e => e.verb === "create" && e.objectRef?.resource === "roles");
                const bindingCreate = (await auditRecordsOf(binding)).events.find(e => e.verb === "create" && e.objectRef?.resource === "rolebindings");
                assert.ok(roleCreate && bindingCreate, "no audit record of the Role's or the RoleBinding's creation");
                for (const e of [roleCreate, bindingCreate]) {
                    assert.equal(e.level, "Request", `${e.objectRef!.resource} created at ${e.level}`);
                    assert.equal(e.responseObject, undefined, `${e.objectRef!.resource}: the response's body recorded`);
                }
                assert.deepEqual(roleCreate.requestObject?.rules?.[0]?.verbs, ["get"], JSON.stringify(roleCreate.requestObject));
                assert.equal(bindingCreate.requestObject?.subjects?.[0]?.name, "kdw-audit-user", JSON.stringify(bindingCreate.requestObject));
                return `${secretRecords.events.length} records of the Secret (${[...new Set(secretRecords.events.map(e => e.verb))].join(", ")}) ` +
                    "at Metadata, its data in none; the Role's and the RoleBinding's creation at Request with their bodies";
            }, 5000);
        } finally {
            await kubectl("-n", "default", "delete", "secret", secret);
            await kubectl("-n", "default", "delete", "rolebinding", binding);
            await kubectl("-n", "default", "delete", "role", role);
        }
    });
}

report.run(async () => {
    const stack = await clusterStack(report);
    await report.check("virtual IP: the kubeconfig and the endpoint use it, one controller holds it (the Lease's holder), " +
        "kube-vip may hold its Lease and nothing else", async () => {
        const outputs = await stack.outputs();
        assert.equal(outputs.apiServerEndpoint.value, `https://${vip}:6443`);
        assert.ok(readFileSync(kubeconfigPath, "utf8").includes(`server: https://${vip}:6443\n`), "the kubeconfig is not on the VIP");
        const holder = await leaseHolder();
        assert.deepEqual(await vipHolders(controllers), [holder]);
        const canI = async (what: string) => (await run("sh", ["-c",
            `kubectl --kubeconfig ${kubeconfigPath} auth can-i ${what} --as kube-vip || true`])).trim();
        for (const allowed of [`get lease/${KUBE_VIP_LEASE.name} -n kube-system`, `update lease/${KUBE_VIP_LEASE.name} -n kube-system`,
            "create leases -n kube-system"]) {
            assert.equal(await canI(allowed), "yes", `kube-vip cannot ${allowed}`);
        }
        for (const denied of ["update lease/kube-scheduler -n kube-system", "list leases -n kube-system",
            `get lease/${KUBE_VIP_LEASE.name} -n default`, "get pods -n kube-system", "get nodes", "get secrets -n kube-system"]) {
            assert.equal(await canI(denied), "no", `kube-vip can ${denied}`);
        }
        for (const host of controllers) {
            const refused = (await ssh(host, "docker logs --since 30s kdw-kube-vip 2>&1 | grep -ci forbidden || true")).trim();
            assert.equal(refused, "0", `kube-vip on ${host.name} was refused something in the last 30s`);
        }
        return `${vip} on ${holder}`;
    });

    await report.check("etcd: member list shows 3 started members over TLS", async () => {
        const members = JSON.parse(await etcdctl(controllers[0], "member list -w json")).members as any[];
        assert.equal(members.length, 3);
        assert.ok(members.every(m => m.name && m.clientURLs[0].startsWith("https://")), JSON.stringify(members));
        return members.map(m => m.name).join(", ");
    });

    await report.check("etcd's `up` over another cluster's data (the install's own command, another CA) is refused on a systemd and a boot2docker controller; the member runs on, untouched", async () => {
        const state = (await stack.exportStack()).deployment.resources as { urn: string; inputs?: { create?: string } }[];
        const seen: string[] = [];
        for (const i of [0, BOOT2DOCKER_HOSTS[0]]) {
            const controller = controllers[i];
            const install = state.find(r => r.urn.endsWith(`::kdw-controller-${i}-etcd-install`))?.inputs?.create;
            assert.ok(install, `no kdw-controller-${i}-etcd-install in the state`);
            const ownId = /KDW_CLUSTER_ID=([0-9a-f]{64}) /.exec(install)?.[1];
            const data = /KDW_DATA=(\S+) /.exec(install)?.[1];
            assert.ok(ownId && data, "the install command names no cluster or data folder");
            const foreign = install.replace(`KDW_CLUSTER_ID=${ownId} `, `KDW_CLUSTER_ID=${"0".repeat(64)} `);
            const started = async () => (await ssh(controller, "docker inspect --format '{{.State.StartedAt}}' kdw-etcd")).trim();
            const before = await started();
            // Without the files on stdin: the script reads it (empty here) before it refuses.
            const refused = await ssh(controller, `${foreign} </dev/null`).then(() => undefined, (err: Error) => err.message);
            assert.ok(refused, `${controller.name}: etcd.sh up ran over this cluster's data under another cluster's id`);
            assert.match(refused, new RegExp(`${data.replace(/[/.]/g, "\\$&")}/etcd holds etcd data of another cluster .*this cluster's 0{64}.*Nothing was changed on this host`));
            assert.equal(await started(), before, `${controller.name}: the etcd member was restarted`);
            assert.equal((await ssh(controller, asRoot(controller, `cat ${data}/etcd.cluster`))).trim(), ownId, "the data's owner changed");
            seen.push(`${controller.name} (${controller.kind})`);
        }
        await etcdHealthy(30);
        return seen.join(", ");
    });

    await report.check("/version through the cluster CA on every controller", async () => {
        const versions = [];
        for (const c of controllers) {
            const out = await run("curl", ["--silent", "--fail", "--max-time", "10", "--cacert", caPath, `https://${c.ip}:6443/version`]);
            versions.push(JSON.parse(out).gitVersion);
        }
        const pinned = JSON.parse(readFileSync(path.join(ROOT, "versions.json"), "utf8")).kubernetes;
        assert.deepEqual(versions, [pinned, pinned, pinned]);
        return versions[0];
    });

    await report.check("all workers Ready", async () => {
        await expectReady(workerNames(3), 180);
    });

    await report.check("encryption at rest: a secret is stored as k8s:enc:secretbox:v1:key1 in etcd (a new cluster's " +
        "provider), not in the clear, and reads back through the API", async () => {
        await kubectl("create", "secret", "generic", "kdw-e2e", "--from-literal=mykey=mydata");
        const raw = await etcdctl(controllers[0], "get /registry/secrets/default/kdw-e2e --print-value-only");
        assert.ok(raw.startsWith("k8s:enc:secretbox:v1:key1:"), `stored as: ${JSON.stringify(raw.slice(0, 40))}`);
        assert.ok(!raw.includes("mydata"), "the value is readable in etcd");
        const read = await kubectl("get", "secret", "kdw-e2e", "-o", "jsonpath={.data.mykey}");
        assert.equal(Buffer.from(read.trim(), "base64").toString(), "mydata");
    });

    await securityChecks(image);

    await report.check("deployment: pods Running on the workers", async () => {
        await apply(WEB);
        await kubectl("rollout", "status", "deployment/web", "--timeout=180s");
        const pods = await podsOf("web");
        assert.equal(pods.length, 3);
        return pods.map(p => `${p.name}@${p.node}`).join(", ");
    });

    await report.check("port-forward answers on loopback", async () => {
        const [pod] = await podsOf("web");
        const pf = spawn("kubectl", ["--kubeconfig", kubeconfigPath, "port-forward", pod.name, "18080:80"], { stdio: "ignore" });
        try {
            const page = await eventually(20, () => run("curl", ["--silent", "--fail", "--max-time", "5", "http://127.0.0.1:18080/"]), 1000);
            assert.match(page, /kube-dumb-way smoke test/);
        } finally {
            pf.kill();
        }
    });

    await report.check("logs: kubectl logs shows the web server's log", async () => {
        const [pod] = await podsOf("web");
        await kubectl("logs", pod.name);
        await kubectl("exec", pod.name, "--", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/");
        const logs = await eventually(20, async () => {
            const out = await kubectl("logs", pod.name);
            assert.match(out, /GET \/|response:200|127\.0\.0\.1/);
            return out;
        });
        return `${logs.split("\n").length} lines`;
    });

    await report.check("exec: a command runs in a pod", async () => {
        const [pod] = await podsOf("web");
        assert.match(await kubectl("exec", pod.name, "--", "busybox"), /BusyBox v\d/);
    });

    await report.check("NodePort service answers on a worker", async () => {
        await apply(WEB_SERVICE);
        const port = (await kubectl("get", "service", "web", "-o", "jsonpath={.spec.ports[0].nodePort}")).trim();
        const page = await eventually(30, () => run("curl", ["--silent", "--fail", "--max-time", "5", `http://${workers[1].ip}:${port}/`]));
        assert.match(page, /kube-dumb-way smoke test/);
        return `port ${port}`;
    });

    await report.check("DNS: kubernetes.default and a service name resolve from a pod", async () => {
        const [pod] = await podsOf("web");
        await kubectl("rollout", "status", "-n", "kube-system", "deployment/coredns", "--timeout=120s");
        const kube = await eventually(30, () => kubectl("exec", pod.name, "--", "nslookup", "kubernetes.default.svc.cluster.local"));
        assert.match(kube, /10\.32\.0\.1\b/);
        const web = await kubectl("exec", pod.name, "--", "nslookup", "web.default.svc.cluster.local");
        const ip = (await kubectl("get", "service", "web", "-o", "jsonpath={.spec.clusterIP}")).trim();
        assert.ok(web.includes(ip), `web resolved to:\n${web}`);
    });

    await report.check("pod to pod across two workers, through the routes", async () => {
        const pods = await podsOf("web");
        const [a, b] = [pods[0], pods.find(p => p.node !== pods[0].node)];
        assert.ok(b, `all pods on one node: ${JSON.stringify(pods)}`);
        const page = await kubectl("exec", a.name, "--", "timeout", "10", "wget", "-q", "-O", "-", `http://${b.ip}/`);
        assert.match(page, /kube-dumb-way smoke test/);
        return `${a.node} -> ${b.node}`;
    });

    await report.check("a pod reaches the kubernetes service IP", async () => {
        const [pod] = await podsOf("web");
        await kubectl("exec", pod.name, "--", "sh", "-c", "echo | nc -w 5 10.32.0.1 443");
    });

    await report.check("daemon set: a web server pod Running on every worker, of both host kinds", async () => {
        await apply(KINDS);
        await kubectl("rollout", "status", "daemonset/kinds", "--timeout=180s");
        const nodes = (await podsOf("kinds")).map(p => p.node).sort();
        assert.deepEqual(nodes, workerNames(3));
        return workers.map(w => `${nodeOf(w)} (${w.kind})`).join(", ");
    });

    await networkPolicyChecks();

    await kindChecks(report, "after up");
});
