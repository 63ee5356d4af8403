#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The first check of a deploy and of the nightly drift check, seconds into the
# run: is the setup finished, are the repository variables the Pulumi jobs
# need set, and can pull-request previews and deploys never share a runner.
#
# Setup not finished: when none of the setup variables below is set (a fresh
# repository, or a push before the setup in docs/pipeline-guards.md is done),
# this says "setup not finished" once, as a notice, sets ready=false and exits
# 0; the workflows then skip everything after it instead of failing in each
# job (and the drift check opens no issue). Some set and some not is a broken
# setup: refused, naming every missing variable.
#
# Runners: a job runs on any runner that carries every label of its runs-on
# (GitHub docs, "Choosing the runner for a job"), and every self-hosted runner
# carries the default labels self-hosted, its OS (linux, windows, macos) and
# its architecture (x64, arm, arm64) ("Using labels with self-hosted runners").
# So each pool needs a label of its own, not a default one: with
# PULUMI_PR_RUNNER=self-hosted a pull request's code (which may leave a
# poisoned tool or cache behind) could run on a deploy runner; with
# PULUMI_DEPLOY_RUNNER=self-hosted an approved apply could run on a PR runner.
# Labels compare case-insensitively, as GitHub matches them. The deploy runner
# cannot be GitHub-hosted: the cluster's API endpoint is private, so the first
# apply would build the VPC and the cluster and then fail on the charts.
#
# Environment (GitHub repository variables): PULUMI_BACKEND_URL, AWS_REGION,
#   AWS_PREVIEW_ROLE_ARN, AWS_APPLY_ROLE_ARN, PULUMI_DEPLOY_RUNNER (the setup
#   variables; the runner is one label of the self-hosted deploy pool);
#   PULUMI_PR_RUNNER (one label; empty means GitHub-hosted ubuntu-latest).
# Unsafe runner labels name the checklist item "runner-pools" as aiplatform
# setup prints it (internal/setup/checklist.go, ItemSpecs). Whether the pools
# are registered at all is not visible here: listing runners needs
# Administration: read, which the job token cannot have, and a job whose pool
# has no runner waits for one.
#
# Writes the step output ready=true|false.
# Exit: 0 fine or setup not finished (ready says which), 2 a setting is missing or unsafe.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
guide="docs/pipeline-guards.md"
runner_pools_item='setup checklist item "runner-pools" (Register the two runner pools) is not done'
setup_vars=(PULUMI_BACKEND_URL AWS_REGION AWS_PREVIEW_ROLE_ARN AWS_APPLY_ROLE_ARN PULUMI_DEPLOY_RUNNER)

missing=()
for name in "${setup_vars[@]}"; do
	[[ -n ${!name:-} ]] || missing+=("$name")
done
if [[ ${#missing[@]} -eq ${#setup_vars[@]} ]]; then
	message="none of the repository variables ${setup_vars[*]} is set, so nothing was deployed or checked. Finish the setup ($guide); the next push to main (or Run workflow) deploys."
	if [[ ${GITHUB_ACTIONS:-} == true ]]; then
		echo "::notice title=setup not finished::$message"
	else
		echo "setup not finished: $message"
	fi
	gh_output ready false
	exit 0
fi
if [[ ${#missing[@]} -gt 0 ]]; then
	die 2 "the setup is half done: ${missing[*]} not set (Settings → Secrets and variables → Actions → Variables; $guide lists each)"
fi
require_backend

# is_github_hosted LABEL: a GitHub-hosted runner image label.
is_github_hosted() {
	case ${1,,} in
	ubuntu-* | windows-* | macos-*) return 0 ;;
	esac
	return 1
}
# is_default_label LABEL: a label every self-hosted runner carries.
is_default_label() {
	case ${1,,} in
	self-hosted | linux | windows | macos | x64 | arm | arm64) return 0 ;;
	esac
	return 1
}
# one_label VAR: the variable must hold a single runner label, as runs-on uses it.
one_label() {
	[[ ${!1} =~ ^[A-Za-z0-9._-]+$ ]] ||
		die 2 "$1=${!1} is not one runner label (letters, digits, . _ -): runs-on uses the variable as a single label"
}

pr=${PULUMI_PR_RUNNER:-ubuntu-latest}
deploy=$PULUMI_DEPLOY_RUNNER
PULUMI_PR_RUNNER=$pr
one_label PULUMI_PR_RUNNER
one_label PULUMI_DEPLOY_RUNNER
problems=()
if is_github_hosted "$deploy"; then
	problems+=("PULUMI_DEPLOY_RUNNER=$deploy is GitHub-hosted: it cannot reach the cluster's private API endpoint, so the first apply would create the VPC and the cluster and then fail on the charts. Name the label of your self-hosted deploy pool")
elif is_default_label "$deploy"; then
	problems+=("PULUMI_DEPLOY_RUNNER=$deploy is a label every self-hosted runner carries, the pull-request pool's too: approved applies could run where pull-request code ran. Give the deploy pool a label of its own")
fi
if ! is_github_hosted "$pr" && is_default_label "$pr"; then
	problems+=("PULUMI_PR_RUNNER=$pr is a label every self-hosted runner carries, the deploy pool's too: pull-request code could run on a deploy runner. Give the pull-request pool a label of its own")
fi
if [[ ${pr,,} == "${deploy,,}" ]]; then
	problems+=("PULUMI_PR_RUNNER and PULUMI_DEPLOY_RUNNER are both $deploy (labels match case-insensitively): pull-request code and approved applies would share runners")
fi
if [[ ${#problems[@]} -gt 0 ]]; then
	printf '  - %s\n' "${problems[@]}" >&2
	die 2 "$runner_pools_item: the runner settings are unsafe (${#problems[@]} problems above). Register two pools of ephemeral runners, each with a label of its own ($guide, \"Runners\")."
fi
gh_output ready true
echo "CI settings: backend ${PULUMI_BACKEND_URL%%\?*}, region $AWS_REGION, PR runner $pr, deploy runner $deploy"
