// The 3+3 cluster on six virtual machines that docker-machine makes with the project's qemu/KVM driver
// (tools/docker-machine-driver-qemu) from the project's boot2docker ISO (scripts/vm-iso.sh): `pulumi up`, the smoke
// checks (pods on every worker, pod to pod across nodes, DNS, a Service by its IP and by a node port), what a real VM
// must bring up itself (its own kernel, modules, ip_forward, a data disk), a controller rebooted by the guest's own
// `reboot` and a worker power-cycled through the driver (kill, start), a worker added and removed, and `destroy`
// leaving no VM, disk, tap, bridge, DHCP server or firewall rule behind.
//
//   npm run e2e:vms         (the test registry of a set of test hosts: `npm run hosts:up -- 1` is enough)
//
// KDW_VMS_SHAPE=C+W,N (default 3+3,1) runs it on C controllers and W workers (W at least 2) of N vCPUs each, for a
// machine that cannot run six: under qemu's emulation (no usable KVM) on 2 cores, 3+3 does not converge (docs/vms.md).
import * as auto from "@pulumi/pulumi/automation";
import * as assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { clusterClient } from "../cluster";
import { previewChanges } from "../engineEvents";
import {
    destroyStack, eventually, freshStack, hostsState, Kubectl, ROOT, run, sleep, ssh, stackSecretsEnv, TestHost, WORK, workerNames,
} from "../harness";
import { Scenario } from "../scenario";
import { machineStorage } from "../stackConfig";

const STACK = "vms";
const report = new Scenario("vms");
const { registry } = hostsState();
const kubeconfigPath = path.join(WORK, "vms-kubeconfig");
const storage = machineStorage(STACK);
const env = { ...stackSecretsEnv(), MACHINE_STORAGE_PATH: storage };
/** The VMs' network: the driver's bridge and subnet (its defaults), the API's virtual IP at .250 of it. */
const BRIDGE = "kdwvm0";
const SUBNET = "192.168.90";
const VIP = `${SUBNET}.250`;
/** What each VM gets: 2 GiB and one vCPU, six of them on a machine of 2 cores and 24 GiB. */
const SHAPE = /^(\d+)\+(\d+),(\d+)$/.exec(process.env.KDW_VMS_SHAPE ?? "3+3,1");
assert.ok(SHAPE && Number(SHAPE[2]) >= 2, `KDW_VMS_SHAPE is "${process.env.KDW_VMS_SHAPE}": give controllers+workers,vCPUs like 3+3,1 (at least 2 workers)`);
const [CONTROLLERS, WORKERS] = [Number(SHAPE[1]), Number(SHAPE[2])];
const VM = { memoryMb: 2048, cpus: Number(SHAPE[3]), diskMb: 20000 };
/**
 * KVM, unless this machine's /dev/kvm is kvm_pvm (a KVM for hosts that are VMs themselves, without hardware
 * virtualisation), which boots only kernels built as PVM guests: then qemu's emulation (TCG), which the report names.
 */
const ACCELERATOR = existsSync("/sys/module/kvm_pvm") ? "tcg" : "kvm";
const controllerNames = Array.from({ length: CONTROLLERS }, (_, i) => `kdw-controller-${i}`);
const ADDED = `kdw-worker-${WORKERS}`;
const image = `${registry.address}/kdw-smoke:2`;

/** Files the driver puts on each VM's data disk before its first boot: the test registry's CA, for Docker and the system store. */
function diskSeed(): string {
    const seed = path.join(WORK, "vms-disk-seed");
    rmSync(seed, { recursive: true, force: true });
    const certsD = path.join(seed, "etc", "docker", "certs.d", registry.address);
    mkdirSync(certsD, { recursive: true });
    mkdirSync(path.join(seed, "certs"), { recursive: true });
    copyFileSync(registry.caCertPath, path.join(certsD, "ca.crt"));
    copyFileSync(registry.caCertPath, path.join(seed, "certs", "kdw-test-ca.pem"));
    return seed;
}

