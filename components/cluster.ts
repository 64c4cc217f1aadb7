// The whole cluster as one component: certificate authorities, hosts, etcd, control planes, the API's virtual IP, pod
// routes, workers and add-ons, wired in dependency order. The engine runs everything that does not depend on something
// else in parallel. index.ts is this with the stack's config; another program makes one in a few lines (README).
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ClusterAddons } from "./addons";
import { ApiServerVip } from "./apiServerVip";
import { WorkerBinaries } from "./workerBinaries";
import { CertAuthority } from "./certAuthority";
import { ClusterConfig, DEFAULT_SECRETS_ENCRYPTION, NodePlan, SecretsEncryption } from "../config/types";
import { encryptionProblem, RunningEncryption } from "../config/upgrade";
import { EncryptionAtRest } from "./encryptionAtRest";
import { derivedEncryptionKey, EncryptionKey } from "../render/configFiles";
import { ControlPlane } from "./controlPlane";
import { etcdClusterId, EtcdMember } from "./etcdMember";
import { EtcdMembership } from "./etcdMembership";
import { EtcdRestore } from "./etcdRestore";
import { EtcdSnapshots } from "./etcdSnapshots";
import { kubeconfig as renderKubeconfig } from "../render/kubeconfig";
import { machineCertificates, MachineHost } from "./machineHost";
import { MachineRecord } from "../host/identity";
import * as pki from "../render/pki";
import { NetworkPolicyEnforcement } from "./networkPolicy";
import { PodRoute } from "./podRoute";
import { ResourceMetrics } from "./resourceMetrics";
import { WorkerNode } from "./workerNode";
import { shellQuote, withAdminKubeconfig } from "../host/remote";

/** The wait for the API's OpenAPI document (api-ready.sh), with the admin kubeconfig on stdin. */
export const apiReadyCommand = `KDW_TIMEOUT=300 sh -c ${shellQuote(withAdminKubeconfig("api-ready.sh"))} kdw`;

/**
 * The annotation that makes the Kubernetes provider's server-side apply take the fields it sets from any other field
 * manager instead of failing on a conflict (pulumi-kubernetes' patchForce).
 */
export const PATCH_FORCE_ANNOTATION = "pulumi.com/patchForce";

/**
 * Every Kubernetes object of the cluster's own is the program's to converge, as kubeadm re-applies its add-ons. The
 * provider names its field manager at random per create, so an `up` killed while it created an object leaves that
 * object in the cluster under a manager no later run has; the next `up` creates it again under another, and without
 * this the API refuses the second apply with a field conflict (found on 2026-12-04: kube-router's DaemonSet, killed
 * while the workers started). With it the new manager takes the fields over; a drifted field is taken back the same way.
 */
export const ownKubernetesObjects: pulumi.ResourceTransformation = ({ type, props, opts }) => {
    if (!type.startsWith("kubernetes:") || type.startsWith("pulumi:providers:")) {
        return undefined;
    }
    type Metadata = { annotations?: pulumi.Input<Record<string, string>> } | undefined;
    const withForce = (metadata: Metadata) => ({
        ...metadata,
        annotations: pulumi.output(metadata?.annotations ?? {}).apply(a => ({ ...a, [PATCH_FORCE_ANNOTATION]: "true" })),
    });
    const metadata = pulumi.Output.isInstance(props.metadata) ? (props.metadata as pulumi.Output<Metadata>).apply(withForce) : withForce(props.metadata);
    return { props: { ...props, metadata }, opts };
};

