// Kubernetes the Dumb Way as a Pulumi program: the stack's config in, the cluster (components/cluster.ts), its outputs
// out.
import * as pulumi from "@pulumi/pulumi";
import { KubeCluster } from "./components/cluster";
import { ConfigError, loadConfig } from "./config";

function readConfig() {
    try {
        return loadConfig();
    } catch (err) {
        // A clean message naming the keys, without a stack trace.
        throw err instanceof ConfigError ? new pulumi.RunError(err.message) : err;
    }
}
const cfg = readConfig();

const cluster = new KubeCluster(cfg.clusterName, { config: cfg });

export const kubeconfig = cluster.kubeconfig;
export const apiServerEndpoint = cluster.apiServerEndpoint;
export const caCertificate = cluster.caCertificate;
export const controllers = cluster.controllers;
export const workers = cluster.workers;
export const kubernetesVersion = cluster.kubernetesVersion;
