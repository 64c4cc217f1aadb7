// The configuration files the cluster's programs read, built as objects and serialised by a YAML (or TOML, or JSON)
// library: no template, no hand-made indentation or quoting. Pure: the same arguments give the same text.
import { hkdfSync } from "crypto";
import * as yaml from "js-yaml";
import * as toml from "smol-toml";
import { ClusterConfig, NodePlan, SECRETS_ENCRYPTION_PROVIDERS, SecretsEncryption } from "../config/types";
import { KUBE_PROXY_METRICS_PORT, TLS_CIPHER_SUITES } from "./flags";
import { HostLayout } from "./layout";

/** YAML as Kubernetes' own tools write it: keys in the order given, no line folding, no anchors. */
export const toYaml = (document: object) => yaml.dump(document, { lineWidth: -1, noRefs: true });

const b64 = (text: string) => Buffer.from(text).toString("base64");

/** A kubeconfig with the CA and the client's certificate and key embedded. */
export function kubeconfigYaml(args: {
    clusterName: string; server: string; caPem: string; user: string; certPem: string; keyPem: string;
}): string {
    const context = `${args.user}@${args.clusterName}`;
    return toYaml({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: args.clusterName, cluster: { "certificate-authority-data": b64(args.caPem), server: args.server } }],
        users: [{ name: args.user, user: { "client-certificate-data": b64(args.certPem), "client-key-data": b64(args.keyPem) } }],
        contexts: [{ name: context, context: { cluster: args.clusterName, user: args.user } }],
        "current-context": context,
    });
}

/** One generation of the key that encrypts Secrets at rest: 32 bytes, base64 (what secretbox and aescbc both take). */
export interface EncryptionKey {
    generation: number;
    secret: string;
}

/**
 * Generation `generation` (1 or later) of the key, derived from the cluster's key seed (HKDF-SHA256): any generation can
 * be made again from the seed, which stays in the Pulumi state, and one generation's key tells nothing of another's.
 * Generation 0 is the cluster's first key, made at random before there were generations.
 */
export function derivedEncryptionKey(seed: string, generation: number): EncryptionKey {
    const key = hkdfSync("sha256", Buffer.from(seed, "base64"), Buffer.alloc(0),
        `kube-dumb-way secrets encryption key ${generation}`, 32);
    return { generation, secret: Buffer.from(key).toString("base64") };
}

/** A key's name in the configuration, and so in etcd's values (`k8s:enc:secretbox:v1:key1:`): key1 is generation 0. */
export const encryptionKeyName = (generation: number) => `key${generation + 1}`;

/**
 * Secrets at rest: the first provider's first key encrypts every Secret written; every key listed reads. Each key is
 * listed for both providers, the cluster's first: the other only reads (etcd's value names its provider and key, so
 * each value is read only by its own), and a Secret stored by either stays readable whatever an apiserver runs. Then
 * identity: what was written before encryption.
 */
export const encryptionConfigYaml = (provider: SecretsEncryption, keys: EncryptionKey[]) => toYaml({
    apiVersion: "apiserver.config.k8s.io/v1",
    kind: "EncryptionConfiguration",
    resources: [{
        resources: ["secrets"],
        providers: [
            ...keys.flatMap(key => [provider, ...SECRETS_ENCRYPTION_PROVIDERS.filter(p => p !== provider)].map(p =>
                ({ [p]: { keys: [{ name: encryptionKeyName(key.generation), secret: key.secret }] } }))),
            { identity: {} },
        ],
    }],
});

/**
 * The encryption configuration of each phase of a key rotation (Kubernetes' documented order), from the previous
 * key to the current one: `read`, the current key added as a reader while the previous one still writes, on every
 * apiserver before any writes with it; `write`, the current key writes, the previous one still reads; then, once every
 * Secret has been rewritten, `final`: the current key alone. Without a previous key the three are the same.
 */
export function encryptionPhases(provider: SecretsEncryption, current: EncryptionKey, previous?: EncryptionKey) {
    const final = encryptionConfigYaml(provider, [current]);
    return {
        read: previous ? encryptionConfigYaml(provider, [previous, current]) : final,
        write: previous ? encryptionConfigYaml(provider, [current, previous]) : final,
        final,
    };
}

/** The scheduler's configuration, at the path its container sees. */
export const schedulerConfigYaml = () => toYaml({
    apiVersion: "kubescheduler.config.k8s.io/v1",
    kind: "KubeSchedulerConfiguration",
    clientConnection: { kubeconfig: "/etc/kubernetes/kube-scheduler.kubeconfig" },
    leaderElection: { leaderElect: true },
});

export interface WorkerFileContext {
    cluster: ClusterConfig;
    node: NodePlan;
    layout: HostLayout;
    cgroupDriver: "systemd" | "cgroupfs";
}