export interface KubeClusterArgs {
    /** Validated settings: `loadConfig()` from a stack's config, or `clusterConfig({...})` from a program's own. */
    config: ClusterConfig;
    /**
     * For a machine found replaced by another at its address (host/identity.ts `replacedMachines`, from the stack's
     * `machines` output): the id of the machine it replaces, by node name. Such a machine is made again.
     */
    replacedMachines?: Record<string, string>;
    /**
     * How the running cluster encrypts Secrets at rest (config/upgrade.ts `runningEncryption`, from the stack's
     * `secretsEncryption` and `encryptionKeyGeneration` outputs), none for a new cluster: its provider is kept when
     * `config.secretsEncryption` is unset, and a change it cannot take is refused.
     */
    runningEncryption?: RunningEncryption;
    /**
     * etcd's members found at no declared controller's address (host/etcdMembers.ts `findUndeclaredMembers`), else what
     * the stack's last update recorded: the membership step runs when it changes, and removes them.
     */
    etcdUndeclaredMembers?: string;
}

export interface HostOutput {
    name: string;
    ip: pulumi.Output<string>;
}

export class KubeCluster extends pulumi.ComponentResource {
    /** The admin's kubeconfig on the clients' endpoint (a secret). */
    readonly kubeconfig: pulumi.Output<string>;
    /** Where clients reach the API: https://<apiServerEndpoint, else the virtual IP, else controller-0>:<port>. */
    readonly apiServerEndpoint: pulumi.Output<string>;
    /** The cluster CA's certificate (PEM). */
    readonly caCertificate: pulumi.Output<string>;
    readonly controllers: HostOutput[];
    readonly workers: (HostOutput & { podCidr: string })[];
    /**
     * The Kubernetes version every host runs, known once an update has rolled through all of them (a failed roll leaves
     * the previous value): the next update's upgrade check starts from it (config/upgrade.ts).
     */
    readonly kubernetesVersion: pulumi.Output<string>;
    /**
     * How Secrets are encrypted at rest, and the key's generation, once every apiserver encrypts so and reads no older
     * key: the next update starts from them (config/upgrade.ts).
     */
    readonly secretsEncryption: pulumi.Output<SecretsEncryption>;
    readonly encryptionKeyGeneration: pulumi.Output<number>;
    /** Each machine as the next update checks it is still there (host/identity.ts), by node name. */
    readonly machines: pulumi.Output<Record<string, MachineRecord>>;
    /** `etcdUndeclaredMembers` once the membership step has run with it: the next update's value when it finds none. */
    readonly etcdUndeclaredMembersRemoved: pulumi.Output<string>;

