// Host scripts: shellcheck-clean as POSIX sh (boot2docker has only busybox sh), and the pieces that can run on this
// machine run for real: the file writer, the command line quoting, and kdw-routes inside a network namespace.
import * as assert from "node:assert/strict";
import { execFile, execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import { existsSync, mkdtempSync as mkdtemp, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { validateConfig } from "../config";
import { HOST_SCRIPT_LIBRARIES, machineCreateScript, sweepCommand } from "../components/machineHost";
import { HOST_SCRIPT_DIR, hostScript, LOCAL_SCRIPT_DIR, localScript, render, scriptCommand, shellQuote, stepScript, withAdminKubeconfig } from "../host/remote";
import { WORKER_SCRIPT_LIBRARIES } from "../components/workerNode";
import { APISERVER_SCRIPT_LIBRARIES } from "../components/controlPlane";
import { ETCD_SNAPSHOT_LIBRARY } from "../components/etcdSnapshots";
import { ETCDCTL_LIBRARY } from "../components/etcdMembership";
import { VIP_HANDOVER_LIBRARY, vipHandoverProgram } from "../components/apiServerVip";
import { processTable } from "./processes";

/** A scratch folder, removed when the test process ends. */
const scratchDirs: string[] = [];
process.on("exit", () => scratchDirs.forEach(dir => rmSync(dir, { recursive: true, force: true })));
function mkdtempSync(prefix: string): string {
    const dir = mkdtemp(prefix);
    scratchDirs.push(dir);
    return dir;
}

/** Every POSIX sh script the program runs: on the hosts (host/scripts/) and on the machine running Pulumi (host/local/). */
const shellScripts = [HOST_SCRIPT_DIR, LOCAL_SCRIPT_DIR].flatMap(dir =>
    readdirSync(dir).filter(f => f.endsWith(".sh")).map(f => path.join(dir, f)));

function shellcheck(file: string, ...options: string[]): { status: number | null; output: string } {
    const result = spawnSync("shellcheck", ["--shell=sh", "--severity=style", ...options, file], { encoding: "utf8" });
    if (result.error) {
        throw new Error(`shellcheck could not run (${result.error.message}); install it: apt-get install -y shellcheck`);
    }
    return { status: result.status, output: result.stdout + result.stderr };
}

test("there are host scripts to check", () => {
    assert.ok(shellScripts.length >= 15, `only ${shellScripts.length} scripts found in ${HOST_SCRIPT_DIR} and ${LOCAL_SCRIPT_DIR}`);
});

for (const file of shellScripts) {
    test(`shellcheck --shell=sh: ${path.relative(path.join(HOST_SCRIPT_DIR, "..", ".."), file)}`, () => {
        const { status, output } = shellcheck(file);
        assert.equal(status, 0, output);
    });
}

test("shellcheck: scripts as sent, with the file writer and their libraries, and the probe's sweep", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kdw-sc-"));
    const cfg = validateConfig({ binarySource: "/bin" }, { fileExists: () => true });
    const sent: Record<string, string> = {
        "etcd.sh": stepScript({ script: hostScript("etcd.sh"), files: [], libraries: [ETCD_SNAPSHOT_LIBRARY] }),
        "control-plane.sh": stepScript({
            script: hostScript("control-plane.sh"), files: [], libraries: [...APISERVER_SCRIPT_LIBRARIES, ETCD_SNAPSHOT_LIBRARY],
        }),
        "etcd-snapshot.sh": stepScript({ script: hostScript("etcd-snapshot.sh"), files: [] }),
        "etcd-membership.sh": stepScript({ script: hostScript("etcd-membership.sh"), files: [], libraries: [ETCDCTL_LIBRARY] }),
        "etcd-restore.sh": stepScript({ script: hostScript("etcd-restore.sh"), files: [], libraries: [...APISERVER_SCRIPT_LIBRARIES, ETCDCTL_LIBRARY] }),
        "encryption.sh": stepScript({ script: hostScript("encryption.sh"), files: [], libraries: APISERVER_SCRIPT_LIBRARIES }),
        "worker.sh": stepScript({ script: hostScript("worker.sh"), files: [], libraries: WORKER_SCRIPT_LIBRARIES }),
        "host.sh": stepScript({ script: hostScript("host.sh"), files: [], libraries: HOST_SCRIPT_LIBRARIES }),
        "pod-routes.sh": stepScript({ script: hostScript("pod-routes.sh"), files: [] }),
        "kube-vip.sh": stepScript({ script: hostScript("kube-vip.sh"), files: [], libraries: [VIP_HANDOVER_LIBRARY] }),
        // Run on the machine running Pulumi, with the admin kubeconfig's library.
        "node-drain.sh": withAdminKubeconfig("node-drain.sh"),
        "api-ready.sh": withAdminKubeconfig("api-ready.sh"),
        "rewrite-secrets.sh": withAdminKubeconfig("rewrite-secrets.sh"),
    };
    for (const [file, text] of Object.entries(sent)) {
        const composed = path.join(dir, file);
        writeFileSync(composed, text);
        const { status, output } = shellcheck(composed);
        assert.equal(status, 0, output);
    }
    // The sweep carries host.sh as one quoted word (checked above as sent): no expansion in it is meant.
    const sweep = path.join(dir, "sweep.sh");
    writeFileSync(sweep, sweepCommand(cfg));
    const { status, output } = shellcheck(sweep, "--exclude=SC2016");
    assert.equal(status, 0, output);
});

test("shellcheck: the project's own scripts (toolchain, hosts, images, e2e, local, fresh clone, CI), following sourced files", () => {
    const root = path.join(HOST_SCRIPT_DIR, "..", "..");
    const files = [
        ...readdirSync(path.join(root, "scripts")).filter(f => f.endsWith(".sh")).map(f => path.join("scripts", f)),
        // Sourced files, each on its own: shellcheck reports nothing in a file it only follows from a `source`.
        ...["scripts/hosts/lib", "scripts/toolchain"].flatMap(dir =>
            readdirSync(path.join(root, dir)).filter(f => f.endsWith(".sh")).map(f => path.join(dir, f))),
        "scripts/hosts/kdw-runc", "test/toolchain/run.sh", "test/fresh-clone/run.sh", ".ci/run",
        // The boot2docker kind's boot, Docker init script and sethostname: busybox sh.
        ...["etc/init.d/rcS", "etc/init.d/docker", "etc/init.d/rc.shutdown", "usr/bin/sethostname"]
            .map(f => path.join("scripts/hosts/boot2docker/rootfs", f)),
        // The ISO's /init and early boot, shutdown, DHCP hook and power button: busybox sh too.
        ...["init", "rootfs/etc/init.d/vm-boot", "rootfs/etc/init.d/vm-shutdown", "rootfs/usr/share/udhcpc/default.script",
            "rootfs/etc/acpi/PWRF/00000080"].map(f => path.join("scripts/hosts/boot2docker-vm", f)),
    ];
    assert.ok(files.length >= 8, `only ${files.join(", ")}`);
    const result = spawnSync("shellcheck", ["--external-sources", "--severity=style", ...files], { cwd: root, encoding: "utf8" });
    assert.equal(result.status, 0, result.stdout + result.stderr);
});

/** `env` after sourcing the given scripts of the project in bash, with no passphrase set and HOME a scratch folder. */
function envAfterSourcing(scripts: string[], extra: Record<string, string> = {}): { env: Map<string, string>; home: string } {
    const root = path.join(HOST_SCRIPT_DIR, "..", "..");
    const home = mkdtempSync(path.join(os.tmpdir(), "kdw-home-"));
    const env: Record<string, string> = { PATH: process.env.PATH ?? "", HOME: home, ...extra };
    const out = execFileSync("bash", ["-c", `${scripts.map(s => `source ${s} 2>/dev/null;`).join(" ")} env -0`],
        { cwd: root, env, encoding: "utf8" });
    const entries = out.split("\0").filter(Boolean).map(e => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)] as [string, string]);
    return { env: new Map(entries), home };
}

test("sourcing scripts/env.sh sets no stack passphrase and makes no passphrase file: Pulumi asks the user for theirs", () => {
    const { env, home } = envAfterSourcing(["scripts/env.sh"]);
    assert.ok(env.get("PULUMI_BACKEND_URL")?.startsWith("file://"), "env.sh was not sourced");
    assert.deepEqual([...env.keys()].filter(k => k.startsWith("PULUMI_CONFIG_PASSPHRASE")), []);
    assert.deepEqual(readdirSync(home, { recursive: true }), [], "env.sh wrote into HOME");
});

