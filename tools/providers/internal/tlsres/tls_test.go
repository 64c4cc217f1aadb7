package tlsres

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net"
	"strings"
	"testing"
	"time"

	"kube-dumb-way/tools/providers/internal/props"
	"kube-dumb-way/tools/providers/internal/provsrv"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/ssh"
	"google.golang.org/protobuf/types/known/structpb"
)

func pm(m map[string]any) resource.PropertyMap { return resource.NewPropertyMapFromMap(m) }

var wireOpts = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true}

// server runs operations through the gRPC server methods, marshalled as the engine does.
type server struct {
	t   *testing.T
	srv *provsrv.Server
}

func newServer(t *testing.T) *server { return &server{t, provsrv.New("tls", "5.6.1", Resources())} }

func urn(typ string) string { return "urn:pulumi:dev::proj::" + typ + "::r" }

func (s *server) marshal(m resource.PropertyMap) *structpb.Struct {
	st, err := plugin.MarshalProperties(m, wireOpts)
	if err != nil {
		s.t.Fatal(err)
	}
	return st
}

func (s *server) unmarshal(st *structpb.Struct) resource.PropertyMap {
	m, err := plugin.UnmarshalProperties(st, wireOpts)
	if err != nil {
		s.t.Fatal(err)
	}
	return m
}

func (s *server) create(typ string, inputs resource.PropertyMap) (string, resource.PropertyMap) {
	s.t.Helper()
	checked, err := s.srv.Check(context.Background(), &pulumirpc.CheckRequest{Urn: urn(typ), Type: typ, News: s.marshal(inputs)})
	if err != nil {
		s.t.Fatal(err)
	}
	if len(checked.Failures) > 0 {
		s.t.Fatalf("check failures: %v", checked.Failures)
	}
	res, err := s.srv.Create(context.Background(), &pulumirpc.CreateRequest{Urn: urn(typ), Type: typ, Properties: checked.Inputs})
	if err != nil {
		s.t.Fatal(err)
	}
	if res.Id == "" {
		s.t.Fatal("empty id")
	}
	return res.Id, s.unmarshal(res.Properties)
}

