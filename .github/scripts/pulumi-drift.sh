#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Drift check: a preview with refresh, compared with the cloud. A preview's
# refresh stays in memory: the state is not written. Drift is any resource
# operation or stack output change the program would make afterwards (the same
# summary the deploy approves), so properties the program ignores (e.g. a
# node group's desiredSize, owned by the autoscaler) are not drift.
#
# Environment:
#   STACK               stack name (required)
#   PULUMI_BACKEND_URL  the DIY backend (required; see pulumi-preflight.sh)
#   PULUMI_CWD          project directory (default: the current one)
#   OUT_DIR             where files go (default pulumi-out/<stack>)
# Writes to OUT_DIR: drift-events.jsonl, drift-summary.json, drift.md and
# drift-result (clean | drift | error); in GitHub Actions also the step output
# result and drift.md in the job summary.
# Exit: 0 clean, 1 the check failed, 2 configuration error, 3 drift.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

require_env STACK
require_backend
require_tools pulumi jq
mapfile -t cwd < <(cwd_args)
out=$(out_dir)
echo error >"$out/drift-result"
gh_output result error

echo "pulumi preview --refresh --stack $STACK"
if ! run_pulumi_json "$out/drift-events.jsonl" preview --refresh --stack "$STACK" "${cwd[@]}"; then
	{
		echo "### \`$STACK\`: the drift check failed"
		jq -R -r 'fromjson? | .diagnosticEvent // empty | select(.severity == "error") | "- \(.message | rtrimstr("\n"))"' "$out/drift-events.jsonl" | head -n 50
	} >"$out/drift.md"
	step_summary "$out/drift.md"
	die 1 "pulumi preview --refresh failed"
fi
"$SCRIPTS_DIR/pulumi-summary.sh" summarize "$STACK" "$out/drift-events.jsonl" >"$out/drift-summary.json"
if [[ $(jq -r .changes "$out/drift-summary.json") == true ]]; then
	"$SCRIPTS_DIR/pulumi-summary.sh" markdown "$out/drift-summary.json" "$out/drift-events.jsonl" |
		sed "1s/.*/### \`$STACK\` has drifted: what \`pulumi up\` would change to restore main/" >"$out/drift.md"
	result=drift
else
	echo "### \`$STACK\`: no drift" >"$out/drift.md"
	result=clean
fi
echo "$result" >"$out/drift-result"
gh_output result "$result"
cat "$out/drift.md"
step_summary "$out/drift.md"
[[ $result == clean ]] || exit 3
