import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as versions from "../versions.json";
import { CertAuthority } from "./certAuthority";
import { ClusterConfig } from "../config/types";
import { serviceServingCert } from "../render/pki";

export interface ResourceMetricsArgs {
    cluster: ClusterConfig;
    provider: k8s.Provider;
    /** Signs metrics-server's serving certificate; its certificate is what the aggregator trusts for it. */
    clusterCa: CertAuthority;
    /** What is deleted only when the whole cluster is (as for the other add-ons). */
    deletedWith: pulumi.Resource;
}

export const METRICS_SERVER = { name: "metrics-server", namespace: "kube-system", port: 10250 } as const;

/** metrics-server's image, under the mirror's name for it (registry.k8s.io/metrics-server/metrics-server upstream). */
export const metricsServerImage = (cluster: ClusterConfig) =>
    `${cluster.imageRepository}/metrics-server/metrics-server:${versions.metricsServer}`;

/**
 * metrics-server's command line. It verifies each kubelet's serving certificate against the cluster CA (which signs
 * them: render/pki.ts nodeCert) by the node's address, never with --kubelet-insecure-tls; it serves the certificate the
 * program issues, which the aggregator verifies against the same CA.
 */
export function metricsServerArgs(): string[] {
    return [
        `--secure-port=${METRICS_SERVER.port}`,
        "--tls-cert-file=/etc/metrics-server/tls/tls.crt",
        "--tls-private-key-file=/etc/metrics-server/tls/tls.key",
        "--kubelet-certificate-authority=/etc/metrics-server/kubelet-ca/ca.crt",
        "--kubelet-preferred-address-types=InternalIP",
        "--kubelet-use-node-status-port",
        "--metric-resolution=15s",
        // Its own files are its certificate and CA; what it writes besides is nothing (read-only root file system).
        "--cert-dir=/tmp",
    ];
}

/** What metrics-server reads: kubelets' metrics, and the pods and nodes it reports on. As upstream's manifest. */
export const metricsServerRules = () => [
    { apiGroups: [""], resources: ["nodes/metrics"], verbs: ["get"] },
    { apiGroups: [""], resources: ["pods", "nodes"], verbs: ["get", "list", "watch"] },
];

/**
 * The resource metrics API (metrics.k8s.io): metrics-server behind the apiservers' aggregation layer, for
 * `kubectl top` and HorizontalPodAutoscalers on CPU and memory. Every connection is verified: the aggregator checks
 * metrics-server's certificate (signed by the cluster CA for its Service's name), metrics-server checks the
 * aggregator's (front-proxy CA) and every kubelet's (cluster CA).
 */
