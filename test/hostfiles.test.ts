// The command lines and config files sent to hosts, for both host profiles.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { spawnSync } from "node:child_process";
import * as yaml from "js-yaml";
import * as toml from "smol-toml";
import { existsSync, readFileSync } from "node:fs";
import * as versions from "../versions.json";
import { hostScript } from "../host/remote";
import { validateConfig } from "../config";
import { admissionConfigFile } from "../render/admission";
import { APISERVER_SHUTDOWN_DELAY_SECONDS, apiserverArgs, controllerManagerArgs, etcdArgs, nodeServiceCommands, schedulerArgs } from "../render/flags";
import { cgroupDriver, hostFacts, hostLayout } from "../render/layout";
import { machineCreateArgs } from "../components/machineHost";
import { serviceFiles, workerConfigFiles } from "../components/workerNode";

const cfg = validateConfig({ binarySource: "/bin" }, { fileExists: () => true });
const members = [0, 1, 2].map(i => ({ name: `kdw-controller-${i}`, ip: `192.168.99.1${i}` }));

test("etcd: TLS for clients and peers with certificate auth, and the whole initial cluster", () => {
    const args = etcdArgs(members[1], members, "kube-dumb-way");
    for (const flag of ["--client-cert-auth=true", "--peer-client-cert-auth=true", "--trusted-ca-file=/etc/etcd/ca.pem",
        "--initial-cluster-state=new", "--name=kdw-controller-1",
        "--listen-client-urls=https://192.168.99.11:2379,https://127.0.0.1:2379",
        "--initial-cluster=kdw-controller-0=https://192.168.99.10:2380,kdw-controller-1=https://192.168.99.11:2380,kdw-controller-2=https://192.168.99.12:2380"]) {
        assert.ok(args.includes(flag), `missing ${flag}`);
    }
    assert.ok(!args.some(a => a.startsWith("http://") || a.includes("=http://")), "plain HTTP in etcd flags");
});

test("kube-apiserver: secure flags, service range, encryption at rest, every etcd member", () => {
    const args = apiserverArgs(cfg, members[0], members, ["192.168.99.10", "192.168.99.10"]);
    for (const flag of ["--authorization-mode=Node,RBAC", "--service-cluster-ip-range=10.32.0.0/24",
        "--encryption-provider-config=/etc/kubernetes/encryption-config.yaml", "--secure-port=6443",
        "--etcd-servers=https://192.168.99.10:2379,https://192.168.99.11:2379,https://192.168.99.12:2379",
        "--kubelet-certificate-authority=/etc/kubernetes/pki/ca.pem", "--service-account-issuer=https://192.168.99.10:6443",
        "--enable-admission-plugins=NamespaceLifecycle,NodeRestriction,LimitRanger,ServiceAccount,DefaultStorageClass,ResourceQuota,PodSecurity",
        "--admission-control-config-file=/etc/kubernetes/admission-config.yaml"]) {
        assert.ok(args.includes(flag), `missing ${flag}`);
    }
    assert.ok(!args.some(a => a.startsWith("--insecure")), "insecure flag present");
    assert.equal(args.filter(a => a.startsWith("--service-account-issuer=")).length, 1, "one issuer, named once");
});

test("kube-apiserver: reloads its encryption configuration when it changes, and serves for a while after it is told to stop", () => {
    const args = apiserverArgs(cfg, members[0], members, ["192.168.99.10"]);
    assert.ok(args.includes("--encryption-provider-config-automatic-reload=true"));
    assert.ok(args.includes(`--shutdown-delay-duration=${APISERVER_SHUTDOWN_DELAY_SECONDS}s`));
    // The scripts that stop it give it longer than that to finish.
    for (const script of ["control-plane.sh", "encryption.sh"]) {
        const times = [...readFileSync(`host/scripts/${script}`, "utf8").matchAll(/docker (?:stop|restart) --time (\d+)/g)].map(m => Number(m[1]));
        assert.ok(times.length > 0 && times.every(t => t > APISERVER_SHUTDOWN_DELAY_SECONDS), `${script}: ${times}`);
    }
});

