// Cluster configuration: the raw values from Pulumi config, their validation, and the address plan derived from them.
// Everything here is pure so that every rule is unit-tested without a Pulumi engine.
import * as path from "path";
import * as semver from "semver";
import * as versions from "../versions.json";
import { contains, formatCidr, hostAddress, isIpv4, overlaps, parseCidr, size, subnet, subnetCount, Cidr } from "../components/net";

/** The project name; it namespaces every config key (`kube-dumb-way:workers`). */
export const PROJECT = "kube-dumb-way";

export type HostProfileSetting = "auto" | "systemd" | "boot2docker";
export const HOST_PROFILES: readonly HostProfileSetting[] = ["auto", "systemd", "boot2docker"];

export interface GenericHost {
    address: string;
    sshUser: string;
    sshKeyPath: string;
    sshPort?: number;
}

/** Config as read from the stack: every key optional, types not yet trusted. */
export interface RawConfig {
    controllers?: unknown;
    workers?: unknown;
    namePrefix?: unknown;
    machineDriver?: unknown;
    machineMemory?: unknown;
    machineCpus?: unknown;
    machineDiskSize?: unknown;
    machineDriverFlags?: unknown;
    machineStoragePath?: unknown;
    genericHosts?: unknown;
    hostProfile?: unknown;
    kubernetesVersion?: unknown;
    etcdVersion?: unknown;
    containerdVersion?: unknown;
    runcVersion?: unknown;
    cniPluginsVersion?: unknown;
    crictlVersion?: unknown;
    corednsVersion?: unknown;
    clusterCidr?: unknown;
    serviceCidr?: unknown;
    clusterDns?: unknown;
    clusterDomain?: unknown;
    apiServerPort?: unknown;
    apiServerEndpoint?: unknown;
    apiServerVip?: unknown;
    binarySource?: unknown;
    binaryChecksums?: unknown;
    imageRepository?: unknown;
    certValidityHours?: unknown;
    certRenewBeforeHours?: unknown;
    drainTimeoutSeconds?: unknown;
    apiServerExtraArgs?: unknown;
    kubeletEvictionHard?: unknown;
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

export interface ClusterConfig {
    clusterName: string;
    namePrefix: string;
    machine: {
        driver: string;
        memoryMb: number;
        cpus: number;
        diskMb: number;
        driverFlags: string[];
        storagePath?: string;
    };
    hostProfile: HostProfileSetting;
    versions: Versions;
    clusterCidr: string;
    serviceCidr: string;
    clusterDns: string;
    clusterDomain: string;
    apiServerPort: number;
    /** Name or address clients use for the API when it is not the virtual IP (a DNS name, a NAT or a load balancer). */
    apiServerEndpoint?: string;
    /** The API's virtual IP, held by one controller at a time (kube-vip); none when unset. */
    apiServerVip?: string;
    /** The first service IP, which the `kubernetes` service takes. */
    kubernetesServiceIp: string;
    binarySource: BinarySource;
    imageRepository: string;
    certValidityHours: number;
    /** A certificate is re-issued by the first `pulumi up` this many hours or fewer before it expires. */
    certRenewBeforeHours: number;
    /** How long a worker's drain may take before its roll fails (PodDisruptionBudgets can hold it). */
    drainTimeoutSeconds: number;
    /** Extra kube-apiserver flags (name without dashes → value), after the program's own. */
    apiServerExtraArgs: Record<string, string>;
    /** The kubelet's hard eviction thresholds (signal → threshold); empty for the kubelet's defaults. */
    kubeletEvictionHard: Record<string, string>;
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

/** Machine sizing flags per docker-machine driver; other drivers take their sizes through machineDriverFlags. */
export const DRIVER_SIZE_FLAGS: Record<string, { memory: string; cpus: string; disk: string } | undefined> = {
    virtualbox: { memory: "--virtualbox-memory", cpus: "--virtualbox-cpu-count", disk: "--virtualbox-disk-size" },
    kvm: { memory: "--kvm-memory", cpus: "--kvm-cpu-count", disk: "--kvm-disk-size" },
    hyperv: { memory: "--hyperv-memory", cpus: "--hyperv-cpu-count", disk: "--hyperv-disk-size" },
};

/** docker-machine create flags that belong to no driver. */
const ENGINE_FLAG = /^--(engine-[a-z-]+|tls-san)(=.*)?$/;

const DNS_LABEL = /^[a-z]([a-z0-9-]{0,28}[a-z0-9])?$/;
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const SHA256 = /^[0-9a-f]{64}$/;

export const DEFAULTS = {
    controllers: 3,
    workers: 3,
    namePrefix: "kdw",
    machineDriver: "virtualbox",
    machineMemory: 2048,
    machineCpus: 1,
    machineDiskSize: 20000,
    hostProfile: "auto" as HostProfileSetting,
    clusterCidr: "10.200.0.0/16",
    serviceCidr: "10.32.0.0/24",
    clusterDns: "10.32.0.10",
    clusterDomain: "cluster.local",
    apiServerPort: 6443,
    imageRepository: "registry.k8s.io",
    certValidityHours: 8760,
    drainTimeoutSeconds: 300,
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
}

export function validateConfig(raw: RawConfig, ctx: ValidationContext): ClusterConfig {
    const problems: string[] = [];
    const key = (name: string) => `${PROJECT}:${name}`;
    const fail = (name: string, reason: string) => problems.push(`${key(name)} ${reason}`);

    const integer = (name: keyof RawConfig, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
        const value = raw[name] ?? fallback;
        if (typeof value !== "number" || !Number.isInteger(value)) {
            fail(name, `must be a whole number, got ${JSON.stringify(value)}.`);
            return fallback;
        }
        if (value < min || value > max) {
            fail(name, max === Number.MAX_SAFE_INTEGER
                ? `must be at least ${min}, got ${value}.`
                : `must be between ${min} and ${max}, got ${value}.`);
        }
        return value;
    };
    const text = (name: keyof RawConfig, fallback: string): string => {
        const value = raw[name] ?? fallback;
        if (typeof value !== "string") {
            fail(name, `must be a string, got ${JSON.stringify(value)}.`);
            return fallback;
        }
        return value;
    };
    const cidr = (name: keyof RawConfig, fallback: string): Cidr | undefined => {
        try {
            return parseCidr(text(name, fallback));
        } catch (err) {
            fail(name, `is not valid: ${(err as Error).message}.`);
            return undefined;
        }
    };
    const version = (name: keyof RawConfig, fallback: string, major: number, minMinor = 0): string => {
        const value = text(name, fallback) || fallback; // empty means the pinned version
        const parsed = /^v\d/.test(value) ? semver.parse(value.slice(1)) : null;
        if (!parsed || parsed.build.length > 0) {
            fail(name, `must be a release version like ${fallback}, got "${value}".`);
            return value;
        }
        if (parsed.major !== major || parsed.minor < minMinor) {
            fail(name, `must be v${major}.${minMinor}.0 or a later v${major}.x release, got "${value}".`);
        }
        return value;
    };

    const controllerCount = integer("controllers", DEFAULTS.controllers, 1);
    if (controllerCount > 0 && controllerCount % 2 === 0) {
        fail("controllers", `must be odd so that etcd keeps a majority when one controller is lost, got ${controllerCount}.`);
    }
    const workerCount = integer("workers", DEFAULTS.workers, 1);

    const namePrefix = text("namePrefix", DEFAULTS.namePrefix);
    if (!DNS_LABEL.test(namePrefix)) {
        fail("namePrefix", `must be a lowercase DNS label of at most 30 characters (letters, digits, '-'), got "${namePrefix}".`);
    }

    const driver = text("machineDriver", DEFAULTS.machineDriver);
    if (!/^[a-z0-9][a-z0-9-]*$/.test(driver)) {
        fail("machineDriver", `must be a docker-machine driver name such as virtualbox or generic, got "${driver}".`);
    }
    const driverFlags = stringArray(raw.machineDriverFlags, "machineDriverFlags", fail);
    for (const flag of driverFlags) {
        const name = flag.split("=")[0];
        if (!name.startsWith(`--${driver}-`) && !ENGINE_FLAG.test(flag)) {
            fail("machineDriverFlags", `has "${name}", which is not an option of the ${driver} driver (its options start with --${driver}-).`);
        }
    }
    const storagePath = text("machineStoragePath", "");
    if (storagePath && !path.isAbsolute(storagePath)) {
        fail("machineStoragePath", `must be an absolute path (docker-machine's store, shared by every step), got "${storagePath}".`);
    }

    const hostProfile = text("hostProfile", DEFAULTS.hostProfile) as HostProfileSetting;
    if (!HOST_PROFILES.includes(hostProfile)) {
        fail("hostProfile", `must be one of ${HOST_PROFILES.join(", ")}, got "${hostProfile}".`);
    }

    const genericHosts = parseGenericHosts(raw.genericHosts, fail, ctx);
    if (driver === "generic" && genericHosts.length < controllerCount + workerCount) {
        fail("genericHosts", `lists ${genericHosts.length} host(s) but the generic driver needs one per node: ` +
            `${controllerCount} controllers + ${workerCount} workers = ${controllerCount + workerCount}.`);
    }
    if (driver !== "generic" && genericHosts.length > 0) {
        fail("genericHosts", `is only used with machineDriver "generic", but the driver is "${driver}".`);
    }

    const resolvedVersions: Versions = {
        kubernetes: version("kubernetesVersion", PINNED_VERSIONS.kubernetes, 1, 32),
        etcd: version("etcdVersion", PINNED_VERSIONS.etcd, 3, 5),
        containerd: version("containerdVersion", PINNED_VERSIONS.containerd, 2),
        runc: version("runcVersion", PINNED_VERSIONS.runc, 1),
        cniPlugins: version("cniPluginsVersion", PINNED_VERSIONS.cniPlugins, 1),
        crictl: version("crictlVersion", PINNED_VERSIONS.crictl, 1),
        coredns: version("corednsVersion", PINNED_VERSIONS.coredns, 1),
    };

    const clusterCidr = cidr("clusterCidr", DEFAULTS.clusterCidr);
    const serviceCidr = cidr("serviceCidr", DEFAULTS.serviceCidr);
    if (clusterCidr) {
        const available = subnetCount(clusterCidr, 24);
        if (clusterCidr.prefix > 24) {
            fail("clusterCidr", `must be /24 or wider to hold one /24 pod range per worker, got ${formatCidr(clusterCidr)}.`);
        } else if (workerCount > available) {
            fail("workers", `is ${workerCount}, but clusterCidr ${formatCidr(clusterCidr)} holds only ${available} /24 pod ranges (one per worker).`);
        }
    }
    if (serviceCidr && serviceCidr.prefix > 28) {
        fail("serviceCidr", `must be /28 or wider, got ${formatCidr(serviceCidr)}.`);
    }
    if (clusterCidr && serviceCidr && overlaps(clusterCidr, serviceCidr)) {
        fail("serviceCidr", `${formatCidr(serviceCidr)} overlaps clusterCidr ${formatCidr(clusterCidr)}; pod and service addresses must not collide.`);
    }
    const clusterDns = text("clusterDns", DEFAULTS.clusterDns);
    if (!isIpv4(clusterDns)) {
        fail("clusterDns", `must be an IPv4 address, got "${clusterDns}".`);
    } else if (serviceCidr) {
        if (!contains(serviceCidr, clusterDns)) {
            fail("clusterDns", `${clusterDns} is outside serviceCidr ${formatCidr(serviceCidr)}; the DNS service takes its IP from that range.`);
        } else if ([0, 1, size(serviceCidr) - 1].map(n => hostAddress(serviceCidr, n)).includes(clusterDns)) {
            fail("clusterDns", `${clusterDns} is the network address, the broadcast address or the kubernetes service IP of ${formatCidr(serviceCidr)}, which the apiserver never gives a Service; pick another address in the range.`);
        }
    }
    const clusterDomain = text("clusterDomain", DEFAULTS.clusterDomain);
    if (!DNS_NAME.test(clusterDomain)) {
        fail("clusterDomain", `must be a lowercase DNS name like cluster.local, got "${clusterDomain}".`);
    }
    const apiServerPort = integer("apiServerPort", DEFAULTS.apiServerPort, 1, 65535);
    const apiServerEndpoint = text("apiServerEndpoint", "");
    if (apiServerEndpoint && !isHostAddress(apiServerEndpoint)) {
        fail("apiServerEndpoint", `must be an IPv4 address or a DNS name (no scheme or port), got "${apiServerEndpoint}".`);
    }
    genericHosts.forEach((host, i) => {
        for (const [key, range] of [["clusterCidr", clusterCidr], ["serviceCidr", serviceCidr]] as const) {
            if (range && isIpv4(host.address) && contains(range, host.address)) {
                fail(`genericHosts[${i}].address`, `${host.address} is inside ${key} ${formatCidr(range)}, which every host ` +
                    "routes to pods or services; hosts need addresses outside both ranges (or choose other ranges).");
            }
        }
    });
    const apiServerVip = text("apiServerVip", "");
    for (const reason of apiServerVip ? vipProblems(apiServerVip, { clusterCidr, serviceCidr, genericHosts }) : []) {
        fail("apiServerVip", reason);
    }

    const binarySource = parseBinarySource(raw, fail, ctx);
    if (binarySource?.kind === "folder" && ctx.fileExists(binarySource.path) && ctx.binaryFolderProblems) {
        problems.push(...ctx.binaryFolderProblems(binarySource.path, binarySource.checksums, resolvedVersions));
    }

    const imageRepository = text("imageRepository", DEFAULTS.imageRepository);
    if (!/^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)*$/.test(imageRepository)) {
        fail("imageRepository", `must be a registry host with an optional path and no trailing slash, like registry.k8s.io, got "${imageRepository}".`);
    }
    // At most ten years: the CAs live ten times as long, and a century is as far as a lifetime in hours goes here.
    const certValidityHours = integer("certValidityHours", DEFAULTS.certValidityHours, 24, 87600);
    // 0 (the default) means a tenth of the lifetime; the whole lifetime means every certificate is due now.
    const renewSetting = integer("certRenewBeforeHours", 0, 0);
    const certRenewBeforeHours = renewSetting || Math.floor(certValidityHours / 10);
    if (certRenewBeforeHours > certValidityHours) {
        fail("certRenewBeforeHours", `must be at most certValidityHours (${certValidityHours}), got ${certRenewBeforeHours}; set it to certValidityHours for one \`pulumi up\` to re-issue every certificate now.`);
    }

