// Which machine is at each host's address: the one this stack made there, or a new one because the old was lost.
// host.sh `up` writes the machine's id (the id Pulumi gave its docker-machine create) on the host; the next update
// reads it back over SSH before it registers anything, and a host that answers without it, or with another id, is a
// new machine (a blank VM at the same address, a disk wiped): its machine is made again (docker-machine rm, create),
// and every step on it installs afresh, as on a first `up`. A host that does not answer is left as it is: it may be
// rebooting, and nothing can be installed on it anyway.
import * as pulumi from "@pulumi/pulumi";
import { execFile } from "node:child_process";
import { PROJECT } from "../config/types";
import { hostLayout } from "../render/layout";

/** What the stack records of each machine it made (its output `machines`), to find the host again and check it. */
export interface MachineRecord {
    ip: string;
    sshUser: string;
    sshKeyPath: string;
    sshPort: number;
    /** The id of the machine's resource, which host.sh wrote on the host. */
    id: string;
    /** The id of the machine this one was made to replace, if any: part of what makes the machine (its triggers). */
    replaces: string;
    /**
     * The settings the machine was made with that docker-machine cannot change on a made machine (machineSettings in
     * components/machineHost.ts), by config key; absent in a stack recorded before they were.
     */
    settings?: Record<string, string>;
}

/** Where host.sh `up` records the machine, for each host kind: the layout's home folder. */
export const IDENTITY_FILES = (["systemd", "boot2docker"] as const).map(p => `${hostLayout(p).home}/machine`);

/** Prints `machine=<id>`, or `machine=` on a host that has no record (a blank machine). */
export const READ_IDENTITY = `for f in ${IDENTITY_FILES.join(" ")}; do ` +
    `if [ -f "$f" ]; then printf 'machine=%s\\n' "$(cat "$f")"; exit 0; fi; done; echo machine=`;

export type IdentityReading = { answered: true; identity: string } | { answered: false; error: string };

/**
 * Runs a command on a recorded machine over SSH with the machine's own key (10 s to connect, 30 s in all): its output,
 * or why it did not answer (ssh's or the command's last line of errors; warnings come before it).
 */