test("scripts/test-stacks.sh: the test stacks' passphrase is the user's when set, else a random file of the work tree's, " +
    "mode 0600, kept between runs", () => {
    const tree = mkdtempSync(path.join(os.tmpdir(), "kdw-tree-"));
    const first = envAfterSourcing(["scripts/test-stacks.sh"], { KDW_REPO_ROOT: tree }).env;
    const file = path.join(tree, ".cache", "test-passphrase");
    assert.equal(first.get("PULUMI_CONFIG_PASSPHRASE_FILE"), file);
    assert.equal(first.get("PULUMI_CONFIG_PASSPHRASE"), undefined);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const passphrase = readFileSync(file, "utf8").trim();
    assert.ok(Buffer.from(passphrase, "base64").length === 32, `not 32 random bytes: ${passphrase.length} characters`);
    envAfterSourcing(["scripts/test-stacks.sh"], { KDW_REPO_ROOT: tree });
    assert.equal(readFileSync(file, "utf8").trim(), passphrase, "a second run made another passphrase");
    const other = mkdtempSync(path.join(os.tmpdir(), "kdw-tree-"));
    envAfterSourcing(["scripts/test-stacks.sh"], { KDW_REPO_ROOT: other });
    assert.notEqual(readFileSync(path.join(other, ".cache", "test-passphrase"), "utf8").trim(), passphrase,
        "two work trees share a passphrase");
    const owns: Record<string, string>[] = [
        { PULUMI_CONFIG_PASSPHRASE: "mine" }, { PULUMI_CONFIG_PASSPHRASE: "" }, { PULUMI_CONFIG_PASSPHRASE_FILE: "/mine" }];
    for (const own of owns) {
        const kept = envAfterSourcing(["scripts/test-stacks.sh"], { KDW_REPO_ROOT: other, ...own }).env;
        for (const [k, v] of Object.entries(own)) { assert.equal(kept.get(k), v, `${k} not kept`); }
        if (!("PULUMI_CONFIG_PASSPHRASE_FILE" in own)) { assert.equal(kept.get("PULUMI_CONFIG_PASSPHRASE_FILE"), undefined); }
    }
});

test("shellcheck: the generated docker-machine create script", () => {
    const cfg = validateConfig({ binarySource: "/bin", machineDriver: "generic", apiServerVip: "10.0.0.250",
        genericHosts: [0, 1, 2, 3, 4, 5].map(i => ({ address: `10.0.0.${i + 1}`, sshUser: "me", sshKeyPath: "/key" })) },
    { fileExists: () => true });
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), "kdw-sc-")), "create.sh");
    writeFileSync(file, machineCreateScript(cfg.workers[0], cfg));
    const { status, output } = shellcheck(file);
    assert.equal(status, 0, output);
    // Before docker-machine, over SSH to that host: Docker started again where a killed create left it stopped.
    const script = machineCreateScript(cfg.workers[0], cfg);
    assert.match(script, /^set -e\nssh -i \/key -p 22 .* me@10\.0\.0\.4 '.*systemctl start docker.*\/etc\/init\.d\/docker start <\/dev\/null\nfi' >&2 \|\| true\ncreate\(\) /s);
});

test("shellcheck finds a real problem (the check can fail)", () => {
    const bad = path.join(mkdtempSync(path.join(os.tmpdir(), "kdw-sc-")), "bad.sh");
    writeFileSync(bad, "echo $undefined_var_with_spaces\nfor f in $(ls); do echo $f; done\n");
    assert.notEqual(shellcheck(bad).status, 0);
});

test("the file writer writes each file with its mode, and a re-run leaves unchanged files alone", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kdw-files-"));
    const files = [
        { path: `${dir}/a/key.pem`, mode: "0600", content: "-----BEGIN KEY-----\nsecret\n" },
        { path: `${dir}/b/c/config.yaml`, mode: "0644", content: "x: 1\n  'quoted' \"too\"\n" },
    ];
    const stdin = files.map(f => `${f.path} ${f.mode} ${Buffer.from(f.content).toString("base64")}\n`).join("");
    const run = () => execFileSync("sh", ["-c", `set -eu\n${hostScript("lib-files.sh")}\nkdw_write_files`], { input: stdin });
    run();
    for (const f of files) {
        assert.equal(readFileSync(f.path, "utf8"), f.content);
        assert.equal((statSync(f.path).mode & 0o777).toString(8), f.mode.slice(1));
    }
    const before = statSync(files[0].path).mtimeMs;
    execFileSync("sleep", ["0.05"]);
    run();
    assert.equal(statSync(files[0].path).mtimeMs, before, "an unchanged file was rewritten");
});

test("script command lines carry settings with quoting intact and run the given action", () => {
    const script = 'set -eu\nprintf "%s|%s|%s" "$1" "$A" "$B"';
    const line = scriptCommand(script, "down", { A: "it's got spaces & $dollars", B: "--flag=1 --other=x,y" });
    assert.equal(execFileSync("sh", ["-c", line], { encoding: "utf8" }), "down|it's got spaces & $dollars|--flag=1 --other=x,y");
    assert.equal(shellQuote("plain-value_1.2/3"), "plain-value_1.2/3");
});

test("every step script is sent with its lock, named after the script, taken before anything else runs", () => {
    for (const [file, libraries] of [["worker.sh", WORKER_SCRIPT_LIBRARIES], ["host.sh", HOST_SCRIPT_LIBRARIES],
        ["etcd.sh", [ETCD_SNAPSHOT_LIBRARY]], ["control-plane.sh", [ETCD_SNAPSHOT_LIBRARY]], ["kube-vip.sh", []],
        ["pod-routes.sh", []], ["etcd-snapshot.sh", []]] as const) {
        const sent = stepScript({ script: hostScript(file), libraries: [...libraries], files: [] });
        assert.ok(sent.startsWith(`${hostScript("lib-step.sh")}\nkdw_step_lock ${file.replace(/\.sh$/, "")}\n`),
            `${file} is not sent with its lock first`);
    }
    const cfg = validateConfig({ binarySource: "/bin" }, { fileExists: () => true });
    assert.match(sweepCommand(cfg), /kdw_step_lock host\n/, "the probe's sweep does not take the host's lock");
    assert.doesNotMatch(stepScript({ script: "set -eu\necho not a host script of ours\n" }), /kdw_step_lock/);
});

test("the step lock: taken and held by the step and what it runs, and a step still holding it is stopped first", (t) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kdw-lock-"));
    const step = (body: string) => `set -eu\n${hostScript("lib-step.sh")}\nkdw_step_lock worker\n${body}`;
    // The earlier step, in a session of its own like a step whose SSH session closed, runs `sleep` (which inherits the
    // lock's descriptor) until it is stopped.
    const earlier = spawn("setsid", ["sh", "-c", step("echo started; sleep 603; echo not stopped")],
        { env: { ...process.env, KDW_ETC: `${dir}/etc` }, stdio: ["ignore", "pipe", "ignore"] });
    t.after(() => earlier.kill("SIGKILL"));
    let out = "";
    earlier.stdout.on("data", d => { out += d; });
    for (let i = 0; i < 100 && !out.includes("started"); i++) {
        execFileSync("sleep", ["0.05"]);
    }
    const lock = `${dir}/etc/locks/worker.lock`;
    assert.equal(spawnSync("flock", ["-n", lock, "true"]).status, 1, "the step does not hold its lock with flock");
    assert.equal((statSync(`${dir}/etc/locks`).mode & 0o777).toString(8), "700");
    const next = spawnSync("sh", ["-c", step("echo ran")], { encoding: "utf8", env: { ...process.env, KDW_ETC: `${dir}/etc` }, timeout: 30_000 });
    assert.equal(next.status, 0, next.stderr);
    assert.equal(next.stdout, "ran\n");
    assert.match(next.stderr, /stopping a step of an interrupted run still running here \(worker\.lock: processes \d+ \d+ \)/);
    assert.equal(spawnSync("pgrep", ["-f", "^sleep 603"]).status, 1, "what the earlier step ran still runs");
    assert.ok(!out.includes("not stopped"));
    // Free again: the next step starts at once, saying nothing.
    const third = spawnSync("sh", ["-c", step("echo ran")], { encoding: "utf8", env: { ...process.env, KDW_ETC: `${dir}/etc` } });
    assert.deepEqual([third.status, third.stdout, third.stderr], [0, "ran\n", ""]);
});

