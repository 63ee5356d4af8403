package statebackend

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

// Namespace is the bootstrap project's name and the namespace of its config keys.
const Namespace = "aiplatform-bootstrap"

// DefaultKeyAlias names the KMS key that is both the state bucket's key and
// the awskms:// secrets provider of every stack of the main project.
const DefaultKeyAlias = "alias/aiplatform-pulumi-secrets"

// ReadOnlyAccess is the AWS managed policy CI previews get by default: a
// preview (and the drift check's refresh) reads every managed resource.
const ReadOnlyAccess = "arn:aws:iam::aws:policy/ReadOnlyAccess"

// Args configures the state backend.
type Args struct {
	// Region is the bucket's and key's region (aws:region).
	Region string
	// KeyAlias is the full alias name, "alias/...".
	KeyAlias string
	// NoncurrentVersionDays keeps overwritten checkpoints this long (default 90).
	NoncurrentVersionDays int
	// CI, when set, creates the GitHub Actions OIDC roles; nil creates none.
	CI *GitHubCI
	// Runners, when set, creates the pipeline's runner pools (they need CI:
	// the repository whose jobs they run).
	Runners *RunnerOptions
	Tags    map[string]string
}

// GitHubCI describes the repository whose workflows deploy the main project.
// Two roles keep the blast radius small: pull requests and the main branch get
// a read-only preview role; only jobs that passed a protected environment's
// approval can assume the apply role.
type GitHubCI struct {
	// Repository is "owner/name", spelt as GitHub spells it: the trust
	// policy compares the OIDC subject case-sensitively.
	Repository string `json:"repository"`
	// SubjectPrefix is the part of the OIDC `sub` claim before the job's
	// context (":pull_request", ":ref:refs/heads/main", ":environment:dev").
	// Default "repo:<repository>", GitHub's original format. Repositories
	// created, renamed or transferred after 2026-06-18, those that opted in,
	// and organisations with a custom subject template get another prefix,
	// e.g. "repo:octo-org@123456/infra@456789"; read it before bootstrapping
	// with `gh api repos/OWNER/REPO/actions/oidc/customization/sub --jq
	// .sub_claim_prefix` (docs/pipeline.md). Source: GitHub changelog
	// 2026-04-23 "Immutable subject claims for GitHub Actions OIDC tokens".
	SubjectPrefix string `json:"subjectPrefix,omitempty"`
	// OIDCProviderArn reuses the account's existing GitHub OIDC provider (an
	// account holds one per URL); empty creates it.
	OIDCProviderArn string `json:"oidcProviderArn,omitempty"`
	// Branch is the deploy branch (default "main").
	Branch string `json:"branch,omitempty"`
	// Environments are the protected GitHub environments whose jobs may assume
	// the apply role, one per stack (default ["dev"]).
	Environments []string `json:"environments,omitempty"`
	// PreviewPolicyArns are attached to the preview role (default ReadOnlyAccess).
	PreviewPolicyArns []string `json:"previewPolicyArns,omitempty"`
	// ApplyPolicyArns are attached to the apply role. Required: what a deploy
	// may change is a decision for the account owner, not a default.
	ApplyPolicyArns []string `json:"applyPolicyArns"`
}

func (a Args) withDefaults() Args {
	if a.KeyAlias == "" {
		a.KeyAlias = DefaultKeyAlias
	}
	if a.NoncurrentVersionDays == 0 {
		a.NoncurrentVersionDays = 90
	}
	if a.CI != nil {
		ci := *a.CI
		if ci.Branch == "" {
			ci.Branch = "main"
		}
		if ci.SubjectPrefix == "" {
			ci.SubjectPrefix = "repo:" + ci.Repository
		}
		if len(ci.Environments) == 0 {
			ci.Environments = []string{"dev"}
		}
		if len(ci.PreviewPolicyArns) == 0 {
			ci.PreviewPolicyArns = []string{ReadOnlyAccess}
		}
		a.CI = &ci
	}
	if a.Runners != nil {
		r := a.Runners.withDefaults()
		a.Runners = &r
	}
	tags := map[string]string{"managed-by": "pulumi", "purpose": "pulumi-state"}
	for k, v := range a.Tags {
		tags[k] = v
	}
	a.Tags = tags
	return a
}

