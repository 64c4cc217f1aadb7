package command

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"kube-dumb-way/tools/providers/internal/props"
	"kube-dumb-way/tools/providers/internal/provsrv"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// runLocal runs cmd with `interpreter` (default /bin/sh -c) in `dir` (default the provider's working
// directory, which the engine sets to the program's), with `environment` merged onto the provider's own.
func runLocal(ctx context.Context, log provsrv.Logger, state resource.PropertyMap, cmdline string,
	prevOut, prevErr string,
) (string, string, error) {
	args := props.Strings(state, "interpreter")
	if len(args) == 0 {
		args = []string{"/bin/sh", "-c"}
	}
	args = append(args, cmdline)

	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	if dir, ok := props.String(state, "dir"); ok && dir != "" {
		cmd.Dir = dir
	}
	cmd.Env = os.Environ()
	for _, kv := range environment(log, state, prevOut, prevErr) {
		cmd.Env = append(cmd.Env, kv[0]+"="+kv[1])
	}
	if stdin, ok := props.String(state, "stdin"); ok && stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	lg := loggingOf(state)
	out := newCapture(log, lg)
	cmd.Stdout, cmd.Stderr = out.Stdout(), out.Stderr()
	// Its own process group, so that a cancelled command takes its children with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second

	err := cmd.Run()
	out.flush()
	stdout, stderr := out.stdout.String(), out.stderr.String()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && ctx.Err() != nil {
			err = fmt.Errorf("cancelled: %w", ctx.Err())
		}
		return "", "", failure("local command", err, stderr)
	}
	return trimNewline(stdout), trimNewline(stderr), nil
}
