#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Previews a stack and writes the change summary a reviewer approves.
#
# Environment:
#   STACK               stack name (required)
#   PULUMI_BACKEND_URL  the DIY backend (required; see pulumi-preflight.sh)
#   PULUMI_CWD          project directory (default: the current one)
#   OUT_DIR             where files go (default pulumi-out/<stack>)
# Writes to OUT_DIR:
#   preview-events.jsonl   the engine events of `pulumi preview --json`,
#                          each secret stack output marked changed or not
#                          from the preview's plan (pulumi-summary.sh
#                          mark-secrets; the plan is then removed)
#   summary.json           the change summary (format: pulumi-summary.sh)
#   summary.sha256         its digest
#   summary.md             the reviewer's view: operations, old → new of
#                          every changed path (secrets masked), output
#                          changes, partial/blocked notes, the digest
# In GitHub Actions also: step outputs changes, partial, blocked (true|false),
# digest; summary.md in the job summary.
# Exit: 0 previewed (with or without changes), 1 pulumi preview failed,
#       2 configuration error, 4 blocked (apply would refuse this preview).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

require_env STACK
require_backend
require_tools pulumi jq
mapfile -t cwd < <(cwd_args)
out=$(out_dir)

# The plan only tells which secret outputs change; it stays in this job.
private=$(mktemp -d)
chmod 700 "$private"
trap 'rm -rf "$private"' EXIT

echo "pulumi preview --stack $STACK --refresh=false"
run_pulumi_json "$out/preview-events.jsonl" preview --stack "$STACK" --refresh=false --save-plan "$private/plan.json" "${cwd[@]}" ||
	die 1 "pulumi preview failed (the events are in $out/preview-events.jsonl)"
"$SCRIPTS_DIR/pulumi-summary.sh" mark-secrets "$out/preview-events.jsonl" "$private/plan.json"

"$SCRIPTS_DIR/pulumi-summary.sh" summarize "$STACK" "$out/preview-events.jsonl" >"$out/summary.json"
digest=$(sha256 "$out/summary.json")
echo "$digest" >"$out/summary.sha256"
"$SCRIPTS_DIR/pulumi-summary.sh" markdown "$out/summary.json" "$out/preview-events.jsonl" "$digest" >"$out/summary.md"
cat "$out/summary.md"
step_summary "$out/summary.md"

gh_output changes "$(jq -r .changes "$out/summary.json")"
gh_output partial "$(jq -r .partial "$out/summary.json")"
gh_output digest "$digest"
if [[ $(jq '.blocked | length' "$out/summary.json") != 0 ]]; then
	gh_output blocked true
	die 4 "this preview cannot be approved: $(jq -r '.blocked | join(" ")' "$out/summary.json")"
fi
gh_output blocked false
