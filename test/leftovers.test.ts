// Host scripts over the leftovers of interrupted runs (host/scripts/README.md): whatever Pulumi's state says,
// `down` leaves nothing of ours on the host and everything else as it was, and a node that cannot start fails its
// step with its log. Each scenario runs in its own network namespace, whose mount namespace keeps its mounts (tmpfs
// over /var/log and /run hides the machine's); processes, mounts, routes, links and iptables rules are real, while
// docker, systemctl, journalctl and the node binaries that cannot run here are stubs that log their calls.
// Needs root (CI runs as root).
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { test, TestContext } from "node:test";
import { validateConfig } from "../config";
import { hostLayout, HostLayout, HostProfile, layoutEnv } from "../render/layout";
import { HOST_SCRIPT_LIBRARIES, sweepCommand } from "../components/machineHost";
import { envAssignments, hostScript, localScript, scriptCommand, shellQuote, stepScript } from "../host/remote";
import { WORKER_SCRIPT_LIBRARIES } from "../components/workerNode";

const CLUSTER_CIDR = "10.200.0.0/16";
const SERVICES = "containerd apiserver-lb kubelet kube-proxy";
const hostStepScript = stepScript({ script: hostScript("host.sh"), libraries: HOST_SCRIPT_LIBRARIES });
const workerScript = stepScript({ script: hostScript("worker.sh"), libraries: WORKER_SCRIPT_LIBRARIES, files: [] });

/** Logs its name and arguments to $KDW_TEST_CALLS, then runs the given shell body. */
const stub = (body = "exit 0") => `#!/bin/sh\necho "\${0##*/} $*" >> "$KDW_TEST_CALLS"\n${body}\n`;

interface Sandbox {
    root: string;
    layout: HostLayout;
    env: Record<string, string>;
    calls: () => string[];
    file: (p: string, content?: string, mode?: number) => string;
}

/**
 * A host's layout under a scratch root (boot2docker's run and log folders stay where kdw-service keeps them, inside
 * the scenario's tmpfs), stubs first on PATH.
 */
function sandbox(t: TestContext, profile: HostProfile): Sandbox {
    if (process.getuid?.() !== 0) {
        assert.fail("these tests need root for network and mount namespaces (CI runs as root)");
    }
    const root = mkdtempSync(path.join(os.tmpdir(), "kdw-leftovers-"));
    t.after(() => {
        // Whatever a failed scenario left running from its sandbox (supervisors name it in their command lines).
        spawnSync("pkill", ["-KILL", "-f", `${root}/`]);
        rmSync(root, { recursive: true, force: true });
    });
    const real = hostLayout(profile);
    const keep = profile === "boot2docker" ? ["run", "logs"] : [];
    const layout = Object.fromEntries(Object.entries(real).map(([k, v]) =>
        [k, k === "profile" || keep.includes(k) || v === "" ? v : `${root}${v}`])) as unknown as HostLayout;
    const file = (p: string, content = "", mode = 0o644) => {
        mkdirSync(path.dirname(p), { recursive: true });
        writeFileSync(p, content, { mode });
        return p;
    };
    const stubs = `${root}/stubs`;
    file(`${stubs}/systemctl`, stub('[ "$1" != show ] || echo 0'), 0o755);
    file(`${stubs}/journalctl`, stub(), 0o755);
    file(`${root}/docker-containers`, "kdw-etcd\nkdw-kube-apiserver\nkdw-kube-controller-manager\nkdw-kube-scheduler\nregistry\n");
    file(`${stubs}/docker`, stub(`state=${root}/docker-containers
case "$1" in
ps) cat "$state" ;;
rm) grep -vx "$3" "$state" > "$state.new" || true; mv "$state.new" "$state" ;;
*) exit 1 ;;
esac`), 0o755);
    const calls = `${root}/calls`;
    file(calls);
    return {
        root, layout, file,
        env: { ...layoutEnv(layout, CLUSTER_CIDR), PATH: `${stubs}:${process.env.PATH}`, KDW_TEST_CALLS: calls },
        calls: () => readFileSync(calls, "utf8").trim().split("\n").filter(Boolean),
    };
}

/**
 * Runs `script` in fresh network, mount and PID namespaces; returns its output by section. The PID namespace keeps the
 * sweep's search for steps of an interrupted run (every `sh -c <script> kdw up` in /proc) to the scenario's own: on
 * this machine it would find the steps the end-to-end suites' test hosts are running, whose processes it can see.
 */
