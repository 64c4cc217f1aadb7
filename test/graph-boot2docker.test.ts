// The same program on boot2docker hosts (the seed's VirtualBox machines): paths on the persistent disk, services
// under kdw-service instead of systemd.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { hostScript } from "../host/remote";
import { fakeBinaryFolder, filesOf, named, reveal, runProgram, ProgramRun } from "./program";

let result: Promise<ProgramRun> | undefined;
const run = () => (result ??= runProgram({ controllers: 1, workers: 2, binarySource: fakeBinaryFolder(), apiServerVip: "192.168.99.250" },
    "profile=boot2docker cgroup=v1"));

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
    assert.equal(named(resources, "kdw-worker-1-node-binaries").inputs.environment.KDW_STAGE, "/var/lib/boot2docker/kdw/stage");
});

test("boot2docker: etcd data, the route table and its loop persist on the boot2docker disk", async () => {
    const { resources } = await run();
    assert.match(named(resources, "kdw-controller-0-etcd-install").inputs.create, /KDW_DATA=\/var\/lib\/boot2docker\/kdw\/data/);
    const routes = named(resources, "kdw-controller-0-routes-table");
    assert.match(routes.inputs.create, /KDW_PROFILE=boot2docker /);
    assert.deepEqual([...filesOf(routes).keys()].sort(),
        ["/var/lib/boot2docker/kdw/bin/kdw-routes", "/var/lib/boot2docker/kdw/etc/pod-routes"]);
});

test("boot2docker: the apiserver's audit log goes to the persistent disk, not to /var/log in memory", async () => {
    const { resources } = await run();
    for (const step of ["kdw-controller-0-control-plane-install", "kdw-controller-0-control-plane-roll"]) {
        const inputs = named(resources, step).inputs;
        assert.match(inputs.create ?? inputs.update, /KDW_AUDIT_LOGS=\/var\/lib\/boot2docker\/kdw\/data\/audit /, step);
    }
});

test("boot2docker: every host gets the kdw-service supervisor (the route loop runs under it, controllers too)", async () => {
    const { resources } = await run();
    for (const host of ["kdw-controller-0", "kdw-worker-0", "kdw-worker-1"]) {
        const files = filesOf(named(resources, `${host}-prepare`));
        assert.equal(files.get("/var/lib/boot2docker/kdw/bin/kdw-service"), hostScript("kdw-service.sh"), host);
    }
});

test("boot2docker: kube-vip's files persist on the boot2docker disk, where Docker restarts it from at boot, and so does the program the host's shutdown runs to hand the VIP over", async () => {
    const { resources } = await run();
    const step = named(resources, "kdw-controller-0-kube-vip-install").inputs;
    assert.match(step.create, /KDW_ETC=\/var\/lib\/boot2docker\/kdw\/etc /);
    assert.match(step.create, /KDW_PROFILE=boot2docker /, "the shutdown hook is installed by the host's kind");
    const files = bundleOf(step.stdin);
    assert.deepEqual(files.map(f => f.path), ["ca.pem", "kube-vip.kubeconfig", "client.pem", "client-key.pem", "kdw-vip-handover"]
        .map(f => `/var/lib/boot2docker/kdw/etc/kube-vip/${f}`));
    assert.match(files[4].content, /^KDW_ETC=\/var\/lib\/boot2docker\/kdw\/etc$/m);
});
