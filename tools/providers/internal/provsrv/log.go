package provsrv

import (
	"context"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Logger sends messages about one resource to the engine. Without an engine (tests) it drops them.
type Logger interface {
	// Status is an ephemeral line in the resource's Info column (a command's output, a retry note).
	Status(msg string)
	// Warn is a warning that stays in the update's output.
	Warn(msg string)
}

type engineLogger struct {
	engine pulumirpc.EngineClient
	urn    resource.URN
}

func (l *engineLogger) log(sev pulumirpc.LogSeverity, msg string, ephemeral bool) {
	if l == nil || l.engine == nil {
		return
	}
	// Not the operation's context: a message about a cancelled operation is still worth showing.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = l.engine.Log(ctx, &pulumirpc.LogRequest{
		Severity:  sev,
		Message:   strings.ToValidUTF8(msg, "\uFFFD"),
		Urn:       string(l.urn),
		Ephemeral: ephemeral,
	})
}

func (l *engineLogger) Status(msg string) { l.log(pulumirpc.LogSeverity_INFO, msg, true) }
func (l *engineLogger) Warn(msg string)   { l.log(pulumirpc.LogSeverity_WARNING, msg, false) }

// Discard is a Logger that drops everything.
var Discard Logger = (*engineLogger)(nil)
