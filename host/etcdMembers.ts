// etcd members the stack does not declare, found as the program starts. A step's record in the state outlives what it
// did on the hosts when its update fails: a 3→5 resize whose `up` failed after one new member joined keeps the
// membership step's earlier inputs, so an `up` back to 3 controllers sees nothing to change, and a dead voting member
// would stay in etcd while `up` reports success. So, before it registers anything, the program asks a declared
// controller's etcd member for the member list (over SSH, as host/identity.ts reads each machine's record) and names
// each member whose peer address is no declared controller's: such members make the membership step run again, which
// removes them (host/scripts/etcd-membership.sh).
//
// What makes the step run is its input `undeclared`: the members found, or, when none is found (or etcd cannot be
// asked), what the last update that ran the step recorded (stack output `etcdUndeclaredMembersRemoved`). So the input
// changes only while etcd has members it should not, and goes back to nothing changing once they are removed: the
// next update finds none and repeats the recorded value. Members are named by etcd's id, which every `member add`
// draws afresh, so a member left again later at the same address is a change again.
import * as pulumi from "@pulumi/pulumi";
import { MachineRecord, runOnMachine } from "./identity";

/** A member as `etcdctl member list -w simple` shows it. */
export interface ObservedMember { id: string; name: string; peerUrls: string[] }

export type MemberListReading = { answered: true; via: string; members: ObservedMember[] } | { answered: false; errors: string[] };

/** etcdctl in the controller's running etcd container, with the member's own certificate (host/scripts/etcd.sh). */
export const READ_MEMBER_LIST = "docker exec kdw-etcd etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/etcd/ca.pem " +
    "--cert=/etc/etcd/server.pem --key=/etc/etcd/server-key.pem --dial-timeout=2s --command-timeout=5s member list -w simple";

/** `member list -w simple` lines: "<id>, <started|unstarted>, <name>, <peer URLs>, <client URLs>, <is learner>". */
export function parseMemberList(text: string): ObservedMember[] | undefined {
    const lines = text.split("\n").map(l => l.trim()).filter(l => l !== "");
    const members = lines.map(l => l.split(", ")).map(f => f.length === 6 && /^[0-9a-f]+$/.test(f[0])
        ? { id: f[0], name: f[2], peerUrls: f[3].split(",").filter(u => u !== "") } : undefined);
    return members.length > 0 && members.every(m => m !== undefined) ? members as ObservedMember[] : undefined;
}

/**
 * etcd's member list, from the first of the controllers (in the order given) whose member answers with it; all are
 * asked at once. A member without quorum answers none (the list is read through the leader).
 */
export async function readMemberList(controllers: { name: string; machine: MachineRecord }[]): Promise<MemberListReading> {
    const results = await Promise.all(controllers.map(c => runOnMachine(c.machine, READ_MEMBER_LIST)));
    const errors: string[] = [];
    for (const [i, result] of results.entries()) {
        const members = result.ok ? parseMemberList(result.stdout) : undefined;
        if (members) {
            return { answered: true, via: controllers[i].name, members };
        }
        errors.push(`${controllers[i].name}: ${result.ok ? `not a member list: ${result.stdout.trim().slice(0, 200)}` : result.error}`);
    }
    return { answered: false, errors };
}

/** Whether one of the member's peer URLs is at one of the addresses. */
function isAt(member: ObservedMember, addresses: string[]): boolean {
    const host = (url: string) => { try { return new URL(url).hostname.replace(/^\[|\]$/g, ""); } catch { return url; } };
    return member.peerUrls.some(u => addresses.includes(host(u)));
}

/** The members none of whose peer URLs is at a declared controller's address. */
export function undeclaredMembers(members: ObservedMember[], declaredAddresses: string[]): ObservedMember[] {
    return members.filter(m => !isAt(m, declaredAddresses));
}

/** The membership step's input: the undeclared members found, else the value the last update recorded, else "". */
export function undeclaredInput(found: ObservedMember[] | undefined, recorded: unknown): string {
    if (found && found.length > 0) {
        return found.map(m => `${m.id}=${m.peerUrls.join("+")}`).sort().join(",");
    }
    return typeof recorded === "string" ? recorded : "";
}

/**
 * Undeclared members by what they are: those at the machine of a node the stack recorded and no longer declares (a
 * control plane that shrinks: they leave as it goes), and those left behind (a failed update's: no machine recorded).
 */
export function leavingOrLeftBehind(undeclared: ObservedMember[], declaredNames: string[], recorded: Record<string, MachineRecord>):
    { leaving: ObservedMember[]; leftBehind: ObservedMember[] } {
    const undeclaredMachines = Object.entries(recorded).filter(([name]) => !declaredNames.includes(name)).map(([, m]) => m.ip);
    return {
        leaving: undeclared.filter(m => isAt(m, undeclaredMachines)),
        leftBehind: undeclared.filter(m => !isAt(m, undeclaredMachines)),
    };
}

/**
 * Reads etcd's members through the declared controllers the stack records and returns the membership step's input
 * (`undeclaredInput`), warning about what it found. A cluster not made yet, or etcd without quorum, is not asked or
 * does not answer: the recorded value stands (nothing can be removed without quorum anyway).
 */
export async function findUndeclaredMembers(controllers: { name: string; address?: string }[],
    recorded: Record<string, MachineRecord>, recordedInput: unknown): Promise<string> {
    const reachable = controllers.filter(c => recorded[c.name]).map(c => ({ name: c.name, machine: recorded[c.name] }));
    if (reachable.length === 0) {
        return undeclaredInput(undefined, recordedInput);
    }
    const reading = await readMemberList(reachable);
    if (!reading.answered) {
        pulumi.log.warn(`No declared controller's etcd member gave its member list (${reading.errors.join("; ")}): members ` +
            "the stack does not declare, if any, are not looked for in this update.");
        return undeclaredInput(undefined, recordedInput);
    }
    const addresses = controllers.map(c => c.address ?? recorded[c.name]?.ip).filter((a): a is string => a !== undefined);
    const found = undeclaredMembers(reading.members, addresses);
    const { leaving, leftBehind } = leavingOrLeftBehind(found, controllers.map(c => c.name), recorded);
    const describe = (ms: ObservedMember[]) => ms.map(m => `${m.name || "(not started)"} ${m.id} at ${m.peerUrls.join(", ")}`).join("; ");
    const removal = "the step etcd-membership-members removes it (never at the cost of quorum) once every declared " +
        "member is a started voting member.";
    if (leaving.length > 0) {
        pulumi.log.info(`etcd's members of controllers no longer declared: ${describe(leaving)}; ${removal}`);
    }
    if (leftBehind.length > 0) {
        pulumi.log.warn(`etcd (asked through ${reading.via}) has ${leftBehind.length} member(s) at no declared ` +
            `controller's address and no machine the stack records: ${describe(leftBehind)}. Such a member is what a ` +
            `failed update leaves behind (a resize whose up failed after a new member joined); ${removal}`);
    }
    return undeclaredInput(found, recordedInput);
}
