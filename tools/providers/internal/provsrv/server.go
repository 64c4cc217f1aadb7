// Package provsrv is a small Pulumi resource provider server: it speaks the engine's gRPC ResourceProvider
// protocol (from github.com/pulumi/pulumi/sdk/v3) and hands each resource operation, with its properties
// already unmarshalled (secrets and unknowns kept), to a Resource implementation chosen by type token.
//
// It implements what custom resources need: Handshake, GetPluginInfo, GetSchema (a minimal schema),
// CheckConfig/DiffConfig/Configure (any configuration is accepted), Check, Diff, Create, Read, Update, Delete,
// Cancel and Attach. Invoke, Call, Construct and Parameterize answer Unimplemented.
package provsrv

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// Request is one resource operation. Which fields are set depends on the operation:
//
//	Check:  News (the program's inputs), OldInputs (the previous inputs, if any)
//	Diff:   News (checked inputs), Olds (the stored outputs), OldInputs (the stored inputs)
//	Create: News, Preview
//	Update: News, Olds, OldInputs, Preview
//	Read:   Olds, OldInputs
//	Delete: Olds, OldInputs
type Request struct {
	URN       resource.URN
	ID        string
	Preview   bool
	News      resource.PropertyMap
	Olds      resource.PropertyMap
	OldInputs resource.PropertyMap
	Log       Logger
}

// Name is the resource's name, from its URN.
func (r *Request) Name() string {
	if r.URN == "" || !r.URN.IsValid() {
		return "resource"
	}
	return r.URN.Name()
}

// DiffResult is what changed. Changed keys become an update unless they are also in Replaces. Replaces may
// also name keys that did not change (e.g. "readyForRenewal" when a certificate is due).
type DiffResult struct {
	Changed  []string
	Replaces []string
}

// Resource implements one resource type.
type Resource interface {
	Check(ctx context.Context, req *Request) (resource.PropertyMap, []*pulumirpc.CheckFailure, error)
	Diff(ctx context.Context, req *Request) (DiffResult, error)
	Create(ctx context.Context, req *Request) (id string, outputs resource.PropertyMap, err error)
	Read(ctx context.Context, req *Request) (inputs, outputs resource.PropertyMap, err error)
	Update(ctx context.Context, req *Request) (resource.PropertyMap, error)
	Delete(ctx context.Context, req *Request) error
}

// Server is a ResourceProvider gRPC server over a set of resource types.
type Server struct {
	pulumirpc.UnimplementedResourceProviderServer

	name      string
	version   string
	resources map[string]Resource

	mu     sync.Mutex
	engine pulumirpc.EngineClient
	conn   *grpc.ClientConn

	// ctx is cancelled by Cancel: running operations stop.
	ctx    context.Context
	cancel context.CancelFunc
}

// New makes a server for the package name (e.g. "command") at version, with resources keyed by type token.
func New(name, version string, resources map[string]Resource) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{name: name, version: version, resources: resources, ctx: ctx, cancel: cancel}
}

// SetEngine connects the server to the engine at addr, for log messages. An empty addr disconnects.
func (s *Server) SetEngine(addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		_ = s.conn.Close()
		s.conn, s.engine = nil, nil
	}
	if addr == "" {
		return nil
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		rpcutil.GrpcChannelOptions())
	if err != nil {
		return fmt.Errorf("could not connect to the engine at %s: %w", addr, err)
	}
	s.conn, s.engine = conn, pulumirpc.NewEngineClient(conn)
	return nil
}

func (s *Server) logger(urn resource.URN) Logger {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &engineLogger{engine: s.engine, urn: urn}
}

// opContext is the request's context, also cancelled when the engine calls Cancel.
func (s *Server) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

func (s *Server) resource(typ string, urn string) (Resource, error) {
	if typ == "" && urn != "" {
		if u := resource.URN(urn); u.IsValid() {
			typ = string(u.Type())
		}
	}
	r, ok := s.resources[typ]
	if !ok {
		return nil, status.Errorf(codes.InvalidArgument, "%s provider: unknown resource type %q", s.name, typ)
	}
	return r, nil
}

// ---------------------------------------------------------------------------------------------------------------
// Plugin-level methods

