#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Keeps one GitHub issue per stack for drift, labelled drift: opened (or
# commented on, if already open) when the check finds drift or fails, closed
# with a comment when the stack is clean again. A skipped check (a deploy was
# running) changes nothing, and neither does a run before the setup is
# finished (check-ci-settings.sh said "setup not finished"): that says so once
# instead of opening an "error" issue every night.
#
# Environment: GH_TOKEN, GITHUB_REPOSITORY, STACK, RESULT (required);
#   RESULT is clean | drift | error | skipped | unconfigured;
#   REPORT      markdown file with the details (drift.md; optional)
#   RUN_URL     link to the run (optional)
#   TEST_RESULT the test job's result on the same commit (optional; named in the issue when not success)
# Uses the gh CLI (preinstalled on GitHub-hosted runners).
# Exit: 0 done, 1 gh failed, 2 usage.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_env GH_TOKEN GITHUB_REPOSITORY STACK RESULT
if [[ $RESULT == unconfigured ]]; then
	echo "setup not finished: the drift of $STACK was not checked, no issue opened (docs/pipeline-guards.md)"
	exit 0
fi
require_tools gh jq
export GH_REPO=$GITHUB_REPOSITORY
title="Drift in stack $STACK"
run=${RUN_URL:-}

open=$(gh issue list --state open --label drift --limit 100 --json number,title |
	jq -r --arg t "$title" 'map(select(.title == $t)) | first | .number // empty') || die 1 "cannot list drift issues"

body=$(mktemp)
trap 'rm -f "$body"' EXIT
case $RESULT in
drift | error)
	{
		if [[ $RESULT == drift ]]; then
			echo "The nightly drift check found that \`$STACK\` differs from \`main\`${run:+ ($run)}."
		else
			echo "The drift check of \`$STACK\` failed${run:+ ($run)}, so drift is unknown."
		fi
		if [[ -n ${TEST_RESULT:-} && $TEST_RESULT != success ]]; then
			echo
			echo "The tests on the same commit: **$TEST_RESULT**."
		fi
		if [[ -n ${REPORT:-} && -f $REPORT ]]; then
			echo
			head -c 60000 "$REPORT"
		fi
	} >"$body"
	if [[ -n $open ]]; then
		gh issue comment "$open" --body-file "$body" >/dev/null || die 1 "cannot comment on #$open"
		echo "updated drift issue #$open"
	else
		gh label create drift --color B60205 --description "The drift check found the cloud differs from main" --force >/dev/null ||
			die 1 "cannot create the drift label"
		gh issue create --title "$title" --label drift --body-file "$body" || die 1 "cannot open the drift issue"
	fi
	;;
clean)
	if [[ -n $open ]]; then
		echo "The drift check found \`$STACK\` matching \`main\` again${run:+ ($run)}." >"$body"
		gh issue comment "$open" --body-file "$body" >/dev/null || die 1 "cannot comment on #$open"
		gh issue close "$open" --reason completed >/dev/null || die 1 "cannot close #$open"
		echo "closed drift issue #$open"
	else
		echo "no drift, no open issue"
	fi
	;;
skipped) echo "drift check skipped (a deploy was running): issue unchanged" ;;
*) die 2 "RESULT must be clean, drift, error, skipped or unconfigured, got $RESULT" ;;
esac
