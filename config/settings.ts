// The settings: each one once, with its type, default, description and rules. Everything else about a setting derives
// from this table: RawConfig and the checked values' types, the defaults, which keys loading parses as JSON, the
// reference in docs/configuration.md (npm run docs:config); a unit test holds Pulumi.yaml's schema to it.
import * as path from "path";
import { isIpv4 } from "../render/net";
import {
    apartFromPods, apiServerFlags, apiServerPortFree, atLeast, atMostPrefix, auditPolicy, isoForDriver, between, binariesAvailable, cidr, DNS_NAME,
    dnsServiceAddress, driverInstalled, driverOptions, evictionThresholds, hostEntries, hostPerNode, hostsOffClusterRanges, IMAGE_REPOSITORY, isHostAddress,
    knownPins, must, odd, restoreSnapshot, snapshotStore, oneOf, pinnedDownloads, podRangePerWorker, podSecurityLevels, release, Rule, virtualIp,
    withinLifetime,
} from "./rules";
import {
    DEFAULT_POD_SECURITY, HOST_PROFILES, NETWORK_POLICY_ENFORCERS, RESOURCE_METRICS_PROVIDERS, SECRETS_ENCRYPTION_PROVIDERS,
} from "./types";

/** A setting's type, as Pulumi.yaml declares it (`string[]`: an array of strings). */
export type Type = "integer" | "string" | "string[]" | "object[]" | "object";
type ValueOf<T extends Type> =
    { integer: number; string: string; "string[]": string[]; "object[]": unknown[]; object: Record<string, unknown> }[T];

export interface Setting<T extends Type = Type> {
    type: T;
    default: ValueOf<T>;
    /** One line, for Pulumi.yaml and the docs. */
    description: string;
    /** What a value of another type is told: `<shape>, got <value>.` */
    shape: string;
    rules: Rule<ValueOf<T>>[];
}

// The builders declare their return type so that the table's type does not depend on its rules, whose types refer to
// the table's values (TypeScript would call that circular).
const kind = <T extends Type>(type: T, shape: string) =>
    (value: ValueOf<T>, description: string, ...rules: Rule<ValueOf<T>>[]): Setting<T> =>
        ({ type, default: value, description, shape, rules });
const integer = kind("integer", "must be a whole number of at most 15 digits");
const text = kind("string", "must be a string");

