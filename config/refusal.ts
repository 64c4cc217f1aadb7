// The error the program stops with when it refuses what it was given (invalid settings, a change the running cluster
// cannot take): a Pulumi RunError, whose message alone Pulumi prints.
import * as pulumi from "@pulumi/pulumi";

/**
 * A RunError without its stack frames. Pulumi never shows a RunError's frames, but its run-time still formats the whole
 * error with util.inspect for its trace, and in a program's process that took 24 s of CPU for a dozen frames: a
 * refused `pulumi preview` of the test cluster took 32.6 s, and 3.3 s with the frames left out (2026-12-04).
 */
export function refusal(message: string): pulumi.RunError {
    const err = new pulumi.RunError(message);
    err.stack = `${err.name}: ${message}`;
    return err;
}
