// The CIS Kubernetes Benchmark (kube-bench's cis-1.11) as it applies to this cluster: where kube-bench finds our
// components' files, services and data, the benchmark's kubeadm paths mapped onto ours, the checks that do not apply
// and the warnings we accept, each with the reason (the README lists them), and how a run is judged. Pure, so the
// unit tests read it directly.
import { HostLayout } from "../../render/layout";

export const BENCHMARK = "cis-1.11";

/**
 * kube-bench targets by where they run: a controller's (etcd and the control plane) and a worker's (the node services)
 * on the host, one of each host kind; the policies, which only read the cluster through its API with kubectl and jq,
 * from this machine, where the admin kubeconfig is, so that no host ever holds it.
 */
export const TARGETS = {
    controller: ["master", "etcd", "controlplane"],
    worker: ["node"],
    cluster: ["policies"],
} as const;
export type BenchRole = keyof typeof TARGETS;

/** The benchmark's section of each target: its check ids start with this number. */
export const TARGET_SECTION: Record<string, string> = { master: "1", etcd: "2", controlplane: "3", node: "4", policies: "5" };

/**
 * Checks that do not apply to this cluster, by id, with why; kube-bench reports them as INFO ("--skip"), never PASS.
 * `verified`: what the standards suite checks on the hosts to show that the reason holds, and where the check's
 * intent can be met another way, that too.
 */
export const NOT_APPLICABLE: Record<string, { why: string; verified: string }> = {
    "1.1.1": podSpec("kube-apiserver"),
    "1.1.2": podSpec("kube-apiserver"),
    "1.1.3": podSpec("kube-controller-manager"),
    "1.1.4": podSpec("kube-controller-manager"),
    "1.1.5": podSpec("kube-scheduler"),
    "1.1.6": podSpec("kube-scheduler"),
    "1.1.7": podSpec("etcd"),
    "1.1.8": podSpec("etcd"),
    "1.1.9": controllerCni(),
    "1.1.10": controllerCni(),
    "1.1.13": adminConf(),
    "1.1.14": adminConf(),
};

function podSpec(component: string): { why: string; verified: string } {
    return {
        why: `${component} runs as a Docker container that the program starts with its flags, not as a static pod from a manifest file.`,
        verified: "on a controller of each host kind: the container runs, no kubelet runs (none could start a static pod) and " +
            "kubeadm's manifest folder holds nothing; only root can read or change the container's definition, which " +
            "dockerd holds under its root folder.",
    };
}

function controllerCni(): { why: string; verified: string } {
    return {
        why: "controllers run no pods and so no CNI configuration; the workers' CNI files are written 0600 root:root.",
        verified: "on a controller of each host kind: no kubelet runs, no CNI configuration exists; on a worker of each host " +
            "kind: every CNI configuration file is 0600 root:root.",
    };
}

function adminConf(): { why: string; verified: string } {
    return {
        why: "no administrative kubeconfig is kept on any host: the program hands it out only as a Pulumi secret output.",
        verified: "on every host: no file at the paths the check reads, and no file under /etc, /root, /home, /tmp or the " +
            "cluster's configuration folder holds the admin's client certificate.",
    };
}

/**
 * Checks that kube-bench reports as WARN here, by id, each with why it warns and, where the check's intent is met
 * another way, what shows it (`shownBy`: `<scenario>: <the start of a check's name>`, a check of an end-to-end
 * scenario). A WARN not listed fails the suite; a listed check that no longer warns on any host fails it too, so that
 * this list stays true.
 */
