// Changes a running cluster cannot take, refused before anything is registered. Kubernetes upgrades follow the version
// skew policy (https://kubernetes.io/releases/version-skew-policy/): one minor version at a time, never down. The
// version a cluster runs is the stack's output `kubernetesVersion`, which an update sets only once it has rolled
// through every host. The next update reads it back, with how Secrets are encrypted, before it registers anything.
import * as pulumi from "@pulumi/pulumi";
import * as semver from "semver";
import { refusal } from "./refusal";
import { SETTINGS } from "./settings";
import { PINNED_VERSIONS, PROJECT, SECRETS_ENCRYPTION_PROVIDERS, SecretsEncryption } from "./types";

const KEY = `${PROJECT}:kubernetesVersion`;

/** Why going from the deployed version to the requested one is refused, or nothing when it is supported. */
export function upgradeProblem(deployed: string | undefined, requested: string): string | undefined {
    const from = deployed === undefined ? null : semver.parse(deployed);
    const to = semver.parse(requested);
    if (!from || !to) {
        // A new cluster, or a version validation reports on its own.
        return undefined;
    }
    // Pre-releases order as semver has it: v1.38.0-rc.1 is older than v1.38.0 and newer than v1.37.9.
    if (semver.lt(to, from)) {
        return `${KEY} ${requested} is older than ${deployed}, which the cluster runs: Kubernetes does not support ` +
            `downgrades (version skew policy). Keep ${deployed} or a later version, or build a new cluster at ${requested} ` +
            "(pulumi destroy, then pulumi up).";
    }
    if (to.major !== from.major || to.minor > from.minor + 1) {
        return `${KEY} ${requested} would upgrade the cluster from ${deployed} across ${to.minor - from.minor} minor ` +
            `versions; the Kubernetes version skew policy supports one minor at a time: set the latest v1.${from.minor + 1} ` +
            `patch, run pulumi up, and go on one minor version per pulumi up until ${requested}.`;
    }
    return undefined;
}

/** How the running cluster encrypts Secrets at rest. */
export interface RunningEncryption {
    provider: SecretsEncryption;
    /** The generation of the key that writes. */
    generation: number;
    /** Whether its last update recorded them: a cluster made before lists one provider and one key, and reads no other. */
    recorded: boolean;
}

/**
 * Why the cluster cannot go from the encryption it runs to the provider and key generation asked for, or nothing. A
 * rotation goes one generation up at a time, never down (a Secret written with a later key would become unreadable),
 * and a new provider comes with one (its phases are what make the change safe).
 */
export function encryptionProblem(running: RunningEncryption | undefined, provider: SecretsEncryption | undefined,
    generation: number): string | undefined {
    if (!running || !Number.isInteger(generation)) {
        // A new cluster, or a generation validation reports on its own.
        return undefined;
    }
    const [providerKey, generationKey] = [`${PROJECT}:secretsEncryption`, `${PROJECT}:encryptionKeyGeneration`];
    const newProvider = provider !== undefined && provider !== running.provider;
    if (!running.recorded && (generation > 0 || newProvider)) {
        return `${newProvider ? `${providerKey} ${provider}` : `${generationKey} ${generation}`} cannot be applied yet: ` +
            `the cluster was made before its apiservers read more than one key (${running.provider}, key generation 0). ` +
            `Run pulumi up once with ${providerKey} unset and ${generationKey} 0 (it makes every apiserver read both ` +
            "providers), then set them again.";
    }
    if (generation < running.generation) {
        return `${generationKey} ${generation} is below ${running.generation}, the generation that encrypts the running ` +
            `cluster's Secrets: a key rotation only goes forward (the older key was dropped once every Secret was ` +
            `rewritten). Set ${generationKey} to ${running.generation}, or ${running.generation + 1} to rotate again.`;
    }
    if (generation > running.generation + 1) {
        return `${generationKey} ${generation} would rotate the key ${generation - running.generation} generations at ` +
            `once, from ${running.generation}: a rotation goes one generation per pulumi up. Set ${running.generation + 1}, ` +
            "run pulumi up, and go on one at a time.";
    }
    if (newProvider && generation === running.generation) {
        return `${providerKey} ${provider} differs from ${running.provider}, which encrypts the running cluster's ` +
            `Secrets: a cluster moves to another provider with a key rotation. Raise ${generationKey} to ` +
            `${running.generation + 1} with it, or leave ${providerKey} unset (or ${running.provider}) to keep it.`;
    }
    return undefined;
}

/** What the stack's last update left, as the next update reads it back: its outputs, each undefined on a new stack. */
export interface DeployedCluster {
    kubernetesVersion: unknown;
    machines: unknown;
    secretsEncryption: unknown;
    encryptionKeyGeneration: unknown;
    /** host/etcdMembers.ts: what the last update that ran the membership step found in etcd undeclared. */
    etcdUndeclaredMembersRemoved: unknown;
}

/**
 * How the running cluster encrypts Secrets: as its last update recorded; aescbc with the first key for a cluster made
 * before they were recorded (all there was then); none for a new cluster.
 */
export function runningEncryption(deployed: DeployedCluster): RunningEncryption | undefined {
    const { secretsEncryption: provider, encryptionKeyGeneration: generation } = deployed;
    if (provider === undefined && generation === undefined) {
        return deployed.kubernetesVersion !== undefined ? { provider: "aescbc", generation: 0, recorded: false } : undefined;
    }
    const recorded = SECRETS_ENCRYPTION_PROVIDERS.find(p => p === provider);
    if (!recorded || typeof generation !== "number" || !Number.isInteger(generation) || generation < 0) {
        throw refusal(`The stack's outputs secretsEncryption ${JSON.stringify(provider)} and ` +
            `encryptionKeyGeneration ${JSON.stringify(generation)} are not a provider (${SECRETS_ENCRYPTION_PROVIDERS.join(", ")}) ` +
            "and a generation (0 or more): the state was changed by hand. Nothing was changed.");
    }
    return { provider: recorded, generation, recorded: true };
}

/** Reads the stack's own last outputs (a StackReference to itself), before anything else is registered. */
export async function deployedCluster(): Promise<DeployedCluster> {
    const self = new pulumi.StackReference("deployed",
        { name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}` });
    const output = async (name: string) => (await self.getOutputDetails(name)).value;
    return {
        kubernetesVersion: await output("kubernetesVersion"), machines: await output("machines"), secretsEncryption: await output("secretsEncryption"),
        encryptionKeyGeneration: await output("encryptionKeyGeneration"),
        etcdUndeclaredMembersRemoved: await output("etcdUndeclaredMembersRemoved"),
    };
}

/**
 * Refuses a change the running cluster cannot take (an unsupported Kubernetes version change, a key rotation that skips
 * or goes back, a new provider without one)
 * before anything is registered but the read of the stack's own last outputs. Every problem found is named.
 */
export function refuseUnsupportedChange(deployed: DeployedCluster): void {
    const config = new pulumi.Config(PROJECT);
    const problems = [
        upgradeProblem(typeof deployed.kubernetesVersion === "string" ? deployed.kubernetesVersion : undefined,
            config.get("kubernetesVersion") ?? PINNED_VERSIONS.kubernetes),
        encryptionProblem(runningEncryption(deployed),
            SECRETS_ENCRYPTION_PROVIDERS.find(p => p === config.get("secretsEncryption")),
            Number(config.get("encryptionKeyGeneration") ?? SETTINGS.encryptionKeyGeneration.default)),
    ].filter(p => p !== undefined);
    if (problems.length > 0) {
        throw refusal(`Refused (nothing was changed): ${problems.join("\n")}`);
    }
}
