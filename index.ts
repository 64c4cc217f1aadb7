// Kubernetes the Dumb Way as a Pulumi program: the cluster's recipe. Config in, components wired in dependency
// order, outputs out. The engine runs everything that does not depend on something else in parallel.
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ClusterAddons } from "./components/addons";
import { WorkerBinaries } from "./components/binaries";
import { CertAuthority } from "./components/certAuthority";
import { ConfigError } from "./components/config";
import { ControlPlane } from "./components/controlPlane";
import { EtcdMember } from "./components/etcdMember";
import { kubeconfig as renderKubeconfig } from "./components/kubeconfig";
import { loadConfig } from "./components/load";
import { machineCertificates, MachineHost } from "./components/machineHost";
import * as pki from "./components/pki";
import { PodRoute, routePairs } from "./components/podRoute";
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
const endpointHost = cfg.apiServerEndpoint ?? controllerHosts[0].ip;
const apiServerUrl = pulumi.interpolate`https://${endpointHost}:${cfg.apiServerPort}`;

// Every host step is installed in parallel on a new host, and a change rolls one host at a time: etcd members, then
// control planes, then workers, each host after the one before it (rollingStep in components/remote.ts).
const rolls: pulumi.Resource[] = [];
const previousRoll = () => rolls.slice(-1);

// etcd: every member starts with the full --initial-cluster; they form one cluster together.
const etcd = controllerHosts.map(host => {
    const member = new EtcdMember(`${host.nodeName}-etcd`, {
        host, members, etcdCa, clusterName: cfg.clusterName,
        image: `${cfg.imageRepository}/etcd:${cfg.versions.etcd.slice(1)}-0`, rollsAfter: previousRoll(),
    });
    rolls.push(member.rolled);
    return member;
});

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
const controlPlanes = controllerHosts.map(host => {
    const controlPlane = new ControlPlane(`${host.nodeName}-control-plane`, {
        host, cluster: cfg, clusterCa, etcdCa, members, certs: controlPlaneCerts,
        encryptionKey: pulumi.secret(encryptionKey.stdout), issuerHost: endpointHost, rollsAfter: previousRoll(),
    }, { dependsOn: etcd });
    rolls.push(controlPlane.rolled);
    return controlPlane;
});

// The admin's kubeconfig, and a provider for what lives inside the cluster.
const admin = clusterCa.issue("admin", pki.adminCert());
export const kubeconfig = renderKubeconfig({
    clusterName: cfg.clusterName, server: apiServerUrl, caPem: clusterCa.certPem, user: "admin", ...admin,
});
const provider = new k8s.Provider("cluster", { kubeconfig, enableServerSideApply: true }, { dependsOn: controlPlanes });

// Workers: binaries fetched once here, copied to each worker.
const binaries = new WorkerBinaries("worker-binaries", { source: cfg.binarySource, versions: cfg.versions });
const kubeProxyCert = clusterCa.issue("kube-proxy", pki.kubeProxyCert());
const workerNodes = cfg.workers.map((node, i) => {
    const worker = new WorkerNode(`${node.name}-node`, {
        host: workerHosts[i], node, cluster: cfg, clusterCa, kubeProxyCert, controllerIps,
        binaries: binaries.binaries, provider, adminKubeconfig: kubeconfig, rollsAfter: previousRoll(),
    });
    rolls.push(worker.rolled);
    return worker;
});

// Pod networking: on every host, a route to each other worker's pod range.
const allHosts = [...controllerHosts, ...workerHosts];
for (const pair of routePairs(allHosts, workerHosts.map((host, i) => ({ host, podCidr: workerNodes[i].podCidr })))) {
    new PodRoute(`${pair.on.nodeName}-to-${pair.to.nodeName}`, pair);
}

new ClusterAddons("addons", { cluster: cfg, provider }, { dependsOn: workerNodes });

export const apiServerEndpoint = apiServerUrl;
export const caCertificate = clusterCa.certPem;
export const controllers = controllerHosts.map(h => ({ name: h.nodeName, ip: h.ip }));
// The Kubernetes version every host runs, known once the update has rolled through all of them (a failed roll leaves
// the previous value): the next update's upgrade check starts from it (components/upgrade.ts).
export const kubernetesVersion = pulumi.all(rolls.map(r => r.urn)).apply(() => cfg.versions.kubernetes);
export const workers = workerHosts.map((h, i) => ({ name: h.nodeName, ip: h.ip, podCidr: workerNodes[i].podCidr }));