export const WARN_EXPLAINED: Record<string, { why: string; shownBy?: string }> = {
    "1.2.1": {
        why: "anonymous requests stay allowed, kube-apiserver's default and kubeadm's: the readiness checks and load balancers " +
            "read /readyz and /livez without credentials; RBAC gives the anonymous user only system:public-info-viewer.",
        shownBy: "standards: anonymous requests",
    },
    "1.2.3": {
        why: "DenyServiceExternalIPs is off, as in Kubernetes and kubeadm: Services' externalIPs are a feature users may rely on, " +
            "and who may set them (who may create Services) is the cluster's RBAC.",
    },
    "1.2.9": {
        why: "EventRateLimit is off, as in Kubernetes and kubeadm: it needs an admission configuration of an alpha API " +
            "(eventratelimit.admission.k8s.io/v1alpha1), which the program does not write.",
    },
    "1.2.11": {
        why: "AlwaysPullImages is off: with it every pod start pulls its image from the registry again, so pods could not " +
            "restart while the registry is away; it guards tenants who share nodes, whom the program does not separate.",
    },
    "1.2.20": { why: "a manual check, which kube-bench does not judge: --request-timeout keeps Kubernetes' 60 s." },
    "3.1.1": {
        why: "a manual check: the admin's credential is a client certificate (group system:masters), the only user " +
            "authentication the program sets up; it is handed out only as a Pulumi secret output.",
    },
    "3.1.2": { why: "a manual check: the program gives no user a service-account token; its one service account is CoreDNS's." },
    "3.1.3": {
        why: "a manual check: bootstrap tokens are off (no --enable-bootstrap-token-auth): the program issues every node's " +
            "certificate itself.",
    },
    "3.2.2": {
        why: "a manual check: the audit policy (host/scripts/audit-policy.yaml) records every change and every read of " +
            "secrets and tokens and every exec, attach, port-forward and proxy, at Metadata level (no bodies, so no secrets).",
        shownBy: "standards: audit log",
    },
    "4.2.7": {
        why: "--hostname-override names the node as the program plans it (kdw-worker-N), as its kubelet certificate does; the " +
            "apiserver reaches kubelets by address and checks their serving certificates against the cluster CA.",
        shownBy: "cluster: exec: a command runs in a pod",
    },
    "4.2.14": {
        why: "seccompDefault stays off, as in Kubernetes: turned on, it puts every container of every workload under the " +
            "runtime's default seccomp profile, a change to what users' pods may do that the program does not make for them.",
    },
    "4.2.15": {
        why: "IPAddressDeny is a systemd unit setting, which kube-bench looks for in the kubelet's configuration file, where " +
            "it cannot be; the kubelet reaches the API and serves the apiserver, so its service denies no address.",
    },
    "5.1.3": {
        why: "the wildcards are in Kubernetes' built-in ClusterRoles (cluster-admin, system:kubelet-api-admin, controllers') " +
            "and in the program's system:kube-apiserver-to-kubelet (every verb on the kubelet API, as in Kubernetes the Hard Way).",
    },
    "5.1.5": {
        why: "Kubernetes makes every namespace's default service account with automountServiceAccountToken unset; the " +
            "program leaves accounts it did not make, the users' namespaces' among them, as they are.",
    },
    "5.1.6": {
        why: "CoreDNS, the only pods the program runs, reads Services and EndpointSlices through the API with its token.",
        shownBy: "cluster: DNS: kubernetes.default and a service name resolve from a pod",
    },
    "5.1.7": {
        why: "a manual check: the admin's client certificate is in group system:masters, as kubeadm's admin.conf was before " +
            "Kubernetes 1.29; the program makes no other administrator.",
    },
    "5.1.8": { why: "a manual check: no role the program adds may bind, escalate or impersonate." },
    "5.1.9": { why: "a manual check: no role the program adds may create PersistentVolumes." },
    "5.1.10": {
        why: "a manual check: the nodes' proxy subresource is open to the apiserver's kubelet client (for exec, logs and " +
            "port-forward) through the program's system:kube-apiserver-to-kubelet, and to no other role the program adds.",
    },
    "5.1.11": {
        why: "a manual check: only nodes' renewals of their own client certificates are approved, by the controller-manager " +
            "(kdw:node-autoapprove-certificate-rotation); no role the program adds may approve.",
    },
    "5.1.12": { why: "a manual check: no role the program adds reaches webhook configurations." },
    "5.1.13": { why: "a manual check: no role the program adds may create service-account tokens." },
    "5.2.1": {
        why: "a manual check: Pod Security Admission enforces baseline and warns and audits restricted in every namespace " +
            "but kube-system (the apiservers' admission configuration, kube-dumb-way:podSecurity).",
        shownBy: "cluster: Pod Security: a privileged pod in default is refused (server dry run) for violating baseline",
    },
    "5.2.2": { why: "kube-router's policy controller runs privileged in kube-system (exempt from Pod Security), as kube-proxy would: it writes the worker's iptables rules and ipsets; baseline (5.2.1) refuses privileged pods everywhere else." },
    "5.2.5": { why: "kube-router's policy controller shares the worker's network namespace in kube-system, where its rules must go; baseline (5.2.1) refuses host networking everywhere else." },
    "5.2.7": { why: "a manual check: baseline (5.2.1) admits root containers; restricted, which refuses them, only warns and audits." },
    "5.2.8": { why: "a manual check: baseline (5.2.1) admits the runtime's default capabilities, NET_RAW among them; restricted, which drops them, only warns and audits." },
    "5.2.9": { why: "CoreDNS adds NET_BIND_SERVICE (all others dropped) to serve port 53, as upstream's CoreDNS does." },
    "5.2.10": { why: "a manual check: baseline (5.2.1) admits the runtime's default capabilities and refuses others; restricted only warns and audits." },
    "5.2.11": { why: "a manual check: there are no Windows nodes." },
    "5.2.12": { why: "a manual check: baseline (5.2.1) refuses HostPath volumes in every namespace but kube-system." },
    "5.2.13": { why: "a manual check: baseline (5.2.1) refuses host ports in every namespace but kube-system." },
    "5.3.1": {
        why: "a manual check: the CNI is the reference bridge plugin with host routes, which does not enforce NetworkPolicies.",
    },
    "5.3.2": { why: "a manual check: no namespace has NetworkPolicies, which the bridge CNI would not enforce (5.3.1)." },
    "5.4.1": { why: "a manual check: the program's own pods (CoreDNS) take no secret; users' pods are theirs." },
    "5.4.2": {
        why: "a manual check: secrets stay in etcd, encrypted at rest with secretbox under a key the program makes.",
        shownBy: "cluster: encryption at rest: a secret is stored as k8s:enc:secretbox:v1:key1 in etcd",
    },
    "5.5.1": { why: "a manual check: there is no ImagePolicyWebhook; images come from the configured imageRepository." },
    "5.6.1": { why: "a manual check: namespaces are the users' to make; the program's own objects are in kube-system." },
    "5.6.2": { why: "a manual check: pods run without a seccomp profile unless they ask for one (4.2.14)." },
    "5.6.3": {
        why: "a manual check: CoreDNS runs with a security context (no privilege escalation, all capabilities dropped but " +
            "NET_BIND_SERVICE, a read-only root); users' pods are theirs.",
    },
    "5.6.4": { why: "a manual check: the program puts nothing in the default namespace." },
};

