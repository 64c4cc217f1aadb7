// Kubernetes upgrades follow the version skew policy (https://kubernetes.io/releases/version-skew-policy/): one minor
// version at a time, never down. The version a cluster runs is the stack's output `kubernetesVersion`, which an update
// sets only once it has rolled through every host; the next update reads it back before it registers anything.
import * as pulumi from "@pulumi/pulumi";
import * as semver from "semver";
import { PINNED_VERSIONS, PROJECT } from "./types";

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

/**
 * Refuses an unsupported change of Kubernetes version before anything is registered but the read of the stack's own
 * last outputs (a StackReference to itself; nothing on a new stack).
 */
export async function refuseUnsupportedUpgrade(): Promise<void> {
    const requested = new pulumi.Config(PROJECT).get("kubernetesVersion") ?? PINNED_VERSIONS.kubernetes;
    const self = new pulumi.StackReference("deployed",
        { name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}` });
    const deployed = (await self.getOutputDetails("kubernetesVersion")).value;
    const problem = upgradeProblem(typeof deployed === "string" ? deployed : undefined, requested);
    if (problem) {
        throw new pulumi.RunError(`Refused (nothing was changed): ${problem}`);
    }
}
