// Watches the API the way a client sees it: GET /readyz with the admin kubeconfig's server and credentials, every
// 0.5 s, each request on a new connection with a 2 s timeout, whatever the previous one is doing.
import * as https from "node:https";

export interface Sample {
    /** When the request started (ms since the epoch). */
    at: number;
    ok: boolean;
    /** Why it failed. */
    error?: string;
}

/** The outage the samples show after `since`: from the first failed poll to the first good one after the last failure. */
export function outage(samples: Sample[], since: number): { seconds: number; failed: number; polls: number; firstError?: string } {
    const after = samples.filter(s => s.at >= since).sort((a, b) => a.at - b.at);
    const failures = after.filter(s => !s.ok);
    if (failures.length === 0) {
        return { seconds: 0, failed: 0, polls: after.length };
    }
    const last = failures[failures.length - 1];
    const recovered = after.find(s => s.ok && s.at > last.at);
    // No good poll after the last failure: the outage lasts at least until the last poll.
    const end = recovered?.at ?? after[after.length - 1].at;
    return { seconds: (end - failures[0].at) / 1000, failed: failures.length, polls: after.length, firstError: failures[0].error };
}

function field(kubeconfig: string, name: string): string {
    const value = new RegExp(`${name}: (\\S+)`).exec(kubeconfig)?.[1];
    if (!value) {
        throw new Error(`the kubeconfig has no ${name}`);
    }
    return value;
}

export class ApiPoller {
    readonly samples: Sample[] = [];
    readonly server: string;
    private readonly tls: { ca: Buffer; cert: Buffer; key: Buffer };
    private timer?: NodeJS.Timeout;
    private readonly pending = new Set<Promise<void>>();

    constructor(kubeconfig: string) {
        const b64 = (name: string) => Buffer.from(field(kubeconfig, name), "base64");
        this.server = field(kubeconfig, "server");
        this.tls = { ca: b64("certificate-authority-data"), cert: b64("client-certificate-data"), key: b64("client-key-data") };
    }

    start(): void {
        this.poll();
        this.timer = setInterval(() => this.poll(), 500);
    }

    /** Stops polling and waits for the requests in flight. */
    async stop(): Promise<Sample[]> {
        clearInterval(this.timer);
        await Promise.all([...this.pending]);
        return this.samples;
    }

    /** Whether a poll that started after `since` has succeeded. */
    answeredSince(since: number): boolean {
        return this.samples.some(s => s.ok && s.at > since);
    }

    private poll(): void {
        const sample: Sample = { at: Date.now(), ok: false };
        this.samples.push(sample);
        const done = new Promise<void>(resolve => {
            const req = https.get(`${this.server}/readyz`, { ...this.tls, agent: false, timeout: 2000 }, res => {
                res.resume();
                res.on("error", err => {
                    sample.error = err.message;
                    resolve();
                });
                res.on("end", () => {
                    sample.ok = res.statusCode === 200;
                    sample.error = sample.ok ? undefined : `HTTP ${res.statusCode}`;
                    resolve();
                });
            });
            req.on("timeout", () => req.destroy(new Error("no answer in 2 s")));
            req.on("error", err => {
                sample.error = err.message;
                resolve();
            });
        });
        this.pending.add(done);
        done.then(() => this.pending.delete(done));
    }
}
