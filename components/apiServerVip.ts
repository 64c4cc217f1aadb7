import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ControlPlane } from "./controlPlane";
import * as versions from "../versions.json";
import { CertAuthority } from "./certAuthority";
import { SETTINGS } from "../config/settings";
import { ClusterConfig } from "../config/types";
import { KUBE_VIP_LEASE, kubeVipArgs } from "../render/flags";
import { kubeconfig } from "../render/kubeconfig";
import { MachineHost } from "./machineHost";
import { layoutEnv } from "../render/layout";
import { KUBE_VIP_USER, kubeVipCert } from "../render/pki";
import { hostScript, rollingStep } from "../host/remote";

export interface ApiServerVipArgs {
    cluster: ClusterConfig;
    /** The virtual IP (apiServerVip). */
    vip: string;
    controllers: MachineHost[];
    clusterCa: CertAuthority;
    /**
     * The control planes whose apiservers kube-vip elects through, one per controller in order: they must answer before
     * its RBAC goes in.
     */
    controlPlanes: ControlPlane[];
    /**
     * Secret: an admin kubeconfig straight to one controller. kube-vip's RBAC goes in through it, since the virtual IP
     * cannot come up before that RBAC exists.
     */
    bootstrapKubeconfig: pulumi.Input<string>;
    /** What a change waits for before it reaches the first controller: the previous roll (the last control plane's). */
    rollsAfter: pulumi.Resource[];
}

/**
 * kube-vip's image. A mirror (imageRepository) holds it under kube-vip/kube-vip like the other images; without one it
 * comes from kube-vip's own registry, since registry.k8s.io does not carry it.
 */
export const kubeVipImage = (cluster: ClusterConfig) =>
    `${cluster.imageRepository === SETTINGS.imageRepository.default ? "ghcr.io" : cluster.imageRepository}/kube-vip/kube-vip:${versions.kubeVip}`;

/**
 * What kube-vip v0.9.2 calls with control-plane ARP and nothing else enabled: client-go's leader election on one Lease
 * (get, create, update; a create carries no name the authorizer could check). Nothing else: no list, watch or events.
 */
export const kubeVipRules = () => [
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: [KUBE_VIP_LEASE.name], verbs: ["get", "update"] },
];

/** The library of the scripts that stop a controller's kube-vip while its apiserver serves: it hands the address over. */
export const VIP_HANDOVER_LIBRARY = "lib-vip-handover.sh";

/**
 * The program a controller runs at shutdown (lib-vip-handover.sh installs the hook that runs it): the hand-over of the
 * address, as the scripts that roll kube-vip do it, with the host's folder of the cluster's settings (KDW_ETC).
 */
export const vipHandoverProgram = (etc: string) =>
    `#!/bin/sh\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nKDW_ETC=${etc}\n` +
    `${hostScript(VIP_HANDOVER_LIBRARY)}\nkdw_vip_hand_over\n`;

/**
 * The API's virtual IP: kube-vip on every controller, one of which holds the address at a time, with its own identity
 * allowed to hold its Lease and nothing else. Finishes when the API answers on the address. kube-vip starts on every
 * controller at once; a change (a renewed certificate, a new image) rolls controller by controller, after the control
 * planes, so that there is always a kube-vip to take the address over from the one restarting.
 */
export class ApiServerVip extends pulumi.ComponentResource {
    /** Every controller's kube-vip steps; each is done when the API answers on the virtual IP. */
    readonly ready: pulumi.Resource[];
    /** Done when a change has reached the last controller's kube-vip. */
    readonly rolled: pulumi.Resource;

    constructor(name: string, args: ApiServerVipArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dumbway:index:ApiServerVip", name, {}, opts);
        const { cluster, clusterCa } = args;
        const namespace = "kube-system";

        const bootstrap = new k8s.Provider(`${name}-bootstrap`, {
            kubeconfig: args.bootstrapKubeconfig, clusterIdentifier: cluster.clusterName,
        }, { parent: this, dependsOn: args.controlPlanes });
        const o = { parent: this, provider: bootstrap };
        const role = new k8s.rbac.v1.Role(`${name}-kube-vip`, {
            metadata: { name: "kube-vip", namespace }, rules: kubeVipRules(),
        }, o);
        const binding = new k8s.rbac.v1.RoleBinding(`${name}-kube-vip`, {
            metadata: { name: "kube-vip", namespace },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
            subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: KUBE_VIP_USER }],
        }, o);

        const cert = clusterCa.issue(`${name}-kube-vip`, kubeVipCert(), this);
        const localKubeconfig = kubeconfig({
            clusterName: cluster.clusterName, server: `https://127.0.0.1:${cluster.apiServerPort}`,
            caPem: clusterCa.certPem, user: KUBE_VIP_USER, ...cert,
        });
        const steps: { install: pulumi.Resource; roll: pulumi.Resource }[] = [];
        for (const [i, host] of args.controllers.entries()) {
            const dir = host.layout.apply(l => `${l.etc}/kube-vip`);
            steps.push(rollingStep(`${host.nodeName}-kube-vip`, {
                machineId: host.machineId,
                connection: host.connection,
                script: hostScript("kube-vip.sh"),
                libraries: [VIP_HANDOVER_LIBRARY],
                files: [
                    { path: dir.apply(d => `${d}/ca.pem`), content: clusterCa.certPem },
                    { path: dir.apply(d => `${d}/kube-vip.kubeconfig`), content: localKubeconfig, mode: "0600" },
                    // The same identity for the hand-over of the address (lib-vip-handover.sh), which reads the Lease.
                    { path: dir.apply(d => `${d}/client.pem`), content: cert.certPem },
                    { path: dir.apply(d => `${d}/client-key.pem`), content: cert.keyPem, mode: "0600" },
                    // What the host runs at shutdown to hand the address over (lib-vip-handover.sh).
                    {
                        path: dir.apply(d => `${d}/kdw-vip-handover`),
                        content: host.layout.apply(l => vipHandoverProgram(l.etc)), mode: "0700",
                    },
                ],
                env: pulumi.all([host.layout, host.ip]).apply(([l, ip]) => ({
                    ...layoutEnv(l, cluster.clusterCidr),
                    KDW_IMAGE: kubeVipImage(cluster),
                    KDW_NODE: host.nodeName,
                    KDW_HOST_IP: ip,
                    KDW_VIP: args.vip,
                    KDW_PORT: String(cluster.apiServerPort),
                    KDW_LEASE: KUBE_VIP_LEASE.name,
                    KDW_KUBE_VIP_ARGS: kubeVipArgs(cluster, args.vip, host.nodeName).join(" "),
                })),
            }, {
                parent: this, dependsOn: [host.ready, role, binding],
                // After its own controller's control plane's roll too, directly (it comes before in the chain anyway):
                // a controller that leaves (a smaller control plane) has its kube-vip taken down, handing the address
                // over, while its apiserver still answers.
                rollsAfter: [...steps.length > 0 ? [steps[steps.length - 1].roll] : args.rollsAfter, args.controlPlanes[i].rolled],
                formerName: `${host.nodeName}-kube-vip`,
            }));
        }
        this.ready = steps.flatMap(s => [s.install, s.roll]);
        this.rolled = steps[steps.length - 1].roll;
        this.registerOutputs({});
    }
}
