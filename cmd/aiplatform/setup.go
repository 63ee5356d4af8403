package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"

	"github.com/aiplatform/infra/internal/setup"
)

const setupDoc = `
Does every mechanical step from an empty AWS account and repository to the
first deploy (docs/setup.md): reads the OIDC subject prefix from GitHub; runs
the bootstrap (stacks/bootstrap, Pulumi Automation API: state directory,
bucket, KMS key, CI roles) and creates each stack with the KMS secrets
provider; then, in GitHub: artifact and log retention, workflow permissions,
one protected environment per stack (reviewers, prevent self-review, no
administrator bypass, deployments from main only, AWS_APPLY_ROLE_ARN), the
ruleset on main (reviewed pull requests, required checks), with -runners
codebuild the runner pools' webhooks and, last, the repository variables. It reads the GPU instance quota of each stack's
region with the AWS CLI and lists it when it is below what the stack's GPU
node groups can launch. Idempotent: it reads first and changes only what
differs, so a second run changes nothing and a run after a failure finishes
the job. With -backend-url (and the role flags) the bootstrap is yours and
no AWS step runs.

Input:  -repo (default: the git remote origin), -reviewers, -region;
        a GitHub token of a repository administrator in GH_TOKEN or
        GITHUB_TOKEN, else from "gh auth token" (classic scopes repo and
        read:org, or fine-grained: Administration, Variables, Environments
        write, Actions read, organisation Members read); for the AWS step,
        AWS credentials and the Pulumi CLI.
Output: each change on stdout as it is made ("would …" with -dry-run), the
        OIDC subject prefix, then the checklist of what only you can do,
        each item with its [id], which the pipeline's preflight names when
        it finds the item not done.
Exit:   0 done (or, with -dry-run, the changes printed), 1 a step failed: the
        message says what to do, and running again continues from there,
        2 usage or an invalid flag.`

func init() {
	register("setup", "repository, environments, rules, variables and bootstrap, from nothing, idempotent", runSetup)
}

func runSetup(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("setup", setupDoc, stderr)
	repo := fs.String("repo", "", "owner/name of the GitHub repository (default: from git remote origin)")
	stacks := fs.String("stacks", "dev", "comma-separated stacks, one environment each")
	reviewers := fs.String("reviewers", "", "comma-separated required reviewers of the environments: logins and @org/team slugs (default: keep the environment's)")
	region := fs.String("region", "", "AWS region of the state bucket and the stacks")
	backendURL := fs.String("backend-url", "", "the bootstrap's backendUrl, if you ran it yourself (then no AWS step runs)")
	previewRole := fs.String("preview-role-arn", "", "the bootstrap's previewRoleArn (with -backend-url)")
	applyRole := fs.String("apply-role-arn", "", "the bootstrap's applyRoleArn (with -backend-url)")
	prRunner := fs.String("pr-runner", setup.DefaultPRRunner, "label of the pull-request runner pool (PULUMI_PR_RUNNER)")
	deployRunner := fs.String("deploy-runner", setup.DefaultDeployRunner, "label of the self-hosted deploy runner pool (PULUMI_DEPLOY_RUNNER)")
	retention := fs.Int("retention-days", setup.MinRetentionDays, "artifact and log retention, at least 30 days")
	dryRun := fs.Bool("dry-run", false, "print every change and make none")
	dir := fs.String("dir", ".", "project directory holding Pulumi.yaml and stacks/bootstrap")
	bootstrapStack := fs.String("bootstrap-stack", "aiplatform", "the bootstrap's stack name (one per AWS account)")
	applyPolicies := fs.String("apply-policy-arns", "", "comma-separated IAM policies of the apply role (required for the AWS step; no default)")
	runners := fs.String("runners", "", "codebuild: the bootstrap also creates the pipeline's runner pools, hosted by AWS CodeBuild (docs/pipeline.md#codebuild-hosted-runners); empty: you register your own")
	api := fs.String("github-api", envOr("GITHUB_API_URL", "https://api.github.com"), "GitHub REST API base URL")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	if *repo == "" {
		*repo = repoFromGit(*dir)
	}
	revs, err := setup.ParseReviewers(*reviewers)
	if err != nil {
		fmt.Fprintf(stderr, "aiplatform setup: %v\n", err)
		return exitUsage
	}
	// With -runners the pools' labels are their CodeBuild projects'
	// (Config.WithDefaults): the label flags' defaults do not apply.
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *runners != "" {
		if !set["pr-runner"] {
			*prRunner = ""
		}
		if !set["deploy-runner"] {
			*deployRunner = ""
		}
	}
	cfg := setup.Config{
		Repository: *repo, Stacks: splitList(*stacks), Reviewers: revs, Region: *region,
		BackendURL: *backendURL, PreviewRoleArn: *previewRole, ApplyRoleArn: *applyRole,
		PRRunner: *prRunner, DeployRunner: *deployRunner, RetentionDays: *retention, Runners: *runners,
	}
	if err := cfg.WithDefaults().Validate(); err != nil {
		fmt.Fprintf(stderr, "aiplatform setup: %v\n", err)
		return exitUsage
	}
	token, err := githubToken()
	if err != nil {
		return fail(stderr, "setup", err)
	}
	s := &setup.Setup{
		GitHub: &setup.GitHub{BaseURL: *api, Token: token},
		Config: cfg, DryRun: *dryRun, Log: stdout,
	}
	// The GPU quota is read with the AWS CLI whether or not setup runs the
	// bootstrap: a new account's is often 0 (docs/pipeline-guards.md).
	if s.GPUNeeds, err = gpuQuotaNeeds(*dir, cfg.WithDefaults().Stacks); err != nil {
		return fail(stderr, "setup", err)
	}
	s.Quotas = setup.AWSCLIQuotas{}
	s.Connections = setup.AWSCLIQuotas{}
	if *backendURL == "" {
		s.AWS = &setup.PulumiSteps{ProjectDir: *dir, BootstrapStack: *bootstrapStack, ApplyPolicyArns: splitList(*applyPolicies), Progress: stderr}
	}
	rep, err := s.Run(context.Background())
	if rep != nil {
		printReport(stdout, rep, err == nil)
	}
	if err != nil {
		return fail(stderr, "setup", err)
	}
	return exitOK
}