test("kube-apiserver: the clients' endpoint signs service-account tokens, controller-0's issuer stays accepted", () => {
    const args = apiserverArgs(cfg, members[1], members, ["192.168.99.250", "192.168.99.10"]);
    assert.deepEqual(args.filter(a => a.startsWith("--service-account-issuer=")),
        ["--service-account-issuer=https://192.168.99.250:6443", "--service-account-issuer=https://192.168.99.10:6443"]);
});

test("apiServerExtraArgs come after the program's flags, so a flag given twice takes the extra value", () => {
    const extra = { ...cfg, apiServerExtraArgs: { "event-ttl": "2h", "v": "4" } };
    const args = apiserverArgs(extra, members[0], members, ["192.168.99.10"]);
    assert.deepEqual(args.slice(-2), ["--event-ttl=2h", "--v=4"]);
    assert.ok(args.indexOf("--event-ttl=1h") < args.indexOf("--event-ttl=2h"));
});

test("kube-apiserver: what the CIS benchmark (cis-1.11) asks of its flags", () => {
    const args = apiserverArgs(cfg, members[0], members, ["192.168.99.10"]);
    for (const flag of ["--profiling=false", "--audit-log-path=/var/log/kubernetes/audit.log", "--audit-log-maxage=30",
        "--audit-log-maxbackup=10", "--audit-log-maxsize=100", "--service-account-extend-token-expiration=false",
        "--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.pem", "--client-ca-file=/etc/kubernetes/pki/ca.pem",
        "--etcd-cafile=/etc/kubernetes/pki/etcd-ca.pem", "--tls-cert-file=/etc/kubernetes/pki/apiserver.pem",
        "--audit-policy-file=/etc/kubernetes/audit-policy.yaml"]) {
        assert.ok(args.includes(flag), `missing ${flag}`);
    }
    assert.ok(!args.some(a => /^--(token-auth-file|anonymous-auth=true)|AlwaysAdmit|AlwaysAllow/.test(a)), "a flag the benchmark forbids");
    const ciphers = args.find(a => a.startsWith("--tls-cipher-suites="))?.split("=")[1].split(",") ?? [];
    assert.ok(ciphers.length >= 4 && ciphers.every(c => /^TLS_ECDHE_(ECDSA|RSA)_WITH_(AES_\d+_GCM_SHA\d+|CHACHA20_POLY1305)$/.test(c)), ciphers.join());
    assert.ok(controllerManagerArgs(cfg).includes("--terminated-pod-gc-threshold=1000"));
});

test("kube-apiserver: the aggregation layer trusts the front-proxy CA for the front-proxy client alone, and routes to endpoints", () => {
    const args = apiserverArgs(cfg, members[0], members, ["192.168.99.10"]);
    for (const flag of ["--requestheader-client-ca-file=/etc/kubernetes/pki/front-proxy-ca.pem",
        "--requestheader-allowed-names=front-proxy-client", "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group", "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        "--proxy-client-cert-file=/etc/kubernetes/pki/front-proxy-client.pem",
        "--proxy-client-key-file=/etc/kubernetes/pki/front-proxy-client-key.pem", "--enable-aggregator-routing=true"]) {
        assert.ok(args.includes(flag), `missing ${flag}`);
    }
    assert.notEqual(args.find(a => a.startsWith("--requestheader-client-ca-file=")), "--requestheader-client-ca-file=/etc/kubernetes/pki/ca.pem",
        "a client certificate of the cluster CA must not pass for the aggregator");
});

test("admission configuration: Pod Security enforces baseline, warns and audits restricted, all at latest, kube-system exempt", () => {
    const file = JSON.parse(admissionConfigFile(cfg.podSecurity));
    assert.equal(`${file.apiVersion} ${file.kind}`, "apiserver.config.k8s.io/v1 AdmissionConfiguration");
    assert.deepEqual(file.plugins.map((p: { name: string }) => p.name), ["PodSecurity"]);
    const { configuration } = file.plugins[0];
    assert.equal(`${configuration.apiVersion} ${configuration.kind}`, "pod-security.admission.config.k8s.io/v1 PodSecurityConfiguration");
    const levels = ["enforce", "audit", "warn"].map(mode => `${mode}=${configuration.defaults[mode]}@${configuration.defaults[`${mode}-version`]}`);
    assert.deepEqual(levels, ["enforce=baseline@latest", "audit=restricted@latest", "warn=restricted@latest"]);
    assert.deepEqual(configuration.exemptions, { usernames: [], runtimeClasses: [], namespaces: ["kube-system"] });
});