function writeConfig(iso: string, seed: string, workers: number): void {
    const binaries = process.env.KDW_BINARY_DIR;
    assert.ok(binaries, "KDW_BINARY_DIR is not set: run `source scripts/env.sh` first");
    const file = path.join(ROOT, `Pulumi.${STACK}.yaml`);
    const salt = existsSync(file) ? /^encryptionsalt: (.*)$/m.exec(readFileSync(file, "utf8"))?.[1] : undefined;
    const config = {
        "kube-dumb-way:machineDriver": "qemu",
        "kube-dumb-way:machineIso": iso,
        "kube-dumb-way:machineMemory": VM.memoryMb,
        "kube-dumb-way:machineCpus": VM.cpus,
        "kube-dumb-way:machineDiskSize": VM.diskMb,
        "kube-dumb-way:machineDriverFlags": [`--qemu-disk-seed=${seed}`, `--qemu-accel=${ACCELERATOR}`],
        "kube-dumb-way:machineStoragePath": storage,
        "kube-dumb-way:controllers": CONTROLLERS,
        "kube-dumb-way:workers": workers,
        "kube-dumb-way:imageRepository": registry.address,
        "kube-dumb-way:binarySource": binaries,
        "kube-dumb-way:apiServerVip": VIP,
    };
    writeFileSync(file, JSON.stringify({ ...(salt ? { encryptionsalt: salt } : {}), config }, null, 2) + "\n");
}

/** A docker-machine command's output, without the lines its driver plugins log ("(name) Closing plugin on server side"). */
const machine = async (...args: string[]) =>
    (await run("docker-machine", args, { env: { ...process.env, ...env }, timeout: 300_000 }))
        .split("\n").filter(line => !/^\(.*\) /.test(line)).join("\n");

/** The VMs as test hosts, from docker-machine's own record of them. */
async function vmHosts(names: string[]): Promise<TestHost[]> {
    return Promise.all(names.map(async name => {
        const [ip, sshUser, sshKeyPath] = (await machine("inspect", "--format", "{{.Driver.IPAddress}} {{.Driver.SSHUser}} {{.Driver.SSHKeyPath}}", name))
            .trim().split(" ");
        return { name, ip, sshUser, sshKeyPath, kind: "boot2docker" as const };
    }));
}

const bootId = async (host: TestHost) => (await ssh(host, "cat /proc/sys/kernel/random/boot_id", 15_000)).trim();

/** Waits until `host` answers over SSH with a boot id other than `before`; the seconds since `since`. */
async function bootedAgain(host: TestHost, before: string, since: number): Promise<number> {
    await eventually(300, async () => assert.notEqual(await bootId(host), before, `${host.name} has not booted again`), 1000);
    return (Date.now() - since) / 1000;
}

/** What is left of the VMs on this machine: qemu processes, taps and the bridge, dnsmasq, firewall rules, disks. */
async function vmLeftovers(): Promise<string[]> {
    const left: string[] = [];
    const qemu = (await run("sh", ["-c", `pgrep -af qemu-system || true`])).trim();
    left.push(...qemu.split("\n").filter(l => l.includes(storage)).map(l => `qemu: ${l.slice(0, 120)}`));
    const links = (await run("ip", ["-o", "link", "show"])).split("\n");
    left.push(...links.filter(l => l.includes(BRIDGE)).map(l => `link: ${l.split(":")[1]?.trim()}`));
    const dnsmasq = (await run("sh", ["-c", "pgrep -af dnsmasq || true"])).trim();
    left.push(...dnsmasq.split("\n").filter(l => l.includes(BRIDGE)).map(l => `dnsmasq: ${l.slice(0, 120)}`));
    const rules = (await run("iptables", ["-S"])).split("\n").filter(l => l.includes(BRIDGE));
    left.push(...rules.map(r => `iptables: ${r}`));
    const machines = path.join(storage, "machines");
    left.push(...(existsSync(machines) ? readdirSync(machines) : []).map(m => `machine folder: ${m}`));
    return left;
}