function inNamespace(t: TestContext, box: Sandbox, script: string): { status: number | null; stderr: string; sections: Record<string, string> } {
    const ns = `kdw-left-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
    execFileSync("ip", ["netns", "add", ns]);
    t.after(() => spawnSync("ip", ["netns", "del", ns]));
    const result = spawnSync("ip", ["netns", "exec", ns, "unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", `set -eu\n${script}`], {
        encoding: "utf8", env: { ...process.env, ...box.env, ROOT: box.root }, timeout: 60_000,
    });
    const sections: Record<string, string> = {};
    for (const part of result.stdout.split(/^== /m).slice(1)) {
        const [name, ...body] = part.split("\n");
        sections[name.trim()] = body.join("\n").trim();
    }
    return { status: result.status, stderr: result.stderr, sections };
}

// Pieces of the scenarios' shell scripts.
const NETWORK_LEFTOVERS = `
ip link add kdw0 type veth peer name kdw1 && ip addr add 192.168.99.1/24 dev kdw0 && ip link set kdw0 up && ip link set kdw1 up
ip route add 10.200.1.0/24 via 192.168.99.51
ip route add 10.200.2.0/24 via 192.168.99.52
ip route add 10.99.0.0/24 via 192.168.99.53
ip link add cni0 type bridge
iptables -t nat -A POSTROUTING -s ${CLUSTER_CIDR} ! -d ${CLUSTER_CIDR} -m comment --comment kdw-pod-egress -j MASQUERADE
iptables -t nat -N KUBE-SERVICES
iptables -t nat -N KUBE-SVC-NPX46M4PTMTKRN6Y
iptables -t nat -A KUBE-SERVICES -d 10.32.0.1/32 -p tcp -m comment --comment "default/kubernetes:https cluster IP" -j KUBE-SVC-NPX46M4PTMTKRN6Y
iptables -t nat -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
iptables -t nat -A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
iptables -t nat -N CNI-HOSTPORT-DNAT
iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
iptables -N KUBE-FIREWALL
iptables -A INPUT -j KUBE-FIREWALL
iptables -t mangle -N KUBE-KUBELET-CANARY
ip6tables -t mangle -N KUBE-KUBELET-CANARY
iptables -N DOCKER
iptables -A DOCKER -d 172.17.0.2/32 -p tcp --dport 80 -j ACCEPT
iptables -A FORWARD -o docker0 -j DOCKER
iptables -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
`;

const REPORT = `
echo "== mounts"; grep " $ROOT" /proc/mounts || true
echo "== routes"; ip route show
echo "== links"; ip -o link show | cut -d: -f2
echo "== iptables"; { iptables-save; ip6tables-save; } | grep -v '^#' || true
echo "== var-log"; ls /var/log
echo "== addresses"; ip -o -4 addr show | awk '{ print $4 }'
`;

/** A step script of `name` as a step runs it, taking its lock first (lib-step.sh), then running `body`. */
const lockedStep = (name: string, body: string) => `${hostScript("lib-step.sh")}\nkdw_step_lock ${name}\n${body}\n`;

/** Shell: waits (at most 10 s) until the step lock `name` is held (flock, which this machine has). */
const WAIT_HELD = (name: string) =>
    `i=0; while flock -n "$KDW_ETC/locks/${name}.lock" true 2>/dev/null || [ ! -f "$KDW_ETC/locks/${name}.lock" ]; do ` +
    `i=$((i + 1)); [ "$i" -lt 100 ] || break; sleep 0.1; done`;

/** Shell: prints whether the process `pid` runs (a zombie, killed and not yet reaped, does not). */
const ALIVE = (pid: string) =>
    `case "$(cut -d' ' -f3 /proc/${pid}/stat 2>/dev/null)" in "" | Z) echo gone ;; *) echo alive ;; esac`;

function assertNetworkClean(sections: Record<string, string>) {
    assert.equal(sections.mounts, "", "mounts left");
    assert.deepEqual(sections.routes.split("\n").map(r => r.split(" ")[0]).sort(), ["10.99.0.0/24", "192.168.99.0/24"],
        `routes:\n${sections.routes}`);
    assert.doesNotMatch(sections.links, /cni0/);
    assert.doesNotMatch(sections.iptables, /KUBE-|CNI-|kdw-/, `iptables:\n${sections.iptables}`);
    assert.match(sections.iptables, /-A FORWARD -o docker0 -j DOCKER/, "Docker's rules were removed");
    assert.match(sections.iptables, /-A POSTROUTING -s 172\.17\.0\.0\/16 ! -o docker0 -j MASQUERADE/);
}

/** Every file under `dir`, relative to it. */
function tree(dir: string): string[] {
    if (!existsSync(dir)) {
        return [];
    }
    return readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter(e => !e.isDirectory())
        .map(e => path.relative(dir, path.join(e.parentPath, e.name))).sort();
}

test("host.sh down on a systemd host removes every leftover of an interrupted create, twice in a row, and nothing else", async (t) => {
    const box = sandbox(t, "systemd");
    const { root, layout: l, file } = box;
    // What the control plane, a worker's node components, routes and the boot hook leave when their steps are dropped.
    for (const name of ["kubelet", "kube-proxy", "containerd", "runc", "crictl", "kdw-apiserver-lb", "kdw-boot"]) {
        file(`${l.home}/bin/${name}`, "", 0o755);
    }
    file(`${l.home}/bin/crictl`, stub(), 0o755);
    file(`${l.home}/bin/kube-proxy`, stub(), 0o755);
    file(`${l.home}/bin/runc`, stub('[ "$3" != list ] || echo leftover-pod'), 0o755);
    copyFileSync(execFileSync("sh", ["-c", "command -v sleep"], { encoding: "utf8" }).trim(), `${l.home}/bin/containerd-shim-runc-v2`);
    chmodSync(`${l.home}/bin/containerd-shim-runc-v2`, 0o755);
    mkdirSync(`${l.run}/runc/k8s.io`, { recursive: true });
    for (const f of ["boot.d/10-kernel", "boot.d/50-worker", "boot.d/60-route-10_200_1_0_24", "stage/kubelet", "cni/bin/bridge"]) {
        file(`${l.home}/${f}`);
    }
    for (const f of ["control-plane/pki/ca-key.pem", "etcd/server-key.pem", "worker/kubelet.kubeconfig"]) {
        file(`${l.etc}/${f}`, "secret", 0o600);
    }
    file(`${l.data}/etcd/member/snap/db`);
    file(`${l.data}/containerd/io.containerd.content.v1.content/blobs/sha256/abc`);
    file(`${l.auditLogs}/audit.log`);
    file(`${l.kubeletDir}/pki/kubelet.crt`);
    for (const unit of ["containerd", "apiserver-lb", "kubelet", "kube-proxy", "boot", "routes"]) {
        file(`${l.units}/kdw-${unit}.service`, `[Unit]\nDescription=kube-dumb-way ${unit}\n`);
    }
    // The API's virtual IP as kube-vip.sh records it; the address itself is put on an interface below.
    file(`${l.etc}/kube-vip/address`, "192.168.99.250\n");
    // The host's own units, one of them named like ours (the test hosts have such).
    file(`${l.units}/ssh.service`, "[Unit]\nDescription=OpenBSD Secure Shell server\n");
    file(`${l.units}/kdw-keep-hostname.service`, "[Unit]\nDescription=Restore the saved hostname\n");
    mkdirSync(`${l.units}/multi-user.target.wants`);
    for (const unit of ["kdw-kubelet.service", "kdw-boot.service", "ssh.service", "kdw-keep-hostname.service"]) {
        symlinkSync(`${l.units}/${unit}`, `${l.units}/multi-user.target.wants/${unit}`);
    }
    // A link to a unit file removed before it was disabled.
    symlinkSync(`${l.units}/kdw-gone.service`, `${l.units}/multi-user.target.wants/kdw-gone.service`);
    file(`${root}/etc/hostname`, "not ours\n");
    // containerd's socket, which the pods are removed through.
    mkdirSync(`${l.run}/containerd`, { recursive: true });
    const containerd = createServer();
    await new Promise<void>(resolve => containerd.listen(`${l.run}/containerd/containerd.sock`, resolve));
    t.after(() => containerd.close());

    const down = scriptCommand(hostStepScript, "down", layoutEnv(l, CLUSTER_CIDR));
    const run = inNamespace(t, box, `
