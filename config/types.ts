// What a validated configuration is (ClusterConfig, which the components take) and the constants the settings' rules
// and the components share. The settings themselves, with their defaults and rules, are the table in settings.ts.
import * as versions from "../versions.json";
import type { Values } from "./settings";

/** The project name; it namespaces every config key (`kube-dumb-way:workers`). */
export const PROJECT = "kube-dumb-way";

export type HostProfileSetting = "auto" | "systemd" | "boot2docker";
export const HOST_PROFILES: readonly HostProfileSetting[] = ["auto", "systemd", "boot2docker"];

/**
 * How Secrets are encrypted at rest: secretbox (XSalsa20 and Poly1305, authenticated, the one Kubernetes' documentation
 * ranks above aescbc among local keys), or aescbc, which clusters made before secretbox was the default run.
 */
export const SECRETS_ENCRYPTION_PROVIDERS = ["secretbox", "aescbc"] as const;
export type SecretsEncryption = typeof SECRETS_ENCRYPTION_PROVIDERS[number];
/** The provider of a new cluster. */
/** What can enforce NetworkPolicy (the networkPolicy setting); none leaves policies unenforced. */
export const NETWORK_POLICY_ENFORCERS = ["kube-router", "none"] as const;
export type NetworkPolicyEnforcer = typeof NETWORK_POLICY_ENFORCERS[number];
/** What serves the resource metrics API (the resourceMetrics setting); none leaves `kubectl top` without an answer. */
export const RESOURCE_METRICS_PROVIDERS = ["metrics-server", "none"] as const;
export type ResourceMetricsProvider = typeof RESOURCE_METRICS_PROVIDERS[number];

export const DEFAULT_SECRETS_ENCRYPTION: SecretsEncryption = "secretbox";

/** Pod Security Admission's levels, most permissive first. */
export const POD_SECURITY_LEVELS = ["privileged", "baseline", "restricted"] as const;
export type PodSecurityLevel = typeof POD_SECURITY_LEVELS[number];

export interface PodSecurity {
    enforce: PodSecurityLevel;
    warn: PodSecurityLevel;
    audit: PodSecurityLevel;
    /** Namespaces whose pods Pod Security Admission does not check. */
    exemptNamespaces: string[];
}

/**
 * Secure by default: privileged pods (host namespaces, host paths, added capabilities) are refused, pods that fall
 * short of `restricted` are admitted with a warning and an audit annotation; kube-system, where CoreDNS runs, is
 * exempt so that the program's own add-ons never depend on these levels.
 */
export const DEFAULT_POD_SECURITY: PodSecurity = {
    enforce: "baseline", warn: "restricted", audit: "restricted", exemptNamespaces: ["kube-system"],
};

/** An S3-compatible object store the etcd snapshots are copied to (the etcdSnapshotStore setting). */
export interface SnapshotStore {
    /** https://host[:port] (or http://), no path. */
    endpoint: string;
    bucket: string;
    region: string;
    /** The folder of the cluster's snapshots in the bucket: <prefix>/<node>/<snapshot>. */
    prefix: string;
    accessKeyId: string;
    secretAccessKey: string;
    /** The store's CA (PEM), when the hosts' own CAs do not sign its certificate. */
    caCert?: string;
}

/** The etcd snapshots each controller takes (settings etcdSnapshot*). */
export interface EtcdSnapshots {
    /** Minutes between scheduled snapshots; 0: none on a schedule (still one before every roll). */
    everyMinutes: number;
    /** How many each controller keeps, on its disk and in the store: the newest. */
    keep: number;
    store?: SnapshotStore;
    /**
     * The snapshot every controller's etcd is rebuilt from (etcdRestoreSnapshot): its key in the store, and its sha256
     * as recorded beside it (read from the store before anything is registered: main.ts).
     */
    restore?: { key: string; sha256?: string };
}

/** The fields of etcdSnapshotStore: required ones, and those with a default. */
export const SNAPSHOT_STORE_FIELDS = {
    required: ["endpoint", "bucket", "accessKeyId", "secretAccessKey"],
    optional: ["region", "prefix", "caCertFile"],
} as const;
/** The region a store is signed for when none is given (most S3-compatible servers accept any). */
export const DEFAULT_STORE_REGION = "us-east-1";

export interface GenericHost {
    address: string;
    sshUser: string;
    sshKeyPath: string;
    sshPort?: number;
}

export type NodeRole = "controller" | "worker";

export interface NodePlan {
    name: string;
    role: NodeRole;
    index: number;
    /** Only workers have a pod range. */
    podCidr?: string;
    /** With the generic driver, the existing machine this node is made from. */
    generic?: GenericHost;
}

export interface Versions {
    kubernetes: string;
    etcd: string;
    containerd: string;
    runc: string;
    cniPlugins: string;
    crictl: string;
    coredns: string;
}

