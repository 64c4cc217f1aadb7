// This machine's processes as /proc lists them, for tests that check what a kill or a stop left running.
import { readdirSync, readFileSync } from "node:fs";

export interface ProcessEntry {
    pid: number;
    ppid: number;
    /** Its process group. */
    pgrp: number;
    /** Ended and not yet waited for by its parent (state Z): nothing of it runs. */
    zombie: boolean;
    cmdline: string;
}

/** Every process now, each read from /proc/<pid>/stat (the fields after the command's closing parenthesis) and cmdline. */
export function processTable(): ProcessEntry[] {
    return readdirSync("/proc").filter(d => /^\d+$/.test(d)).flatMap(pid => {
        try {
            const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
            const [state, ppid, pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
            return [{ pid: Number(pid), ppid: Number(ppid), pgrp: Number(pgrp), zombie: state === "Z", cmdline }];
        } catch {
            return []; // the process ended meanwhile
        }
    });
}

/** Every descendant of a process, by the parent each names (whatever its process group). */
export function descendants(pid: number, table = processTable()): ProcessEntry[] {
    const found: ProcessEntry[] = [];
    for (let queue = [pid]; queue.length > 0;) {
        const parent = queue.shift();
        const children = table.filter(p => p.ppid === parent);
        found.push(...children);
        queue.push(...children.map(p => p.pid));
    }
    return found;
}
