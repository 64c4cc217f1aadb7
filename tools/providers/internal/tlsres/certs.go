package tlsres

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"time"

	"kube-dumb-way/tools/providers/internal/props"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

var keyUsages = map[string]x509.KeyUsage{
	"digital_signature":  x509.KeyUsageDigitalSignature,
	"content_commitment": x509.KeyUsageContentCommitment,
	"key_encipherment":   x509.KeyUsageKeyEncipherment,
	"data_encipherment":  x509.KeyUsageDataEncipherment,
	"key_agreement":      x509.KeyUsageKeyAgreement,
	"cert_signing":       x509.KeyUsageCertSign,
	"crl_signing":        x509.KeyUsageCRLSign,
	"encipher_only":      x509.KeyUsageEncipherOnly,
	"decipher_only":      x509.KeyUsageDecipherOnly,
}

var extKeyUsages = map[string]x509.ExtKeyUsage{
	"any_extended":                      x509.ExtKeyUsageAny,
	"server_auth":                       x509.ExtKeyUsageServerAuth,
	"client_auth":                       x509.ExtKeyUsageClientAuth,
	"code_signing":                      x509.ExtKeyUsageCodeSigning,
	"email_protection":                  x509.ExtKeyUsageEmailProtection,
	"ipsec_end_system":                  x509.ExtKeyUsageIPSECEndSystem,
	"ipsec_tunnel":                      x509.ExtKeyUsageIPSECTunnel,
	"ipsec_user":                        x509.ExtKeyUsageIPSECUser,
	"timestamping":                      x509.ExtKeyUsageTimeStamping,
	"ocsp_signing":                      x509.ExtKeyUsageOCSPSigning,
	"microsoft_server_gated_crypto":     x509.ExtKeyUsageMicrosoftServerGatedCrypto,
	"netscape_server_gated_crypto":      x509.ExtKeyUsageNetscapeServerGatedCrypto,
	"microsoft_commercial_code_signing": x509.ExtKeyUsageMicrosoftCommercialCodeSigning,
	"microsoft_kernel_code_signing":     x509.ExtKeyUsageMicrosoftKernelCodeSigning,
}

var certOutputs = []output{
	{"certPem", false}, {"validityStartTime", false}, {"validityEndTime", false},
}

var certDefaults = resource.PropertyMap{
	"earlyRenewalHours": resource.NewNumberProperty(0),
	"isCaCertificate":   resource.NewBoolProperty(false),
	"setSubjectKeyId":   resource.NewBoolProperty(false),
}

func selfSignedCertResource() *tlsResource {
	defaults := certDefaults.Copy()
	defaults["setAuthorityKeyId"] = resource.NewBoolProperty(false)
	return &tlsResource{
		inputs: []string{"privateKeyPem", "subject", "validityPeriodHours", "earlyRenewalHours", "allowedUses",
			"isCaCertificate", "dnsNames", "ipAddresses", "uris", "setSubjectKeyId", "setAuthorityKeyId",
			"maxPathLength"},
		defaults:  defaults,
		updatable: map[string]bool{"earlyRenewalHours": true},
		outputs:   append([]output{{"keyAlgorithm", false}}, certOutputs...),
		renews:    true,
		create:    createSelfSignedCert,
	}
}

func certRequestResource() *tlsResource {
	return &tlsResource{
		inputs:  []string{"privateKeyPem", "subject", "dnsNames", "ipAddresses", "uris"},
		outputs: []output{{"certRequestPem", false}, {"keyAlgorithm", false}},
		create:  createCertRequest,
	}
}

func locallySignedCertResource() *tlsResource {
	return &tlsResource{
		inputs: []string{"certRequestPem", "caPrivateKeyPem", "caCertPem", "validityPeriodHours",
			"earlyRenewalHours", "allowedUses", "isCaCertificate", "setSubjectKeyId", "maxPathLength"},
		defaults:  certDefaults,
		updatable: map[string]bool{"earlyRenewalHours": true},
		outputs:   append([]output{{"caKeyAlgorithm", false}}, certOutputs...),
		renews:    true,
		create:    createLocallySignedCert,
	}
}

