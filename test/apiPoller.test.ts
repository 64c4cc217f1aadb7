// The e2e's failover figures come from outage(); here is what it counts, and a real poll against a local TLS server.
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { ApiPoller, outage, Sample } from "./e2e/apiPoller";

const at = (seconds: number, ok: boolean): Sample => ({ at: seconds * 1000, ok, ...(ok ? {} : { error: "refused" }) });

test("outage: from the first failed poll to the first good one after the last failure", () => {
    const samples = [at(0, true), at(0.5, true), at(1, false), at(1.5, false), at(2, true), at(2.5, false), at(3, true), at(3.5, true)];
    assert.deepEqual(outage(samples, 0), { seconds: 2, failed: 3, polls: 8, firstError: "refused" });
    assert.deepEqual(outage(samples, 2.75 * 1000), { seconds: 0, failed: 0, polls: 2 });
    assert.deepEqual(outage([at(0, true), at(1, false), at(2, false)], 0), { seconds: 1, failed: 2, polls: 3, firstError: "refused" },
        "without a good poll after the failures, the outage lasts at least until the last poll");
});

test("ApiPoller polls /readyz with the kubeconfig's CA and client certificate, twice a second", async (t) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kdw-poll-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=ca");
    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.pem", "-days", "1",
        "-subj", "/CN=server", "-addext", "subjectAltName=IP:127.0.0.1", "-CA", "ca.pem", "-CAkey", "ca.key");
    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.pem", "-days", "1",
        "-subj", "/CN=admin", "-CA", "ca.pem", "-CAkey", "ca.key");
    const file = (name: string) => readFileSync(path.join(dir, name));
    let answering = true;
    const clients: string[] = [];
    const server = createServer({ key: file("server.key"), cert: file("server.pem"), ca: file("ca.pem"), requestCert: true },
        (req, res) => {
            clients.push(`${(req.socket as any).getPeerCertificate().subject?.CN} ${req.url}`);
            res.writeHead(answering ? 200 : 503).end("ok");
        });
    await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
    t.after(() => server.close());
    const b64 = (name: string) => file(name).toString("base64");
    const kubeconfig = `clusters:\n- cluster:\n    certificate-authority-data: ${b64("ca.pem")}\n    server: https://127.0.0.1:${(server.address() as any).port}\n` +
        `users:\n- user:\n    client-certificate-data: ${b64("client.pem")}\n    client-key-data: ${b64("client.key")}\n`;
    const poller = new ApiPoller(kubeconfig);
    poller.start();
    await new Promise(resolve => setTimeout(resolve, 1200));
    answering = false;
    await new Promise(resolve => setTimeout(resolve, 1000));
    const samples = await poller.stop();
    assert.ok(samples.length >= 4 && samples.length <= 6, `${samples.length} polls in 2.2 s`);
    assert.ok(samples.slice(0, 2).every(s => s.ok), JSON.stringify(samples));
    assert.ok(samples.slice(-1).every(s => !s.ok && s.error === "HTTP 503"), JSON.stringify(samples));
    assert.ok(clients.every(c => c === "admin /readyz"), clients.join(", "));
});
