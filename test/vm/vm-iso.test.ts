// The boot2docker ISO (scripts/vm-iso.sh) booted for real in qemu, as docker-machine would boot it: a raw disk that
// starts with docker-machine's "boot2docker, please format-me" tar (the docker user's key, and a seed under
// boot2docker/), then what docker-machine's boot2docker provisioner and a cluster host rely on, a reboot that keeps
// the data disk, and the two ways a VM is shut down (poweroff in the guest, the ACPI power button) leaving its ext4
// clean. Slow and needs root, qemu-system-x86 and the Debian archive: `npm run test:vm-iso`, not part of `npm test`.
//
// Accelerator: KVM, or KDW_VM_ACCEL=tcg. A machine whose /dev/kvm is PVM (the kvm_pvm module: KVM for VMs inside
// cloud VMs, which runs only PVM-enabled guest kernels; Debian's kernel never gets past its decompressor there) uses
// TCG, and says so.
import * as assert from "node:assert/strict";
import { ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);
const root = path.join(__dirname, "..", "..", "..");
const work = mkdtempSync(path.join(os.tmpdir(), "kdw-vm-iso-"));
const machines: ChildProcess[] = [];
after(() => {
    machines.filter(qemu => qemu.exitCode === null).forEach(qemu => qemu.kill("SIGKILL"));
    rmSync(work, { recursive: true, force: true });
});

