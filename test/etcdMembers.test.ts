// etcd members the stack does not declare (host/etcdMembers.ts): the member list read and parsed, which members are
// undeclared, and the membership step's input that makes it run while they are there and not after.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import {
    findUndeclaredMembers, leavingOrLeftBehind, parseMemberList, READ_MEMBER_LIST, readMemberList, undeclaredInput, undeclaredMembers,
} from "../host/etcdMembers";
import { MachineRecord } from "../host/identity";

const LIST = [
    "8e9e05c52164694d, started, kdw-controller-0, https://192.168.99.10:2380, https://192.168.99.10:2379, false",
    "91bc3c398fb3c146, started, kdw-controller-1, https://192.168.99.11:2380, https://192.168.99.11:2379, false",
    "fd422379fda50e48, started, kdw-controller-2, https://192.168.99.12:2380, https://192.168.99.12:2379, false",
    // A member a failed 3→5 resize left: added, never started (no name, no client URL).
    "a1b2c3d4e5f60718, unstarted, , https://192.168.99.15:2380, , false",
].join("\n") + "\n";

const machine = (ip: string, sshPort = 22): MachineRecord =>
    ({ ip, sshUser: "docker", sshKeyPath: "/machines/m/id_rsa", sshPort, id: "m", replaces: "" });

test("member list: each line's id, name and peer URLs; anything else is no list", () => {
    const members = parseMemberList(LIST);
    assert.deepEqual(members?.map(m => [m.id, m.name, m.peerUrls]), [
        ["8e9e05c52164694d", "kdw-controller-0", ["https://192.168.99.10:2380"]],
        ["91bc3c398fb3c146", "kdw-controller-1", ["https://192.168.99.11:2380"]],
        ["fd422379fda50e48", "kdw-controller-2", ["https://192.168.99.12:2380"]],
        ["a1b2c3d4e5f60718", "", ["https://192.168.99.15:2380"]],
    ]);
    assert.deepEqual(parseMemberList("1, started, a, https://x:2380,https://y:2380, https://x:2379, true")?.[0].peerUrls,
        ["https://x:2380", "https://y:2380"]);
    for (const text of ["", "Error: context deadline exceeded", `${LIST}{"level":"warn"}`]) {
        assert.equal(parseMemberList(text), undefined, text);
    }
});

test("undeclared: members whose peer URL is at no declared controller's address, IPv6 as well", () => {
    const members = parseMemberList(LIST)!;
    const declared = ["192.168.99.10", "192.168.99.11", "192.168.99.12"];
    assert.deepEqual(undeclaredMembers(members, declared).map(m => m.id), ["a1b2c3d4e5f60718"]);
    assert.deepEqual(undeclaredMembers(members, [...declared, "192.168.99.15"]), []);
    // Shrunk to one controller: the other two are undeclared too.
    assert.deepEqual(undeclaredMembers(members, ["192.168.99.10"]).map(m => m.name), ["kdw-controller-1", "kdw-controller-2", ""]);
    const v6 = parseMemberList("1f, started, a, https://[fd00::10]:2380, https://[fd00::10]:2379, false\n")!;
    assert.deepEqual(undeclaredMembers(v6, ["fd00::10"]), []);
});

test("undeclared members: those at the machine of a recorded node no longer declared leave with a shrink; the others " +
    "were left behind", () => {
    const members = parseMemberList(LIST)!;
    // Shrunk from 3 to 1: controllers 1 and 2 recorded; the never-started member's address is no recorded machine's.
    const recorded = Object.fromEntries([0, 1, 2].map(i => [`kdw-controller-${i}`, machine(`192.168.99.1${i}`)]));
    const undeclared = undeclaredMembers(members, ["192.168.99.10"]);
    const { leaving, leftBehind } = leavingOrLeftBehind(undeclared, ["kdw-controller-0"], recorded);
    assert.deepEqual(leaving.map(m => m.name), ["kdw-controller-1", "kdw-controller-2"]);
    assert.deepEqual(leftBehind.map(m => m.id), ["a1b2c3d4e5f60718"]);
    assert.deepEqual(leavingOrLeftBehind([], ["kdw-controller-0"], recorded), { leaving: [], leftBehind: [] });
});

test("the step's input: the undeclared members found (by etcd's id, so that a member left again at the same address " +
    "is a change again), else what the last update recorded, else nothing", () => {
    const found = undeclaredMembers(parseMemberList(LIST)!, ["192.168.99.10", "192.168.99.11", "192.168.99.12"]);
    const input = undeclaredInput(found, "");
    assert.equal(input, "a1b2c3d4e5f60718=https://192.168.99.15:2380");
    // Found again after an update that failed to remove it: the same input, which the failed update did not record.
    assert.equal(undeclaredInput(found, ""), input);
    // Removed: none found, and the stack recorded the input the step ran with, so nothing changes.
    assert.equal(undeclaredInput([], input), input);
    assert.equal(undeclaredInput(undefined, input), input);
    // A member left later at the same address has another id.
    const again = [{ ...found[0], id: "0f0e0d0c0b0a0908" }];
    assert.notEqual(undeclaredInput(again, input), input);
    // A new stack, or one recorded before the output was.
    assert.equal(undeclaredInput(undefined, undefined), "");
    assert.equal(undeclaredInput([], 42), "");
});

/** An `ssh` on PATH that prints `stdout` for the member list's command and fails for anything else. */
function withStandInSsh(stdout: string): () => void {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kdw-ssh-"));
    fs.writeFileSync(path.join(dir, "ssh"), `#!/bin/sh\neval "last=\\\${$#}"\n` +
        `if [ "$last" = '${READ_MEMBER_LIST}' ]; then printf '%s' '${stdout}'; exit 0; fi\n` +
        "echo \"ssh: no such command: $last\" >&2; exit 255\n", { mode: 0o755 });
    const before = process.env.PATH;
    process.env.PATH = `${dir}:${before}`;
    return () => { process.env.PATH = before; fs.rmSync(dir, { recursive: true }); };
}

test("the read: the first controller that answers with a list is taken; one that does not answer is named with why", async () => {
    const unanswered = await readMemberList([{ name: "kdw-controller-0", machine: machine("127.0.0.1", 1) }]);
    assert.equal(unanswered.answered, false);
    assert.match(!unanswered.answered ? unanswered.errors[0] : "", /^kdw-controller-0: .*(refused|port 1)/);
    const restore = withStandInSsh(LIST);
    try {
        const reading = await readMemberList([
            { name: "kdw-controller-0", machine: machine("192.168.99.10") },
            { name: "kdw-controller-1", machine: machine("192.168.99.11") },
        ]);
        assert.equal(reading.answered && reading.via, "kdw-controller-0");
        assert.equal(reading.answered && reading.members.length, 4);
        // Through the program's entry: the controllers declared now (3, the fourth member's gone from the config).
        const controllers = [0, 1, 2].map(i => ({ name: `kdw-controller-${i}`, address: `192.168.99.1${i}` }));
        const recorded = Object.fromEntries(controllers.map(c => [c.name, machine(c.address)]));
        assert.equal(await findUndeclaredMembers(controllers, recorded, ""), "a1b2c3d4e5f60718=https://192.168.99.15:2380");
        // Declared as a fourth controller: nothing undeclared, the recorded value stands.
        const four = [...controllers, { name: "kdw-controller-3", address: "192.168.99.15" }];
        assert.equal(await findUndeclaredMembers(four, recorded, "before"), "before");
        // Nothing recorded (a new cluster): nothing asked.
        assert.equal(await findUndeclaredMembers(controllers, {}, undefined), "");
    } finally {
        restore();
    }
});
