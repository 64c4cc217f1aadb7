// Kubernetes the Dumb Way as a Pulumi program: the cluster's recipe. Config in, components wired in dependency
// order, outputs out. The engine runs everything that does not depend on something else in parallel.
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ClusterAddons } from "./components/addons";
import { ApiServerVip } from "./components/apiServerVip";
import { WorkerBinaries } from "./components/binaries";
import { CertAuthority } from "./components/certAuthority";
import { ConfigError } from "./components/config";
import { ControlPlane } from "./components/controlPlane";
import { EtcdMember } from "./components/etcdMember";
import { kubeconfig as renderKubeconfig } from "./components/kubeconfig";
import { loadConfig } from "./components/load";
import { machineCertificates, MachineHost } from "./components/machineHost";
import * as pki from "./components/pki";
import { PodRoute } from "./components/podRoute";
import { WorkerNode } from "./components/workerNode";

function readConfig() {
    try {
        return loadConfig();
    } catch (err) {
        // A clean message naming the keys, without a stack trace.
        throw err instanceof ConfigError ? new pulumi.RunError(err.message) : err;
    }
}
const cfg = readConfig();

// Certificate authorities: one for the cluster, one for etcd, so that no cluster certificate can talk to etcd.
const certLifetime = { validityHours: cfg.certValidityHours, renewBeforeHours: cfg.certRenewBeforeHours };
const clusterCa = new CertAuthority("cluster-ca", { commonName: cfg.clusterName, ...certLifetime });
const etcdCa = new CertAuthority("etcd-ca", { commonName: `${cfg.clusterName}-etcd`, ...certLifetime });

// Hosts, all created in parallel once docker-machine has its certificates.
const certificates = machineCertificates(cfg);
const controllerHosts = cfg.controllers.map(node => new MachineHost(node.name, { node, cluster: cfg, certificates }));
const workerHosts = cfg.workers.map(node => new MachineHost(node.name, { node, cluster: cfg, certificates }));
const controllerIps = pulumi.all(controllerHosts.map(h => h.ip));
const members = pulumi.all(controllerHosts.map(h => h.ip.apply(ip => ({ name: h.nodeName, ip }))));
// Where clients reach the API: the name they were given, else the virtual IP, else (no HA for clients) controller-0.
const endpointHost = cfg.apiServerEndpoint ?? cfg.apiServerVip ?? controllerHosts[0].ip;
const apiServerUrl = pulumi.interpolate`https://${endpointHost}:${cfg.apiServerPort}`;

// etcd: every member starts with the full --initial-cluster; they form one cluster together.
const etcd = controllerHosts.map(host => new EtcdMember(`${host.nodeName}-etcd`, {
    host, members, etcdCa, clusterName: cfg.clusterName,
    image: `${cfg.imageRepository}/etcd:${cfg.versions.etcd.slice(1)}-0`,
}));

// The control plane on every controller, against all etcd members.
const encryptionKey = new command.local.Command("encryption-key", {
    create: `node -e "process.stdout.write(require('crypto').randomBytes(32).toString('base64'))"`,
    logging: "none",
}, { additionalSecretOutputs: ["stdout"] });
const controlPlaneCerts = {
    apiserver: clusterCa.issue("apiserver", controllerIps.apply(ips => pki.apiserverCert(cfg, ips))),
    apiserverKubeletClient: clusterCa.issue("apiserver-kubelet-client", pki.apiserverKubeletClientCert()),
    apiserverEtcdClient: etcdCa.issue("apiserver-etcd-client", pki.apiserverEtcdClientCert()),
    serviceAccount: clusterCa.keyPair("service-account"),
};
const controlPlanes = controllerHosts.map(host => new ControlPlane(`${host.nodeName}-control-plane`, {
    host, cluster: cfg, clusterCa, etcdCa, members, certs: controlPlaneCerts,
    encryptionKey: pulumi.secret(encryptionKey.stdout), issuerHosts: [endpointHost, controllerHosts[0].ip],
}, { dependsOn: etcd }));

// The admin's kubeconfig.
const admin = clusterCa.issue("admin", pki.adminCert());
const adminKubeconfig = (server: pulumi.Input<string>) => renderKubeconfig({
    clusterName: cfg.clusterName, server, caPem: clusterCa.certPem, user: "admin", ...admin,
});
export const kubeconfig = adminKubeconfig(apiServerUrl);

// The API's virtual IP, when set: kube-vip on every controller; done when the API answers on it.
const apiVip = cfg.apiServerVip === undefined ? undefined : new ApiServerVip("api-vip", {
    cluster: cfg, vip: cfg.apiServerVip, controllers: controllerHosts, clusterCa, controlPlanes,
    bootstrapKubeconfig: adminKubeconfig(pulumi.interpolate`https://${controllerHosts[0].ip}:${cfg.apiServerPort}`),
});

// A provider for what lives inside the cluster, through the clients' endpoint. The cluster's name identifies it, so a
// new endpoint or a renewed CA updates the provider instead of replacing it with everything it made.
const provider = new k8s.Provider("cluster", {
    kubeconfig, clusterIdentifier: cfg.clusterName, enableServerSideApply: true,
}, { dependsOn: apiVip?.ready ?? controlPlanes });

// Pod networking: on every host, one route table (to each other worker's pod range) that a loop on the host keeps.
const podRanges = workerHosts.map((host, i) => ({ host, podCidr: cfg.workers[i].podCidr! }));
const podRoutesOn = (host: MachineHost) => new PodRoute(`${host.nodeName}-routes`, {
    host, workers: podRanges, clusterCidr: cfg.clusterCidr,
});
controllerHosts.forEach(podRoutesOn);
const workerRoutes = workerHosts.map(podRoutesOn);

// Workers: binaries fetched once here, copied to each worker.
const binaries = new WorkerBinaries("worker-binaries", { source: cfg.binarySource, versions: cfg.versions });
const kubeProxyCert = clusterCa.issue("kube-proxy", pki.kubeProxyCert());
const workerNodes = cfg.workers.map((node, i) => new WorkerNode(`${node.name}-node`, {
    host: workerHosts[i], node, cluster: cfg, clusterCa, kubeProxyCert, controllerIps,
    binaries: binaries.binaries, provider, podRoutes: workerRoutes[i].applied,
}));

new ClusterAddons("addons", { cluster: cfg, provider }, { dependsOn: workerNodes });

export const apiServerEndpoint = apiServerUrl;
export const caCertificate = clusterCa.certPem;
export const controllers = controllerHosts.map(h => ({ name: h.nodeName, ip: h.ip }));
export const workers = workerHosts.map((h, i) => ({ name: h.nodeName, ip: h.ip, podCidr: workerNodes[i].podCidr }));