test("kdw_remove_tree finishes a removal that files vanishing under it failed (busybox's rm), and reports a real failure", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kdw-rm-"));
    const realRm = execFileSync("sh", ["-c", "command -v rm"], { encoding: "utf8" }).trim();
    // busybox's rm racing another remover: its first pass fails on a file that was gone when it got to it.
    writeFileSync(`${dir}/rm`, `#!/bin/sh\nif [ ! -f "${dir}/raced" ]; then : > "${dir}/raced"\n` +
        `echo "rm: can't remove '$2/snapshots/3/fs/var': No such file or directory" >&2; exit 1; fi\nexec ${realRm} "$@"\n`, { mode: 0o755 });
    execFileSync("mkdir", ["-p", `${dir}/tree/snapshots/3/fs/var`, `${dir}/other`]);
    const remove = (target: string) => spawnSync("sh", ["-c", `set -eu\n${hostScript("lib-cleanup.sh")}\nkdw_remove_tree "$1" "$2"`,
        "kdw", target, `${dir}/other`], { encoding: "utf8", env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
    const raced = remove(`${dir}/tree`);
    assert.deepEqual([raced.status, raced.stderr], [0, ""]);
    assert.ok(!existsSync(`${dir}/tree`) && !existsSync(`${dir}/other`));
    // A removal that keeps failing fails the step, with the last pass's error only.
    writeFileSync(`${dir}/rm`, `#!/bin/sh\necho "rm: can't remove '$2': Device or resource busy" >&2\nexit 1\n`, { mode: 0o755 });
    const busy = remove(`${dir}/busy`);
    assert.equal(busy.status, 1);
    assert.equal(busy.stderr, `rm: can't remove '${dir}/busy': Device or resource busy\n`);
});

test("kdw_kill_under ends processes run from the folder by its path or its resolved path (boot2docker's linked " +
    "/var/lib/boot2docker), and leaves others alone", (t) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kdw-kill-"));
    execFileSync("mkdir", ["-p", `${dir}/disk/kdw/bin`]);
    symlinkSync(`${dir}/disk`, `${dir}/linked`);
    execFileSync("cp", [execFileSync("sh", ["-c", "command -v sleep"], { encoding: "utf8" }).trim(), `${dir}/disk/kdw/bin/shim`]);
    execFileSync("cp", [`${dir}/disk/kdw/bin/shim`, `${dir}/other-sleep`]);
    // As containerd starts a shim: by the resolved path; and one by the linked path; and one outside the folder.
    const started = [`${dir}/disk/kdw/bin/shim`, `${dir}/linked/kdw/bin/shim`, `${dir}/other-sleep`]
        .map(program => spawn(program, ["607"], { stdio: "ignore" }));
    t.after(() => started.forEach(p => p.kill("SIGKILL")));
    const running = () => started.map(p => p.pid !== undefined && existsSync(`/proc/${p.pid}`) &&
        !readFileSync(`/proc/${p.pid}/stat`, "utf8").includes(") Z "));
    assert.deepEqual(running(), [true, true, true]);
    const r = spawnSync("sh", ["-c", `set -eu\n${hostScript("lib-cleanup.sh")}\nkdw_kill_under "$1"`, "kdw", `${dir}/linked/kdw`],
        { encoding: "utf8" });
    assert.deepEqual([r.status, r.stderr], [0, ""]);
    assert.deepEqual(running(), [false, false, true]);
});

test("templates: a missing value or an unused value is an error", () => {
    assert.equal(render("a={{A}}", { A: 1 }), "a=1");
    assert.throws(() => render("a={{A}} b={{B}}", { A: 1 }), /\{\{B\}\} has no value/);
    assert.throws(() => render("a={{A}}", { A: 1, C: 2 }), /no placeholder for C/);
});

