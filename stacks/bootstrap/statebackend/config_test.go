package statebackend

import (
	"strings"
	"testing"
)

// The subject prefix is compared with StringEquals by IAM, so the checks are
// exact: case, immutable-ID suffixes and claim names. Formats: GitHub
// changelog 2026-04-23 "Immutable subject claims for GitHub Actions OIDC
// tokens" (example repo:octocat-123456/my-repo-456789) and the
// sub_claim_prefix that GET /repos/{owner}/{repo}/actions/oidc/customization/sub
// returns (repo:owner@<owner id>/repo@<repo id>).
func TestValidateSubjectPrefix(t *testing.T) {
	cases := []struct {
		prefix string
		want   string // substring of the error; empty means valid
	}{
		{"repo:acme/infra", ""},
		{"repo:acme@42/infra@4242", ""},
		{"repo:acme-42/infra-4242", ""},
		{"repository_owner_id:42:repository_id:4242", ""},
		{"repository:acme/infra:repository_visibility:private", ""},
		{"repo:acme/infra-x", "is not repository"},
		{"repo:acme-org/infra", "is not repository"},
		{"repo:ACME/infra", "case-sensitively"},
		{"repo:acme/*", "wildcards"},
		{"repo:acme/infra:", "claim:value pairs"},
		{"repo:acme/infra:ref:refs/heads/main", `claim "ref"`},
		{"repo:acme/infra:job_workflow_ref:acme/infra/.github/workflows/x.yml@refs/heads/main", `claim "job_workflow_ref"`},
		{"repository_owner:acme", "names neither"},
		{"", "exact prefix"},
	}
	for _, c := range cases {
		err := validateSubjectPrefix(c.prefix, "acme/infra")
		if c.want == "" {
			if err != nil {
				t.Errorf("%q: unexpected error %v", c.prefix, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one containing %q", c.prefix, err, c.want)
		}
	}
}

func TestSubjectsUseThePrefix(t *testing.T) {
	ci := GitHubCI{Repository: "acme/infra", SubjectPrefix: "repo:acme@42/infra@4242", Branch: "main", Environments: []string{"dev"}}
	if got := ci.PreviewSubjects(); got[0] != "repo:acme@42/infra@4242:pull_request" || got[1] != "repo:acme@42/infra@4242:ref:refs/heads/main" {
		t.Errorf("preview subjects %v", got)
	}
	if got := ci.ApplySubjects(); got[0] != "repo:acme@42/infra@4242:environment:dev" {
		t.Errorf("apply subjects %v", got)
	}
	if got := (GitHubCI{Repository: "acme/infra", Environments: []string{"dev"}}).ApplySubjects(); got[0] != "repo:acme/infra:environment:dev" {
		t.Errorf("default prefix: %v", got)
	}
}
