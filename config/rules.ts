// The settings' validation rules, small and named. A rule gives the reasons its setting's value is wrong, looking at
// the other settings where the rule is about how they fit together; the setting's key is put before each reason, unless
// the reason names a key of its own (a field of one of the genericHosts, the binary folder's report). Every rule runs,
// so that every problem is reported at once; a rule that needs a well-formed value skips a malformed one, whose own
// rule reports it.
import { X509Certificate } from "crypto";
import * as yaml from "js-yaml";
import * as path from "path";
import * as semver from "semver";
import { HOST_PORTS, NODE_PORT_RANGE } from "../render/flags";
import * as KUBE_APISERVER_FLAGS from "./kube-apiserver-flags.json";
import { nearestName } from "./nearest";
import { Cidr, contains, formatCidr, hostAddress, isIpv4, overlaps, parseCidr, size, subnetCount } from "../render/net";
import type { Values } from "./settings";
import {
    BinarySource, DEFAULT_POD_SECURITY, DEFAULT_STORE_REGION, EtcdSnapshots, GenericHost, SNAPSHOT_STORE_FIELDS, SnapshotStore, PINNED_VERSIONS, POD_SECURITY_LEVELS, PodSecurity, PROJECT, ValidationContext,
    Versions, VM_DRIVER_FLAGS, WORKER_BINARIES,
} from "./types";


export type Rule<T> = (value: T, settings: Values, ctx: ValidationContext) => string | string[] | undefined;

/** A sentence naming its key: `kube-dumb-way:workers must be at least 1, got 0.` */
export const problem = (key: string, reason: string): string => `${PROJECT}:${key} ${reason}`;

export const atLeast = (min: number): Rule<number> => v => (v < min ? `must be at least ${min}, got ${v}.` : undefined);

export const between = (min: number, max: number): Rule<number> => v =>
    (v < min || v > max ? `must be between ${min} and ${max}, got ${v}.` : undefined);

/** A text that fails `test`: what it must be, and the value given. */
export const must = (test: RegExp | ((value: string) => boolean), what: string): Rule<string> => v =>
    ((test instanceof RegExp ? test.test(v) : test(v)) ? undefined : `${what}, got "${v}".`);

export const oneOf = (allowed: readonly string[]): Rule<string> =>
    must(v => allowed.includes(v), `must be one of ${allowed.join(", ")}`);

export const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** An IPv4 address, or a DNS name that is not a malformed address (all-numeric labels, as "999.1.1.1"). */
export const isHostAddress = (text: string): boolean => isIpv4(text) || (DNS_NAME.test(text) && !/^[\d.]+$/.test(text));

/** Why an IPv4 address cannot be a machine's or the virtual IP's: loopback, unspecified, link-local, multicast. */
function notUnicast(ip: string): string | undefined {
    const first = Number(ip.split(".")[0]);
    return first === 0 || first === 127 || first >= 224 || ip.startsWith("169.254.")
        ? `${ip} is a loopback, link-local, multicast or reserved address` : undefined;
}

export const odd: Rule<number> = v => (v > 0 && v % 2 === 0
    ? `must be odd so that etcd keeps a majority when one controller is lost, got ${v}.` : undefined);

/** A release of `component` (empty: the pinned one) of `major`, at least `major.minMinor`. */
export const release = (component: keyof Versions, major: number, minMinor = 0): Rule<string> => v => {
    const value = v || PINNED_VERSIONS[component];
    const parsed = /^v\d/.test(value) ? semver.parse(value.slice(1)) : null;
    if (!parsed || parsed.build.length > 0) {
        return `must be a release version like ${PINNED_VERSIONS[component]}, got "${value}".`;
    }
    return parsed.major !== major || parsed.minor < minMinor
        ? `must be v${major}.${minMinor}.0 or a later v${major}.x release, got "${value}".` : undefined;
};

/** The versions the settings pick: each `<component>Version`, or the pinned one when it is empty. */
export const versionsOf = (s: Values): Versions => Object.fromEntries(Object.entries(PINNED_VERSIONS)
    .map(([component, pinned]) => [component, s[`${component as keyof Versions}Version`] || pinned])) as Versions;

/** The range a CIDR setting gives; nothing when it is malformed (its `cidr` rule says why). */
export function cidrOf(text: string): Cidr | undefined {
    try {
        return parseCidr(text);
    } catch {
        return undefined;
    }
}

