// Which machines are lost: the decision from what each host said (host/identity.ts), the stack output it starts from,
// and the read itself against a host that does not answer.
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { machineSettings } from "../components/machineHost";
import { ClusterConfig } from "../config/types";
import {
    changedMachineProblems, IDENTITY_FILES, machineLineage, MachineRecord, READ_IDENTITY, readIdentity, recordedMachines,
} from "../host/identity";

const machine = (id: string, replaces = ""): MachineRecord =>
    ({ ip: "192.168.99.11", sshUser: "docker", sshKeyPath: "/machines/m/id_rsa", sshPort: 22, id, replaces });

test("lineage: a host that answers with the recorded id keeps its machine, and what it replaced stays", () => {
    const lineage = machineLineage({ a: machine("A"), b: machine("B", "B0") },
        { a: { answered: true, identity: "A" }, b: { answered: true, identity: "B" } });
    assert.deepEqual(lineage, { replaces: { a: "", b: "B0" }, lost: [], unreachable: [] });
});

test("lineage: a blank host, or one that records another machine, is lost: its machine replaces the recorded one", () => {
    const lineage = machineLineage({ a: machine("A"), b: machine("B", "B0"), c: machine("C") },
        { a: { answered: true, identity: "" }, b: { answered: true, identity: "X" }, c: { answered: true, identity: "C" } });
    assert.deepEqual(lineage.replaces, { a: "A", b: "B", c: "" });
    assert.deepEqual(lineage.lost, [{ name: "a", ip: "192.168.99.11", found: "" }, { name: "b", ip: "192.168.99.11", found: "X" }]);
});

test("lineage: an update interrupted after it made a lost machine again (not yet recorded) replaces the same one: nothing is made a third time", () => {
    // The first update found A lost and made machine N, whose host records N (or nothing yet); the stack still records A.
    for (const identity of ["N", ""]) {
        const lineage = machineLineage({ a: machine("A") }, { a: { answered: true, identity } });
        assert.deepEqual(lineage.replaces, { a: "A" }, `host records "${identity}"`);
    }
});

test("lineage: a host that does not answer is left as it is (it may be rebooting) and reported", () => {
    const lineage = machineLineage({ a: machine("A", "A0") }, { a: { answered: false, error: "Connection refused" } });
    assert.deepEqual(lineage, {
        replaces: { a: "A0" }, lost: [], unreachable: [{ name: "a", ip: "192.168.99.11", error: "Connection refused" }],
    });
});

test("recorded machines: only well-formed records of the stack output count; an older stack has none", () => {
    assert.deepEqual(recordedMachines(undefined), {});
    assert.deepEqual(recordedMachines("x"), {});
    assert.deepEqual(recordedMachines({ a: machine("A"), b: { ip: "1.2.3.4" }, c: null }), { a: machine("A") });
    const withSettings = { ...machine("A"), settings: { machineDriver: "generic" } };
    assert.deepEqual(recordedMachines({ a: withSettings, b: { ...machine("B"), settings: { machineMemory: 2048 } } }), { a: withSettings });
});

const settingsOf = (machine: Partial<ClusterConfig["machine"]>) => machineSettings({
    machine: { driver: "virtualbox", memoryMb: 2048, cpus: 1, diskMb: 20000, driverFlags: [], ...machine },
} as ClusterConfig);

test("machine settings: a VM driver's size, ISO and flags and the driver are recorded; of the generic driver only the driver; of another its flags", () => {
    assert.deepEqual(settingsOf({ iso: "/isos/b2d.iso" }), {
        machineDriver: "virtualbox", machineMemory: "2048", machineCpus: "1", machineDiskSize: "20000", machineIso: "/isos/b2d.iso", machineDriverFlags: "",
    });
    assert.deepEqual(settingsOf({ driver: "generic", driverFlags: ["--engine-opt", "debug"] }), { machineDriver: "generic" });
    assert.deepEqual(settingsOf({ driver: "amazonec2", driverFlags: ["--amazonec2-instance-type", "t3.large"] }),
        { machineDriver: "amazonec2", machineDriverFlags: "--amazonec2-instance-type t3.large" });
});

test("changed machine settings: each changed key is one problem naming the values and the machines; unchanged, unrecorded (an older stack) or a new key is none", () => {
    const made = { ...machine("A"), settings: settingsOf({}) };
    const recorded = { "kdw-controller-0": made, "kdw-controller-1": made, "kdw-worker-0": machine("W") };
    assert.deepEqual(changedMachineProblems(recorded, settingsOf({})), []);
    assert.deepEqual(changedMachineProblems({ a: machine("A") }, settingsOf({ memoryMb: 4096 })), []);
    assert.deepEqual(changedMachineProblems({ a: { ...machine("A"), settings: { machineDriver: "virtualbox" } } }, settingsOf({ cpus: 2 })), []);
    const problems = changedMachineProblems(recorded, settingsOf({ cpus: 2, iso: "/isos/new.iso" }));
    assert.equal(problems.length, 2, problems.join("\n"));
    assert.match(problems[0], /^kube-dumb-way:machineCpus is "2", but the running machines \(kdw-controller-0, kdw-controller-1\) were made with "1"/);
    assert.match(problems[1], /^kube-dumb-way:machineIso is "\/isos\/new.iso", but .* were made with ""/);
    assert.match(changedMachineProblems(recorded, { machineDriver: "generic" })[0],
        /^kube-dumb-way:machineDriver is "generic", .* Set kube-dumb-way:machineDriver back to "virtualbox"/);
});

test("the read: prints machine=<id> from the first identity file found, machine= on a host with none", () => {
    assert.deepEqual(IDENTITY_FILES, ["/opt/kdw/machine", "/var/lib/boot2docker/kdw/machine"]);
    // This machine is not a cluster host: it has neither file.
    assert.equal(execFileSync("sh", ["-c", READ_IDENTITY]).toString(), "machine=\n");
    const withFile = READ_IDENTITY.replace(IDENTITY_FILES[0], "/proc/sys/kernel/ostype");
    assert.equal(execFileSync("sh", ["-c", withFile]).toString(), "machine=Linux\n");
});

test("the read: a host nothing answers on is unanswered, with ssh's reason", async () => {
    const reading = await readIdentity({ ...machine("A"), ip: "127.0.0.1", sshPort: 1 });
    assert.equal(reading.answered, false);
    assert.match(!reading.answered ? reading.error : "", /refused/i);
});
