// Command lines of etcd and the Kubernetes components. Pure, so the tests read them directly.
// Paths are as the containers see them: etcd mounts its folder at /etc/etcd, the control plane at /etc/kubernetes.
import { ClusterConfig } from "../config/types";
import { ADMISSION_CONFIG_PATH } from "./admission";
import { FRONT_PROXY_CLIENT } from "./pki";

export interface Member {
    name: string;
    ip: string;
}

export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;
export const KUBE_VIP_METRICS_PORT = 2112;
export const KUBE_PROXY_METRICS_PORT = 10249;
export const NODE_PORT_RANGE = { first: 30000, last: 32767 };

/**
 * The ports the cluster's own programs hold on its hosts, beside the API's (kube-dumb-way:apiServerPort, which every
 * controller's apiserver and every worker's load balancer listen on): what that port must not be. SSH's is each
 * host's own (22, or a generic host's sshPort), checked apart.
 */
export const HOST_PORTS: { first: number; last: number; holder: string }[] = [
    { first: 2376, last: 2376, holder: "the Docker TLS port docker-machine opens on every host" },
    { first: ETCD_CLIENT_PORT, last: ETCD_PEER_PORT, holder: "etcd's client and peer ports on every controller" },
    { first: KUBE_VIP_METRICS_PORT, last: KUBE_VIP_METRICS_PORT, holder: "kube-vip's metrics on every controller" },
    { first: 10248, last: 10248, holder: "the kubelet's health check on every worker" },
    { first: KUBE_PROXY_METRICS_PORT, last: KUBE_PROXY_METRICS_PORT, holder: "kube-proxy's metrics on every worker" },
    { first: 10250, last: 10250, holder: "the kubelet's API on every worker" },
    { first: 10256, last: 10256, holder: "kube-proxy's health check on every worker" },
    { first: 10257, last: 10257, holder: "kube-controller-manager on every controller" },
    { first: 10259, last: 10259, holder: "kube-scheduler on every controller" },
    {
        first: NODE_PORT_RANGE.first, last: NODE_PORT_RANGE.last,
        holder: "the NodePort range, where kube-proxy's rules would give a Service the traffic of every worker's load balancer",
    },
];

export const etcdServers = (members: Member[]): string =>
    members.map(m => `https://${m.ip}:${ETCD_CLIENT_PORT}`).join(",");

export function etcdArgs(self: Member, members: Member[], clusterName: string): string[] {
    return [
        `--name=${self.name}`,
        "--data-dir=/var/lib/etcd",
        "--cert-file=/etc/etcd/server.pem",
        "--key-file=/etc/etcd/server-key.pem",
        "--peer-cert-file=/etc/etcd/peer.pem",
        "--peer-key-file=/etc/etcd/peer-key.pem",
        "--trusted-ca-file=/etc/etcd/ca.pem",
        "--peer-trusted-ca-file=/etc/etcd/ca.pem",
        "--client-cert-auth=true",
        "--peer-client-cert-auth=true",
        `--listen-client-urls=https://${self.ip}:${ETCD_CLIENT_PORT},https://127.0.0.1:${ETCD_CLIENT_PORT}`,
        `--advertise-client-urls=https://${self.ip}:${ETCD_CLIENT_PORT}`,
        `--listen-peer-urls=https://${self.ip}:${ETCD_PEER_PORT}`,
        `--initial-advertise-peer-urls=https://${self.ip}:${ETCD_PEER_PORT}`,
        `--initial-cluster=${members.map(m => `${m.name}=https://${m.ip}:${ETCD_PEER_PORT}`).join(",")}`,
        `--initial-cluster-token=${clusterName}-etcd`,
        "--initial-cluster-state=new",
    ];
}

const PKI = "/etc/kubernetes/pki";

/** How long a stopping apiserver keeps serving (--shutdown-delay-duration); its host scripts give it longer to stop. */
export const APISERVER_SHUTDOWN_DELAY_SECONDS = 5;

/**
 * The TLS 1.2 cipher suites the apiservers and kubelets accept (TLS 1.3's are Go's own): ECDHE with AES-GCM or
 * ChaCha20-Poly1305, the ones both of the CIS benchmark's lists allow (1.2.29, 4.2.12); Go's default adds AES-CBC.
 */
export const TLS_CIPHER_SUITES = [
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
];

/**
 * `issuerHosts`: the service-account issuers, the clients' endpoint first (it signs tokens). Every one is accepted, so
 * controller-0's, the issuer before a virtual IP or endpoint was set, keeps the tokens pods already hold valid.
 */
