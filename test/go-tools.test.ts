// The project's own Go program, the workers' load balancer, has Go tests of its own; `npm test` runs them so that one
// command covers the whole project.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { test } from "node:test";

const tools = path.join(__dirname, "..", "..", "tools");

for (const module of ["apiserver-lb"]) {
    test(`tools/${module}: go vet and go test pass`, () => {
        for (const args of [["vet", "./..."], ["test", "-count=1", "./..."]]) {
            const result = spawnSync("go", args, {
                cwd: path.join(tools, module), encoding: "utf8", env: { ...process.env, GOFLAGS: "-mod=mod" },
            });
            assert.ok(!result.error, `go could not run: ${result.error?.message}`);
            assert.equal(result.status, 0, `go ${args.join(" ")}:\n${result.stdout}${result.stderr}`);
        }
    });
}
