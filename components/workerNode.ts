import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as versions from "../versions.json";
import { CNI_PLUGINS, WorkerBinarySet } from "../host/binaries";
import { CertAuthority, IssuedCert } from "./certAuthority";
import { ClusterConfig, NodePlan, WORKER_BINARIES } from "../config/types";
import {
    cniBridgeConflist, cniLoopbackConf, containerdConfigToml, kubeletConfigYaml, kubeProxyConfigYaml, WorkerFileContext, workerEtc,
} from "../render/configFiles";
import { nodeServiceCommands } from "../render/flags";
import { kubeconfig } from "../render/kubeconfig";
import { HostLayout, layoutEnv } from "../render/layout";
import { MachineHost } from "./machineHost";
import { nodeCert } from "../render/pki";
import { HostFile, hostScript, localScript, render, rollingStep, shellQuote, withAdminKubeconfig } from "../host/remote";

export interface WorkerNodeArgs {
    host: MachineHost;
    node: NodePlan;
    cluster: ClusterConfig;
    clusterCa: CertAuthority;
    /** Shared by every worker's kube-proxy. */
    kubeProxyCert: IssuedCert;
    controllerIps: pulumi.Input<string[]>;
    binaries: pulumi.Input<WorkerBinarySet>;
    /** Talks to the cluster once the control plane is up; makes this worker's Node object. */
    provider: k8s.Provider;
    /** This host's pod routes, masquerade rule and kernel settings, in place before any pod runs here. */
    podRoutes: pulumi.Resource;
    /** Secret: the admin kubeconfig, with which the machine running Pulumi drains and uncordons the worker. */
    adminKubeconfig: pulumi.Input<string>;
    /** What a change waits for before it reaches this worker: the previous worker's roll (the last controller's first). */
    rollsAfter: pulumi.Resource[];
}

/** The libraries worker.sh uses (besides the file writer). */
export const WORKER_SCRIPT_LIBRARIES = ["lib-cleanup.sh"];

export const pauseImage = (cluster: ClusterConfig) => `${cluster.imageRepository}/pause:${versions.pause}`;

/** Node configuration and service definitions are for root only (CIS 4.1.1, 4.1.9, 1.1.9). */
export const NODE_FILE_MODE = "0600";

/** Every config file a worker needs, for its host layout. Pure. */
export function workerConfigFiles(context: WorkerFileContext): { name: string; content: string; mode: string }[] {
    return [
        { name: "kubelet-config.yaml", content: kubeletConfigYaml(context) },
        { name: "kube-proxy-config.yaml", content: kubeProxyConfigYaml(context) },
        { name: "containerd.toml", content: containerdConfigToml(context, pauseImage(context.cluster)) },
        { name: "cni/10-kdw-bridge.conflist", content: cniBridgeConflist(context) },
        { name: "cni/99-loopback.conf", content: cniLoopbackConf() },
    ].map(f => ({ ...f, mode: NODE_FILE_MODE }));
}

/** How each node service is kept running: a systemd unit, or a command line for kdw-service on boot2docker. */
export function serviceFiles(layout: HostLayout, services: { name: string; command: string }[]): { path: string; content: string; mode: string }[] {
    return services.map(s => layout.profile === "systemd"
        ? {
            path: `${layout.units}/kdw-${s.name}.service`,
            content: render(hostScript("kdw-service.unit"), {
                NAME: s.name, BIN: `${layout.home}/bin`, EXEC: s.command,
                AFTER: s.name === "containerd" ? "" : "kdw-containerd.service",
                // containerd's shims must outlive a containerd restart, and it manages its children's cgroups.
                EXTRA: s.name === "containerd" ? "Delegate=yes\nKillMode=process\nLimitNOFILE=infinity\nOOMScoreAdjust=-999" : "",
            }),
            mode: NODE_FILE_MODE,
        }
        : { path: `${layout.etc}/worker/${s.name}.cmd`, content: `${s.command}\n`, mode: NODE_FILE_MODE });
}

/**
 * The command that drains (`drain`) or uncordons (`uncordon`) a worker from the machine running Pulumi
 * (host/local/node-drain.sh), with the admin kubeconfig on its stdin.
 */
export function nodeDrainCommand(action: "drain" | "uncordon", node: string, cluster: ClusterConfig): string {
    return `KDW_NODE=${shellQuote(node)} KDW_TIMEOUT=${cluster.drainTimeoutSeconds} ` +
        `KDW_KUBELET_VERSION=${cluster.versions.kubernetes} sh -c ${shellQuote(withAdminKubeconfig("node-drain.sh"))} kdw ${action}`;
}

/**
 * A worker: containerd + runc + CNI, kubelet, kube-proxy and a local load balancer over all apiservers, its own
 * system:node certificate, and its Node object (made first, carrying the planned pod range). Workers install together;
 * a change rolls worker by worker: drained (evictions respect PodDisruptionBudgets), changed, Ready, uncordoned.
 */
export class WorkerNode extends pulumi.ComponentResource {
    readonly podCidr: string;
    /** Done when a change has reached this worker, it is Ready and uncordoned. */
    readonly rolled: pulumi.Resource;
    /** Done when the worker's first install has finished and its Node is Ready. */
    readonly installed: pulumi.Resource;

