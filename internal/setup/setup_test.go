package setup

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testConfig() Config {
	return Config{
		Repository: "acme/infra",
		Reviewers:  []Reviewer{{Kind: Team, Org: "acme", Name: "platform-admins"}},
		Region:     "us-west-2",
		BackendURL: "s3://aiplatform-pulumi-state-1a2b3c4?region=us-west-2&awssdk=v2",
		// The bootstrap's role outputs.
		PreviewRoleArn: "arn:aws:iam::123456789012:role/aiplatform-ci-preview",
		ApplyRoleArn:   "arn:aws:iam::123456789012:role/aiplatform-ci-apply",
	}
}

func runSetup(t *testing.T, gh *GitHub, cfg Config, dryRun bool) (*Report, string, error) {
	t.Helper()
	var log bytes.Buffer
	s := &Setup{GitHub: gh, Config: cfg, DryRun: dryRun, Log: &log}
	rep, err := s.Run(context.Background())
	return rep, log.String(), err
}

func changeStrings(r *Report) []string {
	var out []string
	for _, c := range r.Changes {
		out = append(out, c.String())
	}
	return out
}

// assertPreflightAccepts checks the fake's state the way
// .github/scripts/check-environment.sh and check-ci-settings.sh do
// (the scripts themselves run against the fake in TestPreflightScriptsAcceptWhatSetupMade).
func assertPreflightAccepts(t *testing.T, f *fakeGitHub) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.envs["dev"]
	require.NotNil(t, e, "environment dev")
	assert.Equal(t, []reviewerID{{Type: Team, ID: 7}}, e.reviewers)
	assert.True(t, e.preventSelf)
	require.NotNil(t, e.canAdminsBypass)
	assert.False(t, *e.canAdminsBypass)
	assert.Equal(t, &branchPolicySetting{CustomBranchPolicies: true}, e.policy)
	require.Len(t, e.policies, 1)
	assert.Equal(t, "main", e.policies[0].Name)
	assert.Equal(t, "branch", e.policies[0].Type)
	assert.Equal(t, "arn:aws:iam::123456789012:role/aiplatform-ci-apply", e.vars["AWS_APPLY_ROLE_ARN"])
	assert.Equal(t, map[string]string{
		"PULUMI_BACKEND_URL":   "s3://aiplatform-pulumi-state-1a2b3c4?region=us-west-2&awssdk=v2",
		"AWS_REGION":           "us-west-2",
		"AWS_PREVIEW_ROLE_ARN": "arn:aws:iam::123456789012:role/aiplatform-ci-preview",
		"AWS_APPLY_ROLE_ARN":   "arn:aws:iam::123456789012:role/aiplatform-ci-apply",
		"PULUMI_PR_RUNNER":     "aiplatform-pr",
		"PULUMI_DEPLOY_RUNNER": "aiplatform-deploy",
	}, f.vars)
	assert.Equal(t, 30, f.retention)
	assert.Equal(t, "read", f.workflowDefault)
	assert.False(t, f.canApprove)
	require.Len(t, f.rulesets, 1)
	for _, rs := range f.rulesets {
		assert.Equal(t, "active", rs.Enforcement)
		assert.Equal(t, []string{"refs/heads/main"}, rs.Conditions.RefName.Include)
		pr := rs.rule("pull_request")
		require.NotNil(t, pr)
		assert.GreaterOrEqual(t, *pr.RequiredApprovingReviewCount, 1)
		assert.True(t, *pr.DismissStaleReviewsOnPush)
		assert.True(t, *pr.RequireLastPushApproval)
		assert.True(t, *pr.RequireCodeOwnerReview)
		assert.Subset(t, rs.rule("required_status_checks").RequiredStatusChecks, []statusCheck{{"test"}, {"preview (dev)"}})
	}
}

