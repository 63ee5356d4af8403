package realtier

import (
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// S3 is an in-process S3-compatible server holding the Pulumi state bucket.
type S3 struct {
	Bucket  string
	backend *s3mem.Backend
	server  *httptest.Server
}

func StartS3(bucket string) (*S3, error) {
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		return nil, err
	}
	faker := gofakes3.New(backend, gofakes3.WithAutoBucket(false))
	return &S3{Bucket: bucket, backend: backend, server: httptest.NewServer(faker.Server())}, nil
}

func (s *S3) Close() { s.server.Close() }

// BackendURL is the Pulumi DIY backend URL for the bucket, in the query
// parameters gocloud.dev's s3blob (AWS SDK v2) accepts; an http:// endpoint
// needs no disable_https.
func (s *S3) BackendURL() string {
	q := url.Values{}
	q.Set("endpoint", s.server.URL)
	q.Set("use_path_style", "true")
	q.Set("region", "us-east-1")
	// gofakes3 sends no response checksums; the SDK would warn on every read.
	q.Set("response_checksum_validation", "when_required")
	return fmt.Sprintf("s3://%s?%s", s.Bucket, q.Encode())
}

// Keys lists the object keys under prefix.
func (s *S3) Keys(prefix string) ([]string, error) {
	list, err := s.backend.ListBucket(s.Bucket, &gofakes3.Prefix{HasPrefix: true, Prefix: prefix}, gofakes3.ListBucketPage{})
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, c := range list.Contents {
		if strings.HasPrefix(c.Key, prefix) {
			keys = append(keys, c.Key)
		}
	}
	return keys, nil
}
