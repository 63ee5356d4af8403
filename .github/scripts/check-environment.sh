#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2016 # the single-quoted jq programs use jq variables
# Refuses to deploy when the approval can be bypassed (docs/pipeline-guards.md).
# GitHub creates a missing environment on first use, without any protection
# rule, and the apply role trusts every job of that environment; and the code
# the apply runs is whatever reached DEPLOY_BRANCH. Checks, read with the job
# token (actions: read, contents: read, and metadata, which every token has):
#
# The environment (GET /repos/{owner}/{repo}/environments/{name}):
#   - it exists;
#   - it has required reviewers (at least one), with prevent_self_review on;
#   - can_admins_bypass is false: GitHub's default (true) lets administrators
#     deploy without the reviewers;
#   - deployments are limited by a custom deployment-branch policy that
#     allows exactly the branch DEPLOY_BRANCH (GET …/deployment-branch-policies).
#     "Protected branches only" is refused: any other protected branch
#     (release/*, a branch someone protects later) could deploy unreviewed code.
#
# The rules on DEPLOY_BRANCH, from rulesets (GET /repos/{owner}/{repo}/rules/branches/{branch},
# readable with metadata: read) or classic branch protection
# (GET /repos/{owner}/{repo}/branches/{branch}/protection, which needs
# Administration: read, a permission the job token cannot have; read when the
# token can, otherwise reported as unreadable):
#   - a pull request with at least one approving review;
#   - stale approvals dismissed on push;
#   - the most recent push approved by someone other than its pusher;
#   - code-owner review required;
#   - classic protection only: enforced for administrators too.
# And the CODEOWNERS file GitHub uses (.github/, the root, then docs/ of the
# checkout under REPO_ROOT) gives an owner to every path in CODEOWNED_PATHS,
# and GET /repos/{owner}/{repo}/codeowners/errors reports no error in it. A
# missing file or an error GitHub reports names the checklist item
# "codeowners-team" as aiplatform setup prints it (internal/setup/checklist.go,
# ItemSpecs): setup lists it for the same two findings.
#
# Environment: GITHUB_TOKEN, GITHUB_REPOSITORY, ENVIRONMENT (required);
#   GITHUB_API_URL (default https://api.github.com), DEPLOY_BRANCH (default main),
#   REPO_ROOT (default: the current directory),
#   CODEOWNED_PATHS (default: a file of each of .github/**, stacks/**, Pulumi*.yaml, .ci/**).
# Exit: 0 protected, 1 an API call failed, 2 usage, 3 not protected (every
#       missing rule is listed).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/github-api.sh"
require_env GITHUB_TOKEN GITHUB_REPOSITORY ENVIRONMENT
require_tools curl jq
branch=${DEPLOY_BRANCH:-main}
root=${REPO_ROOT:-.}
settings="Settings → Environments → $ENVIRONMENT"
guide="docs/pipeline-guards.md"
codeowners_item='setup checklist item "codeowners-team" (Give CODEOWNERS a team that exists) is not done'
# One file of each tree the apply runs or that decides what it runs.
codeowned=${CODEOWNED_PATHS:-".github/workflows/deploy.yml .github/scripts/pulumi-apply.sh .github/CODEOWNERS stacks/run.go stacks/bootstrap/Pulumi.yaml Pulumi.yaml Pulumi.dev.yaml .ci/run"}
problems=()

# --- the environment -------------------------------------------------------
env_path="/repos/$GITHUB_REPOSITORY/environments/$(jq -rn --arg e "$ENVIRONMENT" '$e | @uri')"
if ! env_json=$(gh_api GET "$env_path" 2>&1); then
	if grep -q '"Not Found"' <<<"$env_json"; then
		die 3 "environment $ENVIRONMENT does not exist. GitHub would create it on first use without reviewers," \
			"and the apply would run unapproved: create it under $settings first ($guide, \"Environment\")."
	fi
	die 1 "cannot read environment $ENVIRONMENT: $env_json"
fi