var (
	regionPattern    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)
	aliasPattern     = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]{1,250}$`)
	repoPattern      = regexp.MustCompile(`^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$`)
	envPattern       = regexp.MustCompile(`^[A-Za-z0-9._-]{1,255}$`)
	policyArnPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(aws|\d{12}):policy/.+$`)
)

// Validate reports every bad value at once, with its config path.
func (a Args) Validate() error {
	var errs []error
	if !regionPattern.MatchString(a.Region) {
		errs = append(errs, fmt.Errorf("aws:region: %q is not an AWS region (set it with `pulumi config set aws:region ...`)", a.Region))
	}
	if !aliasPattern.MatchString(a.KeyAlias) || strings.HasPrefix(a.KeyAlias, "alias/aws/") {
		errs = append(errs, fmt.Errorf("keyAlias: %q must be alias/<name> and not in the reserved alias/aws/ namespace", a.KeyAlias))
	}
	if a.NoncurrentVersionDays < 1 {
		errs = append(errs, fmt.Errorf("noncurrentVersionDays: must be >= 1, got %d", a.NoncurrentVersionDays))
	}
	if a.CI != nil {
		errs = append(errs, a.CI.validate("github")...)
	}
	if a.Runners != nil {
		errs = append(errs, a.Runners.validate("runners")...)
		if a.CI == nil {
			errs = append(errs, errors.New("runners: needs the github key: the runner pools run the jobs of the repository it names (github.repository)"))
		}
	}
	return errors.Join(errs...)
}

func (ci GitHubCI) validate(path string) []error {
	var errs []error
	if !repoPattern.MatchString(ci.Repository) {
		errs = append(errs, fmt.Errorf("%s.repository: %q must be owner/name", path, ci.Repository))
	} else if err := validateSubjectPrefix(ci.SubjectPrefix, ci.Repository); err != nil {
		errs = append(errs, fmt.Errorf("%s.subjectPrefix: %w", path, err))
	}
	if ci.OIDCProviderArn != "" && !strings.HasSuffix(ci.OIDCProviderArn, ":oidc-provider/"+githubOIDCHost) {
		errs = append(errs, fmt.Errorf("%s.oidcProviderArn: %q is not the GitHub Actions OIDC provider", path, ci.OIDCProviderArn))
	}
	// Wildcards would widen the trust policy's exact subject match.
	if strings.ContainsAny(ci.Branch, "*?:") || ci.Branch == "" {
		errs = append(errs, fmt.Errorf("%s.branch: %q must be a branch name without wildcards", path, ci.Branch))
	}
	for i, env := range ci.Environments {
		if !envPattern.MatchString(env) {
			errs = append(errs, fmt.Errorf("%s.environments[%d]: %q is not a GitHub environment name", path, i, env))
		}
	}
	if len(ci.ApplyPolicyArns) == 0 {
		errs = append(errs, fmt.Errorf("%s.applyPolicyArns: required: name the policies a deploy may use", path))
	}
	for field, arns := range map[string][]string{"previewPolicyArns": ci.PreviewPolicyArns, "applyPolicyArns": ci.ApplyPolicyArns} {
		for i, arn := range arns {
			if !policyArnPattern.MatchString(arn) {
				errs = append(errs, fmt.Errorf("%s.%s[%d]: %q is not an IAM policy ARN", path, field, i, arn))
			}
		}
	}
	return errs
}

// repoIDSuffix is the immutable ID GitHub appends to an owner or repository
// name in the subject: "@123456" as tokens carry it, "-123456" as the
// changelog's example (repo:octocat-123456/my-repo-456789) spells it.
var (
	repoIDSuffix = regexp.MustCompile(`^[@-]\d+$`)
	numericID    = regexp.MustCompile(`^\d+$`)
)

// subjectPrefixClaims are the claims a custom subject template may put before
// the context. Only claims that are the same for every job of the repository
// qualify: a prefix holding workflow, ref or environment would match some of
// the pipeline's jobs and not others. Source: GitHub docs, "OpenID Connect
// reference", customizing the subject claims (include_claim_keys).
var subjectPrefixClaims = map[string]bool{
	"repo": true, "repository": true, "repository_id": true,
	"repository_owner": true, "repository_owner_id": true, "repository_visibility": true,
}

