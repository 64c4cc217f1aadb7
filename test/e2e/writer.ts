// Writes measured, not assumed: creates a ConfigMap (or a Secret) every 200 ms through the admin kubeconfig (a new TLS
// connection each time, as the availability poller asks) while something disruptive runs, and keeps the name of every
// write the API acknowledged (201 Created). After the disruption, every acknowledged object must be there: a write the
// API said it committed and then lost is lost data. A write that failed may or may not have landed; it is only counted.
import { readFileSync } from "node:fs";
import * as https from "node:https";
import { kubeconfigTls } from "./apiPoller";

export interface Writes {
    attempted: number;
    acknowledged: string[];
    failed: number;
    /** The first few distinct failure messages. */
    errors: string[];
}

/** The label every written object carries, with the writer's prefix as its value. */
export const WRITER_LABEL = "kdw-writer";

/** What a written object holds: its number, as `n`. */
export const writtenValue = (kind: "ConfigMap" | "Secret", n: number): Record<string, string> =>
    ({ n: kind === "Secret" ? Buffer.from(String(n)).toString("base64") : String(n) });

/** Starts writing ConfigMaps (or Secrets) `<prefix>-<n>` in the default namespace every `everyMs`; `stop()` ends it. */
export function startWriter(kubeconfigPath: string, prefix: string, everyMs = 200, kind: "ConfigMap" | "Secret" = "ConfigMap") {
    const { server, tls } = kubeconfigTls(readFileSync(kubeconfigPath, "utf8"));
    const url = new URL(`/api/v1/namespaces/default/${kind === "Secret" ? "secrets" : "configmaps"}`, server);
    let attempted = 0;
    let failed = 0;
    const acknowledged: string[] = [];
    const errors = new Set<string>();
    const pending = new Set<Promise<void>>();
    const write = () => {
        const name = `${prefix}-${++attempted}`;
        const body = JSON.stringify({
            apiVersion: "v1", kind, metadata: { name, labels: { [WRITER_LABEL]: prefix } }, data: writtenValue(kind, attempted),
        });
        const attempt = new Promise<void>(resolve => {
            const fail = (message: string) => {
                failed++;
                errors.add(message);
                resolve();
            };
            const req = https.request(url, {
                ...tls, method: "POST", agent: false, timeout: 10_000, headers: { "content-type": "application/json" },
            }, res => {
                res.resume();
                res.on("end", () => res.statusCode === 201 ? (acknowledged.push(name), resolve()) : fail(`HTTP ${res.statusCode}`));
            });
            req.on("timeout", () => req.destroy(new Error("no answer within 10 s")));
            req.on("error", err => fail(err.message));
            req.end(body);
        });
        pending.add(attempt);
        attempt.finally(() => pending.delete(attempt));
    };
    const timer = setInterval(write, everyMs);
    return {
        async stop(): Promise<Writes> {
            clearInterval(timer);
            await Promise.all([...pending]);
            return { attempted, acknowledged, failed, errors: [...errors].slice(0, 5) };
        },
    };
}

export const describeWrites = (w: Writes, present: number) =>
    `${w.acknowledged.length}/${w.attempted} writes acknowledged, ${w.failed} failed` +
    (w.errors.length ? ` (${w.errors.join("; ")})` : "") + `; ${present} acknowledged found after`;
