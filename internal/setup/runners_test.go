package setup

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aiplatform/infra/stacks/bootstrap/statebackend"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeConnections answers CodeConnections' status per ARN.
type fakeConnections map[string]string

func (f fakeConnections) ConnectionStatus(_ context.Context, region, arn string) (string, error) {
	if st, ok := f[arn]; ok {
		return st, nil
	}
	return "", errors.New("ResourceNotFoundException")
}

const testConnection = "arn:aws:codeconnections:us-west-2:123456789012:connection/0f1e2d3c-aaaa-bbbb-cccc-0123456789ab"

func runnersOutputs() *RunnerOutputs {
	return &RunnerOutputs{EgressIP: "203.0.113.7", ConnectionArn: testConnection, Webhooks: []PoolWebhook{
		{Pool: "pr", PayloadURL: "https://codebuild.us-west-2.amazonaws.com/webhooks?t=pr&v=1", Secret: "s3cr3t-pr"},
		{Pool: "deploy", PayloadURL: "https://codebuild.us-west-2.amazonaws.com/webhooks?t=deploy&v=1", Secret: "s3cr3t-deploy"},
	}}
}

func runnersConfig() Config {
	c := testConfig()
	c.BackendURL, c.PreviewRoleArn, c.ApplyRoleArn = "", "", ""
	c.Runners = RunnersCodeBuild
	return c
}

// -runners codebuild: the bootstrap creates the pools; setup adds their
// webhooks to the repository, writes their labels into the pools'
// variables and the runners' address into each stack's endpoint config,
// and lists the connection's handshake until it is done. A second run
// changes nothing; a webhook changed by hand is put back.
func TestCodeBuildRunners(t *testing.T) {
	f, gh := newFakeGitHub(t)
	aws := &fakeAWS{runners: runnersOutputs()}
	conns := fakeConnections{testConnection: "PENDING"}
	run := func(dryRun bool) (*Report, error) {
		s := &Setup{GitHub: gh, Config: runnersConfig(), DryRun: dryRun, AWS: aws, Connections: conns}
		return s.Run(context.Background())
	}
	rep, err := run(false)
	require.NoError(t, err, f.dump())
	assert.Equal(t, RunnersCodeBuild, aws.bootstrap[0].Runners)
	require.Len(t, aws.stacks, 1)
	assert.Equal(t, "203.0.113.7", aws.stacks[0].RunnerEgressIP, "the stack's endpoint admits the runners")
	changes := strings.Join(changeStrings(rep), "\n")
	for _, p := range statebackend.RunnerPools {
		assert.Contains(t, changes, "+ create repository webhook of the "+p.Name+" runner pool: workflow_job to CodeBuild project aiplatform-ci-"+p.Name)
	}
	assert.Contains(t, changes, "+ create repository variable PULUMI_PR_RUNNER: codebuild-aiplatform-ci-pr")
	assert.Contains(t, changes, "+ create repository variable PULUMI_DEPLOY_RUNNER: codebuild-aiplatform-ci-deploy")
	assert.NotContains(t, changes, "s3cr3t", "no secret in the log")
	f.mu.Lock()
	require.Len(t, f.hooks, 2)
	for _, h := range f.hooks {
		assert.True(t, h.Active)
		assert.Equal(t, []string{"workflow_job"}, h.Events)
		assert.Equal(t, "json", h.ContentType)
		assert.Equal(t, "0", h.Insecure)
		assert.Equal(t, "s3cr3t-"+h.URL[strings.Index(h.URL, "t=")+2:strings.Index(h.URL, "&")], h.Secret, "each pool's own secret")
	}
	f.mu.Unlock()
	var ids []ItemID
	for _, it := range rep.Checklist {
		ids = append(ids, it.ID)
		if it.ID == RunnerConnection {
			assert.Contains(t, it.What, "connection status: PENDING")
			assert.Contains(t, it.How, testConnection)
			assert.Contains(t, it.How, "https://console.aws.amazon.com/codesuite/settings/connections?region=us-west-2")
		}
		if it.ID == StackConfig {
			assert.Contains(t, it.How, "setup has set endpointAccess")
		}
	}
	assert.Contains(t, ids, RunnerConnection)
	assert.NotContains(t, ids, RunnerPools, "nothing to register by hand")

	// The preflight accepts the CodeBuild labels.
	f.mu.Lock()
	vars := map[string]string{"GITHUB_ACTIONS": "false"}
	for k, v := range f.vars {
		vars[k] = v
	}
	f.mu.Unlock()
	out, err := preflightScript(t, gh, "check-ci-settings.sh", vars)
	require.NoError(t, err, out)
	assert.Contains(t, out, "PR runner codebuild-aiplatform-ci-pr, deploy runner codebuild-aiplatform-ci-deploy")

	// The handshake done: a second run changes nothing and lists no connection.
	conns[testConnection] = "AVAILABLE"
	f.resetRequests()
	rep, err = run(false)
	require.NoError(t, err)
	assert.Empty(t, rep.Changes)
	assert.Empty(t, f.writes(), "a second run writes nothing")
	for _, it := range rep.Checklist {
		assert.NotEqual(t, RunnerConnection, it.ID)
	}

	// A webhook switched off by hand is switched back on.
	f.mu.Lock()
	for _, h := range f.hooks {
		if strings.Contains(h.URL, "t=deploy") {
			h.Active, h.Events = false, []string{"push"}
		}
	}
	f.mu.Unlock()
	rep, err = run(false)
	require.NoError(t, err)
	assert.Equal(t, []string{"~ update repository webhook of the deploy runner pool: active false, events [push] → active, workflow_job, json"}, changeStrings(rep))
	f.mu.Lock()
	for _, h := range f.hooks {
		assert.True(t, h.Active && h.Events[0] == "workflow_job", h.URL)
	}
	f.mu.Unlock()
}

