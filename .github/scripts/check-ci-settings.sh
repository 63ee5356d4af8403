#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The deploy's first check, seconds into the run: the repository variables the
# Pulumi jobs need are set, and pull-request previews and deploys do not share
# self-hosted runners.
#
# Why separate runners: a pull request's preview runs the branch's code; on a
# persistent self-hosted runner that code could leave something behind (a
# modified tool, a poisoned cache, a process) for the next job, which may be
# an approved apply holding the apply role. GitHub-hosted runners are a fresh
# VM per job; self-hosted ones should be ephemeral (`config.sh --ephemeral`)
# and, for the two kinds of job, different pools with different labels.
#
# Environment (GitHub repository variables): PULUMI_BACKEND_URL, AWS_REGION,
#   AWS_PREVIEW_ROLE_ARN (required); PULUMI_PR_RUNNER, PULUMI_DEPLOY_RUNNER
#   (runner labels; empty means GitHub-hosted ubuntu-latest).
# Exit: 0 fine, 2 a setting is missing or unsafe.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_backend
require_env AWS_REGION AWS_PREVIEW_ROLE_ARN
pr=${PULUMI_PR_RUNNER:-ubuntu-latest}
deploy=${PULUMI_DEPLOY_RUNNER:-ubuntu-latest}
case $deploy in
ubuntu-* | windows-* | macos-*) ;; # GitHub-hosted: a fresh VM for every job
*)
	[[ $pr != "$deploy" ]] ||
		die 2 "PULUMI_PR_RUNNER and PULUMI_DEPLOY_RUNNER are both $deploy: pull-request code and approved applies would share runners." \
			"Register two pools of ephemeral runners with different labels (README \"CI pipeline\", runners)."
	;;
esac
echo "CI settings: backend ${PULUMI_BACKEND_URL%%\?*}, region $AWS_REGION, PR runner $pr, deploy runner $deploy"
