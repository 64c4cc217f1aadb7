// node:test's events as the end-to-end suites print them: the scenarios' own lines (each check prints its PASS or
// FAIL line as it ends, test/e2e/scenario.ts) pass through as they come; a failure that no check printed (a scenario
// file that failed to load or exited with an error, a test that never ran its body) gets its FAIL line here; a skipped
// or todo test is a failure, never a pass; the last line is "N passed, N failed".
import * as path from "node:path";

export interface Tally {
    passed: number;
    failed: number;
}

interface TestEventData {
    name: string;
    nesting: number;
    file?: string;
    skip?: boolean | string;
    todo?: boolean | string;
    message?: string;
    details?: { error?: { failureType?: string; message?: string; cause?: unknown; exitCode?: number | null; signal?: string | null } };
}

/** The error's own message: node:test wraps a test body's error (its `cause`) in one of its own. */
function errorText(data: TestEventData): string {
    const error = data.details?.error;
    const cause = error?.cause;
    return String(cause instanceof Error ? cause.message : (cause as { message?: string } | undefined)?.message ?? error?.message ?? "failed");
}

/** The reporter, for `run(...).compose(summaryReporter(tally))`; `tally` holds the counts once the stream ends. */
export function summaryReporter(tally: Tally) {
    return async function* report(source: AsyncIterable<{ type: string; data: TestEventData }>): AsyncGenerator<string> {
        for await (const { type, data } of source) {
            if (type === "test:stdout" || type === "test:stderr") {
                yield data.message ?? "";
            } else if ((type === "test:pass" || type === "test:fail") && data.nesting === 0) {
                // Every check is a top-level test of its scenario's file; a whole file that failed is one too.
                const skipped = data.skip !== undefined && data.skip !== false || data.todo !== undefined && data.todo !== false;
                if (type === "test:pass" && !skipped) {
                    tally.passed++;
                    continue;
                }
                tally.failed++;
                const wholeFile = data.file !== undefined && path.resolve(data.name) === data.file;
                const printedByCheck = type === "test:fail" && !wholeFile && data.details?.error?.failureType === "testCodeFailure";
                if (wholeFile) {
                    const { exitCode, signal } = data.details?.error ?? {};
                    yield `FAIL scenario ${path.basename(data.file!, ".js")}: its process ended with ` +
                        `${signal ? `signal ${signal}` : `exit code ${exitCode}`} (its output is above)\n`;
                } else if (!printedByCheck) {
                    const [first, ...rest] = (skipped ? "skipped: a check is never skipped" : errorText(data)).split("\n");
                    yield `FAIL ${data.name}: ${first}\n${rest.map(l => `     ${l}\n`).join("")}`;
                }
            }
        }
        yield `${tally.passed} passed, ${tally.failed} failed\n`;
    };
}