    constructor(name: string, args: WorkerNodeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dumbway:index:WorkerNode", name, {}, opts);
        const { host, node, cluster, clusterCa } = args;
        this.podCidr = node.podCidr!;

        const kubelet = clusterCa.issue(`${name}-kubelet`, host.ip.apply(ip => nodeCert(node.name, ip)), this);

        // Pre-made so that it carries the pod range the routes and CNI use; the kubelet registers into it.
        const nodeObject = new k8s.core.v1.Node(`${name}-node`, {
            metadata: { name: node.name },
            spec: { podCIDR: node.podCidr, podCIDRs: [node.podCidr!] },
        }, { parent: this, provider: args.provider });

        // The binaries cross the wire once per worker: the set's folder as one tar stream over SSH, from the machine
        // running Pulumi. Not a CopyToRemote of the folder: the engine would read and hash every byte of it (270 MB a
        // worker) on every run, a no-op preview included; the set's digest is already known.
        const set = pulumi.output(args.binaries);
        const copy = new command.local.Command(`${name}-binaries`, {
            create: `sh -c ${shellQuote(localScript("copy-binaries.sh"))} copy`,
            environment: {
                KDW_FOLDER: set.folder, KDW_STAGE: host.layout.apply(l => `${l.home}/stage`),
                KDW_HOST: host.ip, KDW_PORT: String(host.sshPort), KDW_USER: host.sshUser, KDW_KEY: host.sshKeyPath,
            },
            triggers: [set.digest, host.machineId],
        }, { parent: this, dependsOn: [host.ready] });

        const services = pulumi.all([host.layout, host.ip, args.controllerIps]).apply(([layout, ip, controllerIps]) =>
            nodeServiceCommands({
                bin: `${layout.home}/bin`, etc: workerEtc(layout), nodeName: node.name, nodeIp: ip,
                kubeletDir: layout.kubeletDir, apiServerPort: cluster.apiServerPort, controllerIps,
            }));
        const configs = pulumi.all([host.layout, host.cgroupDriver]).apply(([layout, cgroupDriver]) =>
            workerConfigFiles({ cluster, node, layout, cgroupDriver }));
        const unitFiles = pulumi.all([host.layout, services]).apply(([layout, list]) => serviceFiles(layout, list));
        const workerDir = host.layout.apply(workerEtc);
        const at = (file: string) => workerDir.apply(d => `${d}/${file}`);
        const localApi = `https://127.0.0.1:${cluster.apiServerPort}`;
        const fixedFiles: HostFile[] = [
            { path: at("ca.pem"), content: clusterCa.certPem },
            { path: at("kubelet.pem"), content: kubelet.certPem },
            { path: at("kubelet-key.pem"), content: kubelet.keyPem, mode: "0600" },
            {
                path: at("kubelet.kubeconfig"), mode: "0600",
                content: kubeconfig({ clusterName: cluster.clusterName, server: localApi, caPem: clusterCa.certPem,
                    user: `system:node:${node.name}`, ...kubelet }),
            },
            {
                path: at("kube-proxy.kubeconfig"), mode: "0600",
                content: kubeconfig({ clusterName: cluster.clusterName, server: localApi, caPem: clusterCa.certPem,
                    user: "system:kube-proxy", ...args.kubeProxyCert }),
            },
        ];
        const files = pulumi.all([workerDir, configs, unitFiles]).apply(([dir, configList, units]): pulumi.Input<HostFile>[] => [
            ...fixedFiles,
            ...configList.map(f => ({ path: `${dir}/${f.name}`, content: f.content, mode: f.mode })),
            ...units,
        ]);

        // Drain and uncordon run on the machine running Pulumi, around the worker's roll: they act exactly when the roll
        // does (KDW_ROLL, a digest of what it sends; a change of the admin credentials alone acts on nothing).
        const rollStep = (step: "drain" | "uncordon", digest: pulumi.Output<string>, dependsOn: pulumi.Resource[]) =>
            new command.local.Command(`${name}-${step}`, {
                update: nodeDrainCommand(step, node.name, cluster),
                stdin: args.adminKubeconfig,
                environment: { KDW_ROLL: digest },
            }, { parent: this, dependsOn });
        const run = rollingStep(name, {
            machineId: host.machineId,
            connection: host.connection,
            script: hostScript("worker.sh"),
            libraries: WORKER_SCRIPT_LIBRARIES,
            files,
            env: pulumi.all([host.layout, services]).apply(([l, list]) => ({
                ...layoutEnv(l, cluster.clusterCidr),
                KDW_NODE: node.name,
                KDW_API_PORT: String(cluster.apiServerPort),
                KDW_SERVICE_CIDR: cluster.serviceCidr,
                KDW_BINARIES: WORKER_BINARIES.filter(b => !CNI_PLUGINS.includes(b)).join(" "),
                KDW_CNI_PLUGINS: CNI_PLUGINS.join(" "),
                KDW_SERVICES: list.map(s => s.name).join(" "),
            })),
            triggers: [set.digest],
        }, {
            parent: this, dependsOn: [copy, nodeObject, args.podRoutes], rollsAfter: args.rollsAfter,
            beforeRoll: digest => rollStep("drain", digest, [copy, nodeObject, ...args.rollsAfter]),
        });
        this.rolled = rollStep("uncordon", run.digest, [run.roll]);
        this.installed = run.install;

        this.registerOutputs({ podCidr: this.podCidr, install: run.install.id, roll: run.roll.id });
    }
}
