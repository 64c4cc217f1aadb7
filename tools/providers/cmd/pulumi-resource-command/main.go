// pulumi-resource-command: this project's own build of the Pulumi `command` resource provider plugin, for the
// resources the program uses (command:local:Command, command:remote:Command, command:remote:CopyToRemote).
// See internal/command for what it supports.
package main

import (
	"os"

	"kube-dumb-way/tools/providers/internal/command"
	"kube-dumb-way/tools/providers/internal/provsrv"
)

// Set with -ldflags "-X main.version=…" (without a leading v, e.g. 1.2.1).
var version = "0.0.0-dev"

func main() {
	os.Exit(provsrv.Main("command", version, command.Resources()))
}
