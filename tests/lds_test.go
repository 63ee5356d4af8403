package tests

import (
	"io/fs"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/aiplatform/infra/internal/modelrepo"
	"github.com/aiplatform/infra/stacks"
	"github.com/aiplatform/infra/tests/mocks"
	"github.com/aiplatform/infra/workloads/inference"
	"github.com/aiplatform/infra/workloads/inference/samplemodels"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const bucketObjectType = "aws:s3/bucketObjectv2:BucketObjectv2"

const ldsDigest = "sha256:ecd10ea66e6ee5afa5d81ec35ff4d4257f38c0bbe0ebc9147253ee5538d69453"

// Issue 24: Triton's S3 filesystem calls an empty prefix "not a directory"
// (triton-inference-server/core src/filesystem/implementations/s3.h,
// S3FileSystem::IsDirectory) and the server exits, so dev uploads the
// sample repository under the prefix, encrypted with the bucket's key.
func TestSampleModelsAreUploadedUnderThePrefix(t *testing.T) {
	rec := runProgram(t, with(baseConfig(), "aiplatform:triton", `{"modelPrefix":"teams/a/models"}`))
	objects := rec.ByType(bucketObjectType)
	var keys []string
	for _, o := range objects {
		in := plain(o.Inputs)
		key := in["key"].(string)
		keys = append(keys, key)
		assert.Equal(t, "aws:kms", in["serverSideEncryption"], key)
		assert.NotEmpty(t, in["kmsKeyId"], key)
		assert.NotEmpty(t, in["bucket"], key)
		body, err := fs.ReadFile(samplemodels.Repository(), strings.TrimPrefix(key, "teams/a/models/"))
		require.NoError(t, err, key)
		assert.Equal(t, string(body), in["content"], key)
	}
	sort.Strings(keys)
	want := inference.SampleModelKeys("teams/a/models")
	sort.Strings(want)
	assert.Equal(t, want, keys)
	assert.Contains(t, keys, "teams/a/models/id_card/1/README.txt", "the ensemble's version directory exists on S3 only through an object")
	assert.Contains(t, keys, "teams/a/models/detect/config.pbtxt")
}

func TestSampleModelsDefaultOnInDevOnly(t *testing.T) {
	for _, tc := range []struct {
		stack, triton string
		want          bool
	}{
		{stacks.DevStack, `{}`, true},
		{"prod", `{}`, false},
		{stacks.DevStack, `{"sampleModels":false}`, false},
		{"prod", `{"sampleModels":true}`, true},
	} {
		cfg, err := stacks.ParseConfig(tc.stack, mocks.Region, stacks.MapSource(with(ldsConfigKeys(), "triton", tc.triton)))
		require.NoError(t, err, tc.stack+" "+tc.triton)
		assert.Equal(t, tc.want, cfg.Workloads.Triton.SampleModelsOn(), tc.stack+" "+tc.triton)
	}
	rec := runProgram(t, with(baseConfig(), "aiplatform:triton", `{"sampleModels":false}`))
	assert.Empty(t, rec.ByType(bucketObjectType), "off: nothing is uploaded (and the preview warns of the empty prefix)")
}

// ldsConfigKeys is a valid config as a stacks.MapSource (keys without the project prefix).
func ldsConfigKeys() map[string]string {
	return map[string]string{"adminRoleArns": `["` + adminRole + `"]`}
}

func TestLDSImageIsPinnedByDigestOutsideDev(t *testing.T) {
	for _, tc := range []struct {
		stack, image, problem string
	}{
		{stacks.DevStack, "ghcr.io/acme/lds-service:0.1.0", ""},
		{"prod", "ghcr.io/acme/lds-service@" + ldsDigest, ""},
		{"prod", "ghcr.io/acme/lds-service:0.1.0@" + ldsDigest, ""},
		{"prod", "ghcr.io/acme/lds-service:0.1.0", "has no digest"},
		{"prod", "ghcr.io/acme/lds-service:placeholder", `placeholder tag "placeholder"`},
		{stacks.DevStack, "docker.io/aiplatform/lds-service:1.0.0", "the seed's placeholder, which nothing builds"},
		{"prod", "docker.io/aiplatform/lds-service@" + ldsDigest, "the seed's placeholder"},
	} {
		t.Run(tc.stack+" "+tc.image, func(t *testing.T) {
			_, err := stacks.ParseConfig(tc.stack, mocks.Region, stacks.MapSource(with(ldsConfigKeys(), "ldsService", `{"image":"`+tc.image+`"}`)))
			if tc.problem == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), "aiplatform:ldsService.image: ")
			assert.Contains(t, err.Error(), tc.problem)
			assert.Contains(t, err.Error(), "pulumi config set --path 'aiplatform:ldsService.image'", "says how to fix it")
		})
	}
}