// Issue 22: a first run from nothing makes every setting; a second run
// finds nothing to change and writes nothing.
func TestFirstRunThenNothingToChange(t *testing.T) {
	f, gh := newFakeGitHub(t)
	rep, log, err := runSetup(t, gh, testConfig(), false)
	require.NoError(t, err, f.dump())
	assert.Equal(t, "repo:acme/infra", rep.SubjectPrefix)
	assert.Equal(t, []string{
		"~ update artifact and log retention: 14 → 30 days",
		"~ update workflow permissions: default write → read, can approve pull requests true → false",
		"+ create environment dev: reviewers none → @acme/platform-admins, prevent self-review, can_admins_bypass → false, deployment branches → selected branches",
		"+ create environment dev deployment branch policy branch:main",
		"+ create environment dev variable AWS_APPLY_ROLE_ARN: arn:aws:iam::123456789012:role/aiplatform-ci-apply",
		"+ create ruleset aiplatform: main: on main: a pull request with 1 approval, stale approvals dismissed, the last push approved, code-owner review, checks test, preview (dev)",
		"+ create repository variable PULUMI_BACKEND_URL: s3://aiplatform-pulumi-state-1a2b3c4?region=us-west-2&awssdk=v2",
		"+ create repository variable AWS_REGION: us-west-2",
		"+ create repository variable AWS_PREVIEW_ROLE_ARN: arn:aws:iam::123456789012:role/aiplatform-ci-preview",
		"+ create repository variable AWS_APPLY_ROLE_ARN: arn:aws:iam::123456789012:role/aiplatform-ci-apply",
		"+ create repository variable PULUMI_PR_RUNNER: aiplatform-pr",
		"+ create repository variable PULUMI_DEPLOY_RUNNER: aiplatform-deploy",
	}, changeStrings(rep))
	assert.Contains(t, log, "create ruleset aiplatform: main")
	assertPreflightAccepts(t, f)

	f.resetRequests()
	rep, log, err = runSetup(t, gh, testConfig(), false)
	require.NoError(t, err)
	assert.Empty(t, rep.Changes)
	assert.Empty(t, log)
	assert.Empty(t, f.writes(), "a second run writes nothing")
}

// --dry-run: every change the real run then makes, and no write.
func TestDryRunPrintsEveryChangeAndMakesNone(t *testing.T) {
	f, gh := newFakeGitHub(t)
	dry, log, err := runSetup(t, gh, testConfig(), true)
	require.NoError(t, err)
	assert.Empty(t, f.writes())
	assert.Empty(t, f.envs)
	assert.Contains(t, log, "would create environment dev")

	real, _, err := runSetup(t, gh, testConfig(), false)
	require.NoError(t, err)
	require.NotEmpty(t, real.Changes)
	assert.Equal(t, changeStrings(real), changeStrings(dry))
}

// A run that fails half-way (GitHub answers 502 to the ruleset) leaves
// the environment made; the next run makes only the rest.
func TestRunAfterPartialFailureCompletes(t *testing.T) {
	f, gh := newFakeGitHub(t)
	f.failOnce["POST /repos/acme/infra/rulesets"] = 502
	first, _, err := runSetup(t, gh, testConfig(), false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "POST /repos/acme/infra/rulesets: 502")
	assert.NotEmpty(t, first.Changes)
	assert.Empty(t, f.vars, "the variables, which arm the pipeline, come after the protection")

	second, _, err := runSetup(t, gh, testConfig(), false)
	require.NoError(t, err)
	assert.Equal(t, "+ create ruleset aiplatform: main", strings.SplitN(second.Changes[0].String(), ":", 3)[0]+":"+strings.SplitN(second.Changes[0].String(), ":", 3)[1])
	assert.Len(t, second.Changes, 7, "the ruleset and six variables")
	assertPreflightAccepts(t, f)

	third, _, err := runSetup(t, gh, testConfig(), false)
	require.NoError(t, err)
	assert.Empty(t, third.Changes)
}

