package command

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"kube-dumb-way/tools/providers/internal/props"
	"kube-dumb-way/tools/providers/internal/provsrv"

	"github.com/pkg/sftp"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/asset"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// copyToRemote is command:remote:CopyToRemote for a single-file asset (a FileAsset or a StringAsset; not
// archives): it writes the asset to remotePath over SFTP. When remotePath is an existing directory the file goes
// into it under the asset's base name; missing parent directories are created. Delete leaves the file, as the
// official provider does. A change to triggers, source (by content hash) or remotePath replaces the resource,
// which copies again; a change to connection only is stored.
type copyToRemote struct{}

var copyReplaceKeys = map[string]bool{"triggers": true, "source": true, "remotePath": true}

func (c *copyToRemote) Check(ctx context.Context, req *provsrv.Request) (resource.PropertyMap, []*pulumirpc.CheckFailure, error) {
	failures := checkConnection(req.News)
	v, ok := req.News["source"]
	switch {
	case !ok || props.Unwrap(v).IsNull():
		failures = append(failures, &pulumirpc.CheckFailure{Property: "source", Reason: "source is required"})
	case v.ContainsUnknowns():
	case props.Unwrap(v).IsArchive():
		failures = append(failures, &pulumirpc.CheckFailure{Property: "source",
			Reason: "archives are not supported by this build of the command provider: use an asset"})
	case !props.Unwrap(v).IsAsset():
		failures = append(failures, &pulumirpc.CheckFailure{Property: "source", Reason: "source must be an asset"})
	}
	if !props.Present(req.News, "remotePath") {
		failures = append(failures, &pulumirpc.CheckFailure{Property: "remotePath", Reason: "remotePath is required"})
	}
	return req.News, failures, nil
}

func (c *copyToRemote) Diff(ctx context.Context, req *provsrv.Request) (provsrv.DiffResult, error) {
	olds := req.OldInputs
	if olds == nil {
		olds = req.Olds
	}
	changed := props.ChangedKeys(olds, req.News)
	res := provsrv.DiffResult{Changed: changed}
	for _, k := range changed {
		if copyReplaceKeys[k] {
			res.Replaces = append(res.Replaces, k)
		}
	}
	return res, nil
}

func (c *copyToRemote) Create(ctx context.Context, req *provsrv.Request) (string, resource.PropertyMap, error) {
	if req.Preview {
		return "", req.News.Copy(), nil
	}
	if err := copyAsset(ctx, req.Log, req.News); err != nil {
		return "", nil, err
	}
	return newID(req.Name()), req.News.Copy(), nil
}

func (c *copyToRemote) Update(ctx context.Context, req *provsrv.Request) (resource.PropertyMap, error) {
	// Only changes that need no copy get here (see Diff).
	return req.News.Copy(), nil
}

func (c *copyToRemote) Delete(ctx context.Context, req *provsrv.Request) error { return nil }

func (c *copyToRemote) Read(ctx context.Context, req *provsrv.Request) (resource.PropertyMap, resource.PropertyMap, error) {
	if req.OldInputs != nil {
		return req.OldInputs, req.Olds, nil
	}
	return req.Olds, req.Olds, nil
}

func copyAsset(ctx context.Context, log provsrv.Logger, state resource.PropertyMap) error {
	v, ok := props.Get(state, "source")
	if !ok || !v.IsAsset() {
		return errors.New("source must be an asset (archives are not supported)")
	}
	a := v.AssetValue()
	remotePath, ok := props.String(state, "remotePath")
	if !ok || remotePath == "" {
		return errors.New("remotePath is required")
	}
	conn, err := connectionOf(state)
	if err != nil {
		return err
	}

	src, name, size, err := openAsset(a)
	if err != nil {
		return err
	}
	defer src.Close()

	client, err := dial(ctx, log, conn)
	if err != nil {
		return err
	}
	defer client.Close()
	stop := context.AfterFunc(ctx, func() { _ = client.Close() })
	defer stop()

	sc, err := sftp.NewClient(client, sftp.UseConcurrentWrites(true))
	if err != nil {
		return fmt.Errorf("could not start SFTP on %s: %w", conn.address(), err)
	}
	defer sc.Close()

	dest := remotePath
	info, err := sc.Stat(dest)
	switch {
	case err == nil && info.IsDir():
		if name == "" {
			return fmt.Errorf("remote path %s is a directory; a text asset needs a file path", dest)
		}
		dest = path.Join(dest, name)
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("could not stat %s on %s: %w", dest, conn.address(), err)
	case err != nil:
		if err := sc.MkdirAll(path.Dir(dest)); err != nil {
			return fmt.Errorf("could not create %s on %s: %w", path.Dir(dest), conn.address(), err)
		}
	}
	if log != nil {
		log.Status(fmt.Sprintf("copying %s (%d bytes) to %s:%s", describe(a), size, conn.address(), dest))
	}
	f, err := sc.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return fmt.Errorf("could not create %s on %s: %w", dest, conn.address(), err)
	}
	if _, err := f.ReadFrom(src); err != nil {
		_ = f.Close()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fmt.Errorf("could not write %s on %s: %w", dest, conn.address(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("could not write %s on %s: %w", dest, conn.address(), err)
	}
	return nil
}

// openAsset: the asset's content, its base name ("" for text) and size (-1 when unknown).
func openAsset(a *asset.Asset) (io.ReadCloser, string, int64, error) {
	switch {
	case a.IsPath():
		f, err := os.Open(a.Path)
		if err != nil {
			return nil, "", 0, fmt.Errorf("could not open the source: %w", err)
		}
		st, err := f.Stat()
		if err != nil {
			_ = f.Close()
			return nil, "", 0, err
		}
		if st.IsDir() {
			_ = f.Close()
			return nil, "", 0, fmt.Errorf("source %s is a directory: not supported", a.Path)
		}
		return f, path.Base(a.Path), st.Size(), nil
	case a.IsText():
		return io.NopCloser(strings.NewReader(a.Text)), "", int64(len(a.Text)), nil
	case a.IsURI():
		blob, err := a.Read()
		if err != nil {
			return nil, "", 0, fmt.Errorf("could not read the source %s: %w", a.URI, err)
		}
		return blob, path.Base(a.URI), blob.Size(), nil
	}
	return nil, "", 0, errors.New("the source asset has no path, text or URI")
}

func describe(a *asset.Asset) string {
	switch {
	case a.IsPath():
		return a.Path
	case a.IsURI():
		return a.URI
	}
	return "text asset"
}
