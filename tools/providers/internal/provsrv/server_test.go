package provsrv

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// echo is a resource whose outputs are its inputs plus a secret "made".
type echo struct{ deleted []string }

func (e *echo) Check(ctx context.Context, req *Request) (resource.PropertyMap, []*pulumirpc.CheckFailure, error) {
	return req.News, nil, nil
}

func (e *echo) Diff(ctx context.Context, req *Request) (DiffResult, error) {
	if req.OldInputs["v"].DeepEquals(req.News["v"]) {
		return DiffResult{}, nil
	}
	return DiffResult{Changed: []string{"v"}, Replaces: []string{"v"}}, nil
}

func (e *echo) Create(ctx context.Context, req *Request) (string, resource.PropertyMap, error) {
	outs := req.News.Copy()
	if req.Preview {
		outs["made"] = resource.MakeComputed(resource.NewStringProperty(""))
		return "", outs, nil
	}
	outs["made"] = resource.MakeSecret(resource.NewStringProperty("s3cret"))
	return "id-1", outs, nil
}

func (e *echo) Read(ctx context.Context, req *Request) (resource.PropertyMap, resource.PropertyMap, error) {
	return req.OldInputs, req.Olds, nil
}

func (e *echo) Update(ctx context.Context, req *Request) (resource.PropertyMap, error) {
	return req.News, nil
}

func (e *echo) Delete(ctx context.Context, req *Request) error {
	e.deleted = append(e.deleted, req.ID)
	return nil
}

func TestServerOverGRPC(t *testing.T) {
	e := &echo{}
	srv := New("echo", "1.2.3", map[string]Resource{"echo:index:Echo": e})
	stop := make(chan bool)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stop,
		Init: func(g *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(g, srv)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { close(stop); <-handle.Done }()
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", handle.Port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := pulumirpc.NewResourceProviderClient(conn)
	ctx := context.Background()

	info, err := c.GetPluginInfo(ctx, &emptypb.Empty{})
	if err != nil || info.Version != "1.2.3" {
		t.Fatalf("info %v %v", info, err)
	}
	hs, err := c.Handshake(ctx, &pulumirpc.ProviderHandshakeRequest{})
	if err != nil || !hs.AcceptSecrets {
		t.Fatalf("handshake %v %v", hs, err)
	}
	cfg, err := c.Configure(ctx, &pulumirpc.ConfigureRequest{})
	if err != nil || !cfg.AcceptSecrets || !cfg.SupportsPreview {
		t.Fatalf("configure %v %v", cfg, err)
	}
	schema, err := c.GetSchema(ctx, &pulumirpc.GetSchemaRequest{})
	var doc map[string]string
	if err != nil || json.Unmarshal([]byte(schema.Schema), &doc) != nil || doc["name"] != "echo" || doc["version"] != "1.2.3" {
		t.Fatalf("schema %v %v", schema, err)
	}
	if _, err := c.Invoke(ctx, &pulumirpc.InvokeRequest{Tok: "echo:index:f"}); status.Code(err) != codes.Unimplemented {
		t.Errorf("invoke: %v", err)
	}

	opts := plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true}
	in := resource.PropertyMap{"v": resource.MakeSecret(resource.NewStringProperty("x"))}
	wire, _ := plugin.MarshalProperties(in, opts)
	urn := "urn:pulumi:dev::p::echo:index:Echo::e"
	created, err := c.Create(ctx, &pulumirpc.CreateRequest{Urn: urn, Properties: wire})
	if err != nil || created.Id != "id-1" {
		t.Fatalf("create %v %v", created, err)
	}
	outs, err := plugin.UnmarshalProperties(created.Properties, opts)
	if err != nil || !outs["v"].IsSecret() || !outs["made"].IsSecret() {
		t.Fatalf("outputs %v %v", outs, err)
	}
	preview, err := c.Create(ctx, &pulumirpc.CreateRequest{Urn: urn, Type: "echo:index:Echo", Properties: wire, Preview: true})
	if err != nil {
		t.Fatal(err)
	}
	pouts, _ := plugin.UnmarshalProperties(preview.Properties, opts)
	if !pouts["made"].IsComputed() {
		t.Errorf("preview outputs %v", pouts)
	}
	diff, err := c.Diff(ctx, &pulumirpc.DiffRequest{Urn: urn, Id: "id-1", OldInputs: wire, Olds: created.Properties, News: wire})
	if err != nil || diff.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Fatalf("diff %v %v", diff, err)
	}
	changed, _ := plugin.MarshalProperties(resource.PropertyMap{"v": resource.NewStringProperty("y")}, opts)
	diff, err = c.Diff(ctx, &pulumirpc.DiffRequest{Urn: urn, Id: "id-1", OldInputs: wire, Olds: created.Properties, News: changed})
	if err != nil || diff.Changes != pulumirpc.DiffResponse_DIFF_SOME || diff.Replaces[0] != "v" ||
		diff.DetailedDiff["v"].Kind != pulumirpc.PropertyDiff_UPDATE_REPLACE || !diff.HasDetailedDiff {
		t.Fatalf("diff %v %v", diff, err)
	}
	if _, err := c.Delete(ctx, &pulumirpc.DeleteRequest{Urn: urn, Id: "id-1", Properties: created.Properties}); err != nil || len(e.deleted) != 1 {
		t.Fatalf("delete %v", err)
	}
	if _, err := c.Create(ctx, &pulumirpc.CreateRequest{Urn: "urn:pulumi:dev::p::echo:index:Other::e", Properties: wire}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("unknown type: %v", err)
	}
	if _, err := c.Cancel(ctx, &emptypb.Empty{}); err != nil {
		t.Fatal(err)
	}
	if srv.ctx.Err() == nil {
		t.Error("cancel did not cancel")
	}
}
