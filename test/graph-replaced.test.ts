// A machine found lost is made again, and only what reads it is read again: its machine's triggers name the machine it
// replaces, its SSH key and its probe follow the new machine (the probe's old self goes first, so its sweep never
// reaches the new machine's installed steps), its installs replace with it; every other machine keeps its inputs as a
// stack made before this had them. The `machines` output records each machine for the next update's check.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fakeBinaryFolder, named, promiseOf, reveal, runProgram, ProgramRun } from "./program";

// Machines over the generic driver, as a lost machine is put back: a blank one at the address the config names.
const key = path.join(os.tmpdir(), "kdw-replaced-test-key");
writeFileSync(key, "not a key: only its path is used\n");
const address = (i: number) => `192.168.99.${10 + i}`;
const genericHosts = Array.from({ length: 6 }, (_, i) => ({ address: address(i), sshUser: "root", sshKeyPath: key }));

let result: Promise<ProgramRun> | undefined;
const run = () => (result ??= runProgram({
    controllers: 3, workers: 3, binarySource: fakeBinaryFolder(), machineDriver: "generic", genericHosts,
}, undefined, undefined, "./fixtures/replaced"));

test("replaced machine: its machine's triggers add the machine it replaces; its key and probe follow the new machine", async () => {
    const { resources, error } = await run();
    assert.equal(error, undefined);
    const machine = named(resources, "kdw-controller-1-machine").inputs;
    assert.equal(machine.triggers.length, 2);
    assert.equal(machine.triggers[1], "replaces lost-machine-id");
    assert.deepEqual(reveal(named(resources, "kdw-controller-1-ssh-key").inputs.triggers), ["kdw-controller-1-machine-id"]);
    assert.deepEqual(reveal(named(resources, "kdw-controller-1-probe").inputs.triggers), ["kdw-controller-1-machine-id"]);
    assert.equal(named(resources, "kdw-controller-1-probe").deleteBeforeReplace, true);
    assert.equal(named(resources, "kdw-controller-1-machine").deleteBeforeReplace, true);
    for (const step of ["etcd", "control-plane"]) {
        assert.deepEqual(reveal(named(resources, `kdw-controller-1-${step}-install`).inputs.triggers), ["kdw-controller-1-machine-id"]);
    }
});

test("replaced machine: the others keep the inputs a stack made before this had (nothing of theirs is replaced)", async () => {
    const { resources } = await run();
    for (const name of ["kdw-controller-0", "kdw-controller-2", "kdw-worker-1", "kdw-worker-2"]) {
        assert.equal(named(resources, `${name}-machine`).inputs.triggers.length, 1, name);
        assert.equal(named(resources, `${name}-ssh-key`).inputs.triggers, undefined, name);
        assert.equal(named(resources, `${name}-probe`).inputs.triggers, undefined, name);
    }
    // A machine that replaced another in an earlier update keeps saying so: its triggers stay as they were made.
    assert.equal(named(resources, "kdw-worker-0-machine").inputs.triggers[1], "replaces older-machine-id");
});

test("replaced machine: nothing but the host's own steps takes its machine's outputs, so that nothing else is replaced with it", async () => {
    // A machine made again after a delete has unknown outputs until then, and Pulumi replaces every resource that takes
    // one of them and replaces on a change: a certificate with a controller's address would take every host with it.
    const { resources } = await run();
    const machineUrns = new Set(resources.filter(r => r.name.endsWith("-machine")).map(r => r.urn));
    const takers = resources.filter(r => !r.type.startsWith("command:") && r.dependencies.some(d => machineUrns.has(d)));
    assert.deepEqual(takers.map(r => `${r.type} ${r.name}`), []);
    const etcd = named(resources, "kdw-controller-1-etcd-server-csr").inputs;
    assert.deepEqual(etcd.ipAddresses, [address(1), "127.0.0.1"]);
});

test("replaced machine: the machines output records each host's address, SSH access, machine id, what it replaces and the settings it was made with", async () => {
    const { outputs } = await run();
    const machines = await promiseOf(outputs.machines) as Record<string, any>;
    assert.deepEqual(Object.keys(machines).sort(),
        ["kdw-controller-0", "kdw-controller-1", "kdw-controller-2", "kdw-worker-0", "kdw-worker-1", "kdw-worker-2"]);
    assert.deepEqual(machines["kdw-controller-1"], {
        ip: address(1), sshUser: "docker", sshKeyPath: "/machines/kdw-controller-1/id_rsa", sshPort: 22,
        id: "kdw-controller-1-machine-id", replaces: "lost-machine-id", settings: { machineDriver: "generic" },
    });
    assert.equal(machines["kdw-controller-0"].replaces, "");
    assert.equal(machines["kdw-worker-0"].replaces, "older-machine-id");
});