/** A network namespace with one link on 192.168.99.0/24 (the hosts' network), removed when the test ends. */
function networkNamespace(t: { after: (fn: () => void) => void }): { ns: string; inNs: (cmd: string) => string } {
    if (process.getuid?.() !== 0) {
        assert.fail("this test needs root to make a network namespace (CI runs as root)");
    }
    if (spawnSync("iptables", ["--version"]).error) {
        assert.fail("iptables is missing: apt-get install -y iptables");
    }
    const ns = `kdw-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    execFileSync("ip", ["netns", "add", ns]);
    t.after(() => spawnSync("ip", ["netns", "del", ns]));
    const inNs = (cmd: string) => execFileSync("ip", ["netns", "exec", ns, "sh", "-c", cmd], { encoding: "utf8" });
    inNs("ip link add kdw0 type veth peer name kdw1 && ip addr add 192.168.99.1/24 dev kdw0 && ip link set kdw0 up && ip link set kdw1 up");
    return { ns, inNs };
}

/** kdw-routes as installed on a host, with a table. */
function routesProgram(table: string): { program: string; table: string; home: string } {
    const home = mkdtempSync(path.join(os.tmpdir(), "kdw-home-"));
    const program = path.join(home, "kdw-routes");
    writeFileSync(program, hostScript("kdw-routes.sh"), { mode: 0o755 });
    writeFileSync(path.join(home, "pod-routes"), table);
    return { program, table: path.join(home, "pod-routes"), home };
}

/**
 * How kdw-routes runs: with this machine's tools (iproute2, like the systemd hosts), or with busybox's sh, ip, awk and
 * sort, like boot2docker (whose ip neither shows nor filters a route's protocol).
 */
function runner(tools: "iproute2" | "busybox"): string[] {
    if (tools === "iproute2") {
        return [];
    }
    const busybox = spawnSync("sh", ["-c", "command -v busybox"], { encoding: "utf8" }).stdout.trim();
    if (!busybox) {
        assert.fail("busybox is missing: apt-get install -y busybox-static");
    }
    const bin = mkdtempSync(path.join(os.tmpdir(), "kdw-busybox-"));
    for (const applet of ["sh", "ip", "awk", "sort", "cat", "cmp", "mv", "rm", "sleep", "modprobe"]) {
        symlinkSync(busybox, path.join(bin, applet));
    }
    return ["env", `PATH=${bin}:${process.env.PATH}`, busybox, "sh"];
}

const table = (...lines: string[]) => ["# pod network of a worker", ...lines, ""].join("\n");
const workerTable = table("masquerade 10.200.0.0/16", "route 10.200.1.0/24 192.168.99.51", "route 10.200.2.0/24 192.168.99.52");
const ourRules = (inNs: (cmd: string) => string) =>
    inNs("iptables -w -t nat -S POSTROUTING").split("\n").filter(l => l.startsWith("-A "));

for (const tools of ["iproute2", "busybox"] as const) {
    test(`kdw-routes apply in a network namespace (${tools}): adds what is missing, removes stale routes of ours, leaves the rest alone, twice is a no-op`, (t) => {
        const { ns, inNs } = networkNamespace(t);
        const { program, table: tableFile } = routesProgram(table(
            "masquerade 10.100.0.0/16", "route 10.200.1.0/24 192.168.99.51", "route 10.200.2.0/24 192.168.99.59",
            "route 10.200.7.0/24 192.168.99.57"));
        const pass = (): string => {
            const result = spawnSync("ip", ["netns", "exec", ns, ...runner(tools), program, "apply", tableFile], { encoding: "utf8" });
            assert.equal(result.status, 0, result.stderr);
            return result.stdout;
        };
        // Not ours: a route elsewhere, a route to a pod-like range never in our table, Docker's masquerade rule.
        inNs("ip route add 10.99.0.0/24 via 192.168.99.60");
        inNs("ip route add 10.200.9.0/24 via 192.168.99.69");
        inNs("iptables -w -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE");
        inNs("echo 0 > /proc/sys/net/ipv4/ip_forward");
        // An older table applied: worker 7 is gone since, range 2 has moved to another worker, the cluster range changed.
        pass();
        writeFileSync(tableFile, workerTable);

        const first = pass();
        assert.match(first, /removed 10\.200\.7\.0\/24 via 192\.168\.99\.57/);
        assert.match(first, /added 10\.200\.2\.0\/24 via 192\.168\.99\.52/);
        assert.match(first, /removed masquerade rule -s 10\.100\.0\.0\/16/);
        const expectedRoutes = [
            "10.99.0.0/24 via 192.168.99.60 dev kdw0",
            "10.200.9.0/24 via 192.168.99.69 dev kdw0",
            "10.200.1.0/24 via 192.168.99.51 dev kdw0 proto 201",
            "10.200.2.0/24 via 192.168.99.52 dev kdw0 proto 201",
            "192.168.99.0/24 dev kdw0 proto kernel scope link src 192.168.99.1",
        ].sort();
        const routes = () => inNs("ip route show").trim().split("\n").map(l => l.trim()).sort();
        assert.deepEqual(routes(), expectedRoutes);
        assert.deepEqual(ourRules(inNs), [
            "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE",
            "-A POSTROUTING -s 10.200.0.0/16 ! -d 10.200.0.0/16 -m comment --comment kdw-pod-egress -j MASQUERADE",
        ]);
        assert.equal(inNs("cat /proc/sys/net/ipv4/ip_forward").trim(), "1");

        assert.equal(pass(), "", "a second pass changed something");
        assert.deepEqual(routes(), expectedRoutes);
        assert.equal(ourRules(inNs).length, 2);

        // Drift: a route deleted by hand, then all of ours flushed, a duplicate masquerade rule: one pass repairs each.
        inNs("ip route del 10.200.1.0/24");
        assert.equal(pass(), "kdw-routes: added 10.200.1.0/24 via 192.168.99.51\n");
        inNs("ip route flush proto 201");
        inNs("iptables -w -t nat -A POSTROUTING -s 10.200.0.0/16 ! -d 10.200.0.0/16 -m comment --comment kdw-pod-egress -j MASQUERADE");
        pass();
        assert.deepEqual(routes(), expectedRoutes);
        assert.equal(ourRules(inNs).length, 2, "the duplicate masquerade rule stayed");

        // A route whose gateway is not on any link cannot be applied: the pass says so and fails.
        writeFileSync(tableFile, `${workerTable}route 10.200.3.0/24 10.9.9.9\n`);
        const bad = spawnSync("ip", ["netns", "exec", ns, ...runner(tools), program, "apply", tableFile], { encoding: "utf8" });
        assert.notEqual(bad.status, 0);
        assert.match(bad.stderr, /does not match/);
    });
}

test("kdw-routes down in a network namespace: our routes, our masquerade rule, the table and its record go, the rest stays; twice is fine", (t) => {
    const { inNs } = networkNamespace(t);
    const { program, table: tableFile, home } = routesProgram(workerTable);
    inNs("ip route add 10.99.0.0/24 via 192.168.99.60");
    inNs(`${program} apply ${tableFile}`);
    // boot2docker profile: no systemd here, and no kdw-service installed in this scratch home.
    const down = `KDW_PROFILE=boot2docker KDW_HOME=${home} KDW_ETC=${home} ${program} down`;
    execFileSync("mkdir", ["-p", `${home}/boot.d`]);
    writeFileSync(`${home}/boot.d/60-routes`, "boot step\n");
    inNs(down);
    inNs(down);
    assert.deepEqual(inNs("ip route show proto 201"), "");
    assert.match(inNs("ip route show"), /10\.99\.0\.0\/24 via 192\.168\.99\.60/);
    assert.deepEqual(ourRules(inNs), []);
    assert.deepEqual(readdirSync(home).sort(), ["boot.d", "kdw-routes"]);
    assert.deepEqual(readdirSync(`${home}/boot.d`), []);
});

/** The processes of a process group, running or not yet waited for. */
const groupMembers = (group: number) => processTable().filter(p => p.pgrp === group).map(({ pid, cmdline }) => ({ pid, cmdline }));

async function until<T>(what: string, body: () => T | undefined, seconds = 10): Promise<T> {
    for (const deadline = Date.now() + seconds * 1000; Date.now() < deadline; await new Promise(r => setTimeout(r, 100))) {
        const value = body();
        if (value) {
            return value;
        }
    }
    throw new Error(`not within ${seconds}s: ${what}`);
}

// boot2docker runs the node services under kdw-service with busybox's sh; the system sh (dash) must work as well.
for (const shell of [["sh"], ["busybox", "sh"]]) {
    test(`kdw-service under ${shell.join(" ")}: starts once, with its folder first in PATH, restarts the service, stop ends both`, async (t) => {
        if (process.getuid?.() !== 0) {
            assert.fail("this test needs root: kdw-service keeps its pid files in /var/run/kdw (CI runs as root)");
        }
        const dir = mkdtempSync(path.join(os.tmpdir(), "kdw-svc-"));
        writeFileSync(path.join(dir, "kdw-service"), hostScript("kdw-service.sh"), { mode: 0o755 });
        const name = `kdw-test-${process.pid}-${shell.length}`;
        const pidfile = `/var/run/kdw/${name}.pid`;
        const log = `/var/log/kdw/${name}.log`;
        const service = (...args: string[]) =>
            execFileSync(shell[0], [...shell.slice(1), path.join(dir, "kdw-service"), ...args], { encoding: "utf8" });
        t.after(() => {
            spawnSync(shell[0], [...shell.slice(1), path.join(dir, "kdw-service"), "stop", name]);
            rmSync(log, { force: true });
        });

        service("start", name, "sh", "-c", 'echo "path=$PATH"; exec sleep 300');
        const supervisor = Number(readFileSync(pidfile, "utf8"));
        await until("the service logs its PATH", () => readFileSync(log, "utf8").includes(`path=${dir}:`));
        service("start", name, "sh", "-c", "exec sleep 301");
        assert.equal(Number(readFileSync(pidfile, "utf8")), supervisor, "a second start replaced the running service");

        const first = await until("the service runs", () => groupMembers(supervisor).find(p => p.cmdline === "sleep 300"));
        process.kill(first.pid);
        await until("the supervisor restarts the service", () =>
            groupMembers(supervisor).find(p => p.cmdline === "sleep 300" && p.pid !== first.pid), 15);
        assert.match(readFileSync(log, "utf8"), /kdw-service: exited with \d+, restarting in 2s/);

        service("stop", name);
        assert.deepEqual(groupMembers(supervisor), [], "processes of the service outlived stop");
        assert.ok(!existsSync(pidfile), "stop left the pid file");
    });
}

test("kube-vip.sh in a network namespace: runs kube-vip on the interface of the host's address, installs the hand-over at shutdown (a systemd unit stopped before Docker), clears a leftover VIP, refuses a VIP off the network; down removes the unit", (t) => {
    if (process.getuid?.() !== 0) {
        assert.fail("this test needs root to make a network namespace (CI runs as root)");
    }
    const ns = `kdw-vip-${process.pid}`;
    const dir = mkdtempSync(path.join(os.tmpdir(), "kdw-vip-"));
    // docker, curl and systemctl are stand-ins that log their arguments (curl: the API answers); ip and awk are real.
    execFileSync("mkdir", ["-p", `${dir}/stubs`, `${dir}/etc`, `${dir}/units`, `${dir}/home`]);
    for (const tool of ["docker", "curl", "systemctl"]) {
        writeFileSync(`${dir}/stubs/${tool}`, `#!/bin/sh\necho "${tool} $*" >> ${dir}/calls\n`, { mode: 0o755 });
    }
    execFileSync("ip", ["netns", "add", ns]);
    t.after(() => spawnSync("ip", ["netns", "del", ns]));
    const inNs = (cmd: string, input = "") => spawnSync("ip", ["netns", "exec", ns, "sh", "-c", cmd],
        { encoding: "utf8", input, env: { ...process.env, PATH: `${dir}/stubs:${process.env.PATH}` } });
    inNs("ip link add kdw0 type veth peer name kdw1 && ip addr add 192.168.99.10/24 dev kdw0 && ip link set kdw0 up && ip link set kdw1 up");
    const script = stepScript({ script: hostScript("kube-vip.sh"), files: [], libraries: [VIP_HANDOVER_LIBRARY] });
    const env = (vip: string) => ({ KDW_PROFILE: "systemd", KDW_HOME: `${dir}/home`, KDW_UNITS: `${dir}/units`, KDW_ETC: `${dir}/etc`, KDW_IMAGE: "registry.example/kube-vip/kube-vip:v0.9.2",
        KDW_NODE: "kdw-controller-0", KDW_HOST_IP: "192.168.99.10", KDW_VIP: vip, KDW_PORT: "6443", KDW_LEASE: "plndr-cp-lock",
        KDW_KUBE_VIP_ARGS: "manager --arp" });
    const files = `${dir}/etc/kube-vip/kube-vip.kubeconfig 0600 ${Buffer.from("kubeconfig\n").toString("base64")}\n`;
    const calls = () => (spawnSync("cat", [`${dir}/calls`], { encoding: "utf8" }).stdout ?? "").trim().split("\n").filter(Boolean);
    const vipAddresses = () => inNs("ip -o -4 addr show | awk '$4 ~ /^192\\.168\\.99\\.250\\// { print $2 }'").stdout.trim();

    inNs("ip addr add 192.168.99.250/32 dev kdw0"); // as a killed kube-vip leaves it
    const up = inNs(scriptCommand(script, "up", env("192.168.99.250")), files);
    assert.equal(up.status, 0, up.stderr);
    assert.match(up.stdout, /the API answers on 192\.168\.99\.250/);
    assert.equal(vipAddresses(), "", "the leftover VIP was not removed before kube-vip started");
    assert.equal(readFileSync(`${dir}/etc/kube-vip/kube-vip.kubeconfig`, "utf8"), "kubeconfig\n");
    const run = calls().find(c => c.startsWith("docker run"));
    assert.ok(run, calls().join("\n"));
    assert.match(run, /--restart always --network host --cap-add NET_ADMIN --cap-add NET_RAW /);
    assert.ok(run.endsWith("registry.example/kube-vip/kube-vip:v0.9.2 manager --arp --interface=kdw0"), run);
    assert.ok(run.includes(`--volume ${dir}/etc/kube-vip/kube-vip.kubeconfig:/etc/kubernetes/admin.conf:ro`), run);
    const unit = readFileSync(`${dir}/units/kdw-vip-handover.service`, "utf8");
    assert.match(unit, /^Description=kube-dumb-way: /m, "the sweep finds our units by their Description");
    assert.match(unit, /^After=docker\.service$/m, "not stopped before Docker at shutdown");
    assert.ok(unit.includes(`ExecStop=/bin/sh -c '[ "$$(systemctl is-system-running)" != stopping ] || ` +
        `[ ! -f ${dir}/etc/kube-vip/kdw-vip-handover ] || sh ${dir}/etc/kube-vip/kdw-vip-handover'`), unit);
    assert.ok(calls().includes("systemctl enable kdw-vip-handover.service") && calls().includes("systemctl start kdw-vip-handover.service"),
        calls().join("\n"));
    const again = inNs(scriptCommand(script, "up", env("192.168.99.250")), files);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(calls().filter(c => c === "systemctl daemon-reload").length, 1, "an unchanged unit was written again");

    inNs("ip addr add 192.168.99.250/32 dev kdw0");
    for (let i = 0; i < 2; i++) {
        const down = inNs(scriptCommand(script, "down", env("192.168.99.250")));
        assert.equal(down.status, 0, down.stderr);
    }
    assert.equal(vipAddresses(), "", "down left the VIP on the interface");
    assert.equal(existsSync(`${dir}/units/kdw-vip-handover.service`), false, "down left the shutdown unit");
    assert.ok(calls().includes("systemctl disable --now kdw-vip-handover.service"), calls().join("\n"));
    assert.ok(calls().some(c => c === "docker stop --time 5 kdw-kube-vip"), "kube-vip is not stopped gracefully (it would keep the Lease)");

    for (const [vip, network] of [["192.168.100.250", "192.168.99.0/24"], ["192.168.99.255", "192.168.99.0/24"]]) {
        const before = calls().length;
        const off = inNs(scriptCommand(script, "up", env(vip)), files);
        assert.notEqual(off.status, 0, `${vip} was accepted`);
        assert.ok(off.stderr.includes(`kube-dumb-way:apiServerVip ${vip} is not a host address of kdw-controller-0's network ${network} (kdw0)`), off.stderr);
        assert.equal(calls().length, before, "something ran before the VIP was refused");
    }
});

