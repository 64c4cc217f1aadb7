// The project's own Go programs, the workers' load balancer and the qemu machine driver, have Go tests of their own;
// `npm test` runs them so that one command covers the whole project. The driver's test of real VMs runs as root with
// KVM and says SKIPPED otherwise.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { test } from "node:test";

const tools = path.join(__dirname, "..", "..", "tools");

for (const module of ["apiserver-lb", "docker-machine-driver-qemu"]) {
    test(`tools/${module}: go vet and go test pass`, (t) => {
        for (const args of [["vet", "./..."], ["test", "-count=1", "-v", "./..."]]) {
            const result = spawnSync("go", args, {
                cwd: path.join(tools, module), encoding: "utf8", env: { ...process.env, GOFLAGS: "-mod=mod" },
            });
            assert.ok(!result.error, `go could not run: ${result.error?.message}`);
            assert.equal(result.status, 0, `go ${args.join(" ")}:\n${result.stdout}${result.stderr}`);
            // A skipped Go test says why on the line before its "--- SKIP": shown here, not lost in go's verbose output.
            for (const [, why, name] of result.stdout.matchAll(/^\s*(.*)\n--- SKIP: (\S+)/gm)) {
                t.diagnostic(`go test ${name}: ${why}`);
            }
        }
    });
}