/** The settings as the components use them: checked, resolved (versions, binaries, nodes) and grouped. */
export interface ClusterConfig extends Pick<Values, "namePrefix" | "clusterCidr" | "serviceCidr" | "clusterDns" |
    "clusterDomain" | "apiServerPort" | "imageRepository" | "certValidityHours" | "drainTimeoutSeconds"> {
    clusterName: string;
    machine: {
        driver: string;
        memoryMb: number;
        cpus: number;
        diskMb: number;
        /** The boot2docker ISO the machines boot, a local path; the driver's own when unset. */
        iso?: string;
        driverFlags: string[];
        storagePath?: string;
    };
    hostProfile: HostProfileSetting;
    versions: Versions;
    apiServerEndpoint?: string;
    apiServerVip?: string;
    /** The first service IP, which the `kubernetes` service takes. */
    kubernetesServiceIp: string;
    binarySource: BinarySource;
    /** A certificate is re-issued by the first `pulumi up` this many hours or fewer before it expires. */
    certRenewBeforeHours: number;
    apiServerExtraArgs: Record<string, string>;
    podSecurity: PodSecurity;
    /** The text of the audit Policy given by auditPolicyFile; none for the program's own. */
    auditPolicy?: string;
    /** The secretsEncryption setting; none when unset: the provider the cluster runs, secretbox for a new one. */
    secretsEncryption?: SecretsEncryption;
    /** The key's generation that encrypts Secrets (0: the first key); raised by one, a rotation. */
    encryptionKeyGeneration: number;
    networkPolicy: NetworkPolicyEnforcer;
    resourceMetrics: ResourceMetricsProvider;
    kubeletEvictionHard: Record<string, string>;
    etcdSnapshots: EtcdSnapshots;
    controllers: NodePlan[];
    workers: NodePlan[];
}

export type BinarySource =
    | { kind: "folder"; path: string; checksums: Record<string, string> }
    | { kind: "url"; baseUrl: string; checksums: Record<string, string> };

/** Every binary the hosts need; the controllers run images, so these all go to workers. */
export const WORKER_BINARIES = [
    "kubelet", "kube-proxy", "containerd", "containerd-shim-runc-v2", "runc", "crictl",
    "bridge", "host-local", "loopback", "portmap", "kdw-apiserver-lb",
] as const;

/**
 * The flags of the docker-machine drivers that make virtual machines for the machine settings (size, boot ISO); other
 * drivers take theirs through machineDriverFlags. qemu is this project's driver (tools/docker-machine-driver-qemu),
 * which has no ISO of its own to download.
 */
export const VM_DRIVER_FLAGS: Record<string, { memory: string; cpus: string; disk: string; iso: string } | undefined> = {
    virtualbox: { memory: "--virtualbox-memory", cpus: "--virtualbox-cpu-count", disk: "--virtualbox-disk-size", iso: "--virtualbox-boot2docker-url" },
    kvm: { memory: "--kvm-memory", cpus: "--kvm-cpu-count", disk: "--kvm-disk-size", iso: "--kvm-boot2docker-url" },
    hyperv: { memory: "--hyperv-memory", cpus: "--hyperv-cpu-count", disk: "--hyperv-disk-size", iso: "--hyperv-boot2docker-url" },
    qemu: { memory: "--qemu-memory", cpus: "--qemu-cpu-count", disk: "--qemu-disk-size", iso: "--qemu-boot2docker-url" },
};

export const PINNED_VERSIONS: Versions = {
    kubernetes: versions.kubernetes,
    etcd: versions.etcd,
    containerd: versions.containerd,
    runc: versions.runc,
    cniPlugins: versions.cniPlugins,
    crictl: versions.crictl,
    coredns: versions.coredns,
};

/** Raised with every problem found, one sentence each, so a user fixes them all in one go. */
export class ConfigError extends Error {
    constructor(readonly problems: string[]) {
        super(`Invalid configuration (nothing was created):\n${problems.map(p => `  - ${p}`).join("\n")}`);
        this.name = "ConfigError";
    }
}

export interface ValidationContext {
    /** Whether a local path exists; injected so validation stays pure under test. */
    fileExists(path: string): boolean;
    /** Where `binarySource` falls back to when unset: the toolchain's folder, from KDW_BINARY_DIR. */
    defaultBinaryDir?: string;
    /**
     * What is wrong with an existing binary folder (a binary missing, a digest or a version not as pinned), one
     * sentence each naming kube-dumb-way:binarySource and the file; injected because it reads the files.
     */
    binaryFolderProblems?(folder: string, checksums: Record<string, string>, versions: Versions): string[];
    /** A local file's text (auditPolicyFile); throws when it cannot be read. Injected because it reads the file. */
    readFile?(path: string): string;
    /**
     * Whether the stack's config holds a key (or a part of it) as a secret; injected by the stack's loader. Settings
     * given in code are not checked (the components keep them as secrets either way).
     */
    isSecret?(key: string): boolean;
    /**
     * Whether a program of that name is on this machine's PATH, where docker-machine looks for a driver's plugin;
     * injected because it reads the file system.
     */
    onPath?(program: string): boolean;
}