func (s *Server) Handshake(ctx context.Context, req *pulumirpc.ProviderHandshakeRequest) (*pulumirpc.ProviderHandshakeResponse, error) {
	if addr := req.GetEngineAddress(); addr != "" {
		if err := s.SetEngine(addr); err != nil {
			return nil, err
		}
	}
	return &pulumirpc.ProviderHandshakeResponse{AcceptSecrets: true, AcceptResources: true}, nil
}

func (s *Server) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: s.version}, nil
}

func (s *Server) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	schema, err := json.Marshal(map[string]string{"name": s.name, "version": s.version})
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetSchemaResponse{Schema: string(schema)}, nil
}

func (s *Server) CheckConfig(ctx context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (s *Server) DiffConfig(ctx context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (s *Server) Configure(ctx context.Context, req *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, AcceptResources: true}, nil
}

func (s *Server) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	s.cancel()
	return &emptypb.Empty{}, nil
}

func (s *Server) Attach(ctx context.Context, req *pulumirpc.PluginAttach) (*emptypb.Empty, error) {
	if err := s.SetEngine(req.GetAddress()); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// ---------------------------------------------------------------------------------------------------------------
// Resource methods

func unmarshal(label string, s *structpb.Struct, computeHashes bool) (resource.PropertyMap, error) {
	if s == nil {
		return resource.PropertyMap{}, nil
	}
	m, err := plugin.UnmarshalProperties(s, plugin.MarshalOptions{
		Label:              label,
		KeepUnknowns:       true,
		KeepSecrets:        true,
		KeepResources:      true,
		KeepOutputValues:   false,
		ComputeAssetHashes: computeHashes,
	})
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%s: %v", label, err)
	}
	return m, nil
}

func marshal(label string, m resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, plugin.MarshalOptions{
		Label:         label,
		KeepUnknowns:  true,
		KeepSecrets:   true,
		KeepResources: true,
	})
}

func (s *Server) Check(ctx context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	r, err := s.resource(req.GetType(), req.GetUrn())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal("check.news", req.GetNews(), false)
	if err != nil {
		return nil, err
	}
	olds, err := unmarshal("check.olds", req.GetOlds(), false)
	if err != nil {
		return nil, err
	}
	ctx, done := s.opContext(ctx)
	defer done()
	inputs, failures, err := r.Check(ctx, &Request{
		URN: resource.URN(req.GetUrn()), News: news, OldInputs: olds, Log: s.logger(resource.URN(req.GetUrn())),
	})
	if err != nil {
		return nil, err
	}
	out, err := marshal("check.inputs", inputs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: out, Failures: failures}, nil
}

func (s *Server) Diff(ctx context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	r, err := s.resource(req.GetType(), req.GetUrn())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal("diff.news", req.GetNews(), false)
	if err != nil {
		return nil, err
	}
	olds, err := unmarshal("diff.olds", req.GetOlds(), false)
	if err != nil {
		return nil, err
	}
	oldInputs, err := unmarshal("diff.oldInputs", req.GetOldInputs(), false)
	if err != nil {
		return nil, err
	}
	if req.GetOldInputs() == nil {
		oldInputs = nil
	}
	ctx, done := s.opContext(ctx)
	defer done()
	res, err := r.Diff(ctx, &Request{
		URN: resource.URN(req.GetUrn()), ID: req.GetId(), News: news, Olds: olds, OldInputs: oldInputs,
		Log: s.logger(resource.URN(req.GetUrn())),
	})
	if err != nil {
		return nil, err
	}
	return diffResponse(res, oldInputsOr(oldInputs, olds), news), nil
}

func oldInputsOr(oldInputs, olds resource.PropertyMap) resource.PropertyMap {
	if oldInputs != nil {
		return oldInputs
	}
	return olds
}

