#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Prices STACK at the checked-out head and at BASE_SHA (the program run under
# the Pulumi mocks, as the offline preview: no cloud access, no credentials)
# and writes the monthly difference per resource as Markdown, for the PR
# comment. Both sides are priced on the same date, which decides standard or
# extended EKS support.
#
# Environment: STACK, BASE_SHA (required); OUT_FILE (default
#   pulumi-out/<stack>/cost.md). Needs git with the base commit fetched, and go.
# Exit: 0 written, 1 the head cannot be priced, 2 usage.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_env STACK BASE_SHA
require_tools git go
out=${OUT_FILE:-pulumi-out/$STACK/cost.md}
mkdir -p "$(dirname "$out")"
work=$(mktemp -d)
cleanup() {
	git worktree remove --force "$work/base" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
at=$(date -u +%F)

go run ./cmd/aiplatform cost -stack "$STACK" -format json -at "$at" >"$work/head.json" ||
	die 1 "cannot price stack $STACK at the head"
if git worktree add --detach "$work/base" "$BASE_SHA" >/dev/null 2>&1 &&
	(cd "$work/base" && go run ./cmd/aiplatform cost -stack "$STACK" -format json -at "$at") >"$work/base.json" 2>"$work/base.err"; then
	go run ./cmd/aiplatform cost-diff -base "$work/base.json" -head "$work/head.json" >"$out"
else
	# The base predates the estimate or the CLI (cmd/aiplatform), has no such
	# stack, or fails its own config validation: show the head's estimate alone.
	note "base $BASE_SHA cannot be priced: $(tail -n 3 "$work/base.err" 2>/dev/null || true)"
	{
		fence='```'
		printf '### Cost estimate of %s\n\n' "\`$STACK\`"
		printf 'The base commit %s could not be priced, so there is no difference to show; the head alone:\n\n%s\n' "\`${BASE_SHA:0:12}\`" "$fence"
		go run ./cmd/aiplatform cost -stack "$STACK" -at "$at"
		printf '%s\n' "$fence"
	} >"$out"
fi
echo "wrote $out"