export const cidr: Rule<string> = v => {
    try {
        parseCidr(v);
        return undefined;
    } catch (err) {
        return `is not valid: ${(err as Error).message}.`;
    }
};

export const atMostPrefix = (prefix: number, why = ""): Rule<string> => v => {
    const range = cidrOf(v);
    return range && range.prefix > prefix ? `must be /${prefix} or wider${why}, got ${formatCidr(range)}.` : undefined;
};

export const podRangePerWorker: Rule<number> = (workers, s) => {
    const pods = cidrOf(s.clusterCidr);
    return pods && pods.prefix <= 24 && workers > subnetCount(pods, 24)
        ? `is ${workers}, but clusterCidr ${formatCidr(pods)} holds only ${subnetCount(pods, 24)} /24 pod ranges (one per worker).`
        : undefined;
};

export const apartFromPods: Rule<string> = (v, s) => {
    const [services, pods] = [cidrOf(v), cidrOf(s.clusterCidr)];
    return services && pods && overlaps(pods, services)
        ? `${formatCidr(services)} overlaps clusterCidr ${formatCidr(pods)}; pod and service addresses must not collide.`
        : undefined;
};

export const dnsServiceAddress: Rule<string> = (dns, s) => {
    const services = cidrOf(s.serviceCidr);
    if (!services || !isIpv4(dns)) {
        return undefined;
    }
    if (!contains(services, dns)) {
        return `${dns} is outside serviceCidr ${formatCidr(services)}; the DNS service takes its IP from that range.`;
    }
    return [0, 1, size(services) - 1].map(n => hostAddress(services, n)).includes(dns)
        ? `${dns} is the network address, the broadcast address or the kubernetes service IP of ${formatCidr(services)}, which the apiserver never gives a Service; pick another address in the range.`
        : undefined;
};

/** docker-machine create flags that belong to no driver. */
const ENGINE_FLAG = /^--(engine-[a-z-]+|tls-san)(=.*)?$/;

export const driverOptions: Rule<string[]> = (flags, s) => flags
    .filter(flag => !flag.startsWith(`--${s.machineDriver}-`) && !ENGINE_FLAG.test(flag))
    .map(flag => `has "${flag.split("=")[0]}", which is not an option of the ${s.machineDriver} driver (its options start with --${s.machineDriver}-).`);

/**
 * The drivers built into docker-machine (rancher/machine's `localbinary.CoreDrivers`); any other runs as the program
 * docker-machine-driver-<name>, which docker-machine looks for on PATH only when it makes a machine.
 */
export const CORE_DRIVERS = ["amazonec2", "azure", "digitalocean", "exoscale", "generic", "google", "hyperv", "none",
    "openstack", "rackspace", "softlayer", "virtualbox", "vmwarefusion", "vmwarevcloudair", "vmwarevsphere", "pod", "noop"];

/** A driver docker-machine cannot find is said before anything is made, not when the first machine is. */
export const driverInstalled: Rule<string> = (driver, _s, ctx) => {
    const plugin = `docker-machine-driver-${driver}`;
    if (CORE_DRIVERS.includes(driver) || !ctx.onPath || ctx.onPath(plugin)) {
        return undefined;
    }
    return `is "${driver}", which is not one of docker-machine's own drivers, and its plugin, ${plugin}, is not on ` +
        "this machine's PATH: install it there" + (driver === "qemu" ? " (`npm run toolchain` builds this project's; " +
        "`source scripts/env.sh` puts the toolchain on PATH)" : "") + `, or choose one of docker-machine's own drivers ` +
        `(${CORE_DRIVERS.filter(d => d !== "pod" && d !== "noop" && d !== "none").join(", ")}).`;
};

/** The ports the cluster's programs hold on its hosts (render/flags.ts), with the NodePort range the apiservers get. */
function portsHeld(s: Values): { first: number; last: number; holder: string }[] {
    const extra = (s.apiServerExtraArgs ?? {}) as Record<string, unknown>;
    const range = /^(\d+)-(\d+)$/.exec(String(extra["service-node-port-range"] ?? ""));
    return HOST_PORTS.map(held => range && held.first === NODE_PORT_RANGE.first
        ? { first: Number(range[1]), last: Number(range[2]), holder: "the NodePort range (apiServerExtraArgs " +
            "service-node-port-range), where kube-proxy's rules would give a Service the traffic of every worker's load balancer" }
        : held);
}