// subject builds a distinguished name from the `subject` input.
func subject(in resource.PropertyMap) pkix.Name {
	var name pkix.Name
	m, ok := props.Object(in, "subject")
	if !ok {
		return name
	}
	one := func(key string) []string {
		if s, ok := props.String(m, key); ok {
			return []string{s}
		}
		return nil
	}
	name.CommonName, _ = props.String(m, "commonName")
	name.Organization = one("organization")
	name.OrganizationalUnit = one("organizationalUnit")
	name.StreetAddress = props.Strings(m, "streetAddresses")
	name.Locality = one("locality")
	name.Province = one("province")
	name.Country = one("country")
	name.PostalCode = one("postalCode")
	name.SerialNumber, _ = props.String(m, "serialNumber")
	if email, ok := props.String(m, "emailAddress"); ok {
		name.ExtraNames = append(name.ExtraNames, pkix.AttributeTypeAndValue{
			Type:  asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1},
			Value: asn1.RawValue{Tag: asn1.TagIA5String, Bytes: []byte(email)},
		})
	}
	return name
}

// sans reads dnsNames, ipAddresses and uris.
func sans(in resource.PropertyMap) (dns []string, ips []net.IP, uris []*url.URL, err error) {
	dns = props.Strings(in, "dnsNames")
	for _, s := range props.Strings(in, "ipAddresses") {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, nil, nil, fmt.Errorf("invalid IP address %q", s)
		}
		ips = append(ips, ip)
	}
	for _, s := range props.Strings(in, "uris") {
		u, err := url.Parse(s)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("invalid URI %q: %w", s, err)
		}
		uris = append(uris, u)
	}
	return dns, ips, uris, nil
}

// issue fills the template's validity, serial, uses and CA settings from the inputs, signs it and returns the
// certificate outputs (id: the serial number in decimal).
func issue(in resource.PropertyMap, template, parent *x509.Certificate, pub crypto.PublicKey,
	signer crypto.Signer, selfSigned bool,
) (generated, error) {
	hours, ok := props.Get(in, "validityPeriodHours")
	if !ok || !hours.IsNumber() {
		return generated{}, errors.New("validityPeriodHours is required")
	}
	template.NotBefore = now().UTC().Truncate(time.Second)
	template.NotAfter = template.NotBefore.Add(time.Duration(hours.NumberValue()) * time.Hour)
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return generated{}, err
	}
	template.SerialNumber = serial
	template.BasicConstraintsValid = true

	for _, use := range props.Strings(in, "allowedUses") {
		if u, ok := keyUsages[use]; ok {
			template.KeyUsage |= u
		}
		if u, ok := extKeyUsages[use]; ok {
			template.ExtKeyUsage = append(template.ExtKeyUsage, u)
		}
	}
	if props.Bool(in, "isCaCertificate", false) {
		if template.Subject.String() == "" {
			return generated{}, errors.New("a CA certificate needs a subject with at least one name")
		}
		template.IsCA = true
		if template.SubjectKeyId, err = subjectKeyID(pub); err != nil {
			return generated{}, err
		}
	}
	if v, ok := props.Get(in, "maxPathLength"); ok && v.IsNumber() && v.NumberValue() >= 0 {
		template.MaxPathLen = int(v.NumberValue())
		template.MaxPathLenZero = template.MaxPathLen == 0
	}
	if props.Bool(in, "setSubjectKeyId", false) {
		if template.SubjectKeyId, err = subjectKeyID(pub); err != nil {
			return generated{}, err
		}
	}
	if selfSigned && props.Bool(in, "setAuthorityKeyId", false) {
		if len(template.SubjectKeyId) == 0 {
			return generated{}, errors.New("setAuthorityKeyId needs a subject key identifier (isCaCertificate or setSubjectKeyId)")
		}
		template.AuthorityKeyId = template.SubjectKeyId
	}
	if selfSigned {
		parent = template
	}
	der, err := x509.CreateCertificate(rand.Reader, template, parent, pub, signer)
	if err != nil {
		return generated{}, fmt.Errorf("could not create the certificate: %w", err)
	}
	return generated{
		id: serial.String(),
		outputs: resource.PropertyMap{
			"certPem":           str(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))),
			"validityStartTime": str(template.NotBefore.Format(time.RFC3339)),
			"validityEndTime":   str(template.NotAfter.Format(time.RFC3339)),
		},
	}, nil
}