/** Where a worker keeps its configuration and key material. */
export const workerEtc = (layout: HostLayout) => `${layout.etc}/worker`;

export function kubeletConfigYaml({ cluster, layout, cgroupDriver }: WorkerFileContext): string {
    const etc = workerEtc(layout);
    return toYaml({
        apiVersion: "kubelet.config.k8s.io/v1beta1",
        kind: "KubeletConfiguration",
        address: "0.0.0.0",
        authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: `${etc}/ca.pem` } },
        authorization: { mode: "Webhook" },
        cgroupDriver,
        failCgroupV1: false,
        clusterDomain: cluster.clusterDomain,
        clusterDNS: [cluster.clusterDns],
        containerRuntimeEndpoint: `unix://${layout.run}/containerd/containerd.sock`,
        runtimeRequestTimeout: "15m",
        tlsCertFile: `${etc}/kubelet.pem`,
        tlsPrivateKeyFile: `${etc}/kubelet-key.pem`,
        // CIS 4.2.12, 4.2.13: TLS 1.2 only with AEAD suites; a limit on each pod's processes.
        tlsCipherSuites: TLS_CIPHER_SUITES,
        podPidsLimit: 4096,
        registerNode: true,
        rotateCertificates: true,
        serializeImagePulls: false,
        // Absent unless set: the kubelet's own thresholds.
        ...(Object.keys(cluster.kubeletEvictionHard).length > 0 ? { evictionHard: cluster.kubeletEvictionHard } : {}),
    });
}

export const kubeProxyConfigYaml = ({ cluster, node, layout }: WorkerFileContext) => toYaml({
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    clientConnection: { kubeconfig: `${workerEtc(layout)}/kube-proxy.kubeconfig` },
    hostnameOverride: node.name,
    mode: "iptables",
    clusterCIDR: cluster.clusterCidr,
    // Metrics on loopback only (CIS 4.3.1); health checks stay on every address.
    metricsBindAddress: `127.0.0.1:${KUBE_PROXY_METRICS_PORT}`,
    // Leave the kernel's conntrack table size alone: on hosts that share a kernel (containers) it is machine-wide.
    conntrack: { maxPerCore: 0 },
});

/**
 * A containerd of the cluster's own, beside any containerd that Docker brings: own socket, root and state. Pods never
 * get a lower OOM score than containerd itself (restrict_oom_score_adj): lowering one needs CAP_SYS_RESOURCE, which
 * hosts that are themselves containers do not have.
 */
export function containerdConfigToml({ layout, cgroupDriver }: WorkerFileContext, pauseImage: string): string {
    const socket = `${layout.run}/containerd/containerd.sock`;
    return toml.stringify({
        version: 3,
        root: `${layout.data}/containerd`,
        state: `${layout.run}/containerd`,
        grpc: { address: socket },
        ttrpc: { address: `${socket}.ttrpc` },
        plugins: {
            "io.containerd.internal.v1.opt": { path: `${layout.data}/containerd/opt` },
            "io.containerd.nri.v1.nri": { disable: true },
            "io.containerd.cri.v1.images": { snapshotter: "overlayfs", pinned_images: { sandbox: pauseImage } },
            "io.containerd.cri.v1.runtime": {
                restrict_oom_score_adj: true,
                containerd: {
                    default_runtime_name: "runc",
                    runtimes: {
                        runc: {
                            runtime_type: "io.containerd.runc.v2",
                            options: {
                                BinaryName: `${layout.home}/bin/runc`, Root: `${layout.run}/runc`,
                                SystemdCgroup: cgroupDriver === "systemd",
                            },
                        },
                    },
                },
                cni: { bin_dirs: [`${layout.home}/cni/bin`], conf_dir: `${workerEtc(layout)}/cni` },
            },
        },
    });
}

/** Pods on the node's bridge with addresses from its pod range; routes between nodes are the hosts' (PodRoute). */
export const cniBridgeConflist = ({ node, layout }: WorkerFileContext) => JSON.stringify({
    cniVersion: "1.0.0",
    name: "kdw-pods",
    plugins: [
        {
            type: "bridge", bridge: "cni0", isGateway: true, ipMasq: false,
            ipam: {
                type: "host-local", ranges: [[{ subnet: node.podCidr! }]], routes: [{ dst: "0.0.0.0/0" }],
                dataDir: `${layout.data}/cni/networks`,
            },
        },
        { type: "portmap", capabilities: { portMappings: true } },
    ],
}, null, 2) + "\n";

export const cniLoopbackConf = () => JSON.stringify({ cniVersion: "1.0.0", name: "lo", type: "loopback" }, null, 2) + "\n";
