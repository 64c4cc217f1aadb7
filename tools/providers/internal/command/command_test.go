package command

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"kube-dumb-way/tools/providers/internal/props"
	"kube-dumb-way/tools/providers/internal/provsrv"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/asset"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

const testURN = "urn:pulumi:dev::proj::command:local:Command::thing"

func pm(m map[string]any) resource.PropertyMap { return resource.NewPropertyMapFromMap(m) }

// recorder is a Logger that keeps status lines.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) Status(msg string) { r.mu.Lock(); r.lines = append(r.lines, msg); r.mu.Unlock() }
func (r *recorder) Warn(msg string)   { r.Status("WARN " + msg) }

func local() *commandResource  { return Resources()[LocalCommandType].(*commandResource) }
func remote() *commandResource { return Resources()[RemoteCommandType].(*commandResource) }

func mustString(t *testing.T, m resource.PropertyMap, key string) string {
	t.Helper()
	s, ok := props.String(m, key)
	if !ok {
		t.Fatalf("no string %s in %v", key, m)
	}
	return s
}

func TestLocalCreateDeleteWithEnvAndStdin(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "deleted")
	news := pm(map[string]any{
		"create":      `printf '%s-' "$FOO"; cat; echo; echo warn >&2`,
		"delete":      `{ printf '%s|%s|' "$FOO" "$PULUMI_COMMAND_STDOUT"; cat; } > ` + marker,
		"environment": map[string]any{"FOO": "bar"},
		"stdin":       "hello",
		"triggers":    []any{"a", 1.0},
	})
	log := &recorder{}
	id, outs, err := local().Create(context.Background(), &provsrv.Request{URN: testURN, News: news, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id, "thing-") {
		t.Errorf("id %q", id)
	}
	if got := mustString(t, outs, "stdout"); got != "bar-hello" {
		t.Errorf("stdout %q", got)
	}
	if got := mustString(t, outs, "stderr"); got != "warn" {
		t.Errorf("stderr %q", got)
	}
	for _, k := range []string{"create", "delete", "environment", "stdin", "triggers"} {
		if !outs[resource.PropertyKey(k)].DeepEquals(news[resource.PropertyKey(k)]) {
			t.Errorf("output %s is not the input", k)
		}
	}
	if strings.Join(log.lines, "\n") != "bar-hello\nwarn" && strings.Join(log.lines, "\n") != "warn\nbar-hello" {
		t.Errorf("logged %q", log.lines)
	}

	if err := local().Delete(context.Background(), &provsrv.Request{URN: testURN, ID: id, Olds: outs, OldInputs: news}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(marker)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "bar|bar-hello|hello" {
		t.Errorf("delete saw %q", data)
	}
}

func TestLocalNoPreviousOutputInEnvAndDirAndInterpreter(t *testing.T) {
	dir := t.TempDir()
	news := pm(map[string]any{
		"create":                 `print(__import__("os").getcwd() + "|" + __import__("os").environ.get("PULUMI_COMMAND_STDOUT", "none"))`,
		"interpreter":            []any{"python3", "-c"},
		"dir":                    dir,
		"addPreviousOutputInEnv": false,
	})
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		news["interpreter"] = resource.NewArrayProperty([]resource.PropertyValue{
			resource.NewStringProperty("/bin/sh"), resource.NewStringProperty("-c")})
		news["create"] = resource.NewStringProperty(`echo "$(pwd)|${PULUMI_COMMAND_STDOUT:-none}"`)
	}
	olds := news.Copy()
	olds["stdout"] = resource.NewStringProperty("previous")
	outs, err := local().Update(context.Background(), &provsrv.Request{URN: testURN, News: news, Olds: olds, OldInputs: news})
	if err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(dir)
	if got := mustString(t, outs, "stdout"); got != real+"|none" && got != dir+"|none" {
		t.Errorf("stdout %q", got)
	}
}

func TestLocalFailureCarriesStderr(t *testing.T) {
	news := pm(map[string]any{"create": `echo the-secret-stdout; echo something broke >&2; exit 3`, "logging": "none"})
	_, _, err := local().Create(context.Background(), &provsrv.Request{URN: testURN, News: news})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if !strings.Contains(msg, "something broke") || !strings.Contains(msg, "exit status 3") {
		t.Errorf("error %q", msg)
	}
	if strings.Contains(msg, "the-secret-stdout") {
		t.Errorf("error shows stdout that is not logged: %q", msg)
	}
	// Not even when stdout is logged: the engine may keep it secret (additionalSecretOutputs).
	news["logging"] = resource.NewStringProperty("stdoutAndStderr")
	_, _, err = local().Create(context.Background(), &provsrv.Request{URN: testURN, News: news})
	if err == nil || strings.Contains(err.Error(), "the-secret-stdout") || !strings.Contains(err.Error(), "something broke") {
		t.Errorf("error %v", err)
	}
}

func TestLocalCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := local().Create(ctx, &provsrv.Request{URN: testURN, News: pm(map[string]any{"create": "sleep 30 & sleep 30; wait"})})
	if err == nil || time.Since(start) > 15*time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
}

func TestSecretInputsMakeSecretOutputs(t *testing.T) {
	news := pm(map[string]any{"create": "echo hi"})
	news["stdin"] = resource.MakeSecret(resource.NewStringProperty("key material"))
	_, outs, err := local().Create(context.Background(), &provsrv.Request{URN: testURN, News: news})
	if err != nil {
		t.Fatal(err)
	}
	if !outs["stdout"].IsSecret() || !outs["stderr"].IsSecret() || !outs["stdin"].IsSecret() {
		t.Errorf("outputs %v", outs)
	}
	if mustString(t, outs, "stdout") != "hi" {
		t.Error("stdout")
	}
}

func TestPreviewCreateRunsNothing(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	news := pm(map[string]any{"create": "touch " + marker})
	id, outs, err := local().Create(context.Background(), &provsrv.Request{URN: testURN, News: news, Preview: true})
	if err != nil {
		t.Fatal(err)
	}
	if id != "" || !outs["stdout"].IsComputed() || !outs["stderr"].IsComputed() {
		t.Errorf("preview outputs %v %v", id, outs)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("preview ran the command")
	}
}

