package tlsres

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // IDs and key identifiers, as the official provider
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"

	"kube-dumb-way/tools/providers/internal/props"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/ssh"
)

func privateKeyResource() *tlsResource {
	return &tlsResource{
		inputs: []string{"algorithm", "rsaBits", "ecdsaCurve"},
		defaults: resource.PropertyMap{
			"rsaBits":    resource.NewNumberProperty(2048),
			"ecdsaCurve": str("P224"),
		},
		outputs: []output{
			{"privateKeyPem", true}, {"privateKeyPemPkcs8", true}, {"privateKeyOpenssh", true},
			{"publicKeyPem", false}, {"publicKeyOpenssh", false},
			{"publicKeyFingerprintMd5", false}, {"publicKeyFingerprintSha256", false},
		},
		validate: validatePrivateKey,
		create:   createPrivateKey,
	}
}

func validatePrivateKey(in resource.PropertyMap) []*pulumirpc.CheckFailure {
	var failures []*pulumirpc.CheckFailure
	if !props.IsUnknown(in, "algorithm") {
		switch a, _ := props.String(in, "algorithm"); a {
		case "RSA", "ECDSA", "ED25519":
		default:
			failures = append(failures, &pulumirpc.CheckFailure{Property: "algorithm",
				Reason: fmt.Sprintf("algorithm must be RSA, ECDSA or ED25519, not %q", a)})
		}
	}
	if c, ok := props.String(in, "ecdsaCurve"); ok && curve(c) == nil {
		failures = append(failures, &pulumirpc.CheckFailure{Property: "ecdsaCurve",
			Reason: fmt.Sprintf("ecdsaCurve must be P224, P256, P384 or P521, not %q", c)})
	}
	return failures
}

func curve(name string) elliptic.Curve {
	switch name {
	case "P224":
		return elliptic.P224()
	case "P256":
		return elliptic.P256()
	case "P384":
		return elliptic.P384()
	case "P521":
		return elliptic.P521()
	}
	return nil
}

func createPrivateKey(in resource.PropertyMap) (generated, error) {
	algorithm, _ := props.String(in, "algorithm")
	var key crypto.Signer
	var err error
	switch algorithm {
	case "RSA":
		bits := int(props.Number(in, "rsaBits", 2048))
		key, err = rsa.GenerateKey(rand.Reader, bits)
	case "ECDSA":
		name, _ := props.String(in, "ecdsaCurve")
		c := curve(name)
		if c == nil {
			return generated{}, fmt.Errorf("unsupported ECDSA curve %q", name)
		}
		key, err = ecdsa.GenerateKey(c, rand.Reader)
	case "ED25519":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		return generated{}, fmt.Errorf("unsupported key algorithm %q", algorithm)
	}
	if err != nil {
		return generated{}, fmt.Errorf("could not generate the %s key: %w", algorithm, err)
	}

	var block *pem.Block
	switch k := key.(type) {
	case *rsa.PrivateKey:
		block = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return generated{}, err
		}
		block = &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
	case ed25519.PrivateKey:
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return generated{}, err
		}
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return generated{}, err
	}
	openssh := ""
	// x/crypto/ssh does not do P-224: the OpenSSH forms are empty then, as in the official provider.
	if ek, ok := key.(*ecdsa.PrivateKey); !ok || ek.Curve != elliptic.P224() {
		b, err := ssh.MarshalPrivateKey(key, "")
		if err != nil {
			return generated{}, fmt.Errorf("could not encode the key for OpenSSH: %w", err)
		}
		openssh = string(pem.EncodeToMemory(b))
	}

	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return generated{}, err
	}
	pubSSH, md5fp, sha256fp := "", "", ""
	if sshPub, err := ssh.NewPublicKey(key.Public()); err == nil {
		pubSSH = string(ssh.MarshalAuthorizedKey(sshPub))
		md5fp = ssh.FingerprintLegacyMD5(sshPub)
		sha256fp = ssh.FingerprintSHA256(sshPub)
	}
	return generated{
		id: sha1Hex(pubDER),
		outputs: resource.PropertyMap{
			"privateKeyPem":              str(string(pem.EncodeToMemory(block))),
			"privateKeyPemPkcs8":         str(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))),
			"privateKeyOpenssh":          str(openssh),
			"publicKeyPem":               str(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))),
			"publicKeyOpenssh":           str(pubSSH),
			"publicKeyFingerprintMd5":    str(md5fp),
			"publicKeyFingerprintSha256": str(sha256fp),
		},
	}, nil
}

func sha1Hex(b []byte) string {
	h := sha1.Sum(b) //nolint:gosec
	return hex.EncodeToString(h[:])
}

// parsePrivateKey reads a PEM private key: PKCS#1 RSA, SEC 1 EC or PKCS#8. It returns the key and its algorithm
// name (RSA, ECDSA or ED25519).
func parsePrivateKey(pemText string) (crypto.Signer, string, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return nil, "", errors.New("no PEM block found in the private key")
	}
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, "", fmt.Errorf("unsupported private key PEM type %q", block.Type)
	}
	if err != nil {
		// Not the key's text: it is secret.
		return nil, "", fmt.Errorf("could not parse the %s: %w", block.Type, err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, "RSA", nil
	case *ecdsa.PrivateKey:
		return k, "ECDSA", nil
	case ed25519.PrivateKey:
		return k, "ED25519", nil
	}
	return nil, "", fmt.Errorf("unsupported private key type %T", key)
}

// subjectKeyID is the SHA-1 of the public key, as the official provider computes it.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	var b []byte
	var err error
	switch k := pub.(type) {
	case *rsa.PublicKey:
		b, err = asn1.Marshal(*k)
	case *ecdsa.PublicKey:
		b = elliptic.Marshal(k.Curve, k.X, k.Y) //nolint:staticcheck // the uncompressed point, for every curve
	case ed25519.PublicKey:
		b, err = asn1.Marshal(k)
	default:
		err = fmt.Errorf("unsupported public key type %T", pub)
	}
	if err != nil {
		return nil, err
	}
	h := sha1.Sum(b) //nolint:gosec
	return h[:], nil
}
