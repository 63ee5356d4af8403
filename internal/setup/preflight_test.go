package setup

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// preflightScript runs one of the deploy's preflight scripts
// (.github/scripts) against the fake GitHub, with env.
func preflightScript(t *testing.T, gh *GitHub, script string, env map[string]string) (string, error) {
	t.Helper()
	for _, tool := range []string{"bash", "curl", "jq"} {
		_, err := exec.LookPath(tool)
		require.NoError(t, err, "the preflight scripts need %s", tool)
	}
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	cmd := exec.Command("bash", filepath.Join(root, ".github", "scripts", script))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GITHUB_API_URL="+gh.BaseURL, "GITHUB_TOKEN="+gh.Token,
		"GITHUB_REPOSITORY=acme/infra", "REPO_ROOT="+root, "GITHUB_OUTPUT="+filepath.Join(t.TempDir(), "out"))
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// What setup makes is what the deploy's preflight accepts: the real
// check-environment.sh and check-ci-settings.sh, run against the fake
// GitHub after a setup from nothing, refuse before and pass after.
func TestPreflightScriptsAcceptWhatSetupMade(t *testing.T) {
	f, gh := newFakeGitHub(t)
	out, err := preflightScript(t, gh, "check-environment.sh", map[string]string{"ENVIRONMENT": "dev"})
	require.Error(t, err, "before setup: %s", out)
	assert.Contains(t, out, "environment dev does not exist")

	_, _, err = runSetup(t, gh, testConfig(), false)
	require.NoError(t, err)

	out, err = preflightScript(t, gh, "check-environment.sh", map[string]string{"ENVIRONMENT": "dev"})
	require.NoError(t, err, out)
	assert.Contains(t, out, "environment dev: 1 required reviewers, self-review prevented, no administrator bypass, deployments from main only")

	f.mu.Lock()
	vars := map[string]string{}
	for k, v := range f.vars {
		vars[k] = v
	}
	f.mu.Unlock()
	vars["GITHUB_ACTIONS"] = "false"
	out, err = preflightScript(t, gh, "check-ci-settings.sh", vars)
	require.NoError(t, err, out)
	assert.True(t, strings.HasPrefix(out, "CI settings: backend s3://aiplatform-pulumi-state-1a2b3c4, region us-west-2, PR runner aiplatform-pr, deploy runner aiplatform-deploy"), out)
}