// Settings someone made by hand that check-environment.sh refuses are
// corrected; stricter ones are kept.
func TestCorrectsWhatThePreflightRefuses(t *testing.T) {
	f, gh := newFakeGitHub(t)
	f.envs["dev"] = &fakeEnv{
		waitTimer: ptr(5), reviewers: []reviewerID{{Type: Team, ID: 7}}, preventSelf: true, canAdminsBypass: ptr(true),
		policy:   &branchPolicySetting{CustomBranchPolicies: true},
		policies: []fakePolicy{{ID: 1, Name: "main", Type: "tag"}, {ID: 2, Name: "main", Type: "branch"}, {ID: 3, Name: "release/*", Type: "branch"}},
		vars:     map[string]string{"AWS_APPLY_ROLE_ARN": "arn:aws:iam::123456789012:role/old"},
	}
	rs := rulesetBody{Name: RulesetName, Target: "branch", Enforcement: "evaluate", Rules: []rule{
		{Type: "pull_request", Parameters: &ruleParameters{RequiredApprovingReviewCount: ptr(2), DismissStaleReviewsOnPush: ptr(false),
			RequireCodeOwnerReview: ptr(true), RequireLastPushApproval: ptr(false), RequiredReviewThreadResolution: ptr(true)}},
		{Type: "required_status_checks", Parameters: &ruleParameters{StrictRequiredStatusChecksPolicy: ptr(true), RequiredStatusChecks: []statusCheck{{"lint"}}}},
	}}
	rs.Conditions.RefName.Include = []string{"refs/heads/main"}
	f.rulesets[9] = rs
	rep, _, err := runSetup(t, gh, testConfig(), false)
	require.NoError(t, err)
	got := strings.Join(changeStrings(rep), "\n")
	assert.Contains(t, got, "~ update environment dev: can_admins_bypass → false")
	assert.Contains(t, got, "- delete environment dev deployment branch policy tag:main")
	assert.Contains(t, got, "- delete environment dev deployment branch policy branch:release/*")
	assert.Contains(t, got, "~ update environment dev variable AWS_APPLY_ROLE_ARN: arn:aws:iam::123456789012:role/old → arn:aws:iam::123456789012:role/aiplatform-ci-apply")
	assert.Contains(t, got, "~ update ruleset aiplatform: main: enforcement evaluate → active, dismiss stale approvals, approval of the most recent push, required check test, required check preview (dev)")
	assert.Equal(t, ptr(5), f.envs["dev"].waitTimer, "the wait timer survives the PUT")
	pr := f.rulesets[9].rule("pull_request")
	assert.Equal(t, 2, *pr.RequiredApprovingReviewCount, "two approvals stay two")
	assert.True(t, *pr.RequiredReviewThreadResolution)
	assert.Equal(t, []statusCheck{{"test"}, {"preview (dev)"}, {"lint"}}, f.rulesets[9].rule("required_status_checks").RequiredStatusChecks)
	f.envs["dev"].waitTimer = nil
	assertPreflightAccepts(t, f)
}

