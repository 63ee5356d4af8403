package image

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Push writes img to repository under every tag and returns the pinned
// reference repository@sha256:…. Tags are immutable: a tag that already
// names another digest is an error (bump cmd/lds-service/VERSION), so a
// version tag always means one image; the same digest again is a no-op.
func Push(repository string, tags []string, img v1.Image, opts ...remote.Option) (string, error) {
	repo, err := name.NewRepository(repository)
	if err != nil {
		return "", fmt.Errorf("repository %q: %w", repository, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return "", err
	}
	if len(tags) == 0 {
		return "", errors.New("no tag to push")
	}
	for _, tag := range tags {
		ref := repo.Tag(tag)
		desc, err := remote.Head(ref, opts...)
		var terr *transport.Error
		switch {
		case err == nil && desc.Digest != digest:
			return "", fmt.Errorf("%s already names %s, not this build's %s: tags are immutable; bump cmd/lds-service/VERSION", ref, desc.Digest, digest)
		case err == nil:
			continue // already there
		case errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound:
		default:
			return "", fmt.Errorf("checking %s: %w", ref, err)
		}
		if err := remote.Write(ref, img, opts...); err != nil {
			return "", fmt.Errorf("pushing %s: %w", ref, err)
		}
	}
	return repo.Name() + "@" + digest.String(), nil
}
