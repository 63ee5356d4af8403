package image

import (
	"archive/tar"
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestImageBuildsToAnOCILayout builds the image offline (no daemon, no base
// image), writes it as an OCI layout and reads it back: non-root user,
// entrypoint, one layer, and the digest the layout's index records.
func TestImageBuildsToAnOCILayout(t *testing.T) {
	ctx := context.Background()
	img, err := Build(ctx, Options{RepoRoot: repoRoot(t), Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "oci")
	digest, err := WriteLayout(dir, img, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
		t.Fatalf("no oci-layout file: %v", err)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != digest {
		t.Fatalf("index manifests %+v, want one with digest %s", im.Manifests, digest)
	}
	if pl := im.Manifests[0].Platform; pl == nil || pl.OS != "linux" || pl.Architecture != "amd64" {
		t.Fatalf("platform %+v, want linux/amd64", pl)
	}
	back, err := p.Image(digest)
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := back.MediaType(); mt != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s, want OCI", mt)
	}
	cf, err := back.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65532:65532" {
		t.Errorf("user %q, want the non-root 65532:65532", cf.Config.User)
	}
	if len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != BinaryPath {
		t.Errorf("entrypoint %v, want [%s]", cf.Config.Entrypoint, BinaryPath)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("platform %s/%s", cf.OS, cf.Architecture)
	}
	layers, err := back.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers %d (%v), want exactly the binary's layer on an empty base", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	found := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		found[h.Name] = h
	}
	bin := found[BinaryPath[1:]]
	if bin == nil {
		t.Fatalf("layer has %v, no %s", found, BinaryPath)
	}
	if bin.Uid != 0 || bin.Mode&0o222 != 0 || bin.Mode&0o111 == 0 {
		t.Errorf("binary uid %d mode %o: want root-owned, executable, not writable", bin.Uid, bin.Mode)
	}
}

// TestImageIsReproducible: the same source and toolchain give the same
// digest, which is what pinning by digest relies on.
func TestImageIsReproducible(t *testing.T) {
	ctx := context.Background()
	var digests []string
	for range 2 {
		img, err := Build(ctx, Options{RepoRoot: repoRoot(t), Arch: "amd64"})
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d.String())
	}
	if digests[0] != digests[1] {
		t.Fatalf("two builds gave %s and %s", digests[0], digests[1])
	}
}

// TestImageBinaryServesHealthz runs the binary from the image's layer (on an
// amd64 host) and probes the paths the Deployment's probes use.
func TestImageBinaryServesHealthz(t *testing.T) {
	if out, _ := exec.Command("go", "env", "GOHOSTARCH").Output(); string(out) != "amd64\n" {
		t.Skip("the image is amd64; this host cannot run it") // reported, never silent: see -v
	}
	img, err := Build(context.Background(), Options{RepoRoot: repoRoot(t), Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	bin := filepath.Join(t.TempDir(), "lds-service")
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no binary in the layer: %v", err)
		}
		if h.Name == BinaryPath[1:] {
			f, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, tr); err != nil {
				t.Fatal(err)
			}
			f.Close()
			break
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin)
	cmd.Env = []string{"LISTEN_ADDR=" + addr, "TRITON_URL=http://127.0.0.1:1", "SHUTDOWN_DELAY=0s"}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	// The service logs "serving" once it listens: wait for that line.
	lines := bufio.NewScanner(stdout)
	for lines.Scan() && !strings.Contains(lines.Text(), `"msg":"serving"`) {
	}
	go io.Copy(io.Discard, stdout)
	client := &http.Client{Timeout: time.Second}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: HTTP %d", path, resp.StatusCode)
		}
	}
}
