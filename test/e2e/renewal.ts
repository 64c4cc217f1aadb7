// Certificate renewal end to end on the official tls plugin: with every leaf certificate inside its renewal window,
// `pulumi up` re-issues them, each reaches its host, and every server and client uses the new one; the API is polled
// throughout and nodes stay Ready.
import * as auto from "@pulumi/pulumi/automation";
import * as assert from "node:assert/strict";
import * as tls from "node:tls";
import { describeAvailability, pollApi } from "./apiPoller";
import { pidOfCommand, processAgeCommand, TestHost } from "./harness";

export interface RenewalContext {
    stack: auto.Stack;
    controllers: TestHost[];
    workers: TestHost[];
    kubeconfigPath: string;
    /** Rewrites the stack's settings with these extra keys. */
    writeConfig(extra: Record<string, unknown>): void;
    ssh(host: TestHost, command: string): Promise<string>;
    expectWorkersReady(seconds: number): Promise<void>;
    etcdHealthy(): Promise<void>;
}

/** The serial number of the certificate a TLS server presents (no client certificate offered, nothing verified). */
export function servedSerial(host: string, port: number): Promise<string> {
    return new Promise((resolve, reject) => {
        const socket = tls.connect({ host, port, rejectUnauthorized: false, timeout: 5000 }, () => {
            const serial = socket.getPeerCertificate().serialNumber;
            socket.end();
            serial ? resolve(serial) : reject(new Error(`${host}:${port} presented no certificate`));
        });
        socket.on("timeout", () => socket.destroy(new Error(`${host}:${port}: no TLS handshake within 5 s`)));
        socket.on("error", reject);
    });
}

/** Every TLS server of the cluster: apiserver and etcd (client and peer port) on controllers, kubelet on workers. */
async function servedSerials(ctx: RenewalContext): Promise<Map<string, string>> {
    const endpoints = [
        ...ctx.controllers.flatMap(c => [[`${c.name} apiserver`, c.ip, 6443], [`${c.name} etcd`, c.ip, 2379],
            [`${c.name} etcd peer`, c.ip, 2380]] as const),
        ...ctx.workers.map(w => [`${w.name} kubelet`, w.ip, 10250] as const),
    ];
    const serials = new Map<string, string>();
    for (const [name, ip, port] of endpoints) {
        serials.set(name, await servedSerial(ip, port));
    }
    return serials;
}

/** Seconds since each cluster process started, by host and process: they must all have restarted during the up. */
async function processAges(ctx: RenewalContext): Promise<Map<string, number>> {
    const ages = new Map<string, number>();
    const age = async (host: TestHost, what: string, pidCommand: string) => {
        const out = (await ctx.ssh(host, processAgeCommand(pidCommand))).trim();
        assert.match(out, /^\d+$/, `${host.name}: no running ${what}`);
        ages.set(`${host.name} ${what}`, Number(out));
    };
    for (const c of ctx.controllers) {
        for (const container of ["kdw-etcd", "kdw-kube-apiserver", "kdw-kube-controller-manager", "kdw-kube-scheduler"]) {
            await age(c, container, `docker inspect --format '{{.State.Pid}}' ${container}`);
        }
    }
    for (const w of ctx.workers) {
        for (const binary of ["kubelet", "kube-proxy"]) {
            await age(w, binary, pidOfCommand(`bin/${binary}`));
        }
    }
    return ages;
}

export async function certificateRenewal(ctx: RenewalContext): Promise<string> {
    const before = await servedSerials(ctx);
    // The whole lifetime as the window: every leaf certificate is due now, as it would be near its end.
    ctx.writeConfig({ certRenewBeforeHours: 8760 });
    const replaced: string[] = [];
    const poller = pollApi(ctx.kubeconfigPath);
    const start = Date.now();
    let availability;
    try {
        await ctx.stack.up({
            onEvent: e => {
                const m = e.resourcePreEvent?.metadata;
                if (m && m.op === "replace" && m.type === "tls:index/locallySignedCert:LocallySignedCert") {
                    replaced.push(m.urn.split("::").pop()!);
                }
            },
        });
    } finally {
        ctx.writeConfig({});
        availability = await poller.stop();
    }
    const upSeconds = (Date.now() - start) / 1000;

    assert.ok(replaced.length > 0, "pulumi up re-issued no certificate: the tls plugin did not act on the renewal window");
    const after = await servedSerials(ctx);
    const unchanged = [...before].filter(([name, serial]) => after.get(name) === serial).map(([name]) => name);
    assert.deepEqual(unchanged, [], "these servers still present the old certificate");
    const stale = [...await processAges(ctx)].filter(([, age]) => age > upSeconds).map(([name, age]) => `${name} (${age}s)`);
    assert.deepEqual(stale, [], "these processes did not restart with the new certificates");
    await ctx.expectWorkersReady(180);
    await ctx.etcdHealthy();

    // Back to the default window: the new certificates are far from their end, so nothing is due.
    await ctx.stack.up();
    await ctx.stack.preview({ expectNoChanges: true });
    return `${replaced.length} certificates re-issued in ${upSeconds.toFixed(0)}s; ${before.size} servers present new ones; ` +
        describeAvailability(availability);
}
