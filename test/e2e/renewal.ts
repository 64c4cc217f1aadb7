// Certificate renewal end to end on the official tls plugin: with every leaf certificate inside its renewal window,
// `pulumi up` re-issues every one the cluster signs, each reaches its host, and every server and client uses the new
// one (served serials, the certificates on the hosts' disks, the admin kubeconfig's); the API's gap is bounded as for
// any roll, and nodes stay Ready.
import * as auto from "@pulumi/pulumi/automation";
import * as assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import * as tls from "node:tls";
import { assertAvailable, describeAvailability, pollApi, ROLL_BOUND } from "./apiPoller";
import { asRoot, pidOfCommand, processAgeCommand, run, TestHost } from "./harness";
import { assertOneHostAtATime, describeSteps, stepRecorder } from "./steps";

export interface RenewalContext {
    stack: auto.Stack;
    controllers: TestHost[];
    workers: TestHost[];
    kubeconfigPath: string;
    /** Rewrites the stack's settings with these extra keys. */
    writeConfig(extra: Record<string, unknown>): void;
    ssh(host: TestHost, command: string): Promise<string>;
    /** Where each host keeps its configuration and key material, and the kubelet's own files. */
    certificateDirs(host: TestHost): string[];
    expectWorkersReady(seconds: number): Promise<void>;
    etcdHealthy(): Promise<void>;
}

/** Serial numbers as both Node.js APIs print them (upper-case hex), without leading zeros. */
const normalSerial = (serial: string) => serial.toUpperCase().replace(/^0+/, "");

const SIGNED_CERT = "tls:index/locallySignedCert:LocallySignedCert";

/** Every certificate the cluster signs (the tls plugin's LocallySignedCert resources), by name, with its serial. */
async function signedSerials(stack: auto.Stack): Promise<Map<string, string>> {
    // The Automation API's export is decrypted; certificates are not secret anyway.
    const resources = (await stack.exportStack()).deployment.resources as { type: string; urn: string; outputs?: any }[];
    const serials = new Map<string, string>();
    for (const r of resources.filter(r => r.type === SIGNED_CERT)) {
        serials.set(r.urn.split("::").pop()!, normalSerial(new X509Certificate(r.outputs.certPem).serialNumber));
    }
    assert.ok(serials.size > 0, "the stack holds no signed certificate");
    return serials;
}

/**
 * The leaf certificates on each host's disk, `<host> <file>` → serial and start of validity: every PEM certificate and every kubeconfig's
 * client-certificate-data under the host's certificate folders, CA certificates left out. Only certificates leave the
 * host (the command prints certificate blocks, never a key).
 */
async function certificatesOnDisk(ctx: RenewalContext): Promise<Map<string, { serial: string; notBefore: number }>> {
    const found = new Map<string, { serial: string; notBefore: number }>();
    for (const host of [...ctx.controllers, ...ctx.workers]) {
        const dirs = ctx.certificateDirs(host).join(" ");
        // Links are left out: the kubelet's kubelet-client-current.pem points at its newest certificate, which is read
        // under its own name (GNU grep does not follow links while it recurses; busybox's does).
        const out = await ctx.ssh(host, asRoot(host, `for f in $(grep -rlE -e 'BEGIN CERTIFICATE|client-certificate-data' ${dirs} 2>/dev/null); do ` +
            `[ -L "$f" ] && continue; echo "== $f"; sed -n -e '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' ` +
            `-e 's/^ *client-certificate-data: *//p' "$f"; done`));
        let file = "";
        let block: string[] = [];
        for (const line of out.split("\n")) {
            if (line.startsWith("== ")) {
                file = line.slice(3);
                continue;
            }
            const pems: string[] = [];
            if (/^[A-Za-z0-9+/=]{100,}$/.test(line.trim())) {
                pems.push(Buffer.from(line.trim(), "base64").toString("utf8"));
            } else if (line.includes("-----BEGIN CERTIFICATE-----") || block.length > 0) {
                block.push(line);
                if (line.includes("-----END CERTIFICATE-----")) {
                    pems.push(block.join("\n"));
                    block = [];
                }
            }
            for (const pem of pems) {
                const cert = new X509Certificate(pem);
                if (!cert.ca) {
                    found.set(`${host.name} ${file} ${cert.subject.replace(/\n/g, ",")}`,
                        { serial: normalSerial(cert.serialNumber), notBefore: Date.parse(cert.validFrom) });
                }
            }
        }
    }
    assert.ok(found.size > 0, "no leaf certificate found on any host");
    return found;
}

/** kube-controller-manager's CSR signer starts a certificate's validity this long before it signs it (clock skew). */
export const CSR_SIGNER_BACKDATE_MS = 5 * 60 * 1000;

/**
 * Whether a certificate found on a host (`where`: "<host> <file> <subject>") was issued at or after `since`, to the
 * second. A kubelet renews its own certificate through the CSR API (rotateCertificates) and keeps it as
 * `kubelet-<client|server>-<YYYY-MM-DD-HH-MM-SS>.pem`, named after the time (UTC) it got it, while the signer starts
 * its validity 5 minutes earlier: for those files the name says when, and the start of validity must agree with it.
 * Any other certificate is as new as the start of its validity.
 */