mount -t tmpfs tmpfs /var/log
mkdir -p /var/log/pods/default_web_1 /var/log/containers && touch /var/log/other.log
token="$KDW_KUBELET_DIR/pods/1/volumes/kubernetes.io~projected/token"
rootfs="$KDW_RUN/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs"
mkdir -p "$token" "$rootfs" && mount -t tmpfs tmpfs "$token" && mount -t tmpfs tmpfs "$rootfs"
${NETWORK_LEFTOVERS}
ip addr add 192.168.99.250/32 dev kdw0
"$KDW_HOME/bin/containerd-shim-runc-v2" 600 </dev/null >/dev/null 2>&1 &
shim=$!
# A step of the interrupted run, still running as the step scripts run: sh -c <script> kdw up, with a script longer
# than the 4 KiB of a command line that pgrep reads.
sh -c "\"\$0\" 601; true # $(head -c 6000 /dev/zero | tr '\\0' x)" "$KDW_HOME/bin/containerd-shim-runc-v2" kdw up </dev/null >/dev/null 2>&1 &
step=$!
# A step of another script (etcd's) of the interrupted run, holding its lock, in a session of its own as a step whose
# SSH session closed: the sweep stops it, and what it runs, before it removes anything.
setsid sh -c ${shellQuote(lockedStep("etcd", "sleep 602"))} </dev/null >/dev/null 2>&1 &
etcd_step=$!
${WAIT_HELD("etcd")}
sh -c ${shellQuote(down)}
echo "== second"; sh -c ${shellQuote(down)} && echo ok
echo "== shim"; if kill -0 "$shim" 2>/dev/null; then kill "$shim"; echo alive; else echo gone; fi
echo "== step"; if kill -0 "$step" 2>/dev/null; then kill "$step"; echo alive; else echo gone; fi
echo "== etcd-step"; ${ALIVE("$etcd_step")}; pgrep -f "^sleep 602" || true
${REPORT}`);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.sections.second, "ok");
    assert.equal(run.sections.shim, "gone", "a process from our binaries survived");
    assert.equal(run.sections.step, "gone", "a step of the interrupted run still runs");
    assert.equal(run.sections["etcd-step"], "gone", "a step of another script holding its lock, or what it runs, still runs");
    assertNetworkClean(run.sections);
    assert.doesNotMatch(run.sections.addresses, /192\.168\.99\.250\/32/, "the virtual IP a killed kube-vip held is left");
    assert.match(run.sections.addresses, /192\.168\.99\.1\/24/, "the host's own address was removed");
    assert.deepEqual(run.sections["var-log"].split("\n"), ["other.log"], "the kubelet's log folders are left");
    assert.deepEqual(readFileSync(`${root}/docker-containers`, "utf8"), "registry\n");
    for (const dir of [l.home, l.etc, l.data, l.run, l.kubeletDir, l.logs]) {
        assert.ok(!existsSync(dir), `${dir} is left: ${tree(dir).join(", ")}`);
    }
    assert.deepEqual(tree(l.units), ["kdw-keep-hostname.service", "multi-user.target.wants/kdw-keep-hostname.service",
        "multi-user.target.wants/ssh.service", "ssh.service"]);
    assert.equal(readFileSync(`${root}/etc/hostname`, "utf8"), "not ours\n");

    const calls = box.calls();
    const at = (call: string) => {
        const i = calls.indexOf(call);
        assert.ok(i >= 0, `no call "${call}" in:\n${calls.join("\n")}`);
        return i;
    };
    assert.ok(at("systemctl disable --now kdw-kubelet.service") < at(`crictl --runtime-endpoint unix://${l.run}/containerd/containerd.sock rmp --all --force`),
        "pods removed while the kubelet could still restart them");
    assert.ok(at(`crictl --runtime-endpoint unix://${l.run}/containerd/containerd.sock rmp --all --force`) < at("systemctl disable --now kdw-containerd.service"));
    for (const call of ["systemctl disable --now kdw-kube-proxy.service", "systemctl disable --now kdw-apiserver-lb.service",
        `runc --root ${l.run}/runc/k8s.io delete --force leftover-pod`, "systemctl stop kubepods.slice", "kube-proxy --cleanup",
        "systemctl disable kdw-boot.service", "docker rm --force kdw-kube-apiserver", "systemctl disable --now kdw-routes.service"]) {
        at(call);
    }
    assert.ok(!calls.some(c => c.includes("kdw-keep-hostname")), "the host's own kdw-* unit was touched");
});