func createSelfSignedCert(in resource.PropertyMap) (generated, error) {
	keyPem, _ := props.String(in, "privateKeyPem")
	key, algorithm, err := parsePrivateKey(keyPem)
	if err != nil {
		return generated{}, err
	}
	template := &x509.Certificate{Subject: subject(in)}
	if template.DNSNames, template.IPAddresses, template.URIs, err = sans(in); err != nil {
		return generated{}, err
	}
	gen, err := issue(in, template, nil, key.Public(), key, true)
	if err != nil {
		return generated{}, err
	}
	gen.outputs["keyAlgorithm"] = str(algorithm)
	return gen, nil
}

func createCertRequest(in resource.PropertyMap) (generated, error) {
	keyPem, _ := props.String(in, "privateKeyPem")
	key, algorithm, err := parsePrivateKey(keyPem)
	if err != nil {
		return generated{}, err
	}
	template := &x509.CertificateRequest{Subject: subject(in)}
	if template.DNSNames, template.IPAddresses, template.URIs, err = sans(in); err != nil {
		return generated{}, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, template, key)
	if err != nil {
		return generated{}, fmt.Errorf("could not create the certificate request: %w", err)
	}
	return generated{
		id: sha1Hex(der),
		outputs: resource.PropertyMap{
			"certRequestPem": str(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))),
			"keyAlgorithm":   str(algorithm),
		},
	}, nil
}

func parsePEM(text, want, what string) ([]byte, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		return nil, fmt.Errorf("no PEM block found in %s", what)
	}
	if block.Type != want {
		return nil, fmt.Errorf("%s is a %q PEM block, not %q", what, block.Type, want)
	}
	return block.Bytes, nil
}

func createLocallySignedCert(in resource.PropertyMap) (generated, error) {
	csrPem, _ := props.String(in, "certRequestPem")
	der, err := parsePEM(csrPem, "CERTIFICATE REQUEST", "certRequestPem")
	if err != nil {
		return generated{}, err
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return generated{}, fmt.Errorf("could not parse certRequestPem: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return generated{}, fmt.Errorf("certRequestPem has a bad signature: %w", err)
	}
	caKeyPem, _ := props.String(in, "caPrivateKeyPem")
	caKey, algorithm, err := parsePrivateKey(caKeyPem)
	if err != nil {
		return generated{}, fmt.Errorf("caPrivateKeyPem: %w", err)
	}
	caPem, _ := props.String(in, "caCertPem")
	if der, err = parsePEM(caPem, "CERTIFICATE", "caCertPem"); err != nil {
		return generated{}, err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return generated{}, fmt.Errorf("could not parse caCertPem: %w", err)
	}
	template := &x509.Certificate{
		Subject:     csr.Subject,
		DNSNames:    csr.DNSNames,
		IPAddresses: csr.IPAddresses,
		URIs:        csr.URIs,
	}
	gen, err := issue(in, template, ca, csr.PublicKey, caKey, false)
	if err != nil {
		return generated{}, err
	}
	gen.outputs["caKeyAlgorithm"] = str(algorithm)
	return gen, nil
}