// validateSubjectPrefix checks that prefix is a sequence of claim:value pairs
// without wildcards or a job context, and that it names repository (by name,
// by name with immutable IDs, or by repository_id).
func validateSubjectPrefix(prefix, repository string) error {
	if prefix == "" || strings.ContainsAny(prefix, "*? \t\n") {
		return fmt.Errorf("%q must be the exact prefix GitHub issues, without wildcards or spaces", prefix)
	}
	parts := strings.Split(prefix, ":")
	if len(parts)%2 != 0 {
		return fmt.Errorf("%q must be claim:value pairs, e.g. repo:%s, without the job context", prefix, repository)
	}
	owner, name, _ := strings.Cut(repository, "/")
	names := false
	for i := 0; i < len(parts); i += 2 {
		claim, value := parts[i], parts[i+1]
		if !subjectPrefixClaims[claim] || value == "" {
			return fmt.Errorf("%q: claim %q cannot be part of the prefix; the prefix ends where the context (pull_request, ref, environment) begins", prefix, claim)
		}
		switch claim {
		case "repo":
			o, n, ok := strings.Cut(value, "/")
			if !ok || !hasIDSuffix(o, owner) || !hasIDSuffix(n, name) {
				return fmt.Errorf("%q: repo:%s is not repository %s (names compare case-sensitively, as IAM does)", prefix, value, repository)
			}
			names = true
		case "repository":
			names = names || value == repository
		case "repository_id":
			names = names || numericID.MatchString(value)
		}
	}
	if !names {
		return fmt.Errorf("%q names neither repository %s nor a repository_id", prefix, repository)
	}
	return nil
}

// hasIDSuffix: got is want, or want followed by an immutable ID.
func hasIDSuffix(got, want string) bool {
	rest, ok := strings.CutPrefix(got, want)
	return ok && (rest == "" || repoIDSuffix.MatchString(rest))
}

// ParseConfig reads raw config values (keys without the namespace; objects as
// JSON), fills defaults and validates. get is config.Try in a program and a
// map in tests.
func ParseConfig(region string, get func(key string) (string, bool)) (Args, error) {
	a := Args{Region: strings.TrimSpace(region)}
	var errs []error
	if v, ok := get("keyAlias"); ok {
		a.KeyAlias = strings.TrimSpace(v)
	}
	if v, ok := get("noncurrentVersionDays"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:noncurrentVersionDays: %q is not a whole number", Namespace, v))
		}
		a.NoncurrentVersionDays = n
	}
	if v, ok := get("tags"); ok {
		if err := decodeStrict(v, &a.Tags); err != nil {
			errs = append(errs, fmt.Errorf("%s:tags: %w", Namespace, err))
		}
	}
	if v, ok := get("github"); ok {
		var ci GitHubCI
		if err := decodeStrict(v, &ci); err != nil {
			errs = append(errs, fmt.Errorf("%s:github: %w", Namespace, err))
		} else {
			a.CI = &ci
		}
	}
	if v, ok := get("runners"); ok {
		var r RunnerOptions
		if err := decodeStrict(v, &r); err != nil {
			errs = append(errs, fmt.Errorf("%s:runners: %w", Namespace, err))
		} else {
			a.Runners = &r
		}
	}
	if len(errs) > 0 {
		return Args{}, errors.Join(errs...)
	}
	a = a.withDefaults()
	if err := a.Validate(); err != nil {
		return Args{}, err
	}
	return a, nil
}

// decodeStrict rejects unknown fields so a misspelt setting is an error.
func decodeStrict(s string, into any) error {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return fmt.Errorf("cannot parse: %w", err)
	}
	if dec.More() {
		return errors.New("unexpected data after the value")
	}
	return nil
}

// LoadConfig reads the stack's config once.
func LoadConfig(ctx *pulumi.Context) (Args, error) {
	return ParseConfig(config.Get(ctx, "aws:region"), func(key string) (string, bool) {
		v, err := config.Try(ctx, Namespace+":"+key)
		return v, err == nil
	})
}