test("worker.sh down and host.sh down on a boot2docker host: supervisors and their commands stop, bootlocal.sh keeps the rest", (t) => {
    const box = sandbox(t, "boot2docker");
    const { root, layout: l, file } = box;
    const sleep = execFileSync("sh", ["-c", "command -v sleep"], { encoding: "utf8" }).trim();
    for (const name of ["containerd", "kubelet", "containerd-shim-runc-v2"]) {
        copyFileSync(sleep, file(`${l.home}/bin/${name}`));
        chmodSync(`${l.home}/bin/${name}`, 0o755);
    }
    file(`${l.home}/bin/kdw-service`, hostScript("kdw-service.sh"), 0o755);
    file(`${l.home}/bin/kdw-boot`, "", 0o755);
    for (const f of ["boot.d/10-kernel", "boot.d/50-worker", "stage/kubelet", "cni/bin/bridge"]) {
        file(`${l.home}/${f}`);
    }
    file(`${l.etc}/worker/kubelet.cmd`, `${l.home}/bin/kubelet 600\n`);
    file(`${l.data}/cni/networks/kdw-pods/10.200.0.2`);
    file(`${l.kubeletDir}/pki/kubelet.crt`);
    file(l.bootlocal, `#!/bin/sh\necho the user's own boot step\n${l.home}/bin/kdw-boot # kdw-boot\n`, 0o755);
    const workerEnv = {
        ...layoutEnv(l, CLUSTER_CIDR), KDW_NODE: "kdw-worker-0", KDW_API_PORT: "6443", KDW_SERVICE_CIDR: "10.32.0.0/24",
        KDW_SERVICES: SERVICES,
        KDW_BINARIES: "kubelet containerd", KDW_CNI_PLUGINS: "bridge",
    };
    const pids = (name: string) => `$(cat /var/run/kdw/${name}.pid 2>/dev/null || echo none)`;
    const run = inNamespace(t, box, `
mount -t tmpfs tmpfs /var/log
mount -t tmpfs tmpfs /run
${NETWORK_LEFTOVERS}
"$KDW_HOME/bin/kdw-service" start containerd "$KDW_HOME/bin/containerd" 600
"$KDW_HOME/bin/kdw-service" start kubelet "$KDW_HOME/bin/kubelet" 600
"$KDW_HOME/bin/containerd-shim-runc-v2" 600 </dev/null >/dev/null 2>&1 &
# The supervisors start their commands on their own time (long on a loaded machine): up to 10 s for all three.
for _ in $(seq 100); do [ "$(pgrep -f "^$KDW_HOME/bin/" | wc -l)" -ge 3 ] && break; sleep 0.1; done
groups="${pids("containerd")} ${pids("kubelet")}"
echo "== running"; pgrep -f "^$KDW_HOME/bin/" | wc -l
sh -c ${shellQuote(scriptCommand(workerScript, "down", workerEnv))} < /dev/null
echo "== after-worker"; pgrep -f "^$KDW_HOME/bin/" || true; for g in $groups; do pgrep -g "$g" || true; done; ls /var/run/kdw
echo "== home"; cd "$KDW_HOME" && find . -type f | sort
sh -c ${shellQuote(scriptCommand(hostStepScript, "down", layoutEnv(l, CLUSTER_CIDR)))}
echo "== after-host"; ls -d "$KDW_HOME" /var/run/kdw /var/log/kdw 2>/dev/null || true
${REPORT}`);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.sections.running, "3", "the scenario did not start its processes");
    assert.equal(run.sections["after-worker"], "", "supervisors, their commands or pidfiles are left");
    // The worker's own files are gone; the host's (boot hook, supervisor, kernel step, the steps' lock files, empty)
    // and the copy steps' staged binaries stay.
    assert.deepEqual(run.sections.home.split("\n"), ["./bin/kdw-boot", "./bin/kdw-service", "./boot.d/10-kernel",
        "./etc/locks/worker.lock", "./stage/kubelet"]);
    assert.equal(run.sections["after-host"], "");
    assertNetworkClean(run.sections);
    assert.equal(readFileSync(l.bootlocal, "utf8"), "#!/bin/sh\necho the user's own boot step\n");
    assert.ok(!existsSync(l.kubeletDir) && !existsSync(`${root}/var/lib/boot2docker/kdw`));
});

