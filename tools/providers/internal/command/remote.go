package command

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"kube-dumb-way/tools/providers/internal/props"
	"kube-dumb-way/tools/providers/internal/provsrv"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/ssh"
)

// connection is the `connection` input of the remote resources. Defaults as in the official provider (and as
// the SDK fills in): port 22, user root, 10 dial errors allowed (-1: no limit), 15 s per dial (0: no limit).
// The host key is accepted whatever it is, unless `hostKey` names it. `proxy` and `agentSocketPath` are not
// supported.
type connection struct {
	Host               string
	Port               int
	User               string
	Password           string
	PrivateKey         string
	PrivateKeyPassword string
	HostKey            string
	DialErrorLimit     int
	PerDialTimeout     time.Duration
}

func checkConnection(news resource.PropertyMap) []*pulumirpc.CheckFailure {
	v, ok := news["connection"]
	if !ok || props.Unwrap(v).IsNull() {
		return []*pulumirpc.CheckFailure{{Property: "connection", Reason: "connection is required"}}
	}
	if v.ContainsUnknowns() {
		return nil
	}
	conn, ok := props.Object(news, "connection")
	if !ok {
		return []*pulumirpc.CheckFailure{{Property: "connection", Reason: "connection must be an object"}}
	}
	var failures []*pulumirpc.CheckFailure
	if _, ok := props.String(conn, "host"); !ok {
		failures = append(failures, &pulumirpc.CheckFailure{Property: "connection.host", Reason: "host is required"})
	}
	if props.Present(conn, "proxy") {
		failures = append(failures, &pulumirpc.CheckFailure{Property: "connection.proxy",
			Reason: "proxy connections are not supported by this build of the command provider"})
	}
	return failures
}

func connectionOf(state resource.PropertyMap) (connection, error) {
	m, ok := props.Object(state, "connection")
	if !ok {
		return connection{}, errors.New("connection is required")
	}
	c := connection{
		Port:           int(props.Number(m, "port", 22)),
		User:           "root",
		DialErrorLimit: int(props.Number(m, "dialErrorLimit", 10)),
		PerDialTimeout: time.Duration(props.Number(m, "perDialTimeout", 15) * float64(time.Second)),
	}
	var found bool
	if c.Host, found = props.String(m, "host"); !found || c.Host == "" {
		return c, errors.New("connection.host is required")
	}
	if u, ok := props.String(m, "user"); ok && u != "" {
		c.User = u
	}
	c.Password, _ = props.String(m, "password")
	c.PrivateKey, _ = props.String(m, "privateKey")
	c.PrivateKeyPassword, _ = props.String(m, "privateKeyPassword")
	c.HostKey, _ = props.String(m, "hostKey")
	if props.Present(m, "proxy") {
		return c, errors.New("connection.proxy is not supported by this build of the command provider")
	}
	return c, nil
}

func (c connection) address() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

func (c connection) clientConfig() (*ssh.ClientConfig, error) {
	cfg := &ssh.ClientConfig{User: c.User, HostKeyCallback: ssh.InsecureIgnoreHostKey()} //nolint:gosec // as the official provider
	if c.HostKey != "" {
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(c.HostKey))
		if err != nil {
			return nil, fmt.Errorf("could not parse connection.hostKey: %w", err)
		}
		cfg.HostKeyCallback = ssh.FixedHostKey(key)
		cfg.HostKeyAlgorithms = []string{key.Type()}
	}
	if c.PrivateKey != "" {
		var signer ssh.Signer
		var err error
		if c.PrivateKeyPassword != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(c.PrivateKey), []byte(c.PrivateKeyPassword))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(c.PrivateKey))
		}
		if err != nil {
			// Not the key itself: it is secret.
			return nil, fmt.Errorf("could not parse connection.privateKey: %w", err)
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(signer))
	}
	if c.Password != "" {
		pw := c.Password
		cfg.Auth = append(cfg.Auth, ssh.Password(pw), ssh.KeyboardInteractive(
			func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = pw
				}
				return answers, nil
			}))
	}
	if len(cfg.Auth) == 0 {
		return nil, errors.New("connection needs a privateKey or a password")
	}
	return cfg, nil
}

