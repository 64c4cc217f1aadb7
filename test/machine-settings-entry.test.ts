// The program's entry refuses machine settings that the running machines cannot take (a VM's memory, CPUs, disk or
// ISO, the driver), before it registers anything but the read of the stack's own outputs (node --test runs each file
// in its own process, and a process runs the program once).
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { fakeBinaryFolder, runProgram } from "./program";

const made = (ip: string) => ({
    ip, sshUser: "docker", sshKeyPath: `/machines/${ip}/id_rsa`, sshPort: 22, id: `id-${ip}`, replaces: "",
    settings: { machineDriver: "virtualbox", machineMemory: "2048", machineCpus: "1", machineDiskSize: "20000", machineIso: "", machineDriverFlags: "" },
});

test("entry: a new machineMemory for running virtualbox machines registers nothing but the StackReference, and names " +
    "the key, both values, the machines and the way out", async () => {
    const machines = { "kdw-controller-0": made("192.168.99.10"), "kdw-worker-0": made("192.168.99.20") };
    const { error, resources } = await runProgram({ binarySource: fakeBinaryFolder(), machineMemory: 4096 }, undefined,
        { kubernetesVersion: "v1.37.2", machines });
    assert.equal(error?.constructor.name, "RunError");
    assert.match(error?.message ?? "", /^Refused \(nothing was changed\): kube-dumb-way:machineMemory is "4096", but the running machines \(kdw-controller-0, kdw-worker-0\) were made with "2048"/);
    assert.match(error?.message ?? "", /Set kube-dumb-way:machineMemory back to "2048"; to move the cluster to new machines, take an etcd snapshot/);
    assert.doesNotMatch(error?.message ?? "", /machineCpus|machineDiskSize|machineIso|machineDriverFlags/);
    assert.deepEqual(resources.map(r => r.type), ["pulumi:pulumi:StackReference"]);
});