for (const profile of ["systemd", "boot2docker"] as const) {
    test(`a worker's removal killed part-way and removed again (${profile}): the killed run's step, still running, ` +
        "is stopped with what it runs before the new one starts", (t) => {
        const box = sandbox(t, profile);
        const { layout: l, file } = box;
        // The killed run's `worker.sh down` blocks in kube-proxy's cleanup while $ROOT/block exists, as a step does
        // whose SSH session closed: it runs on. The new one finds kube-proxy returning at once.
        file(`${l.home}/bin/kube-proxy`, stub('[ ! -f "$ROOT/block" ] || exec sleep 601'), 0o755);
        file(`${l.home}/bin/kdw-service`, hostScript("kdw-service.sh"), 0o755);
        file(`${l.etc}/worker/kubelet.kubeconfig`, "secret", 0o600);
        for (let pod = 0; pod < 50; pod++) {
            file(`${l.data}/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/${pod}/fs/var/lib/file`);
        }
        const env = {
            ...layoutEnv(l, CLUSTER_CIDR), KDW_NODE: "kdw-worker-2", KDW_API_PORT: "6443", KDW_SERVICE_CIDR: "10.32.0.0/24",
            KDW_SERVICES: SERVICES, KDW_BINARIES: "kubelet kube-proxy", KDW_CNI_PLUGINS: "bridge",
        };
        const down = scriptCommand(workerScript, "down", env);
        const run = inNamespace(t, box, `
mount -t tmpfs tmpfs /var/log
mount -t tmpfs tmpfs /run
touch "$ROOT/block"
setsid sh -c ${shellQuote(down)} </dev/null >/dev/null 2>&1 &
killed=$!
i=0; until grep -q '^kube-proxy --cleanup' "$KDW_TEST_CALLS"; do i=$((i + 1)); [ "$i" -lt 100 ] || break; sleep 0.1; done
rm -f "$ROOT/block"
echo "== held"; if flock -n "$KDW_ETC/locks/worker.lock" true; then echo free; else echo held; fi
start=$(date +%s)
status=0
sh -c ${shellQuote(down)} </dev/null 2> "$ROOT/second.err" || status=$?
echo "== second"; echo "$status $(($(date +%s) - start))"
echo "== killed-step"; ${ALIVE("$killed")}; pgrep -f "^sleep 601" || true
echo "== data"; ls -A "$KDW_DATA"
echo "== etc"; ls -A "$KDW_ETC"
`);
        assert.equal(run.status, 0, run.stderr);
        assert.equal(run.sections.held, "held", "the killed run's step does not hold its lock");
        const [status, seconds] = run.sections.second.split(" ").map(Number);
        const stderr = readFileSync(`${box.root}/second.err`, "utf8");
        assert.equal(status, 0, `the second worker.sh down failed:\n${stderr}`);
        assert.ok(seconds <= 5, `the second worker.sh down took ${seconds}s`);
        assert.match(stderr, /: stopping a step of an interrupted run still running here \(worker\.lock: processes \d+ \d+ \)$/m);
        assert.equal(run.sections["killed-step"], "gone", "the killed run's step, or what it runs, still runs");
        // The second removal did the whole job: what the first one had not removed yet is gone.
        assert.equal(run.sections.data, "");
        assert.equal(run.sections.etc, "locks");
        const cleanups = box.calls().filter(c => c === "kube-proxy --cleanup");
        assert.equal(cleanups.length, 2, box.calls().join("\n"));
    });
}