// diffWire runs a Diff through the gRPC server methods (marshalled as the engine does).
func diffWire(t *testing.T, typ string, oldInputs, olds, news resource.PropertyMap) *pulumirpc.DiffResponse {
	t.Helper()
	srv := provsrv.New("command", "1.2.1", Resources())
	opts := plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true, ElideAssetContents: true}
	m := func(p resource.PropertyMap) *structpb.Struct {
		s, err := plugin.MarshalProperties(p, opts)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	res, err := srv.Diff(context.Background(), &pulumirpc.DiffRequest{
		Id: "x", Urn: "urn:pulumi:dev::proj::" + typ + "::thing", Type: typ,
		OldInputs: m(oldInputs), Olds: m(olds), News: m(news),
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestCommandDiff(t *testing.T) {
	base := map[string]any{
		"create":      "echo a",
		"delete":      "echo b",
		"environment": map[string]any{"A": "1"},
		"triggers":    []any{"t1"},
		"logging":     "stdout",
	}
	olds := pm(base)
	state := olds.Copy()
	state["stdout"] = resource.NewStringProperty("a")
	state["stderr"] = resource.NewStringProperty("")

	// No change (secretness aside): nothing to do.
	same := olds.Copy()
	same["create"] = resource.MakeSecret(same["create"])
	if res := diffWire(t, LocalCommandType, olds, state, same); res.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("no change: %v", res)
	}
	// A trigger change replaces.
	news := olds.Copy()
	news["triggers"] = resource.NewArrayProperty([]resource.PropertyValue{resource.NewStringProperty("t2")})
	res := diffWire(t, LocalCommandType, olds, state, news)
	if res.Changes != pulumirpc.DiffResponse_DIFF_SOME || strings.Join(res.Replaces, ",") != "triggers" ||
		res.DetailedDiff["triggers"].Kind != pulumirpc.PropertyDiff_UPDATE_REPLACE {
		t.Errorf("trigger change: %v", res)
	}
	// Other changes update.
	for key, v := range map[string]resource.PropertyValue{
		"create":      resource.NewStringProperty("echo c"),
		"environment": resource.NewObjectProperty(pm(map[string]any{"A": "2"})),
		"stdin":       resource.NewStringProperty("in"),
		"logging":     resource.NewStringProperty("none"),
	} {
		news := olds.Copy()
		news[resource.PropertyKey(key)] = v
		res := diffWire(t, LocalCommandType, olds, state, news)
		if res.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(res.Replaces) != 0 || strings.Join(res.Diffs, ",") != key {
			t.Errorf("%s change: %v", key, res)
		}
	}
	// An unknown trigger (preview) replaces.
	news = olds.Copy()
	news["triggers"] = resource.MakeComputed(resource.NewStringProperty(""))
	if res := diffWire(t, LocalCommandType, olds, state, news); strings.Join(res.Replaces, ",") != "triggers" {
		t.Errorf("unknown trigger: %v", res)
	}
	// Removing the triggers replaces too.
	news = olds.Copy()
	delete(news, "triggers")
	if res := diffWire(t, LocalCommandType, olds, state, news); strings.Join(res.Replaces, ",") != "triggers" {
		t.Errorf("removed trigger: %v", res)
	}
}

func TestUpdateRunsUpdateOrCreate(t *testing.T) {
	olds := pm(map[string]any{"create": "echo one", "stdout": "one", "stderr": ""})
	news := pm(map[string]any{"create": "echo two"})
	outs, err := local().Update(context.Background(), &provsrv.Request{URN: testURN, News: news, Olds: olds})
	if err != nil || mustString(t, outs, "stdout") != "two" {
		t.Fatalf("update by create: %v %v", outs, err)
	}
	news = pm(map[string]any{"create": "echo two", "update": `echo "up from $PULUMI_COMMAND_STDOUT"`})
	outs, err = local().Update(context.Background(), &provsrv.Request{URN: testURN, News: news, Olds: olds})
	if err != nil || mustString(t, outs, "stdout") != "up from one" {
		t.Fatalf("update by update: %v %v", outs, err)
	}
	// Nothing to run: the previous outputs stay.
	news = pm(map[string]any{"delete": "true"})
	outs, err = local().Update(context.Background(), &provsrv.Request{URN: testURN, News: news, Olds: olds})
	if err != nil || mustString(t, outs, "stdout") != "one" {
		t.Fatalf("update with nothing to run: %v %v", outs, err)
	}
	// Preview: the outputs are unknown, nothing runs.
	news = pm(map[string]any{"create": "exit 1"})
	outs, err = local().Update(context.Background(), &provsrv.Request{URN: testURN, News: news, Olds: olds, Preview: true})
	if err != nil || !outs["stdout"].IsComputed() {
		t.Fatalf("preview update: %v %v", outs, err)
	}
}

func TestCheck(t *testing.T) {
	_, failures, _ := local().Check(context.Background(), &provsrv.Request{News: pm(map[string]any{"logging": "loud"})})
	if len(failures) != 1 || failures[0].Property != "logging" {
		t.Errorf("failures %v", failures)
	}
	_, failures, _ = remote().Check(context.Background(), &provsrv.Request{News: pm(map[string]any{"create": "x"})})
	if len(failures) != 1 || failures[0].Property != "connection" {
		t.Errorf("failures %v", failures)
	}
}

// ---------------------------------------------------------------------------------------------------------------
// Remote, against an in-process SSH server

func connectionTo(s *testSSHServer) map[string]any {
	return map[string]any{
		"host": s.addr, "port": float64(s.port), "user": "tester", "privateKey": s.clientKey,
		"dialErrorLimit": 3.0, "perDialTimeout": 5.0,
	}
}

func secretConnection(s *testSSHServer) resource.PropertyValue {
	return resource.MakeSecret(resource.NewObjectProperty(pm(connectionTo(s))))
}

func TestRemoteCommand(t *testing.T) {
	s := newTestSSHServer(t)
	dir := t.TempDir()
	news := pm(map[string]any{
		"create":      `printf '%s:%s:' "$FOO" "$BAZ"; cat; echo to-stderr >&2`,
		"delete":      `cat > ` + dir + `/deleted; echo "$PULUMI_COMMAND_STDOUT" >> ` + dir + `/deleted`,
		"environment": map[string]any{"FOO": "bar", "BAZ": "it's quoted"},
		"stdin":       "data",
	})
	news["connection"] = secretConnection(s)
	id, outs, err := remote().Create(context.Background(), &provsrv.Request{URN: testURN, News: news})
	if err != nil {
		t.Fatal(err)
	}
	if id == "" {
		t.Error("no id")
	}
	if !outs["stdout"].IsSecret() || !outs["connection"].IsSecret() {
		t.Error("with a secret connection, stdout must be secret")
	}
	if got := mustString(t, outs, "stdout"); got != "bar:it's quoted:data" {
		t.Errorf("stdout %q", got)
	}
	if got := mustString(t, outs, "stderr"); got != "to-stderr" {
		t.Errorf("stderr %q", got)
	}
	if err := remote().Delete(context.Background(), &provsrv.Request{URN: testURN, ID: id, Olds: outs}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(dir + "/deleted")
	if string(data) != "data\nbar:it's quoted:data\n" && string(data) != "databar:it's quoted:data\n" {
		t.Errorf("delete saw %q", data)
	}
	if n := s.EnvRefused(); n != 0 {
		t.Errorf("env requests were sent: %d", n)
	}

	// Failure carries stderr.
	news["create"] = resource.NewStringProperty("echo remote trouble >&2; exit 4")
	_, _, err = remote().Create(context.Background(), &provsrv.Request{URN: testURN, News: news})
	if err == nil || !strings.Contains(err.Error(), "remote trouble") || !strings.Contains(err.Error(), "4") {
		t.Errorf("error %v", err)
	}
}

func TestRemoteDialRetries(t *testing.T) {
	old := dialBackoff
	dialBackoff = func(int) time.Duration { return 50 * time.Millisecond }
	defer func() { dialBackoff = old }()

	// Nothing listens: limit 2 means 3 attempts, then an error.
	l := newTestSSHServer(t)
	conn := connectionTo(l)
	_ = l.listener.Close()
	conn["dialErrorLimit"] = 2.0
	news := pm(map[string]any{"create": "true", "connection": conn})
	log := &recorder{}
	_, _, err := remote().Create(context.Background(), &provsrv.Request{URN: testURN, News: news, Log: log})
	if err == nil || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Errorf("error %v", err)
	}
	if len(log.lines) != 2 {
		t.Errorf("retry notes %q", log.lines)
	}

	// A wrong key is retried too, and fails.
	s := newTestSSHServer(t)
	conn = connectionTo(s)
	conn["user"] = "someone-else"
	conn["dialErrorLimit"] = 0.0
	news = pm(map[string]any{"create": "true", "connection": conn})
	_, _, err = remote().Create(context.Background(), &provsrv.Request{URN: testURN, News: news})
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Errorf("error %v", err)
	}
}

func TestCopyToRemote(t *testing.T) {
	s := newTestSSHServer(t)
	src := filepath.Join(t.TempDir(), "kubelet")
	if err := os.WriteFile(src, []byte(strings.Repeat("binary!", 100000)), 0o755); err != nil {
		t.Fatal(err)
	}
	a, err := asset.FromPath(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.EnsureHash(); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "home", "stage", "kubelet")
	news := resource.PropertyMap{
		"connection": secretConnection(s),
		"source":     resource.NewAssetProperty(a),
		"remotePath": resource.NewStringProperty(dest),
		"triggers":   resource.NewArrayProperty([]resource.PropertyValue{resource.NewStringProperty(a.Hash)}),
	}
	c := Resources()[CopyToRemoteType]
	if _, failures, _ := c.Check(context.Background(), &provsrv.Request{News: news}); len(failures) != 0 {
		t.Fatalf("check: %v", failures)
	}
	id, outs, err := c.Create(context.Background(), &provsrv.Request{URN: testURN, News: news})
	if err != nil {
		t.Fatal(err)
	}
	if id == "" || !outs["source"].DeepEquals(news["source"]) {
		t.Errorf("outputs %v %v", id, outs)
	}
	got, err := os.ReadFile(dest)
	want, _ := os.ReadFile(src)
	if err != nil || string(got) != string(want) {
		t.Fatalf("copied %d bytes, %v", len(got), err)
	}
	// Into an existing directory: the file goes in under its name.
	news2 := news.Copy()
	news2["remotePath"] = resource.NewStringProperty(filepath.Dir(dest))
	if err := os.Remove(dest); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Create(context.Background(), &provsrv.Request{URN: testURN, News: news2}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dest); err != nil {
		t.Error(err)
	}
	if err := c.Delete(context.Background(), &provsrv.Request{URN: testURN, ID: id, Olds: outs}); err != nil {
		t.Fatal(err)
	}

	// Diff: a new file content replaces; a connection change only updates; no change is none.
	if res := diffWire(t, CopyToRemoteType, news, outs, news); res.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("no change: %v", res)
	}
	b, _ := asset.FromText("other")
	changed := news.Copy()
	changed["source"] = resource.NewAssetProperty(b)
	if res := diffWire(t, CopyToRemoteType, news, outs, changed); strings.Join(res.Replaces, ",") != "source" {
		t.Errorf("source change: %v", res)
	}
	changed = news.Copy()
	conn := connectionTo(s)
	conn["perDialTimeout"] = 9.0
	changed["connection"] = resource.MakeSecret(resource.NewObjectProperty(pm(conn)))
	if res := diffWire(t, CopyToRemoteType, news, outs, changed); res.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(res.Replaces) != 0 {
		t.Errorf("connection change: %v", res)
	}
	changed = news.Copy()
	changed["triggers"] = resource.NewArrayProperty(nil)
	if res := diffWire(t, CopyToRemoteType, news, outs, changed); strings.Join(res.Replaces, ",") != "triggers" {
		t.Errorf("trigger change: %v", res)
	}
}

func TestLargePreviousOutputIsNotPassed(t *testing.T) {
	olds := pm(map[string]any{"delete": `echo "${PULUMI_COMMAND_STDOUT:-unset}" >&2; exit 1`, "stdout": strings.Repeat("x", 40000)})
	log := &recorder{}
	err := local().Delete(context.Background(), &provsrv.Request{URN: testURN, Olds: olds, Log: log})
	if err == nil || !strings.Contains(err.Error(), "unset") {
		t.Errorf("error %v", err)
	}
	if len(log.lines) == 0 || !strings.HasPrefix(log.lines[0], "WARN PULUMI_COMMAND_STDOUT not set") {
		t.Errorf("log %q", log.lines)
	}
}
