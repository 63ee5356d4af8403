#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Refuses to deploy into a GitHub environment that does not protect the apply:
# GitHub creates a missing environment on first use, without any protection
# rule, and the apply role trusts every job of that environment. Checks,
# through GET /repos/{owner}/{repo}/environments/{name} (readable with the
# job token's actions: read):
#   - the environment exists;
#   - it has required reviewers (at least one), with prevent_self_review on;
#   - deployments are limited to DEPLOY_BRANCH: custom branch policies that
#     allow exactly that branch (GET …/deployment-branch-policies), or
#     "protected branches only".
#
# Environment: GITHUB_TOKEN, GITHUB_REPOSITORY, ENVIRONMENT (required);
#   GITHUB_API_URL (default https://api.github.com), DEPLOY_BRANCH (default main).
# Exit: 0 protected, 1 the API call failed, 2 usage, 3 not protected (every
#       missing rule is listed).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/github-api.sh"
require_env GITHUB_TOKEN GITHUB_REPOSITORY ENVIRONMENT
require_tools curl jq
branch=${DEPLOY_BRANCH:-main}
settings="Settings → Environments → $ENVIRONMENT"

env_path="/repos/$GITHUB_REPOSITORY/environments/$(jq -rn --arg e "$ENVIRONMENT" '$e | @uri')"
if ! env_json=$(gh_api GET "$env_path" 2>&1); then
	if grep -q '"Not Found"' <<<"$env_json"; then
		die 3 "environment $ENVIRONMENT does not exist. GitHub would create it on first use without reviewers," \
			"and the apply would run unapproved: create it under $settings first (README \"CI pipeline\", step 3)."
	fi
	die 1 "cannot read environment $ENVIRONMENT: $env_json"
fi

problems=()
reviewers=$(jq '[.protection_rules[]? | select(.type == "required_reviewers") | .reviewers[]?] | length' <<<"$env_json")
[[ $reviewers -ge 1 ]] || problems+=("no required reviewers: add at least one under $settings → Required reviewers")
[[ $(jq '[.protection_rules[]? | select(.type == "required_reviewers") | .prevent_self_review] | any' <<<"$env_json") == true ]] ||
	problems+=("self-review is allowed: tick \"Prevent self-review\" so whoever pushed cannot approve their own deploy")
policy=$(jq -c '.deployment_branch_policy' <<<"$env_json")
if [[ $policy == null ]]; then
	problems+=("any branch may deploy: set Deployment branches and tags to \"Selected branches and tags\" with only $branch")
elif [[ $(jq -r .custom_branch_policies <<<"$policy") == true ]]; then
	if ! policies=$(gh_api GET "$env_path/deployment-branch-policies?per_page=100" 2>&1); then
		die 1 "cannot read the deployment branch policies of $ENVIRONMENT: $policies"
	fi
	allowed=$(jq -r '[.branch_policies[] | "\(.type // "branch"):\(.name)"] | sort | join(" ")' <<<"$policies")
	[[ $allowed == "branch:$branch" ]] ||
		problems+=("deployment branch policies allow [$allowed]; allow exactly the branch $branch")
elif [[ $(jq -r .protected_branches <<<"$policy") == true ]]; then
	note "$ENVIRONMENT deploys from protected branches only; make sure $branch is the only protected branch that may deploy"
fi

if [[ ${#problems[@]} -gt 0 ]]; then
	printf '  - %s\n' "${problems[@]}" >&2
	die 3 "environment $ENVIRONMENT does not protect the apply (${#problems[@]} problems above)"
fi
echo "environment $ENVIRONMENT: $reviewers required reviewers, self-review prevented, deployments from $branch only"
