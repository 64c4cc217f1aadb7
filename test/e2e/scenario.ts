// One scenario of the end-to-end suites: a file of test/e2e/scenarios/, run by node:test (test/e2e/run.ts) alone or
// with the others of its suite. Its checks are node:test tests run one after another, in the scenario's own order
// (a check may depend on what the one before it did); each prints its line as it ends — PASS or FAIL, its time, the
// first line of what it returned or of its error, a failure's further lines under it — and is recorded with the
// scenario's timings in .cache/e2e/<scenario>.json.
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { HOSTS_SET_SUFFIX, WORK } from "./harness";

export interface CheckResult {
    name: string;
    passed: boolean;
    seconds: number;
    message: string;
}

/** A failed `pulumi up` says why in its error lines, after a long progress display: those are kept. */
function failureMessage(err: unknown): string {
    const lines = (err instanceof Error ? err.message : String(err)).split("\n");
    return [...lines.slice(0, 8), ...lines.slice(8).filter(l => /error|failed|not (ready|healthy)/i.test(l)).slice(-12)].join("\n");
}

export class Scenario {
    readonly checks: CheckResult[] = [];
    readonly timings: Record<string, unknown> = {};

    constructor(readonly name: string) {}

    /** Runs one check as a node:test test; a thrown error fails it. Resolves with whether it passed. */
    async check(name: string, body: () => Promise<string | void>): Promise<boolean> {
        let passed = false;
        await test(name, async () => {
            const start = Date.now();
            let message = "";
            try {
                message = (await body()) ?? "";
                passed = true;
            } catch (err) {
                message = failureMessage(err);
                throw err;
            } finally {
                const seconds = Math.round((Date.now() - start) / 100) / 10;
                this.checks.push({ name, passed, seconds, message });
                console.log(`${passed ? "PASS" : "FAIL"} ${name} (${seconds}s)${message ? `: ${message.split("\n")[0]}` : ""}`);
                if (!passed && message.includes("\n")) {
                    console.log(message.split("\n").slice(1).map(l => `     ${l}`).join("\n"));
                }
                this.save();
            }
        });
        return passed;
    }

    save(): void {
        mkdirSync(WORK, { recursive: true });
        writeFileSync(path.join(WORK, `${this.name}${HOSTS_SET_SUFFIX}.json`), JSON.stringify({ checks: this.checks, timings: this.timings }, null, 2));
    }

    /**
     * Runs the scenario's `main` to its end: an error it throws outside a check is a failed check of its own; then the
     * report is saved and `after` prints the scenario's own totals. A scenario whose timers, sockets or children outlive
     * it would never end and would hold CI until its time limit: 30 s after its end it exits with status 1, which the
     * runner reports as a failure of the file, after saying why.
     */
    run(main: () => Promise<void>, after: () => void = () => undefined): void {
        const start = Date.now();
        main().catch(err => this.check(`${this.name}: runs to its end`, async () => { throw err; })).finally(() => {
            this.timings.scenarioSeconds = Math.round((Date.now() - start) / 1000);
            this.save();
            after();
            setTimeout(() => {
                console.log(`${this.name}: something it started (a timer, a socket, a child process) kept it running 30 s ` +
                    "after its last check");
                process.exit(1);
            }, 30_000).unref();
        });
    }
}