async function smokeChecks(kubectl: Kubectl, workers: TestHost[], when: string) {
    await report.check(`smoke ${when}: a web server on every worker answers pods of every other node by pod IP, the Service by its name (DNS) and IP, and this machine by node port`, async () => {
        // Within 3 minutes: after a reboot, an emulated controller (TCG) takes that long to answer every request in time.
        await eventually(180, () => run("kubectl", ["--kubeconfig", kubeconfigPath, "apply", "-f", "-"], {
            input: JSON.stringify({
                apiVersion: "v1", kind: "List", items: [
                    {
                        apiVersion: "apps/v1", kind: "DaemonSet", metadata: { name: "web" },
                        spec: {
                            selector: { matchLabels: { app: "web" } },
                            template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image, ports: [{ containerPort: 80 }] }] } },
                        },
                    },
                    {
                        apiVersion: "v1", kind: "Service", metadata: { name: "web" },
                        spec: { type: "NodePort", selector: { app: "web" }, ports: [{ port: 80, targetPort: 80, nodePort: 30080 }] },
                    },
                ],
            }),
        }), 10_000);
        await kubectl("rollout", "status", "daemonset/web", "--timeout=300s");
        // A pod whose worker just came back may show Running before its new sandbox has an address: ready pods only.
        const pods = await eventually(120, async () => {
            const ready = (JSON.parse(await kubectl("get", "pods", "-l", "app=web", "-o", "json")).items as any[])
                .filter(p => p.status.phase === "Running" && p.status.podIP && p.status.containerStatuses?.every((c: any) => c.ready))
                .map(p => ({ name: p.metadata.name as string, ip: p.status.podIP as string, node: p.spec.nodeName as string }));
            assert.deepEqual(ready.map(p => p.node).sort(), workerNames(workers.length), "a ready web pod on every worker");
            return ready;
        });
        for (const from of pods) {
            for (const to of pods.filter(p => p.node !== from.node)) {
                const page = await kubectl("exec", from.name, "--", "timeout", "10", "wget", "-q", "-O", "-", `http://${to.ip}/`);
                assert.match(page, /kube-dumb-way smoke test/, `${from.node} → ${to.node}`);
            }
        }
        const serviceIp = (await kubectl("get", "service", "web", "-o", "jsonpath={.spec.clusterIP}")).trim();
        const [client] = pods;
        assert.match(await kubectl("exec", client.name, "--", "timeout", "10", "wget", "-q", "-O", "-", "http://web.default.svc.cluster.local/"),
            /kube-dumb-way smoke test/, "the Service by its DNS name");
        assert.match(await kubectl("exec", client.name, "--", "timeout", "10", "wget", "-q", "-O", "-", `http://${serviceIp}/`),
            /kube-dumb-way smoke test/, "the Service by its IP");
        for (const w of workers) {
            assert.match(await run("curl", ["-sS", "--max-time", "10", `http://${w.ip}:30080/`]), /kube-dumb-way smoke test/, `node port on ${w.name}`);
        }
        return `${pods.length} pods, ${pods.length * (pods.length - 1)} pod-to-pod fetches across nodes, service ${serviceIp}, node port on ${workers.length} workers`;
    });
}

