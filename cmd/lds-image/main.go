// Command lds-image builds the lds-service image without a Docker daemon
// and writes it as an OCI layout (-oci-layout) and/or pushes it
// (-repository with -tags), printing the pinned reference
// repository@sha256:<digest>, the value of ldsService.image outside dev.
//
//	go -C cmd/lds-image run . -oci-layout /tmp/lds-oci
//	go -C cmd/lds-image run . -repository ghcr.io/<owner>/lds-service -tags "$(cat cmd/lds-service/VERSION),sha-<commit>"
//
// Pushing authenticates with the Docker config ($DOCKER_CONFIG/config.json).
// Tags are immutable: pushing a tag that names another digest fails. Exit
// codes: 0 built (and pushed), 1 failure, 2 usage error.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aiplatform/infra/cmd/lds-image/image"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func main() {
	fs := flag.NewFlagSet("lds-image", flag.ContinueOnError)
	root := fs.String("repo-root", "../..", "root of the infra repository")
	arch := fs.String("arch", "amd64", "GOARCH of the image (the node groups are x86_64: amd64)")
	out := fs.String("oci-layout", "", "directory to write the image to as an OCI layout")
	repository := fs.String("repository", "", "repository to push to, e.g. ghcr.io/<owner>/lds-service")
	tags := fs.String("tags", "", "comma-separated tags to push, e.g. 0.1.0,sha-<commit>")
	source := fs.String("source", "", "org.opencontainers.image.source label, e.g. https://github.com/<owner>/<repo>")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if *out == "" && *repository == "" {
		fmt.Fprintln(os.Stderr, "lds-image: give -oci-layout DIR and/or -repository REPO -tags T1,T2")
		os.Exit(2)
	}
	if (*repository == "") != (*tags == "") {
		fmt.Fprintln(os.Stderr, "lds-image: -repository and -tags go together")
		os.Exit(2)
	}
	abs, err := filepath.Abs(*root)
	if err != nil {
		fail(err)
	}
	img, err := image.Build(context.Background(), image.Options{RepoRoot: abs, Arch: *arch, Source: *source})
	if err != nil {
		fail(err)
	}
	digest, err := img.Digest()
	if err != nil {
		fail(err)
	}
	if *out != "" {
		if _, err := image.WriteLayout(*out, img, *arch); err != nil {
			fail(err)
		}
		fmt.Fprintf(os.Stderr, "wrote %s (OCI layout)\n", *out)
	}
	if *repository == "" {
		fmt.Println(digest.String())
		return
	}
	pinned, err := image.Push(*repository, strings.Split(*tags, ","), img, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if err != nil {
		fail(err)
	}
	fmt.Println(pinned)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "lds-image:", err)
	os.Exit(1)
}