test("host.sh down fails loudly, naming the host, when Docker cannot list the containers to remove", (t) => {
    const box = sandbox(t, "systemd");
    box.file(`${box.root}/stubs/docker`, stub('echo "Cannot connect to the Docker daemon" >&2; exit 1'), 0o755);
    const run = inNamespace(t, box, `sh -c ${shellQuote(scriptCommand(hostStepScript, "down", layoutEnv(box.layout, CLUSTER_CIDR)))}`);
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /: cannot list Docker's containers to remove the cluster's \(kdw-\*\): Cannot connect to the Docker daemon/);
});

test("a kubelet that keeps exiting fails worker.sh up with its log (boot2docker supervisor, for real)", (t) => {
    const box = sandbox(t, "boot2docker");
    const { layout: l, file } = box;
    const sleep = execFileSync("sh", ["-c", "command -v sleep"], { encoding: "utf8" }).trim();
    file(`${l.home}/boot.d/10-kernel`);
    // The supervisor, as the host's step installs it.
    file(`${l.home}/bin/kdw-service`, hostScript("kdw-service.sh"), 0o755);
    // The kubelet as it fails when the machine runs out of inotify instances.
    file(`${l.home}/stage/kubelet`, "#!/bin/sh\necho 'E1127 kubelet.go:1566] \"Failed to start cAdvisor\" err=\"inotify_init: too many open files\"' >&2\nexit 1\n", 0o755);
    for (const name of ["containerd", "kdw-apiserver-lb", "kube-proxy"]) {
        copyFileSync(sleep, file(`${l.home}/stage/${name}`));
    }
    file(`${l.home}/stage/crictl`, stub(), 0o755);
    for (const name of ["runc", "containerd-shim-runc-v2", "cni/bridge"]) {
        file(`${l.home}/stage/${name}`);
    }
    const services: Record<string, string> = {
        containerd: `${l.home}/bin/containerd 600`, "apiserver-lb": `${l.home}/bin/kdw-apiserver-lb 600`,
        kubelet: `${l.home}/bin/kubelet --v=2`, "kube-proxy": `${l.home}/bin/kube-proxy 600`,
    };
    const files = [
        ...Object.entries(services).map(([name, cmd]) => ({ path: `${l.etc}/worker/${name}.cmd`, content: `${cmd}\n` })),
    ];
    const stdin = files.map(f => `${f.path} 0644 ${Buffer.from(f.content).toString("base64")}\n`).join("");
    file(`${box.root}/stdin`, stdin);
    const env = {
        ...layoutEnv(l, CLUSTER_CIDR), KDW_NODE: "kdw-worker-0", KDW_API_PORT: "6443", KDW_SERVICE_CIDR: "10.32.0.0/24",
        KDW_SERVICES: SERVICES,
        KDW_BINARIES: "kubelet kube-proxy containerd containerd-shim-runc-v2 runc crictl kdw-apiserver-lb", KDW_CNI_PLUGINS: "bridge",
    };
    const start = Date.now();
    const run = inNamespace(t, box, `
mount -t tmpfs tmpfs /var/log
mount -t tmpfs tmpfs /run
status=0
sh -c ${shellQuote(scriptCommand(workerScript, "up", env))} < "$ROOT/stdin" 2> "$ROOT/up.err" || status=$?
echo "== status"; echo "$status"
echo "== lock-holders"; ls -l /proc/[0-9]*/fd 2>/dev/null | grep -c ' -> .*/locks/worker[.]lock$' || true
sh -c ${shellQuote(scriptCommand(workerScript, "down", env))} < /dev/null
echo "== after-down"; pgrep -f "^$KDW_HOME/bin/" || true; ls /var/run/kdw
${REPORT}`);
    const seconds = (Date.now() - start) / 1000;
    const stderr = readFileSync(`${box.root}/up.err`, "utf8");
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.sections.status, "1", `worker.sh up did not fail:\n${stderr}`);
    assert.match(stderr, /^kdw-worker-0 \(.+\): kdw-kubelet keeps exiting \(\d+ restarts\); the last log lines of kdw-kubelet:$/m);
    assert.match(stderr, /inotify_init: too many open files/);
    assert.ok(seconds < 60, `took ${seconds}s to give up on a kubelet that exits at once`);
    // The supervisors kdw-service started run on; they must not keep the step's lock open, or the next step would
    // take them for a step of an interrupted run and stop them.
    assert.equal(run.sections["lock-holders"], "0", "a service started by the step keeps the step's lock open");
    assert.equal(run.sections["after-down"], "", "down after a failed up left processes or pidfiles");
    assert.doesNotMatch(run.sections.iptables, /kdw-/);
});