/** Seconds since a start, to one decimal. */
const since = (start: number) => Math.round((Date.now() - start) / 100) / 10;
const figures: string[] = [];
const report = (line: string) => { figures.push(line); console.log(`# ${line}`); };
after(() => console.log(`# figures:\n${figures.map(f => `#   ${f}`).join("\n")}`));

/** KVM when the machine's KVM can run Debian's kernel, TCG when told or when it is PVM; fails when KVM is missing. */
function accelerator(): "kvm" | "tcg" {
    const chosen = process.env.KDW_VM_ACCEL;
    if (chosen === "tcg" || chosen === "kvm") return chosen;
    assert.equal(chosen, undefined, `KDW_VM_ACCEL must be kvm or tcg (got '${chosen}')`);
    assert.ok(existsSync("/dev/kvm"), "/dev/kvm is absent: this test boots the ISO under KVM (or set KDW_VM_ACCEL=tcg)");
    if (existsSync("/sys/module/kvm_pvm")) {
        report("accelerator: tcg (this machine's KVM is PVM, kvm_pvm, which runs only PVM-enabled guest kernels)");
        return "tcg";
    }
    return "kvm";
}

async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = createServer();
        server.listen(0, "127.0.0.1", () => {
            const address = server.address();
            server.close(() => typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")));
        });
    });
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/** The disk docker-machine's VirtualBox and qemu drivers make: a tar whose first entry's name is the magic. */
async function makeDisk(disk: string, key: string, seedCa: string): Promise<void> {
    const stage = path.join(work, "userdata");
    await run("mkdir", ["-p", `${stage}/.ssh`, `${stage}/boot2docker/certs`]);
    writeFileSync(path.join(stage, "boot2docker, please format-me"), "boot2docker, please format-me");
    writeFileSync(path.join(stage, ".ssh", "authorized_keys"), readFileSync(`${key}.pub`));
    writeFileSync(path.join(stage, "boot2docker", "certs", "kdw-vm-test-ca.pem"), readFileSync(seedCa));
    await run("tar", ["-C", stage, "--format=ustar", "--numeric-owner", "--owner=0", "--group=0", "-cf", `${disk}.tar`,
        "boot2docker, please format-me", ".ssh", "boot2docker"]);
    await run("truncate", ["-s", "2G", disk]);
    await run("dd", [`if=${disk}.tar`, `of=${disk}`, "conv=notrunc", "status=none"]);
}

interface Vm { qemu: ChildProcess; exited: Promise<number | null>; sshPort: number; dockerPort: number; qmp: string }

async function boot(iso: string, disk: string, accel: string, name: string): Promise<Vm> {
    const sshPort = await freePort();
    const dockerPort = await freePort();
    const qmp = path.join(work, `${name}.qmp`);
    const qemu = spawn("qemu-system-x86_64", [
        "-accel", accel, "-cpu", accel === "kvm" ? "host" : "max", "-m", "2048", "-smp", "1",
        "-nodefaults", "-display", "none", "-boot", "d", "-cdrom", iso,
        "-drive", `file=${disk},format=raw,if=virtio`,
        "-netdev", `user,id=net0,hostfwd=tcp:127.0.0.1:${sshPort}-:22,hostfwd=tcp:127.0.0.1:${dockerPort}-:2376`,
        "-device", "virtio-net-pci,netdev=net0", "-device", "virtio-rng-pci",
        "-serial", `file:${path.join(work, `${name}.console.log`)}`, "-qmp", `unix:${qmp},server=on,wait=off`,
    ], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    qemu.stderr?.on("data", chunk => { stderr += chunk; });
    const exited = new Promise<number | null>(resolve => qemu.on("exit", code => {
        if (code !== 0) console.log(`# qemu (${name}) exited ${code}: ${stderr.trim()}`);
        resolve(code);
    }));
    machines.push(qemu);
    return { qemu, exited, sshPort, dockerPort, qmp };
}

function consoleTail(name: string): string {
    const file = path.join(work, `${name}.console.log`);
    return existsSync(file) ? readFileSync(file, "utf8").split("\n").slice(-25).join("\n") : "(no console output)";
}

async function ssh(vm: Vm, key: string, command: string, input?: Buffer, timeoutMs = 120_000): Promise<string> {
    const args = ["-i", key, "-p", String(vm.sshPort), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5", "docker@127.0.0.1", command];
    return new Promise((resolve, reject) => {
        const child = execFile("ssh", args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (error, stdout, stderr) =>
            error ? reject(new Error(`ssh ${command}: ${error.message} ${stderr}`)) : resolve(stdout));
        if (input) child.stdin?.end(input); else child.stdin?.end();
    });
}

/** Seconds until `ssh docker@ true` works, failing after boundSeconds with the end of the serial console. */
async function waitForSsh(vm: Vm, key: string, name: string, start: number, boundSeconds: number): Promise<number> {
    for (;;) {
        if (vm.qemu.exitCode !== null) assert.fail(`qemu (${name}) ended before SSH answered:\n${consoleTail(name)}`);
        try {
            // qemu's user network accepts the connection while the guest is down: a probe's wait is bounded.
            await ssh(vm, key, "true", undefined, 5000);
            return since(start);
        } catch {
            if (since(start) > boundSeconds) assert.fail(`no SSH within ${boundSeconds} s (${name}):\n${consoleTail(name)}`);
            await sleep(500);
        }
    }
}

/** docker-machine's WaitForDocker: the port in `netstat -tln`, tried 10 times 3 s apart. */
async function waitForDockerPort(vm: Vm, key: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
        const listening = await ssh(vm, key, "if ! type netstat 1>/dev/null; then ss -tln; else netstat -tln; fi");
        if (/:2376\s+.*:.*/.test(listening)) return;
        assert.ok(attempt < 10, `dockerd does not listen on 2376 after docker-machine's 10 × 3 s:\n${listening}`);
        await sleep(3000);
    }
}

async function qmpCommand(socket: string, command: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
        const connection = createConnection(socket);
        let sent = false;
        connection.on("data", data => {
            // The greeting, then the answer to qmp_capabilities; the command's answer ends the talk.
            if (!sent && data.toString().includes('"return"')) {
                sent = true;
                connection.write(JSON.stringify({ execute: command }) + "\n");
            } else if (sent && data.toString().includes('"return"')) {
                connection.end();
                resolve();
            }
        });
        connection.on("connect", () => connection.write(JSON.stringify({ execute: "qmp_capabilities" }) + "\n"));
        connection.on("error", reject);
    });
}

/** The disk's ext4 as the host's dumpe2fs reads it: its label, and clean (unmounted, no journal to replay). */
async function ext4State(disk: string): Promise<{ label: string; clean: boolean }> {
    const { stdout } = await run("dumpe2fs", ["-h", disk], { encoding: "utf8" });
    const field = (name: string) => stdout.match(new RegExp(`^${name}:\\s*(.*)$`, "m"))?.[1].trim() ?? "";
    return { label: field("Filesystem volume name"), clean: field("Filesystem state") === "clean" && !/needs_recovery/.test(field("Filesystem features")) };
}

async function waitForExit(vm: Vm, boundSeconds: number, what: string): Promise<number> {
    const start = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([vm.exited,
        new Promise<"timeout">(resolve => { timer = setTimeout(() => resolve("timeout"), boundSeconds * 1000); })]);
    clearTimeout(timer);
    assert.notEqual(code, "timeout", `qemu still runs ${boundSeconds} s after ${what}`);
    assert.equal(code, 0, `qemu ended with ${code} after ${what}`);
    return since(start);
}

