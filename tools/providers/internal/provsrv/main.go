package provsrv

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/grpclog"
)

// Main runs the plugin process: `pulumi-resource-<name> [flags] [ENGINE-ADDRESS]`. It serves the provider on a
// free port of 127.0.0.1 and prints that port on stdout, which is how the engine finds it. Without an engine
// address it waits for the engine to Attach. It returns the process's exit code.
func Main(name, version string, resources map[string]Resource) int {
	// gRPC's own log lines on stderr would show up in the user's update output.
	grpclog.SetLoggerV2(grpclog.NewLoggerV2(io.Discard, io.Discard, os.Stderr))

	prog := "pulumi-resource-" + name
	flags := flag.NewFlagSet(prog, flag.ContinueOnError)
	flags.SetOutput(os.Stderr)
	flags.Usage = func() {
		fmt.Fprintf(flags.Output(), "Usage: %s [flags] [ENGINE-ADDRESS]\n\n"+
			"The Pulumi resource provider plugin %q (version %s), started by the Pulumi engine.\n"+
			"It serves the ResourceProvider gRPC protocol on 127.0.0.1 and prints the port on stdout.\n\nFlags:\n",
			prog, name, version)
		flags.PrintDefaults()
	}
	showVersion := flags.Bool("version", false, "print the version and exit")
	flags.String("tracing", "", "tracing endpoint (ignored)")
	flags.Bool("logtostderr", false, "log to stderr (ignored)")
	flags.Int("v", 0, "log verbosity (ignored)")
	flags.String("root", "", "project root (ignored)")
	if err := flags.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *showVersion {
		fmt.Println(version)
		return 0
	}
	if flags.NArg() > 1 {
		fmt.Fprintf(os.Stderr, "%s: at most one argument (the engine address) expected\n", prog)
		return 2
	}

	srv := New(name, version, resources)

	// The engine sends SIGINT when it is done with the plugin; a dead engine stops us too.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if flags.NArg() == 1 {
		addr := flags.Arg(0)
		if err := srv.SetEngine(addr); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
			return 1
		}
		if err := rpcutil.Healthcheck(ctx, addr, 5*time.Minute, cancel); err != nil {
			fmt.Fprintf(os.Stderr, "%s: could not watch the engine: %v\n", prog, err)
			return 1
		}
	}
	stopServing := make(chan bool)
	go func() {
		<-ctx.Done()
		srv.cancel()
		close(stopServing)
	}()

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stopServing,
		Init: func(g *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(g, srv)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: could not serve: %v\n", prog, err)
		return 1
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
		return 1
	}
	return 0
}
