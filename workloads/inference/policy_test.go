package inference

import (
	"testing"

	"github.com/aiplatform/infra/tests/golden"
	"github.com/aiplatform/infra/workloads/internal/wltest"
	"github.com/stretchr/testify/assert"
)

func TestModelReadPolicyIsReadOnlyOnThePrefix(t *testing.T) {
	doc := ModelReadPolicy("us-west-2", "arn:aws:s3:::models-0a1b", "team/models", "arn:aws:kms:us-west-2:123456789012:key/k1")
	golden.Assert(t, "testdata/model-read-policy.json", doc.JSON()+"\n")
	st := wltest.Statements(t, doc)
	assert.Equal(t, []string{"s3:GetObject"}, st["ReadModels"].Action)
	assert.Equal(t, []string{"arn:aws:s3:::models-0a1b/team/models/*"}, st["ReadModels"].Resource, "object contents only under the prefix")
	assert.Equal(t, []string{"s3:ListBucket"}, st["ListModelBucket"].Action)
	assert.Equal(t, []string{"arn:aws:s3:::models-0a1b"}, st["ListModelBucket"].Resource)
	assert.NotContains(t, doc.JSON(), "s3:prefix")
	assert.Equal(t, []string{"kms:Decrypt"}, st["DecryptModels"].Action)
	assert.Equal(t, "s3.us-west-2.amazonaws.com", st["DecryptModels"].Condition["StringEquals"]["kms:ViaService"])
	for _, s := range doc.Statement {
		for _, a := range s.Action {
			assert.NotRegexp(t, `(Put|Delete|\*)`, a, "model access must be read-only")
		}
	}
}

// Triton's S3 filesystem calls HeadBucket before listing or reading
// (triton-inference-server/core src/filesystem/implementations/s3.h:
// S3FileSystem::CheckClient, IsDirectory). S3 authorises HeadBucket as
// s3:ListBucket on the bucket, and the request carries no s3:prefix, so a
// StringLike condition on s3:prefix (a missing key never matches) denies it.
func TestModelReadPolicyAllowsHeadBucket(t *testing.T) {
	doc := ModelReadPolicy("us-west-2", "arn:aws:s3:::models-0a1b", "models", "arn:aws:kms:us-west-2:123456789012:key/k1")
	allowed := false
	for _, s := range doc.Statement {
		for _, a := range s.Action {
			if a == "s3:ListBucket" && len(s.Condition) == 0 {
				assert.Equal(t, []string{"arn:aws:s3:::models-0a1b"}, s.Resource)
				allowed = true
			}
		}
	}
	assert.True(t, allowed, "HeadBucket (s3:ListBucket without s3:prefix) must be allowed")
}