reviewers=$(jq '[.protection_rules[]? | select(.type == "required_reviewers") | .reviewers[]?] | length' <<<"$env_json")
[[ $reviewers -ge 1 ]] || problems+=("no required reviewers: add at least one under $settings → Required reviewers")
[[ $(jq '[.protection_rules[]? | select(.type == "required_reviewers") | .prevent_self_review] | any' <<<"$env_json") == true ]] ||
	problems+=("self-review is allowed: tick \"Prevent self-review\" so whoever pushed cannot approve their own deploy")
# Absent means GitHub's default, true.
[[ $(jq '.can_admins_bypass' <<<"$env_json") == false ]] ||
	problems+=("administrators can bypass the required reviewers (can_admins_bypass is not false): untick \"Allow administrators to bypass configured protection rules\" under $settings")
policy=$(jq -c '.deployment_branch_policy' <<<"$env_json")
if [[ $policy == null ]]; then
	problems+=("any branch may deploy: set Deployment branches and tags to \"Selected branches and tags\" with only $branch")
elif [[ $(jq -r .custom_branch_policies <<<"$policy") == true ]]; then
	if ! policies=$(gh_api GET "$env_path/deployment-branch-policies?per_page=100" 2>&1); then
		die 1 "cannot read the deployment branch policies of $ENVIRONMENT: $policies"
	fi
	allowed=$(jq -r '[.branch_policies[] | "\(.type // "branch"):\(.name)"] | sort | join(" ")' <<<"$policies")
	total=$(jq '.total_count // (.branch_policies | length)' <<<"$policies")
	[[ $allowed == "branch:$branch" && $total == 1 ]] ||
		problems+=("deployment branch policies allow [$allowed] ($total in all); allow exactly the branch $branch under $settings → Deployment branches and tags")
else
	problems+=("deployments come from \"Protected branches only\": every protected branch may deploy. Choose \"Selected branches and tags\" with only $branch under $settings")
fi

# --- the rules on the branch -------------------------------------------------
# Each requirement is met when a ruleset or the classic protection meets it
# (GitHub enforces both layers).
rules_path="/repos/$GITHUB_REPOSITORY/rules/branches/$(jq -rn --arg b "$branch" '$b | @uri')"
if ! rules=$(gh_api GET "$rules_path?per_page=100" 2>&1); then
	die 1 "cannot read the rules on $branch: $rules"
