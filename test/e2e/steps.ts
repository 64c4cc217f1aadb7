// What `pulumi up` did to the host steps, from the engine's events: which started when, which finished when, and the
// check that a change rolled one host at a time.
import * as auto from "@pulumi/pulumi/automation";
import * as assert from "node:assert/strict";

/** What `pulumi up` did to host steps, in the order the engine started it, with seconds since the start. */
export interface Step { at: number; op: string; name: string }

export function stepRecorder() {
    const start = Date.now();
    const steps: Step[] = [];
    const done = new Map<string, number>();
    const busy = new Set<string>();
    return {
        steps,
        done,
        /** Workers between the start of their drain and the end of their uncordon. */
        busy,
        onEvent(e: auto.EngineEvent) {
            const pre = e.resourcePreEvent?.metadata;
            const out = e.resOutputsEvent?.metadata;
            const name = (pre ?? out)?.urn.split("::").pop() ?? "";
            const at = (Date.now() - start) / 1000;
            if (pre && pre.op !== "same" && /-(install|roll|drain|uncordon)$/.test(name)) {
                steps.push({ at, op: pre.op, name });
                const drained = /^(.*)-node-drain$/.exec(name);
                if (drained && pre.op === "update") {
                    busy.add(drained[1]);
                }
            }
            if (out) {
                done.set(name, at);
                const uncordoned = /^(.*)-node-uncordon$/.exec(name);
                if (uncordoned) {
                    busy.delete(uncordoned[1]);
                }
            }
        },
    };
}

/** Rolls of one host must not overlap another's: each roll step starts after the previous host's has finished. */
export function assertOneHostAtATime(steps: Step[], done: Map<string, number>) {
    const hostOf = (name: string) => name.replace(/-(etcd|control-plane|kube-vip|node)-(roll|drain|uncordon)$/, "");
    const rollSteps = steps.filter(s => /-(roll|drain|uncordon)$/.test(s.name));
    for (let i = 1; i < rollSteps.length; i++) {
        const before = rollSteps[i - 1];
        if (hostOf(before.name) !== hostOf(rollSteps[i].name)) {
            const finished = done.get(before.name) ?? Infinity;
            assert.ok(finished <= rollSteps[i].at, `${rollSteps[i].name} started at ${rollSteps[i].at}s, before ${before.name} finished (${finished}s)`);
        }
    }
}

export const describeSteps = (steps: Step[]) => steps.map(s => `${s.at.toFixed(0)}s ${s.op} ${s.name}`).join("; ");
