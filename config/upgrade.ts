// Changes a running cluster cannot take, refused before anything is registered. Kubernetes upgrades follow the version
// skew policy (https://kubernetes.io/releases/version-skew-policy/): one minor version at a time, never down. The
// version a cluster runs is the stack's output `kubernetesVersion`, which an update sets only once it has rolled
// through every host. The control plane's size is the stack's output `controllers`: etcd's members are fixed when the
// cluster is made, so a new count is refused until the control plane can be resized in place. The next update reads
// both back before it registers anything.
import * as pulumi from "@pulumi/pulumi";
import * as semver from "semver";
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

/** Why the cluster cannot go from the controllers it runs to `requested` controllers, or nothing. */
export function resizeProblem(deployed: unknown, requested: number): string | undefined {
    if (!Array.isArray(deployed) || !Number.isInteger(requested) || deployed.length === requested) {
        // A new cluster, or a count validation reports on its own.
        return undefined;
    }
    return `${PROJECT}:controllers ${requested} differs from the ${deployed.length} controllers the cluster runs: the ` +
        "control plane cannot be resized in place yet (etcd's members are fixed when the cluster is made; new members " +
        `could not join it, and fewer would leave it without a majority). Set ${PROJECT}:controllers back to ` +
        `${deployed.length}, or build a new cluster with ${requested} (pulumi destroy, then pulumi up).`;
}

/** Why the cluster cannot go from the secrets-encryption provider it runs to `requested`, or nothing. */
export function secretsEncryptionProblem(running: SecretsEncryption | undefined, requested: SecretsEncryption | undefined):
    string | undefined {
    if (!running || !requested || running === requested) {
        return undefined;
    }
    return `${PROJECT}:secretsEncryption ${requested} differs from ${running}, which encrypts the running cluster's ` +
        "Secrets: a running cluster cannot move to another provider yet (that comes with key rotation, which rewrites " +
        `every Secret). Leave ${PROJECT}:secretsEncryption unset (or ${running}) to keep it, or build a new cluster ` +
        `with ${requested} (pulumi destroy, then pulumi up).`;
}

/** What the stack's last update left, as the next update reads it back: its outputs, each undefined on a new stack. */
export interface DeployedCluster {
    kubernetesVersion: unknown;
    controllers: unknown;
    machines: unknown;
    secretsEncryption: unknown;
}

/**
 * The provider that encrypts the running cluster's Secrets: the one its last update recorded; aescbc for a cluster made
 * before the provider was recorded (the only one there was then); none for a new cluster.
 */
export function runningSecretsEncryption(deployed: DeployedCluster): SecretsEncryption | undefined {
    const recorded = SECRETS_ENCRYPTION_PROVIDERS.find(p => p === deployed.secretsEncryption);
    if (recorded) {
        return recorded;
    }
    if (deployed.secretsEncryption !== undefined) {
        throw new pulumi.RunError(`The stack's output secretsEncryption is ${JSON.stringify(deployed.secretsEncryption)}, ` +
            `not one of ${SECRETS_ENCRYPTION_PROVIDERS.join(", ")}: its state was changed by hand. Nothing was changed.`);
    }
    return deployed.kubernetesVersion !== undefined ? "aescbc" : undefined;
}

/** Reads the stack's own last outputs (a StackReference to itself), before anything else is registered. */
export async function deployedCluster(): Promise<DeployedCluster> {
    const self = new pulumi.StackReference("deployed",
        { name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}` });
    const output = async (name: string) => (await self.getOutputDetails(name)).value;
    return {
        kubernetesVersion: await output("kubernetesVersion"), controllers: await output("controllers"),
        machines: await output("machines"), secretsEncryption: await output("secretsEncryption"),
    };
}

/**
 * Refuses a change the running cluster cannot take (an unsupported Kubernetes version change, a new controller count,
 * another secrets-encryption provider)
 * before anything is registered but the read of the stack's own last outputs. Every problem found is named.
 */
export function refuseUnsupportedChange(deployed: DeployedCluster): void {
    const config = new pulumi.Config(PROJECT);
    const problems = [
        upgradeProblem(typeof deployed.kubernetesVersion === "string" ? deployed.kubernetesVersion : undefined,
            config.get("kubernetesVersion") ?? PINNED_VERSIONS.kubernetes),
        resizeProblem(deployed.controllers, Number(config.get("controllers") ?? SETTINGS.controllers.default)),
        secretsEncryptionProblem(runningSecretsEncryption(deployed),
            SECRETS_ENCRYPTION_PROVIDERS.find(p => p === config.get("secretsEncryption"))),
    ].filter(p => p !== undefined);
    if (problems.length > 0) {
        throw new pulumi.RunError(`Refused (nothing was changed): ${problems.join("\n")}`);
    }
}