export const SETTINGS = {
    controllers: integer(3,
        "Number of controllers (etcd + control plane). Must be odd so etcd keeps a majority when one is lost. " +
            "A new count on a running cluster resizes the control plane in place, one etcd member at a time (docs/recovery.md).",
        atLeast(1), odd),
    workers: integer(3,
        "Number of workers (containerd, kubelet, kube-proxy). Worker i gets the i-th /24 of clusterCidr.",
        atLeast(1), podRangePerWorker),
    namePrefix: text("kdw", "Prefix of every machine and node name (kdw-controller-0, kdw-worker-0, ...).",
        must(/^[a-z]([a-z0-9-]{0,28}[a-z0-9])?$/,
            "must be a lowercase DNS label of at most 30 characters (letters, digits, '-')")),
    machineDriver: text("virtualbox",
        "docker-machine driver (virtualbox, kvm, qemu - this project's, for KVM with its own ISO -, generic for existing machines over SSH, or any other). " +
        "Fixed once the machines are made: a new one is refused for a running cluster.",
        must(/^[a-z0-9][a-z0-9-]*$/, "must be a docker-machine driver name such as virtualbox or generic"), driverInstalled),
    machineMemory: integer(2048,
        "Memory per machine in MiB (virtualbox, kvm, hyperv and qemu drivers; other drivers take machineDriverFlags). " +
        "This, machineCpus, machineDiskSize, machineIso and (but with generic) machineDriverFlags are fixed once the " +
        "machines are made: docker-machine cannot change them, so a new value is refused for a running cluster (docs/day2.md).",
        atLeast(512)),
    machineCpus: integer(1, "CPUs per machine (virtualbox, kvm, hyperv and qemu drivers).", atLeast(1)),
    machineDiskSize: integer(20000, "Disk per machine in MB (virtualbox, kvm, hyperv and qemu drivers).", atLeast(4096)),
    machineIso: text("",
        "The boot2docker ISO the machines boot (virtualbox, kvm, hyperv and qemu drivers), an absolute path on the " +
        "machine running Pulumi; empty for the driver's own. Required with qemu, which has none: `bash scripts/vm-iso.sh` " +
        "builds one from Debian's packages and prints its path.", isoForDriver),
    machineDriverFlags: kind("string[]", "must be a list of strings")([],
        "Extra `docker-machine create` flags; each must be an option of the chosen driver (`--<driver>-...`) or an " +
        "`--engine-...` flag.", driverOptions),
    machineStoragePath: text("",
        "docker-machine's storage folder (MACHINE_STORAGE_PATH), an absolute path; empty for docker-machine's default.",
        must(v => !v || path.isAbsolute(v), "must be an absolute path (docker-machine's store, shared by every step)")),
    genericHosts: kind("object[]", "must be a list of {address, sshUser, sshKeyPath}")([],
        "With the generic driver, the existing machines, controllers first: [{address, sshUser, sshKeyPath, sshPort?}]; " +
        "their addresses unicast and outside clusterCidr and serviceCidr. A running node keeps its address: one the " +
        "cluster runs as another node is refused.",
        hostEntries, hostPerNode, hostsOffClusterRanges),
    hostProfile: text("auto",
        "How hosts run services - auto (detect), systemd (Debian/Ubuntu-like) or boot2docker (busybox, no systemd).",
        oneOf(HOST_PROFILES)),
    kubernetesVersion: text("",
        "Kubernetes version (v1.x.y, v1.32.0 or later); empty for the version pinned in versions.json.",
        release("kubernetes", 1, 32)),
    etcdVersion: text("", "etcd version (v3.x.y, v3.5.0 or later); empty for versions.json.", release("etcd", 3, 5)),
    containerdVersion: text("", "containerd version (v2.x.y); empty for versions.json.", release("containerd", 2)),
    runcVersion: text("", "runc version (v1.x.y); empty for versions.json.", release("runc", 1)),
    cniPluginsVersion: text("", "CNI plugins version (v1.x.y); empty for versions.json.", release("cniPlugins", 1)),
    crictlVersion: text("", "crictl version (v1.x.y); empty for versions.json.", release("crictl", 1)),
    corednsVersion: text("", "CoreDNS version (v1.x.y); empty for versions.json.", release("coredns", 1)),
    clusterCidr: text("10.200.0.0/16", "Pod address range, /24 or wider; worker i gets its i-th /24.",
        cidr, atMostPrefix(24, " to hold one /24 pod range per worker")),
    serviceCidr: text("10.32.0.0/24",
        "Service address range, /28 or wider, apart from clusterCidr; its first address is the kubernetes service.",
        cidr, atMostPrefix(28), apartFromPods),
    clusterDns: text("10.32.0.10", "CoreDNS service address, inside serviceCidr.",
        must(isIpv4, "must be an IPv4 address"), dnsServiceAddress),
    clusterDomain: text("cluster.local", "DNS domain of the cluster.",
        must(DNS_NAME, "must be a lowercase DNS name like cluster.local")),
    apiServerPort: integer(6443, "Port of every kube-apiserver (and of the load balancer on each worker); not one the " +
        "cluster's other programs or the hosts' SSH hold.",
        between(1, 65535), apiServerPortFree),
    apiServerEndpoint: text("",
        "Address or DNS name clients use for the API when it is not apiServerVip itself (a DNS name for the VIP, a NAT " +
        "address, your own load balancer); empty for apiServerVip, or controller-0's address without one. Added to " +
        "the apiserver certificate.",
        must(v => !v || isHostAddress(v), "must be an IPv4 address or a DNS name (no scheme or port)")),
    apiServerVip: text("",
        "Virtual IP of the API, an unused IPv4 address on the hosts' network; kube-vip on every controller holds it on " +
        "one controller at a time (ARP, leader election on a Lease), so the kubeconfig keeps working when any " +
        "controller is lost. Empty for none.", virtualIp),
    binarySource: kind("string", "must be a URL or a folder path")("",
        "Where worker binaries come from - a local folder (as `npm run toolchain` makes) or an http(s) URL base; empty " +
        "to use $KDW_BINARY_DIR.", binariesAvailable),
    binaryChecksums: kind("object", "must map binary names to sha256 digests")({},
        "sha256 per binary name; required for every binary when binarySource is a URL, checked when it is a folder.",
        knownPins, pinnedDownloads),
    imageRepository: text("registry.k8s.io",
        "Registry (and path) of the etcd, kube-apiserver, kube-controller-manager, kube-scheduler, pause and coredns " +
        "images.",
        must(IMAGE_REPOSITORY,
            "must be a registry host with an optional port and path and no trailing slash, like registry.k8s.io")),
    // At most ten years: the CAs live ten times as long, and a century is as far as a lifetime in hours goes here.
    certValidityHours: integer(8760,
        "Lifetime of every leaf certificate in hours, 24 to 87600 (ten years); the two CAs live ten times as long and " +
        "are renewed in their last tenth.", between(24, 87600)),
    certRenewBeforeHours: integer(0,
        "The first `pulumi up` within this many hours of a certificate's expiry re-issues it and rolls it out; 0 means " +
        "a tenth of certValidityHours. Set it to certValidityHours for one `up` to re-issue every leaf certificate now.",
        atLeast(0), withinLifetime),
    drainTimeoutSeconds: integer(300,
        "How long draining a worker before it changes may take, 10 to 86400 (a day; evictions respect " +
        "PodDisruptionBudgets); past it the worker's roll fails and the worker stays cordoned.", between(10, 86400)),
    kubeletEvictionHard: kind("object",
        'must be an object of eviction signals and thresholds, like {"imagefs.available": "5%"}')({},
        'The kubelets\' hard eviction thresholds, {signal: threshold} such as {"imagefs.available": "5%"}; empty for ' +
        "the kubelet's defaults. Hosts whose disk is shared with other things (the test hosts) need lower disk " +
        "thresholds.", evictionThresholds),
    apiServerExtraArgs: kind("object",
        'must be an object of flag names (without dashes) and values, like {"event-ttl": "2h"}')({},
        'Extra kube-apiserver flags, {name without dashes: value} such as {"event-ttl": "2h"}, added after the ' +
        "program's own (a flag given twice takes the later value); each value one word (a list takes commas); flags " +
        "the program sets from other keys or from what it makes (addresses, ports, ranges, etcd, certificates, the " +
        "encryption key) are refused; a change rolls the control planes one at a time.", apiServerFlags),
    podSecurity: kind("object",
        'must be an object like {"enforce": "baseline", "warn": "restricted", "audit": "restricted", ' +
        '"exemptNamespaces": ["kube-system"]}')({ ...DEFAULT_POD_SECURITY },
        "Pod Security Admission's cluster-wide levels (privileged, baseline or restricted, each at the latest version): " +
        "{enforce, warn, audit, exemptNamespaces}; a field left out takes its default; a namespace's own " +
        "pod-security.kubernetes.io labels override these; pods in exemptNamespaces are not checked (kube-system " +
        "holds CoreDNS); a change rolls the control planes one at a time.", podSecurityLevels),
    auditPolicyFile: text("",
        "An audit Policy (audit.k8s.io/v1, YAML or JSON) for the apiservers, a file on the machine running Pulumi, read " +
        "when the program runs (a relative path from the project folder); empty for the program's own " +
        "(host/scripts/audit-policy.yaml); a change rolls the control planes one at a time.", auditPolicy),
    networkPolicy: text("kube-router",
        "What enforces NetworkPolicy: kube-router (its policy controller alone, on every worker; Services and routes " +
            "stay kube-proxy's and the program's) or none (policies are then accepted and not enforced).",
        oneOf(NETWORK_POLICY_ENFORCERS)),
    resourceMetrics: text("metrics-server",
        "What serves the resource metrics API (metrics.k8s.io: kubectl top, autoscaling on CPU and memory): " +
            "metrics-server (behind the apiservers' aggregation layer, every connection verified) or none.",
        oneOf(RESOURCE_METRICS_PROVIDERS)),
    encryptionKeyGeneration: integer(0,
        "Which generation of the key encrypts Secrets at rest: raise it by one to rotate the key (a new key reads on " +
            "every apiserver, then writes, every Secret is rewritten with it, then the old key is dropped, each step " +
            "one controller at a time); it never goes down.",
        atLeast(0)),
    secretsEncryption: text("",
        "How Secrets are encrypted at rest in etcd: secretbox or aescbc; empty for the provider the cluster runs " +
            "(secretbox for a new cluster, aescbc for one made before secretbox was the default). A running cluster " +
            "moves to another provider with a key rotation: raise encryptionKeyGeneration by one with it.",
        must(v => v === "" || (SECRETS_ENCRYPTION_PROVIDERS as readonly string[]).includes(v),
            `must be ${SECRETS_ENCRYPTION_PROVIDERS.join(" or ")}, or empty for the provider the cluster runs`)),
    etcdSnapshotEveryMinutes: integer(360,
        "Minutes between the snapshots each controller takes of its etcd member (every 6 hours, as k3s and RKE2); 0 for " +
            "none on a schedule. One is also taken before every roll of etcd or the control plane. Each is verified " +
            "(etcdutl snapshot status) and kept with its sha256 on the controller (/var/lib/kdw/etcd-snapshots; " +
            "/var/lib/boot2docker/kdw/data/etcd-snapshots on boot2docker). At most 525600 (a year).",
        between(0, 525600)),
    etcdSnapshotKeep: integer(5,
        "How many snapshots each controller keeps, on its disk and in etcdSnapshotStore: the newest.", atLeast(1)),
    etcdSnapshotStore: kind("object",
        'must be an object like {"endpoint": "https://s3.example.com:9000", "bucket": "etcd", "accessKeyId": "..."}')({},
        "An S3-compatible object store each snapshot is copied to, off the hosts: {endpoint (https://host:port), bucket, " +
            "accessKeyId, secretAccessKey, region (us-east-1 if left out), prefix (the cluster's name if left out), " +
            "caCertFile (a PEM file on the machine running Pulumi, for a store whose certificate the hosts' CAs do not " +
            "sign)}; the secret key set as a secret (pulumi config set --secret --path " +
            "'kube-dumb-way:etcdSnapshotStore.secretAccessKey' KEY); empty for none.",
        snapshotStore),
    etcdRestoreSnapshot: text("",
        "A snapshot to rebuild etcd from on every controller, after its quorum is lost: its key in etcdSnapshotStore " +
            "(kube-dumb-way/<controller>/<snapshot>.db). Every member restarts from it as a new etcd cluster and the " +
            "control plane restarts on it; a later change of key restores again. Empty for none (docs/recovery.md).",
        restoreSnapshot),
};

export type Name = keyof typeof SETTINGS;
/** Every setting's value once its type is checked (the default where it is not given). */
export type Values = { [K in Name]: (typeof SETTINGS)[K]["default"] };
/** Settings as read from the stack or given in code: every key optional, types not yet trusted. */
export type RawConfig = { [K in Name]?: unknown };