func TestExplicitModeWithSampleModelsMustLoadTheEnsemble(t *testing.T) {
	_, err := stacks.ParseConfig(stacks.DevStack, mocks.Region, stacks.MapSource(with(ldsConfigKeys(),
		"triton", `{"modelControlMode":"explicit"}`)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `aiplatform:triton.models: with sampleModels in explicit mode, list "id_card"`)
}

func TestLDSServiceProbesHealthzAndReadyz(t *testing.T) {
	rec := runProgram(t, wlFullConfig())
	d := plain(find(t, rec, deploymentType, "lds-service").Inputs)
	c := path(d, "spec", "template", "spec", "containers", 0)
	assert.Equal(t, "/healthz", path(c, "livenessProbe", "httpGet", "path"))
	assert.Equal(t, "/healthz", path(c, "startupProbe", "httpGet", "path"))
	assert.Equal(t, "/readyz", path(c, "readinessProbe", "httpGet", "path"), "fails while draining after SIGTERM")
}

// The committed dev stack runs the image this repository builds
// (cmd/lds-image), against the sample ensemble it uploads.
func TestCommittedDevStackServesTheSampleModels(t *testing.T) {
	cfg, _, err := mocks.StackConfig("..", stacks.DevStack)
	require.NoError(t, err)
	rec := runProgram(t, cfg)
	d := plain(find(t, rec, deploymentType, "lds-service").Inputs)
	image := path(d, "spec", "template", "spec", "containers", 0, "image").(string)
	version, err := os.ReadFile("../cmd/lds-service/VERSION")
	require.NoError(t, err)
	assert.Equal(t, "ghcr.io/aiplatform/lds-service:"+strings.TrimSpace(string(version)), image,
		"dev runs the immutable VERSION tag the deploy workflow's lds-image job publishes")
	settings := plain(find(t, rec, "kubernetes:core/v1:ConfigMap", "lds-service").Inputs)["data"].(map[string]any)
	assert.Equal(t, samplemodels.EnsembleName, settings["TRITON_MODEL"])
	assert.NotEmpty(t, rec.ByType(bucketObjectType), "dev uploads the sample models")
	models, err := modelrepo.Check(samplemodels.Repository())
	require.NoError(t, err)
	assert.NotEmpty(t, models)
}

func TestLDSTritonURLDefaultsToThisStacksTriton(t *testing.T) {
	parse := func(kv ...string) map[string]string {
		cfg, err := stacks.ParseConfig(stacks.DevStack, mocks.Region, stacks.MapSource(with(ldsConfigKeys(), kv...)))
		require.NoError(t, err)
		return cfg.Workloads.LDSService.Settings
	}
	assert.Equal(t, "http://triton.infer.svc.cluster.local:8000",
		parse("ldsService", `{"image":"ghcr.io/acme/lds-service:0.1.0"}`, "triton", `{"namespace":"infer"}`)["TRITON_URL"])
	assert.Equal(t, "http://elsewhere:8000",
		parse("ldsService", `{"image":"ghcr.io/acme/lds-service:0.1.0","settings":{"TRITON_URL":"http://elsewhere:8000"}}`)["TRITON_URL"], "a set value wins")
	assert.NotContains(t, parse("ldsService", `{"image":"ghcr.io/acme/lds-service:0.1.0"}`, "triton", `{"enabled":false}`), "TRITON_URL",
		"no Triton in this stack: nothing to default to")
}