export function runOnMachine(m: MachineRecord, remoteCommand: string): Promise<{ ok: true; stdout: string } | { ok: false; error: string }> {
    const args = ["-i", m.sshKeyPath, "-p", String(m.sshPort), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", `${m.sshUser}@${m.ip}`, remoteCommand];
    return new Promise(resolve => execFile("ssh", args, { timeout: 30_000 }, (err, stdout, stderr) => resolve(err
        ? { ok: false, error: (stderr.trim() || err.message || "no answer").split("\n").pop()!.trim() }
        : { ok: true, stdout })));
}

/** Reads a host's record over SSH. */
export async function readIdentity(m: MachineRecord): Promise<IdentityReading> {
    const result = await runOnMachine(m, READ_IDENTITY);
    const line = result.ok ? result.stdout.split("\n").find(l => l.startsWith("machine=")) : undefined;
    return line === undefined
        ? { answered: false, error: result.ok ? "no answer" : result.error }
        : { answered: true, identity: line.slice("machine=".length).trim() };
}

export interface Lineage {
    /** For every machine recorded: the id of the machine it replaces ("" for none), as its resource must now have it. */
    replaces: Record<string, string>;
    /** The machines found replaced: a host that answered without this stack's record of it, or with another. */
    lost: { name: string; ip: string; found: string }[];
    /** The machines that did not answer, and why. */
    unreachable: { name: string; ip: string; error: string }[];
}

/**
 * What each recorded machine replaces, from what its host said. A lost machine replaces the one recorded; any other
 * keeps what it replaced. An update interrupted after it made a lost machine again finds that new machine not yet
 * recorded, and so the same `replaces` as before: nothing is made a third time.
 */
export function machineLineage(recorded: Record<string, MachineRecord>, readings: Record<string, IdentityReading>): Lineage {
    const lineage: Lineage = { replaces: {}, lost: [], unreachable: [] };
    for (const [name, machine] of Object.entries(recorded)) {
        const reading = readings[name];
        if (reading?.answered && reading.identity !== machine.id) {
            lineage.replaces[name] = machine.id;
            lineage.lost.push({ name, ip: machine.ip, found: reading.identity });
        } else {
            lineage.replaces[name] = machine.replaces;
            if (reading && !reading.answered) {
                lineage.unreachable.push({ name, ip: machine.ip, error: reading.error });
            }
        }
    }
    return lineage;
}

/** The stack output `machines` as recorded, or nothing when it is not there or not of this shape (an older stack). */
export function recordedMachines(output: unknown): Record<string, MachineRecord> {
    if (typeof output !== "object" || output === null) {
        return {};
    }
    const isRecord = (m: any): m is MachineRecord => typeof m?.ip === "string" && typeof m.sshUser === "string" &&
        typeof m.sshKeyPath === "string" && typeof m.sshPort === "number" && typeof m.id === "string" && typeof m.replaces === "string" &&
        (m.settings === undefined || (typeof m.settings === "object" && m.settings !== null &&
            Object.values(m.settings).every(v => typeof v === "string")));
    return Object.fromEntries(Object.entries(output).filter(([, m]) => isRecord(m)));
}

/**
 * Why the configured machines cannot be taken as they are: an address the stack records as one node's machine that the
 * config now gives another node. genericHosts gives its first `controllers` entries to the controllers and the rest to
 * the workers, in order, so a new count of controllers shifts the workers' entries unless the list is edited with it;
 * the node given the address would install over the machine another node runs, and a removed node's last step sweeps
 * that machine afterwards. One problem per address, none when every address stays with its node.
 */
export function movedMachineProblems(recorded: Record<string, MachineRecord>, planned: { name: string; address?: string }[]): string[] {
    return planned.flatMap(({ name, address }) => {
        const owner = Object.entries(recorded).find(([node, m]) => m.ip === address && node !== name)?.[0];
        return address === undefined || owner === undefined ? [] : [`${PROJECT}:genericHosts gives ${address} to ${name}, ` +
            `but it is the machine of ${owner}, which the cluster runs there. The list gives its first ${PROJECT}:controllers ` +
            "entries to the controllers and the rest to the workers, in order: when the count of controllers changes, edit " +
            "it so that every running node keeps its address (a new controller's entry after the other controllers', a " +
            "removed one's taken out). To move a machine from one node to another, remove it in one update and add it in the next."];
    });
}

/**
 * Why the running machines cannot take the configured machine settings: docker-machine makes a machine with its driver,
 * size and boot ISO and cannot change them after, so new values mean every machine made again at once, blank (a VM
 * driver's) or provisioned anew (any driver's, for a new driver): every etcd member and the cluster's objects would be
 * lost in one update. One problem per changed setting (config key, recorded and new values), none when the stack
 * recorded no settings (an older stack) or every recorded one is as configured.
 */
export function changedMachineProblems(recorded: Record<string, MachineRecord>, planned: Record<string, string>): string[] {
    const changed = new Map<string, { from: string; nodes: string[] }>();
    for (const [node, m] of Object.entries(recorded)) {
        for (const [key, from] of Object.entries(m.settings ?? {})) {
            if (key in planned && planned[key] !== from) {
                const entry = changed.get(key) ?? { from, nodes: [] };
                entry.nodes.push(node);
                changed.set(key, entry);
            }
        }
    }
    return [...changed].map(([key, { from, nodes }]) => `${PROJECT}:${key} is ${JSON.stringify(planned[key])}, but the ` +
        `running machines (${nodes.join(", ")}) were made with ${JSON.stringify(from)}, and docker-machine cannot change ` +
        "that on a made machine: every machine would be made again at once, blank, and the cluster lost with its etcd " +
        `data. Set ${PROJECT}:${key} back to ${JSON.stringify(from)}; to move the cluster to new machines, take an etcd ` +
        "snapshot, pulumi destroy, set the new value, and pulumi up with etcdRestoreSnapshot naming the snapshot " +
        "(docs/recovery.md).");
}

/**
 * Reads every recorded machine's host at once and says what it found: a lost machine is made again (a warning says
 * so, and `pulumi preview` shows the plan), a host that does not answer gets a warning with the way out.
 */
export async function replacedMachines(recorded: Record<string, MachineRecord>): Promise<Record<string, string>> {
    const names = Object.keys(recorded);
    const readings = Object.fromEntries(await Promise.all(names.map(async n => [n, await readIdentity(recorded[n])] as const)));
    const lineage = machineLineage(recorded, readings);
    for (const l of lineage.lost) {
        pulumi.log.warn(`${l.name} (${l.ip}) is not the machine this stack made there: ` +
            `${l.found ? `it records machine ${l.found}, not ${recorded[l.name].id}` : "it has no record of this cluster"}. ` +
            "The machine is made again and everything that ran on it installed afresh (a controller's etcd member rejoins the cluster).");
    }
    for (const u of lineage.unreachable) {
        pulumi.log.warn(`${u.name} (${u.ip}) did not answer over SSH (${u.error}); nothing of it is checked or changed. ` +
            "If it is gone for good, put a blank machine at its address (or give its new address in the config) and run " +
            "pulumi up again: it is rebuilt.");
    }
    return lineage.replaces;
}
