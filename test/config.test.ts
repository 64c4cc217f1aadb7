import * as assert from "node:assert/strict";
import { test } from "node:test";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as versionsFile from "../versions.json";
import {
    clusterConfig, ConfigError, KEYS, PINNED_VERSIONS, RawConfig, STRUCTURED, unknownSettings, validateConfig, WORKER_BINARIES,
} from "../config";

const ctx = { fileExists: (p: string) => p.startsWith("/exists"), defaultBinaryDir: undefined };
const base: RawConfig = { binarySource: "/exists/bin" };

function problems(raw: RawConfig): string[] {
    try {
        validateConfig({ ...base, ...raw }, ctx);
    } catch (err) {
        assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
        return err.problems;
    }
    assert.fail("the config was accepted");
}

function rejects(raw: RawConfig, key: string, reason: RegExp) {
    const found = problems(raw);
    assert.ok(found.some(p => p.startsWith(`kube-dumb-way:${key} `) && reason.test(p)),
        `no problem for ${key} matching ${reason}; got:\n${found.join("\n")}`);
}

test("defaults give the seed's cluster: 3 controllers, 3 workers, one /24 each, pinned versions", () => {
    const cfg = validateConfig(base, ctx);
    assert.deepEqual(cfg.controllers.map(n => n.name), ["kdw-controller-0", "kdw-controller-1", "kdw-controller-2"]);
    assert.deepEqual(cfg.workers.map(n => [n.name, n.podCidr]),
        [["kdw-worker-0", "10.200.0.0/24"], ["kdw-worker-1", "10.200.1.0/24"], ["kdw-worker-2", "10.200.2.0/24"]]);
    assert.equal(cfg.kubernetesServiceIp, "10.32.0.1");
    assert.equal(cfg.clusterDns, "10.32.0.10");
    assert.equal(cfg.machine.driver, "virtualbox");
    assert.deepEqual(cfg.versions, PINNED_VERSIONS);
    assert.equal(cfg.clusterName, "kube-dumb-way");
    assert.deepEqual(cfg.binarySource, { kind: "folder", path: "/exists/bin", checksums: {} });
});

test("even controller counts are rejected: etcd needs a majority", () => {
    rejects({ controllers: 2 }, "controllers", /must be odd/);
    rejects({ controllers: 4 }, "controllers", /must be odd/);
});

test("zero controllers or zero workers are rejected", () => {
    rejects({ controllers: 0 }, "controllers", /at least 1/);
    rejects({ workers: 0 }, "workers", /at least 1/);
});

test("non-integer counts are rejected", () => {
    rejects({ workers: 2.5 }, "workers", /whole number/);
    rejects({ workers: "three" }, "workers", /whole number/);
    // Beyond 15 digits JavaScript prints a number as 1e+21, which reaches a host script as that text.
    rejects({ workers: 1e21 }, "workers", /must be a whole number of at most 15 digits, got 1e\+21\./);
    rejects({ etcdSnapshotKeep: 2 ** 60 }, "etcdSnapshotKeep", /at most 15 digits/);
    assert.equal(validateConfig({ ...base, etcdSnapshotKeep: 999_999_999_999_999 }, ctx).etcdSnapshots.keep, 999_999_999_999_999);
});

test("more workers than /24s in the cluster CIDR are rejected", () => {
    rejects({ clusterCidr: "10.200.0.0/23", workers: 3 }, "workers", /holds only 2 \/24 pod ranges/);
    assert.equal(validateConfig({ ...base, clusterCidr: "10.200.0.0/23", workers: 2, controllers: 1 }, ctx).workers.length, 2);
    rejects({ clusterCidr: "10.200.0.0/25" }, "clusterCidr", /\/24 or wider/);
});

test("overlapping cluster and service CIDRs are rejected", () => {
    rejects({ serviceCidr: "10.200.5.0/24" }, "serviceCidr", /overlaps clusterCidr 10\.200\.0\.0\/16/);
    rejects({ clusterCidr: "10.0.0.0/8", serviceCidr: "10.32.0.0/24", clusterDns: "10.32.0.10" }, "serviceCidr", /overlaps/);
});

test("a DNS IP outside the service CIDR, or on its reserved addresses, is rejected", () => {
    rejects({ clusterDns: "10.33.0.10" }, "clusterDns", /outside serviceCidr 10\.32\.0\.0\/24/);
    rejects({ clusterDns: "10.32.0.1" }, "clusterDns", /kubernetes service IP/);
    rejects({ clusterDns: "10.32.0.255" }, "clusterDns", /the broadcast address .* which the apiserver never gives a Service/);
    rejects({ clusterDns: "10.32.0.300" }, "clusterDns", /IPv4 address/);
});

test("malformed CIDRs are rejected with the reason", () => {
    rejects({ clusterCidr: "10.200.0.0" }, "clusterCidr", /not an IPv4 CIDR/);
    rejects({ clusterCidr: "10.200.1.0/16" }, "clusterCidr", /host bits set; did you mean 10\.200\.0\.0\/16/);
    rejects({ serviceCidr: "300.1.1.0/24" }, "serviceCidr", /not an IPv4 CIDR/);
});

test("an empty version means the pinned one (Pulumi.yaml's default)", () => {
    assert.equal(validateConfig({ ...base, kubernetesVersion: "" }, ctx).versions.kubernetes, PINNED_VERSIONS.kubernetes);
});