func diffResponse(res DiffResult, olds, news resource.PropertyMap) *pulumirpc.DiffResponse {
	replace := map[string]bool{}
	for _, k := range res.Replaces {
		replace[k] = true
	}
	detailed := map[string]*pulumirpc.PropertyDiff{}
	keys := map[string]bool{}
	for _, k := range append(append([]string{}, res.Changed...), res.Replaces...) {
		if keys[k] {
			continue
		}
		keys[k] = true
		_, hadOld := olds[resource.PropertyKey(k)]
		_, hasNew := news[resource.PropertyKey(k)]
		kind := pulumirpc.PropertyDiff_UPDATE
		switch {
		case !hadOld && hasNew:
			kind = pulumirpc.PropertyDiff_ADD
		case hadOld && !hasNew:
			kind = pulumirpc.PropertyDiff_DELETE
		}
		if replace[k] {
			switch kind {
			case pulumirpc.PropertyDiff_ADD:
				kind = pulumirpc.PropertyDiff_ADD_REPLACE
			case pulumirpc.PropertyDiff_DELETE:
				kind = pulumirpc.PropertyDiff_DELETE_REPLACE
			default:
				kind = pulumirpc.PropertyDiff_UPDATE_REPLACE
			}
		}
		detailed[k] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	if len(keys) == 0 {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, HasDetailedDiff: true}
	}
	diffs := make([]string, 0, len(keys))
	for k := range keys {
		diffs = append(diffs, k)
	}
	sort.Strings(diffs)
	replaces := append([]string{}, res.Replaces...)
	sort.Strings(replaces)
	return &pulumirpc.DiffResponse{
		Changes:         pulumirpc.DiffResponse_DIFF_SOME,
		Diffs:           diffs,
		Replaces:        replaces,
		DetailedDiff:    detailed,
		HasDetailedDiff: true,
	}
}

func (s *Server) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	r, err := s.resource(req.GetType(), req.GetUrn())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal("create.properties", req.GetProperties(), !req.GetPreview())
	if err != nil {
		return nil, err
	}
	ctx, done := s.opContext(ctx)
	defer done()
	id, outs, err := r.Create(ctx, &Request{
		URN: resource.URN(req.GetUrn()), Preview: req.GetPreview(), News: news,
		Log: s.logger(resource.URN(req.GetUrn())),
	})
	if err != nil {
		return nil, err
	}
	props, err := marshal("create.outputs", outs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

func (s *Server) Read(ctx context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	r, err := s.resource(req.GetType(), req.GetUrn())
	if err != nil {
		return nil, err
	}
	olds, err := unmarshal("read.properties", req.GetProperties(), false)
	if err != nil {
		return nil, err
	}
	oldInputs, err := unmarshal("read.inputs", req.GetInputs(), false)
	if err != nil {
		return nil, err
	}
	ctx, done := s.opContext(ctx)
	defer done()
	inputs, outs, err := r.Read(ctx, &Request{
		URN: resource.URN(req.GetUrn()), ID: req.GetId(), Olds: olds, OldInputs: oldInputs,
		Log: s.logger(resource.URN(req.GetUrn())),
	})
	if err != nil {
		return nil, err
	}
	props, err := marshal("read.properties", outs)
	if err != nil {
		return nil, err
	}
	ins, err := marshal("read.inputs", inputs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: props, Inputs: ins}, nil
}

func (s *Server) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	r, err := s.resource(req.GetType(), req.GetUrn())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal("update.news", req.GetNews(), !req.GetPreview())
	if err != nil {
		return nil, err
	}
	olds, err := unmarshal("update.olds", req.GetOlds(), false)
	if err != nil {
		return nil, err
	}
	oldInputs, err := unmarshal("update.oldInputs", req.GetOldInputs(), false)
	if err != nil {
		return nil, err
	}
	if req.GetOldInputs() == nil {
		oldInputs = nil
	}
	ctx, done := s.opContext(ctx)
	defer done()
	outs, err := r.Update(ctx, &Request{
		URN: resource.URN(req.GetUrn()), ID: req.GetId(), Preview: req.GetPreview(), News: news, Olds: olds,
		OldInputs: oldInputs, Log: s.logger(resource.URN(req.GetUrn())),
	})
	if err != nil {
		return nil, err
	}
	props, err := marshal("update.outputs", outs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

func (s *Server) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	r, err := s.resource(req.GetType(), req.GetUrn())
	if err != nil {
		return nil, err
	}
	olds, err := unmarshal("delete.properties", req.GetProperties(), false)
	if err != nil {
		return nil, err
	}
	oldInputs, err := unmarshal("delete.inputs", req.GetOldInputs(), false)
	if err != nil {
		return nil, err
	}
	ctx, done := s.opContext(ctx)
	defer done()
	if err := r.Delete(ctx, &Request{
		URN: resource.URN(req.GetUrn()), ID: req.GetId(), Olds: olds, OldInputs: oldInputs,
		Log: s.logger(resource.URN(req.GetUrn())),
	}); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}