fi
from_rules=$(jq -c '[.[] | select(.type == "pull_request") | .parameters // {}] |
	{count: (map(.required_approving_review_count // 0) | max // 0),
	 stale: (map(.dismiss_stale_reviews_on_push == true) | any),
	 last_push: (map(.require_last_push_approval == true) | any),
	 code_owners: (map(.require_code_owner_review == true) | any),
	 admins: true}' <<<"$rules")
protection_note=""
if protection=$(gh_api GET "/repos/$GITHUB_REPOSITORY/branches/$(jq -rn --arg b "$branch" '$b | @uri')/protection" 2>&1); then
	from_protection=$(jq -c '(.required_pull_request_reviews // {}) as $r |
		{count: ($r.required_approving_review_count // 0), stale: ($r.dismiss_stale_reviews == true),
		 last_push: ($r.require_last_push_approval == true), code_owners: ($r.require_code_owner_reviews == true),
		 admins: (.enforce_admins.enabled == true), present: ($r != {})}' <<<"$protection")
else
	# 404 "Branch not protected", or 403 for a token without Administration: read.
	from_protection='{"count":0,"stale":false,"last_push":false,"code_owners":false,"admins":true,"present":false}'
	if ! grep -q '"Branch not protected"' <<<"$protection"; then
		protection_note=" (classic branch protection is not readable with this token, so only rulesets count: configure these in a ruleset)"
	fi
fi
rule() { jq -rn --argjson a "$from_rules" --argjson b "$from_protection" "$1"; }
where="a ruleset targeting $branch (Settings → Rules → Rulesets → Require a pull request before merging)$protection_note"
[[ $(rule '[$a.count, $b.count] | max') -ge 1 ]] ||
	problems+=("$branch accepts changes without an approving review: require a pull request with at least 1 approval in $where")
[[ $(rule '$a.stale or $b.stale') == true ]] ||
	problems+=("approvals survive new pushes on $branch: tick \"Dismiss stale pull request approvals when new commits are pushed\" in $where")
[[ $(rule '$a.last_push or $b.last_push') == true ]] ||
	problems+=("the most recent push to a pull request need not be approved: tick \"Require approval of the most recent reviewable push\" in $where")
[[ $(rule '$a.code_owners or $b.code_owners') == true ]] ||
	problems+=("code owners need not review changes to the pipeline and the stacks: tick \"Require review from Code Owners\" in $where")
[[ $(rule '($b.present | not) or $b.admins') == true ]] ||
	problems+=("administrators bypass the branch protection of $branch: tick \"Do not allow bypassing the above settings\" (enforce_admins)")

# --- CODEOWNERS ----------------------------------------------------------------
codeowners=""
for candidate in .github/CODEOWNERS CODEOWNERS docs/CODEOWNERS; do
	if [[ -f $root/$candidate ]]; then
		codeowners=$candidate
		break
	fi
done
if [[ -z $codeowners ]]; then
	problems+=("$codeowners_item: no CODEOWNERS file (.github/CODEOWNERS): code-owner review would require nobody")
else
	# The last matching line decides; a line without owners un-owns its paths
	# (GitHub docs, "About code owners"). Patterns follow .gitignore, except
	# that ! and [ ] are not supported.
	# shellcheck disable=SC2016 # a jq program
	unowned=$(jq -rn --rawfile file "$root/$codeowners" --arg paths "$codeowned" '
		def glob:
			(startswith("/") or (rtrimstr("/") | contains("/"))) as $anchored
			| (endswith("/")) as $dir
			| ltrimstr("/") | rtrimstr("/")
			| gsub("(?<c>[.+^$(){}|\\[\\]\\\\])"; "\\\(.c)")
			| gsub("/\\*\\*/"; "\u0001") | gsub("^\\*\\*/"; "\u0002") | gsub("/\\*\\*$"; "\u0003")
			| gsub("\\*\\*"; "\u0004") | gsub("\\*"; "[^/]*") | gsub("\\?"; "[^/]")
			| gsub("\u0001"; "/(.*/)?") | gsub("\u0002"; "(.*/)?") | gsub("\u0003"; "/.*") | gsub("\u0004"; ".*")
			| (if $anchored then "^" else "^(.*/)?" end) + . + (if $dir then "/.*$" else "(/.*)?$" end);
		[$file | split("\n")[] | sub("^\\s+"; "") | select(length > 0 and (startswith("#") | not))
		 | sub("\\s+#.*$"; "") | [splits("\\s+")] | {re: (.[0] | glob), owners: (.[1:] | map(select(length > 0)))}] as $lines
		| $paths | [splits("\\s+")] | map(select(length > 0)) | .[]
		| . as $p | ([$lines[] | select(.re as $re | $p | test($re))] | last // {owners: []}) as $m
		| select($m.owners | length == 0) | $p')
	if [[ -n $unowned ]]; then
		problems+=("$codeowners gives no owner to: $(tr '\n' ' ' <<<"$unowned")— own /.github/, /stacks/, Pulumi*.yaml and /.ci/ (see $guide)")
	fi
	if errors=$(gh_api GET "/repos/$GITHUB_REPOSITORY/codeowners/errors?ref=$(jq -rn --arg b "$branch" '$b | @uri')" 2>&1); then
		listed=$(jq -r '[.errors[]? | "line \(.line): \(.message // .kind)"] | join("; ")' <<<"$errors")
		[[ -z $listed ]] || problems+=("$codeowners_item: GitHub reports errors in $codeowners on $branch, so those lines own nothing: $listed")
	else
		note "warning: cannot read the CODEOWNERS errors of $branch: $errors"
	fi
fi

if [[ ${#problems[@]} -gt 0 ]]; then
	printf '  - %s\n' "${problems[@]}" >&2
	die 3 "the approval of $ENVIRONMENT can be bypassed (${#problems[@]} problems above; $guide says how to set each)"
fi
echo "environment $ENVIRONMENT: $reviewers required reviewers, self-review prevented, no administrator bypass, deployments from $branch only;" \
	"$branch needs a reviewed pull request (stale approvals dismissed, last push approved, code owners in $codeowners)"