test("admission configuration: podSecurity's levels and exempt namespaces, as given", () => {
    const custom = validateConfig({ binarySource: "/bin", podSecurity: { enforce: "restricted", warn: "restricted", audit: "baseline",
        exemptNamespaces: ["kube-system", "monitoring"] } }, { fileExists: () => true });
    const plugin = JSON.parse(admissionConfigFile(custom.podSecurity)).plugins[0];
    assert.deepEqual(plugin.configuration.defaults, {
        enforce: "restricted", "enforce-version": "latest", audit: "baseline", "audit-version": "latest",
        warn: "restricted", "warn-version": "latest",
    });
    assert.deepEqual(plugin.configuration.exemptions.namespaces, ["kube-system", "monitoring"]);
});

test("controller-manager and scheduler elect a leader and bind to loopback", () => {
    const cm = controllerManagerArgs(cfg);
    assert.ok(cm.includes("--leader-elect=true") && cm.includes("--bind-address=127.0.0.1"));
    assert.ok(cm.includes("--cluster-cidr=10.200.0.0/16") && cm.includes("--use-service-account-credentials=true"));
    assert.ok(schedulerArgs().includes("--config=/etc/kubernetes/kube-scheduler.yaml"));
});

test("docker-machine create: sizes and the ISO for drivers that have them, generic hosts by address, the cluster label", () => {
    assert.deepEqual(machineCreateArgs(cfg.workers[0], cfg), ["--driver", "virtualbox", "--virtualbox-memory=2048",
        "--virtualbox-cpu-count=1", "--virtualbox-disk-size=20000", "--engine-label", "kdw.cluster=kube-dumb-way", "kdw-worker-0"]);
    const generic = validateConfig({
        binarySource: "/bin", machineDriver: "generic", controllers: 1, workers: 1,
        genericHosts: [{ address: "192.168.77.10", sshUser: "root", sshKeyPath: "/k" }, { address: "192.168.77.11", sshUser: "root", sshKeyPath: "/k", sshPort: 2222 }],
    }, { fileExists: () => true });
    assert.deepEqual(machineCreateArgs(generic.workers[0], generic), ["--driver", "generic",
        "--generic-ip-address=192.168.77.11", "--generic-ssh-user=root", "--generic-ssh-key=/k", "--generic-ssh-port=2222",
        "--engine-label", "kdw.cluster=kube-dumb-way", "kdw-worker-0"]);
    const qemu = validateConfig({
        binarySource: "/bin", machineDriver: "qemu", machineIso: "/isos/boot2docker.iso", machineMemory: 2560, machineCpus: 2,
        machineDriverFlags: ["--qemu-network-cidr=192.168.90.0/24"],
    }, { fileExists: () => true });
    assert.deepEqual(machineCreateArgs(qemu.controllers[1], qemu), ["--driver", "qemu", "--qemu-memory=2560",
        "--qemu-cpu-count=2", "--qemu-disk-size=20000", "--qemu-boot2docker-url=/isos/boot2docker.iso",
        "--qemu-network-cidr=192.168.90.0/24", "--engine-label", "kdw.cluster=kube-dumb-way", "kdw-controller-1"]);
});