export function apiserverArgs(cfg: ClusterConfig, self: Member, members: Member[], issuerHosts: string[]): string[] {
    return [
        `--advertise-address=${self.ip}`,
        "--allow-privileged=true",
        // Up to 10 rotated files of 100 MB, kept for 30 days: the least the CIS benchmark asks (1.2.17-1.2.19). That is up
        // to 1.1 GB, which is why boot2docker keeps the audit log on its disk, not in /var/log (layout.ts, auditLogs).
        "--audit-log-maxage=30",
        "--audit-log-maxbackup=10",
        "--audit-log-maxsize=100",
        "--audit-log-path=/var/log/kubernetes/audit.log",
        // Without a policy nothing is written to the audit log (CIS 3.2.1).
        "--audit-policy-file=/etc/kubernetes/audit-policy.yaml",
        "--authorization-mode=Node,RBAC",
        "--bind-address=0.0.0.0",
        `--secure-port=${cfg.apiServerPort}`,
        `--client-ca-file=${PKI}/ca.pem`,
        // PodSecurity is on by default in Kubernetes; named here so that the flag shows every plugin the cluster relies on.
        "--enable-admission-plugins=NamespaceLifecycle,NodeRestriction,LimitRanger,ServiceAccount,DefaultStorageClass,ResourceQuota,PodSecurity",
        // Pod Security Admission's levels for every namespace (kube-dumb-way:podSecurity).
        `--admission-control-config-file=${ADMISSION_CONFIG_PATH}`,
        `--etcd-cafile=${PKI}/etcd-ca.pem`,
        `--etcd-certfile=${PKI}/etcd-client.pem`,
        `--etcd-keyfile=${PKI}/etcd-client-key.pem`,
        `--etcd-servers=${etcdServers(members)}`,
        "--event-ttl=1h",
        // The aggregation layer (metrics-server's API): requests forwarded with the front-proxy client certificate, the
        // user and groups in headers that extension servers believe only from that certificate. Routed to a Service's
        // endpoints, not its cluster IP: the controllers run no kube-proxy, but reach every pod by the routes.
        "--enable-aggregator-routing=true",
        `--proxy-client-cert-file=${PKI}/front-proxy-client.pem`,
        `--proxy-client-key-file=${PKI}/front-proxy-client-key.pem`,
        `--requestheader-client-ca-file=${PKI}/front-proxy-ca.pem`,
        `--requestheader-allowed-names=${FRONT_PROXY_CLIENT}`,
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-username-headers=X-Remote-User",
        "--encryption-provider-config=/etc/kubernetes/encryption-config.yaml",
        // A key rotation's phases reach a running apiserver without a restart: it reads the file again when it changes
        // (checked every minute) and reports the hash of what it loaded in its metrics, which encryption.sh waits for.
        // A restart would move the virtual IP, and a client's connection caught mid-request by that move is reset.
        "--encryption-provider-config-automatic-reload=true",
        `--kubelet-certificate-authority=${PKI}/ca.pem`,
        `--kubelet-client-certificate=${PKI}/apiserver-kubelet-client.pem`,
        `--kubelet-client-key=${PKI}/apiserver-kubelet-client-key.pem`,
        "--kubelet-preferred-address-types=InternalIP,Hostname",
        "--profiling=false",
        `--service-account-key-file=${PKI}/service-account.pem`,
        `--service-account-signing-key-file=${PKI}/service-account-key.pem`,
        ...[...new Set(issuerHosts)].map(host => `--service-account-issuer=https://${host}:${cfg.apiServerPort}`),
        // Tokens live as long as they say (CIS 1.2.30), not a year for legacy clients.
        "--service-account-extend-token-expiration=false",
        `--service-cluster-ip-range=${cfg.serviceCidr}`,
        `--service-node-port-range=${NODE_PORT_RANGE.first}-${NODE_PORT_RANGE.last}`,
        // An apiserver told to stop keeps serving this long (its /readyz failing, so that load balancers turn away):
        // the kube-vip beside it gives up its Lease through it as both stop, as when the host shuts down, so that
        // another controller takes the virtual IP at once instead of after the Lease expires.
        `--shutdown-delay-duration=${APISERVER_SHUTDOWN_DELAY_SECONDS}s`,
        `--tls-cert-file=${PKI}/apiserver.pem`,
        `--tls-private-key-file=${PKI}/apiserver-key.pem`,
        `--tls-cipher-suites=${TLS_CIPHER_SUITES.join(",")}`,
        "--v=2",
        ...Object.entries(cfg.apiServerExtraArgs).map(([flag, value]) => `--${flag}=${value}`),
    ];
}

