// The workers' load balancer is Go; its own tests (spreading, failover, closing connections to a dead apiserver)
// run here so that `npm test` covers it.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { test } from "node:test";

test("kdw-apiserver-lb: go vet and go test pass", () => {
    const dir = path.join(__dirname, "..", "..", "tools", "apiserver-lb");
    for (const args of [["vet", "./..."], ["test", "-count=1", "./..."]]) {
        const result = spawnSync("go", args, { cwd: dir, encoding: "utf8", env: { ...process.env, GOFLAGS: "-mod=mod" } });
        assert.ok(!result.error, `go could not run: ${result.error?.message}`);
        assert.equal(result.status, 0, `go ${args.join(" ")}:\n${result.stdout}${result.stderr}`);
    }
});