test("malformed or unsupported versions are rejected", () => {
    rejects({ kubernetesVersion: "1.34.4" }, "kubernetesVersion", /release version like v/);
    rejects({ kubernetesVersion: "v1.28.0" }, "kubernetesVersion", /v1\.32\.0 or a later/);
    rejects({ etcdVersion: "v3.4.1" }, "etcdVersion", /v3\.5\.0 or a later/);
    rejects({ containerdVersion: "v1.7.30" }, "containerdVersion", /v2\.0\.0 or a later v2/);
    rejects({ runcVersion: "latest" }, "runcVersion", /release version/);
    for (const malformed of ["vv1.37.2", "v1.037.2", "v1.37", "v1.37.2+build.1", "v1.37.2-"]) {
        rejects({ kubernetesVersion: malformed }, "kubernetesVersion", /release version like v/);
    }
    assert.equal(validateConfig({ ...base, kubernetesVersion: "v1.38.0-rc.1" }, ctx).versions.kubernetes, "v1.38.0-rc.1");
});

test("the generic driver needs a host per node, each with address, user and an existing key", () => {
    const host = (i: number) => ({ address: `192.168.77.${10 + i}`, sshUser: "root", sshKeyPath: "/exists/key" });
    rejects({ machineDriver: "generic", genericHosts: [host(0), host(1)] }, "genericHosts", /lists 2 host\(s\).*needs one per node.*= 6/);
    const cfg = validateConfig({ ...base, machineDriver: "generic", genericHosts: [0, 1, 2, 3, 4, 5].map(host) }, ctx);
    assert.deepEqual(cfg.controllers.map(n => n.generic?.address), ["192.168.77.10", "192.168.77.11", "192.168.77.12"]);
    assert.deepEqual(cfg.workers.map(n => n.generic?.address), ["192.168.77.13", "192.168.77.14", "192.168.77.15"]);
    rejects({ machineDriver: "generic", genericHosts: [{ address: "192.168.77.10", sshUser: "", sshKeyPath: "/missing" }] },
        "genericHosts[0].sshUser", /must name the SSH user/);
    rejects({ machineDriver: "generic", genericHosts: [{ ...host(0), sshUser: "root; reboot" }] }, "genericHosts[0].sshUser",
        /must be a user name \(letters, digits, '_', '\.', '-', at most 32\), got "root; reboot"\./);
    rejects({ machineDriver: "generic", genericHosts: [{ ...host(0), sshUser: "-oProxyCommand=x" }] }, "genericHosts[0].sshUser", /must be a user name/);
    rejects({ machineDriver: "generic", genericHosts: [{ address: "192.168.77.10", sshUser: "root", sshKeyPath: "/missing" }] },
        "genericHosts[0].sshKeyPath", /\/missing does not exist/);
    rejects({ machineDriver: "generic", genericHosts: [host(0), host(0)] }, "genericHosts[1].address", /listed twice/);
    const at = (address: string) => ({ machineDriver: "generic", genericHosts: [{ ...host(0), address }] });
    rejects(at("999.1.1.1"), "genericHosts[0].address", /must be an IPv4 address or a DNS name, got "999\.1\.1\.1"/);
    rejects(at("127.0.0.1"), "genericHosts[0].address", /127\.0\.0\.1 is a loopback.*the address the other nodes reach this host at/);
    rejects(at("10.200.3.7"), "genericHosts[0].address", /inside clusterCidr 10\.200\.0\.0\/16, which every host routes to pods or services/);
    rejects(at("10.32.0.50"), "genericHosts[0].address", /inside serviceCidr 10\.32\.0\.0\/24/);
    rejects({ machineDriver: "generic", genericHosts: [{ ...host(0), sshkeypath: "/exists/key" }] }, "genericHosts[0]",
        /has the field "sshkeypath"; a host takes address, sshUser, sshKeyPath, sshPort/);
    rejects({ machineDriver: "virtualbox", genericHosts: [host(0)] }, "genericHosts", /only used with machineDriver "generic"/);
});

test("an unknown host profile is rejected", () => {
    rejects({ hostProfile: "coreos" }, "hostProfile", /one of auto, systemd, boot2docker/);
    rejects({ networkPolicy: "calico" }, "networkPolicy", /one of kube-router, none/);
    rejects({ networkPolicy: false }, "networkPolicy", /must be a string/);
    rejects({ resourceMetrics: "prometheus-adapter" }, "resourceMetrics", /one of metrics-server, none/);
});

test("driver flags must belong to the chosen driver", () => {
    rejects({ machineDriverFlags: ["--kvm-network=default"] }, "machineDriverFlags", /not an option of the virtualbox driver/);
    const cfg = validateConfig({ ...base, machineDriverFlags: ["--virtualbox-no-vtx-check", "--engine-opt=log-level=warn"] }, ctx);
    assert.deepEqual(cfg.machine.driverFlags, ["--virtualbox-no-vtx-check", "--engine-opt=log-level=warn"]);
});