    constructor(name: string, args: KubeClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dumbway:index:Cluster", name, {}, { ...opts, transformations: [...opts?.transformations ?? [], ownKubernetesObjects] });
        const cfg = args.config;
        // Its parts were the stack's own before this component held them: the alias keeps a stack made then as it is
        // (its parts' children follow their parents' aliases).
        const part = { parent: this, aliases: [{ parent: pulumi.rootStackResource }] };

        // Certificate authorities: one for the cluster, one for etcd, so that no cluster certificate can talk to etcd.
        const certLifetime = { validityHours: cfg.certValidityHours, renewBeforeHours: cfg.certRenewBeforeHours };
        const clusterCa = new CertAuthority("cluster-ca", { commonName: cfg.clusterName, ...certLifetime }, part);
        const etcdCa = new CertAuthority("etcd-ca", { commonName: `${cfg.clusterName}-etcd`, ...certLifetime }, part);
        // The aggregation layer's own CA, as kubeadm makes it: extension API servers trust it for the aggregator alone.
        const frontProxyCa = new CertAuthority("front-proxy-ca", {
            commonName: `${cfg.clusterName}-front-proxy`, ...certLifetime,
        }, { parent: this });

        // Workers' binaries: taken from a folder (checked with the config) or fetched once and checked against their
        // pins, before any machine is made.
        const binaries = new WorkerBinaries("worker-binaries", { source: cfg.binarySource, versions: cfg.versions }, part);

        // Secrets at rest in etcd: the provider (the running cluster's unless the config names one) and the key's
        // generation, checked against what the cluster runs. Generation 0 is the cluster's first key, made at random;
        // a later one is derived from the key seed (render/configFiles.ts), so any generation can be made again.
        const refused = encryptionProblem(args.runningEncryption, cfg.secretsEncryption, cfg.encryptionKeyGeneration);
        if (refused) {
            throw new Error(refused);
        }
        const secretsEncryption = cfg.secretsEncryption ?? args.runningEncryption?.provider ?? DEFAULT_SECRETS_ENCRYPTION;
        const randomKey = (keyName: string, opts: pulumi.CustomResourceOptions) => new command.local.Command(keyName, {
            create: `node -e "process.stdout.write(require('crypto').randomBytes(32).toString('base64'))"`,
            logging: "none",
        }, { ...opts, additionalSecretOutputs: ["stdout"] });
        const encryptionKey = randomKey("encryption-key", part);
        // Parts made since the Cluster component came, never at the top level: no alias.
        const encryptionKeySeed = randomKey("encryption-key-seed", { parent: this });
        const keyOf = (generation: number): pulumi.Output<EncryptionKey> => pulumi.secret(generation === 0
            ? encryptionKey.stdout.apply(secret => ({ generation, secret }))
            : encryptionKeySeed.stdout.apply(seed => derivedEncryptionKey(seed, generation)));

        // Hosts, all created in parallel once docker-machine has its certificates. Each host's sweep waits for the
        // cluster's keys, so that a destroy removes the keys after every host's data (etcd's, encrypted Secrets).
        const certificates = machineCertificates(cfg, { ...part, dependsOn: [binaries] });
        const clusterKeys = [...clusterCa.own, ...etcdCa.own, encryptionKey, encryptionKeySeed];
        const machineHost = (node: NodePlan) => new MachineHost(node.name, {
            node, cluster: cfg, certificates, clusterKeys, replaces: args.replacedMachines?.[node.name],
        }, part);
        const controllerHosts = cfg.controllers.map(machineHost);
        const workerHosts = cfg.workers.map(machineHost);
        const controllerIps = pulumi.all(controllerHosts.map(h => h.ip));
        const members = pulumi.all(controllerHosts.map(h => h.ip.apply(ip => ({ name: h.nodeName, ip }))));
        // Where clients reach the API: the name they were given, else the virtual IP, else (no HA for clients)
        // controller-0.
        const endpointHost = cfg.apiServerEndpoint ?? cfg.apiServerVip ?? controllerHosts[0].ip;
        const apiServerUrl = pulumi.interpolate`https://${endpointHost}:${cfg.apiServerPort}`;

        // Every host step is installed in parallel on a new host, and a change rolls one host at a time: etcd members,
        // then control planes, then kube-vip (with a virtual IP), then workers, each host after the one before it
        // (rollingStep in remote.ts).
        const rolls: pulumi.Resource[] = [];
        const previousRoll = () => rolls.slice(-1);

        // etcd: every member starts with the full --initial-cluster; they form one cluster together.
        const etcdImage = `${cfg.imageRepository}/etcd:${cfg.versions.etcd.slice(1)}-0`;
        // After a loss of quorum, every member's data rebuilt from a snapshot first, the control plane on it after.
        const restore = cfg.etcdSnapshots.restore && new EtcdRestore("etcd-restore", {
            controllers: controllerHosts, members, settings: cfg.etcdSnapshots, etcdCa, image: etcdImage,
            clusterName: cfg.clusterName, clusterId: etcdClusterId(etcdCa), apiServerPort: cfg.apiServerPort,
        }, part);
        // When the control plane changes size, etcd's members are made the declared controllers before any member
        // rolls to the new list: the new ones joined, then those no longer declared removed.
        const membership = new EtcdMembership("etcd-membership", {
            host: controllerHosts[0], members, undeclared: args.etcdUndeclaredMembers ?? "", etcdCa, image: etcdImage,
            dependsOn: controllerHosts.map(h => h.ready),
        }, { parent: this });
        this.etcdUndeclaredMembersRemoved = membership.undeclaredRemoved;
        rolls.push(membership.done);
        const etcd = controllerHosts.map((host, i) => {
            const member = new EtcdMember(`${host.nodeName}-etcd`, {
                host, members, memberHosts: controllerHosts, etcdCa, clusterName: cfg.clusterName,
                image: etcdImage, rollsAfter: previousRoll(), startsAfter: restore ? [restore.data[i]] : [],
            }, part);
            rolls.push(member.rolled);
            return member;
        });
        restore?.startControlPlane(controllerHosts, etcd.map(m => m.installed));
        // Snapshots of etcd on every controller, on a schedule and before every roll of etcd or the control plane.
        controllerHosts.forEach((host, i) => new EtcdSnapshots(`${host.nodeName}-etcd-snapshots`, {
            host, settings: cfg.etcdSnapshots, image: etcdImage, member: etcd[i].installed,
            endpoints: pulumi.all(etcd.map(m => m.clientUrl)).apply(urls => [urls[i], ...urls.filter((_, j) => j !== i)]),
        }, { parent: this }));

        // The admin's kubeconfig.
        const admin = clusterCa.issue("admin", pki.adminCert());
        const adminKubeconfig = (server: pulumi.Input<string>) => renderKubeconfig({
            clusterName: cfg.clusterName, server, caPem: clusterCa.certPem, user: "admin", ...admin,
        });
        const kubeconfig = adminKubeconfig(apiServerUrl);

        // The apiservers' encryption configuration: in place before each first starts; a new key rolls in phases.
        const generation = cfg.encryptionKeyGeneration;
        const encryption = new EncryptionAtRest("encryption", {
            controllers: controllerHosts, provider: secretsEncryption, generation, current: keyOf(generation),
            previous: generation > 0 ? keyOf(generation - 1) : undefined, apiServerPort: cfg.apiServerPort,
            monitor: clusterCa.issue("apiserver-monitor", pki.apiserverMonitorCert()),
            adminKubeconfig: kubeconfig, rollsAfter: previousRoll(),
        }, { parent: this });
        rolls.push(encryption.rolled);

        // The control plane on every controller, against all etcd members.
        const controlPlaneCerts = {
            apiserver: clusterCa.issue("apiserver", controllerIps.apply(ips => pki.apiserverCert(cfg, ips))),
            apiserverKubeletClient: clusterCa.issue("apiserver-kubelet-client", pki.apiserverKubeletClientCert()),
            apiserverEtcdClient: etcdCa.issue("apiserver-etcd-client", pki.apiserverEtcdClientCert()),
            serviceAccount: clusterCa.keyPair("service-account"),
            frontProxyClient: frontProxyCa.issue("front-proxy-client", pki.frontProxyClientCert()),
            frontProxyCaPem: frontProxyCa.certPem,
        };
        const controlPlanes = controllerHosts.map((host, i) => {
            const controlPlane = new ControlPlane(`${host.nodeName}-control-plane`, {
                host, cluster: cfg, clusterCa, etcdCa, members, certs: controlPlaneCerts,
                encryptionConfigured: encryption.installed[i], issuerHosts: [endpointHost, controllerHosts[0].ip],
                rollsAfter: previousRoll(),
            }, { ...part, dependsOn: etcd });
            rolls.push(controlPlane.rolled);
            return controlPlane;
        });

        // The API's virtual IP, when set: kube-vip on every controller; done when the API answers on it.
        const apiVip = cfg.apiServerVip === undefined ? undefined : new ApiServerVip("api-vip", {
            cluster: cfg, vip: cfg.apiServerVip, controllers: controllerHosts, clusterCa, controlPlanes,
            bootstrapKubeconfig: adminKubeconfig(pulumi.interpolate`https://${controllerHosts[0].ip}:${cfg.apiServerPort}`),
            rollsAfter: previousRoll(),
        }, part);
        if (apiVip) {
            rolls.push(apiVip.rolled);
        }

        // A provider for what lives inside the cluster, through the clients' endpoint. The cluster's name identifies
        // it, so a new endpoint or a renewed CA updates the provider instead of replacing it with everything it made.
        // Its first request fetches the API's OpenAPI document, which a loaded apiserver may take longer to build than
        // the provider waits once: the document is asked for through the same endpoint until it comes.
        const apiServes = new command.local.Command("api-serves-openapi", {
            create: apiReadyCommand, update: apiReadyCommand, stdin: kubeconfig, logging: "stdoutAndStderr",
        }, { parent: this, dependsOn: apiVip?.ready ?? controlPlanes });
        const provider = new k8s.Provider("cluster", {
            kubeconfig, clusterIdentifier: cfg.clusterName, enableServerSideApply: true,
        }, { ...part, dependsOn: apiServes });

        // Pod networking: on every host, one route table (to each other worker's pod range) that a loop on the host
        // keeps.
        const podRanges = workerHosts.map((host, i) => ({ host, podCidr: cfg.workers[i].podCidr! }));
        const podRoutesOn = (host: MachineHost) => new PodRoute(`${host.nodeName}-routes`, {
            host, workers: podRanges, clusterCidr: cfg.clusterCidr,
        }, part);
        controllerHosts.forEach(podRoutesOn);
        const workerRoutes = workerHosts.map(podRoutesOn);

        // Workers, each with its own copy of the binaries.
        const kubeProxyCert = clusterCa.issue("kube-proxy", pki.kubeProxyCert());
        const workerNodes = cfg.workers.map((node, i) => {
            const worker = new WorkerNode(`${node.name}-node`, {
                host: workerHosts[i], node, cluster: cfg, clusterCa, kubeProxyCert, controllerIps,
                binaries: binaries.set, provider, podRoutes: workerRoutes[i].applied,
                adminKubeconfig: kubeconfig, rollsAfter: previousRoll(),
            }, part);
            rolls.push(worker.rolled);
            return worker;
        });

        // The add-ons need Ready workers for their pods, not the workers' roll chain (on a first `up` a chain of steps
        // that run nothing, made one after another: 36 of them for 12 workers).
        const workersReady = workerNodes.map(w => w.installed);
        const addonArgs = { cluster: cfg, provider, deletedWith: certificates };
        new ClusterAddons("addons", addonArgs, { ...part, dependsOn: workersReady });
        // Add-ons made since the Cluster component came, never at the top level: no alias.
        const laterAddon = { parent: this, dependsOn: workersReady };
        if (cfg.networkPolicy === "kube-router") {
            new NetworkPolicyEnforcement("network-policy", addonArgs, laterAddon);
        }
        if (cfg.resourceMetrics === "metrics-server") {
            new ResourceMetrics("resource-metrics", { ...addonArgs, clusterCa }, laterAddon);
        }

        this.kubeconfig = kubeconfig;
        this.apiServerEndpoint = apiServerUrl;
        this.caCertificate = clusterCa.certPem;
        this.controllers = controllerHosts.map(h => ({ name: h.nodeName, ip: h.ip }));
        this.workers = workerHosts.map((h, i) => ({ name: h.nodeName, ip: h.ip, podCidr: workerNodes[i].podCidr }));
        this.kubernetesVersion = pulumi.all(rolls.map(r => r.urn)).apply(() => cfg.versions.kubernetes);
        this.secretsEncryption = encryption.rolled.urn.apply(() => secretsEncryption);
        this.encryptionKeyGeneration = encryption.rolled.urn.apply(() => generation);
        const hosts = [...controllerHosts, ...workerHosts];
        this.machines = pulumi.all(hosts.map(h => h.record)).apply(records =>
            Object.fromEntries(records.map((r, i) => [hosts[i].nodeName, r])));
        this.registerOutputs({
            kubeconfig: this.kubeconfig, apiServerEndpoint: this.apiServerEndpoint, caCertificate: this.caCertificate,
            kubernetesVersion: this.kubernetesVersion, secretsEncryption: this.secretsEncryption,
            encryptionKeyGeneration: this.encryptionKeyGeneration, machines: this.machines,
            etcdUndeclaredMembersRemoved: this.etcdUndeclaredMembersRemoved,
        });
    }
}
