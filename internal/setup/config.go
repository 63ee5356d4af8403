// Package setup does the mechanical part of the setup from an empty AWS
// account and repository (issue 22, docs/setup.md): the GitHub repository's
// variables, environments, rules on main and Actions settings, and (through
// an injectable AWS step) the bootstrap and the stack. Every step reads
// first and changes only what differs, so a second run changes nothing and a
// run after a failure finishes the job; a dry run prints the changes and
// makes none.
package setup

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/aiplatform/infra/stacks/bootstrap/statebackend"
)

// Branch is the only branch that deploys (check-environment.sh's DEPLOY_BRANCH default).
const Branch = "main"

// RulesetName names the repository ruleset setup owns on Branch.
const RulesetName = "aiplatform: main"

// MinRetentionDays: the approved change summary must outlive the 30-day
// approval window (docs/pipeline.md, "What a reviewer approves").
const MinRetentionDays = 30

// Default runner labels, one per pool (docs/pipeline-guards.md, "Runners").
const (
	DefaultPRRunner     = "aiplatform-pr"
	DefaultDeployRunner = "aiplatform-deploy"
)

// ReviewerKind is how GitHub types an environment reviewer.
type ReviewerKind string

const (
	User ReviewerKind = "User"
	Team ReviewerKind = "Team"
)

// Reviewer is a required reviewer of the environments: a user login, or a
// team written as @org/slug (as in CODEOWNERS).
type Reviewer struct {
	Kind ReviewerKind
	Org  string // teams only
	Name string // login or team slug
}

func (r Reviewer) String() string {
	if r.Kind == Team {
		return "@" + r.Org + "/" + r.Name
	}
	return r.Name
}

// Config is what setup makes true. The flag names of cmd/aiplatform setup
// are the keys in error messages.
type Config struct {
	Repository string   // -repo owner/name
	Stacks     []string // -stacks, one environment each
	Reviewers  []Reviewer
	Region     string // -region
	// The bootstrap's outputs: given as flags, or filled by the AWS step.
	BackendURL     string // -backend-url
	PreviewRoleArn string // -preview-role-arn
	ApplyRoleArn   string // -apply-role-arn
	PRRunner       string // -pr-runner
	DeployRunner   string // -deploy-runner
	RetentionDays  int    // -retention-days
	// Runners is -runners: "" registers no runners (you register the two
	// pools), RunnersCodeBuild has the bootstrap create CodeBuild-hosted
	// pools, whose labels are then the pools' variables.
	Runners string
}

// RunnersCodeBuild is -runners codebuild: the bootstrap's runners option
// (statebackend.RunnerOptions, kind codebuild).
const RunnersCodeBuild = string(statebackend.RunnerCodeBuild)

// WithDefaults fills what is unset.
func (c Config) WithDefaults() Config {
	if len(c.Stacks) == 0 {
		c.Stacks = []string{"dev"}
	}
	if c.Runners == RunnersCodeBuild {
		if c.PRRunner == "" {
			c.PRRunner = statebackend.RunnerLabel("pr")
		}
		if c.DeployRunner == "" {
			c.DeployRunner = statebackend.RunnerLabel("deploy")
		}
	}
	if c.PRRunner == "" {
		c.PRRunner = DefaultPRRunner
	}
	if c.DeployRunner == "" {
		c.DeployRunner = DefaultDeployRunner
	}
	if c.RetentionDays == 0 {
		c.RetentionDays = MinRetentionDays
	}
	return c
}

// ParseReviewers reads a comma-separated list of logins and @org/team slugs.
func ParseReviewers(s string) ([]Reviewer, error) {
	var out []Reviewer
	var errs []error
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
		case strings.HasPrefix(f, "@"):
			org, slug, ok := strings.Cut(f[1:], "/")
			if !ok || !loginRE.MatchString(org) || !slugRE.MatchString(slug) {
				errs = append(errs, fmt.Errorf("-reviewers: %q is not a team: write teams as @org/team-slug and users as their login", f))
				continue
			}
			out = append(out, Reviewer{Kind: Team, Org: org, Name: slug})
		default:
			if !loginRE.MatchString(f) {
				errs = append(errs, fmt.Errorf("-reviewers: %q is not a GitHub login: write users as their login and teams as @org/team-slug", f))
				continue
			}
			out = append(out, Reviewer{Kind: User, Name: f})
		}
	}
	return out, errors.Join(errs...)
}