test("worker.sh up on a systemd host: a restarting kubelet fails the step with its journal", (t) => {
    const box = sandbox(t, "systemd");
    const { layout: l, file } = box;
    file(`${box.root}/stubs/systemctl`, stub('if [ "$1 $5" = "show kdw-kubelet.service" ]; then echo 4; elif [ "$1" = show ]; then echo 0; fi'), 0o755);
    file(`${l.home}/boot.d/10-kernel`);
    file(`${box.root}/stubs/journalctl`, stub("echo 'inotify_init: too many open files'"), 0o755);
    for (const name of ["kubelet", "kube-proxy", "containerd", "containerd-shim-runc-v2", "runc", "kdw-apiserver-lb", "cni/bridge"]) {
        file(`${l.home}/stage/${name}`);
    }
    file(`${l.home}/stage/crictl`, stub(), 0o755);
    const stdin = `${l.etc}/worker/kdw-service 0755 ${Buffer.from(hostScript("kdw-service.sh")).toString("base64")}\n`;
    file(`${box.root}/stdin`, stdin);
    const env = {
        ...layoutEnv(l, CLUSTER_CIDR), KDW_NODE: "kdw-worker-1", KDW_API_PORT: "6443", KDW_SERVICE_CIDR: "10.32.0.0/24",
        KDW_SERVICES: SERVICES,
        KDW_BINARIES: "kubelet kube-proxy containerd containerd-shim-runc-v2 runc crictl kdw-apiserver-lb", KDW_CNI_PLUGINS: "bridge",
    };
    const run = inNamespace(t, box, `sh -c ${shellQuote(scriptCommand(workerScript, "up", env))} < "$ROOT/stdin"`);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /^kdw-worker-1 \(.+\): kdw-kubelet keeps exiting \(4 restarts\); the last log lines of kdw-kubelet:\ninotify_init: too many open files$/m);
    for (const call of ["systemctl restart kdw-containerd.service", "systemctl restart kdw-kubelet.service",
        "journalctl --unit kdw-kubelet.service --lines 30 --no-pager --output cat"]) {
        assert.ok(box.calls().includes(call), `no "${call}"`);
    }
});

