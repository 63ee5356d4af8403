#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The change summary: what a reviewer approves and what apply enforces.
# Pure jq over files; no pulumi, no network. Reads the engine event stream that
# `pulumi preview|up --json` print (one apitype.EngineEvent per line; see
# run_pulumi_json in lib.sh).
#
#   pulumi-summary.sh summarize STACK EVENTS        summary JSON on stdout
#   pulumi-summary.sh markdown SUMMARY EVENTS [DIGEST]
#                                                   the reviewer's view on stdout
#   pulumi-summary.sh compare APPROVED FRESH        exit 0 same, 3 different (printed)
#   pulumi-summary.sh check-update APPROVED EVENTS  what an update did vs. the approval;
#                                                   JSON on stdout, exit 5 if it did
#                                                   anything not approved
#
# The summary (version 1):
#   stack         the stack it was made for
#   resources     [{op, urn, keys}] every step that is not same/read/refresh,
#                 keys = the property names that differ (update) or force the
#                 replacement (replace); sorted. A provider that reports only a
#                 detailed diff (pulumi-kubernetes leaves diffs empty) counts
#                 with the top-level property of each path (spec.maxReplicas
#                 -> spec)
#   outputs       [{name, op}] stack outputs added, changed or removed; a value
#                 unknown at preview counts as changed, a secret compares as
#                 "[secret]" (its value is not visible to the CLI's JSON)
#   incomplete    [{urn, op}] components whose preview was incomplete: a
#                 Kubernetes Helm v4 Chart (or yaml/v2, kustomize/v2 component)
#                 with inputs unknown at preview registers no children and
#                 warns "Preview is incomplete" (pulumi-kubernetes
#                 provider/pkg/provider/helm/v4/chart.go, Construct); and
#                 a created one with no child steps at all, which is what
#                 an unknown provider (first deploy) produces, without warning
#   undetermined  [{op, urn}] steps under an incomplete component: placeholders,
#                 not compared (the real ones are decided during the update)
#   partial       incomplete is not empty
#   blocked       reasons apply refuses: an incomplete component that already
#                 exists (its children would show as deletes here and be
#                 updated during the update; split the change instead)
#   changes       anything to apply: resources, outputs or undetermined
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_tools jq