// A dry run before the bootstrap exists names the webhooks it would add;
// an unreadable connection is listed as not done, with the reason.
func TestCodeBuildRunnersDryRunAndUnreadableConnection(t *testing.T) {
	f, gh := newFakeGitHub(t)
	s := &Setup{GitHub: gh, Config: runnersConfig(), DryRun: true, AWS: &fakeAWS{}, Connections: fakeConnections{}}
	rep, err := s.Run(context.Background())
	require.NoError(t, err)
	assert.Empty(t, f.writes())
	assert.Contains(t, changeStrings(rep), "+ create repository webhook of the deploy runner pool: workflow_job to CodeBuild (the bootstrap's output)")

	s = &Setup{GitHub: gh, Config: runnersConfig(), AWS: &fakeAWS{runners: runnersOutputs()}, Connections: fakeConnections{}}
	rep, err = s.Run(context.Background())
	require.NoError(t, err)
	var found bool
	for _, it := range rep.Checklist {
		if it.ID == RunnerConnection {
			found = true
			assert.Contains(t, it.What, "connection status: could not be read: ResourceNotFoundException")
		}
	}
	assert.True(t, found)

	// A bootstrap that exports no pools (an older stacks/bootstrap) is an error.
	s = &Setup{GitHub: gh, Config: runnersConfig(), AWS: &fakeAWS{}}
	_, err = s.Run(context.Background())
	require.ErrorContains(t, err, "the bootstrap exports no runner pools (runnerEgressIp is empty)")
}

func TestRunnersConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"codebuild", func(*Config) {}, ""},
		{"unknown kind", func(c *Config) { c.Runners = "ec2" }, `-runners: "ec2" is not a runner option: codebuild`},
		{"own deploy label", func(c *Config) { c.DeployRunner = "aiplatform-deploy" }, "-deploy-runner: \"aiplatform-deploy\", but with -runners codebuild the deploy pool's label is codebuild-aiplatform-ci-deploy (its CodeBuild project): leave -deploy-runner out"},
		{"own bootstrap", func(c *Config) { c.BackendURL = testConfig().BackendURL }, "-runners codebuild: the bootstrap creates the runners, and with -backend-url setup does not run it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := runnersConfig()
			tc.edit(&c)
			err := c.WithDefaults().Validate()
			if tc.want == "" {
				require.NoError(t, err)
				assert.Equal(t, "codebuild-aiplatform-ci-pr", c.WithDefaults().PRRunner)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// What the bootstrap exports (statebackend.Deploy) is what setup reads.
func TestRunnerOutputsRead(t *testing.T) {
	outs := auto.OutputMap{
		statebackend.OutputRunnerEgressIP:      {Value: "203.0.113.7"},
		statebackend.OutputRunnerConnectionArn: {Value: testConnection},
		statebackend.OutputRunnerWebhooks: {Value: map[string]any{
			"pr":     map[string]any{"payloadUrl": "https://codebuild.us-west-2.amazonaws.com/webhooks?t=pr&v=1", "secret": "s3cr3t-pr"},
			"deploy": map[string]any{"payloadUrl": "https://codebuild.us-west-2.amazonaws.com/webhooks?t=deploy&v=1", "secret": "s3cr3t-deploy"},
		}, Secret: true},
	}
	assert.Equal(t, runnersOutputs(), runnerOutputs(outs))
	assert.Nil(t, runnerOutputs(auto.OutputMap{}), "no pools without the option")
}
