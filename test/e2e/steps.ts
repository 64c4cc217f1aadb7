// What `pulumi up` did to the host steps (test/e2e/engineEvents.ts): which started and finished when, the workers
// drained at each moment, and the check that a change rolled one host at a time.
import * as assert from "node:assert/strict";
import { engineEvents, resourceName, ResourceStep } from "./engineEvents";

const HOST_STEP = /-(install|roll|drain|uncordon)$|-encryption-(read|write)$|-rewrite-secrets$/;

export function stepRecorder() {
    const events = engineEvents();
    const busy = new Set<string>();
    return {
        /** The host steps that changed something, in the order the engine started them. */
        get steps(): ResourceStep[] {
            return events.changes().filter(s => HOST_STEP.test(s.name));
        },
        /** Workers between the start of their drain and the end of their uncordon. */
        busy,
        onEvent(e: Parameters<typeof events.onEvent>[0]) {
            const started = events.onEvent(e);
            const drained = started && started.op === "update" && /^(.*)-node-drain$/.exec(started.name);
            if (drained) {
                busy.add(drained[1]);
            }
            const uncordoned = e.resOutputsEvent && /^(.*)-node-uncordon$/.exec(resourceName(e.resOutputsEvent.metadata.urn));
            if (uncordoned) {
                busy.delete(uncordoned[1]);
            }
        },
    };
}

/** Rolls of one host must not overlap another's: each roll step starts after the previous host's has finished. */
export function assertOneHostAtATime(steps: ResourceStep[]) {
    const hostOf = (name: string) => name.replace(/-(etcd|encryption|control-plane|kube-vip|node)-(roll|drain|uncordon|read|write)$/, "");
    const rollSteps = steps.filter(s => /-(roll|drain|uncordon)$|-encryption-(read|write)$/.test(s.name));
    for (let i = 1; i < rollSteps.length; i++) {
        const before = rollSteps[i - 1];
        if (hostOf(before.name) !== hostOf(rollSteps[i].name)) {
            const finished = before.doneAt ?? Infinity;
            assert.ok(finished <= rollSteps[i].at, `${rollSteps[i].name} started at ${rollSteps[i].at}s, before ${before.name} finished (${finished}s)`);
        }
    }
}

export const describeSteps = (steps: ResourceStep[]) => steps.map(s => `${s.at.toFixed(0)}s ${s.op} ${s.name}`).join("; ");