// dialBackoff is the pause after the n-th failed dial (n from 1): 1 s growing to 5 s.
var dialBackoff = func(n int) time.Duration {
	d := time.Second
	for i := 1; i < n && d < 5*time.Second; i++ {
		d = d * 3 / 2
	}
	return min(d, 5*time.Second)
}

// dial connects, retrying failed attempts (refused, timed out, rejected) until dialErrorLimit of them have
// failed (the next failure is final), or without end when it is -1.
func dial(ctx context.Context, log provsrv.Logger, c connection) (*ssh.Client, error) {
	cfg, err := c.clientConfig()
	if err != nil {
		return nil, err
	}
	limit := "inf"
	if c.DialErrorLimit >= 0 {
		limit = strconv.Itoa(c.DialErrorLimit)
	}
	for failures := 0; ; {
		client, err := dialOnce(ctx, c, cfg)
		if err == nil {
			return client, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("dialing %s: %w", c.address(), ctx.Err())
		}
		failures++
		if c.DialErrorLimit >= 0 && failures > c.DialErrorLimit {
			return nil, fmt.Errorf("could not connect to %s@%s after %d attempts: %w", c.User, c.address(), failures, err)
		}
		if log != nil {
			log.Status(fmt.Sprintf("Dial %d/%s to %s failed (%v): retrying", failures, limit, c.address(), err))
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("dialing %s: %w", c.address(), ctx.Err())
		case <-time.After(dialBackoff(failures)):
		}
	}
}

func dialOnce(ctx context.Context, c connection, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	dctx := ctx
	if c.PerDialTimeout > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, c.PerDialTimeout)
		defer cancel()
	}
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", c.address())
	if err != nil {
		return nil, err
	}
	// The SSH handshake is bounded by the same deadline.
	if deadline, ok := dctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(dctx, func() { _ = conn.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(conn, c.address(), cfg)
	if !stop() {
		if err == nil {
			_ = sc.Close()
		}
		return nil, fmt.Errorf("ssh handshake: %w", dctx.Err())
	}
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// remoteCommandLine puts the environment in front of cmd as `export K='V';` statements: SSH servers rarely
// accept environment variables (AcceptEnv), and the official provider's Setenv fails on most of them.
func remoteCommandLine(env [][2]string, cmd string) (string, error) {
	var b strings.Builder
	for _, kv := range env {
		if !envName.MatchString(kv[0]) {
			return "", fmt.Errorf("environment variable name %q is not valid for a shell", kv[0])
		}
		fmt.Fprintf(&b, "export %s=%s; ", kv[0], shellQuote(kv[1]))
	}
	b.WriteString(cmd)
	return b.String(), nil
}

// runRemote runs cmd over SSH (`session.Run`, so the user's login shell runs it), with stdin piped.
func runRemote(ctx context.Context, log provsrv.Logger, state resource.PropertyMap, cmd string,
	prevOut, prevErr string,
) (string, string, error) {
	conn, err := connectionOf(state)
	if err != nil {
		return "", "", err
	}
	line, err := remoteCommandLine(environment(log, state, prevOut, prevErr), cmd)
	if err != nil {
		return "", "", err
	}
	client, err := dial(ctx, log, conn)
	if err != nil {
		return "", "", err
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		return "", "", fmt.Errorf("could not open an SSH session on %s: %w", conn.address(), err)
	}
	defer session.Close()
	if stdin, ok := props.String(state, "stdin"); ok && stdin != "" {
		session.Stdin = strings.NewReader(stdin)
	}
	lg := loggingOf(state)
	out := newCapture(log, lg)
	session.Stdout, session.Stderr = out.Stdout(), out.Stderr()

	stop := context.AfterFunc(ctx, func() {
		_ = session.Signal(ssh.SIGKILL)
		_ = client.Close()
	})
	err = session.Run(line)
	stop()
	out.flush()
	stdout, stderr := out.stdout.String(), out.stderr.String()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("cancelled: %w", ctx.Err())
		}
		return "", "", failure("remote command on "+conn.address(), err, stderr)
	}
	return trimNewline(stdout), trimNewline(stderr), nil
}