test("the boot2docker ISO boots in qemu as docker-machine's provisioner and a cluster host need it", { timeout: 30 * 60_000 }, async t => {
    assert.equal(process.getuid?.(), 0, "run as root: the ISO's build keeps its files' owners");
    const accel = accelerator();
    await run("sh", ["-c", "command -v qemu-system-x86_64"]).catch(() =>
        assert.fail("qemu-system-x86_64 is missing: apt-get install -y --no-install-recommends qemu-system-x86"));
    await run("sh", ["-c", "command -v dumpe2fs"]).catch(() => assert.fail("dumpe2fs is missing: apt-get install -y e2fsprogs"));

    let start = Date.now();
    const build = await run("bash", [path.join(root, "scripts", "vm-iso.sh")], { encoding: "utf8", maxBuffer: 16 << 20 });
    const iso = build.stdout.trim().split("\n").pop() ?? "";
    report(`ISO build (or cache): ${since(start)} s; ${iso}`);
    assert.match(iso, /\/vm-iso\/[0-9a-f]{12}\/boot2docker\.iso$/);
    report(`ISO size: ${Math.round(Number((await run("stat", ["-c", "%s", iso])).stdout) / 1e6)} MB`);
    start = Date.now();
    const again = await run("bash", [path.join(root, "scripts", "vm-iso.sh")], { encoding: "utf8" });
    assert.equal(again.stdout.trim().split("\n").pop(), iso, "a second run with nothing changed names another ISO");
    report(`ISO second run (cached): ${since(start)} s`);

    const key = path.join(work, "id_ed25519");
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "kdw-vm-test", "-f", key]);
    const seedCa = path.join(work, "seed-ca.pem");
    await run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
        "-subj", "/CN=kdw-vm-test-seed", "-keyout", path.join(work, "seed-ca.key"), "-out", seedCa]);
    const disk = path.join(work, "disk.raw");
    await makeDisk(disk, key, seedCa);

    // First boot: the disk is formatted.
    start = Date.now();
    const vm = await boot(iso, disk, accel, "boot1");
    const sshSeconds = await waitForSsh(vm, key, "boot1", start, 150);
    report(`first boot (${accel}) to SSH: ${sshSeconds} s (bound 150 s: docker-machine waits up to 180 s)`);

    await t.test("dockerd listens on 2376 within docker-machine's 10 × 3 s after SSH answers", () => waitForDockerPort(vm, key));
    await t.test("os-release says boot2docker (docker-machine's CompatibleWithHost)", async () => {
        assert.match(await ssh(vm, key, "cat /etc/os-release"), /^ID=boot2docker$/m);
    });
    await t.test("the magic file is not left in the docker user's home", async () => {
        assert.equal((await ssh(vm, key, "ls -A /home/docker")).split("\n").filter(f => f.includes("format-me")).length, 0);
    });
    await t.test("sudo needs no password", async () => {
        assert.equal((await ssh(vm, key, "sudo -n id -u")).trim(), "0");
    });
    await t.test("dockerd answers on 2376 with TLS only (a plain HTTP request is refused)", async () => {
        const plain = await run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", `http://127.0.0.1:${vm.dockerPort}/version`])
            .then(r => r.stdout, e => String(e.stdout ?? ""));
        assert.equal(plain, "400", "port 2376 answers plain HTTP other than as a TLS server (400: client sent HTTP to HTTPS)");
    });
    await t.test("docker info as root: overlay2 on the data disk", async () => {
        const info = await ssh(vm, key, "sudo docker info --format '{{.Driver}} {{.DockerRootDir}} {{.KernelVersion}}'");
        assert.match(info.trim(), /^overlay2 \/mnt\/vda\/var\/lib\/docker \d+\.\d+\.\d+-\d+-amd64$/);
    });
    await t.test("runc runs a container on the tmpfs root (an image imported from a tar made here)", async () => {
        const stage = path.join(work, "image");
        await run("mkdir", ["-p", `${stage}/bin`]);
        const busybox = (await run("sh", ["-c", "command -v busybox"])).stdout.trim();
        const file = (await run("file", ["-L", busybox])).stdout;
        assert.match(file, /statically linked/, `${busybox} is not static (install busybox-static)`);
        await run("cp", [busybox, `${stage}/bin/busybox`]);
        const { stdout: tar } = await run("tar", ["-C", stage, "-c", "."], { encoding: "buffer", maxBuffer: 16 << 20 });
        await ssh(vm, key, "sudo docker import - kdw-vm-test:1 >/dev/null", tar);
        assert.equal((await ssh(vm, key, "sudo docker run --rm kdw-vm-test:1 /bin/busybox echo ran in a container")).trim(),
            "ran in a container");
    });
    await t.test("the root is a tmpfs, not the initramfs (runc's pivot_root refuses rootfs)", async () => {
        assert.match(await ssh(vm, key, "grep ' / ' /proc/mounts"), /^\S+ \/ tmpfs /m);
    });
    await t.test("br_netfilter and overlay are loaded, IP forwarding is on", async () => {
        const modules = (await ssh(vm, key, "cut -d' ' -f1 /proc/modules")).split("\n");
        assert.ok(modules.includes("br_netfilter") && modules.includes("overlay"), modules.join(" "));
        assert.equal((await ssh(vm, key, "cat /proc/sys/net/ipv4/ip_forward")).trim(), "1");
    });
    await t.test("the data disk is ext4 labelled boot2docker-data, mounted, with /var/lib/boot2docker on it", async () => {
        const mounts = await ssh(vm, key, "grep ^/dev/vda /proc/mounts; readlink /var/lib/boot2docker; sudo findfs LABEL=boot2docker-data");
        assert.match(mounts, /^\/dev\/vda \/mnt\/vda ext4 /m);
        assert.match(mounts, /^\/mnt\/vda\/var\/lib\/boot2docker$/m);
        assert.match(mounts, /^\/dev\/vda$/m);
        assert.match(await ssh(vm, key, "ls /var/lib/boot2docker"), /^userdata\.tar$/m);
    });
    await t.test("the seed under boot2docker/ in the disk's tar is in /var/lib/boot2docker, its CA in the system store", async () => {
        const seeded = await ssh(vm, key, "cat /var/lib/boot2docker/certs/kdw-vm-test-ca.pem");
        assert.equal(seeded, readFileSync(seedCa, "utf8"));
        assert.ok((await ssh(vm, key, "cat /etc/ssl/certs/ca-certificates.crt")).includes(seeded.trim()));
    });
    await t.test("a reboot keeps /var/lib/boot2docker and Docker's images; SSH comes back", async () => {
        await ssh(vm, key, "echo kept | sudo tee /var/lib/boot2docker/reboot-check >/dev/null");
        const bootId = await ssh(vm, key, "cat /proc/sys/kernel/random/boot_id");
        const rebooted = Date.now();
        await ssh(vm, key, "sudo reboot").catch(() => undefined);
        // SSH may still answer while the old boot shuts down: the new boot has another boot_id.
        let seconds: number;
        for (;;) {
            seconds = await waitForSsh(vm, key, "boot1", rebooted, 150);
            if (await ssh(vm, key, "cat /proc/sys/kernel/random/boot_id").catch(() => bootId) !== bootId) break;
            await sleep(500);
        }
        report(`reboot to SSH: ${seconds} s (from the reboot command, shutdown included)`);
        assert.equal((await ssh(vm, key, "cat /var/lib/boot2docker/reboot-check")).trim(), "kept");
        await waitForDockerPort(vm, key);
        assert.match(await ssh(vm, key, "sudo docker images --format '{{.Repository}}'"), /^kdw-vm-test$/m);
    });
    await t.test("sudo poweroff ends qemu and leaves the ext4 clean", async () => {
        await ssh(vm, key, "sudo poweroff").catch(() => undefined);
        report(`poweroff to qemu's exit: ${await waitForExit(vm, 60, "sudo poweroff")} s`);
        assert.deepEqual(await ext4State(disk), { label: "boot2docker-data", clean: true });
    });

    // Third boot: the disk is found by its label, not formatted again; the ACPI power button shuts down cleanly.
    start = Date.now();
    const third = await boot(iso, disk, accel, "boot3");
    report(`boot with the formatted disk to SSH: ${await waitForSsh(third, key, "boot3", start, 150)} s`);
    await t.test("the formatted disk is mounted again, not formatted (the reboot's file is there)", async () => {
        assert.equal((await ssh(third, key, "cat /var/lib/boot2docker/reboot-check")).trim(), "kept");
    });
    await t.test("the ACPI power button (qemu's system_powerdown) powers off cleanly through acpid", async () => {
        await qmpCommand(third.qmp, "system_powerdown");
        report(`power button to qemu's exit: ${await waitForExit(third, 60, "the power button")} s`);
        assert.deepEqual(await ext4State(disk), { label: "boot2docker-data", clean: true });
    });
});