// Without -reviewers the environment keeps the reviewers it has; with none
// there, the error names the flag.
func TestReviewersKeptOrRequired(t *testing.T) {
	f, gh := newFakeGitHub(t)
	cfg := testConfig()
	cfg.Reviewers = nil
	_, _, err := runSetup(t, gh, cfg, false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-reviewers: empty, and environment dev has no required reviewers")

	f.envs["dev"] = &fakeEnv{reviewers: []reviewerID{{Type: User, ID: 501}}, vars: map[string]string{}}
	_, _, err = runSetup(t, gh, cfg, false)
	require.NoError(t, err)
	assert.Equal(t, []reviewerID{{Type: User, ID: 501}}, f.envs["dev"].reviewers)
}

// Issue 22: a new user's errors say what to do.
func TestErrorsSayWhatToDo(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(f *fakeGitHub, c *Config)
		want  []string
	}{
		{"classic token without read:org, team reviewer", func(f *fakeGitHub, c *Config) { f.scopes = []string{"repo"} },
			[]string{"lacks the scopes read:org", "gh auth refresh -s repo,read:org"}},
		{"classic token without any scope", func(f *fakeGitHub, c *Config) {
			f.scopes = []string{}
			c.Reviewers = []Reviewer{{Kind: User, Name: "alice"}}
		},
			[]string{"lacks the scopes repo (it has: none)"}},
		{"classic token without repo, private repository", func(f *fakeGitHub, c *Config) { f.scopes, f.private = []string{"public_repo"}, true },
			// GitHub hides a private repository from a token without repo.
			[]string{"-repo: acme/infra does not exist or the token cannot see it"}},
		{"fine-grained token without Administration", func(f *fakeGitHub, c *Config) {
			f.scopes = nil
			f.perms = map[string]string{"Actions": "read", "Variables": "write", "Environments": "write", "Members": "read"}
		}, []string{"GET /repos/acme/infra/actions/permissions: 403 Resource not accessible by personal access token", "repository permission Administration: read"}},
		{"fine-grained token with Administration read only", func(f *fakeGitHub, c *Config) {
			f.scopes = nil
			f.perms = map[string]string{"Administration": "read", "Actions": "read", "Variables": "write", "Environments": "write", "Members": "read"}
		}, []string{"403", "repository permission Administration: write"}},
		{"not an administrator", func(f *fakeGitHub, c *Config) { f.admin = false },
			[]string{"not an administrator of acme/infra", "administrator's token"}},
		{"Actions disabled", func(f *fakeGitHub, c *Config) { f.actionsEnabled = false },
			[]string{"GitHub Actions is disabled for acme/infra", "https://github.com/acme/infra/settings/actions", "gh api -X PUT repos/acme/infra/actions/permissions -F enabled=true"}},
		{"organisation overrides the workflow permissions (409)", func(f *fakeGitHub, c *Config) { f.failOnce["PUT /repos/acme/infra/actions/permissions/workflow"] = 409 },
			[]string{"409", "organisation's workflow permissions override the repository's", "an organisation owner sets \"Read repository contents\""}},
		{"Actions endpoints hidden (404)", func(f *fakeGitHub, c *Config) {
			f.failOnce["GET /repos/acme/infra/actions/oidc/customization/sub"] = 404
		},
			[]string{"GitHub Actions is disabled for acme/infra", "404"}},
		{"private repository without GitHub Enterprise", func(f *fakeGitHub, c *Config) { f.private, f.enterprise = true, false },
			[]string{"environment dev: GitHub refused the required reviewers", "billing plan", "need GitHub Enterprise"}},
		{"unknown user", func(f *fakeGitHub, c *Config) { c.Reviewers = []Reviewer{{Kind: User, Name: "bob"}} },
			[]string{"-reviewers: no user bob"}},
		{"team of another organisation", func(f *fakeGitHub, c *Config) { c.Reviewers = []Reviewer{{Kind: Team, Org: "other", Name: "x"}} },
			[]string{"-reviewers: team @other/x belongs to other, not to acme"}},
		{"organisation caps retention below 30 days", func(f *fakeGitHub, c *Config) { f.maxRetention = 7 },
			[]string{"allows at most 7 days", "organisation's Settings → Actions → General"}},
		{"bad token", func(f *fakeGitHub, c *Config) { f.token = "other" },
			[]string{"401 Bad credentials", "gh auth login"}},
		{"bootstrap outputs missing", func(f *fakeGitHub, c *Config) { c.BackendURL, c.ApplyRoleArn = "", "" },
			[]string{"-backend-url, -apply-role-arn: not set"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, gh := newFakeGitHub(t)
			cfg := testConfig()
			tc.setup(f, &cfg)
			_, _, err := runSetup(t, gh, cfg, false)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestSubjectPrefix(t *testing.T) {
	var repo repository
	repo.ID, repo.FullName, repo.Owner.ID, repo.Owner.Login = 456789, "acme/infra", 123456, "acme"
	for _, tc := range []struct {
		name       string
		useDefault bool
		keys       []string
		given      string
		want, err  string
	}{
		{name: "default", useDefault: true, want: "repo:acme/infra"},
		// docs/deploy.md: immutable subjects come as sub_claim_prefix.
		{name: "immutable IDs from the API", useDefault: true, given: "repo:acme@123456/infra@456789", want: "repo:acme@123456/infra@456789"},
		{name: "custom template", keys: []string{"repository_owner_id", "repository_id", "context"}, want: "repository_owner_id:123456:repository_id:456789"},
		{name: "claim setup cannot know", keys: []string{"job_workflow_ref", "context"}, err: `claim "job_workflow_ref"`},
		{name: "no context", keys: []string{"repo"}, err: "no context claim"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := prefixFrom(tc.useDefault, tc.keys, tc.given, repo)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestSubjectPrefixReadFromGitHub(t *testing.T) {
	f, gh := newFakeGitHub(t)
	f.oidc = map[string]any{"use_default": true, "use_immutable_subject": true, "sub_claim_prefix": "repo:acme@123456/infra@456789"}
	rep, _, err := runSetup(t, gh, testConfig(), true)
	require.NoError(t, err)
	assert.Equal(t, "repo:acme@123456/infra@456789", rep.SubjectPrefix)
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"repo", func(c *Config) { c.Repository = "infra" }, `-repo: "infra" is not owner/name`},
		{"github-hosted deploy runner", func(c *Config) { c.DeployRunner = "ubuntu-latest" }, `-deploy-runner: "ubuntu-latest" is GitHub-hosted`},
		{"default label", func(c *Config) { c.PRRunner = "self-hosted" }, `-pr-runner: "self-hosted" is a label every self-hosted runner carries`},
		{"same pool", func(c *Config) { c.PRRunner, c.DeployRunner = "AIPlatform", "aiplatform" }, "-pr-runner, -deploy-runner: both"},
		{"two labels", func(c *Config) { c.DeployRunner = "a,b" }, "is not one runner label"},
		{"retention", func(c *Config) { c.RetentionDays = 7 }, "-retention-days: 7 is outside 30..400"},
		{"backend", func(c *Config) { c.BackendURL = "file://x" }, "-backend-url: \"file://x\" is not an s3:// URL"},
		{"role", func(c *Config) { c.ApplyRoleArn = "apply" }, "-apply-role-arn: \"apply\" is not an IAM role ARN"},
		{"region", func(c *Config) { c.Region = "uswest2" }, "-region: \"uswest2\" is not an AWS region"},
		{"seven reviewers", func(c *Config) { c.Reviewers = make([]Reviewer, 7) }, "at most 6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig()
			tc.edit(&c)
			err := c.WithDefaults().Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	require.NoError(t, testConfig().WithDefaults().Validate())
}

func TestParseReviewers(t *testing.T) {
	got, err := ParseReviewers("@acme/platform-admins, alice")
	require.NoError(t, err)
	assert.Equal(t, []Reviewer{{Kind: Team, Org: "acme", Name: "platform-admins"}, {Kind: User, Name: "alice"}}, got)
	_, err = ParseReviewers("@acme,bad login")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"@acme" is not a team`)
	assert.Contains(t, err.Error(), `"bad login" is not a GitHub login`)
}

// The checklist names each manual action with a command or page.
func TestChecklist(t *testing.T) {
	f, gh := newFakeGitHub(t)
	f.codeownersErrors = []map[string]any{{"line": 10, "kind": "Unknown owner", "message": "Unknown owner on line 10: make sure @aiplatform/platform-admins exists\n\n/.github/ @aiplatform/platform-admins"}}
	// A new account's GPU quota: 0 (TestGPUQuotaShortfallIsAChecklistItem).
	s := &Setup{GitHub: gh, Config: testConfig(),
		GPUNeeds: []GPUQuotaNeed{{Stack: "dev", Region: "us-west-2", Quota: OnDemandGPUQuota, VCPUs: 8}},
		Quotas:   &fakeQuotas{values: map[string]float64{"us-west-2/" + OnDemandGPUQuota.Code: 0}}}
	rep, err := s.Run(context.Background())
	require.NoError(t, err)
	var what []string
	for _, it := range rep.Checklist {
		what = append(what, it.What)
		assert.Regexp(t, `https://github.com/acme/infra|pulumi |git |Pulumi\.<stack>\.yaml|aws service-quotas `, it.How, it.What)
	}
	assert.Contains(t, what[0], "CODEOWNERS")
	assert.Contains(t, what[0], "line 10: Unknown owner on line 10")
	assert.Contains(t, strings.Join(what, "\n"), "runner pools")
	assert.Contains(t, strings.Join(what, "\n"), "second person approves")
	assert.Contains(t, strings.Join(what, "\n"), "approves the deploy")

	// Every item of ItemSpecs, in its order, with its ID, and its title
	// first: the ID and title are what the preflight scripts name.
	// runner-connection is -runners codebuild's alternative to
	// runner-pools (TestCodeBuildRunners).
	var ids, specIDs []ItemID
	for _, it := range rep.Checklist {
		ids = append(ids, it.ID)
		spec, ok := Spec(it.ID)
		require.True(t, ok, it.ID)
		assert.True(t, strings.HasPrefix(it.What, spec.Title), "%s: %q starts with its title", it.ID, it.What)
	}
	for _, s := range ItemSpecs {
		if s.ID != RunnerConnection {
			specIDs = append(specIDs, s.ID)
		}
		assert.Regexp(t, `^[a-z]+(-[a-z]+)*$`, string(s.ID), "an ID is short, lower-case words joined by -")
	}
	assert.Equal(t, specIDs, ids)
	runners, ok := Spec(RunnerPools)
	require.True(t, ok)
	assert.Equal(t, `setup checklist item "runner-pools" (Register the two runner pools) is not done`, runners.NotDone())
	_, ok = Spec("no-such-item")
	assert.False(t, ok)
}
