// A small Pulumi language host for Node.js programs, written for this project's offline toolchain.
//
// Pulumi's own host (module github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3) is not served
// by the Go module proxy this project can reach, so scripts/toolchain.sh builds this one instead, against the
// served github.com/pulumi/pulumi/sdk/v3 at the CLI's version. It speaks the same gRPC LanguageRuntime protocol
// and runs programs the same way: `node <@pulumi/pulumi/cmd/run> --monitor … --engine … <entry point>`, the
// runner that ships in the npm package @pulumi/pulumi. What it does not do: install dependencies (`pulumi
// install`), run policy packs or plugins written in Node.js, generate code, or attach a debugger.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Set with -ldflags "-X main.version=…".
var version = "0.0.0-dev"

// The runner exits with this code after it has already shown the user a message: the engine should not add its own.
const exitAfterUserMessage = 32

func main() {
	flags := flag.NewFlagSet("pulumi-language-nodejs", flag.ContinueOnError)
	flags.String("tracing", "", "tracing endpoint (ignored)")
	runtimeName := flags.String("runtime", "nodejs", "the JavaScript runtime; only nodejs is supported")
	flags.String("root", "", "project root (ignored)")
	showVersion := flags.Bool("version", false, "print the version and exit")
	if err := flags.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if *showVersion {
		fmt.Println(version)
		return
	}
	if *runtimeName != "nodejs" {
		fatal(fmt.Errorf("unsupported runtime %q: this host runs nodejs only", *runtimeName))
	}

	host := &languageHost{}
	if flags.NArg() > 0 {
		host.engineAddress = flags.Arg(0)
		if err := rpcutil.Healthcheck(context.Background(), host.engineAddress, 5*time.Minute, func() { os.Exit(0) }); err != nil {
			fatal(fmt.Errorf("could not watch the engine: %w", err))
		}
	}

	cancel := make(chan bool)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fatal(fmt.Errorf("could not start the language host server: %w", err))
	}
	// The engine reads the port from our first line of output.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %v\n", err)
	os.Exit(1)
}

type languageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
}

func (h *languageHost) Handshake(
	ctx context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.engineAddress = req.GetEngineAddress()
	if h.engineAddress != "" {
		if err := rpcutil.Healthcheck(context.Background(), h.engineAddress, 5*time.Minute, func() { os.Exit(0) }); err != nil {
			return nil, err
		}
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *languageHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

// GetRequiredPackages lists the resource plugins that the program's node_modules declare: every package whose
// package.json has `"pulumi": {"resource": true, "name": …, "version": …}`.
func (h *languageHost) GetRequiredPackages(
	ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	var deps []*pulumirpc.PackageDependency
	seen := map[string]bool{}
	nodeModules := filepath.Join(req.GetInfo().GetProgramDirectory(), "node_modules")
	for _, dir := range packageDirs(nodeModules) {
		dep, ok := pluginOf(filepath.Join(dir, "package.json"))
		if !ok || seen[dep.Name+"@"+dep.Version] {
			continue
		}
		seen[dep.Name+"@"+dep.Version] = true
		deps = append(deps, dep)
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: deps}, nil
}

// packageDirs: node_modules/<name> and node_modules/@scope/<name>.
func packageDirs(nodeModules string) []string {
	var dirs []string
	entries, _ := os.ReadDir(nodeModules)
	for _, e := range entries {
		p := filepath.Join(nodeModules, e.Name())
		if strings.HasPrefix(e.Name(), "@") {
			scoped, _ := os.ReadDir(p)
			for _, s := range scoped {
				dirs = append(dirs, filepath.Join(p, s.Name()))
			}
		} else if !strings.HasPrefix(e.Name(), ".") {
			dirs = append(dirs, p)
		}
	}
	return dirs
}

func pluginOf(packageJSON string) (*pulumirpc.PackageDependency, bool) {
	data, err := os.ReadFile(packageJSON)
	if err != nil {
		return nil, false
	}
	var pkg struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Pulumi  struct {
			Resource bool   `json:"resource"`
			Name     string `json:"name"`
			Version  string `json:"version"`
			Server   string `json:"server"`
		} `json:"pulumi"`
	}
	if json.Unmarshal(data, &pkg) != nil || !pkg.Pulumi.Resource {
		return nil, false
	}
	name := pkg.Pulumi.Name
	if name == "" {
		name = strings.TrimPrefix(pkg.Name, "@pulumi/")
	}
	v := pkg.Pulumi.Version
	if v == "" {
		v = pkg.Version
	}
	return &pulumirpc.PackageDependency{
		Kind: "resource", Name: name, Version: "v" + strings.TrimPrefix(v, "v"), Server: pkg.Pulumi.Server,
	}, true
}

// Run runs the program with the runner from the program's own @pulumi/pulumi.
func (h *languageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	programDir := info.GetProgramDirectory()
	node, err := exec.LookPath("node")
	if err != nil {
		return &pulumirpc.RunResponse{Error: "could not find node on the PATH"}, nil
	}
	runner, err := resolveModule(node, programDir, "@pulumi/pulumi/cmd/run")
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	args := []string{runner}
	add := func(name, value string) {
		if value != "" {
			args = append(args, "--"+name, value)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", h.engineAddress)
	add("organization", req.GetOrganization())
	add("project", req.GetProject())
	add("root-directory", info.GetRootDirectory())
	add("stack", req.GetStack())
	add("pwd", programDir)
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	add("parallel", strconv.Itoa(int(req.GetParallel())))
	entry := info.GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	args = append(args, req.GetArgs()...)

	cfg := map[string]string{}
	for k, v := range req.GetConfig() {
		key, err := config.ParseKey(k)
		if err != nil {
			return &pulumirpc.RunResponse{Error: err.Error()}, nil
		}
		cfg[key.Namespace()+":config:"+key.Name()] = v
	}
	cfgJSON, _ := json.Marshal(cfg)
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretJSON, _ := json.Marshal(secretKeys)

	env := append(os.Environ(), "PULUMI_CONFIG="+string(cfgJSON), "PULUMI_CONFIG_SECRET_KEYS="+string(secretJSON))
	opts := info.GetOptions().AsMap()
	if ts, ok := opts["typescript"].(bool); !ok || ts {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if tsconfig, ok := opts["tsconfig"].(string); ok && tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+tsconfig)
	}
	if nodeargs, ok := opts["nodeargs"].(string); ok && nodeargs != "" {
		args = append(strings.Fields(nodeargs), args...)
	}

	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = programDir
	cmd.Env = env
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	err = cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return &pulumirpc.RunResponse{}, nil
	case errors.As(err, &exitErr) && exitErr.ExitCode() == exitAfterUserMessage:
		return &pulumirpc.RunResponse{Bail: true}, nil
	case errors.As(err, &exitErr):
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode())}, nil
	default:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run node: %v", err)}, nil
	}
}

// resolveModule asks node, from the program's folder, where a module is.
func resolveModule(node, dir, module string) (string, error) {
	cmd := exec.Command(node, "-e", "console.log(require.resolve(process.argv[1]))", module)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("could not find %s from %s (is @pulumi/pulumi installed there?): %w", module, dir, err)
	}
	return strings.TrimSpace(string(out)), nil
}