export function controllerManagerArgs(cfg: ClusterConfig): string[] {
    const kubeconfig = "/etc/kubernetes/kube-controller-manager.kubeconfig";
    return [
        "--bind-address=127.0.0.1",
        `--cluster-cidr=${cfg.clusterCidr}`,
        // Pod ranges are planned per worker (routes and CNI use them) and written into the Node objects.
        "--allocate-node-cidrs=false",
        `--cluster-name=${cfg.clusterName}`,
        `--cluster-signing-cert-file=${PKI}/ca.pem`,
        `--cluster-signing-key-file=${PKI}/ca-key.pem`,
        `--kubeconfig=${kubeconfig}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        "--leader-elect=true",
        `--root-ca-file=${PKI}/ca.pem`,
        `--service-account-private-key-file=${PKI}/service-account-key.pem`,
        `--service-cluster-ip-range=${cfg.serviceCidr}`,
        "--use-service-account-credentials=true",
        // Terminated pods are deleted beyond this many (CIS 1.3.1; Kubernetes keeps 12500, sized for clusters far larger).
        "--terminated-pod-gc-threshold=1000",
        "--profiling=false",
        "--v=2",
    ];
}

export function schedulerArgs(): string[] {
    const kubeconfig = "/etc/kubernetes/kube-scheduler.kubeconfig";
    return [
        "--config=/etc/kubernetes/kube-scheduler.yaml",
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        "--bind-address=127.0.0.1",
        "--profiling=false",
        "--v=2",
    ];
}

/**
 * The timings of kube-vip's Lease (client-go's leader election), in seconds. The holder renews it every `retry`
 * through its own apiserver and gives the address up if no renewal succeeds for `renewDeadline`; the others take it
 * once they have seen no renewal for `duration`. With kube-vip's defaults (5/3/1) the address moved under load with no
 * host lost: on CI's two saturated cores a renewal through a busy apiserver and etcd can take over 3 s, and a move
 * resets every connection clients hold to the address (conformance tests failed so, 2026-12-04). A holder now rides
 * out 8 s without a renewal; the price is a slower failover when the holder dies without warning
 * (test/e2e/scenarios/vip-loss.ts), not when it stops (it hands the Lease over).
 */
export const KUBE_VIP_LEASE = { name: "plndr-cp-lock", durationSeconds: 10, renewDeadlineSeconds: 8, retrySeconds: 1 };

/**
 * kube-vip's command line on one controller (the host script adds --interface, the one carrying the host's address).
 * It elects a leader through a Lease on this controller's own apiserver: a controller whose apiserver or etcd fails
 * cannot renew the Lease, so it gives the address up.
 */
export function kubeVipArgs(cfg: ClusterConfig, vip: string, nodeName: string): string[] {
    return [
        "manager",
        "--controlplane",
        "--arp",
        "--leaderElection",
        `--address=${vip}`,
        `--port=${cfg.apiServerPort}`,
        `--nodeName=${nodeName}`,
        "--namespace=kube-system",
        `--leaseName=${KUBE_VIP_LEASE.name}`,
        `--leaseDuration=${KUBE_VIP_LEASE.durationSeconds}`,
        `--leaseRenewDuration=${KUBE_VIP_LEASE.renewDeadlineSeconds}`,
        `--leaseRetry=${KUBE_VIP_LEASE.retrySeconds}`,
        `--prometheusHTTPServer=127.0.0.1:${KUBE_VIP_METRICS_PORT}`,
    ];
}

/** A worker's long-running programs in start order, each with its command line. */
export function nodeServiceCommands(opts: {
    bin: string; etc: string; nodeName: string; nodeIp: string; kubeletDir: string;
    apiServerPort: number; controllerIps: string[];
}): { name: string; command: string }[] {
    const { bin, etc } = opts;
    return [
        { name: "containerd", command: `${bin}/containerd --config ${etc}/containerd.toml` },
        {
            name: "apiserver-lb",
            command: [`${bin}/kdw-apiserver-lb`, `--listen=127.0.0.1:${opts.apiServerPort}`,
                ...opts.controllerIps.map(ip => `--backend=${ip}:${opts.apiServerPort}`)].join(" "),
        },
        {
            name: "kubelet",
            command: [`${bin}/kubelet`, `--config=${etc}/kubelet-config.yaml`, `--kubeconfig=${etc}/kubelet.kubeconfig`,
                `--node-ip=${opts.nodeIp}`, `--hostname-override=${opts.nodeName}`, `--root-dir=${opts.kubeletDir}`,
                // Where the kubelet keeps the client certificates it rotates (under its root, so `down` removes them).
                `--cert-dir=${opts.kubeletDir}/pki`,
                "--v=2"].join(" "),
        },
        { name: "kube-proxy", command: `${bin}/kube-proxy --config=${etc}/kube-proxy-config.yaml` },
    ];
}