test("the VIP's hand-over in a network namespace: the holder keeps answering on the address after kube-vip stops, until the Lease names another controller and two announcements have passed; a controller that does not hold it only stops kube-vip", (t) => {
    const { ns } = networkNamespace(t);
    const dir = mkdtempSync(path.join(os.tmpdir(), "kdw-handover-"));
    execFileSync("mkdir", ["-p", `${dir}/stubs`, `${dir}/etc/kube-vip`]);
    writeFileSync(`${dir}/etc/kube-vip/handover`, "192.168.99.250 6443 plndr-cp-lock kdw-controller-0\n");
    // Stand-ins that log what they are asked, with whether this host holds the address then: docker stop (kube-vip,
    // which drops the address as it stops), curl (the apiserver, answering the Lease's holders in turn from a file), and
    // sleep; ip, awk and sed are real.
    const holds = "$(ip -o -4 addr show | grep -c ' 192.168.99.250/32 ')";
    // kube-vip drops the address as it stops only when it holds it (the file kube-vip-holds says so here).
    writeFileSync(`${dir}/stubs/docker`, `#!/bin/sh
echo "docker $* (holds ${holds})" >> ${dir}/calls
[ "$1" != stop ] || [ ! -f ${dir}/kube-vip-holds ] || ip addr del 192.168.99.250/32 dev kdw0 2>/dev/null || true
`, { mode: 0o755 });
    writeFileSync(`${dir}/stubs/curl`, `#!/bin/sh
holder=$(head -n 1 ${dir}/holders); [ "$(wc -l < ${dir}/holders)" -le 1 ] || sed -i 1d ${dir}/holders
echo "lease read: $holder (holds ${holds})" >> ${dir}/calls
echo '{"kind":"Lease","spec":{"holderIdentity":"'"$holder"'","leaseDurationSeconds":5}}'
`, { mode: 0o755 });
    writeFileSync(`${dir}/stubs/sleep`, `#!/bin/sh\necho "sleep $* (holds ${holds})" >> ${dir}/calls\n`, { mode: 0o755 });
    const handOver = (holders: string[]) => {
        writeFileSync(`${dir}/holders`, holders.join("\n") + "\n");
        writeFileSync(`${dir}/calls`, "");
        const r = spawnSync("ip", ["netns", "exec", ns, "sh", "-c", `${hostScript(VIP_HANDOVER_LIBRARY)}\nkdw_vip_hand_over`],
            { encoding: "utf8", env: { ...process.env, KDW_ETC: `${dir}/etc`, PATH: `${dir}/stubs:${process.env.PATH}` } });
        assert.equal(r.status, 0, r.stderr);
        return { out: r.stdout, calls: readFileSync(`${dir}/calls`, "utf8").trim().split("\n") };
    };

    const addressHere = () => spawnSync("ip", ["netns", "exec", ns, "ip", "-o", "-4", "addr", "show"], { encoding: "utf8" })
        .stdout.includes("192.168.99.250/32");
    spawnSync("ip", ["netns", "exec", ns, "ip", "addr", "add", "192.168.99.250/32", "dev", "kdw0"]);
    writeFileSync(`${dir}/kube-vip-holds`, "");
    // Released by the stopping kube-vip (no holder), then taken by kdw-controller-1.
    const held = handOver(["kdw-controller-0", "", "", "kdw-controller-1"]);
    assert.deepEqual(held.calls, [
        "lease read: kdw-controller-0 (holds 1)",
        "docker stop --time 5 kdw-kube-vip (holds 1)",
        "lease read:  (holds 1)", "sleep 1 (holds 1)",
        "lease read:  (holds 1)", "sleep 1 (holds 1)",
        "lease read: kdw-controller-1 (holds 1)",
        "sleep 2 (holds 1)",
    ], "the address was not kept until the new holder's announcements had passed");
    assert.match(held.out, /the API's address 192\.168\.99\.250 handed over to kdw-controller-1 \(Lease taken within 2s\)/);
    assert.equal(addressHere(), false, "the address stayed after the hand-over");

    // Not the holder: kube-vip stops, nothing waits.
    const notHeld = handOver(["kdw-controller-1"]);
    assert.deepEqual(notHeld.calls, ["docker stop --time 5 kdw-kube-vip (holds 0)"]);

    // Holds the address but its apiserver does not answer for the Lease: kube-vip stops, the address is not taken back.
    spawnSync("ip", ["netns", "exec", ns, "ip", "addr", "add", "192.168.99.250/32", "dev", "kdw0"]);
    const unanswered = handOver([""]);
    assert.deepEqual(unanswered.calls, ["lease read:  (holds 1)", "docker stop --time 5 kdw-kube-vip (holds 1)"]);
    assert.equal(addressHere(), false, "the address was kept by a holder whose apiserver does not answer");

    // A leftover address (a hand-over killed part-way) that the Lease gives another controller, kube-vip here not
    // holding it: it goes, so that this host does not answer on it while its apiserver restarts.
    rmSync(`${dir}/kube-vip-holds`);
    spawnSync("ip", ["netns", "exec", ns, "ip", "addr", "add", "192.168.99.250/32", "dev", "kdw0"]);
    const leftover = handOver(["kdw-controller-1"]);
    assert.deepEqual(leftover.calls, ["lease read: kdw-controller-1 (holds 1)", "docker stop --time 5 kdw-kube-vip (holds 1)"]);
    assert.equal(addressHere(), false, "a leftover address stayed");
});

test("the VIP's hand-over at shutdown runs only while the system stops: the unit's ExecStop runs the program when systemd says stopping, not when the unit is stopped or removed otherwise", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kdw-vip-stop-"));
    execFileSync("mkdir", ["-p", `${dir}/stubs`, `${dir}/etc/kube-vip`, `${dir}/units`, `${dir}/home`]);
    writeFileSync(`${dir}/stubs/systemctl`, `#!/bin/sh\n[ "$1" != is-system-running ] || { cat ${dir}/state; [ "$(cat ${dir}/state)" = running ]; }\n`, { mode: 0o755 });
    const install = spawnSync("sh", ["-c", `set -eu\n${hostScript(VIP_HANDOVER_LIBRARY)}\nkdw_vip_install_shutdown_hook`], { encoding: "utf8",
        env: { ...process.env, KDW_PROFILE: "systemd", KDW_HOME: `${dir}/home`, KDW_ETC: `${dir}/etc`, KDW_UNITS: `${dir}/units`, PATH: `${dir}/stubs:${process.env.PATH}` } });
    assert.equal(install.status, 0, install.stderr);
    const execStop = /^ExecStop=\/bin\/sh -c '(.*)'$/m.exec(readFileSync(`${dir}/units/kdw-vip-handover.service`, "utf8"))?.[1];
    assert.ok(execStop);
    writeFileSync(`${dir}/etc/kube-vip/kdw-vip-handover`, `echo handed over > ${dir}/ran\n`);
    // systemd turns $$ into $ before the shell sees the command.
    const stop = (state: string) => {
        rmSync(`${dir}/ran`, { force: true });
        writeFileSync(`${dir}/state`, state + "\n");
        const r = spawnSync("sh", ["-c", execStop.replaceAll("$$", "$")], { encoding: "utf8", env: { ...process.env, PATH: `${dir}/stubs:${process.env.PATH}` } });
        assert.equal(r.status, 0, r.stderr);
        return existsSync(`${dir}/ran`);
    };
    assert.equal(stop("stopping"), true, "the hand-over did not run while the system stops");
    assert.equal(stop("running"), false, "the hand-over ran when the unit alone was stopped");
    rmSync(`${dir}/etc/kube-vip/kdw-vip-handover`);
    assert.equal(stop("stopping"), false);
});

test("the program a controller runs at shutdown is shellcheck-clean POSIX sh that hands the VIP over with the host's settings folder", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kdw-vip-program-"));
    const program = vipHandoverProgram("/etc/kdw");
    writeFileSync(`${dir}/kdw-vip-handover`, program);
    const checked = shellcheck(`${dir}/kdw-vip-handover`);
    assert.equal(checked.status, 0, checked.output);
    assert.match(program, /^KDW_ETC=\/etc\/kdw$/m);
    assert.match(program, /\nkdw_vip_hand_over\n$/);
});