# Shared jq definitions: events → steps, parents, outputs.
# shellcheck disable=SC2016 # jq programs
COMMON_JQ='
def nochange: . as $op | ["same", "read", "refresh", "read-discard", "read-replacement"] | index($op) != null;
def steps: map(select(.resourcePreEvent) | .resourcePreEvent.metadata);
def parents: steps | map({key: .urn, value: (.new.parent // .old.parent // "")}) | from_entries;
def under($parents; $roots): [recurse($parents[.] // empty | select(. != ""))] | .[1:] | any(. as $a | $roots | index($a) != null);
def stack_outputs: map(select(.resOutputsEvent and (.resOutputsEvent.metadata.type == "pulumi:pulumi:Stack")) | .resOutputsEvent.metadata) | last // null;
def blind: if type == "object" and has($secret) then "[secret]" elif type == "object" then map_values(blind) elif type == "array" then map(blind) else . end;
def tidy: if type == "object" and has($secret) then "[secret]" elif type == "object" then map_values(tidy) elif type == "array" then map(tidy) elif . == $unknown then "(known after apply)" else . end;
def output_changes:
  stack_outputs as $m
  | if $m == null then [] else
      (($m.old.outputs // {}) | blind) as $old | (($m.new.outputs // {}) | blind) as $new
      | [($old + $new) | keys[] as $k
         | if ($old | has($k) | not) then {name: $k, op: "create"}
           elif ($new | has($k) | not) then {name: $k, op: "delete"}
           elif $old[$k] != $new[$k] or $new[$k] == $unknown then {name: $k, op: "update"}
           else empty end]
    end;
# The top-level property of a detailedDiff path (spec.maxReplicas, data["a.b"], items[0]):
# providers that report only detailedDiff (pulumi-kubernetes) leave diffs empty.
def toplevel: if startswith("[\"") then capture("^\\[\"(?<k>(?:[^\"\\\\]|\\\\.)*)\"\\]").k else capture("^(?<k>[^.\\[]+)").k end;
# A Kubernetes component (Helm v4 Chart, yaml/v2, kustomize/v2) whose
# provider is unknown (a first deploy: the kubeconfig comes from the new
# cluster) renders nothing and does not warn: a created one with no child
# steps is incomplete too (found by the real tier, TestPlatform).
def k8s_component: test("^kubernetes:(helm\\.sh/v4:Chart|yaml/v2:ConfigGroup|kustomize/v2:Directory)$");
def childless_created: steps as $s | ($s | map(.new.parent // .old.parent // "")) as $p
  | [$s[] | select(.op == "create" and (.type | k8s_component)) | .urn | select(. as $u | $p | index($u) | not)];
def incomplete_urns: ([.[] | select(.diagnosticEvent) | .diagnosticEvent | select(.message | test("Preview is incomplete")) | .urn // ""] + childless_created) | unique;
'

summarize() {
	local stack=$1 events=$2
	[[ -f $events ]] || die 2 "events file $events not found"
	# (Not jq -e: jq 1.6 exits 4 when the last input line yields nothing.)
	[[ -n $(jq -R 'fromjson? | select(type == "object" and .summaryEvent) | 1' "$events") ]] ||
		die 1 "$events has no summaryEvent: the pulumi operation did not finish"
	jq -R 'fromjson? | select(type == "object")' "$events" | jq -s \
		--arg stack "$stack" --arg unknown "$PULUMI_UNKNOWN" --arg secret "$PULUMI_SECRET_SIG" "$COMMON_JQ"'
		. as $events
		| parents as $parents
		| (steps | map({key: .urn, value: .op}) | from_entries) as $ops
		| incomplete_urns as $inc
		| [steps[] | select(.op | nochange | not)] as $changed
		| [$changed[] | select(.urn as $u | $u | under($parents; $inc))] as $under
		| {
			version: 1,
			stack: $stack,
			resources: [$changed[] | select(.urn as $u | $u | under($parents; $inc) | not)
				| {op, urn, keys: (((.diffs // []) + (.keys // []) + ((.detailedDiff // {}) | keys | map(toplevel))) | unique)}] | sort_by(.urn, .op),
			outputs: ($events | output_changes | sort_by(.name)),
			incomplete: [$inc[] | {urn: ., op: ($ops[.] // "unknown")}] | sort_by(.urn),
			undetermined: [$under[] | {op, urn}] | sort_by(.urn, .op),
			partial: ($inc | length > 0),
			blocked: [$inc[] | if . == "" then "a preview was incomplete for a resource the engine did not name"
				elif ($ops[.] // "") != "create" then "\(.) already exists (\($ops[.] // "no step")) and its preview is incomplete: the inputs it renders from are unknown until the update, so the preview cannot show what happens to the resources under it. Deploy the change that makes those inputs known (e.g. the new IAM role) on its own first, then this one."
				else empty end]
		}
		| .changes = ((.resources + .outputs + .undetermined) | length > 0)'
}

markdown() {
	local summary=$1 events=$2 digest=${3:-}
	jq -R 'fromjson? | select(type == "object")' "$events" | jq -r -s \
		--slurpfile summary "$summary" --arg digest "$digest" \
		--arg unknown "$PULUMI_UNKNOWN" --arg secret "$PULUMI_SECRET_SIG" "$COMMON_JQ"'
		def short: split("::") as $p | "`\($p[2] | split("$") | last)` \($p[3:] | join("::"))";
		def show: tidy | if . == null then "∅" elif type == "string" then . else tojson end
			| gsub("\n"; "⏎") | if length > 160 then .[:160] + "…" else . end;
		def pathkeys: [scan("\\[\"((?:[^\"\\\\]|\\\\.)*)\"\\]|\\[([0-9]+)\\]|([^.\\[\\]]+)")
			| if .[0] != null then .[0] elif .[1] != null then (.[1] | tonumber) else .[2] end];
		def at($p): try getpath($p | pathkeys) catch null;
		$summary[0] as $s
		| (steps | map({key: (.urn + " " + .op), value: .}) | from_entries) as $byop
		| "### Preview of `\($s.stack)`: \($s.resources | length) resource operations, \($s.outputs | length) output changes",
		"",
		(if ($s.blocked | length) > 0 then "> [!CAUTION]\n> **Blocked: apply will refuse this preview.**\n" + ($s.blocked | map("> - " + .) | join("\n")) + "\n" else empty end),
		(if $s.partial then "> [!WARNING]\n> **Partial preview.** These components could not be rendered because their inputs are unknown until the update (a new cluster or IAM role); what they will create is decided during the update and listed in the apply job afterwards:\n" + ($s.incomplete | map("> - \(.op) \(.urn | short)") | join("\n")) + "\n" else empty end),
		(if ($s.resources | length) > 0 then
			"| op | resource | properties |", "| --- | --- | --- |",
			($s.resources[] | "| \(.op) | \(.urn | short) | \(.keys | join(", ")) |")
		else "No resource changes." end),
		"",
		([$s.resources[] | select(.op == "update" or .op == "replace") | . as $r | $byop[$r.urn + " " + $r.op] // empty
			| select(.old != null and .new != null)
			| . as $m
			| ((.detailedDiff // {}) | keys) as $paths
			| (if ($paths | length) > 0 then $paths else (.diffs // []) end) as $paths
			| "<details><summary>\($m.op) \($m.urn | short)</summary>\n\n```diff\n"
			  + ($paths | map(. as $p | "~ \($p): \(($m.old.inputs // {}) | at($p) | show) → \(($m.new.inputs // {}) | at($p) | show)") | join("\n"))
			  + "\n```\n</details>"] | .[:200][]),
		(if ($s.outputs | length) > 0 then
			"", "**Outputs**", "",
			(stack_outputs as $m | $s.outputs[] | "- \(.op) `\(.name)`: \(($m.old.outputs // {})[.name] | show) → \(($m.new.outputs // {})[.name] | show)")
		else empty end),
		(if ($s.undetermined | length) > 0 then
			"", "**Placeholders under incomplete components (not compared; decided during the update)**", "",
			($s.undetermined[] | "- \(.op) \(.urn | short)")
		else empty end),
		([.[] | select(.diagnosticEvent) | .diagnosticEvent | select(.severity == "warning" or .severity == "error")
			| "- \(.severity): \(.urn // "" | if . == "" then "" else short + ": " end)\(.message | rtrimstr("\n") | gsub("\n"; " "))"]
			| unique | if length > 0 then "", "**Diagnostics**", "", .[:50][] else empty end),
		(if $digest != "" then "", "Summary digest `sha256:\($digest)`: approving the deployment approves exactly the resource and output operations above; apply re-runs the preview and refuses if they differ." else empty end)'
}

# lines SUMMARY: the compared part of a summary, one canonical line each.
lines() {
	jq -r '
		"stack \(.stack)",
		(.resources[] | "\(.op) \(.urn)" + (if (.keys | length) > 0 then " [\(.keys | join(","))]" else "" end)),
		(.outputs[] | "output \(.op) \(.name)"),
		(.incomplete[] | "incomplete \(.op) \(.urn)")' "$1" | LC_ALL=C sort
}

compare() {
	local approved=$1 fresh=$2 a f
	[[ -f $approved && -f $fresh ]] || die 2 "compare needs two summary files"
	a=$(mktemp)
	f=$(mktemp)
	lines "$approved" >"$a"
	lines "$fresh" >"$f"
	if cmp -s "$a" "$f"; then
		rm -f "$a" "$f"
		return 0
	fi
	echo "The fresh preview differs from the approved one:"
	LC_ALL=C comm -23 "$a" "$f" | sed 's/^/  approved, not in the fresh preview:  /'
	LC_ALL=C comm -13 "$a" "$f" | sed 's/^/  in the fresh preview, not approved:  /'
	rm -f "$a" "$f"
	return 3
}

check_update() {
	local approved=$1 events=$2 report
	[[ -f $approved && -f $events ]] || die 2 "check-update needs the approved summary and the update's events"
	report=$(jq -R 'fromjson? | select(type == "object")' "$events" | jq -s \
		--slurpfile approved "$approved" --arg unknown "$PULUMI_UNKNOWN" --arg secret "$PULUMI_SECRET_SIG" "$COMMON_JQ"'
		$approved[0] as $a
		| parents as $parents
		| ($a.incomplete | map(.urn)) as $inc
		| ($a.resources | map("\(.op) \(.urn)")) as $ok
		| [steps[] | select(.op | nochange | not) | {op, urn}] as $done
		| output_changes as $outs
		| {
			unapproved: ([$done[] | select(("\(.op) \(.urn)") as $k | $ok | index($k) == null)
				| select(.urn | under($parents; $inc) | not)]
				+ [$outs[] | select(. as $o | $a.outputs | map(.name) | index($o.name) == null) | {op, urn: "output \(.name)"}]),
			unpreviewed: [$done[] | select(.urn | under($parents; $inc))],
			notPerformed: [$a.resources[] | {op, urn} | select(. as $r | $done | index($r) == null)]
		}')
	echo "$report"
	[[ $(jq '.unapproved | length' <<<"$report") == 0 ]] || return 5
}

case ${1:-} in
summarize)
	[[ $# == 3 ]] || die 2 "usage: $0 summarize STACK EVENTS"
	summarize "$2" "$3"
	;;
markdown)
	[[ $# == 3 || $# == 4 ]] || die 2 "usage: $0 markdown SUMMARY EVENTS [DIGEST]"
	markdown "$2" "$3" "${4:-}"
	;;
compare)
	[[ $# == 3 ]] || die 2 "usage: $0 compare APPROVED FRESH"
	compare "$2" "$3"
	;;
check-update)
	[[ $# == 3 ]] || die 2 "usage: $0 check-update APPROVED EVENTS"
	check_update "$2" "$3"
	;;
*) die 2 "usage: $0 summarize|markdown|compare|check-update ..." ;;
esac
