// The CIS Kubernetes Benchmark (kube-bench's cis-1.11) as it applies to this cluster: where kube-bench finds our
// components' files, services and data, the benchmark's kubeadm paths mapped onto ours, and the checks that do not
// apply, each with the reason (the README lists them). Pure, so the unit tests read it directly.
import { HostLayout } from "../../components/layout";

export const BENCHMARK = "cis-1.11";

/** kube-bench targets per kind of host: a controller runs etcd and the control plane, a worker the node services. */
export const TARGETS = {
    controller: ["master", "etcd", "controlplane", "policies"],
    worker: ["node"],
} as const;

/**
 * Checks that do not apply to this cluster, by id, with why; kube-bench reports them as INFO ("--skip"), never PASS.
 * Where the check's intent can be met another way, the standards suite checks that instead (see `intent`).
 */
export const NOT_APPLICABLE: Record<string, { why: string; intent?: string }> = {
    "1.1.1": podSpec("kube-apiserver"),
    "1.1.2": podSpec("kube-apiserver"),
    "1.1.3": podSpec("kube-controller-manager"),
    "1.1.4": podSpec("kube-controller-manager"),
    "1.1.5": podSpec("kube-scheduler"),
    "1.1.6": podSpec("kube-scheduler"),
    "1.1.7": podSpec("etcd"),
    "1.1.8": podSpec("etcd"),
    "1.1.9": { why: "controllers run no pods and so no CNI configuration; the workers' CNI files are written 0600 root:root." },
    "1.1.10": { why: "controllers run no pods and so no CNI configuration; the workers' CNI files are written 0600 root:root." },
    "1.1.13": { why: "no administrative kubeconfig is kept on any host: the program hands it out only as a Pulumi secret output." },
    "1.1.14": { why: "no administrative kubeconfig is kept on any host: the program hands it out only as a Pulumi secret output." },
};

function podSpec(component: string): { why: string; intent: string } {
    return {
        why: `${component} runs as a Docker container that the program starts with its flags, not as a static pod from a manifest file.`,
        intent: "only root can read or change the container's definition, which dockerd holds under /var/lib/docker/containers (checked by the suite).",
    };
}

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
            etcd: { bins: ["etcd"], ...only(`${layout.data}/etcd`, "datadirs", "defaultdatadir") },
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
            etcd: { bins: ["etcd"], ...only(`${layout.data}/etcd`, "datadirs", "defaultdatadir") },
        },
        controlplane: {
            components: ["apiserver"],
            apiserver: { bins: ["kube-apiserver"] },
        },
        policies: { components: [] },
    };
}

/**
 * The few audit commands of the benchmark that name kubeadm's paths literally instead of through the config: mapped
 * onto ours (the control plane's PKI folder, our `.pem`/`-key.pem` names). The tests of each check are unchanged.
 */
export function auditPathMap(layout: HostLayout): [string, string][] {
    const pki = `${layout.etc}/control-plane/pki/`;
    return [
        ["find /etc/kubernetes/pki/ -name '*.crt'", `find ${pki} -name '*.pem' ! -name '*-key.pem'`],
        ["find /etc/kubernetes/pki/ -name '*.key'", `find ${pki} -name '*-key.pem'`],
        ["find /etc/kubernetes/pki/ ", `find ${pki} `],
    ];
}

/** A benchmark file with our paths in place of kubeadm's literal ones; fails if a mapping no longer matches. */
export function mapAuditPaths(text: string, map: [string, string][], file: string): string {
    let out = text;
    for (const [from, to] of map) {
        if (file === "master.yaml" && !out.includes(from)) {
            throw new Error(`${file} no longer contains "${from}": review the path mapping for this kube-bench version`);
        }
        out = out.split(from).join(to);
    }
    return out;
}

interface BenchResult { test_number: string; test_desc: string; status: string; scored: boolean }
interface BenchControls { id: string; text: string; tests: { results: BenchResult[] }[] }

export interface BenchTally { target: string; pass: number; fail: number; warn: number; info: number; failed: string[] }

/** Counts per target from `kube-bench --json` output (one object, or one per target). */
export function tallyKubeBench(json: string): BenchTally[] {
    const parsed = JSON.parse(json);
    const controls: BenchControls[] = Array.isArray(parsed) ? parsed : parsed.Controls ?? [parsed];
    return controls.map(c => {
        const results = c.tests.flatMap(t => t.results ?? []);
        const count = (s: string) => results.filter(r => r.status === s).length;
        return {
            target: `${c.id} ${c.text}`,
            pass: count("PASS"), fail: count("FAIL"), warn: count("WARN"), info: count("INFO"),
            failed: results.filter(r => r.status === "FAIL").map(r => `${r.test_number} ${r.test_desc}`),
        };
    });
}
