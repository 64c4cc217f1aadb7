import * as pulumi from "@pulumi/pulumi";
import { asset, render } from "./remote";

export interface KubeconfigArgs {
    clusterName: string;
    server: pulumi.Input<string>;
    caPem: pulumi.Input<string>;
    user: string;
    certPem: pulumi.Input<string>;
    keyPem: pulumi.Input<string>;
}

const b64 = (text: string) => Buffer.from(text).toString("base64");

/** A kubeconfig with the CA and client credentials embedded; secret, since it carries a private key. */
export function kubeconfig(args: KubeconfigArgs): pulumi.Output<string> {
    return pulumi.secret(pulumi.all([args.server, args.caPem, args.certPem, args.keyPem]).apply(
        ([server, ca, cert, key]) => render(asset("kubeconfig.yaml"), {
            CLUSTER: args.clusterName,
            CONTEXT: `${args.user}@${args.clusterName}`,
            USER: args.user,
            SERVER: server,
            CA_DATA: b64(ca),
            CERT_DATA: b64(cert),
            KEY_DATA: b64(key),
        })));
}
