// Package command implements the resources of the Pulumi `command` package (v1) that this project uses:
// command:local:Command, command:remote:Command and command:remote:CopyToRemote, with the same property names
// and the same lifecycle as the official provider (github.com/pulumi/pulumi-command):
//
//   - Create runs `create`; Delete runs `delete`; an update (any changed input but `triggers`) runs `update`,
//     or `create` again when there is no `update`; a change to `triggers` replaces the resource.
//   - Outputs are the inputs plus `stdout` and `stderr` (one trailing newline trimmed). As in the official
//     provider, when any input is secret the outputs `stdout` and `stderr` are secret too.
//   - The previous run's stdout/stderr are passed as PULUMI_COMMAND_STDOUT/PULUMI_COMMAND_STDERR unless
//     addPreviousOutputInEnv is false.
//   - `logging` picks which of stdout/stderr are streamed to the engine as the command runs (default both).
//   - A command that fails (non-zero exit) fails the operation with its exit status and the end of its stderr;
//     its stdout is never put in an error, since the engine may keep it secret (additionalSecretOutputs).
package command

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"kube-dumb-way/tools/providers/internal/props"
	"kube-dumb-way/tools/providers/internal/provsrv"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Type tokens.
const (
	LocalCommandType  = "command:local:Command"
	RemoteCommandType = "command:remote:Command"
	CopyToRemoteType  = "command:remote:CopyToRemote"
)

// Resources is the provider's type table.
func Resources() map[string]provsrv.Resource {
	return map[string]provsrv.Resource{
		LocalCommandType:  &commandResource{kind: "local", run: runLocal, inputs: localInputs},
		RemoteCommandType: &commandResource{kind: "remote", run: runRemote, inputs: remoteInputs},
		CopyToRemoteType:  &copyToRemote{},
	}
}

const (
	envStdout = "PULUMI_COMMAND_STDOUT"
	envStderr = "PULUMI_COMMAND_STDERR"
)

var (
	commonInputs = []string{"create", "delete", "update", "environment", "triggers", "logging", "stdin",
		"addPreviousOutputInEnv"}
	localInputs  = append([]string{"dir", "interpreter", "assetPaths", "archivePaths"}, commonInputs...)
	remoteInputs = append([]string{"connection"}, commonInputs...)
	outputKeys   = []string{"stdout", "stderr", "assets", "archive"}
)

// runFunc runs one command line with the settings in state (the resource's inputs). prevOut/prevErr are the
// previous run's outputs, for PULUMI_COMMAND_STDOUT/STDERR.
type runFunc func(ctx context.Context, log provsrv.Logger, state resource.PropertyMap, cmd string,
	prevOut, prevErr string) (stdout, stderr string, err error)

type commandResource struct {
	kind   string
	run    runFunc
	inputs []string
}

func (c *commandResource) Check(ctx context.Context, req *provsrv.Request) (resource.PropertyMap, []*pulumirpc.CheckFailure, error) {
	var failures []*pulumirpc.CheckFailure
	if v, ok := props.Get(req.News, "logging"); ok && !v.ContainsUnknowns() {
		if !v.IsString() || !validLogging(v.StringValue()) {
			failures = append(failures, &pulumirpc.CheckFailure{Property: "logging",
				Reason: `logging must be one of "stdout", "stderr", "stdoutAndStderr", "none"`})
		}
	}
	for _, k := range []string{"assetPaths", "archivePaths"} {
		if props.Present(req.News, k) {
			failures = append(failures, &pulumirpc.CheckFailure{Property: k,
				Reason: k + " is not supported by this build of the command provider"})
		}
	}
	if c.kind == "remote" {
		failures = append(failures, checkConnection(req.News)...)
	}
	return req.News, failures, nil
}

func validLogging(s string) bool {
	switch s {
	case "stdout", "stderr", "stdoutAndStderr", "none":
		return true
	}
	return false
}

// oldInputs: the stored inputs, or for old state without them, the stored outputs less the output properties.
func oldInputs(req *provsrv.Request) resource.PropertyMap {
	if req.OldInputs != nil {
		return req.OldInputs
	}
	m := req.Olds.Copy()
	for _, k := range outputKeys {
		delete(m, resource.PropertyKey(k))
	}
	return m
}

func (c *commandResource) Diff(ctx context.Context, req *provsrv.Request) (provsrv.DiffResult, error) {
	changed := props.ChangedKeys(oldInputs(req), req.News)
	res := provsrv.DiffResult{Changed: changed}
	for _, k := range changed {
		if k == "triggers" {
			res.Replaces = append(res.Replaces, k)
		}
	}
	return res, nil
}

func newID(name string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return name + "-" + hex.EncodeToString(b)
}

// withOutputs: the inputs plus stdout and stderr, secret when any input is.
func withOutputs(inputs resource.PropertyMap, stdout, stderr resource.PropertyValue) resource.PropertyMap {
	outs := inputs.Copy()
	secret := inputs.ContainsSecrets()
	outs["stdout"] = props.SecretIf(secret, stdout)
	outs["stderr"] = props.SecretIf(secret, stderr)
	return outs
}

