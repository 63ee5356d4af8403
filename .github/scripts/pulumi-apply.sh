#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Applies a stack after approval, and only what was approved (docs/approvals.md):
#   1. previews again, without a refresh, saving the update plan
#      (`pulumi preview --save-plan`), and refuses (exit 3, nothing applied)
#      when the fresh change summary differs from the approved one in any
#      operation, changed path or value digest (pulumi-summary.sh compare);
#   2. refuses (exit 3, nothing applied) when the state changed while the
#      fresh preview ran (another operation, a refresh);
#   3. runs `pulumi up --plan` with that plan, so the engine refuses any step
#      the plan does not allow (a replacement instead of an update, other
#      inputs) before performing it (pkg/resource/deploy/plan.go), and without
#      a refresh, which would make the update act on what the cloud says now
#      instead of the state the approval was previewed against. Not after a
#      partial preview (the first deploy: no chart renders before the
#      cluster exists): what it did not render has no step in the plan, and
#      pulumi-eks's Cluster, created with outputs unknown at preview, fails
#      its own plan (pulumi/pulumi#13765, reproduced by TestPlatform h); such
#      an update runs without a plan, bound by step 1 and checked by step 4;
#   4. checks what the update did against the approval (exit 5 if it did
#      anything not approved; the report lists it).
# The plan (secrets encrypted by the stack's secrets provider) lives in a
# private temporary directory of this job and is removed when the script
# exits; it also tells which secret stack outputs change (mark-secrets).
#
# Environment:
#   STACK               stack name (required)
#   PULUMI_BACKEND_URL  the DIY backend (required; see pulumi-preflight.sh)
#   APPROVED_SUMMARY    path of the approved summary.json (required)
#   APPROVED_DIGEST     its sha256 as the preview printed it (optional; checked when set)
#   PULUMI_CWD          project directory (default: the current one)
#   OUT_DIR             where files go (default pulumi-out/<stack>)
# Writes to OUT_DIR: fresh-events.jsonl, fresh-summary.json, fresh-summary.md,
# update-events.jsonl, update-report.json ({unapproved, unpreviewed,
# notPerformed}), apply-timing.json (seconds from the start of the fresh
# preview to the start of the update), apply.md.
# Exit: 0 applied (or nothing was approved), 1 pulumi failed (including an
#       update the plan stopped), 2 configuration error, no approved summary
#       or an unreadable one, 3 the fresh preview differs from the approved
#       one or the state changed meanwhile (nothing applied), 4 the approved
#       preview is blocked (nothing applied), 5 the update did something that
#       was not approved (found after the update; the report lists it).
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

private=$(mktemp -d)
chmod 700 "$private"
trap 'rm -rf "$private"' EXIT
plan=$private/plan.json

# state_digest: the SHA-256 of the stack's checkpoint (secrets stay encrypted).
state_digest() {
	pulumi stack export --stack "$STACK" "${cwd[@]}" --file "$private/state.json" >/dev/null ||
		die 1 "pulumi stack export failed"
	sha256 "$private/state.json"
}

state_before=$(state_digest)
preview_start=$(date +%s)
echo "pulumi preview --stack $STACK --refresh=false --save-plan (fresh, to compare with the approved summary)"
run_pulumi_json "$out/fresh-events.jsonl" preview --stack "$STACK" --refresh=false --save-plan "$plan" "${cwd[@]}" ||
	die 1 "pulumi preview failed"
preview_end=$(date +%s)
"$summary" mark-secrets "$out/fresh-events.jsonl" "$plan"
status=0
"$summary" summarize "$STACK" "$out/fresh-events.jsonl" >"$out/fresh-summary.json" || status=$?
# (summarize exits 1 when the preview did not finish, 2 when it cannot read it.)
[[ $status == 0 ]] || die "$((status == 1 ? 1 : 2))" "nothing was applied: cannot summarize the fresh preview (exit $status)"
"$summary" markdown "$out/fresh-summary.json" "$out/fresh-events.jsonl" >"$out/fresh-summary.md" || true
status=0
"$summary" compare "$APPROVED_SUMMARY" "$out/fresh-summary.json" || status=$?
case $status in
0) ;;
3)
	echo "The fresh preview, for comparison with the approved one:"
	cat "$out/fresh-summary.md"
	die 3 "nothing was applied: the stack, its state or the cloud changed after the approval. Re-run the deploy workflow to preview and approve again."
	;;
*) die 2 "nothing was applied: comparing the fresh preview with the approved summary failed (exit $status)" ;;
esac
echo "the fresh preview matches the approved summary"

if [[ $(jq -r .changes "$APPROVED_SUMMARY") != true ]]; then
	echo "the approved summary has no changes: nothing to apply"
	exit 0
fi

state_after=$(state_digest)
[[ $state_after == "$state_before" ]] ||
	die 3 "nothing was applied: the stack's state changed while the fresh preview ran (another pulumi operation or a refresh). Re-run the deploy workflow to preview and approve again."

# --plan: the engine checks every step against the fresh preview's plan.
# --skip-preview: that preview ran above. --refresh=false: the plan was made
# against the state, not a refresh of it. (`up --expect-no-changes` is no
# guard: the CLI checks it only after the update has run,
# pkg/cmd/pulumi/operations/up.go; check-update below reports surprises.)
plan_args=(--plan "$plan")
if [[ $(jq -r '.partial' "$out/fresh-summary.json") == true ]]; then
	plan_args=()
	echo "the preview is partial: updating without --plan, which the first deploy fails (pulumi/pulumi#13765; docs/approvals.md)"
fi
up_start=$(date +%s)
jq -n --argjson previewStart "$preview_start" --argjson previewEnd "$preview_end" --argjson upStart "$up_start" \
	'{previewSeconds: ($previewEnd - $previewStart), gapSeconds: ($upStart - $previewStart)}' >"$out/apply-timing.json"
echo "pulumi up --stack $STACK --refresh=false ${plan_args[*]:+--plan} (the fresh preview began $((up_start - preview_start)) s ago)"
status=0
run_pulumi_json "$out/update-events.jsonl" up --stack "$STACK" --yes --skip-preview --refresh=false "${plan_args[@]}" "${cwd[@]}" || status=$?

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

if [[ $status != 0 ]]; then
	violations=$(jq -R -r 'fromjson? | objects | .diagnosticEvent // empty | select(.severity == "error")
		| .message | select(test("violates plan|not allowed by the plan")) | rtrimstr("\n")' "$out/update-events.jsonl" | head -n 20)
	[[ -z $violations ]] ||
		die 1 "pulumi up stopped: a step differed from the approved plan (the steps before it were applied; see apply.md): $violations"
	die 1 "pulumi up failed (status $status)"
fi
[[ $check == 0 ]] || die 5 "the update performed operations that were not approved; see $out/update-report.json"
echo "applied exactly the approved operations"
