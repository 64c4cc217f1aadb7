import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { CertAuthority, IssuedCert } from "./certAuthority";
import { ETCD_SNAPSHOT_LIBRARY } from "./etcdSnapshots";
import { ClusterConfig } from "../config/types";
import { admissionConfigFile, ADMISSION_CONFIG_PATH } from "../render/admission";
import { apiserverArgs, controllerManagerArgs, Member, schedulerArgs } from "../render/flags";
import { kubeconfig } from "../render/kubeconfig";
import { MachineHost } from "./machineHost";
import { controllerManagerCert, schedulerCert } from "../render/pki";
import { schedulerConfigYaml } from "../render/configFiles";
import { hostScript, rollingStep } from "../host/remote";
import { VIP_HANDOVER_LIBRARY } from "./apiServerVip";

/** Certificates every controller shares; issued once so that adding nothing re-issues nothing. */
export interface ControlPlaneCerts {
    apiserver: IssuedCert;
    apiserverKubeletClient: IssuedCert;
    apiserverEtcdClient: IssuedCert;
    serviceAccount: { publicKeyPem: pulumi.Output<string>; keyPem: pulumi.Output<string> };
    /** The aggregator's client certificate, and the front-proxy CA that signs it (what extension servers trust). */
    frontProxyClient: IssuedCert;
    frontProxyCaPem: pulumi.Output<string>;
}

export interface ControlPlaneArgs {
    host: MachineHost;
    cluster: ClusterConfig;
    clusterCa: CertAuthority;
    etcdCa: CertAuthority;
    certs: ControlPlaneCerts;
    /** The etcd members the apiserver uses, all of them. */
    members: pulumi.Input<Member[]>;
    /** Done when this controller's encryption configuration is in place (EncryptionAtRest), for the apiserver's start. */
    encryptionConfigured: pulumi.Resource;
    /** The hosts of the service-account issuer URLs, the API endpoint clients use first (see apiserverArgs). */
    issuerHosts: pulumi.Input<pulumi.Input<string>[]>;
    /** What a change waits for before it reaches this controller: the previous roll (the encryption's last). */
    rollsAfter: pulumi.Resource[];
}

/** The libraries of the scripts that restart a controller's apiserver (control-plane.sh, encryption.sh). */
export const APISERVER_SCRIPT_LIBRARIES = ["lib-control-plane.sh", VIP_HANDOVER_LIBRARY];

/**
 * kube-apiserver, kube-controller-manager and kube-scheduler as containers on one controller. Controllers start
 * together; a change rolls controller by controller, each apiserver ready (/readyz) before the next goes down.
 */
export class ControlPlane extends pulumi.ComponentResource {
    readonly apiserverUrl: pulumi.Output<string>;
    /** Done when a change has reached this controller and its apiserver is ready again. */
    readonly rolled: pulumi.Resource;

    constructor(name: string, args: ControlPlaneArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dumbway:index:ControlPlane", name, {}, opts);
        const { host, cluster, clusterCa, certs } = args;
        const localApi = `https://127.0.0.1:${cluster.apiServerPort}`;
        const clientKubeconfig = (user: string, cert: IssuedCert) => kubeconfig({
            clusterName: cluster.clusterName, server: localApi, caPem: clusterCa.certPem, user, ...cert });
        const controllerManager = clusterCa.issue(`${name}-controller-manager`, controllerManagerCert(), this);
        const scheduler = clusterCa.issue(`${name}-scheduler`, schedulerCert(), this);

        const dir = host.layout.apply(l => `${l.etc}/control-plane`);
        const at = (file: string) => dir.apply(d => `${d}/${file}`);
        const secret = "0600";
        const run = rollingStep(name, {
            machineId: host.machineId,
            connection: host.connection,
            script: hostScript("control-plane.sh"),
            libraries: [...APISERVER_SCRIPT_LIBRARIES, ETCD_SNAPSHOT_LIBRARY],
            files: [
                { path: at("pki/ca.pem"), content: clusterCa.certPem },
                { path: at("pki/ca-key.pem"), content: clusterCa.keyPem, mode: secret },
                { path: at("pki/etcd-ca.pem"), content: args.etcdCa.certPem },
                { path: at("pki/etcd-client.pem"), content: certs.apiserverEtcdClient.certPem },
                { path: at("pki/etcd-client-key.pem"), content: certs.apiserverEtcdClient.keyPem, mode: secret },
                { path: at("pki/apiserver.pem"), content: certs.apiserver.certPem },
                { path: at("pki/apiserver-key.pem"), content: certs.apiserver.keyPem, mode: secret },
                { path: at("pki/apiserver-kubelet-client.pem"), content: certs.apiserverKubeletClient.certPem },
                { path: at("pki/apiserver-kubelet-client-key.pem"), content: certs.apiserverKubeletClient.keyPem, mode: secret },
                { path: at("pki/service-account.pem"), content: certs.serviceAccount.publicKeyPem },
                { path: at("pki/service-account-key.pem"), content: certs.serviceAccount.keyPem, mode: secret },
                { path: at("pki/front-proxy-ca.pem"), content: certs.frontProxyCaPem },
                { path: at("pki/front-proxy-client.pem"), content: certs.frontProxyClient.certPem },
                { path: at("pki/front-proxy-client-key.pem"), content: certs.frontProxyClient.keyPem, mode: secret },
                // The control plane reads its CA at /etc/kubernetes/pki; the readiness check reads it here.
                { path: at("ca.pem"), content: clusterCa.certPem },
                {
                    path: at("kube-controller-manager.kubeconfig"), mode: secret,
                    content: clientKubeconfig("system:kube-controller-manager", controllerManager),
                },
                { path: at("kube-scheduler.kubeconfig"), mode: secret, content: clientKubeconfig("system:kube-scheduler", scheduler) },
                { path: at("kube-scheduler.yaml"), content: schedulerConfigYaml() },
                { path: at("audit-policy.yaml"), content: cluster.auditPolicy ?? hostScript("audit-policy.yaml") },
                { path: at(path.posix.basename(ADMISSION_CONFIG_PATH)), content: admissionConfigFile(cluster.podSecurity) },
            ],
            env: pulumi.all([host.layout, host.ip, args.members, args.issuerHosts]).apply(([l, ip, members, issuers]) => ({
                KDW_NODE: host.nodeName,
                KDW_ETC: l.etc,
                KDW_AUDIT_LOGS: l.auditLogs,
                KDW_IMAGE_PREFIX: cluster.imageRepository,
                KDW_VERSION: cluster.versions.kubernetes,
                KDW_PORT: String(cluster.apiServerPort),
                KDW_APISERVER_ARGS: apiserverArgs(cluster, { name: host.nodeName, ip }, members, issuers).join(" "),
                KDW_CONTROLLER_MANAGER_ARGS: controllerManagerArgs(cluster).join(" "),
                KDW_SCHEDULER_ARGS: schedulerArgs().join(" "),
            })),
        }, { parent: this, dependsOn: [host.ready, args.encryptionConfigured], rollsAfter: args.rollsAfter, formerName: `${name}-run` });

        this.rolled = run.roll;
        this.apiserverUrl = host.ip.apply(ip => `https://${ip}:${cluster.apiServerPort}`);
        this.registerOutputs({ apiserverUrl: this.apiserverUrl, install: run.install.id, roll: run.roll.id });
    }
}
