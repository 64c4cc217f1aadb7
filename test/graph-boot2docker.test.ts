// The same program on boot2docker hosts (the seed's VirtualBox machines): paths on the persistent disk, services
// under kdw-service instead of systemd.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { fakeBinaryFolder, named, ofType, reveal, runProgram, ProgramRun } from "./program";

let result: Promise<ProgramRun> | undefined;
const run = () => (result ??= runProgram({ controllers: 1, workers: 2, binarySource: fakeBinaryFolder() }, "profile=boot2docker cgroup=v1"));

const bundleOf = (stdin: unknown) => Buffer.from(reveal(stdin)).toString().split("\n").filter(Boolean)
    .map(line => line.split(" ")).map(([p, mode, data]) => ({ path: p, mode, content: Buffer.from(data, "base64").toString() }));

test("boot2docker: files go to the persistent disk and services to kdw-service command files", async () => {
    const { resources, error } = await run();
    assert.equal(error, undefined);
    const files = bundleOf(named(resources, "kdw-worker-1-node-install").inputs.stdin);
    assert.ok(files.length > 10);
    for (const f of files) {
        assert.ok(f.path.startsWith("/var/lib/boot2docker/kdw/"), `${f.path} would not survive a reboot`);
    }
    const kubelet = files.find(f => f.path.endsWith("/worker/kubelet.cmd"));
    assert.match(kubelet!.content, /^\/var\/lib\/boot2docker\/kdw\/bin\/kubelet --config=/);
    assert.ok(files.filter(f => f.path.endsWith("-key.pem") || f.path.endsWith(".kubeconfig")).every(f => f.mode === "0600"));
    const install = named(resources, "kdw-worker-1-node-install").inputs.create as string;
    assert.match(install, /KDW_PROFILE=boot2docker/);
    const copies = ofType(resources, "command:remote:CopyToRemote").filter(r => r.name.startsWith("kdw-worker-1-"));
    assert.ok(copies.every(c => c.inputs.remotePath.startsWith("/var/lib/boot2docker/kdw/stage/")));
});

test("boot2docker: etcd data and routes persist on the boot2docker disk", async () => {
    const { resources } = await run();
    assert.match(named(resources, "kdw-controller-0-etcd-install").inputs.create, /KDW_DATA=\/var\/lib\/boot2docker\/kdw\/data/);
    assert.match(named(resources, "kdw-controller-0-to-kdw-worker-1-route").inputs.create, /KDW_HOME=\/var\/lib\/boot2docker\/kdw /);
});