/** The API's port is free on every host: no program of the cluster's, and no host's SSH, holds it. */
export const apiServerPortFree: Rule<number> = (port, s) => {
    const reasons = portsHeld(s).filter(held => port >= held.first && port <= held.last)
        .map(held => `is ${port}, which the cluster uses for ${held.holder} (${held.first === held.last ? held.first : `${held.first}-${held.last}`}); ` +
            "choose another (6443 is the usual one).");
    const sshPorts = s.machineDriver === "generic" ? genericHostsOf(s.genericHosts).map(h => h.sshPort ?? 22) : [22];
    if (sshPorts.includes(port)) {
        reasons.push(`is ${port}, the port the hosts' SSH listens on, which docker-machine and every step reach them by; ` +
            "choose another (6443 is the usual one).");
    }
    return reasons;
};

/**
 * A registry host (lowercase, with an optional port) and an optional path, as the distribution spec's reference grammar
 * has them: path components of lowercase letters and digits, joined by '.', '_', '__' or dashes.
 */
const DOMAIN_COMPONENT = "(?:[a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])";
const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
export const IMAGE_REPOSITORY = new RegExp(`^${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?(?:/${PATH_COMPONENT})*$`);

export const isoForDriver: Rule<string> = (iso, s, ctx) => {
    const flags = VM_DRIVER_FLAGS[s.machineDriver];
    if (!flags) {
        return iso ? `is only used by the drivers that make virtual machines (${Object.keys(VM_DRIVER_FLAGS).join(", ")}), but ` +
            `the driver is "${s.machineDriver}"; leave it empty.` : undefined;
    }
    if (!iso) {
        return s.machineDriver === "qemu" ? "is required with machineDriver qemu, which downloads no ISO: build one " +
            "with `bash scripts/vm-iso.sh` (it prints the ISO's path) and give that path." : undefined;
    }
    if (!path.isAbsolute(iso)) {
        return `is ${iso}: give an absolute path (every machine's create reads it, from whatever folder it runs in).`;
    }
    return ctx.fileExists(iso) ? undefined : `is ${iso}, which does not exist on this machine; ` +
        (s.machineDriver === "qemu" ? "`bash scripts/vm-iso.sh` builds one and prints its path." : "give the path of a boot2docker ISO.");
};

const GENERIC_HOST_FIELDS = ["address", "sshUser", "sshKeyPath", "sshPort"];

/** The machines genericHosts lists, as far as they are well-formed (`hostEntries` says what is not). */
export const genericHostsOf = (entries: unknown[]): GenericHost[] => entries.map(entry => {
    const host = (entry ?? {}) as Record<string, unknown>;
    const text = (value: unknown) => (typeof value === "string" ? value : "");
    const sshPort = host.sshPort === undefined ? undefined : Number(host.sshPort);
    return {
        address: text(host.address), sshUser: text(host.sshUser), sshKeyPath: text(host.sshKeyPath),
        ...(sshPort ? { sshPort } : {}),
    };
});

export const hostEntries: Rule<unknown[]> = (entries, _, ctx) => {
    const problems: string[] = [];
    const seen = new Set<string>();
    genericHostsOf(entries).forEach(({ address, sshUser, sshKeyPath }, i) => {
        const at = `genericHosts[${i}]`;
        const given = (entries[i] ?? {}) as Record<string, unknown>;
        for (const field of Object.keys(given).filter(f => !GENERIC_HOST_FIELDS.includes(f))) {
            problems.push(problem(at, `has the field "${field}"; a host takes ${GENERIC_HOST_FIELDS.join(", ")}.`));
        }
        if (!isHostAddress(address)) {
            problems.push(problem(`${at}.address`, `must be an IPv4 address or a DNS name, got ${JSON.stringify(given.address)}.`));
        } else if (isIpv4(address) && notUnicast(address)) {
            problems.push(problem(`${at}.address`, `${notUnicast(address)}; give the address the other nodes reach this host at.`));
        } else if (seen.has(address)) {
            problems.push(problem(`${at}.address`, `${address} is listed twice; every node needs its own machine.`));
        }
        seen.add(address);
        if (!sshUser) {
            problems.push(problem(`${at}.sshUser`, "must name the SSH user docker-machine logs in as."));
        } else if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/.test(sshUser)) {
            problems.push(problem(`${at}.sshUser`, `must be a user name (letters, digits, '_', '.', '-', at most 32), ` +
                `got ${JSON.stringify(sshUser)}.`));
        }
        if (!sshKeyPath) {
            problems.push(problem(`${at}.sshKeyPath`, "must be the path of that user's SSH private key."));
        } else if (!ctx.fileExists(sshKeyPath)) {
            problems.push(problem(`${at}.sshKeyPath`, `${sshKeyPath} does not exist.`));
        }
        const port = given.sshPort === undefined ? undefined : Number(given.sshPort);
        if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
            problems.push(problem(`${at}.sshPort`, `must be a port number, got ${JSON.stringify(given.sshPort)}.`));
        }
    });
    return problems;
};

