import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ClusterConfig } from "../config/types";
import { APISERVER_KUBELET_CLIENT } from "../render/pki";

export interface AddonsArgs {
    cluster: ClusterConfig;
    provider: k8s.Provider;
    /** What is deleted only when the whole cluster is: deleting it deletes the add-ons without a call to the API. */
    deletedWith: pulumi.Resource;
}

export const corednsImage = (cluster: ClusterConfig) => `${cluster.imageRepository}/coredns/coredns:${cluster.versions.coredns}`;

export function corefile(cluster: ClusterConfig): string {
    return [
        ".:53 {",
        "    errors",
        "    health {",
        "        lameduck 5s",
        "    }",
        "    ready",
        `    kubernetes ${cluster.clusterDomain} in-addr.arpa ip6.arpa {`,
        "        pods insecure",
        "        fallthrough in-addr.arpa ip6.arpa",
        "        ttl 30",
        "    }",
        "    prometheus :9153",
        "    forward . /etc/resolv.conf",
        "    cache 30",
        "    loop",
        "    reload",
        "    loadbalance",
        "}",
        "",
    ].join("\n");
}

/**
 * What the cluster needs in itself: RBAC for apiserver→kubelet calls (logs, exec, port-forward) and for kubelets'
 * client certificate renewals, and CoreDNS.
 */
export class ClusterAddons extends pulumi.ComponentResource {
    constructor(name: string, args: AddonsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dumbway:index:ClusterAddons", name, {}, opts);
        const { cluster, provider } = args;
        // When the cluster goes, they go with it: no call to an API whose workers may already be gone (a Deployment's
        // deletion would wait for pods that no kubelet is left to stop).
        const o = { parent: this, provider, deletedWith: args.deletedWith };

        const kubeletApi = new k8s.rbac.v1.ClusterRole(`${name}-apiserver-to-kubelet`, {
            metadata: { name: "system:kube-apiserver-to-kubelet" },
            rules: [{
                apiGroups: [""],
                resources: ["nodes/proxy", "nodes/stats", "nodes/log", "nodes/spec", "nodes/metrics"],
                verbs: ["*"],
            }],
        }, o);
        new k8s.rbac.v1.ClusterRoleBinding(`${name}-apiserver-to-kubelet`, {
            metadata: { name: "system:kube-apiserver" },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: kubeletApi.metadata.name },
            subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: APISERVER_KUBELET_CLIENT }],
        }, o);

        // Kubelets renew their own client certificates (rotateCertificates, CIS 4.2.10); renewals of a node's own
        // certificate are approved automatically, as kubeadm does. Pulumi's re-issue stays the way to renew on demand.
        new k8s.rbac.v1.ClusterRoleBinding(`${name}-node-client-cert-renewal`, {
            metadata: { name: "kdw:node-autoapprove-certificate-rotation" },
            roleRef: {
                apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole",
                name: "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            },
            subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "system:nodes" }],
        }, o);

        const ns = "kube-system";
        const labels = { "k8s-app": "kube-dns" };
        const account = new k8s.core.v1.ServiceAccount(`${name}-coredns`, { metadata: { name: "coredns", namespace: ns } }, o);
        const role = new k8s.rbac.v1.ClusterRole(`${name}-coredns`, {
            metadata: { name: "system:coredns" },
            rules: [
                { apiGroups: [""], resources: ["endpoints", "services", "pods", "namespaces"], verbs: ["list", "watch"] },
                { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
            ],
        }, o);
        new k8s.rbac.v1.ClusterRoleBinding(`${name}-coredns`, {
            metadata: { name: "system:coredns" },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role.metadata.name },
            subjects: [{ kind: "ServiceAccount", name: account.metadata.name, namespace: ns }],
        }, o);
        const config = new k8s.core.v1.ConfigMap(`${name}-coredns`, {
            metadata: { name: "coredns", namespace: ns },
            data: { Corefile: corefile(cluster) },
        }, o);
        new k8s.apps.v1.Deployment(`${name}-coredns`, {
            metadata: { name: "coredns", namespace: ns, labels },
            spec: {
                replicas: 2,
                selector: { matchLabels: labels },
                template: {
                    metadata: { labels },
                    spec: {
                        serviceAccountName: account.metadata.name,
                        priorityClassName: "system-cluster-critical",
                        containers: [{
                            name: "coredns",
                            image: corednsImage(cluster),
                            args: ["-conf", "/etc/coredns/Corefile"],
                            ports: [
                                { name: "dns", containerPort: 53, protocol: "UDP" },
                                { name: "dns-tcp", containerPort: 53, protocol: "TCP" },
                                { name: "metrics", containerPort: 9153, protocol: "TCP" },
                            ],
                            securityContext: {
                                allowPrivilegeEscalation: false,
                                capabilities: { add: ["NET_BIND_SERVICE"], drop: ["ALL"] },
                                readOnlyRootFilesystem: true,
                            },
                            livenessProbe: { httpGet: { path: "/health", port: 8080 }, initialDelaySeconds: 10 },
                            readinessProbe: { httpGet: { path: "/ready", port: 8181 } },
                            volumeMounts: [{ name: "config", mountPath: "/etc/coredns", readOnly: true }],
                        }],
                        volumes: [{ name: "config", configMap: { name: config.metadata.name } }],
                    },
                },
            },
        }, o);
        new k8s.core.v1.Service(`${name}-kube-dns`, {
            metadata: { name: "kube-dns", namespace: ns, labels },
            spec: {
                selector: labels,
                clusterIP: cluster.clusterDns,
                ports: [
                    { name: "dns", port: 53, protocol: "UDP" },
                    { name: "dns-tcp", port: 53, protocol: "TCP" },
                    { name: "metrics", port: 9153, protocol: "TCP" },
                ],
            },
        }, o);
        this.registerOutputs({});
    }
}