test("the VIP's hand-over at shutdown on boot2docker: its line goes first in Tiny Core's shutdown script, before boot2docker's Docker stop, once however often installed; the boot hook puts it back into the script a boot made afresh; removing it leaves the script as it was", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kdw-vip-b2d-"));
    execFileSync("mkdir", ["-p", `${dir}/etc/kube-vip`, `${dir}/home`]);
    const shutdownScript = `${dir}/shutdown.sh`;
    const boot2dockers = "#!/bin/sh\n\n/usr/local/etc/init.d/docker stop\n";
    writeFileSync(shutdownScript, boot2dockers);
    const env = { ...process.env, KDW_PROFILE: "boot2docker", KDW_HOME: `${dir}/home`, KDW_ETC: `${dir}/etc`, KDW_TC_SHUTDOWN: shutdownScript };
    const call = (fn: string) => {
        const r = spawnSync("sh", ["-c", `set -eu\n${hostScript(VIP_HANDOVER_LIBRARY)}\n${fn}`], { encoding: "utf8", env });
        assert.equal(r.status, 0, r.stderr);
    };
    const line = `[ ! -f ${dir}/etc/kube-vip/kdw-vip-handover ] || sh ${dir}/etc/kube-vip/kdw-vip-handover # kdw-vip-handover`;
    const hooked = `#!/bin/sh\n${line}\n\n/usr/local/etc/init.d/docker stop\n`;
    call("kdw_vip_install_shutdown_hook");
    call("kdw_vip_install_shutdown_hook");
    assert.equal(readFileSync(shutdownScript, "utf8"), hooked);
    assert.equal(statSync(shutdownScript).mode & 0o111, 0o111, "Tiny Core runs the script only if it is executable");
    // A boot makes the script afresh (it lives in memory); the boot hook's step puts the line back.
    writeFileSync(shutdownScript, boot2dockers);
    const boot = spawnSync("sh", [`${dir}/home/boot.d/65-vip-handover`], { encoding: "utf8" });
    assert.equal(boot.status, 0, boot.stderr);
    assert.equal(readFileSync(shutdownScript, "utf8"), hooked);
    // At shutdown the line runs the program, then Docker stops; without the program (swept) it does nothing.
    writeFileSync(`${dir}/etc/kube-vip/kdw-vip-handover`, "echo handed over\n");
    assert.equal(spawnSync("sh", ["-c", line], { encoding: "utf8" }).stdout, "handed over\n");
    rmSync(`${dir}/etc/kube-vip/kdw-vip-handover`);
    assert.equal(spawnSync("sh", ["-c", line]).status, 0);
    call("kdw_vip_remove_shutdown_hook");
    assert.equal(readFileSync(shutdownScript, "utf8"), boot2dockers);
    assert.equal(existsSync(`${dir}/home/boot.d/65-vip-handover`), false);
});

test("kdw-routes loop in a network namespace: applies at start, and a deleted route comes back within one pass (10 s)", async (t) => {
    const { ns, inNs } = networkNamespace(t);
    const { program, table: tableFile } = routesProgram(workerTable);
    const loop = spawn("ip", ["netns", "exec", ns, program, "loop", tableFile], { stdio: "ignore", detached: true });
    t.after(() => process.kill(-loop.pid!, "SIGTERM"));
    const routed = () => inNs("ip route show 10.200.1.0/24").includes("via 192.168.99.51");
    const within = async (seconds: number) => {
        const start = Date.now();
        while (!routed()) {
            assert.ok(Date.now() - start < seconds * 1000, `no route after ${seconds}s`);
            await new Promise(resolve => setTimeout(resolve, 200));
        }
        return (Date.now() - start) / 1000;
    };
    await within(5);
    inNs("ip route del 10.200.1.0/24");
    const repaired = await within(15); // one 10 s pass, with room for a busy machine
    t.diagnostic(`route back ${repaired.toFixed(1)}s after it was deleted`);
});

test("fetch-binaries.sh downloads once, checks each pinned sha256 and refuses a mismatch", async (t) => {
    const files: Record<string, string> = { "kubelet": "kubelet bytes\n", "cni/bridge": "bridge bytes\n" };
    const requests: string[] = [];
    const server = createServer((req, res) => {
        requests.push(req.url ?? "");
        const body = files[(req.url ?? "").replace(/^\/bin\//, "")];
        res.writeHead(body === undefined ? 404 : 200).end(body);
    });
    await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
    t.after(() => server.close());
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}/bin`;
    const sha = (text: string) => createHash("sha256").update(text).digest("hex");
    const dir = mkdtempSync(path.join(os.tmpdir(), "kdw-fetch-"));
    const fetch = (pins: string) => new Promise<{ code: number; stdout: string; stderr: string }>(resolve => {
        execFile("sh", ["-c", localScript("fetch-binaries.sh")], { env: { ...process.env, KDW_BASE_URL: base, KDW_DIR: dir, KDW_PINS: pins } },
            (err, stdout, stderr) => resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, stdout, stderr }));
    });
    const good = Object.entries(files).map(([name, body]) => `${name}=${sha(body)}`).join(" ");

    const first = await fetch(good);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(readFileSync(path.join(dir, "cni/bridge"), "utf8"), files["cni/bridge"]);
    assert.equal(requests.length, 2);
    assert.equal((await fetch(good)).code, 0);
    assert.equal(requests.length, 2, "a verified file was downloaded again");

    const bad = await fetch(`portmap=${sha("something else")}`);
    files.portmap = "tampered\n";
    const tampered = await fetch(`portmap=${sha("expected\n")}`);
    assert.notEqual(bad.code, 0, "a missing file was accepted");
    assert.notEqual(tampered.code, 0, "a file with the wrong digest was accepted");
    assert.match(tampered.stderr, /portmap has sha256 [0-9a-f]{64}, but kube-dumb-way:binaryChecksums pins/);
    assert.deepEqual(readdirSync(dir).sort(), ["cni", "kubelet"], "a rejected download was kept");
});

test("rewrite-secrets.sh: replaces what it read, once per key; a conflict runs the whole rewrite again, up to 5 times, " +
    "then fails naming the way out; credentials alone changed: nothing", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kdw-rewrite-"));
    // A kubectl that records its arguments and fails `replace` as many times as the file `conflicts` says.
    writeFileSync(path.join(dir, "kubectl"), `#!/bin/sh
echo "$*" >> "${dir}/calls"
case "$*" in
*" replace -f -")
    cat > "${dir}/replaced"
    left=$(cat "${dir}/conflicts")
    if [ "$left" -gt 0 ]; then echo $((left - 1)) > "${dir}/conflicts"; echo 'Operation cannot be fulfilled: the object has been modified' >&2; exit 1; fi ;;
*"-o json") echo '{"kind":"List","items":[]}' ;;
*) printf 'default a Opaque 1 1d\\nkube-system b Opaque 1 1d\\n' ;;
esac
`, { mode: 0o755 });
    const rewrite = (conflicts: number, previousStdout?: string) => {
        writeFileSync(path.join(dir, "conflicts"), String(conflicts));
        rmSync(path.join(dir, "calls"), { force: true });
        const env: Record<string, string> = { PATH: `${dir}:${process.env.PATH}`, KDW_ENCRYPTION: "aescbc key generation 1" };
        if (previousStdout !== undefined) { env.PULUMI_COMMAND_STDOUT = previousStdout; }
        const result = spawnSync("sh", ["-c", withAdminKubeconfig("rewrite-secrets.sh").replace(/sleep 2/g, "sleep 0")],
            { input: "apiVersion: v1\nkind: Config\n", env, encoding: "utf8" });
        const calls = existsSync(path.join(dir, "calls")) ? readFileSync(path.join(dir, "calls"), "utf8").trim().split("\n") : [];
        return { ...result, replaces: calls.filter(c => c.endsWith("replace -f -")).length };
    };
    const done = "every Secret rewritten with aescbc key generation 1";
    const ok = rewrite(0);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), done);
    assert.match(ok.stderr, /rewrote 2 Secrets \(attempt 1\)/);
    assert.equal(ok.replaces, 1);
    assert.equal(readFileSync(path.join(dir, "replaced"), "utf8").trim(), '{"kind":"List","items":[]}', "replace got what get read");
    const retried = rewrite(2);
    assert.equal(retried.status, 0, retried.stderr);
    assert.equal(retried.replaces, 3);
    const failed = rewrite(9);
    assert.equal(failed.status, 1);
    assert.equal(failed.replaces, 5);
    assert.match(failed.stderr, /could not rewrite every Secret with aescbc key generation 1 after 5 attempts; .*the object has been modified.*run pulumi up again/s);
    const skipped = rewrite(0, done);
    assert.equal(skipped.status, 0);
    assert.equal(skipped.stdout.trim(), done);
    assert.equal(skipped.replaces, 0, "rewrote again for the same key");
    assert.equal(rewrite(0, "every Secret rewritten with secretbox key generation 0").replaces, 1, "a new key not rewritten");
});

test("etcd.sh up on a controller whose machine was lost: joins the running cluster as a learner and is promoted; an addition that answers too late (a loaded machine) is found in the member list and not tried again, one that timed out before it landed is tried again; the member its lost machine ran is removed first, a removal that answered too late not tried again, one that timed out with no list to show it tried again", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kdw-etcd-join-"));
    execFileSync("mkdir", ["-p", `${dir}/stubs`, `${dir}/etc`, `${dir}/data`]);
    // docker: the etcd image's etcdctl against the other members (the member list and the way an addition answers in
    // files), and the rest of what the script asks of Docker, recorded; id and chown: an etcd account.
    writeFileSync(`${dir}/stubs/docker`, `#!/bin/sh
