#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Tells the drift check to yield while a deploy of the branch is queued,
# waiting for approval or running: a refresh-preview next to an apply reports
# the half-applied stack as drift. Drift has its own concurrency group, so it
# never displaces (cancels) a pending deploy job the way a shared group does.
#
# Environment: GITHUB_TOKEN, GITHUB_REPOSITORY (required); GITHUB_API_URL;
#   DEPLOY_WORKFLOW (default deploy.yml); DEPLOY_BRANCH (default main).
# Prints busy=true|false (also as the step output busy). An API error counts
# as not busy, with a warning: a false drift alarm beats a silent skip.
# Exit: 0, or 2 on usage errors.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/github-api.sh"
require_env GITHUB_TOKEN GITHUB_REPOSITORY
require_tools curl jq
workflow=${DEPLOY_WORKFLOW:-deploy.yml}
branch=${DEPLOY_BRANCH:-main}

busy=false
if runs=$(gh_api GET "/repos/$GITHUB_REPOSITORY/actions/workflows/$workflow/runs?branch=$branch&per_page=30" 2>&1); then
	active=$(jq -r '[.workflow_runs[] | select(.status != "completed") | "\(.html_url) (\(.status))"] | join(", ")' <<<"$runs")
	if [[ -n $active ]]; then
		busy=true
		echo "a deploy is not finished yet: $active"
	fi
else
	note "warning: cannot list $workflow runs, checking drift anyway: $runs"
fi
echo "busy=$busy"
gh_output busy "$busy"