report.run(async () => {
    let iso = "";
    await report.check("the boot2docker ISO builds from Debian's packages (or comes from its cache)", async () => {
        const start = Date.now();
        iso = (await run("bash", [path.join(ROOT, "scripts", "vm-iso.sh")], { timeout: 3_600_000 })).trim().split("\n").pop()!;
        assert.ok(existsSync(iso), `scripts/vm-iso.sh printed ${iso}, which is not a file`);
        return `${iso} in ${((Date.now() - start) / 1000).toFixed(0)}s`;
    });
    if (!iso) return;
    const seed = diskSeed();
    const ws = await auto.LocalWorkspace.create({ workDir: ROOT, envVars: env });
    const stack = await freshStack(ws, STACK, storage);
    writeConfig(iso, seed, WORKERS);
    const { kubectl, expectReady } = clusterClient(kubeconfigPath, []);

    const up = await report.check(`pulumi up: ${CONTROLLERS} controllers + ${WORKERS} workers on ${CONTROLLERS + WORKERS} VMs that docker-machine makes with the qemu driver ` +
        `(${VM.memoryMb} MiB, ${VM.cpus} vCPU, ${VM.diskMb} MB disk each, accelerator ${ACCELERATOR})`, async () => {
        const start = Date.now();
        const result = await stack.up({ onOutput: line => process.stdout.write(`     | ${line}`) });
        const seconds = (Date.now() - start) / 1000;
        report.timings.up = { seconds, changes: result.summary.resourceChanges };
        writeFileSync(kubeconfigPath, (await stack.outputs()).kubeconfig.value, { mode: 0o600 });
        const states = (await machine("ls", "--format", "{{.Name}} {{.DriverName}} {{.State}}")).trim().split("\n").sort();
        assert.deepEqual(states, [...controllerNames, ...workerNames(WORKERS)].sort().map(n => `${n} qemu Running`));
        await expectReady(workerNames(WORKERS), 300);
        return `${seconds.toFixed(0)}s, ${result.summary.resourceChanges?.create ?? 0} resources created`;
    });
    try {
        if (up) {
            await clusterChecks(stack, iso, seed, kubectl, expectReady);
        }
    } finally {
        await report.check("destroy: the stack is empty, and no VM, disk, tap, bridge, DHCP server or firewall rule is left", async () => {
            const seconds = await destroyStack(stack);
            await sleep(1000);
            assert.deepEqual(await vmLeftovers(), []);
            return `${seconds.toFixed(0)}s`;
        });
    }
});

