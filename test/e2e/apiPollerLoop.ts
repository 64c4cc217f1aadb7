// Availability measured, not assumed: asks the API through the admin kubeconfig every 0.5 s (a new TLS connection
// each time, so a dead backend shows at once) while something disruptive runs, then reports the longest time without
// an answer and how many requests failed. Each request may take up to ANSWER_WITHIN_SECONDS: the requests overlap, so
// an API that answers slowly on a loaded machine (CI runs three clusters on two cores) still answers every 0.5 s and
// shows no gap, while an API that does not answer at all shows one; how slow the answers were is reported beside.
// A request is a GET as client-go makes it (kubectl, controllers, every Go client): a connection reset, which is what
// a request in flight meets when the virtual IP moves to another controller, is retried after 1 s (client-go's
// request.go retries a GET on a reset or an EOF, as if the server had said Retry-After: 1); any other error, or no
// answer within the request's time, is a failure. Resets are counted and reported apart.
// This file is the poller's loop as it runs in its own process (apiPollerProcess.ts); apiPoller.ts starts that process
// and judges the figures. It imports nothing of the suite, so that the process starts in a moment.
import * as yaml from "js-yaml";
import { readFileSync } from "node:fs";
import * as https from "node:https";

export interface Availability {
    requests: number;
    failed: number;
    /** The longest time, in seconds, between two answered requests (or the start or the end of polling). */
    longestGapSeconds: number;
    /** The first few distinct failure messages. */
    errors: string[];
    /** The slowest answer, in seconds. */
    slowestAnswerSeconds: number;
    /** Connection resets, each retried after RETRY_AFTER_SECONDS. */
    resetsRetried: number;
    /** When the longest gap began and ended (ISO times), to read beside the hosts' logs. */
    longestGapWindow: { from: string; to: string };
    /** The first few failed requests: when each was sent, how long it took and why it failed. */
    failures: { sent: string; seconds: number; message: string }[];
    /** The poller's own lateness: the longest its timer fired after it was due, in seconds. */
    latestAskSeconds: number;
}

/** How long a request may take before it counts as failed (and its wait as part of a gap). */
export const ANSWER_WITHIN_SECONDS = 10;

/** How long client-go waits before it retries a GET whose connection was reset (its artificial Retry-After). */
export const RETRY_AFTER_SECONDS = 1;

/** What client-go's IsConnectionReset and IsProbableEOF see in Node.js's terms ("socket hang up" is ECONNRESET). */
const isConnectionReset = (err: NodeJS.ErrnoException) => err.code === "ECONNRESET" || err.code === "EPIPE";

/** The server, CA and client credentials of a kubeconfig's first cluster and user (as this program writes them). */
export function kubeconfigTls(text: string) {
    const config = yaml.load(text) as {
        clusters?: { cluster: { server: string; "certificate-authority-data": string } }[];
        users?: { user: { "client-certificate-data": string; "client-key-data": string } }[];
    };
    const cluster = config?.clusters?.[0]?.cluster;
    const user = config?.users?.[0]?.user;
    if (!cluster?.server || !user) {
        throw new Error("the kubeconfig has no cluster with a server, or no user");
    }
    return {
        server: cluster.server,
        tls: {
            ca: fromBase64(cluster["certificate-authority-data"]),
            cert: fromBase64(user["client-certificate-data"]),
            key: fromBase64(user["client-key-data"]),
        },
    };
}

const fromBase64 = (value: string) => Buffer.from(value, "base64");

/** The poller's loop itself, in the process it runs in: polls until `stop()`, which returns the figures. */
export function pollInThisProcess(kubeconfigPath: string, path: string, everyMs: number) {
    const { server, tls } = kubeconfigTls(readFileSync(kubeconfigPath, "utf8"));
    const url = new URL(path, server);
    const start = Date.now();
    let lastAnswer = start;
    let longestGap = 0;
    let longestGapWindow = { from: start, to: start };
    let requests = 0;
    let failed = 0;
    let slowest = 0;
    const errors = new Set<string>();
    const failures: Availability["failures"] = [];
    const pending = new Set<Promise<void>>();

    let resets = 0;
    const gapUntil = (now: number) => {
        if (now - lastAnswer > longestGap) {
            longestGap = now - lastAnswer;
            longestGapWindow = { from: lastAnswer, to: now };
        }
    };
    let nextAsk = start;
    let latestAsk = 0;
    const ask = () => {
        requests++;
        const sent = Date.now();
        latestAsk = Math.max(latestAsk, sent - nextAsk);
        nextAsk = Math.max(nextAsk + everyMs, sent);
        const deadline = sent + ANSWER_WITHIN_SECONDS * 1000;
        const attempt = new Promise<void>(resolve => {
            const fail = (message: string) => {
                failed++;
                errors.add(message);
                if (failures.length < 10) {
                    failures.push({ sent: new Date(sent).toISOString(), seconds: (Date.now() - sent) / 1000, message });
                }
                resolve();
            };
            const send = () => {
                const req = https.request(url, { ...tls, agent: false, timeout: deadline - Date.now() }, res => {
                    res.resume();
                    res.on("end", () => {
                        if (res.statusCode !== 200) {
                            return fail(`HTTP ${res.statusCode}`);
                        }
                        const now = Date.now();
                        slowest = Math.max(slowest, now - sent);
                        gapUntil(now);
                        lastAnswer = Math.max(lastAnswer, now);
                        resolve();
                    });
                });
                req.on("timeout", () => req.destroy(new Error(`no answer within ${ANSWER_WITHIN_SECONDS} s`)));
                req.on("error", (err: NodeJS.ErrnoException) => {
                    if (isConnectionReset(err) && Date.now() + RETRY_AFTER_SECONDS * 1000 < deadline) {
                        resets++;
                        setTimeout(send, RETRY_AFTER_SECONDS * 1000);
                    } else {
                        fail(err.message);
                    }
                });
                req.end();
            };
            send();
        });
        pending.add(attempt);
        attempt.finally(() => pending.delete(attempt));
    };
    ask();
    const timer = setInterval(ask, everyMs);

    return {
        async stop(): Promise<Availability> {
            clearInterval(timer);
            await Promise.all([...pending]);
            gapUntil(Date.now());
            return {
                requests, failed, longestGapSeconds: longestGap / 1000, errors: [...errors].slice(0, 5),
                slowestAnswerSeconds: slowest / 1000, resetsRetried: resets,
                longestGapWindow: { from: new Date(longestGapWindow.from).toISOString(), to: new Date(longestGapWindow.to).toISOString() },
                failures, latestAskSeconds: latestAsk / 1000,
            };
        },
    };
}