export class ResourceMetrics extends pulumi.ComponentResource {
    constructor(name: string, args: ResourceMetricsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dumbway:index:ResourceMetrics", name, {}, opts);
        const { cluster, provider } = args;
        const o = { parent: this, provider, deletedWith: args.deletedWith };
        const { namespace } = METRICS_SERVER;
        const labels = { "k8s-app": METRICS_SERVER.name };
        const rbac = "rbac.authorization.k8s.io";

        const account = new k8s.core.v1.ServiceAccount(`${name}-metrics-server`, {
            metadata: { name: METRICS_SERVER.name, namespace },
        }, o);
        const subjects = [{ kind: "ServiceAccount", name: account.metadata.name, namespace }];
        const reader = new k8s.rbac.v1.ClusterRole(`${name}-metrics-server`, {
            metadata: { name: "system:metrics-server" }, rules: metricsServerRules(),
        }, o);
        new k8s.rbac.v1.ClusterRoleBinding(`${name}-metrics-server`, {
            metadata: { name: "system:metrics-server" },
            roleRef: { apiGroup: rbac, kind: "ClusterRole", name: reader.metadata.name }, subjects,
        }, o);
        // It authenticates and authorizes the aggregator's requests through the apiserver, as every extension server.
        new k8s.rbac.v1.ClusterRoleBinding(`${name}-metrics-server-auth-delegator`, {
            metadata: { name: "metrics-server:system:auth-delegator" },
            roleRef: { apiGroup: rbac, kind: "ClusterRole", name: "system:auth-delegator" }, subjects,
        }, o);
        new k8s.rbac.v1.RoleBinding(`${name}-metrics-server-auth-reader`, {
            metadata: { name: "metrics-server-auth-reader", namespace },
            roleRef: { apiGroup: rbac, kind: "Role", name: "extension-apiserver-authentication-reader" }, subjects,
        }, o);
        // Who may read the metrics: whoever may view, edit or administer a namespace (the default roles aggregate it).
        new k8s.rbac.v1.ClusterRole(`${name}-aggregated-metrics-reader`, {
            metadata: {
                name: "system:aggregated-metrics-reader",
                labels: Object.fromEntries(["view", "edit", "admin"].map(r => [`${rbac}/aggregate-to-${r}`, "true"])),
            },
            rules: [{ apiGroups: ["metrics.k8s.io"], resources: ["pods", "nodes"], verbs: ["get", "list", "watch"] }],
        }, o);

        // Its serving certificate, renewed with the others; metrics-server reloads it when the Secret's files change.
        const serving = args.clusterCa.issue(`${name}-metrics-server-serving`,
            serviceServingCert(METRICS_SERVER.name, namespace, cluster.clusterDomain), this);
        const tls = new k8s.core.v1.Secret(`${name}-metrics-server-tls`, {
            metadata: { name: "metrics-server-tls", namespace },
            type: "kubernetes.io/tls",
            stringData: { "tls.crt": serving.certPem, "tls.key": serving.keyPem },
        }, o);

        new k8s.apps.v1.Deployment(`${name}-metrics-server`, {
            metadata: { name: METRICS_SERVER.name, namespace, labels },
            spec: {
                selector: { matchLabels: labels },
                // A new pod serves before the old one goes: the API is not left without metrics in a roll.
                strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0 } },
                template: {
                    metadata: { labels },
                    spec: {
                        serviceAccountName: account.metadata.name,
                        priorityClassName: "system-cluster-critical",
                        containers: [{
                            name: METRICS_SERVER.name,
                            image: metricsServerImage(cluster),
                            args: metricsServerArgs(),
                            ports: [{ name: "https", containerPort: METRICS_SERVER.port, protocol: "TCP" }],
                            readinessProbe: {
                                httpGet: { path: "/readyz", port: "https", scheme: "HTTPS" },
                                // Ready (and the API served) as soon as its first scrape is in, not 20 s later as upstream.
                                periodSeconds: 5, failureThreshold: 3,
                            },
                            livenessProbe: {
                                httpGet: { path: "/livez", port: "https", scheme: "HTTPS" },
                                periodSeconds: 10, failureThreshold: 3,
                            },
                            resources: { requests: { cpu: "100m", memory: "200Mi" } },
                            securityContext: {
                                readOnlyRootFilesystem: true, runAsNonRoot: true, runAsUser: 1000,
                                allowPrivilegeEscalation: false, seccompProfile: { type: "RuntimeDefault" },
                                capabilities: { drop: ["ALL"] },
                            },
                            volumeMounts: [
                                { name: "tmp", mountPath: "/tmp" },
                                { name: "tls", mountPath: "/etc/metrics-server/tls", readOnly: true },
                                { name: "kubelet-ca", mountPath: "/etc/metrics-server/kubelet-ca", readOnly: true },
                            ],
                        }],
                        volumes: [
                            { name: "tmp", emptyDir: {} },
                            { name: "tls", secret: { secretName: tls.metadata.name } },
                            // The cluster CA as the controller-manager publishes it in every namespace.
                            { name: "kubelet-ca", configMap: { name: "kube-root-ca.crt" } },
                        ],
                    },
                },
            },
        }, o);
        const service = new k8s.core.v1.Service(`${name}-metrics-server`, {
            metadata: { name: METRICS_SERVER.name, namespace, labels },
            spec: { selector: labels, ports: [{ name: "https", port: 443, protocol: "TCP", targetPort: "https" }] },
        }, o);
        new k8s.apiregistration.v1.APIService(`${name}-metrics-api`, {
            metadata: { name: "v1beta1.metrics.k8s.io" },
            spec: {
                service: { name: service.metadata.name, namespace },
                group: "metrics.k8s.io",
                version: "v1beta1",
                caBundle: args.clusterCa.certPem.apply(pem => Buffer.from(pem).toString("base64")),
                groupPriorityMinimum: 100,
                versionPriority: 100,
            },
        }, o);
        this.registerOutputs({});
    }
}