/** The benchmark's version-specific config.yaml (cfg/cis-1.11/config.yaml), for hosts laid out as `layout`. */
export function kubeBenchConfig(layout: HostLayout): Record<string, unknown> {
    const controlPlane = `${layout.etc}/control-plane`;
    const worker = `${layout.etc}/worker`;
    // kube-bench reads a node service's definition: a systemd unit, or on boot2docker the command line kdw-service runs.
    const service = (name: string) => layout.profile === "systemd"
        ? `/etc/systemd/system/kdw-${name}.service` : `${worker}/${name}.cmd`;
    const only = (file: string, key: string, defaultKey: string) => ({ [key]: [file], [defaultKey]: file });
    return {
        master: {
            // Controllers run etcd and the control plane in containers; no kubelet, no flanneld.
            components: ["apiserver", "scheduler", "controllermanager", "etcd"],
            apiserver: { bins: ["kube-apiserver"] },
            scheduler: { bins: ["kube-scheduler"], ...only(`${controlPlane}/kube-scheduler.kubeconfig`, "kubeconfig", "defaultkubeconfig") },
            controllermanager: {
                bins: ["kube-controller-manager"],
                ...only(`${controlPlane}/kube-controller-manager.kubeconfig`, "kubeconfig", "defaultkubeconfig"),
            },
            etcd: { bins: ["etcd"], optional: false, ...only(`${layout.data}/etcd`, "datadirs", "defaultdatadir") },
        },
        node: {
            components: ["kubelet", "proxy"],
            kubelet: {
                bins: ["kubelet"],
                ...only(`${worker}/ca.pem`, "cafile", "defaultcafile"),
                ...only(service("kubelet"), "svc", "defaultsvc"),
                ...only(`${worker}/kubelet.kubeconfig`, "kubeconfig", "defaultkubeconfig"),
                ...only(`${worker}/kubelet-config.yaml`, "confs", "defaultconf"),
            },
            proxy: {
                bins: ["kube-proxy"],
                ...only(`${worker}/kube-proxy.kubeconfig`, "kubeconfig", "defaultkubeconfig"),
                ...only(`${worker}/kube-proxy-config.yaml`, "confs", "defaultconf"),
                ...only(service("kube-proxy"), "svc", "defaultsvc"),
            },
        },
        etcd: {
            components: ["etcd"],
            etcd: { bins: ["etcd"], optional: false, ...only(`${layout.data}/etcd`, "datadirs", "defaultdatadir") },
        },
        controlplane: {
            components: ["apiserver"],
            apiserver: { bins: ["kube-apiserver"] },
        },
        policies: { components: [] },
    };
}

