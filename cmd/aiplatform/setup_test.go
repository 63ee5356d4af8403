package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aiplatform/infra/internal/setup"
	"github.com/stretchr/testify/assert"
)

// Bad flags are refused before any call, naming the flag and the fix.
func TestSetupFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-repo", "acme/infra", "-deploy-runner", "ubuntu-latest"}, `-deploy-runner: "ubuntu-latest" is GitHub-hosted`},
		{[]string{"-repo", "acme/infra", "-reviewers", "@acme"}, `-reviewers: "@acme" is not a team`},
		{[]string{"-repo", "acme", "-retention-days", "7"}, "-retention-days: 7 is outside 30..400"},
		{[]string{"-repo", "acme/infra", "-region", "us-west-2", "-runners", "ec2"}, `-runners: "ec2" is not a runner option: codebuild`},
		// -runners codebuild sets the pools' labels; a label given as well is refused.
		{[]string{"-repo", "acme/infra", "-region", "us-west-2", "-runners", "codebuild", "-deploy-runner", "aiplatform-deploy"}, "with -runners codebuild the deploy pool's label is codebuild-aiplatform-ci-deploy"},
	} {
		code, _, stderr := run(append([]string{"setup"}, tc.args...)...)
		assert.Equal(t, exitUsage, code, "%v", tc.args)
		assert.Contains(t, stderr, tc.want)
	}
}

func TestRepoFromRemote(t *testing.T) {
	for in, want := range map[string]string{
		"git@github.com:acme/infra.git":       "acme/infra",
		"https://github.com/acme/infra":       "acme/infra",
		"https://github.com/acme/my.repo.git": "acme/my.repo",
	} {
		m := remoteRE.FindStringSubmatch(in)
		if assert.NotNil(t, m, in) {
			assert.Equal(t, want, m[1], in)
		}
	}
}

func TestSetupReport(t *testing.T) {
	var b bytes.Buffer
	printReport(&b, &setup.Report{SubjectPrefix: "repo:acme/infra", Checklist: []setup.Item{{ID: setup.RunnerPools, What: "Register the runners", How: "https://github.com/acme/infra/settings/actions/runners/new"}}}, true)
	assert.Equal(t, "Nothing to change.\nOIDC subject prefix: repo:acme/infra\n\nLeft for you (docs/setup.md):\n1. [runner-pools] Register the runners\n   https://github.com/acme/infra/settings/actions/runners/new\n", b.String())
	b.Reset()
	printReport(&b, &setup.Report{Changes: []setup.Change{{Op: "create", What: "x"}}}, false)
	assert.Contains(t, b.String(), "1 changes made before the failure; run setup again to continue.")
}

// The flags reach the GitHub client: the API URL, the token from GH_TOKEN;
// a refused token is exit 1 with the fix. (The steps themselves are tested
// in internal/setup against a recording fake GitHub.)
func TestSetupWiring(t *testing.T) {
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = append(auth, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"message":"Bad credentials"}`))
	}))
	defer srv.Close()
	t.Setenv("GH_TOKEN", "ghp_expired")
	code, _, stderr := run("setup", "-github-api", srv.URL, "-repo", "acme/infra", "-region", "us-west-2",
		"-backend-url", "s3://b?region=us-west-2", "-preview-role-arn", "arn:aws:iam::123456789012:role/p",
		"-apply-role-arn", "arn:aws:iam::123456789012:role/a", "-dry-run")
	assert.Equal(t, exitFail, code)
	assert.Equal(t, []string{"GET /repos/acme/infra Bearer ghp_expired"}, auth)
	assert.Contains(t, stderr, "aiplatform setup: GET /repos/acme/infra: 401 Bad credentials: the token is invalid or expired")
}

// With -runners codebuild and no label flags, the label flags' defaults do
// not apply: the configuration validates (the run then stops at the
// GitHub token, not at a flag).
func TestSetupRunnersFlagTakesThePoolsLabels(t *testing.T) {
	t.Setenv("GH_TOKEN", "")
	t.Setenv("GITHUB_TOKEN", "")
	t.Setenv("PATH", t.TempDir()) // no gh: the token cannot be found
	code, _, stderr := run("setup", "-repo", "acme/infra", "-region", "us-west-2", "-runners", "codebuild")
	assert.Equal(t, exitFail, code, stderr)
	assert.Contains(t, stderr, "no GitHub token")
	assert.NotContains(t, stderr, "-pr-runner")
	assert.NotContains(t, stderr, "-deploy-runner")
}
