#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Applies a stack after approval, but only what was approved: previews again,
# refuses if the fresh change summary differs from the approved one (and says
# how), runs `pulumi up`, then checks what the update did against the approval.
#
# Why not `pulumi preview --save-plan` + `pulumi up --plan`: update plans are
# behind a hidden flag and fail on this program's shape: pulumi-eks clusters
# violate their own plan (pulumi/pulumi#13765), and plans with unknown inputs
# are refused or mismatched (pulumi/pulumi#16681, #11587). The summary compares
# what a reviewer can judge: which resource gets which operation on which
# properties, and which stack outputs change.
#
# Environment:
#   STACK               stack name (required)
#   PULUMI_BACKEND_URL  the DIY backend (required; see pulumi-preflight.sh)
#   APPROVED_SUMMARY    path of the approved summary.json (required)
#   APPROVED_DIGEST     its sha256 as the preview printed it (optional; checked when set)
#   PULUMI_CWD          project directory (default: the current one)
#   OUT_DIR             where files go (default pulumi-out/<stack>)
# Writes to OUT_DIR: fresh-events.jsonl, fresh-summary.json, update-events.jsonl,
# update-report.json ({unapproved, unpreviewed, notPerformed}), apply.md.
# Exit: 0 applied (or nothing was approved), 1 pulumi failed, 2 configuration
#       error or no approved summary, 3 the fresh preview differs from the
#       approved one (nothing applied), 4 the approved preview is blocked
#       (nothing applied), 5 the update did something that was not approved
#       (found after the update; the report lists it).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

require_env STACK APPROVED_SUMMARY
require_backend
require_tools pulumi jq
mapfile -t cwd < <(cwd_args)
out=$(out_dir)
summary=$SCRIPTS_DIR/pulumi-summary.sh

[[ -f $APPROVED_SUMMARY ]] ||
	die 2 "the approved summary $APPROVED_SUMMARY is missing. In GitHub Actions it is the preview job's artifact, kept 30 days" \
		"(as long as a deployment may wait for approval): re-run the deploy workflow to preview and approve again."
if [[ -n ${APPROVED_DIGEST:-} && $(sha256 "$APPROVED_SUMMARY") != "$APPROVED_DIGEST" ]]; then
	die 2 "$APPROVED_SUMMARY is not the summary that was approved (sha256 differs from $APPROVED_DIGEST)"
fi
[[ $(jq -r .stack "$APPROVED_SUMMARY") == "$STACK" ]] ||
	die 2 "$APPROVED_SUMMARY was made for stack $(jq -r .stack "$APPROVED_SUMMARY"), not $STACK"
[[ $(jq '.blocked | length' "$APPROVED_SUMMARY") == 0 ]] ||
	die 4 "the approved preview is blocked: $(jq -r '.blocked | join(" ")' "$APPROVED_SUMMARY")"

echo "pulumi preview --stack $STACK (fresh, to compare with the approved summary)"
run_pulumi_json "$out/fresh-events.jsonl" preview --stack "$STACK" "${cwd[@]}" || die 1 "pulumi preview failed"
"$summary" summarize "$STACK" "$out/fresh-events.jsonl" >"$out/fresh-summary.json"
if ! "$summary" compare "$APPROVED_SUMMARY" "$out/fresh-summary.json"; then
	die 3 "nothing was applied: the stack, its state or the cloud changed after the approval. Re-run the deploy workflow to preview and approve again."
fi
echo "the fresh preview matches the approved summary"

if [[ $(jq -r .changes "$APPROVED_SUMMARY") != true ]]; then
	echo "the approved summary has no changes: nothing to apply"
	exit 0
fi

# --skip-preview: the preview that matters ran above. (`up --expect-no-changes`
# is no guard: the CLI checks it only after the update has run,
# pkg/cmd/pulumi/operations/up.go; check-update below reports such surprises.)
echo "pulumi up --stack $STACK"
status=0
run_pulumi_json "$out/update-events.jsonl" up --stack "$STACK" --yes --skip-preview "${cwd[@]}" || status=$?

check=0
"$summary" check-update "$APPROVED_SUMMARY" "$out/update-events.jsonl" >"$out/update-report.json" || check=$?
{
	echo "### Apply of \`$STACK\`"
	jq -r '
		(if (.unapproved | length) > 0 then "**Not approved, performed anyway** (the preview did not predict these):", (.unapproved[] | "- \(.op) \(.urn)"), "" else empty end),
		(if (.unpreviewed | length) > 0 then "**Created under components the preview could not render** (partial preview):", (.unpreviewed[] | "- \(.op) \(.urn)"), "" else empty end),
		(if (.notPerformed | length) > 0 then "Approved but not needed in the end:", (.notPerformed[] | "- \(.op) \(.urn)"), "" else empty end)' "$out/update-report.json"
} >"$out/apply.md"
cat "$out/apply.md"
step_summary "$out/apply.md"

[[ $status == 0 ]] || die 1 "pulumi up failed (status $status)"
[[ $check == 0 ]] || die 5 "the update performed operations that were not approved; see $out/update-report.json"
echo "applied exactly the approved operations"
