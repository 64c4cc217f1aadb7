// Host scripts: shellcheck-clean as POSIX sh (boot2docker has only busybox sh), and the pieces that can run on this
// machine run for real: the file writer, the command line quoting, and a pod route inside a network namespace.
import * as assert from "node:assert/strict";
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import { existsSync, mkdtempSync as mkdtemp, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { validateConfig } from "../components/config";
import { machineCreateScript } from "../components/machineHost";
import { asset, render, SCRIPT_DIR, scriptCommand, shellQuote } from "../components/remote";

/** A scratch folder, removed when the test process ends. */
function mkdtempSync(prefix: string): string {
    const dir = mkdtemp(prefix);
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    return dir;
}

const shellScripts = readdirSync(SCRIPT_DIR).filter(f => f.endsWith(".sh"));

function shellcheck(file: string): { status: number | null; output: string } {
    const result = spawnSync("shellcheck", ["--shell=sh", "--severity=style", file], { encoding: "utf8" });
    if (result.error) {
        throw new Error(`shellcheck could not run (${result.error.message}); install it: apt-get install -y shellcheck`);
    }
    return { status: result.status, output: result.stdout + result.stderr };
}

test("there are host scripts to check", () => {
    assert.ok(shellScripts.length >= 9, `only ${shellScripts.length} scripts found in ${SCRIPT_DIR}`);
});

for (const file of shellScripts) {
    test(`shellcheck --shell=sh: ${file}`, () => {
        const { status, output } = shellcheck(path.join(SCRIPT_DIR, file));
        assert.equal(status, 0, output);
    });
}

test("shellcheck: scripts as sent, with the file writer prepended", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kdw-sc-"));
    for (const file of ["etcd.sh", "control-plane.sh", "worker.sh"]) {
        const composed = path.join(dir, file);
        writeFileSync(composed, `${asset("lib-files.sh")}\n${asset(file)}`);
        const { status, output } = shellcheck(composed);
        assert.equal(status, 0, output);
    }
});

test("shellcheck: the project's own scripts (toolchain, hosts, images, e2e, local, CI), following sourced files", () => {
    const root = path.join(SCRIPT_DIR, "..", "..");
    const files = [
        ...readdirSync(path.join(root, "scripts")).filter(f => f.endsWith(".sh")).map(f => path.join("scripts", f)),
        "scripts/hosts/kdw-runc", "test/toolchain/run.sh", ".ci/run",
        // The boot2docker kind's boot, Docker init script and sethostname: busybox sh.
        ...["etc/init.d/rcS", "etc/init.d/docker", "etc/init.d/rc.shutdown", "usr/bin/sethostname"]
            .map(f => path.join("scripts/hosts/boot2docker/rootfs", f)),
    ];
    assert.ok(files.length >= 8, `only ${files.join(", ")}`);
    const result = spawnSync("shellcheck", ["--external-sources", "--severity=style", ...files], { cwd: root, encoding: "utf8" });
    assert.equal(result.status, 0, result.stdout + result.stderr);
});

test("shellcheck: the generated docker-machine create script", () => {
    const cfg = validateConfig({ binarySource: "/bin", machineDriver: "generic",
        genericHosts: [0, 1, 2, 3, 4, 5].map(i => ({ address: `10.0.0.${i + 1}`, sshUser: "me", sshKeyPath: "/key" })) },
    { fileExists: () => true });
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), "kdw-sc-")), "create.sh");
    writeFileSync(file, machineCreateScript(cfg.workers[0], cfg));
    const { status, output } = shellcheck(file);
    assert.equal(status, 0, output);
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
    const run = () => execFileSync("sh", ["-c", `set -eu\n${asset("lib-files.sh")}\nkdw_write_files`], { input: stdin });
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

test("templates: a missing value or an unused value is an error", () => {
    assert.equal(render("a={{A}}", { A: 1 }), "a=1");
    assert.throws(() => render("a={{A}} b={{B}}", { A: 1 }), /\{\{B\}\} has no value/);
    assert.throws(() => render("a={{A}}", { A: 1, C: 2 }), /no placeholder for C/);
});

test("pod-route.sh in a network namespace: adds the route once, persists it for boot, and removes it", (t) => {
    if (process.getuid?.() !== 0) {
        assert.fail("this test needs root to make a network namespace (CI runs as root)");
    }
    const ns = `kdw-test-${process.pid}`;
    const home = mkdtempSync(path.join(os.tmpdir(), "kdw-home-"));
    execFileSync("mkdir", ["-p", `${home}/boot.d`]);
    const inNs = (cmd: string) => execFileSync("ip", ["netns", "exec", ns, "sh", "-c", cmd], { encoding: "utf8" });
    execFileSync("ip", ["netns", "add", ns]);
    t.after(() => spawnSync("ip", ["netns", "del", ns]));
    inNs("ip link add kdw0 type veth peer name kdw1 && ip addr add 192.168.99.1/24 dev kdw0 && ip link set kdw0 up && ip link set kdw1 up");
    const env = { KDW_HOME: home, KDW_POD_CIDR: "10.200.2.0/24", KDW_VIA: "192.168.99.52" };
    const routes = () => inNs("ip route show 10.200.2.0/24").trim();

    inNs(scriptCommand(asset("pod-route.sh"), "up", env));
    inNs(scriptCommand(asset("pod-route.sh"), "up", env));
    assert.equal(routes(), "10.200.2.0/24 via 192.168.99.52 dev kdw0");
    assert.deepEqual(readdirSync(`${home}/boot.d`), ["60-route-10_200_2_0_24"]);

    inNs("ip route flush 10.200.2.0/24");
    inNs(`sh ${home}/boot.d/60-route-10_200_2_0_24`);
    assert.equal(routes(), "10.200.2.0/24 via 192.168.99.52 dev kdw0", "the boot step does not restore the route");

    inNs(scriptCommand(asset("pod-route.sh"), "down", env));
    inNs(scriptCommand(asset("pod-route.sh"), "down", env));
    assert.equal(routes(), "");
    assert.deepEqual(readdirSync(`${home}/boot.d`), []);
});

/** The processes of a process group (from /proc, field pgrp of each stat line). */
function groupMembers(group: number): { pid: number; cmdline: string }[] {
    return readdirSync("/proc").filter(d => /^\d+$/.test(d)).flatMap(pid => {
        try {
            const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
            const pgrp = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
            const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
            return pgrp === group ? [{ pid: Number(pid), cmdline }] : [];
        } catch {
            return []; // the process ended meanwhile
        }
    });
}

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
        writeFileSync(path.join(dir, "kdw-service"), asset("kdw-service.sh"), { mode: 0o755 });
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
        execFile("sh", ["-c", asset("fetch-binaries.sh")], { env: { ...process.env, KDW_BASE_URL: base, KDW_DIR: dir, KDW_PINS: pins } },
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