export const hostPerNode: Rule<unknown[]> = (entries, s) => {
    const nodes = s.controllers + s.workers;
    if (s.machineDriver === "generic" && entries.length < nodes) {
        return `lists ${entries.length} host(s) but the generic driver needs one per node: ` +
            `${s.controllers} controllers + ${s.workers} workers = ${nodes}.`;
    }
    return s.machineDriver !== "generic" && entries.length > 0
        ? `is only used with machineDriver "generic", but the driver is "${s.machineDriver}".` : undefined;
};

export const hostsOffClusterRanges: Rule<unknown[]> = (entries, s) => genericHostsOf(entries).flatMap(({ address }, i) =>
    (["clusterCidr", "serviceCidr"] as const).flatMap(key => {
        const range = cidrOf(s[key]);
        return range && isIpv4(address) && contains(range, address)
            ? [problem(`genericHosts[${i}].address`, `${address} is inside ${key} ${formatCidr(range)}, which every host ` +
                "routes to pods or services; hosts need addresses outside both ranges (or choose other ranges).")]
            : [];
    }));

/**
 * Why an address cannot be the API's virtual IP. What the configuration tells: the address itself, the pod and service
 * ranges, and with the generic driver the hosts' addresses. The hosts' network (its prefix length) is not in the
 * configuration; each controller checks that the address is on it before it starts kube-vip (kube-vip.sh).
 */
export const virtualIp: Rule<string> = (vip, s) => {
    if (!vip) {
        return undefined;
    }
    if (!isIpv4(vip)) {
        return `must be an IPv4 address on the hosts' network (the controllers announce it by ARP), got "${vip}".`;
    }
    const unusable = notUnicast(vip);
    if (unusable) {
        return `${unusable}; choose an unused unicast address on the hosts' network.`;
    }
    const reasons: string[] = [];
    const [pods, services] = [cidrOf(s.clusterCidr), cidrOf(s.serviceCidr)];
    if (pods && contains(pods, vip)) {
        reasons.push(`${vip} is inside clusterCidr ${formatCidr(pods)}, where the hosts route pod traffic to workers; choose an unused address on the hosts' network.`);
    }
    if (services && contains(services, vip)) {
        reasons.push(`${vip} is inside serviceCidr ${formatCidr(services)}, which kube-proxy captures; choose an unused address on the hosts' network.`);
    }
    const host = genericHostsOf(s.genericHosts).findIndex(h => h.address === vip);
    if (host >= 0) {
        reasons.push(`${vip} is the address of genericHosts[${host}]; the virtual IP must be an address no host has.`);
    }
    return reasons;
};

const isDigest = (digest: unknown) => typeof digest === "string" && /^[0-9a-f]{64}$/.test(digest);
const isBinary = (name: string) => (WORKER_BINARIES as readonly string[]).includes(name);

/** binaryChecksums' well-formed pins (`knownPins` reports the others). */
export const pinsOf = (checksums: Record<string, unknown>) => Object.fromEntries(
    Object.entries(checksums).filter(([name, digest]) => isBinary(name) && isDigest(digest))) as Record<string, string>;

export const knownPins: Rule<Record<string, unknown>> = checksums => Object.entries(checksums).flatMap(([name, digest]) =>
    !isBinary(name) ? [`names "${name}", which is not a binary the hosts need (${WORKER_BINARIES.join(", ")}).`]
    : !isDigest(digest) ? [`has ${JSON.stringify(digest)} for ${name}, which is not a lowercase hex sha256 digest.`]
    : []);

/** binarySource as given, else the toolchain's folder. */
const sourceOf = (s: Values, ctx: ValidationContext): string => s.binarySource || ctx.defaultBinaryDir || "";
const isUrl = (source: string) => /^https?:\/\//.test(source);