state="${dir}"
case "$1" in
image | stop | rm | logs) exit 0 ;;
exec) exit 0 ;;
esac
if [ "$2" = --detach ]; then echo "started $*" >> "$state/calls"; exit 0; fi
while [ "$1" != etcdctl ]; do shift; done; shift
cmd=""; timeout=""
for a in "$@"; do case "$a" in --command-timeout=*) timeout=\${a#--command-timeout=} ;; --*) ;; *) cmd="$cmd $a" ;; esac; done
cmd=\${cmd# }
echo "$cmd ($timeout)" >> "$state/calls"
case "$cmd" in
"endpoint status") echo "https://10.0.0.0:2379, status" ;;
"member list")
    if [ -f "$state/list-fails" ]; then rm "$state/list-fails"; echo "Error: context deadline exceeded" >&2; exit 1; fi
    cat "$state/members" ;;
"member remove idold")
    if [ -f "$state/remove-timeout-before" ]; then
        rm "$state/remove-timeout-before"; touch "$state/list-fails"; echo "Error: context deadline exceeded"; exit 1
    fi
    sed -i '/^idold, /d' "$state/members"
    if [ -f "$state/remove-timeout-after" ]; then echo "Error: context deadline exceeded"; exit 1; fi
    echo "Member idold removed from cluster c1" ;;
"member add "*)
    if [ -f "$state/timeout-before" ]; then rm "$state/timeout-before"; echo "Error: context deadline exceeded"; exit 1; fi
    echo "id3, unstarted, , https://10.0.0.3:2380, , true" >> "$state/members"
    if [ -f "$state/timeout-after" ]; then echo "Error: context deadline exceeded"; exit 1; fi
    echo "Member id3 added to cluster c1" ;;
"member promote id3") sed -i 's/^id3, unstarted, , \\(.*\\), , true$/id3, started, kdw-controller-3, \\1, https:\\/\\/10.0.0.3:2379, false/' "$state/members"; echo "Member id3 promoted" ;;
*) echo "unexpected: $cmd" >&2; exit 1 ;;
esac
`, { mode: 0o755 });
    writeFileSync(`${dir}/stubs/id`, `#!/bin/sh\ncase "$*" in etcd) exit 0 ;; "-u etcd" | "-g etcd") echo 999 ;; *) exec /usr/bin/id "$@" ;; esac\n`, { mode: 0o755 });
    writeFileSync(`${dir}/stubs/chown`, "#!/bin/sh\n", { mode: 0o755 });
    const script = stepScript({ script: hostScript("etcd.sh"), files: [], libraries: [ETCD_SNAPSHOT_LIBRARY] });
    // how: the way the first member change answers; lost: the member this controller's lost machine ran is still listed.
    type How = "timeout-after" | "timeout-before" | "remove-timeout-after" | "remove-timeout-before";
    const join = (how?: How, lost = false) => {
        const members = [0, 1, 2].map(i =>
            `id${i}, started, kdw-controller-${i}, https://10.0.0.${i}:2380, https://10.0.0.${i}:2379, false`);
        if (lost) members.push("idold, started, kdw-controller-3, https://10.0.0.3:2380, https://10.0.0.3:2379, false");
        writeFileSync(`${dir}/members`, members.join("\n") + "\n");
        writeFileSync(`${dir}/calls`, "");
        if (how) writeFileSync(`${dir}/${how}`, "");
        rmSync(`${dir}/data/etcd`, { recursive: true, force: true });
        rmSync(`${dir}/data/etcd.cluster`, { force: true });
        const r = spawnSync("sh", ["-c", script, "etcd.sh", "up"], {
            input: "", encoding: "utf8", env: {
                ...process.env, PATH: `${dir}/stubs:${process.env.PATH}`, KDW_NODE: "kdw-controller-3", KDW_ETC: `${dir}/etc`,
                KDW_DATA: `${dir}/data`, KDW_IMAGE: "etcd", KDW_CLUSTER_ID: "c1",
                KDW_ETCD_ARGS: "--name=kdw-controller-3 --initial-cluster=kdw-controller-3=https://10.0.0.3:2380 --initial-cluster-state=new",
                KDW_ETCD_SELF: "https://10.0.0.3:2379",
                KDW_ETCD_ENDPOINTS: [0, 1, 2, 3].map(i => `https://10.0.0.${i}:2379`).join(","),
            },
        });
        rmSync(`${dir}/${how}`, { force: true });
        assert.equal(r.status, 0, r.stdout + r.stderr);
        const calls = readFileSync(`${dir}/calls`, "utf8").trim().split("\n");
        assert.match(readFileSync(`${dir}/members`, "utf8"), /^id3, started, kdw-controller-3, https:\/\/10\.0\.0\.3:2380, https:\/\/10\.0\.0\.3:2379, false$/m,
            "not promoted to a voting member");
        const started = calls.find(c => c.startsWith("started "));
        assert.ok(started?.includes("--initial-cluster-state=existing") &&
            started.includes("--initial-cluster=kdw-controller-0=https://10.0.0.0:2380,kdw-controller-1=https://10.0.0.1:2380," +
                "kdw-controller-2=https://10.0.0.2:2380,kdw-controller-3=https://10.0.0.3:2380"), started);
        assert.doesNotMatch(readFileSync(`${dir}/members`, "utf8"), /^idold, /m, "the lost machine's member is still a member");
        return {
            out: r.stdout, adds: calls.filter(c => c.startsWith("member add ")),
            removes: calls.filter(c => c.startsWith("member remove ")), calls,
        };
    };
    const plain = join();
    assert.deepEqual(plain.adds, ["member add kdw-controller-3 (15s)"], "a change of members waits as long as a commit may take");
    assert.match(plain.out, /joining the running cluster as a learner: Member id3 added/);
    assert.ok(plain.calls.includes("member promote id3 (3s)"), plain.calls.join("\n"));
    const late = join("timeout-after");
    assert.deepEqual(late.adds, ["member add kdw-controller-3 (15s)"], "an addition that landed was tried again");
    assert.match(late.out, /joining the running cluster as learner id3 \(added, though the answer came late\)/);
    const retried = join("timeout-before");
    assert.deepEqual(retried.adds, ["member add kdw-controller-3 (15s)", "member add kdw-controller-3 (15s)"]);
    assert.match(retried.out, /joining the running cluster as a learner: Member id3 added/);
    assert.deepEqual(retried.removes, [], "a member removed that was not there");

    const replaced = join(undefined, true);
    assert.deepEqual(replaced.removes, ["member remove idold (15s)"]);
    assert.match(replaced.out, /removing member idold, which this controller ran before its machine was lost/);
    assert.ok(replaced.calls.indexOf("member remove idold (15s)") < replaced.calls.indexOf("member add kdw-controller-3 (15s)"),
        replaced.calls.join("\n"));
    const removedLate = join("remove-timeout-after", true);
    assert.deepEqual(removedLate.removes, ["member remove idold (15s)"], "a removal that landed was tried again");
    // Timed out before it landed, and the list right after could not be read: not taken for a removal, tried again.
    const unread = join("remove-timeout-before", true);
    assert.deepEqual(unread.removes, ["member remove idold (15s)", "member remove idold (15s)"],
        `a removal that had not landed taken for done: ${unread.calls.join("\n")}`);
});

