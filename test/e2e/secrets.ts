// Key material to look for where it must not be: the stack's stored state, its plain outputs, the CLI's output.
import * as assert from "node:assert/strict";
import { derivedEncryptionKey } from "../../render/configFiles";

/**
 * Every key a state holds (given as `pulumi stack export --show-secrets` prints it), in each form it could leak
 * in: lines of a private key's PEM body (whatever the header; public material left out), base64 of the PEM as a
 * kubeconfig carries it (a stretch from its second half), and the encryption key's base64,
 * bytes (as text where they are) and hex. Fails if fewer keys are found than the cluster has.
 */
export function keyMaterial(state: { deployment: { resources?: unknown[] } }): { what: string; text: string }[] {
    const resources = reveal(state.deployment.resources ?? []) as any[];
    const strings: string[] = [];
    const walk = (v: unknown): void => {
        if (typeof v === "string") {
            strings.push(v);
        } else if (v && typeof v === "object") {
            Object.values(v).forEach(walk);
        }
    };
    walk(resources);
    const pems = new Set<string>();
    for (const text of strings) {
        for (const m of text.matchAll(/-----BEGIN [A-Z ]*PRIVATE KEY-----[^-]+-----END [A-Z ]*PRIVATE KEY-----/g)) {
            pems.add(m[0]);
        }
    }
    // Public material (certificates, public keys; an OpenSSH private key repeats its public key) is not a leak.
    const publicText = strings.filter(t => !t.includes("PRIVATE KEY")).join("\n");
    const needles: { what: string; text: string }[] = [];
    [...pems].forEach((pem, i) => {
        // Lines from the body's second half: an RSA key's private exponent, primes and coefficients.
        const body = pem.split("\n").filter(l => l && !l.startsWith("-----"));
        const lines = [0.6, 0.8].map(at => body[Math.floor(body.length * at)]).filter(l => !publicText.includes(l));
        assert.ok(lines.length > 0, `key ${i}: no line of its private part to look for`);
        lines.forEach(text => needles.push({ what: `key ${i}: a line of its PEM body`, text }));
        // As a kubeconfig carries it: base64 of the whole PEM, a stretch from its second half.
        const encoded = Buffer.from(pem).toString("base64");
        const at = Math.floor(encoded.length * 0.6 / 4) * 4;
        needles.push({ what: `key ${i}: base64 of its PEM`, text: encoded.slice(at, at + 80) });
    });
    // The first encryption key, the seed of the later ones, and the key of the generation the stack runs.
    const stdoutOf = (name: string) => {
        const value = resources.find(r => r.urn.endsWith(`::${name}`))?.outputs?.stdout;
        assert.ok(typeof value === "string" && value.length >= 44, `no ${name} in the state`);
        return value;
    };
    const seed = stdoutOf("encryption-key-seed");
    const generation = Number(resources.find(r => r.type === "pulumi:pulumi:Stack")?.outputs?.encryptionKeyGeneration ?? 0);
    const keys = [["encryption key", stdoutOf("encryption-key")], ["encryption key seed", seed],
        ...(generation > 0 ? [[`encryption key ${generation}`, derivedEncryptionKey(seed, generation).secret]] : [])];
    for (const [what, key] of keys) {
        const bytes = Buffer.from(key, "base64");
        needles.push({ what: `${what}: base64`, text: key });
        needles.push({ what: `${what}: hex`, text: bytes.toString("hex") });
        needles.push({ what: `${what}: base64 of its base64`, text: Buffer.from(key).toString("base64").slice(4, 56) });
        needles.push({ what: `${what}: bytes`, text: bytes.toString("latin1").slice(0, 16) });
    }
    // The cluster CA and etcd CA, a key per signed certificate, the SSH keys of the machines.
    const signed = resources.filter(r => r.type === "tls:index/locallySignedCert:LocallySignedCert").length;
    assert.ok(pems.size >= signed + 2, `only ${pems.size} private keys in the state, for ${signed} signed certificates and 2 CAs`);
    return needles;
}

/** The state's values with each secret as its value: the export shows one as `{<signature>, plaintext: <JSON>}`. */
function reveal(value: unknown): unknown {
    if (Array.isArray(value)) {
        return value.map(reveal);
    }
    if (value && typeof value === "object") {
        const plaintext = (value as { plaintext?: unknown }).plaintext;
        if (typeof plaintext === "string" && Object.keys(value).length === 2) {
            return reveal(JSON.parse(plaintext));
        }
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, reveal(v)]));
    }
    return value;
}