/** Where the worker binaries come from; nothing when no source is set or it is a URL of another scheme. */
export function binarySourceOf(s: Values, ctx: ValidationContext): BinarySource | undefined {
    const [source, checksums] = [sourceOf(s, ctx), pinsOf(s.binaryChecksums)];
    if (isUrl(source)) {
        return { kind: "url", baseUrl: source.replace(/\/+$/, ""), checksums };
    }
    return source && !/^[a-z]+:\/\//.test(source) ? { kind: "folder", path: source, checksums } : undefined;
}

export const pinnedDownloads: Rule<Record<string, unknown>> = (checksums, s, ctx) => {
    const [source, pins] = [sourceOf(s, ctx), pinsOf(checksums)];
    const missing = isUrl(source) ? WORKER_BINARIES.filter(name => !pins[name]) : [];
    return missing.length > 0
        ? `must pin a sha256 for every binary downloaded from ${source}; missing: ${missing.join(", ")}.` : undefined;
};

export const binariesAvailable: Rule<string> = (_, s, ctx) => {
    const source = sourceOf(s, ctx);
    if (!source) {
        return "is not set: set it to a folder or an http(s) URL that holds the worker binaries, " +
            "or run `npm run toolchain` and `source scripts/env.sh`, which sets KDW_BINARY_DIR.";
    }
    if (isUrl(source)) {
        return undefined;
    }
    if (/^[a-z]+:\/\//.test(source)) {
        return `must be an http(s) URL or a local folder, got "${source}".`;
    }
    if (!ctx.fileExists(source)) {
        return `is the folder ${source}, which does not exist.`;
    }
    return ctx.binaryFolderProblems?.(source, pinsOf(s.binaryChecksums), versionsOf(s));
};

/** 0 means a tenth of the lifetime; the whole lifetime means every certificate is due now. */
export const renewBeforeHours = (s: Values): number => s.certRenewBeforeHours || Math.floor(s.certValidityHours / 10);

export const withinLifetime: Rule<number> = (_, s) => (renewBeforeHours(s) > s.certValidityHours
    ? `must be at most certValidityHours (${s.certValidityHours}), got ${renewBeforeHours(s)}; set it to certValidityHours for one \`pulumi up\` to re-issue every certificate now.`
    : undefined);

const EVICTION_SIGNALS = ["memory.available", "nodefs.available", "nodefs.inodesFree", "imagefs.available",
    "imagefs.inodesFree", "containerfs.available", "containerfs.inodesFree", "pid.available"];

/** `{signal: threshold}` for the kubelet's evictionHard: a known signal, a quantity or a percentage. */
export const evictionThresholds: Rule<Record<string, unknown>> = thresholds => {
    const reasons: string[] = [];
    for (const [signal, threshold] of Object.entries(thresholds)) {
        if (!EVICTION_SIGNALS.includes(signal)) {
            reasons.push(`has the signal "${signal}"; the kubelet knows ${EVICTION_SIGNALS.join(", ")}.`);
        } else if (typeof threshold !== "string" || !/^(\d+(\.\d+)?%|\d+(\.\d+)?(Ki|Mi|Gi|Ti|k|M|G|T)?)$/.test(threshold)) {
            reasons.push(`gives ${signal} the threshold ${JSON.stringify(threshold)}: a percentage ("5%") or a quantity ("100Mi").`);
        } else if (threshold.endsWith("%") && Number(threshold.slice(0, -1)) > 100) {
            reasons.push(`gives ${signal} the threshold ${threshold}: a percentage is at most 100%.`);
        }
    }
    return reasons;
};

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
    "admission-control-config-file": "kube-dumb-way:podSecurity; set that key instead",
    "audit-policy-file": "kube-dumb-way:auditPolicyFile; set that key instead",
    ...Object.fromEntries(["etcd-servers", "etcd-cafile", "etcd-certfile", "etcd-keyfile"]
        .map(flag => [flag, "the etcd members it runs and their certificates"])),
    ...Object.fromEntries(["client-ca-file", "tls-cert-file", "tls-private-key-file", "kubelet-certificate-authority",
        "kubelet-client-certificate", "kubelet-client-key", "service-account-key-file", "service-account-signing-key-file",
        "proxy-client-cert-file", "proxy-client-key-file", "requestheader-client-ca-file", "requestheader-allowed-names"]
        .map(flag => [flag, "the certificates and keys it makes (renewed by kube-dumb-way:certRenewBeforeHours)"])),
};