test("host facts: the probe's answer, and the probe itself on this machine for auto, an override and an unknown host", () => {
    assert.deepEqual(hostFacts("profile=boot2docker cgroup=v1\n"), { profile: "boot2docker", cgroup: "v1" });
    assert.deepEqual(hostFacts("profile=systemd cgroup=v2"), { profile: "systemd", cgroup: "v2" });
    assert.throws(() => hostFacts("garbage"), /unexpected host probe output/);
    const probe = (setting: string) => spawnSync("sh", ["-c", hostScript("probe.sh")],
        { encoding: "utf8", env: { ...process.env, KDW_PROFILE_SETTING: setting } });
    const overridden = probe("boot2docker");
    assert.equal(overridden.status, 0);
    assert.match(overridden.stdout, /^profile=boot2docker cgroup=v[12]\n$/);
    // This machine (a CI container) runs neither systemd nor boot2docker: auto must refuse it, loudly.
    const detected = probe("auto");
    if (existsSync("/run/systemd/system")) {
        assert.match(detected.stdout, /^profile=systemd /);
    } else {
        assert.notEqual(detected.status, 0);
        assert.match(detected.stderr, /set kube-dumb-way:hostProfile/);
    }
    assert.equal(cgroupDriver("systemd", "v2"), "systemd");
    assert.equal(cgroupDriver("systemd", "v1"), "cgroupfs");
    assert.equal(cgroupDriver("boot2docker", "v1"), "cgroupfs");
    assert.ok(hostLayout("boot2docker").etc.startsWith("/var/lib/boot2docker/"), "boot2docker keeps config on its persistent disk");
    assert.equal(hostLayout("systemd").kubeletDir, "/var/lib/kubelet");
});