test("machineDriver: one of docker-machine's own, or a plugin on PATH, found before anything is made", () => {
    const looked: string[] = [];
    const onPath = (found: string[]) => (program: string) => { looked.push(program); return found.includes(program); };
    // Built into docker-machine: nothing to look for.
    assert.equal(validateConfig({ ...base, machineDriver: "virtualbox" }, { ...ctx, onPath: onPath([]) }).machine.driver, "virtualbox");
    assert.deepEqual(looked, []);
    const kvm = { ...base, machineDriver: "kvm" };
    assert.throws(() => validateConfig(kvm, { ...ctx, onPath: onPath([]) }), (err: Error) => err instanceof ConfigError &&
        err.problems.some(p => /^kube-dumb-way:machineDriver is "kvm", which is not one of docker-machine's own drivers, and its plugin, docker-machine-driver-kvm, is not on this machine's PATH: install it there, or choose one of docker-machine's own drivers \(amazonec2, .*generic.*virtualbox/.test(p)));
    assert.deepEqual(looked, ["docker-machine-driver-kvm"]);
    assert.equal(validateConfig(kvm, { ...ctx, onPath: onPath(["docker-machine-driver-kvm"]) }).machine.driver, "kvm");
    const qemu = { ...base, machineDriver: "qemu", machineIso: "/exists/b2d.iso" };
    assert.throws(() => validateConfig(qemu, { ...ctx, onPath: onPath([]) }),
        (err: Error) => err instanceof ConfigError && /`npm run toolchain` builds this project's; `source scripts\/env\.sh` puts the toolchain on PATH/.test(err.message));
});

test("machineDriver: the stack's loader looks for a driver's plugin on PATH, as docker-machine does", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kdw-driver-"));
    const saved = process.env.PATH;
    try {
        const settings = { binarySource: dir, machineDriver: "kdwtest" } as RawConfig;
        const driverProblem = (err: unknown) => err instanceof ConfigError ? err.problems.filter(p => p.startsWith("kube-dumb-way:machineDriver ")) : [];
        process.env.PATH = `${dir}${path.delimiter}${saved}`;
        let problemsFound: string[] = [];
        try { clusterConfig(settings); } catch (err) { problemsFound = driverProblem(err); }
        assert.match(problemsFound.join("\n"), /docker-machine-driver-kdwtest, is not on this machine's PATH/);
        // A file that is not executable is not a plugin either.
        writeFileSync(path.join(dir, "docker-machine-driver-kdwtest"), "#!/bin/sh\n", { mode: 0o644 });
        try { clusterConfig(settings); } catch (err) { problemsFound = driverProblem(err); }
        assert.equal(problemsFound.length, 1, "a plugin that cannot be run was taken for one");
        chmodSync(path.join(dir, "docker-machine-driver-kdwtest"), 0o755);
        problemsFound = [];
        try { clusterConfig(settings); } catch (err) { problemsFound = driverProblem(err); }
        assert.deepEqual(problemsFound, []);
    } finally {
        process.env.PATH = saved;
        rmSync(dir, { recursive: true, force: true });
    }
});

test("apiServerPort: not a port the cluster's other programs or the hosts' SSH hold", () => {
    rejects({ apiServerPort: 22 }, "apiServerPort", /is 22, the port the hosts' SSH listens on/);
    rejects({ apiServerPort: 2379 }, "apiServerPort", /is 2379, which the cluster uses for etcd's client and peer ports on every controller \(2379-2380\); choose another/);
    rejects({ apiServerPort: 2376 }, "apiServerPort", /Docker TLS port docker-machine opens on every host/);
    rejects({ apiServerPort: 10250 }, "apiServerPort", /the kubelet's API on every worker \(10250\)/);
    rejects({ apiServerPort: 10259 }, "apiServerPort", /kube-scheduler/);
    rejects({ apiServerPort: 31000 }, "apiServerPort", /the NodePort range, where kube-proxy's rules would give a Service the traffic of every worker's load balancer \(30000-32767\)/);
    // The apiservers' own NodePort range when it is set, and a generic host's own SSH port.
    const moved = { "service-node-port-range": "20000-22767" };
    assert.equal(validateConfig({ ...base, apiServerPort: 31000, apiServerExtraArgs: moved }, ctx).apiServerPort, 31000);
    rejects({ apiServerPort: 21000, apiServerExtraArgs: moved }, "apiServerPort", /NodePort range \(apiServerExtraArgs service-node-port-range\).*\(20000-22767\)/);
    const generic = { machineDriver: "generic", genericHosts: [0, 1, 2, 3, 4, 5].map(i =>
        ({ address: `192.168.77.${10 + i}`, sshUser: "root", sshKeyPath: "/exists/key", sshPort: 2222 })) };
    rejects({ ...generic, apiServerPort: 2222 }, "apiServerPort", /is 2222, the port the hosts' SSH listens on/);
    assert.equal(validateConfig({ ...base, ...generic, apiServerPort: 22 }, ctx).apiServerPort, 22, "SSH on 2222 leaves 22 free");
    assert.equal(validateConfig({ ...base, apiServerPort: 8443 }, ctx).apiServerPort, 8443);
});

test("imageRepository: a registry host, an optional port and path, as image references have them", () => {
    for (const bad of ["../x", "-", "-1", "registry.example/", "registry.example//k8s", "registry.example/-k8s", "registry.example/k8s-",
        "Registry.example", "registry.example:port", "registry.example/a b", ".registry.example"]) {
        rejects({ imageRepository: bad }, "imageRepository", /must be a registry host with an optional port and path and no trailing slash/);
    }
    for (const good of ["registry.k8s.io", "192.168.77.2:5000", "localhost:5000/k8s", "mirror.example.com/a/b_c.d--e/f__g", "r"]) {
        assert.equal(validateConfig({ ...base, imageRepository: good }, ctx).imageRepository, good);
    }
});

test("machineIso: required by qemu, an existing absolute path, only for drivers that make virtual machines", () => {
    rejects({ machineDriver: "qemu" }, "machineIso", /is required with machineDriver qemu, which downloads no ISO: build one with `bash scripts\/vm-iso\.sh`/);
    rejects({ machineDriver: "qemu", machineIso: "/missing/b2d.iso" }, "machineIso", /is \/missing\/b2d\.iso, which does not exist on this machine; `bash scripts\/vm-iso\.sh` builds one/);
    rejects({ machineDriver: "qemu", machineIso: "b2d.iso" }, "machineIso", /give an absolute path/);
    rejects({ machineDriver: "generic", machineIso: "/exists/b2d.iso" }, "machineIso", /only used by the drivers that make virtual machines \(virtualbox, kvm, hyperv, qemu\), but the driver is "generic"/);
    assert.equal(validateConfig({ ...base, machineDriver: "qemu", machineIso: "/exists/b2d.iso" }, ctx).machine.iso, "/exists/b2d.iso");
    assert.equal(validateConfig(base, ctx).machine.iso, undefined, "virtualbox without an ISO takes its own");
});

test("binaries: a source is required, URLs need a pinned digest per binary, folders must exist", () => {
    rejects({ binarySource: undefined }, "binarySource", /is not set.*npm run toolchain/);
    rejects({ binarySource: "/nowhere" }, "binarySource", /\/nowhere, which does not exist/);
    rejects({ binarySource: "https://mirror.example/k8s" }, "binaryChecksums", /missing: kubelet, kube-proxy/);
    rejects({ binarySource: "ftp://mirror.example/k8s" }, "binarySource", /http\(s\) URL or a local folder/);
    rejects({ binaryChecksums: { kubectl: "a".repeat(64) } }, "binaryChecksums", /"kubectl", which is not a binary/);
    rejects({ binaryChecksums: { kubelet: "abc" } }, "binaryChecksums", /not a lowercase hex sha256/);
    const pins = Object.fromEntries(WORKER_BINARIES.map(b => [b, "b".repeat(64)]));
    const cfg = validateConfig({ binarySource: "https://mirror.example/k8s/", binaryChecksums: pins }, ctx);
    assert.deepEqual(cfg.binarySource, { kind: "url", baseUrl: "https://mirror.example/k8s", checksums: pins });
    const fromEnv = validateConfig({}, { ...ctx, defaultBinaryDir: "/exists/toolchain/bin" });
    assert.deepEqual(fromEnv.binarySource, { kind: "folder", path: "/exists/toolchain/bin", checksums: {} });
});

test("names, domains, ports, endpoints and image repositories are checked", () => {
    rejects({ namePrefix: "Kdw_1" }, "namePrefix", /lowercase DNS label/);
    rejects({ clusterDomain: "Cluster..local" }, "clusterDomain", /lowercase DNS name/);
    rejects({ apiServerPort: 70000 }, "apiServerPort", /between 1 and 65535/);
    rejects({ apiServerEndpoint: "https://k8s.example:6443" }, "apiServerEndpoint", /no scheme or port/);
    rejects({ imageRepository: "registry.example/" }, "imageRepository", /no trailing slash/);
    rejects({ certValidityHours: 1 }, "certValidityHours", /must be between 24 and 87600, got 1\./);
    rejects({ certValidityHours: 1e9 }, "certValidityHours", /between 24 and 87600/);
});

test("the API's virtual IP: an unused IPv4 address outside the pod and service ranges and off every host", () => {
    assert.equal(validateConfig(base, ctx).apiServerVip, undefined);
    assert.equal(validateConfig({ ...base, apiServerVip: "" }, ctx).apiServerVip, undefined);
    assert.equal(validateConfig({ ...base, apiServerVip: "192.168.99.250" }, ctx).apiServerVip, "192.168.99.250");
    rejects({ apiServerVip: "192.168.99" }, "apiServerVip", /must be an IPv4 address on the hosts' network .*got "192\.168\.99"/);
    rejects({ apiServerVip: "api.example" }, "apiServerVip", /must be an IPv4 address/);
    rejects({ apiServerVip: "127.0.0.5" }, "apiServerVip", /127\.0\.0\.5 is a loopback, link-local, multicast or reserved address/);
    rejects({ apiServerVip: "169.254.1.1" }, "apiServerVip", /link-local/);
    rejects({ apiServerVip: "239.1.1.1" }, "apiServerVip", /multicast/);
    rejects({ apiServerVip: "10.200.3.7" }, "apiServerVip", /10\.200\.3\.7 is inside clusterCidr 10\.200\.0\.0\/16/);
    rejects({ apiServerVip: "10.32.0.200" }, "apiServerVip", /10\.32\.0\.200 is inside serviceCidr 10\.32\.0\.0\/24/);
    rejects({ apiServerVip: "10.96.0.1", serviceCidr: "10.96.0.0/12", clusterDns: "10.96.0.10" }, "apiServerVip", /inside serviceCidr 10\.96\.0\.0\/12/);
    const host = (i: number) => ({ address: `192.168.77.${10 + i}`, sshUser: "root", sshKeyPath: "/exists/key" });
    const generic = { machineDriver: "generic", genericHosts: [0, 1, 2, 3, 4, 5].map(host) };
    rejects({ ...generic, apiServerVip: "192.168.77.14" }, "apiServerVip", /192\.168\.77\.14 is the address of genericHosts\[4\]/);
    assert.equal(validateConfig({ ...base, ...generic, apiServerVip: "192.168.77.250" }, ctx).apiServerVip, "192.168.77.250");
});

test("an API endpoint and a virtual IP go together: the endpoint names what clients use, the VIP what controllers hold", () => {
    const both = validateConfig({ ...base, apiServerVip: "192.168.99.250", apiServerEndpoint: "k8s.lab.example" }, ctx);
    assert.equal(both.apiServerVip, "192.168.99.250");
    assert.equal(both.apiServerEndpoint, "k8s.lab.example");
});

test("certificate renewal window: a tenth of the lifetime by default, at most the whole lifetime", () => {
    assert.equal(validateConfig(base, ctx).certRenewBeforeHours, 876);
    assert.equal(validateConfig({ ...base, certValidityHours: 240 }, ctx).certRenewBeforeHours, 24);
    assert.equal(validateConfig({ ...base, certRenewBeforeHours: 100 }, ctx).certRenewBeforeHours, 100);
    // The whole lifetime is allowed: it makes every leaf certificate due at the next `pulumi up`.
    assert.equal(validateConfig({ ...base, certValidityHours: 48, certRenewBeforeHours: 48 }, ctx).certRenewBeforeHours, 48);
    rejects({ certValidityHours: 48, certRenewBeforeHours: 49 }, "certRenewBeforeHours", /at most certValidityHours \(48\).*re-issue every certificate now/);
    rejects({ certRenewBeforeHours: -1 }, "certRenewBeforeHours", /at least 0/);
    rejects({ certRenewBeforeHours: "soon" }, "certRenewBeforeHours", /whole number/);
});

test("kubeletEvictionHard: known signals with a percentage or a quantity", () => {
    assert.deepEqual(validateConfig(base, ctx).kubeletEvictionHard, {});
    assert.deepEqual(validateConfig({ ...base, kubeletEvictionHard: { "imagefs.available": "5%", "memory.available": "100Mi" } }, ctx)
        .kubeletEvictionHard, { "imagefs.available": "5%", "memory.available": "100Mi" });
    rejects({ kubeletEvictionHard: { "disk.free": "5%" } }, "kubeletEvictionHard", /has the signal "disk\.free"; the kubelet knows/);
    rejects({ kubeletEvictionHard: { "imagefs.available": "five" } }, "kubeletEvictionHard", /a percentage \("5%"\) or a quantity/);
    rejects({ kubeletEvictionHard: "5%" }, "kubeletEvictionHard", /must be an object/);
});

test("every problem is reported at once, each naming its key", () => {
    const found = problems({ controllers: 2, workers: 0, hostProfile: "x", clusterDns: "1.2.3.4" });
    assert.equal(found.length, 4);
    for (const key of ["controllers", "workers", "hostProfile", "clusterDns"]) {
        assert.ok(found.some(p => p.startsWith(`kube-dumb-way:${key} `)), `${key} not reported`);
    }
    assert.match(new ConfigError(found).message, /^Invalid configuration \(nothing was created\):\n  - /);
});

test("a different name prefix names the cluster after it", () => {
    const cfg = validateConfig({ ...base, namePrefix: "lab" }, ctx);
    assert.equal(cfg.clusterName, "kube-dumb-way-lab");
    assert.equal(cfg.workers[0].name, "lab-worker-0");
});

test("Pulumi.yaml declares every key the program reads, and JSON is parsed for exactly its non-string keys", () => {
    const yaml = readFileSync(path.join(__dirname, "..", "..", "Pulumi.yaml"), "utf8");
    const declared = new Map([...yaml.matchAll(/^ {2}(\w+):\n {4}type: (\w+)$/gm)].map(m => [m[1], m[2]]));
    assert.deepEqual([...declared.keys()].sort(), [...KEYS].sort());
    assert.deepEqual([...declared].filter(([, type]) => type !== "string").map(([k]) => k).sort(), [...STRUCTURED].sort());
});

test("drainTimeoutSeconds: 300 s by default, 10 to 86400", () => {
    assert.equal(validateConfig(base, ctx).drainTimeoutSeconds, 300);
    assert.equal(validateConfig({ ...base, drainTimeoutSeconds: 60 }, ctx).drainTimeoutSeconds, 60);
    rejects({ drainTimeoutSeconds: 5 }, "drainTimeoutSeconds", /must be between 10 and 86400, got 5\./);
    rejects({ drainTimeoutSeconds: 86401 }, "drainTimeoutSeconds", /must be between 10 and 86400, got 86401\./);
    assert.equal(validateConfig({ ...base, drainTimeoutSeconds: 86400 }, ctx).drainTimeoutSeconds, 86400);
    rejects({ drainTimeoutSeconds: "long" }, "drainTimeoutSeconds", /whole number/);
});

test("apiServerExtraArgs: flag names without dashes, values as text", () => {
    assert.deepEqual(validateConfig(base, ctx).apiServerExtraArgs, {});
    assert.deepEqual(validateConfig({ ...base, apiServerExtraArgs: { "event-ttl": "2h", "v": 3, "profiling": false } }, ctx)
        .apiServerExtraArgs, { "event-ttl": "2h", "v": "3", "profiling": "false" });
    rejects({ apiServerExtraArgs: ["--v=3"] }, "apiServerExtraArgs", /must be an object of flag names/);
    rejects({ apiServerExtraArgs: { "--v": "3" } }, "apiServerExtraArgs", /without the leading dashes/);
    rejects({ apiServerExtraArgs: { "v": { level: 3 } } }, "apiServerExtraArgs", /string, number or boolean/);
    // A value the host would split into more flags than one.
    rejects({ apiServerExtraArgs: { "event-ttl": "2h --anonymous-auth=true" } }, "apiServerExtraArgs", /"event-ttl" the value "2h --anonymous-auth=true", with whitespace or a control character: a flag's value must be one word/);
    rejects({ apiServerExtraArgs: { "event-ttl": "2h\n" } }, "apiServerExtraArgs", /with whitespace or a control character/);
    // Flags the program sets: the key to change instead, or what the program makes.
    rejects({ apiServerExtraArgs: { "service-cluster-ip-range": "10.99.0.0/24" } }, "apiServerExtraArgs",
        /has "service-cluster-ip-range", which the program sets from kube-dumb-way:serviceCidr, which kube-proxy and the cluster DNS follow too; set that key instead: given here it would override that/);
    rejects({ apiServerExtraArgs: { "secure-port": 7443 } }, "apiServerExtraArgs", /kube-dumb-way:apiServerPort; set that key instead/);
    rejects({ apiServerExtraArgs: { "etcd-servers": "https://10.0.0.9:2379" } }, "apiServerExtraArgs", /the etcd members it runs and their certificates/);
    rejects({ apiServerExtraArgs: { "tls-cert-file": "/etc/mine.pem" } }, "apiServerExtraArgs", /the certificates and keys it makes/);
    // Flags the program sets only as defaults stay the user's to override.
    assert.deepEqual(validateConfig({ ...base, apiServerExtraArgs: { "event-ttl": "2h", "authorization-mode": "Node,RBAC,Webhook" } }, ctx)
        .apiServerExtraArgs, { "event-ttl": "2h", "authorization-mode": "Node,RBAC,Webhook" });
});

test("apiServerExtraArgs: a flag the pinned releases' kube-apiserver does not take is named, with the one it was probably meant to be", () => {
    const [pinned, previous] = [PINNED_VERSIONS.kubernetes, versionsFile.kubernetesPrevious];
    rejects({ apiServerExtraArgs: { "event-tll": "2h" } }, "apiServerExtraArgs",
        new RegExp(`has "event-tll", which kube-apiserver ${pinned.replace(/\./g, "\\.")} does not take; did you mean "event-ttl"\\?`));
    rejects({ apiServerExtraArgs: { "not-a-flag": "x" } }, "apiServerExtraArgs", /which kube-apiserver .* does not take \(`kube-apiserver --help` lists its flags\)/);
    rejects({ kubernetesVersion: previous, apiServerExtraArgs: { "not-a-flag": "x" } }, "apiServerExtraArgs",
        new RegExp(`kube-apiserver ${previous.replace(/\./g, "\\.")} does not take`));
    // A release without a list (not pinned) is not checked: its apiserver says what it lacks.
    const unlisted = validateConfig({ ...base, kubernetesVersion: "v1.33.0", apiServerExtraArgs: { "not-a-flag": "x" } }, ctx);
    assert.deepEqual(unlisted.apiServerExtraArgs, { "not-a-flag": "x" });
});

test("config/kube-apiserver-flags.json lists the flags of exactly the releases versions.json pins", () => {
    const listed = JSON.parse(readFileSync(path.join(__dirname, "..", "..", "config", "kube-apiserver-flags.json"), "utf8"));
    assert.deepEqual(Object.keys(listed).sort(), [versionsFile.kubernetes, versionsFile.kubernetesPrevious].sort(),
        "bash scripts/apiserver-flags.sh writes it from the toolchain's builds");
    for (const flags of Object.values(listed) as string[][]) {
        assert.ok(flags.length > 100 && ["event-ttl", "audit-log-maxsize", "etcd-servers", "v"].every(f => flags.includes(f)));
        assert.ok(!flags.includes("help") && !flags.includes("version"), "flags with which kube-apiserver exits instead of serving");
    }
});

test("a name that is not a setting is named, with the setting it was probably meant to be", () => {
    assert.deepEqual(unknownSettings(["workers", "worker", "kubernetesversion", "apiServerVIP", "colour"]), [
        "kube-dumb-way:worker is not a setting of this program; did you mean kube-dumb-way:workers? (`pulumi config rm kube-dumb-way:worker` removes it.)",
        "kube-dumb-way:kubernetesversion is not a setting of this program; did you mean kube-dumb-way:kubernetesVersion? (`pulumi config rm kube-dumb-way:kubernetesversion` removes it.)",
        "kube-dumb-way:apiServerVIP is not a setting of this program; did you mean kube-dumb-way:apiServerVip? (`pulumi config rm kube-dumb-way:apiServerVIP` removes it.)",
        "kube-dumb-way:colour is not a setting of this program; Pulumi.yaml lists the settings. (`pulumi config rm kube-dumb-way:colour` removes it.)",
    ]);
    // Settings given in code are checked the same way (JavaScript has no compiler to catch the name).
    assert.throws(() => clusterConfig({ ...base, workerz: 4 } as RawConfig),
        (err: Error) => err instanceof ConfigError && /kube-dumb-way:workerz is not a setting of this program; did you mean kube-dumb-way:workers\?/.test(err.message));
});

test("machineStoragePath is absolute; an eviction percentage is at most 100%", () => {
    rejects({ machineStoragePath: "machines" }, "machineStoragePath", /must be an absolute path/);
    assert.equal(validateConfig({ ...base, machineStoragePath: "/srv/machines" }, ctx).machine.storagePath, "/srv/machines");
    rejects({ kubeletEvictionHard: { "memory.available": "150%" } }, "kubeletEvictionHard", /threshold 150%: a percentage is at most 100%/);
});

test("podSecurity: enforce baseline, warn and audit restricted, kube-system exempt by default; fields left out take their defaults", () => {
    assert.deepEqual(validateConfig(base, ctx).podSecurity,
        { enforce: "baseline", warn: "restricted", audit: "restricted", exemptNamespaces: ["kube-system"] });
    assert.deepEqual(validateConfig({ ...base, podSecurity: { enforce: "restricted", exemptNamespaces: ["kube-system", "ingress"] } }, ctx)
        .podSecurity, { enforce: "restricted", warn: "restricted", audit: "restricted", exemptNamespaces: ["kube-system", "ingress"] });
});

test("podSecurity: levels only privileged, baseline or restricted, namespaces DNS-1123 labels, every problem at once", () => {
    const found = problems({ podSecurity: { enforce: "strict", warn: 3, level: "baseline", exemptNamespaces: ["kube-system", "Team_A", "x".repeat(64)] } });
    assert.deepEqual(found, [
        'kube-dumb-way:podSecurity has the field "level"; it takes enforce, warn, audit, exemptNamespaces.',
        'kube-dumb-way:podSecurity gives enforce the level "strict": a level is one of privileged, baseline, restricted.',
        "kube-dumb-way:podSecurity gives warn the level 3: a level is one of privileged, baseline, restricted.",
        'kube-dumb-way:podSecurity lists the namespace "Team_A" in exemptNamespaces, which is not a namespace name: at most 63 ' +
            "lowercase letters, digits and '-', starting and ending with a letter or digit.",
        `kube-dumb-way:podSecurity lists the namespace "${"x".repeat(64)}" in exemptNamespaces, which is not a namespace name: at ` +
            "most 63 lowercase letters, digits and '-', starting and ending with a letter or digit.",
    ]);
    rejects({ podSecurity: { exemptNamespaces: "kube-system" } }, "podSecurity", /gives exemptNamespaces "kube-system": a list of namespace names, like \["kube-system"\]/);
    rejects({ podSecurity: "baseline" }, "podSecurity", /must be an object like \{"enforce": "baseline"/);
});

test("auditPolicyFile: read when the program runs; missing, unreadable or not a Policy is named with the way out, with every other problem", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kdw-audit-"));
    try {
        const file = (name: string, text: string) => { writeFileSync(path.join(dir, name), text); return path.join(dir, name); };
        const policy = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: Metadata\n";
        const withFiles = { ...ctx, readFile: (p: string) => readFileSync(p, "utf8") };
        const reasons = (auditPolicyFile: string, more: RawConfig = {}) => {
            try {
                validateConfig({ ...base, ...more, auditPolicyFile }, withFiles);
            } catch (err) {
                assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
                return err.problems;
            }
            assert.fail("the config was accepted");
        };
        const wayOut = "give an audit Policy (apiVersion: audit.k8s.io/v1, kind: Policy; host/scripts/audit-policy.yaml " +
            "is one), or leave the key empty for the program's own.";

        assert.equal(validateConfig(base, withFiles).auditPolicy, undefined, "the program's own policy when none is given");
        assert.equal(validateConfig({ ...base, auditPolicyFile: file("mine.yaml", policy) }, withFiles).auditPolicy, policy);
        const json = JSON.stringify({ apiVersion: "audit.k8s.io/v1", kind: "Policy", rules: [{ level: "None" }] });
        assert.equal(validateConfig({ ...base, auditPolicyFile: file("mine.json", json) }, withFiles).auditPolicy, json);

        assert.deepEqual(reasons(path.join(dir, "absent.yaml"), { controllers: 2 }), [
            "kube-dumb-way:controllers must be odd so that etcd keeps a majority when one controller is lost, got 2.",
            `kube-dumb-way:auditPolicyFile is ${dir}/absent.yaml, which does not exist on this machine; ${wayOut}`,
        ]);
        assert.deepEqual(reasons(dir), [`kube-dumb-way:auditPolicyFile is ${dir}, which cannot be read (EISDIR: illegal ` +
            `operation on a directory, read); ${wayOut}`]);
        assert.match(reasons(file("broken.yaml", "rules: [\n"))[0],
            new RegExp(`^kube-dumb-way:auditPolicyFile is ${dir}/broken\\.yaml, which is neither YAML nor JSON \\(.+\\); give an audit Policy`));
        assert.deepEqual(reasons(file("cm.yaml", "apiVersion: v1\nkind: ConfigMap\n")), [`kube-dumb-way:auditPolicyFile is ` +
            `${dir}/cm.yaml, which is not an audit Policy: its apiVersion and kind are "v1" and "ConfigMap", not audit.k8s.io/v1 and Policy; ${wayOut}`]);
        assert.deepEqual(reasons(file("empty.yaml", "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: []\n")), [`kube-dumb-way:` +
            `auditPolicyFile is ${dir}/empty.yaml, which is not an audit Policy: it has no rules (the apiservers refuse a policy ` +
            `without any); ${wayOut}`]);
        assert.deepEqual(reasons(file("level.yaml", `${policy}  - level: Everything\n`)), [`kube-dumb-way:auditPolicyFile is ` +
            `${dir}/level.yaml, which is not an audit Policy: its rules[1] has no level of None, Metadata, Request, RequestResponse; ${wayOut}`]);
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
});

test("apiServerExtraArgs refuses the admission configuration and the audit policy, naming the keys that set them", () => {
    rejects({ apiServerExtraArgs: { "admission-control-config-file": "/etc/mine.yaml" } }, "apiServerExtraArgs",
        /has "admission-control-config-file", which the program sets from kube-dumb-way:podSecurity; set that key instead/);
    rejects({ apiServerExtraArgs: { "audit-policy-file": "/etc/mine.yaml" } }, "apiServerExtraArgs",
        /has "audit-policy-file", which the program sets from kube-dumb-way:auditPolicyFile; set that key instead/);
});

test("etcd snapshots: every 6 hours, 5 kept, no object store by default; a store's defaults are us-east-1 and the cluster's name", () => {
    assert.deepEqual(validateConfig(base, ctx).etcdSnapshots, { everyMinutes: 360, keep: 5 });
    const store = { endpoint: "https://s3.example.com:9000/", bucket: "etcd", accessKeyId: "AKID", secretAccessKey: "s3cr3t" };
    assert.deepEqual(validateConfig({ ...base, etcdSnapshotStore: store, etcdSnapshotEveryMinutes: 0, namePrefix: "lab" }, ctx).etcdSnapshots, {
        everyMinutes: 0, keep: 5,
        store: { endpoint: "https://s3.example.com:9000", bucket: "etcd", region: "us-east-1", prefix: "kube-dumb-way-lab", accessKeyId: "AKID", secretAccessKey: "s3cr3t" },
    });
    rejects({ etcdSnapshotKeep: 0 }, "etcdSnapshotKeep", /at least 1/);
    rejects({ etcdSnapshotEveryMinutes: -1 }, "etcdSnapshotEveryMinutes", /must be between 0 and 525600, got -1\./);
    rejects({ etcdSnapshotEveryMinutes: 525601 }, "etcdSnapshotEveryMinutes", /between 0 and 525600/);
});

test("etcdSnapshotStore: each wrong field named with what it takes, before anything is made", () => {
    const store = { endpoint: "https://s3.example.com", bucket: "etcd", accessKeyId: "AKID", secretAccessKey: "s3cr3t" };
    rejects({ etcdSnapshotStore: { ...store, bucket: undefined } }, "etcdSnapshotStore", /has no bucket/);
    rejects({ etcdSnapshotStore: { ...store, secretAccessKey: "" } }, "etcdSnapshotStore", /has no secretAccessKey/);
    rejects({ etcdSnapshotStore: { ...store, endpoint: "s3.example.com" } }, "etcdSnapshotStore", /is not a URL/);
    rejects({ etcdSnapshotStore: { ...store, endpoint: "ftp://s3.example.com" } }, "etcdSnapshotStore", /scheme ftp/);
    rejects({ etcdSnapshotStore: { ...store, endpoint: "https://s3.example.com/etcd" } }, "etcdSnapshotStore", /the bucket is its own field/);
    rejects({ etcdSnapshotStore: { ...store, bucket: "Etcd_Snapshots" } }, "etcdSnapshotStore", /not a bucket name/);
    rejects({ etcdSnapshotStore: { ...store, prefix: "/backups/" } }, "etcdSnapshotStore", /no '\/' at either end/);
    rejects({ etcdSnapshotStore: { ...store, secretAccessKey: "has \"quotes\"" } }, "etcdSnapshotStore", /cannot send/);
    rejects({ etcdSnapshotStore: { ...store, accessKeyId: "a:b" } }, "etcdSnapshotStore", /with ':'/);
    rejects({ etcdSnapshotStore: { ...store, bukket: "x" } }, "etcdSnapshotStore", /has the field "bukket"/);
    rejects({ etcdSnapshotStore: "https://s3.example.com" }, "etcdSnapshotStore", /must be an object/);
});

test("etcdRestoreSnapshot: a key of the object store, ending in .db; refused without a store to read it from", () => {
    const store = { endpoint: "https://s3.example.com", bucket: "etcd", accessKeyId: "AKID", secretAccessKey: "s3cr3t" };
    const key = "kube-dumb-way/kdw-controller-0/kdw-controller-0-20261204T101500Z-scheduled.db";
    assert.deepEqual(validateConfig({ ...base, etcdSnapshotStore: store, etcdRestoreSnapshot: key }, ctx).etcdSnapshots.restore, { key });
    rejects({ etcdRestoreSnapshot: key }, "etcdRestoreSnapshot", /etcdSnapshotStore is empty: the controllers download the snapshot from that object store/);
    rejects({ etcdSnapshotStore: store, etcdRestoreSnapshot: "snapshot.tar" }, "etcdRestoreSnapshot", /not a snapshot's key/);
    rejects({ etcdSnapshotStore: store, etcdRestoreSnapshot: "/kube-dumb-way/x.db" }, "etcdRestoreSnapshot", /not a snapshot's key/);
    rejects({ etcdSnapshotStore: store, etcdRestoreSnapshot: "a b.db" }, "etcdRestoreSnapshot", /not a snapshot's key/);
});

test("etcdSnapshotStore: its secret key must be a secret in the stack's config; its CA file is read and must be a certificate", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kdw-store-"));
    try {
        const store = { endpoint: "https://s3.example.com", bucket: "etcd", accessKeyId: "AKID", secretAccessKey: "s3cr3t" };
        const withFiles = { ...ctx, readFile: (file: string) => readFileSync(file, "utf8") };
        const reasons = (raw: RawConfig, isSecret?: (key: string) => boolean) => {
            try {
                validateConfig({ ...base, ...raw }, { ...withFiles, isSecret });
            } catch (err) {
                return (err as ConfigError).problems;
            }
            return [];
        };
        assert.match(reasons({ etcdSnapshotStore: store }, () => false).join("\n"),
            /kube-dumb-way:etcdSnapshotStore holds secretAccessKey in the stack's config in plain text; set it as a secret: pulumi config set --secret --path/);
        assert.deepEqual(reasons({ etcdSnapshotStore: store }, key => key === "etcdSnapshotStore"), []);
        writeFileSync(path.join(dir, "not.pem"), "hello");
        assert.match(reasons({ etcdSnapshotStore: { ...store, caCertFile: path.join(dir, "not.pem") } }).join("\n"), /which is not a PEM certificate/);
        assert.match(reasons({ etcdSnapshotStore: { ...store, caCertFile: path.join(dir, "missing.pem") } }).join("\n"), /cannot be read on this machine/);
        const ca = path.join(dir, "ca.pem");
        execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
            "-subj", "/CN=store CA", "-keyout", path.join(dir, "ca-key.pem"), "-out", ca], { stdio: "ignore" });
        const cfg = validateConfig({ ...base, etcdSnapshotStore: { ...store, caCertFile: ca } }, withFiles);
        assert.equal(cfg.etcdSnapshots.store?.caCert, readFileSync(ca, "utf8"));
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
});
