import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as versions from "../versions.json";
import { SETTINGS } from "../config/settings";
import { ClusterConfig } from "../config/types";

export interface NetworkPolicyArgs {
    cluster: ClusterConfig;
    provider: k8s.Provider;
    /** What is deleted only when the whole cluster is (as for the other add-ons). */
    deletedWith: pulumi.Resource;
}

/**
 * kube-router's image. A mirror (imageRepository) holds it under cloudnativelabs/kube-router like the other images;
 * without one it comes from Docker Hub, where kube-router publishes it.
 */
export const kubeRouterImage = (cluster: ClusterConfig) =>
    `${cluster.imageRepository === SETTINGS.imageRepository.default ? "docker.io" : cluster.imageRepository}` +
    `/cloudnativelabs/kube-router:${versions.kubeRouter}`;

/**
 * kube-router's command line with only its NetworkPolicy controller on: the routes stay ours (PodRoute) and Services
 * kube-proxy's. The service range tells it which destinations are Services (reached before kube-proxy's DNAT); the
 * node is found by the name the kubelet registered. No health or metrics port: v2.1.0 serves Go's net/http/pprof on
 * them, on every address of the worker, to anyone (upstream stopped in v2.4.0); a controller that fails exits, and the
 * kubelet starts it again.
 */
export function kubeRouterArgs(cluster: ClusterConfig): string[] {
    return [
        "--run-firewall=true",
        "--run-router=false",
        "--run-service-proxy=false",
        "--hostname-override=$(NODE_NAME)",
        `--service-cluster-ip-range=${cluster.serviceCidr}`,
        "--health-port=0",
        "--metrics-port=0",
        "--v=1",
    ];
}

/**
 * What kube-router v2.1.0 reads with only its firewall on: it starts informers on Services, Endpoints,
 * EndpointSlices, Pods, Nodes, Namespaces and NetworkPolicies whatever it runs, and gets its own Node. Nothing is
 * written: no leases, no status.
 */
export const kubeRouterRules = () => [
    { apiGroups: [""], resources: ["namespaces", "pods", "services", "nodes", "endpoints"], verbs: ["get", "list", "watch"] },
    { apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"], verbs: ["get", "list", "watch"] },
    { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "watch"] },
];

/**
 * NetworkPolicy, enforced. Pod networking by routes enforces nothing itself, so without this a policy would be
 * accepted and silently ignored. kube-router's policy controller (the one k3s embeds) runs on every worker as a
 * DaemonSet: it turns policies into iptables rules and ipsets in the worker's own network, in the iptables mode that
 * worker's kube-proxy uses (nf_tables or legacy, found by the image's iptables wrapper).
 */
export class NetworkPolicyEnforcement extends pulumi.ComponentResource {
    constructor(name: string, args: NetworkPolicyArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dumbway:index:NetworkPolicyEnforcement", name, {}, opts);
        const { cluster, provider } = args;
        const o = { parent: this, provider, deletedWith: args.deletedWith };
        const namespace = "kube-system";
        const labels = { "k8s-app": "kube-router" };

        const account = new k8s.core.v1.ServiceAccount(`${name}-kube-router`, {
            metadata: { name: "kube-router", namespace },
        }, o);
        const role = new k8s.rbac.v1.ClusterRole(`${name}-kube-router`, {
            metadata: { name: "kdw:kube-router-network-policy" }, rules: kubeRouterRules(),
        }, o);
        new k8s.rbac.v1.ClusterRoleBinding(`${name}-kube-router`, {
            metadata: { name: "kdw:kube-router-network-policy" },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role.metadata.name },
            subjects: [{ kind: "ServiceAccount", name: account.metadata.name, namespace }],
        }, o);
        new k8s.apps.v1.DaemonSet(`${name}-kube-router`, {
            metadata: { name: "kube-router", namespace, labels },
            spec: {
                selector: { matchLabels: labels },
                // One worker at a time: while a worker's controller restarts, the rules it made stay in force.
                updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
                template: {
                    metadata: { labels },
                    spec: {
                        serviceAccountName: account.metadata.name,
                        priorityClassName: "system-node-critical",
                        hostNetwork: true,
                        tolerations: [{ operator: "Exists" }],
                        containers: [{
                            name: "kube-router",
                            image: kubeRouterImage(cluster),
                            args: kubeRouterArgs(cluster),
                            env: [{ name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }],
                            // It writes the worker's iptables rules and ipsets, as kube-proxy does.
                            securityContext: { privileged: true },
                            resources: { requests: { cpu: "50m", memory: "64Mi" } },
                            // iptables' lock, shared with kube-proxy on the same worker.
                            volumeMounts: [{ name: "xtables-lock", mountPath: "/run/xtables.lock" }],
                        }],
                        volumes: [{ name: "xtables-lock", hostPath: { path: "/run/xtables.lock", type: "FileOrCreate" } }],
                    },
                },
            },
        }, o);
        this.registerOutputs({});
    }
}
