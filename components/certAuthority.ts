import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { allowedUses, CertSpec } from "../render/pki";

export interface CertAuthorityArgs {
    /** The CA's own common name, e.g. "kube-dumb-way" or "kube-dumb-way-etcd". */
    commonName: string;
    /** Lifetime of the certificates it issues; the CA's own is ten times as long (as kubeadm: 1 and 10 years). */
    validityHours: number;
    /** An issued certificate is re-issued by the first `pulumi up` within this many hours of its expiry. */
    renewBeforeHours: number;
}

export interface IssuedCert {
    certPem: pulumi.Output<string>;
    /** Always a secret. */
    keyPem: pulumi.Output<string>;
}

/** RSA 2048, as kubeadm defaults to: fast to generate and accepted by every component. */
const KEY = { algorithm: "RSA", rsaBits: 2048 } as const;

/** A CA key and self-signed certificate; `issue` makes a key, a CSR and a certificate it signs. */
export class CertAuthority extends pulumi.ComponentResource {
    readonly certPem: pulumi.Output<string>;
    readonly keyPem: pulumi.Output<string>;
    /** The CA's public key: it outlives a renewal of the CA's certificate, so it names the cluster's data. */
    readonly publicKeyPem: pulumi.Output<string>;
    /** The CA's key and certificate, for a step that must go before them in a destroy (not what it issued). */
    readonly own: pulumi.Resource[];
    private readonly key: tls.PrivateKey;
    private readonly cert: tls.SelfSignedCert;

    constructor(name: string, private readonly args: CertAuthorityArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dumbway:index:CertAuthority", name, {}, opts);
        this.key = new tls.PrivateKey(`${name}-key`, KEY, { parent: this });
        this.cert = new tls.SelfSignedCert(`${name}-cert`, {
            privateKeyPem: this.key.privateKeyPem,
            isCaCertificate: true,
            subject: { commonName: args.commonName, organization: "kube-dumb-way" },
            validityPeriodHours: CA_LIFETIMES * args.validityHours,
            // A new CA re-issues everything it signed, so it renews early in its last tenth, long before any leaf must.
            earlyRenewalHours: args.validityHours,
            allowedUses: ["cert_signing", "crl_signing", "digital_signature", "key_encipherment"],
        }, { parent: this });
        this.certPem = this.cert.certPem;
        this.keyPem = pulumi.secret(this.key.privateKeyPem);
        this.publicKeyPem = this.key.publicKeyPem;
        this.own = [this.key, this.cert];
        this.registerOutputs({ certPem: this.certPem });
    }

    /**
     * Issues a certificate for `spec`. The key and certificate are children of `parent` (the component that uses them),
     * so adding a worker adds resources under that worker only.
     */
    issue(name: string, spec: pulumi.Input<CertSpec>, parent: pulumi.Resource = this): IssuedCert {
        const key = new tls.PrivateKey(`${name}-key`, KEY, { parent });
        const specOut = pulumi.output(spec);
        const csr = new tls.CertRequest(`${name}-csr`, {
            privateKeyPem: key.privateKeyPem,
            subject: specOut.apply(s => ({
                commonName: s.commonName,
                ...(s.organization ? { organization: s.organization } : {}),
            })),
            dnsNames: specOut.dnsNames,
            ipAddresses: specOut.ipAddresses,
        }, { parent });
        const cert = new tls.LocallySignedCert(`${name}-cert`, {
            certRequestPem: csr.certRequestPem,
            caPrivateKeyPem: this.key.privateKeyPem,
            caCertPem: this.cert.certPem,
            validityPeriodHours: this.args.validityHours,
            // The tls provider plans a replacement once now is within this window of the end (ready_for_renewal).
            earlyRenewalHours: this.args.renewBeforeHours,
            allowedUses: specOut.apply(s => allowedUses(s.usages)),
        }, { parent });
        return { certPem: cert.certPem, keyPem: pulumi.secret(key.privateKeyPem) };
    }

    /** A bare key pair, for the service-account token signer. */
    keyPair(name: string, parent: pulumi.Resource = this): { publicKeyPem: pulumi.Output<string>; keyPem: pulumi.Output<string> } {
        const key = new tls.PrivateKey(`${name}-key`, KEY, { parent });
        return { publicKeyPem: key.publicKeyPem, keyPem: pulumi.secret(key.privateKeyPem) };
    }
}

const CA_LIFETIMES = 10;
