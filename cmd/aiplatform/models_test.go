package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sampleRepo = "../../workloads/inference/samplemodels/repository"

func runModelsCmd(args ...string) (int, string, string) {
	var o, e bytes.Buffer
	code := runModels(args, &o, &e)
	return code, o.String(), e.String()
}

func TestModelsCheckTheSampleRepository(t *testing.T) {
	code, stdout, stderr := runModelsCmd("check", sampleRepo)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "id_card (platform ensemble, versions [1]): detect → recognise")
	assert.Contains(t, stdout, "ok: 3 models")
}

func TestModelsCheckReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "a", "latest"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a", "config.pbtxt"), []byte(`name: "b"`), 0o644))
	code, _, stderr := runModelsCmd("check", dir)
	assert.Equal(t, exitFail, code)
	for _, want := range []string{
		`a/config.pbtxt: name "b" does not match its directory "a"`,
		"a/config.pbtxt: needs backend",
		"a/latest: not a version directory",
	} {
		assert.Contains(t, stderr, want)
	}
	code, _, stderr = runModelsCmd("check", t.TempDir())
	assert.Equal(t, exitFail, code)
	assert.Contains(t, stderr, "no model directories")
}

func TestModelsHelpAndUsage(t *testing.T) {
	code, _, stderr := runModelsCmd("-h")
	assert.Equal(t, exitOK, code)
	for _, want := range []string{"Usage: aiplatform models", "Input", "Output", "Exit codes"} {
		assert.Contains(t, stderr, want)
	}
	for _, args := range [][]string{{}, {"list"}, {"check"}, {"check", "a", "b"}, {"push", "-nope", "d"}, {"check", "-stack", "dev", sampleRepo}} {
		code, _, _ := runModelsCmd(args...)
		assert.Equal(t, exitUsage, code, "%v", args)
	}
}

// fakeCommands records the commands models push runs and answers them.
type fakeCommands struct {
	calls   []string
	outputs string
	failAWS bool
}

func (f *fakeCommands) run(_ context.Context, stdout, _ io.Writer, name string, args ...string) error {
	f.calls = append(f.calls, name+" "+strings.Join(args, " "))
	switch name {
	case "pulumi":
		_, err := io.WriteString(stdout, f.outputs)
		return err
	case "aws":
		if f.failAWS {
			return fmt.Errorf("aws: exit status 1")
		}
		return nil
	}
	return fmt.Errorf("unexpected command %s", name)
}

func withFakeCommands(t *testing.T, f *fakeCommands) {
	prev := runModelsCommand
	runModelsCommand = f.run
	t.Cleanup(func() { runModelsCommand = prev })
}

func TestModelsPushSyncsToTheStacksModelRepository(t *testing.T) {
	f := &fakeCommands{outputs: `{"modelBucketName":"b-123","tritonModelRepository":"s3://b-123/teams/a/models"}`}
	withFakeCommands(t, f)
	code, stdout, stderr := runModelsCmd("push", "-stack", "prod", "-delete", sampleRepo)
	require.Equal(t, exitOK, code, stderr)
	assert.Equal(t, []string{
		"pulumi stack output --json --stack prod",
		"aws s3 sync " + sampleRepo + " s3://b-123/teams/a/models/ --only-show-errors --no-progress --delete",
	}, f.calls)
	assert.Contains(t, stdout, "poll:")
	assert.Contains(t, stdout, "rollout restart")
}

func TestModelsPushRefusesAnInvalidRepositoryBeforeCallingAnything(t *testing.T) {
	f := &fakeCommands{outputs: `{"tritonModelRepository":"s3://b/models"}`}
	withFakeCommands(t, f)
	code, _, _ := runModelsCmd("push", t.TempDir())
	assert.Equal(t, exitFail, code)
	assert.Empty(t, f.calls)
}

func TestModelsPushFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		f       fakeCommands
		message string
	}{
		{"never deployed", fakeCommands{outputs: `{}`}, "neither a tritonModelRepository nor a modelBucketName output"},
		{"not JSON", fakeCommands{outputs: `Current stack is dev`}, "did not print JSON"},
		{"upload fails", fakeCommands{outputs: `{"tritonModelRepository":"s3://b/models"}`, failAWS: true}, "uploading: aws: exit status 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			withFakeCommands(t, &f)
			code, _, stderr := runModelsCmd("push", "-dry-run", sampleRepo)
			assert.Equal(t, exitFail, code)
			assert.Contains(t, stderr, tc.message)
		})
	}
}

// While Triton is off the prefix can be filled before its first start.
func TestModelsPushWithTritonOffUsesTheBucketAndPrefix(t *testing.T) {
	f := &fakeCommands{outputs: `{"modelBucketName":"b-123"}`}
	withFakeCommands(t, f)
	code, stdout, stderr := runModelsCmd("push", "-prefix", "teams/a/models", sampleRepo)
	require.Equal(t, exitOK, code, stderr)
	assert.Equal(t, "aws s3 sync "+sampleRepo+" s3://b-123/teams/a/models/ --only-show-errors --no-progress", f.calls[1])
	assert.Contains(t, stdout, "it must equal triton.modelPrefix")
}