test("etcd-membership.sh: removes the members no longer declared one at a time, the leader's leadership handed to a " +
    "declared member first; a removal that lands but answers too late counts, one that timed out with no list to show it " +
    "landed is tried again; refuses a removal that leaves no healthy " +
    "majority, removing nothing; nothing to do when the members are the declared ones or none answers", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kdw-membership-"));
    // An etcdctl behind `docker run`: the member list, the healthy client URLs and the leader in files; calls recorded.
    writeFileSync(path.join(dir, "docker"), `#!/bin/sh
state="${dir}"
endpoints=""; for a in "$@"; do case "$a" in --endpoints=*) endpoints=\${a#--endpoints=} ;; esac; done
while [ "$1" != "--command-timeout=5s" ]; do shift; done; shift
echo "$*" >> "$state/calls"
healthy() { grep -qx "$1" "$state/healthy"; }
case "$1 $2" in
"endpoint status")
    if [ "$3" = --write-out=fields ]; then
        echo "\\"MemberID\\" : $(awk -F', ' -v url="$endpoints" '$5 == url { print $1 }' "$state/members")"
        echo "\\"Leader\\" : $(cat "$state/leader")"
        exit 0
    fi
    found=1; for e in $(echo "$endpoints" | tr ',' ' '); do healthy "$e" && echo "$e, status" && found=0; done; exit $found ;;
"endpoint health")
    rc=0; for e in $(echo "$endpoints" | tr ',' ' '); do if healthy "$e"; then echo "$e is healthy: ok"; else echo "$e is unhealthy: down"; rc=1; fi; done; exit $rc ;;
"member list")
    # Read just after a removal that timed out without landing: no answer either.
    if [ -f "$state/list-fails-once" ]; then rm "$state/list-fails-once"; echo "Error: context deadline exceeded" >&2; exit 1; fi
    cat "$state/members" ;;
"member remove")
    if [ -f "$state/timeout-once" ]; then
        rm "$state/timeout-once"; : > "$state/list-fails-once"; echo "Error: context deadline exceeded"; exit 1
    fi
    grep -v "^$3, " "$state/members" > "$state/members.new"; mv "$state/members.new" "$state/members"
    # The removal committed after the client stopped waiting.
    if [ -f "$state/late" ]; then echo "Error: context deadline exceeded"; exit 1; fi ;;
"move-leader "*) echo "$2" > "$state/leader" ;;
esac
`, { mode: 0o755 });
    const member = (i: number) => `id${i}, started, kdw-controller-${i}, https://10.0.0.${i}:2380, https://10.0.0.${i}:2379, false`;
    const declared = [0, 1, 2];
    const run = (members: number[], healthy: number[], leader: number) => {
        writeFileSync(path.join(dir, "members"), members.map(member).join("\n") + "\n");
        writeFileSync(path.join(dir, "healthy"), healthy.map(i => `https://10.0.0.${i}:2379`).join("\n") + "\n");
        writeFileSync(path.join(dir, "leader"), `id${leader}\n`);
        rmSync(path.join(dir, "calls"), { force: true });
        const script = stepScript({ script: hostScript("etcd-membership.sh"), files: [], libraries: [ETCDCTL_LIBRARY] });
        const result = spawnSync("sh", ["-c", script, "etcd-membership.sh", "up"], {
            input: "", encoding: "utf8", env: {
                PATH: `${dir}:${process.env.PATH}`, KDW_NODE: "kdw-controller-0", KDW_ETC: path.join(dir, "etc"), KDW_IMAGE: "etcd",
                KDW_ETCD_ENDPOINTS: declared.map(i => `https://10.0.0.${i}:2379`).join(","),
                KDW_ETCD_PEERS: declared.map(i => `https://10.0.0.${i}:2380`).join(","),
            },
        });
        const changes = readFileSync(path.join(dir, "calls"), "utf8").split("\n").filter(c => /^(member remove|move-leader)/.test(c));
        const left = readFileSync(path.join(dir, "members"), "utf8").trim().split("\n").map(l => l.split(", ")[2]);
        return { ...result, changes, left };
    };
    // 5→3 with the leader on a controller that leaves: one at a time, leadership to a declared member first.
    const shrink = run([0, 1, 2, 3, 4], [0, 1, 2, 3, 4], 4);
    assert.equal(shrink.status, 0, shrink.stderr);
    assert.deepEqual(shrink.changes, ["member remove id3", "move-leader id0", "member remove id4"], shrink.stdout + shrink.stderr);
    assert.deepEqual(shrink.left, ["kdw-controller-0", "kdw-controller-1", "kdw-controller-2"]);
    assert.match(shrink.stdout, /etcd's leadership moved from kdw-controller-4 to id0/);
    assert.match(shrink.stdout, /etcd's members are the 3 declared controllers/);
    // Two of the members that would stay are down: removing a healthy one leaves 2 healthy of 4, no majority.
    const refused = run([0, 1, 2, 3, 4], [0, 3, 4], 0);
    assert.equal(refused.status, 1);
    assert.deepEqual(refused.changes, []);
    assert.match(refused.stderr, /not removing etcd member kdw-controller-3 \(id3\): 2 of the 4 members that stay are healthy and they need 3 for a majority\. Nothing was removed/);
    // A dead member no longer declared (its controller moved to a new address) goes: the majority of the rest is healthy.
    const dead = run([0, 1, 2, 3], [0, 1, 2], 1);
    assert.equal(dead.status, 0, dead.stderr);
    assert.deepEqual(dead.changes, ["member remove id3"]);
    // The same removal answered too late (a loaded machine): the member list shows it landed, and nothing is tried again.
    writeFileSync(path.join(dir, "late"), "");
    const late = run([0, 1, 2, 3], [0, 1, 2], 1);
    rmSync(path.join(dir, "late"));
    assert.equal(late.status, 0, late.stderr);
    assert.deepEqual(late.changes, ["member remove id3"]);
    assert.deepEqual(late.left, ["kdw-controller-0", "kdw-controller-1", "kdw-controller-2"]);
    assert.match(late.stdout, /etcd member kdw-controller-3 \(id3\) removed/);
    // A removal that timed out before it landed, and a member list that could not be read right after: not taken for
    // a removal (the member is in no list that was read), so the removal is tried again, and lands; said once, when
    // it has.
    writeFileSync(path.join(dir, "timeout-once"), "");
    const unread = run([0, 1, 2, 3], [0, 1, 2], 1);
    assert.equal(unread.status, 0, unread.stderr);
    assert.deepEqual(unread.changes, ["member remove id3", "member remove id3"]);
    assert.equal(unread.stdout.match(/etcd member kdw-controller-3 \(id3\) removed/g)?.length, 1,
        `a removal claimed before it landed: ${unread.stdout}`);
    assert.deepEqual(unread.left, ["kdw-controller-0", "kdw-controller-1", "kdw-controller-2"]);
    // The declared members, all started and voting: nothing to change.
    const same = run([0, 1, 2], [0, 1, 2], 1);
    assert.equal(same.status, 0, same.stderr);
    assert.deepEqual(same.changes, []);
    // No member answers: a cluster being made.
    const made = run([0, 1, 2], [], 0);
    assert.equal(made.status, 0, made.stderr);
    assert.match(made.stdout, /no etcd member answers yet: a cluster being made/);
    assert.deepEqual(made.changes, []);
});

test("encryption.sh roll: writes the configuration; restarts the running apiserver (and waits for /readyz) only when " +
    "it started before the file was last written, as after a run killed between the write and the restart", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kdw-encryption-"));
    const etc = path.join(dir, "etc");
    // A docker whose apiserver runs since the time in `started` (or not at all when it is empty); restarts recorded.
    writeFileSync(path.join(dir, "docker"), `#!/bin/sh
echo "$*" >> "${dir}/calls"
case "$*" in
"inspect --format {{.State.Running}} {{.State.StartedAt}} kdw-kube-apiserver")
    started=$(cat "${dir}/started"); [ -n "$started" ] && echo "true $started" || exit 1 ;;
"inspect --format {{.State.Running}} kdw-kube-vip") echo false ;;
esac
`, { mode: 0o755 });
    writeFileSync(path.join(dir, "curl"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const script = stepScript({ script: hostScript("encryption.sh"), files: [], libraries: APISERVER_SCRIPT_LIBRARIES });
    const roll = (content: string, started: string) => {
        writeFileSync(path.join(dir, "started"), started);
        rmSync(path.join(dir, "calls"), { force: true });
        const bundle = `${etc}/control-plane/encryption-config.yaml 0600 ${Buffer.from(content).toString("base64")}\n`;
        const result = spawnSync("sh", ["-c", script, "encryption.sh", "roll"], {
            input: bundle, encoding: "utf8",
            env: { PATH: `${dir}:${process.env.PATH}`, KDW_NODE: "c0", KDW_ETC: etc, KDW_PORT: "6443", KDW_PHASE: "read" },
        });
        assert.equal(result.status, 0, result.stderr);
        const calls = existsSync(path.join(dir, "calls")) ? readFileSync(path.join(dir, "calls"), "utf8") : "";
        return { out: result.stdout, restarted: calls.includes("restart --time 30 kdw-kube-apiserver") };
    };
    const iso = (ms: number) => new Date(ms).toISOString().replace("Z", "123456Z");
    const config = path.join(etc, "control-plane", "encryption-config.yaml");
    assert.match(roll("one", "").out, /the apiserver does not run, it reads it when it starts/);
    assert.equal(readFileSync(config, "utf8"), "one");
    assert.equal(statSync(config).mode & 0o777, 0o600);
    // Started an hour before the file was written: restarted.
    assert.ok(roll("two", iso(Date.now() - 3_600_000)).restarted, "an apiserver older than its configuration kept running");
    // The same content again, the apiserver still older (a run killed after the write): restarted all the same.
    assert.ok(roll("two", iso(Date.now() - 3_600_000)).restarted, "a killed run's write was never read");
    // Started after the write: nothing to do.
    const current = roll("two", iso(Date.now() + 60_000));
    assert.equal(current.restarted, false);
    assert.match(current.out, /already reads the encryption configuration \(read\)/);
});
