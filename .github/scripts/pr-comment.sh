#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Posts BODY_FILE as a pull-request comment, or edits the earlier comment
# that carries MARKER, so each stack has one preview comment per PR.
#
# Environment: GITHUB_TOKEN, GITHUB_REPOSITORY, PR_NUMBER, BODY_FILE, MARKER
#   (required); GITHUB_API_URL; RUN_URL (linked when the body is cut short).
# Exit: 0 posted, 1 API error, 2 usage.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/github-api.sh"
require_env GITHUB_TOKEN GITHUB_REPOSITORY PR_NUMBER BODY_FILE MARKER
require_tools curl jq
[[ -f $BODY_FILE ]] || die 2 "BODY_FILE $BODY_FILE not found"

# GitHub rejects comments over 65536 characters.
payload=$(mktemp)
trap 'rm -f "$payload"' EXIT
jq -Rs --arg marker "<!-- $MARKER -->" --arg run "${RUN_URL:-the workflow run}" '
	(if length > 60000 then .[:60000] + "\n\n… cut short; the full preview is in the job summary of \($run)" else . end) as $body
	| {body: "\($marker)\n\($body)"}' "$BODY_FILE" >"$payload"

comment=""
for page in 1 2 3 4 5 6 7 8 9 10; do
	list=$(gh_api GET "/repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments?per_page=100&page=$page") || die 1 "cannot list the comments of #$PR_NUMBER"
	comment=$(jq -r --arg marker "<!-- $MARKER -->" 'map(select(.body | startswith($marker))) | first | .id // empty' <<<"$list")
	[[ -z $comment && $(jq length <<<"$list") == 100 ]] || break
done
if [[ -n $comment ]]; then
	gh_api PATCH "/repos/$GITHUB_REPOSITORY/issues/comments/$comment" "$payload" >/dev/null || die 1 "cannot edit comment $comment"
	echo "edited comment $comment on #$PR_NUMBER"
else
	gh_api POST "/repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments" "$payload" >/dev/null || die 1 "cannot comment on #$PR_NUMBER"
	echo "commented on #$PR_NUMBER"
fi