/** What the running cluster on VMs must show, from the smoke checks to a worker added and removed. */
async function clusterChecks(stack: auto.Stack, iso: string, seed: string, kubectl: Kubectl, expectReady: (names: string[], seconds: number) => Promise<void>) {
    const controllers = await vmHosts(controllerNames);
    const workers = await vmHosts(workerNames(WORKERS));
    const { etcdHealthy } = clusterClient(kubeconfigPath, controllers);

    await report.check("each VM runs its own kernel with what the cluster needs loaded: br_netfilter, overlay, ip_forward, its data disk ext4", async () => {
        const hostBoot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
        for (const h of [...controllers, ...workers]) {
            const facts = await ssh(h, "cat /proc/sys/kernel/random/boot_id; lsmod | awk '{print $1}' | grep -xE 'br_netfilter|overlay' | sort | tr '\\n' ' '; echo; " +
                "cat /proc/sys/net/ipv4/ip_forward; grep ' /mnt/' /proc/mounts | awk '{print $3}' | head -n1");
            const [boot, modules, forward, diskFs] = facts.trim().split("\n").map(l => l.trim());
            assert.notEqual(boot, hostBoot, `${h.name} shares this machine's kernel`);
            assert.equal(modules, "br_netfilter overlay", `${h.name}'s modules`);
            assert.equal(forward, "1", `${h.name}'s ip_forward`);
            assert.equal(diskFs, "ext4", `${h.name}'s data disk`);
        }
        return `${controllers.length + workers.length} VMs, each its own boot id`;
    });

    await smokeChecks(kubectl, workers, "after up");

    await report.check("a controller rebooted by the guest's own `reboot`: it boots again from its disk and its apiserver, etcd member and routes to every worker's pods come back with no `pulumi up`", async () => {
        const [c] = controllers;
        const before = await bootId(c);
        const start = Date.now();
        await ssh(c, "sudo -n reboot >/dev/null 2>&1 &", 15_000).catch(() => undefined);
        const sshBack = await bootedAgain(c, before, start);
        await etcdHealthy(300);
        await eventually(300, async () => assert.match(await ssh(c, "docker inspect -f '{{.State.Running}}' kdw-kube-apiserver"), /true/));
        // The route to every worker's pods (worker i has the i-th /24 of clusterCidr), put back by the host's route loop.
        await eventually(120, async () => {
            for (const [i, w] of workers.entries()) {
                assert.match(await ssh(c, `ip route show 10.200.${i}.0/24`), new RegExp(`via ${w.ip.replace(/\./g, "\\.")} `), `${c.name}'s route to ${w.name}'s pods`);
            }
        });
        const healthy = (Date.now() - start) / 1000;
        report.timings.controllerReboot = { sshBack, healthy };
        return `SSH back after ${sshBack.toFixed(0)}s, apiserver running, etcd healthy and routes back after ${healthy.toFixed(0)}s`;
    });

    await report.check("a worker power-cycled through the driver (docker-machine kill, then start): Ready again with its pod running, no `pulumi up`", async () => {
        const w = workers[1];
        const before = await bootId(w);
        const start = Date.now();
        await machine("kill", w.name);
        assert.match(await machine("status", w.name), /Stopped/);
        await machine("start", w.name);
        const sshBack = await bootedAgain(w, before, start);
        await eventually(300, async () => {
            const pods = (JSON.parse(await kubectl("get", "pods", "-l", "app=web", "-o", "json")).items as any[])
                .filter(p => p.spec.nodeName === "kdw-worker-1" && p.status.phase === "Running"
                    && p.status.containerStatuses?.every((s: any) => s.ready));
            assert.equal(pods.length, 1, "no ready web pod on kdw-worker-1");
        }, 2000);
        const healthy = (Date.now() - start) / 1000;
        report.timings.workerPowerCycle = { sshBack, healthy };
        return `SSH back after ${sshBack.toFixed(0)}s, Ready with its pod after ${healthy.toFixed(0)}s`;
    });

    await smokeChecks(kubectl, workers, "after the reboots");

    await report.check("after the reboots: preview shows no change", async () => {
        const preview = await previewChanges(stack, true);
        assert.deepEqual(preview.changes, []);
    });

    await report.check("a worker VM added, then removed: Ready with a pod that others reach; then its Node, VM and disk gone", async () => {
        writeConfig(iso, seed, WORKERS + 1);
        const start = Date.now();
        await stack.up({ onOutput: line => process.stdout.write(`     | ${line}`) });
        const added = (Date.now() - start) / 1000;
        await expectReady(workerNames(WORKERS + 1), 300);
        await kubectl("rollout", "status", "daemonset/web", "--timeout=300s");
        const pods = (JSON.parse(await kubectl("get", "pods", "-l", "app=web", "-o", "json")).items as any[]);
        const onNew = pods.find(p => p.spec.nodeName === ADDED);
        const other = pods.find(p => p.spec.nodeName !== ADDED);
        assert.ok(onNew && other, `no web pod on ${ADDED}`);
        assert.match(await kubectl("exec", other.metadata.name, "--", "timeout", "10", "wget", "-q", "-O", "-", `http://${onNew.status.podIP}/`),
            /kube-dumb-way smoke test/);
        writeConfig(iso, seed, WORKERS);
        const removeStart = Date.now();
        await stack.up({ onOutput: line => process.stdout.write(`     | ${line}`) });
        const removed = (Date.now() - removeStart) / 1000;
        assert.deepEqual((await kubectl("get", "nodes", "-o", "name")).trim().split("\n").sort(),
            workerNames(WORKERS).map(n => `node/${n}`).sort());
        assert.ok(!existsSync(path.join(storage, "machines", ADDED)), `${ADDED}'s machine folder (its disk) is left`);
        report.timings.scale = { added, removed };
        return `added in ${added.toFixed(0)}s, removed in ${removed.toFixed(0)}s`;
    });
}
