package image

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// TestPushPinsByDigestAndKeepsTagsImmutable pushes to an in-memory registry
// (go-containerregistry's pkg/registry on loopback).
func TestPushPinsByDigestAndKeepsTagsImmutable(t *testing.T) {
	reg := httptest.NewServer(registry.New())
	t.Cleanup(reg.Close)
	repo := strings.TrimPrefix(reg.URL, "http://") + "/aiplatform/lds-service"
	img, err := Build(context.Background(), Options{RepoRoot: repoRoot(t), Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()
	pinned, err := Push(repo, []string{"0.1.0", "sha-abc"}, img)
	if err != nil {
		t.Fatal(err)
	}
	if want := repo + "@" + digest.String(); pinned != want {
		t.Fatalf("pinned %s, want %s", pinned, want)
	}
	if _, err := Push(repo, []string{"0.1.0"}, img); err != nil {
		t.Fatalf("the same image again must be a no-op: %v", err)
	}
	other, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Push(repo, []string{"0.1.0"}, other)
	if err == nil || !strings.Contains(err.Error(), "tags are immutable; bump cmd/lds-service/VERSION") {
		t.Fatalf("overwriting 0.1.0 with another image: %v", err)
	}
}
