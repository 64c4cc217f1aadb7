import * as pulumi from "@pulumi/pulumi";

/**
 * The annotation that makes the Kubernetes provider's server-side apply take the fields it sets from any other field
 * manager instead of failing on a conflict (pulumi-kubernetes' patchForce).
 */
export const PATCH_FORCE_ANNOTATION = "pulumi.com/patchForce";

/**
 * Every Kubernetes object of the cluster's own is the program's to converge, as kubeadm re-applies its add-ons. The
 * provider names its field manager at random per create, so an `up` killed while it created an object leaves that
 * object in the cluster under a manager no later run has; the next `up` creates it again under another, and without
 * this the API refuses the second apply with a field conflict (found on 2026-12-04: kube-router's DaemonSet, killed
 * while the workers started). With it the new manager takes the fields over; a drifted field is taken back the same way.
 */
export const ownKubernetesObjects: pulumi.ResourceTransformation = ({ type, props, opts }) => {
    if (!type.startsWith("kubernetes:") || type.startsWith("pulumi:providers:")) {
        return undefined;
    }
    type Metadata = { annotations?: pulumi.Input<Record<string, string>> } | undefined;
    const withForce = (metadata: Metadata) => ({
        ...metadata,
        annotations: pulumi.output(metadata?.annotations ?? {}).apply(a => ({ ...a, [PATCH_FORCE_ANNOTATION]: "true" })),
    });
    const metadata = pulumi.Output.isInstance(props.metadata) ? (props.metadata as pulumi.Output<Metadata>).apply(withForce) : withForce(props.metadata);
    return { props: { ...props, metadata }, opts };
};