/** `{flag: value}` without the dashes; numbers and booleans are taken as their text. */
export const apiServerFlags: Rule<Record<string, unknown>> = (flags, s) => {
    const reasons: string[] = [];
    const version = s.kubernetesVersion || PINNED_VERSIONS.kubernetes;
    const known = (KUBE_APISERVER_FLAGS as Record<string, string[] | undefined>)[version];
    for (const [flag, v] of Object.entries(flags)) {
        if (!/^[a-z][a-z0-9-]*$/.test(flag)) {
            reasons.push(`has the flag "${flag}": give flag names in lower case without the leading dashes, like "event-ttl".`);
        } else if (known && !known.includes(flag)) {
            // Else the first controller's apiserver would stop on it, mid-roll.
            const nearest = nearestName(flag, known);
            reasons.push(`has "${flag}", which kube-apiserver ${version} does not take` +
                (nearest ? `; did you mean "${nearest}"?` : " (`kube-apiserver --help` lists its flags).") +
                " Flags are checked for the releases versions.json pins (config/kube-apiserver-flags.json).");
        } else if (flag in APISERVER_FLAGS_SET_BY) {
            reasons.push(`has "${flag}", which the program sets from ${APISERVER_FLAGS_SET_BY[flag]}: given here it would ` +
                "override that and leave the apiservers out of step with the rest of the cluster.");
        } else if (!["string", "number", "boolean"].includes(typeof v)) {
            reasons.push(`gives the flag "${flag}" the value ${JSON.stringify(v)}: a flag's value is a string, number or boolean.`);
        } else if (/[\s\x00-\x1f\x7f]/.test(String(v))) {
            // The flags reach the host as one word each (a shell splits them on whitespace).
            reasons.push(`gives the flag "${flag}" the value ${JSON.stringify(v)}, with whitespace or a control character: ` +
                "a flag's value must be one word; a list takes commas, as kube-apiserver's do.");
        }
    }
    return reasons;
};