func printReport(w io.Writer, rep *setup.Report, done bool) {
	n := len(rep.Changes)
	switch {
	case !done:
		fmt.Fprintf(w, "\n%d changes made before the failure; run setup again to continue.\n", n)
		return
	case n == 0:
		fmt.Fprintln(w, "Nothing to change.")
	case rep.DryRun:
		fmt.Fprintf(w, "\n%d changes to make (dry run: none made).\n", n)
	default:
		fmt.Fprintf(w, "\n%d changes made.\n", n)
	}
	fmt.Fprintf(w, "OIDC subject prefix: %s\n", rep.SubjectPrefix)
	// The [id] is what a preflight script names when it finds the item not
	// done (docs/setup.md, "When the pipeline names a checklist item").
	fmt.Fprintln(w, "\nLeft for you (docs/setup.md):")
	for i, it := range rep.Checklist {
		fmt.Fprintf(w, "%d. [%s] %s\n   %s\n", i+1, it.ID, it.What, it.How)
	}
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// githubToken: GH_TOKEN, GITHUB_TOKEN (as gh itself reads them), else the
// token gh is logged in with.
func githubToken() (string, error) {
	for _, n := range []string{"GH_TOKEN", "GITHUB_TOKEN"} {
		if v := os.Getenv(n); v != "" {
			return v, nil
		}
	}
	out, err := exec.Command("gh", "auth", "token").Output()
	if t := strings.TrimSpace(string(out)); err == nil && t != "" {
		return t, nil
	}
	return "", errors.New("no GitHub token: set GH_TOKEN, or log in as a repository administrator with `gh auth login -s repo,read:org`")
}

var remoteRE = regexp.MustCompile(`github\.com[:/]([A-Za-z0-9-]+/[A-Za-z0-9._-]+?)(?:\.git)?/?$`)

// repoFromGit reads owner/name from the origin remote; "" when there is none.
func repoFromGit(dir string) string {
	out, err := exec.Command("git", "-C", dir, "remote", "get-url", "origin").Output()
	if err != nil {
		return ""
	}
	if m := remoteRE.FindStringSubmatch(strings.TrimSpace(string(out))); m != nil {
		return m[1]
	}
	return ""
}
