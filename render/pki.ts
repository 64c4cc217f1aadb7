// What every certificate says: subject, organisation, usages and SANs. Pure, so the tests read the specs directly;
// CertAuthority turns a spec into a key, a CSR and a signed certificate.
import { ClusterConfig } from "../config/types";
import { isIpv4 } from "./net";

export type CertUsage = "client" | "server";

export interface CertSpec {
    commonName: string;
    organization?: string;
    dnsNames: string[];
    ipAddresses: string[];
    usages: CertUsage[];
}

/** The user the apiserver authenticates as when it calls kubelets; the add-ons bind RBAC to it. */
export const APISERVER_KUBELET_CLIENT = "kube-apiserver-kubelet-client";

export const clientCert = (commonName: string, organization?: string): CertSpec =>
    ({ commonName, organization, dnsNames: [], ipAddresses: [], usages: ["client"] });

export const adminCert = (): CertSpec => clientCert("admin", "system:masters");
export const kubeProxyCert = (): CertSpec => clientCert("system:kube-proxy", "system:node-proxier");
export const controllerManagerCert = (): CertSpec =>
    clientCert("system:kube-controller-manager", "system:kube-controller-manager");
export const schedulerCert = (): CertSpec => clientCert("system:kube-scheduler", "system:kube-scheduler");
export const apiserverKubeletClientCert = (): CertSpec => clientCert(APISERVER_KUBELET_CLIENT);
export const apiserverEtcdClientCert = (): CertSpec => clientCert("kube-apiserver-etcd-client");

/**
 * The apiserver's identity when its aggregator forwards a request to an extension API server (metrics-server): signed
 * by the front-proxy CA, which extension servers trust only for this name (--requestheader-allowed-names), so that no
 * client certificate of the cluster CA can pass itself off as the aggregator and name any user it likes.
 */
export const FRONT_PROXY_CLIENT = "front-proxy-client";
export const frontProxyClientCert = (): CertSpec => clientCert(FRONT_PROXY_CLIENT);

/**
 * What the host scripts read the apiserver's metrics with (encryption.sh: which encryption configuration it loaded):
 * the group Kubernetes' own system:monitoring role is bound to, which may read /metrics and the health checks only.
 */
export const apiserverMonitorCert = (): CertSpec => clientCert("kube-dumb-way-monitor", "system:monitoring");

/** kube-vip's own identity: RBAC lets it hold its Lease and nothing else. */
export const KUBE_VIP_USER = "kube-vip";
export const kubeVipCert = (): CertSpec => clientCert(KUBE_VIP_USER);

/** A kubelet's certificate serves its API (server) and authenticates it to the apiserver via the Node authorizer. */
export const nodeCert = (nodeName: string, ip: string): CertSpec => ({
    commonName: `system:node:${nodeName}`,
    organization: "system:nodes",
    dnsNames: [nodeName],
    ipAddresses: [ip],
    usages: ["client", "server"],
});

export function apiserverCert(cfg: ClusterConfig, controllerIps: string[]): CertSpec {
    // The names clients may use besides the controllers: the virtual IP and the endpoint name or address.
    const clientNames = [cfg.apiServerVip, cfg.apiServerEndpoint].filter((n): n is string => n !== undefined);
    return {
        commonName: "kubernetes",
        dnsNames: unique([
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            `kubernetes.default.svc.${cfg.clusterDomain}`,
            "localhost",
            ...cfg.controllers.map(c => c.name),
            ...clientNames.filter(n => !isIpv4(n)),
        ]),
        ipAddresses: unique([
            "127.0.0.1",
            cfg.kubernetesServiceIp,
            ...controllerIps,
            ...clientNames.filter(isIpv4),
        ]),
        usages: ["server"],
    };
}

/** etcd members present one certificate to clients and one to peers; both name the member and its address. */
export const etcdServerCert = (memberName: string, ip: string): CertSpec => ({
    commonName: memberName,
    dnsNames: [memberName, "localhost"],
    ipAddresses: [ip, "127.0.0.1"],
    usages: ["server", "client"],
});

export const etcdPeerCert = (memberName: string, ip: string): CertSpec => ({
    commonName: memberName,
    dnsNames: [memberName],
    ipAddresses: [ip],
    usages: ["server", "client"],
});

/**
 * A Service's serving certificate for the aggregator, which checks it against the name `<service>.<namespace>.svc`
 * (and, with aggregator routing, connects to the Service's endpoints by address, not by this name).
 */
export function serviceServingCert(service: string, namespace: string, clusterDomain: string): CertSpec {
    return {
        commonName: `${service}.${namespace}.svc`,
        dnsNames: [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.${clusterDomain}`],
        ipAddresses: [],
        usages: ["server"],
    };
}

/** x509 key usages for @pulumi/tls's allowedUses. */
export function allowedUses(usages: CertUsage[]): string[] {
    return [
        "digital_signature",
        "key_encipherment",
        ...(usages.includes("server") ? ["server_auth"] : []),
        ...(usages.includes("client") ? ["client_auth"] : []),
    ];
}

function unique(values: string[]): string[] {
    return [...new Set(values)];
}
