// The one reader of the Pulumi engine's events in the end-to-end suites: what a preview or an update did to each
// resource (its operation, when it started and when it finished), from the Automation API's `onEvent` or from the
// lines of a CLI run's `--event-log`.
import * as auto from "@pulumi/pulumi/automation";

export interface ResourceStep {
    urn: string;
    /** The resource's name (the last part of its URN). */
    name: string;
    type: string;
    /** create, update, replace, delete, same, read, ... */
    op: string;
    /** Seconds since the reader was made. */
    at: number;
    /** When the engine reported its outputs (seconds since the reader was made); unset while it runs. */
    doneAt?: number;
}

/** The events' fields read here, whether they come from the Automation API or from an event log's JSON lines. */
type EngineEvent = Pick<auto.EngineEvent, "resourcePreEvent" | "resOutputsEvent">;

export const resourceName = (urn: string) => urn.split("::").pop() ?? urn;

export function engineEvents() {
    const start = Date.now();
    const steps: ResourceStep[] = [];
    const running = new Map<string, ResourceStep>();
    return {
        /** Every resource the engine went through, in the order it started them, `same` ones included. */
        steps,
        /** Reads one event; returns the step it started, if it started one. */
        onEvent(e: EngineEvent): ResourceStep | undefined {
            const at = (Date.now() - start) / 1000;
            const pre = e.resourcePreEvent?.metadata;
            const done = e.resOutputsEvent?.metadata;
            if (pre) {
                const step = { urn: pre.urn, name: resourceName(pre.urn), type: pre.type, op: pre.op, at };
                steps.push(step);
                running.set(pre.urn, step);
                return step;
            }
            const step = done && running.get(done.urn);
            if (step) {
                step.doneAt = at;
                running.delete(step.urn);
            }
            return undefined;
        },
        /** The steps that change something (not `same`). */
        changes: () => steps.filter(s => s.op !== "same"),
        /** Started and not finished. */
        running: () => [...running.values()],
        /** The `n` slowest finished steps, slowest first. */
        slowest: (n: number) => steps.filter(s => s.doneAt !== undefined)
            .map(s => ({ name: `${s.type}::${s.name}`, seconds: Math.round((s.doneAt! - s.at) * 10) / 10 }))
            .sort((a, b) => b.seconds - a.seconds).slice(0, n),
    };
}

/**
 * A preview (with `expectNoChanges` when asked): its changes as `<op> <resource name>`, and how many resources stay as
 * they are. The read of the stack's own last outputs (`deployed`, main.ts's version-skew check) changes nothing, as
 * Pulumi's own expect-no-changes agrees.
 */
export async function previewChanges(stack: auto.Stack, expectNoChanges = false): Promise<{ changes: string[]; same: number }> {
    const events = engineEvents();
    await stack.preview({ expectNoChanges, onEvent: events.onEvent });
    const changes = events.changes().filter(s => !(s.op === "read" && s.name === "deployed")).map(s => `${s.op} ${s.name}`);
    return { changes, same: events.steps.filter(s => s.op === "same").length };
}

/**
 * `pulumi up`, its output printed indented: what it changed, as `<op> <resource name>` sorted (no `same`, no `read`, no
 * stack). Events go through `events`, for a caller that also wants its timings.
 */
export async function upChanges(stack: auto.Stack, events = engineEvents()): Promise<string[]> {
    await stack.up({ onEvent: events.onEvent, onOutput: line => process.stdout.write(`     | ${line}`) });
    return events.changes().filter(s => s.op !== "read" && !s.type.startsWith("pulumi:")).map(s => `${s.op} ${s.name}`).sort();
}