export function issuedSince(where: string, notBefore: number, since: number): boolean {
    const named = /\/kubelet-(?:client|server)-(\d{4})-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)\.pem /.exec(where);
    if (!named) {
        return notBefore >= since - 1000;
    }
    const [year, month, day, hour, minute, second] = named.slice(1).map(Number);
    const received = Date.UTC(year, month - 1, day, hour, minute, second);
    return received >= since - 1000 && notBefore >= received - CSR_SIGNER_BACKDATE_MS - 1000 && notBefore <= received + 1000;
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
        serials.set(name, normalSerial(await servedSerial(ip, port)));
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
    const signedBefore = await signedSerials(ctx.stack);
    // The whole lifetime as the window: every leaf certificate is due now, as it would be near its end.
    ctx.writeConfig({ certRenewBeforeHours: 8760 });
    const replaced: string[] = [];
    const recorder = stepRecorder();
    const poller = await pollApi(ctx.kubeconfigPath);
    const start = Date.now();
    let availability;
    try {
        await ctx.stack.up({
            onEvent: e => {
                recorder.onEvent(e);
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

    assert.deepEqual(replaced.sort(), [...signedBefore.keys()].sort(), "the certificates re-issued, against every one the cluster signs");
    const signedAfter = await signedSerials(ctx.stack);
    const oldSerials = new Set(signedBefore.values());
    const newSerials = new Set(signedAfter.values());
    const after = await servedSerials(ctx);
    const unchanged = [...before].filter(([name, serial]) => after.get(name) === serial).map(([name]) => name);
    assert.deepEqual(unchanged, [], "these servers still present the old certificate");
    const servedUnknown = [...after].filter(([, serial]) => !newSerials.has(serial)).map(([name]) => name);
    assert.deepEqual(servedUnknown, [], "these servers present a certificate that is not one of the re-issued ones");
    // Client certificates in use: those on the hosts' disks, and the admin kubeconfig's.
    // A kubelet may also renew its own client certificate through the cluster's CSR API (rotateCertificates): such a
    // certificate is new too, if it was issued after the renewal began (issuedSince).
    const onDisk = await certificatesOnDisk(ctx);
    const renewedByKubelet = [...onDisk].filter(([where, c]) => !newSerials.has(c.serial) && issuedSince(where, c.notBefore, start));
    const stale = [...onDisk].filter(([where, c]) => !newSerials.has(c.serial) && !issuedSince(where, c.notBefore, start))
        .map(([where, c]) => `${where}${oldSerials.has(c.serial) ? " (the old one)" : " (issued before the renewal)"}`);
    assert.deepEqual(stale, [], "certificates on the hosts that are neither re-issued nor issued since the renewal began");
    const adminCert = /client-certificate-data:\s*(\S+)/.exec(String((await ctx.stack.outputs()).kubeconfig.value))?.[1];
    assert.ok(adminCert, "the kubeconfig output has no client certificate");
    const adminSerial = normalSerial(new X509Certificate(Buffer.from(adminCert, "base64")).serialNumber);
    assert.ok(newSerials.has(adminSerial), "the kubeconfig output's client certificate is not a re-issued one");
    // metrics-server's serving certificate is in the Secret its pod mounts (it reloads the files when they change).
    const metricsServing = (await run("kubectl", ["--kubeconfig", ctx.kubeconfigPath, "-n", "kube-system", "get", "secret",
        "metrics-server-tls", "-o", "jsonpath={.data.tls\\.crt}"])).trim();
    assert.ok(metricsServing, "the Secret metrics-server-tls holds no certificate");
    const metricsSerial = normalSerial(new X509Certificate(Buffer.from(metricsServing, "base64")).serialNumber);
    assert.ok(newSerials.has(metricsSerial), "metrics-server's Secret holds a certificate that is not a re-issued one");
    // Every re-issued certificate is in use somewhere: served, on a host, the admin's or in metrics-server's Secret.
    const inUse = new Set([...after.values(), ...[...onDisk.values()].map(c => c.serial), adminSerial, metricsSerial]);
    const unused = [...signedAfter].filter(([, serial]) => !inUse.has(serial)).map(([name]) => name);
    assert.deepEqual(unused, [], "re-issued certificates found in use nowhere");
    const notRestarted = [...await processAges(ctx)].filter(([, age]) => age > upSeconds).map(([name, age]) => `${name} (${age}s)`);
    assert.deepEqual(notRestarted, [], "these processes did not restart with the new certificates");
    // Every host's roll after the one before it, kube-vip's included: a kube-vip that restarts always has another to
    // hand the virtual IP to.
    assertOneHostAtATime(recorder.steps);
    const kubeVipRolls = recorder.steps.filter(s => s.op === "update" && s.name.endsWith("-kube-vip-roll"));
    assert.deepEqual(kubeVipRolls.map(s => s.name), ctx.controllers.map((_, i) => `kdw-controller-${i}-kube-vip-roll`),
        "every controller's kube-vip rolls with its renewed certificate, in order");
    const replacedSteps = recorder.steps.filter(s => s.op === "replace" || s.op === "create-replacement");
    assert.deepEqual(replacedSteps.map(s => s.name), [], "install or roll steps replaced (all hosts at once) instead of rolled");
    await assertAvailable(availability, ROLL_BOUND, "the renewal", ctx.controllers);
    await ctx.expectWorkersReady(180);
    await ctx.etcdHealthy();

    // Back to the default window: the new certificates are far from their end, so nothing is due.
    await ctx.stack.up();
    await ctx.stack.preview({ expectNoChanges: true });
    return `all ${replaced.length} signed certificates re-issued in ${upSeconds.toFixed(0)}s; ${before.size} servers present ` +
        `new ones; ${onDisk.size} certificates on the hosts (${renewedByKubelet.length} renewed by their kubelet since) and the ` +
        `admin's are new ones; ` + describeAvailability(availability) + `; kube-vip: ${describeSteps(kubeVipRolls)}`;
}
