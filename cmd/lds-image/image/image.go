// Package image builds the lds-service container image without a Docker
// daemon or a base image to pull: go-containerregistry assembles it from
// empty.Image and one layer holding the static binary, runs it as the
// non-root user 65532, and writes it as an OCI layout (or pushes it). The
// build is reproducible (-trimpath, no build id, fixed timestamps), so the
// same source and Go toolchain give the same digest.
//
// It is its own module so that go-containerregistry stays out of the root
// go.mod.
package image

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Image facts the Deployment and the tests rely on.
const (
	// BinaryPath is the entrypoint.
	BinaryPath = "/lds-service"
	// NonRootUID is the user the image runs as (distroless's "nonroot").
	NonRootUID = 65532
	// Port is where lds-service listens by default (LISTEN_ADDR :8080).
	Port = 8080
)

// epoch is every timestamp in the image, for a reproducible digest.
var epoch = time.Unix(0, 0).UTC()

// Options say what to build.
type Options struct {
	// RepoRoot is the root of the infra repository (holding cmd/lds-service).
	RepoRoot string
	// Arch is the GOARCH of the image (amd64 or arm64).
	Arch string
	// Source is the org.opencontainers.image.source label (optional).
	Source string
}

// Build compiles cmd/lds-service statically and returns the image.
func Build(ctx context.Context, o Options) (v1.Image, error) {
	if o.Arch == "" {
		o.Arch = "amd64"
	}
	dir, err := os.MkdirTemp("", "lds-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "lds-service")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", bin, "./cmd/lds-service")
	cmd.Dir = o.RepoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+o.Arch, "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/lds-service: %v\n%s", err, out)
	}
	binary, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	layerTar, err := tarOf(map[string][]byte{BinaryPath: binary, "/etc/passwd": []byte(fmt.Sprintf("nonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", NonRootUID, NonRootUID))})
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerTar)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		return nil, err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", o.Arch
	cf.Created = v1.Time{Time: epoch}
	cf.Config.User = fmt.Sprintf("%d:%d", NonRootUID, NonRootUID)
	cf.Config.Entrypoint = []string{BinaryPath}
	cf.Config.Cmd = nil
	cf.Config.WorkingDir = "/"
	cf.Config.Env = []string{"PATH=/", "LISTEN_ADDR=:" + fmt.Sprint(Port)}
	cf.Config.ExposedPorts = map[string]struct{}{fmt.Sprintf("%d/tcp", Port): {}}
	cf.Config.Labels = map[string]string{"org.opencontainers.image.title": "lds-service"}
	if o.Source != "" {
		cf.Config.Labels["org.opencontainers.image.source"] = o.Source
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	return mutate.CreatedAt(img, v1.Time{Time: epoch})
}

// WriteLayout writes img as an OCI image layout at dir (an index with one
// manifest), replacing what is there, and returns the image's digest.
func WriteLayout(dir string, img v1.Image, arch string) (v1.Hash, error) {
	if err := os.RemoveAll(dir); err != nil {
		return v1.Hash{}, err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := p.AppendImage(img, layout.WithPlatform(v1.Platform{OS: "linux", Architecture: arch})); err != nil {
		return v1.Hash{}, err
	}
	return img.Digest()
}

// tarOf makes a tar of files (path → content): root-owned, read-only and
// executable for everyone, with fixed timestamps.
func tarOf(files map[string][]byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		for d := filepath.Dir(p); d != "/" && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d[1:] + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
				return nil, err
			}
		}
		mode := int64(0o444)
		if p == BinaryPath {
			mode = 0o555
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: p[1:], Mode: mode, Size: int64(len(files[p])), ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(files[p]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
