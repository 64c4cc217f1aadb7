// The project's own Go programs, the workers' load balancer and the qemu machine driver, have Go tests of their own;
// `npm test` runs them so that one command covers the whole project. The driver's test of real VMs runs as root with
// qemu and dnsmasq (scripts/test-deps.sh installs them); a skipped Go test fails this one.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { test } from "node:test";

const tools = path.join(__dirname, "..", "..", "tools");

for (const module of ["apiserver-lb", "docker-machine-driver-qemu"]) {
    test(`tools/${module}: go vet and go test pass, no Go test skipped`, () => {
        for (const args of [["vet", "./..."], ["test", "-count=1", "-v", "./..."]]) {
            const result = spawnSync("go", args, {
                cwd: path.join(tools, module), encoding: "utf8", env: { ...process.env, GOFLAGS: "-mod=mod" },
            });
            assert.ok(!result.error, `go could not run: ${result.error?.message}`);
            assert.equal(result.status, 0, `go ${args.join(" ")}:\n${result.stdout}${result.stderr}`);
            // A skipped Go test (the real VMs' without root, qemu or dnsmasq, which scripts/test-deps.sh installs) is a
            // check that did not run: it fails here, with the reason go gave on the line before its "--- SKIP".
            const skipped = [...result.stdout.matchAll(/^\s*(.*)\n\s*--- SKIP: (\S+)/gm)].map(([, why, name]) => `${name}: ${why}`);
            assert.deepEqual(skipped, [], "Go tests skipped");
        }
    });
}
