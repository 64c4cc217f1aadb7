// Key material to look for where it must not be: the stack's stored state, its plain outputs, the CLI's output.
import * as assert from "node:assert/strict";

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
    const encryption = resources.find(r => r.urn.endsWith("::encryption-key"))?.outputs?.stdout;
    assert.ok(typeof encryption === "string" && encryption.length >= 44, "no encryption key in the state");
    const bytes = Buffer.from(encryption, "base64");
    needles.push({ what: "encryption key: base64", text: encryption });
    needles.push({ what: "encryption key: hex", text: bytes.toString("hex") });
    needles.push({ what: "encryption key: base64 of its base64", text: Buffer.from(encryption).toString("base64").slice(4, 56) });
    needles.push({ what: "encryption key: bytes", text: bytes.toString("latin1").slice(0, 16) });
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