for (const profile of ["systemd", "boot2docker"] as const) {
    const layout = hostLayout(profile);
    const files = Object.fromEntries(workerConfigFiles({ cluster: cfg, node: cfg.workers[2], layout, cgroupDriver: cgroupDriver(profile, "v1") })
        .map(f => [f.name, f.content]));

    test(`${profile}: kubelet config has webhook auth, no anonymous access, cluster DNS and its own certificate`, () => {
        const kubelet = yaml.load(files["kubelet-config.yaml"]) as Record<string, any>;
        assert.equal(kubelet.kind, "KubeletConfiguration");
        assert.deepEqual(kubelet.authentication, {
            anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: `${layout.etc}/worker/ca.pem` },
        });
        assert.deepEqual(kubelet.authorization, { mode: "Webhook" });
        assert.deepEqual(kubelet.clusterDNS, ["10.32.0.10"]);
        assert.equal(kubelet.clusterDomain, "cluster.local");
        assert.equal(kubelet.tlsCertFile, `${layout.etc}/worker/kubelet.pem`);
        assert.equal(kubelet.containerRuntimeEndpoint, `unix://${layout.run}/containerd/containerd.sock`);
        assert.equal(kubelet.cgroupDriver, "cgroupfs");
        assert.equal(kubelet.failCgroupV1, false);
        assert.equal(kubelet.rotateCertificates, true);
        // CIS 4.2.12, 4.2.13: TLS 1.2 only with AEAD suites; a limit on each pod's processes.
        assert.equal(kubelet.tlsCipherSuites[0], "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
        assert.deepEqual(kubelet.tlsCipherSuites.filter((c: string) => !/_(GCM_SHA\d+|CHACHA20_POLY1305)$/.test(c)), []);
        assert.equal(kubelet.podPidsLimit, 4096);
        assert.equal(kubelet.evictionHard, undefined, "the kubelet's own eviction defaults");
    });

    test(`${profile}: node configuration and service definitions are for root only`, () => {
        const configs = workerConfigFiles({ cluster: cfg, node: cfg.workers[2], layout, cgroupDriver: "cgroupfs" });
        assert.deepEqual(configs.filter(f => f.mode !== "0600").map(f => f.name), []);
        const services = nodeServiceCommands({ bin: `${layout.home}/bin`, etc: `${layout.etc}/worker`, nodeName: "kdw-worker-2",
            nodeIp: "192.168.99.52", kubeletDir: layout.kubeletDir, apiServerPort: 6443, controllerIps: ["192.168.99.10"] });
        assert.deepEqual(serviceFiles(layout, services).filter(f => f.mode !== "0600").map(f => f.path), []);
        assert.ok(services[2].command.includes(` --cert-dir=${layout.kubeletDir}/pki`), "rotated certificates under the kubelet's root");
    });

    test(`${profile}: kube-proxy in iptables mode with the cluster CIDR; CNI bridge on the node's /24`, () => {
        const proxy = yaml.load(files["kube-proxy-config.yaml"]) as Record<string, any>;
        assert.equal(proxy.kind, "KubeProxyConfiguration");
        assert.equal(proxy.mode, "iptables");
        assert.equal(proxy.clusterCIDR, "10.200.0.0/16");
        assert.equal(proxy.hostnameOverride, "kdw-worker-2");
        assert.equal(proxy.clientConnection.kubeconfig, `${layout.etc}/worker/kube-proxy.kubeconfig`);
        assert.equal(proxy.metricsBindAddress, "127.0.0.1:10249");
        assert.deepEqual(proxy.conntrack, { maxPerCore: 0 });
        const bridge = JSON.parse(files["cni/10-kdw-bridge.conflist"]);
        assert.equal(bridge.plugins[0].ipam.ranges[0][0].subnet, "10.200.2.0/24");
        assert.equal(bridge.plugins[0].ipam.dataDir, `${layout.data}/cni/networks`);
        assert.equal(JSON.parse(files["cni/99-loopback.conf"]).type, "loopback");
    });

    test(`${profile}: containerd runs on its own socket and root, with the configured pause image`, () => {
        // Plain objects, as JSON makes them (the parser's tables have no prototype).
        const containerd = JSON.parse(JSON.stringify(toml.parse(files["containerd.toml"])));
        assert.equal(containerd.version, 3);
        assert.equal(containerd.grpc.address, `${layout.run}/containerd/containerd.sock`);
        assert.equal(containerd.root, `${layout.data}/containerd`);
        const images = containerd.plugins["io.containerd.cri.v1.images"];
        assert.equal(images.pinned_images.sandbox, `registry.k8s.io/pause:${versions.pause}`);
        const runtime = containerd.plugins["io.containerd.cri.v1.runtime"];
        assert.equal(runtime.restrict_oom_score_adj, true);
        assert.deepEqual(runtime.containerd.runtimes.runc.options, {
            BinaryName: `${layout.home}/bin/runc`, Root: `${layout.run}/runc`, SystemdCgroup: false,
        });
        assert.deepEqual(runtime.cni, { bin_dirs: [`${layout.home}/cni/bin`], conf_dir: `${layout.etc}/worker/cni` });
    });

    test(`${profile}: services are kept running the profile's way`, () => {
        const services = nodeServiceCommands({ bin: `${layout.home}/bin`, etc: `${layout.etc}/worker`, nodeName: "kdw-worker-2",
            nodeIp: "192.168.99.52", kubeletDir: layout.kubeletDir, apiServerPort: 6443, controllerIps: ["192.168.99.10", "192.168.99.11"] });
        assert.deepEqual(services.map(s => s.name), ["containerd", "apiserver-lb", "kubelet", "kube-proxy"]);
        const out = serviceFiles(layout, services);
        if (profile === "systemd") {
            assert.deepEqual(out.map(f => f.path), services.map(s => `/etc/systemd/system/kdw-${s.name}.service`));
            assert.match(out[0].content, /Delegate=yes\nKillMode=process/);
            assert.match(out[2].content, /ExecStart=\/opt\/kdw\/bin\/kubelet --config=\/etc\/kdw\/worker\/kubelet-config.yaml .*--node-ip=192\.168\.99\.52/);
            assert.match(out[2].content, /After=network-online.target kdw-containerd.service/);
        } else {
            assert.deepEqual(out.map(f => f.path), services.map(s => `${layout.etc}/worker/${s.name}.cmd`));
            assert.match(out[1].content, /kdw-apiserver-lb --listen=127\.0\.0\.1:6443 --backend=192\.168\.99\.10:6443 --backend=192\.168\.99\.11:6443\n$/);
        }
    });
}

test("kubelet config: no evictionHard by default (the kubelet's thresholds), the configured thresholds otherwise", () => {
    const kubelet = (c: typeof cfg) => yaml.load(workerConfigFiles({ cluster: c, node: c.workers[0], layout: hostLayout("systemd"), cgroupDriver: "systemd" })
        .find(f => f.name === "kubelet-config.yaml")!.content) as Record<string, unknown>;
    assert.equal(kubelet(cfg).evictionHard, undefined);
    const lowered = kubelet({ ...cfg, kubeletEvictionHard: { "imagefs.available": "2%", "nodefs.available": "2%" } });
    assert.deepEqual(lowered.evictionHard, { "imagefs.available": "2%", "nodefs.available": "2%" });
    assert.equal(lowered.cgroupDriver, "systemd");
});