func (c *commandResource) Create(ctx context.Context, req *provsrv.Request) (string, resource.PropertyMap, error) {
	if req.Preview {
		return "", withOutputs(req.News, props.Computed(), props.Computed()), nil
	}
	id := newID(req.Name())
	stdout, stderr := "", ""
	if cmd, ok := props.String(req.News, "create"); ok {
		var err error
		stdout, stderr, err = c.run(ctx, req.Log, req.News, cmd, "", "")
		if err != nil {
			return "", nil, err
		}
	}
	return id, withOutputs(req.News, resource.NewStringProperty(stdout), resource.NewStringProperty(stderr)), nil
}

func (c *commandResource) Update(ctx context.Context, req *provsrv.Request) (resource.PropertyMap, error) {
	cmd, ok := props.String(req.News, "update")
	if !ok {
		cmd, ok = props.String(req.News, "create")
	}
	if !ok && !props.IsUnknown(req.News, "update") && !props.IsUnknown(req.News, "create") {
		// Nothing to run: keep the previous outputs.
		outs := req.News.Copy()
		for _, k := range []string{"stdout", "stderr"} {
			if v, found := req.Olds[resource.PropertyKey(k)]; found {
				outs[resource.PropertyKey(k)] = props.SecretIf(req.News.ContainsSecrets(), v)
			} else {
				outs[resource.PropertyKey(k)] = resource.NewStringProperty("")
			}
		}
		return outs, nil
	}
	if req.Preview {
		return withOutputs(req.News, props.Computed(), props.Computed()), nil
	}
	prevOut, _ := props.String(req.Olds, "stdout")
	prevErr, _ := props.String(req.Olds, "stderr")
	stdout, stderr, err := c.run(ctx, req.Log, req.News, cmd, prevOut, prevErr)
	if err != nil {
		return nil, err
	}
	return withOutputs(req.News, resource.NewStringProperty(stdout), resource.NewStringProperty(stderr)), nil
}

func (c *commandResource) Delete(ctx context.Context, req *provsrv.Request) error {
	cmd, ok := props.String(req.Olds, "delete")
	if !ok {
		return nil
	}
	prevOut, _ := props.String(req.Olds, "stdout")
	prevErr, _ := props.String(req.Olds, "stderr")
	_, _, err := c.run(ctx, req.Log, req.Olds, cmd, prevOut, prevErr)
	return err
}

func (c *commandResource) Read(ctx context.Context, req *provsrv.Request) (resource.PropertyMap, resource.PropertyMap, error) {
	return oldInputs(req), req.Olds, nil
}

// ---------------------------------------------------------------------------------------------------------------
// Shared by both runners

type logging struct{ stdout, stderr bool }

func loggingOf(state resource.PropertyMap) logging {
	s, ok := props.String(state, "logging")
	if !ok {
		return logging{true, true}
	}
	return logging{stdout: s == "stdout" || s == "stdoutAndStderr", stderr: s == "stderr" || s == "stdoutAndStderr"}
}

// maxPreviousOutput: a previous stdout/stderr longer than this is not passed on. The kernel refuses a single
// environment string or argument over 128 KiB (MAX_ARG_STRLEN), and remote commands carry their environment in
// the command line.
const maxPreviousOutput = 32 << 10

// environment: the resource's variables (sorted by name), then PULUMI_COMMAND_STDOUT/STDERR if wanted.
func environment(log provsrv.Logger, state resource.PropertyMap, prevOut, prevErr string) [][2]string {
	env, keys := props.StringMap(state, "environment")
	var out [][2]string
	for _, k := range keys {
		out = append(out, [2]string{k, env[k]})
	}
	if props.Bool(state, "addPreviousOutputInEnv", true) {
		for _, kv := range [][2]string{{envStdout, prevOut}, {envStderr, prevErr}} {
			switch {
			case kv[1] == "":
			case len(kv[1]) > maxPreviousOutput:
				if log != nil {
					log.Warn(fmt.Sprintf("%s not set: the previous output is %d bytes, over %d", kv[0], len(kv[1]), maxPreviousOutput))
				}
			default:
				out = append(out, kv)
			}
		}
	}
	return out
}

// failure is the error of a command that ran and failed: its exit status and the end of its stderr. Never its
// stdout: the engine may keep that secret (additionalSecretOutputs), which a provider cannot see.
func failure(what string, err error, stderr string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s failed: %v", what, err)
	if t := tail(stderr); t != "" {
		fmt.Fprintf(&b, "\nstderr:\n%s", t)
	}
	return fmt.Errorf("%s", b.String())
}

// tail: the last 40 lines, at most 4000 bytes, of s.
func tail(s string) string {
	s = strings.TrimRight(s, "\n")
	if len(s) > 4000 {
		s = "…" + s[len(s)-4000:]
	}
	lines := strings.Split(s, "\n")
	if len(lines) > 40 {
		lines = append([]string{"…"}, lines[len(lines)-40:]...)
	}
	return strings.Join(lines, "\n")
}

func trimNewline(s string) string { return strings.TrimSuffix(s, "\n") }