/**
 * The benchmark's text changed for us, per file, each change with the reason; the tests of each check are unchanged.
 * The audit commands that name kubeadm's PKI paths literally instead of through the config, pointed at ours (the
 * control plane's PKI folder, our `.pem` and `-key.pem` names). 1.2.28 reads the encryption configuration at the
 * path the apiserver's flag names, which is the container's: /etc/kubernetes there is the host's control-plane folder
 * (otherwise nothing is read and it warns on any configuration). 4.3.1 reads kube-proxy's `metricsBindAddress` from
 * its kubeconfig, where it never is, so it passed on any setting: it reads kube-proxy's configuration file instead.
 */
export function auditMaps(layout: HostLayout): Record<string, [string, string][]> {
    const controlPlane = `${layout.etc}/control-plane`;
    const encryptionFlag = String.raw`sed 's%.*encryption-provider-config[= ]\([^ ]*\).*%\1%'`;
    const proxyConfig = (file: string) => `audit_config: "/bin/sh -c 'if test -e ${file}; then cat ${file}; fi'"`;
    return {
        "master.yaml": [
            ["find /etc/kubernetes/pki/ -name '*.crt'", `find ${controlPlane}/pki/ -name '*.pem' ! -name '*-key.pem'`],
            ["find /etc/kubernetes/pki/ -name '*.key'", `find ${controlPlane}/pki/ -name '*-key.pem'`],
            ["find /etc/kubernetes/pki/ ", `find ${controlPlane}/pki/ `],
            [`${encryptionFlag})`, `${encryptionFlag} | sed 's%^/etc/kubernetes/%${controlPlane}/%')`],
        ],
        "node.yaml": [
            [proxyConfig("$proxykubeconfig"), proxyConfig("$proxyconf")],
        ],
    };
}

/**
 * The benchmark's files whose audits are bash (`[[ ]]`, `+=`), written for kube-bench's own image: kube-bench runs
 * every audit with /bin/sh, so these run where /bin/sh is bash (see the standards suite). The others run on the
 * hosts, under dash or busybox's sh, and must stay POSIX.
 */
export const BASH_AUDITS = ["policies.yaml"];

/**
 * A benchmark file with the changes of `auditMaps` for it; fails if one no longer matches (this kube-bench version's
 * text changed: review the map), or if a file that runs under a POSIX sh has a bash construct.
 */