/** A namespace's name: a DNS-1123 label. */
const NAMESPACE = /^(?=.{1,63}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/** podSecurity as given, its fields left out taking their defaults (`podSecurityLevels` reports what is malformed). */
export const podSecurityOf = (given: Record<string, unknown>): PodSecurity => ({ ...DEFAULT_POD_SECURITY, ...given } as PodSecurity);

export const podSecurityLevels: Rule<Record<string, unknown>> = given => {
    const reasons: string[] = [];
    const fields = Object.keys(DEFAULT_POD_SECURITY);
    for (const field of Object.keys(given).filter(f => !fields.includes(f))) {
        reasons.push(`has the field "${field}"; it takes ${fields.join(", ")}.`);
    }
    for (const mode of ["enforce", "warn", "audit"] as const) {
        if (mode in given && !(POD_SECURITY_LEVELS as readonly unknown[]).includes(given[mode])) {
            reasons.push(`gives ${mode} the level ${JSON.stringify(given[mode])}: a level is one of ${POD_SECURITY_LEVELS.join(", ")}.`);
        }
    }
    const exempt = given.exemptNamespaces;
    if (exempt !== undefined && !(Array.isArray(exempt) && exempt.every(n => typeof n === "string"))) {
        reasons.push(`gives exemptNamespaces ${JSON.stringify(exempt)}: a list of namespace names, like ["kube-system"].`);
    } else {
        for (const name of (exempt as string[] | undefined ?? []).filter(n => !NAMESPACE.test(n))) {
            reasons.push(`lists the namespace ${JSON.stringify(name)} in exemptNamespaces, which is not a namespace name: ` +
                "at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit.");
        }
    }
    return reasons;
};

const AUDIT_LEVELS = ["None", "Metadata", "Request", "RequestResponse"];

/** Why `doc` is not an audit Policy the apiservers would load; nothing when it is one. */
function notAuditPolicy(doc: unknown): string | undefined {
    const policy = (typeof doc === "object" && doc !== null ? doc : {}) as Record<string, unknown>;
    if (policy.apiVersion !== "audit.k8s.io/v1" || policy.kind !== "Policy") {
        return `its apiVersion and kind are ${JSON.stringify(policy.apiVersion)} and ${JSON.stringify(policy.kind)}, ` +
            "not audit.k8s.io/v1 and Policy";
    }
    if (!Array.isArray(policy.rules) || policy.rules.length === 0) {
        return "it has no rules (the apiservers refuse a policy without any)";
    }
    const bad = policy.rules.findIndex(rule => !AUDIT_LEVELS.includes((rule as Record<string, unknown> | null)?.level as string));
    return bad >= 0 ? `its rules[${bad}] has no level of ${AUDIT_LEVELS.join(", ")}` : undefined;
}

/**
 * The text of the audit Policy file given (read after `auditPolicy` checked it); nothing when none is given. Never the
 * program's own policy in place of a file that is given: a file that cannot be read, or a context that cannot read
 * files, throws.
 */
export function auditPolicyText(file: string, ctx: ValidationContext): string | undefined {
    if (!file) {
        return undefined;
    }
    if (!ctx.readFile) {
        throw new Error(`kube-dumb-way:auditPolicyFile is ${file}, but the program was given no way to read files ` +
            "(ValidationContext.readFile); give one, or leave the key empty for the program's own policy.");
    }
    return ctx.readFile(file);
}

export const auditPolicy: Rule<string> = (file, _, ctx) => {
    if (!file || !ctx.readFile) {
        return undefined;
    }
    const wayOut = "give an audit Policy (apiVersion: audit.k8s.io/v1, kind: Policy; host/scripts/audit-policy.yaml " +
        "is one), or leave the key empty for the program's own.";
    let text: string;
    try {
        text = ctx.readFile(file);
    } catch (err) {
        const { code, message } = err as NodeJS.ErrnoException;
        return code === "ENOENT" ? `is ${file}, which does not exist on this machine; ${wayOut}`
            : `is ${file}, which cannot be read (${message}); ${wayOut}`;
    }
    let doc: unknown;
    try {
        doc = yaml.load(text);
    } catch (err) {
        return `is ${file}, which is neither YAML nor JSON (${(err as Error).message.split("\n")[0]}); ${wayOut}`;
    }
    const why = notAuditPolicy(doc);
    return why ? `is ${file}, which is not an audit Policy: ${why}; ${wayOut}` : undefined;
};

const BUCKET = /^(?=.{3,63}$)[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;
const STORE_PREFIX = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;
/** What a curl config line (`user = "key:secret"`) carries without escapes. */
const PLAIN_CREDENTIAL = /^[^\s"\\]+$/;

/** Why `text` is not an http(s) URL of a server alone (no path, query or credentials); nothing when it is one. */
function notServerUrl(text: string): string | undefined {
    let url: URL;
    try {
        url = new URL(text);
    } catch {
        return "is not a URL";
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
        return `has the scheme ${url.protocol.replace(/:$/, "")}, not https or http`;
    }
    if (url.username || url.password || url.search || url.hash || (url.pathname !== "/" && url.pathname !== "")) {
        return "has more than a scheme, host and port (the bucket is its own field)";
    }
    return undefined;
}

/** The store's CA file, read and parsed: its text, or why it cannot be the store's CA. */
function storeCaOf(file: string, ctx: ValidationContext): { pem?: string; problem?: string } {
    if (!ctx.readFile) {
        return { problem: `names caCertFile ${file}, but the program was given no way to read files (ValidationContext.readFile).` };
    }
    let pem: string;
    try {
        pem = ctx.readFile(file);
    } catch (err) {
        return { problem: `names caCertFile ${file}, which cannot be read on this machine (${(err as Error).message}).` };
    }
    try {
        new X509Certificate(pem);
    } catch (err) {
        return { problem: `names caCertFile ${file}, which is not a PEM certificate (${(err as Error).message}).` };
    }
    return { pem };
}

export const snapshotStore: Rule<Record<string, unknown>> = (given, _, ctx) => {
    if (Object.keys(given).length === 0) {
        return undefined;
    }
    const reasons: string[] = [];
    const known: readonly string[] = [...SNAPSHOT_STORE_FIELDS.required, ...SNAPSHOT_STORE_FIELDS.optional];
    for (const field of Object.keys(given).filter(f => !known.includes(f))) {
        reasons.push(`has the field "${field}"; it takes ${known.join(", ")}.`);
    }
    for (const field of SNAPSHOT_STORE_FIELDS.required.filter(f => typeof given[f] !== "string" || given[f] === "")) {
        reasons.push(`has no ${field} (a non-empty string); it needs ${SNAPSHOT_STORE_FIELDS.required.join(", ")}.`);
    }
    for (const field of SNAPSHOT_STORE_FIELDS.optional.filter(f => f in given && typeof given[f] !== "string")) {
        reasons.push(`gives ${field} ${JSON.stringify(given[field])}, which is not a string.`);
    }
    const text = (field: string) => (typeof given[field] === "string" ? given[field] as string : "");
    const endpoint = text("endpoint");
    const badUrl = endpoint && notServerUrl(endpoint);
    if (badUrl) {
        reasons.push(`gives endpoint ${JSON.stringify(endpoint)}, which ${badUrl}: like https://s3.example.com:9000.`);
    }
    if (text("bucket") && !BUCKET.test(text("bucket"))) {
        reasons.push(`gives bucket ${JSON.stringify(text("bucket"))}, which is not a bucket name: 3 to 63 lowercase letters, ` +
            "digits, '.' and '-', starting and ending with a letter or digit.");
    }
    if (text("prefix") && !STORE_PREFIX.test(text("prefix"))) {
        reasons.push(`gives prefix ${JSON.stringify(text("prefix"))}: folder names of letters, digits, '.', '_' and '-' ` +
            "joined by '/', with no '/' at either end.");
    }
    if (text("region") && !/^[a-z0-9-]+$/.test(text("region"))) {
        reasons.push(`gives region ${JSON.stringify(text("region"))}: lowercase letters, digits and '-', like us-east-1.`);
    }
    for (const field of ["accessKeyId", "secretAccessKey"].filter(f => text(f) && !PLAIN_CREDENTIAL.test(text(f)))) {
        reasons.push(`gives a ${field} with spaces, quotes or backslashes, which the hosts' S3 client cannot send.`);
    }
    if (text("accessKeyId").includes(":")) {
        reasons.push("gives an accessKeyId with ':', which cannot be told apart from the secret key it is sent with.");
    }
    if (text("caCertFile")) {
        const { problem: why } = storeCaOf(text("caCertFile"), ctx);
        if (why) {
            reasons.push(why);
        }
    }
    if (text("secretAccessKey") && ctx.isSecret && !ctx.isSecret("etcdSnapshotStore")) {
        reasons.push("holds secretAccessKey in the stack's config in plain text; set it as a secret: " +
            `pulumi config set --secret --path '${PROJECT}:etcdSnapshotStore.secretAccessKey' <key>.`);
    }
    return reasons;
};

/** A snapshot to restore: a key of the object store, whose snapshots the controllers download. */
export const restoreSnapshot: Rule<string> = (key, s) => {
    if (key === "") {
        return undefined;
    }
    const reasons: string[] = [];
    if (Object.keys(s.etcdSnapshotStore).length === 0) {
        reasons.push(`names a snapshot, but ${PROJECT}:etcdSnapshotStore is empty: the controllers download the snapshot ` +
            "from that object store; set it to the store that holds the snapshot.");
    }
    if (!STORE_PREFIX.test(key) || !key.endsWith(".db")) {
        reasons.push(`gives ${JSON.stringify(key)}, which is not a snapshot's key: the object's key in the store, folder ` +
            "names of letters, digits, '.', '_' and '-' joined by '/', ending in .db, like " +
            "kube-dumb-way/kdw-controller-0/kdw-controller-0-20261204T101500Z-scheduled.db (`kdw-etcd-snapshot list` on a " +
            "controller lists them).");
    }
    return reasons;
};

/** The etcd snapshot settings as the components take them (after `snapshotStore` checked the store). */
export function etcdSnapshotsOf(s: Values, clusterName: string, ctx: ValidationContext): EtcdSnapshots {
    const given = s.etcdSnapshotStore as Record<string, string>;
    let store: SnapshotStore | undefined;
    if (Object.keys(given).length > 0) {
        store = {
            endpoint: given.endpoint.replace(/\/$/, ""),
            bucket: given.bucket,
            region: given.region || DEFAULT_STORE_REGION,
            prefix: given.prefix || clusterName,
            accessKeyId: given.accessKeyId,
            secretAccessKey: given.secretAccessKey,
            ...(given.caCertFile ? { caCert: storeCaOf(given.caCertFile, ctx).pem } : {}),
        };
    }
    return {
        everyMinutes: s.etcdSnapshotEveryMinutes, keep: s.etcdSnapshotKeep, ...(store ? { store } : {}),
        ...(s.etcdRestoreSnapshot ? { restore: { key: s.etcdRestoreSnapshot } } : {}),
    };
}
