// Validation: every setting's type, then every rule of the table (settings.ts), all problems reported at once; then
// the ClusterConfig the components take. Pure, so every rule is unit-tested without a Pulumi engine.
import { formatCidr, hostAddress, parseCidr, subnet } from "../render/net";
import {
    auditPolicyText, binarySourceOf, etcdSnapshotsOf, genericHostsOf, podSecurityOf, problem, renewBeforeHours, Rule, versionsOf,
} from "./rules";
import { Name, RawConfig, Setting, SETTINGS, Type, Values } from "./settings";
import {
    ClusterConfig, ConfigError, HostProfileSetting, NetworkPolicyEnforcer, NodePlan, NodeRole, PROJECT, ResourceMetricsProvider,
    SecretsEncryption, ValidationContext,
} from "./types";

/** The largest whole number a setting takes: 15 digits. */
const MAX_INTEGER = 999_999_999_999_999;

const IS: Record<Type, (value: unknown) => boolean> = {
    // JavaScript holds whole numbers exactly up to 2^53; beyond 15 digits one prints as 1e+21, which no host script reads.
    integer: value => typeof value === "number" && Number.isInteger(value) && Math.abs(value) <= MAX_INTEGER,
    string: value => typeof value === "string",
    "string[]": value => Array.isArray(value) && value.every(v => typeof v === "string"),
    "object[]": value => Array.isArray(value), // each entry has its own rule (genericHosts: hostEntries)
    object: value => typeof value === "object" && value !== null && !Array.isArray(value),
};

export function validateConfig(raw: RawConfig, ctx: ValidationContext): ClusterConfig {
    const problems: string[] = [];
    // A rule takes its own setting's type; the casts stand for the check just above them.
    const table = Object.entries(SETTINGS) as [Name, Setting][];
    const values = Object.fromEntries(table.map(([name, setting]) => {
        // Unset (or null) takes the default; a value of the wrong type is reported and the default stands in for it, so
        // that the other rules still run.
        const value = raw[name] ?? setting.default;
        if (IS[setting.type](value)) {
            return [name, value];
        }
        problems.push(problem(name, `${setting.shape}, got ${JSON.stringify(value)}.`));
        return [name, setting.default];
    })) as Values;
    for (const [name, setting] of table) {
        for (const rule of setting.rules as Rule<unknown>[]) {
            const reasons = rule(values[name], values, ctx) ?? [];
            for (const reason of typeof reasons === "string" ? [reasons] : reasons) {
                problems.push(reason.startsWith(`${PROJECT}:`) ? reason : problem(name, reason));
            }
        }
    }
    if (problems.length > 0) {
        throw new ConfigError(problems);
    }
    return clusterConfigOf(values, ctx);
}

function clusterConfigOf(s: Values, ctx: ValidationContext): ClusterConfig {
    const [pods, services] = [parseCidr(s.clusterCidr), parseCidr(s.serviceCidr)];
    const hosts = genericHostsOf(s.genericHosts);
    const nodes = (role: NodeRole, count: number, offset: number): NodePlan[] =>
        Array.from({ length: count }, (_, index) => ({
            name: `${s.namePrefix}-${role}-${index}`,
            role,
            index,
            ...(role === "worker" ? { podCidr: subnet(pods, 24, index) } : {}),
            ...(s.machineDriver === "generic" ? { generic: hosts[offset + index] } : {}),
        }));
    const clusterName = s.namePrefix === SETTINGS.namePrefix.default ? PROJECT : `${PROJECT}-${s.namePrefix}`;
    return {
        clusterName,
        namePrefix: s.namePrefix,
        machine: {
            driver: s.machineDriver, memoryMb: s.machineMemory, cpus: s.machineCpus, diskMb: s.machineDiskSize,
            iso: s.machineIso || undefined,
            driverFlags: s.machineDriverFlags, storagePath: s.machineStoragePath || undefined,
        },
        hostProfile: s.hostProfile as HostProfileSetting,
        versions: versionsOf(s),
        clusterCidr: formatCidr(pods),
        serviceCidr: formatCidr(services),
        clusterDns: s.clusterDns,
        clusterDomain: s.clusterDomain,
        apiServerPort: s.apiServerPort,
        apiServerEndpoint: s.apiServerEndpoint || undefined,
        apiServerVip: s.apiServerVip || undefined,
        kubernetesServiceIp: hostAddress(services, 1),
        binarySource: binarySourceOf(s, ctx)!,
        imageRepository: s.imageRepository,
        certValidityHours: s.certValidityHours,
        certRenewBeforeHours: renewBeforeHours(s),
        drainTimeoutSeconds: s.drainTimeoutSeconds,
        apiServerExtraArgs: Object.fromEntries(Object.entries(s.apiServerExtraArgs).map(([flag, v]) => [flag, String(v)])),
        podSecurity: podSecurityOf(s.podSecurity),
        auditPolicy: auditPolicyText(s.auditPolicyFile, ctx),
        secretsEncryption: (s.secretsEncryption || undefined) as SecretsEncryption | undefined,
        encryptionKeyGeneration: s.encryptionKeyGeneration,
        networkPolicy: s.networkPolicy as NetworkPolicyEnforcer,
        resourceMetrics: s.resourceMetrics as ResourceMetricsProvider,
        kubeletEvictionHard: s.kubeletEvictionHard as Record<string, string>,
        etcdSnapshots: etcdSnapshotsOf(s, clusterName, ctx),
        controllers: nodes("controller", s.controllers, 0),
        workers: nodes("worker", s.workers, s.controllers),
    };
}