var (
	loginRE  = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)
	slugRE   = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	repoRE   = regexp.MustCompile(`^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$`)
	stackRE  = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)
	roleRE   = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/\S+$`)
	labelRE  = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

// Validate returns every problem at once, each naming its flag, what is
// allowed and how to fix it.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !repoRE.MatchString(c.Repository) {
		add("-repo: %q is not owner/name: pass the repository as GitHub spells it, e.g. -repo acme/infra", c.Repository)
	}
	if len(c.Stacks) == 0 {
		add("-stacks: empty: name at least one stack, e.g. -stacks dev")
	}
	for i, s := range c.Stacks {
		if !stackRE.MatchString(s) {
			add("-stacks[%d]: %q is not a stack name (letters, digits, - _ .)", i, s)
		}
	}
	if len(c.Reviewers) > 6 {
		add("-reviewers: %d reviewers; an environment takes at most 6 users or teams (GitHub REST, \"Create or update an environment\"): name a team instead of its members", len(c.Reviewers))
	}
	if !regionRE.MatchString(c.Region) {
		add("-region: %q is not an AWS region: name the region of the state bucket and the stacks, e.g. -region us-west-2", c.Region)
	}
	if c.BackendURL != "" && !strings.HasPrefix(c.BackendURL, "s3://") {
		add("-backend-url: %q is not an s3:// URL: pass the bootstrap's backendUrl output (pulumi -C stacks/bootstrap stack output backendUrl)", c.BackendURL)
	}
	for _, r := range []struct{ flag, v, output string }{
		{"-preview-role-arn", c.PreviewRoleArn, "previewRoleArn"},
		{"-apply-role-arn", c.ApplyRoleArn, "applyRoleArn"},
	} {
		if r.v != "" && !roleRE.MatchString(r.v) {
			add("%s: %q is not an IAM role ARN (arn:aws:iam::<account>:role/<name>): pass the bootstrap's %s output", r.flag, r.v, r.output)
		}
	}
	// The same rules as .github/scripts/check-ci-settings.sh, so what setup
	// writes passes the preflight.
	for _, r := range []struct{ flag, v string }{{"-pr-runner", c.PRRunner}, {"-deploy-runner", c.DeployRunner}} {
		switch {
		case !labelRE.MatchString(r.v):
			add("%s: %q is not one runner label (letters, digits, . _ -): runs-on uses the variable as a single label", r.flag, r.v)
		case isDefaultLabel(r.v):
			add("%s: %q is a label every self-hosted runner carries, so the two pools could share runners: give the pool a label of its own, e.g. %s", r.flag, r.v, map[string]string{"-pr-runner": DefaultPRRunner, "-deploy-runner": DefaultDeployRunner}[r.flag])
		}
	}
	if isGitHubHosted(c.DeployRunner) {
		add("-deploy-runner: %q is GitHub-hosted and cannot reach the cluster's private API endpoint: name the label of your self-hosted deploy pool, e.g. %s", c.DeployRunner, DefaultDeployRunner)
	}
	if strings.EqualFold(c.PRRunner, c.DeployRunner) {
		add("-pr-runner, -deploy-runner: both %q (labels match case-insensitively): pull-request code and approved applies would share runners; give each pool its own label", c.DeployRunner)
	}
	switch c.Runners {
	case "":
	case RunnersCodeBuild:
		for _, r := range []struct{ flag, v, pool string }{{"-pr-runner", c.PRRunner, "pr"}, {"-deploy-runner", c.DeployRunner, "deploy"}} {
			if want := statebackend.RunnerLabel(r.pool); r.v != want {
				add("%s: %q, but with -runners codebuild the %s pool's label is %s (its CodeBuild project): leave %s out", r.flag, r.v, r.pool, want, r.flag)
			}
		}
		if c.BackendURL != "" {
			add("-runners codebuild: the bootstrap creates the runners, and with -backend-url setup does not run it: leave -backend-url and the role flags out, or set aiplatform-bootstrap:runners in your bootstrap and leave -runners out")
		}
	default:
		add("-runners: %q is not a runner option: codebuild (the bootstrap creates CodeBuild-hosted runner pools, docs/pipeline.md#runners), or leave it out to register your own pools", c.Runners)
	}
	if c.RetentionDays < MinRetentionDays || c.RetentionDays > 400 {
		add("-retention-days: %d is outside %d..400: the approved summary must outlive the %d-day approval window", c.RetentionDays, MinRetentionDays, MinRetentionDays)
	}
	return errors.Join(errs...)
}

func isGitHubHosted(l string) bool {
	l = strings.ToLower(l)
	return strings.HasPrefix(l, "ubuntu-") || strings.HasPrefix(l, "windows-") || strings.HasPrefix(l, "macos-")
}

func isDefaultLabel(l string) bool {
	switch strings.ToLower(l) {
	case "self-hosted", "linux", "windows", "macos", "x64", "arm", "arm64":
		return true
	}
	return false
}

// RequiredChecks are the status checks the ruleset on main requires: the
// pull-request workflow's test job and its preview per stack (job "preview",
// matrix stack, so GitHub names the check "preview (<stack>)").
func (c Config) RequiredChecks() []string {
	out := []string{"test"}
	for _, s := range c.Stacks {
		out = append(out, "preview ("+s+")")
	}
	return out
}
