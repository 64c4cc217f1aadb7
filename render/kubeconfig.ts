import * as pulumi from "@pulumi/pulumi";
import { kubeconfigYaml } from "./configFiles";

export interface KubeconfigArgs {
    clusterName: string;
    server: pulumi.Input<string>;
    caPem: pulumi.Input<string>;
    user: string;
    certPem: pulumi.Input<string>;
    keyPem: pulumi.Input<string>;
}

/** A kubeconfig with the CA and client credentials embedded; secret, since it carries a private key. */
export function kubeconfig(args: KubeconfigArgs): pulumi.Output<string> {
    return pulumi.secret(pulumi.all([args.server, args.caPem, args.certPem, args.keyPem]).apply(
        ([server, caPem, certPem, keyPem]) => kubeconfigYaml({ clusterName: args.clusterName, server, caPem, user: args.user, certPem, keyPem })));
}