test("the probe's sweep runs host.sh down with the layout of the host's kind, and nothing on a host of no known kind", (t) => {
    const box = sandbox(t, "systemd");
    // env stands in for the sweep's last command: it prints what it was given instead of running host.sh.
    box.file(`${box.root}/stubs/env`, "#!/bin/sh\nwhile [ \"$1\" != sh ]; do echo \"$1\"; shift; done\necho \"$5\"\n", 0o755);
    const sweep = (hostProfile: string) => spawnSync("sh", ["-c", sweepCommand(validateConfig(
        { binarySource: "/bin", hostProfile, clusterCidr: "10.210.0.0/16" }, { fileExists: () => true }))],
    { encoding: "utf8", env: { ...process.env, PATH: box.env.PATH } });
    for (const profile of ["systemd", "boot2docker"] as const) {
        const out = sweep(profile);
        assert.equal(out.status, 0, out.stderr);
        const expected = Object.entries(layoutEnv(hostLayout(profile), "10.210.0.0/16")).map(([k, v]) => `${k}=${v}`);
        assert.deepEqual(out.stdout.trim().split("\n"), [...expected, "down"]);
        assert.match(sweepCommand(validateConfig({ binarySource: "/bin", hostProfile: profile }, { fileExists: () => true })),
            new RegExp(envAssignments({ KDW_PROFILE: profile })));
    }
    if (!existsSync("/run/systemd/system")) {
        const unknown = sweep("auto");
        assert.equal(unknown.status, 0, unknown.stderr);
        assert.equal(unknown.stdout, "", "the sweep ran on a host that is neither systemd nor boot2docker");
    }
});

test("machine-certs.sh down removes the machines of this cluster left in the store, and only those", (t) => {
    const box = sandbox(t, "systemd");
    const store = `${box.root}/machines`;
    const config = (label: string) => JSON.stringify({ HostOptions: { EngineOptions: { Labels: [label] } } });
    box.file(`${store}/machines/kdw-controller-0/config.json`, config("kdw.cluster=kube-dumb-way"));
    box.file(`${store}/machines/kdw-worker-2/config.json`, config("kdw.cluster=kube-dumb-way"));
    box.file(`${store}/machines/lab-worker-0/config.json`, config("kdw.cluster=kube-dumb-way-lab"));
    box.file(`${store}/machines/someone-elses/config.json`, config("team=web"));
    mkdirSync(`${store}/machines/half-made`);
    box.file(`${box.root}/stubs/docker-machine`, stub(), 0o755);
    const out = spawnSync("sh", ["-c", localScript("machine-certs.sh"), "kdw", "down"], {
        encoding: "utf8", env: { ...process.env, ...box.env, MACHINE_STORAGE_PATH: store, KDW_CLUSTER_LABEL: "kdw.cluster=kube-dumb-way" },
    });
    assert.equal(out.status, 0, out.stderr);
    assert.deepEqual(box.calls(), ["docker-machine rm --force -y kdw-controller-0", "docker-machine rm --force -y kdw-worker-2"]);
});