export function mapAudits(text: string, maps: Record<string, [string, string][]>, file: string): string {
    let out = text;
    for (const [from, to] of maps[file] ?? []) {
        if (!out.includes(from)) {
            throw new Error(`${file} no longer contains "${from}": review the audit map for this kube-bench version`);
        }
        out = out.split(from).join(to);
    }
    const bashism = /\[\[ |\b[A-Za-z_][A-Za-z0-9_]*\+=/.exec(out);
    if (bashism && !BASH_AUDITS.includes(file)) {
        throw new Error(`${file} has "${bashism[0]}", which dash and busybox's sh do not run as bash does: run it with bash (BASH_AUDITS)`);
    }
    return out;
}

/** The files check 1.1.13/1.1.14 reads (`for adminconf in …; do`), from the benchmark's master.yaml. */
export function adminConfPaths(masterYaml: string): string[] {
    const paths = /for adminconf in ([^;]+); do/.exec(masterYaml)?.[1].trim().split(/\s+/);
    if (!paths?.length || paths.some(p => !p.startsWith("/"))) {
        throw new Error("master.yaml's 1.1.13 no longer lists its files as `for adminconf in …; do`: review adminConfPaths");
    }
    return paths;
}

export interface BenchCheck { id: string; desc: string; status: string; scored: boolean; manual: boolean; reason: string; actual: string }
export interface BenchTarget { target: string; text: string; checks: BenchCheck[] }
export interface BenchTally { target: string; pass: number; fail: number; warn: number; info: number }

interface RawResult {
    test_number: string; test_desc: string; status: string; scored: boolean; type?: string; reason?: string; actual_value?: string;
}
interface RawControls { id: string; text: string; node_type: string; tests: { results: RawResult[] | null }[] | null }

/** The targets of `kube-bench --json` output (one object with `Controls`, or a single target's controls). */
export function readKubeBench(json: string): BenchTarget[] {
    const parsed = JSON.parse(json);
    const controls: RawControls[] = Array.isArray(parsed) ? parsed : parsed.Controls ?? [parsed];
    return controls.map(c => ({
        target: c.node_type,
        text: `${c.id} ${c.text}`,
        checks: (c.tests ?? []).flatMap(t => t.results ?? []).map(r => ({
            id: r.test_number, desc: r.test_desc, status: r.status, scored: r.scored, manual: r.type === "manual",
            reason: r.reason ?? "", actual: r.actual_value ?? "",
        })),
    }));
}

export function tallyOf(t: BenchTarget): BenchTally {
    const count = (s: string) => t.checks.filter(c => c.status === s).length;
    return { target: t.target, pass: count("PASS"), fail: count("FAIL"), warn: count("WARN"), info: count("INFO") };
}

/**
 * What is wrong with one kube-bench run that was to cover `expected` targets: a target missing, or not asked for; a
 * target without a single PASS; a FAIL; a WARN not in WARN_EXPLAINED; an INFO that is not one of NOT_APPLICABLE, or a
 * check of NOT_APPLICABLE that was not skipped; an audit whose ps the boot2docker stand-in refused. Empty when the run
 * is as it should be.
 */
export function judgeBench(targets: BenchTarget[], expected: readonly string[]): string[] {
    const problems: string[] = [];
    const seen = targets.map(t => t.target);
    for (const name of expected.filter(e => !seen.includes(e))) {
        problems.push(`target ${name}: not in kube-bench's report`);
    }
    for (const name of seen.filter(s => !expected.includes(s))) {
        problems.push(`target ${name}: reported, though not asked for`);
    }
    const detail = (c: BenchCheck) => {
        const why = c.reason || c.actual;
        return `${c.id} ${c.desc}${why ? ` (${why.replace(/\s+/g, " ").slice(0, 200)})` : ""}`;
    };
    for (const t of targets) {
        const tally = tallyOf(t);
        if (tally.pass === 0) {
            problems.push(`target ${t.target}: no check passed (${tally.fail} FAIL, ${tally.warn} WARN, ${tally.info} INFO)`);
        }
        for (const c of t.checks) {
            if (c.actual.includes("kube-bench-ps:")) {
                problems.push(`the ps stand-in (kube-bench-ps.sh) refused an audit's ps, whatever the status: ${detail(c)}`);
            }
            if (c.status === "FAIL") {
                problems.push(`FAIL ${detail(c)}`);
            } else if (c.status === "WARN" && !WARN_EXPLAINED[c.id]) {
                problems.push(`WARN not explained in WARN_EXPLAINED: ${detail(c)}`);
            } else if (c.status === "INFO" && !NOT_APPLICABLE[c.id]) {
                problems.push(`INFO not in NOT_APPLICABLE: ${detail(c)}`);
            } else if (c.status !== "INFO" && NOT_APPLICABLE[c.id]) {
                problems.push(`${c.status} for a check skipped as not applicable: ${detail(c)}`);
            } else if (!["PASS", "FAIL", "WARN", "INFO"].includes(c.status)) {
                problems.push(`unknown status ${c.status}: ${detail(c)}`);
            }
        }
        const ids = new Set(t.checks.map(c => c.id));
        const section = TARGET_SECTION[t.target];
        for (const id of Object.keys(NOT_APPLICABLE).filter(id => id.split(".")[0] === section && !ids.has(id))) {
            problems.push(`${id} (not applicable): not in kube-bench's report of ${t.target}`);
        }
    }
    return problems;
}

/**
 * The checks of WARN_EXPLAINED that warned in none of `runs` (each a run's targets), though a run covered their
 * target: no longer a reason to keep them there. Also those whose target no run covered, so never measured.
 */
export function staleWarnings(runs: BenchTarget[][]): { nowPass: string[]; notMeasured: string[] } {
    const all = runs.flat();
    const covered = new Set(all.map(t => TARGET_SECTION[t.target]));
    const warned = new Set(all.flatMap(t => t.checks.filter(c => c.status === "WARN").map(c => c.id)));
    const ids = Object.keys(WARN_EXPLAINED);
    return {
        nowPass: ids.filter(id => covered.has(id.split(".")[0]) && !warned.has(id)).map(id => {
            const states = [...new Set(all.flatMap(t => t.checks.filter(c => c.id === id).map(c => c.status)))];
            return `${id}: ${states.length ? states.join("/") : "not in the report"}`;
        }),
        notMeasured: ids.filter(id => !covered.has(id.split(".")[0])),
    };
}
