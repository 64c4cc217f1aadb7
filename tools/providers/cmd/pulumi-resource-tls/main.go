// pulumi-resource-tls: this project's own build of the Pulumi `tls` resource provider plugin, for the resources
// the program uses (PrivateKey, SelfSignedCert, CertRequest, LocallySignedCert). See internal/tlsres.
package main

import (
	"os"

	"kube-dumb-way/tools/providers/internal/provsrv"
	"kube-dumb-way/tools/providers/internal/tlsres"
)

// Set with -ldflags "-X main.version=…" (without a leading v, e.g. 5.6.1).
var version = "0.0.0-dev"

func main() {
	os.Exit(provsrv.Main("tls", version, tlsres.Resources()))
}