    const drainTimeoutSeconds = integer("drainTimeoutSeconds", DEFAULTS.drainTimeoutSeconds, 10);
    const apiServerExtraArgs = flagMap(raw.apiServerExtraArgs, "apiServerExtraArgs", fail);
    const kubeletEvictionHard = evictionThresholds(raw.kubeletEvictionHard, fail);

    const memoryMb = integer("machineMemory", DEFAULTS.machineMemory, 512);
    const cpus = integer("machineCpus", DEFAULTS.machineCpus, 1);
    const diskMb = integer("machineDiskSize", DEFAULTS.machineDiskSize, 4096);

    if (problems.length > 0) {
        throw new ConfigError(problems);
    }

    const pods = clusterCidr!;
    const nodes = (role: NodeRole, count: number, offset: number): NodePlan[] =>
        Array.from({ length: count }, (_, index) => ({
            name: `${namePrefix}-${role}-${index}`,
            role,
            index,
            ...(role === "worker" ? { podCidr: subnet(pods, 24, index) } : {}),
            ...(driver === "generic" ? { generic: genericHosts[offset + index] } : {}),
        }));

    return {
        clusterName: namePrefix === DEFAULTS.namePrefix ? PROJECT : `${PROJECT}-${namePrefix}`,
        namePrefix,
        machine: { driver, memoryMb, cpus, diskMb, driverFlags, storagePath: storagePath || undefined },
        hostProfile,
        versions: resolvedVersions,
        clusterCidr: formatCidr(pods),
        serviceCidr: formatCidr(serviceCidr!),
        clusterDns,
        clusterDomain,
        apiServerPort,
        apiServerEndpoint: apiServerEndpoint || undefined,
        apiServerVip: apiServerVip || undefined,
        kubernetesServiceIp: hostAddress(serviceCidr!, 1),
        binarySource: binarySource!,
        imageRepository,
        certValidityHours,
        certRenewBeforeHours,
        drainTimeoutSeconds,
        apiServerExtraArgs,
        kubeletEvictionHard,
        controllers: nodes("controller", controllerCount, 0),
        workers: nodes("worker", workerCount, controllerCount),
    };
}

type Fail = (name: string, reason: string) => void;

const EVICTION_SIGNALS = ["memory.available", "nodefs.available", "nodefs.inodesFree", "imagefs.available",
    "imagefs.inodesFree", "containerfs.available", "containerfs.inodesFree", "pid.available"];

/** `{signal: threshold}` for the kubelet's evictionHard: a known signal, a quantity or a percentage. */
function evictionThresholds(value: unknown, fail: Fail): Record<string, string> {
    const name = "kubeletEvictionHard";
    if (value === undefined) {
        return {};
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        fail(name, `must be an object of eviction signals and thresholds, like {"imagefs.available": "5%"}, got ${JSON.stringify(value)}.`);
        return {};
    }
    const thresholds: Record<string, string> = {};
    for (const [signal, threshold] of Object.entries(value)) {
        if (!EVICTION_SIGNALS.includes(signal)) {
            fail(name, `has the signal "${signal}"; the kubelet knows ${EVICTION_SIGNALS.join(", ")}.`);
        } else if (typeof threshold !== "string" || !/^(\d+(\.\d+)?%|\d+(\.\d+)?(Ki|Mi|Gi|Ti|k|M|G|T)?)$/.test(threshold)) {
            fail(name, `gives ${signal} the threshold ${JSON.stringify(threshold)}: a percentage ("5%") or a quantity ("100Mi").`);
        } else if (threshold.endsWith("%") && Number(threshold.slice(0, -1)) > 100) {
            fail(name, `gives ${signal} the threshold ${threshold}: a percentage is at most 100%.`);
        } else {
            thresholds[signal] = threshold;
        }
    }
    return thresholds;
}

/**
 * kube-apiserver flags the program sets from other keys or from what it makes (addresses, certificates, etcd, the
 * encryption key). Given again in apiServerExtraArgs one would override the program's (the last of a flag wins) and
 * leave the apiservers out of step with the rest of the cluster, so it is refused with what to change instead.
 */
const APISERVER_FLAGS_SET_BY: Record<string, string> = {
    "advertise-address": "each controller's own address",
    "secure-port": "kube-dumb-way:apiServerPort; set that key instead",
    "service-cluster-ip-range": "kube-dumb-way:serviceCidr, which kube-proxy and the cluster DNS follow too; set that key instead",
    "service-account-issuer": "the clients' endpoint (kube-dumb-way:apiServerEndpoint or apiServerVip); set that key instead",
    "encryption-provider-config": "the key it makes for encryption at rest",
    ...Object.fromEntries(["etcd-servers", "etcd-cafile", "etcd-certfile", "etcd-keyfile"]
        .map(flag => [flag, "the etcd members it runs and their certificates"])),
    ...Object.fromEntries(["client-ca-file", "tls-cert-file", "tls-private-key-file", "kubelet-certificate-authority",
        "kubelet-client-certificate", "kubelet-client-key", "service-account-key-file", "service-account-signing-key-file"]
        .map(flag => [flag, "the certificates and keys it makes (renewed by kube-dumb-way:certRenewBeforeHours)"])),
};

/** `{flag: value}` without the dashes, values as text; numbers and booleans are taken as their text. */
function flagMap(value: unknown, name: string, fail: Fail): Record<string, string> {
    if (value === undefined) {
        return {};
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        fail(name, `must be an object of flag names (without dashes) and values, like {"event-ttl": "2h"}, got ${JSON.stringify(value)}.`);
        return {};
    }
    const flags: Record<string, string> = {};
    for (const [flag, v] of Object.entries(value)) {
        if (!/^[a-z][a-z0-9-]*$/.test(flag)) {
            fail(name, `has the flag "${flag}": give flag names in lower case without the leading dashes, like "event-ttl".`);
        } else if (flag in APISERVER_FLAGS_SET_BY) {
            fail(name, `has "${flag}", which the program sets from ${APISERVER_FLAGS_SET_BY[flag]}: given here it would ` +
                "override that and leave the apiservers out of step with the rest of the cluster.");
        } else if (!["string", "number", "boolean"].includes(typeof v)) {
            fail(name, `gives the flag "${flag}" the value ${JSON.stringify(v)}: a flag's value is a string, number or boolean.`);
        } else if (/[\s\x00-\x1f\x7f]/.test(String(v))) {
            // The flags reach the host as one word each (a shell splits them on whitespace).
            fail(name, `gives the flag "${flag}" the value ${JSON.stringify(v)}, with whitespace or a control character: ` +
                "a flag's value must be one word; a list takes commas, as kube-apiserver's do.");
        } else {
            flags[flag] = String(v);
        }
    }
    return flags;
}

/**
 * Why an address cannot be the API's virtual IP. What the configuration tells: the address itself, the pod and service
 * ranges, and with the generic driver the hosts' addresses. The hosts' network (its prefix length) is not in the
 * configuration; each controller checks that the address is on it before it starts kube-vip (kube-vip.sh).
 */
function vipProblems(vip: string, known: { clusterCidr?: Cidr; serviceCidr?: Cidr; genericHosts: GenericHost[] }): string[] {
    if (!isIpv4(vip)) {
        return [`must be an IPv4 address on the hosts' network (the controllers announce it by ARP), got "${vip}".`];
    }
    const unusable = notUnicast(vip);
    if (unusable) {
        return [`${unusable}; choose an unused unicast address on the hosts' network.`];
    }
    const problems: string[] = [];
    if (known.clusterCidr && contains(known.clusterCidr, vip)) {
        problems.push(`${vip} is inside clusterCidr ${formatCidr(known.clusterCidr)}, where the hosts route pod traffic to workers; choose an unused address on the hosts' network.`);
    }
    if (known.serviceCidr && contains(known.serviceCidr, vip)) {
        problems.push(`${vip} is inside serviceCidr ${formatCidr(known.serviceCidr)}, which kube-proxy captures; choose an unused address on the hosts' network.`);
    }
    const host = known.genericHosts.findIndex(h => h.address === vip);
    if (host >= 0) {
        problems.push(`${vip} is the address of genericHosts[${host}]; the virtual IP must be an address no host has.`);
    }
    return problems;
}

function stringArray(value: unknown, name: string, fail: Fail): string[] {
    if (value === undefined) {
        return [];
    }
    if (!Array.isArray(value) || value.some(v => typeof v !== "string")) {
        fail(name, `must be a list of strings, got ${JSON.stringify(value)}.`);
        return [];
    }
    return value as string[];
}

/** An IPv4 address, or a DNS name that is not a malformed address (all-numeric labels, as "999.1.1.1"). */
const isHostAddress = (text: string): boolean => isIpv4(text) || (DNS_NAME.test(text) && !/^[\d.]+$/.test(text));

/** Why an IPv4 address cannot be a machine's or the virtual IP's: loopback, unspecified, link-local, multicast. */
function notUnicast(ip: string): string | undefined {
    const first = Number(ip.split(".")[0]);
    return first === 0 || first === 127 || first >= 224 || ip.startsWith("169.254.")
        ? `${ip} is a loopback, link-local, multicast or reserved address` : undefined;
}

const GENERIC_HOST_FIELDS = ["address", "sshUser", "sshKeyPath", "sshPort"];

function parseGenericHosts(value: unknown, fail: Fail, ctx: ValidationContext): GenericHost[] {
    if (value === undefined) {
        return [];
    }
    if (!Array.isArray(value)) {
        fail("genericHosts", `must be a list of {address, sshUser, sshKeyPath}, got ${JSON.stringify(value)}.`);
        return [];
    }
    const seen = new Set<string>();
    return value.map((entry, i): GenericHost => {
        const at = `genericHosts[${i}]`;
        const host = (entry ?? {}) as Record<string, unknown>;
        for (const field of Object.keys(host).filter(f => !GENERIC_HOST_FIELDS.includes(f))) {
            fail(at, `has the field "${field}"; a host takes ${GENERIC_HOST_FIELDS.join(", ")}.`);
        }
        const address = typeof host.address === "string" ? host.address : "";
        const sshUser = typeof host.sshUser === "string" ? host.sshUser : "";
        const sshKeyPath = typeof host.sshKeyPath === "string" ? host.sshKeyPath : "";
        if (!isHostAddress(address)) {
            fail(`${at}.address`, `must be an IPv4 address or a DNS name, got ${JSON.stringify(host.address)}.`);
        } else if (isIpv4(address) && notUnicast(address)) {
            fail(`${at}.address`, `${notUnicast(address)}; give the address the other nodes reach this host at.`);
        } else if (seen.has(address)) {
            fail(`${at}.address`, `${address} is listed twice; every node needs its own machine.`);
        }
        seen.add(address);
        if (!sshUser) {
            fail(`${at}.sshUser`, "must name the SSH user docker-machine logs in as.");
        }
        if (!sshKeyPath) {
            fail(`${at}.sshKeyPath`, "must be the path of that user's SSH private key.");
        } else if (!ctx.fileExists(sshKeyPath)) {
            fail(`${at}.sshKeyPath`, `${sshKeyPath} does not exist.`);
        }
        const sshPort = host.sshPort === undefined ? undefined : Number(host.sshPort);
        if (sshPort !== undefined && !(Number.isInteger(sshPort) && sshPort > 0 && sshPort < 65536)) {
            fail(`${at}.sshPort`, `must be a port number, got ${JSON.stringify(host.sshPort)}.`);
        }
        return { address, sshUser, sshKeyPath, ...(sshPort ? { sshPort } : {}) };
    });
}

function parseBinarySource(raw: RawConfig, fail: Fail, ctx: ValidationContext): BinarySource | undefined {
    const checksumsValue = raw.binaryChecksums ?? {};
    const checksums: Record<string, string> = {};
    if (typeof checksumsValue !== "object" || checksumsValue === null || Array.isArray(checksumsValue)) {
        fail("binaryChecksums", `must map binary names to sha256 digests, got ${JSON.stringify(checksumsValue)}.`);
    } else {
        for (const [name, digest] of Object.entries(checksumsValue)) {
            if (!(WORKER_BINARIES as readonly string[]).includes(name)) {
                fail("binaryChecksums", `names "${name}", which is not a binary the hosts need (${WORKER_BINARIES.join(", ")}).`);
            } else if (typeof digest !== "string" || !SHA256.test(digest)) {
                fail("binaryChecksums", `has ${JSON.stringify(digest)} for ${name}, which is not a lowercase hex sha256 digest.`);
            } else {
                checksums[name] = digest;
            }
        }
    }
    const configured = raw.binarySource;
    if (configured !== undefined && typeof configured !== "string") {
        fail("binarySource", `must be a URL or a folder path, got ${JSON.stringify(configured)}.`);
        return undefined;
    }
    const source = configured || ctx.defaultBinaryDir || "";
    if (!source) {
        fail("binarySource", "is not set: set it to a folder or an http(s) URL that holds the worker binaries, " +
            "or run `npm run toolchain` and `source scripts/env.sh`, which sets KDW_BINARY_DIR.");
        return undefined;
    }
    if (/^https?:\/\//.test(source)) {
        const missing = WORKER_BINARIES.filter(name => !checksums[name]);
        if (missing.length > 0) {
            fail("binaryChecksums", `must pin a sha256 for every binary downloaded from ${source}; missing: ${missing.join(", ")}.`);
        }
        return { kind: "url", baseUrl: source.replace(/\/+$/, ""), checksums };
    }
    if (/^[a-z]+:\/\//.test(source)) {
        fail("binarySource", `must be an http(s) URL or a local folder, got "${source}".`);
        return undefined;
    }
    if (!ctx.fileExists(source)) {
        fail("binarySource", `is the folder ${source}, which does not exist.`);
    }
    return { kind: "folder", path: source, checksums };
}