func (s *server) diff(typ string, oldInputs, state, news resource.PropertyMap) *pulumirpc.DiffResponse {
	s.t.Helper()
	res, err := s.srv.Diff(context.Background(), &pulumirpc.DiffRequest{
		Id: "x", Urn: urn(typ), Type: typ,
		OldInputs: s.marshal(oldInputs), Olds: s.marshal(state), News: s.marshal(news),
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return res
}

func get(t *testing.T, m resource.PropertyMap, key string) string {
	t.Helper()
	v, ok := props.String(m, key)
	if !ok {
		t.Fatalf("no %s in outputs", key)
	}
	return v
}

func parseCert(t *testing.T, text string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode([]byte(text))
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("not a certificate PEM: %q", text)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

type pki struct {
	caKeyInputs, caCertInputs resource.PropertyMap
	caKey, caCert             resource.PropertyMap
	leafKey, csrInputs, csr   resource.PropertyMap
	leafInputs, leaf          resource.PropertyMap
}

// makePKI: an RSA CA key and self-signed CA certificate, an ECDSA key, a CSR and a certificate the CA signs.
func makePKI(t *testing.T, s *server) *pki {
	p := &pki{}
	p.caKeyInputs = pm(map[string]any{"algorithm": "RSA", "rsaBits": 2048.0})
	_, p.caKey = s.create(PrivateKeyType, p.caKeyInputs)
	p.caCertInputs = pm(map[string]any{
		"isCaCertificate":     true,
		"subject":             map[string]any{"commonName": "test-ca", "organization": "kube-dumb-way"},
		"validityPeriodHours": 87600.0,
		"earlyRenewalHours":   8760.0,
		"allowedUses":         []any{"cert_signing", "crl_signing", "digital_signature", "key_encipherment"},
	})
	p.caCertInputs["privateKeyPem"] = p.caKey["privateKeyPem"]
	_, p.caCert = s.create(SelfSignedCertType, p.caCertInputs)

	_, p.leafKey = s.create(PrivateKeyType, pm(map[string]any{"algorithm": "ECDSA", "ecdsaCurve": "P256"}))
	p.csrInputs = pm(map[string]any{
		"subject":     map[string]any{"commonName": "system:node:w1", "organization": "system:nodes"},
		"dnsNames":    []any{"w1", "w1.cluster.local"},
		"ipAddresses": []any{"192.168.77.11", "10.32.0.1"},
	})
	p.csrInputs["privateKeyPem"] = p.leafKey["privateKeyPem"]
	_, p.csr = s.create(CertRequestType, p.csrInputs)

	p.leafInputs = pm(map[string]any{
		"validityPeriodHours": 8760.0,
		"earlyRenewalHours":   876.0,
		"allowedUses":         []any{"digital_signature", "key_encipherment", "server_auth", "client_auth"},
	})
	p.leafInputs["certRequestPem"] = p.csr["certRequestPem"]
	p.leafInputs["caPrivateKeyPem"] = p.caKey["privateKeyPem"]
	p.leafInputs["caCertPem"] = p.caCert["certPem"]
	_, p.leaf = s.create(LocallySignedCertType, p.leafInputs)
	return p
}

func TestPKI(t *testing.T) {
	s := newServer(t)
	start := time.Now().Add(-time.Second)
	p := makePKI(t, s)

	// Keys: formats, and the private forms are secrets.
	for _, k := range []string{"privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh"} {
		if !p.caKey[resource.PropertyKey(k)].IsSecret() {
			t.Errorf("%s is not a secret", k)
		}
	}
	for _, k := range []string{"publicKeyPem", "publicKeyOpenssh", "publicKeyFingerprintSha256"} {
		if p.caKey[resource.PropertyKey(k)].IsSecret() {
			t.Errorf("%s is a secret", k)
		}
	}
	if !strings.HasPrefix(get(t, p.caKey, "privateKeyPem"), "-----BEGIN RSA PRIVATE KEY-----") ||
		!strings.HasPrefix(get(t, p.caKey, "privateKeyPemPkcs8"), "-----BEGIN PRIVATE KEY-----") ||
		!strings.HasPrefix(get(t, p.caKey, "publicKeyPem"), "-----BEGIN PUBLIC KEY-----") ||
		!strings.HasPrefix(get(t, p.caKey, "publicKeyOpenssh"), "ssh-rsa ") ||
		!strings.HasPrefix(get(t, p.caKey, "publicKeyFingerprintSha256"), "SHA256:") ||
		!strings.HasPrefix(get(t, p.leafKey, "privateKeyPem"), "-----BEGIN EC PRIVATE KEY-----") {
		t.Error("key formats")
	}
	if props.Number(p.caKey, "rsaBits", 0) != 2048 || get(t, p.leafKey, "ecdsaCurve") != "P256" || get(t, p.caKey, "algorithm") != "RSA" {
		t.Error("key inputs are not in the outputs")
	}
	if _, err := ssh.ParseRawPrivateKey([]byte(get(t, p.caKey, "privateKeyOpenssh"))); err != nil {
		t.Errorf("openssh private key: %v", err)
	}

	// The CA certificate.
	ca := parseCert(t, get(t, p.caCert, "certPem"))
	if ca.Subject.CommonName != "test-ca" || strings.Join(ca.Subject.Organization, ",") != "kube-dumb-way" {
		t.Errorf("CA subject %v", ca.Subject)
	}
	if !ca.IsCA || !ca.BasicConstraintsValid || len(ca.SubjectKeyId) == 0 {
		t.Error("CA flags")
	}
	wantUsage := x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	if ca.KeyUsage != wantUsage {
		t.Errorf("CA key usage %v", ca.KeyUsage)
	}
	if err := ca.CheckSignatureFrom(ca); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
	if ca.NotBefore.Before(start) || ca.NotAfter.Sub(ca.NotBefore) != 87600*time.Hour {
		t.Errorf("CA validity %v..%v", ca.NotBefore, ca.NotAfter)
	}
	if get(t, p.caCert, "validityStartTime") != ca.NotBefore.UTC().Format(time.RFC3339) ||
		get(t, p.caCert, "validityEndTime") != ca.NotAfter.UTC().Format(time.RFC3339) {
		t.Error("validity times")
	}
	if get(t, p.caCert, "keyAlgorithm") != "RSA" || props.Bool(p.caCert, "readyForRenewal", true) {
		t.Error("keyAlgorithm/readyForRenewal")
	}
	if !p.caCert["privateKeyPem"].IsSecret() {
		t.Error("the self-signed cert's privateKeyPem input must stay secret in its outputs")
	}
	if _, ok := ca.PublicKey.(*rsa.PublicKey); !ok {
		t.Error("CA key type")
	}

	// The CSR.
	block, _ := pem.Decode([]byte(get(t, p.csr, "certRequestPem")))
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil || csr.CheckSignature() != nil {
		t.Fatalf("csr: %v", err)
	}
	if csr.Subject.CommonName != "system:node:w1" || get(t, p.csr, "keyAlgorithm") != "ECDSA" {
		t.Errorf("csr %v", csr.Subject)
	}

	// The leaf certificate.
	leaf := parseCert(t, get(t, p.leaf, "certPem"))
	if leaf.Subject.CommonName != "system:node:w1" || strings.Join(leaf.Subject.Organization, ",") != "system:nodes" {
		t.Errorf("leaf subject %v", leaf.Subject)
	}
	if strings.Join(leaf.DNSNames, ",") != "w1,w1.cluster.local" || len(leaf.IPAddresses) != 2 ||
		!leaf.IPAddresses[0].Equal(net.ParseIP("192.168.77.11")) || !leaf.IPAddresses[1].Equal(net.ParseIP("10.32.0.1")) {
		t.Errorf("SANs %v %v", leaf.DNSNames, leaf.IPAddresses)
	}
	if leaf.IsCA || leaf.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment {
		t.Errorf("leaf CA/usage %v %v", leaf.IsCA, leaf.KeyUsage)
	}
	if len(leaf.ExtKeyUsage) != 2 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth || leaf.ExtKeyUsage[1] != x509.ExtKeyUsageClientAuth {
		t.Errorf("leaf ext usage %v", leaf.ExtKeyUsage)
	}
	if _, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok {
		t.Error("leaf key type")
	}
	if leaf.NotAfter.Sub(leaf.NotBefore) != 8760*time.Hour || get(t, p.leaf, "caKeyAlgorithm") != "RSA" {
		t.Error("leaf validity / caKeyAlgorithm")
	}
	if string(leaf.AuthorityKeyId) != string(ca.SubjectKeyId) {
		t.Error("authority key id")
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, name := range []string{"w1.cluster.local", "192.168.77.11"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("verify %s: %v", name, err)
		}
	}
	if !p.leaf["caPrivateKeyPem"].IsSecret() || p.leaf["certPem"].IsSecret() {
		t.Error("leaf secrets")
	}
}

func TestOtherKeys(t *testing.T) {
	s := newServer(t)
	_, ed := s.create(PrivateKeyType, pm(map[string]any{"algorithm": "ED25519"}))
	block, _ := pem.Decode([]byte(get(t, ed, "privateKeyPem")))
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if _, ok := key.(ed25519.PrivateKey); err != nil || !ok || block.Type != "PRIVATE KEY" {
		t.Errorf("ed25519 %T %v", key, err)
	}
	if !strings.HasPrefix(get(t, ed, "publicKeyOpenssh"), "ssh-ed25519 ") {
		t.Error("ed25519 openssh")
	}
	// The default curve, P224, has no OpenSSH form.
	_, p224 := s.create(PrivateKeyType, pm(map[string]any{"algorithm": "ECDSA"}))
	if get(t, p224, "ecdsaCurve") != "P224" || get(t, p224, "publicKeyOpenssh") != "" || get(t, p224, "privateKeyOpenssh") != "" {
		t.Error("P224")
	}
	for _, c := range []string{"P384", "P521"} {
		_, k := s.create(PrivateKeyType, pm(map[string]any{"algorithm": "ECDSA", "ecdsaCurve": c}))
		if !strings.HasPrefix(get(t, k, "publicKeyOpenssh"), "ecdsa-sha2-nistp") {
			t.Errorf("%s openssh", c)
		}
	}
	// A self-signed certificate for an ED25519 key with SANs and key ids.
	in := pm(map[string]any{
		"subject":             map[string]any{"commonName": "ed", "country": "NL", "streetAddresses": []any{"a", "b"}},
		"validityPeriodHours": 1.0, "dnsNames": []any{"ed.example"}, "uris": []any{"spiffe://x/y"},
		"setSubjectKeyId": true, "setAuthorityKeyId": true,
	})
	in["privateKeyPem"] = ed["privateKeyPem"]
	_, out := s.create(SelfSignedCertType, in)
	cert := parseCert(t, get(t, out, "certPem"))
	if cert.Subject.Country[0] != "NL" || len(cert.Subject.StreetAddress) != 2 || cert.URIs[0].String() != "spiffe://x/y" ||
		len(cert.SubjectKeyId) == 0 || string(cert.AuthorityKeyId) != string(cert.SubjectKeyId) || get(t, out, "keyAlgorithm") != "ED25519" {
		t.Errorf("ed25519 cert %+v", cert.Subject)
	}
	// Check failures.
	_, failures, _ := Resources()[PrivateKeyType].Check(context.Background(), &provsrv.Request{News: pm(map[string]any{"algorithm": "DSA"})})
	if len(failures) != 1 {
		t.Errorf("failures %v", failures)
	}
}

func TestDiffReplacesOnAnyChange(t *testing.T) {
	s := newServer(t)
	p := makePKI(t, s)
	cases := []struct {
		typ          string
		inputs, outs resource.PropertyMap
	}{
		{PrivateKeyType, p.caKeyInputs, p.caKey},
		{SelfSignedCertType, p.caCertInputs, p.caCert},
		{CertRequestType, p.csrInputs, p.csr},
		{LocallySignedCertType, p.leafInputs, p.leaf},
	}
	for _, c := range cases {
		if res := s.diff(c.typ, c.inputs, c.outs, c.inputs); res.Changes != pulumirpc.DiffResponse_DIFF_NONE {
			t.Errorf("%s without change: %v", c.typ, res)
		}
		for k := range c.inputs {
			news := c.inputs.Copy()
			v := props.Unwrap(news[k])
			switch {
			case v.IsString():
				news[k] = resource.NewStringProperty(v.StringValue() + "x")
			case v.IsNumber():
				news[k] = resource.NewNumberProperty(v.NumberValue() + 1)
			case v.IsBool():
				news[k] = resource.NewBoolProperty(!v.BoolValue())
			case v.IsArray():
				news[k] = resource.NewArrayProperty(append(append([]resource.PropertyValue{}, v.ArrayValue()...), resource.NewStringProperty("x")))
			case v.IsObject():
				o := v.ObjectValue().Copy()
				o["locality"] = resource.NewStringProperty("x")
				news[k] = resource.NewObjectProperty(o)
			}
			res := s.diff(c.typ, c.inputs, c.outs, news)
			if k == "earlyRenewalHours" {
				if res.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(res.Replaces) != 0 {
					t.Errorf("%s %s: %v", c.typ, k, res)
				}
				continue
			}
			if strings.Join(res.Replaces, ",") != string(k) {
				t.Errorf("%s %s: %v", c.typ, k, res)
			}
			// An unknown value (preview) replaces too.
			news[k] = resource.MakeComputed(resource.NewStringProperty(""))
			if res := s.diff(c.typ, c.inputs, c.outs, news); strings.Join(res.Replaces, ",") != string(k) {
				t.Errorf("%s unknown %s: %v", c.typ, k, res)
			}
		}
	}
	// A default made explicit is no change.
	explicit := pm(map[string]any{"algorithm": "RSA", "rsaBits": 2048.0, "ecdsaCurve": "P224"})
	if res := s.diff(PrivateKeyType, p.caKeyInputs, p.caKey, explicit); res.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("explicit default: %v", res)
	}
	// Removing an input replaces.
	news := p.csrInputs.Copy()
	delete(news, "dnsNames")
	if res := s.diff(CertRequestType, p.csrInputs, p.csr, news); strings.Join(res.Replaces, ",") != "dnsNames" {
		t.Errorf("removed input: %v", res)
	}
}

func TestRenewal(t *testing.T) {
	s := newServer(t)
	p := makePKI(t, s)
	defer func() { now = time.Now }()

	// 8760 h of validity, renewal 876 h before the end.
	now = func() time.Time { return time.Now().Add(8760*time.Hour - 877*time.Hour) }
	if res := s.diff(LocallySignedCertType, p.leafInputs, p.leaf, p.leafInputs); res.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("before renewal: %v", res)
	}
	now = func() time.Time { return time.Now().Add(8760*time.Hour - 875*time.Hour) }
	res := s.diff(LocallySignedCertType, p.leafInputs, p.leaf, p.leafInputs)
	if strings.Join(res.Replaces, ",") != "readyForRenewal" || res.DetailedDiff["readyForRenewal"].Kind != pulumirpc.PropertyDiff_UPDATE_REPLACE {
		t.Errorf("due for renewal: %v", res)
	}
	// Refresh records it.
	r := Resources()[LocallySignedCertType]
	_, state, err := r.Read(context.Background(), &provsrv.Request{Olds: p.leaf, OldInputs: p.leafInputs})
	if err != nil || !props.Bool(state, "readyForRenewal", false) {
		t.Errorf("read: %v %v", state["readyForRenewal"], err)
	}
	// A smaller earlyRenewalHours is an update, and with it the certificate is not due yet.
	news := p.leafInputs.Copy()
	news["earlyRenewalHours"] = resource.NewNumberProperty(100)
	res = s.diff(LocallySignedCertType, p.leafInputs, p.leaf, news)
	if res.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(res.Replaces) != 0 {
		t.Errorf("earlyRenewalHours change: %v", res)
	}
	outs, err := r.Update(context.Background(), &provsrv.Request{Olds: p.leaf, OldInputs: p.leafInputs, News: news})
	if err != nil || props.Number(outs, "earlyRenewalHours", 0) != 100 || props.Bool(outs, "readyForRenewal", true) ||
		get(t, outs, "certPem") != get(t, p.leaf, "certPem") {
		t.Errorf("update: %v", err)
	}
	// The self-signed CA renews the same way.
	now = func() time.Time { return time.Now().Add(87600*time.Hour - 8000*time.Hour) }
	if res := s.diff(SelfSignedCertType, p.caCertInputs, p.caCert, p.caCertInputs); strings.Join(res.Replaces, ",") != "readyForRenewal" {
		t.Errorf("CA due: %v", res)
	}
}

func TestPreviewCreate(t *testing.T) {
	r := Resources()[LocallySignedCertType]
	in := pm(map[string]any{"validityPeriodHours": 1.0})
	in["certRequestPem"] = resource.MakeComputed(resource.NewStringProperty(""))
	id, outs, err := r.Create(context.Background(), &provsrv.Request{News: in, Preview: true})
	if err != nil || id != "" || !outs["certPem"].IsComputed() || !outs["certRequestPem"].IsComputed() ||
		props.Number(outs, "earlyRenewalHours", -1) != 0 {
		t.Errorf("preview: %v %v", outs, err)
	}
	k := Resources()[PrivateKeyType]
	_, outs, _ = k.Create(context.Background(), &provsrv.Request{News: pm(map[string]any{"algorithm": "RSA"}), Preview: true})
	if !outs["privateKeyPem"].IsSecret() || !outs["publicKeyPem"].IsComputed() {
		t.Errorf("key preview: %v", outs)
	}
}
