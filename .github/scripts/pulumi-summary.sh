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
#   pulumi-summary.sh mark-secrets EVENTS PLAN      marks in EVENTS which secret stack
#                                                   outputs change, from the preview's plan
#
# The summary (version 2):
#   stack         the stack it was made for
#   resources     [{op, urn, keys, inputs, diff}] every step that is not
#                 same/read/refresh:
#                 keys   the property names that differ (update) or force the
#                        replacement (replace); sorted. A provider that reports
#                        only a detailed diff (pulumi-kubernetes leaves diffs
#                        empty) counts with the top-level property of each path
#                        (spec.maxReplicas -> spec)
#                 diff   [{path, kind, old, new}] every detailed-diff path (or,
#                        without a detailed diff, every name in diffs) with the
#                        diff kind and the value at that path before and as
#                        planned, as a value digest (below)
#                 inputs {old, new}: digests of all the old and all the planned
#                        inputs, so a create or delete binds its values too.
#                        A new autoname stands as "(autoname of URN)" in every
#                        planned value and output (COMMON_JQ autonames): the
#                        engine draws a fresh random seed for every preview
#                        (pkg/resource/deploy/step_generator.go, randomSeed), so
#                        a created resource's name, and every value built from
#                        it, differs between two previews of one commit
#   outputs       [{name, op, value}] stack outputs added, changed or removed,
#                 value the digest of the new value
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
# A value digest is "sha256:<hex>" of the value's canonical JSON (keys sorted),
# or "absent", or "unknown" (computed during the update), or for a secret
# "secret" (the CLI never shows its value), "secret, changed" / "secret,
# unchanged" for a stack output marked by mark-secrets. A secret's value is
# never digested: a digest of a short secret could be guessed from the
# summary, which every reader of the repository can download. compare
# refuses any difference in any of these.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_tools jq sha256sum

# Shared jq definitions: events → steps, parents, outputs, value digests.
# shellcheck disable=SC2016 # jq programs
COMMON_JQ='
def nochange: . as $op | ["same", "read", "refresh", "read-discard", "read-replacement"] | index($op) != null;
def steps: map(select(.resourcePreEvent) | .resourcePreEvent.metadata);
def parents: steps | map({key: .urn, value: (.new.parent // .old.parent // "")}) | from_entries;
def under($parents; $roots): [recurse($parents[.] // empty | select(. != ""))] | .[1:] | any(. as $a | $roots | index($a) != null);
def stack_outputs: map(select(.resOutputsEvent and (.resOutputsEvent.metadata.type == "pulumi:pulumi:Stack")) | .resOutputsEvent.metadata) | last // null;
def secretnote: if .changed == true then ", changed" elif .changed == false then ", unchanged" else "" end;
# What compares for an output: a secret as [secret], or [secret, changed] when
# the plan says it changes (mark-secrets).
def blind: if type == "object" and has($secret) then (if .changed == true then "[secret, changed]" else "[secret]" end)
	elif type == "object" then map_values(blind) elif type == "array" then map(blind) else . end;
def tidy: if type == "object" and has($secret) then "[secret\(secretnote)]" elif type == "object" then map_values(tidy) elif type == "array" then map(tidy) elif . == $unknown then "(known after apply)" else . end;
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
# A detailedDiff path as getpath keys (pkg/resource/properties_path.go syntax).
def pathkeys: [scan("\\[\"((?:[^\"\\\\]|\\\\.)*)\"\\]|\\[([0-9]+)\\]|([^.\\[\\]]+)")
	| if .[0] != null then .[0] elif .[1] != null then (.[1] | tonumber) else .[2] end];
# The value at a path; a secret on the way stands for everything under it.
def at($keys): reduce $keys[] as $k (.;
	if type == "object" and has($secret) then .
	elif type == "object" and ($k | type) == "string" then .[$k]
	elif type == "array" and ($k | type) == "number" then .[$k]
	else null end);
def canon: if type == "object" then to_entries | sort_by(.key) | map(.value |= canon) | from_entries
	elif type == "array" then map(canon) else . end;
# A value digest (header): {"$digest": canonical JSON} until resolve_digests
# hashes it.
def digest: if . == null then "absent" elif . == $unknown then "unknown"
	elif type == "object" and has($secret) then "secret\(secretnote)"
	else {"$digest": (canon | tojson)} end;
# The names the engine draws at random for each preview, by the resource
# that got one: a bridged provider lists defaulted properties in __defaults
# (autonames end in "-" and 7 hex digits, pkg/resource/deploy/autonaming.go);
# pulumi-kubernetes marks an autonamed object with the pulumi.com/autonamed
# annotation (provider/pkg/metadata/naming.go). Only new names count (create,
# replace): an existing resource keeps its name. Each maps to a placeholder
# naming its resource, so where a name flows (another resource input, an
# output) is still bound, but not its random suffix.
def autonames: [steps[] | select(.op == "create" or .op == "create-replacement" or .op == "replace") | .urn as $urn
	| (.new.inputs // {}) as $in
	| ((if ($in.__defaults | type) == "array" then [$in.__defaults[] | strings | $in[.]
			| select(type == "string" and test("-[0-9a-f]{7}$"))] else [] end)
		+ (if ($in.metadata | type) == "object" and ($in.metadata.annotations | type) == "object"
			and $in.metadata.annotations["pulumi.com/autonamed"] == "true" and ($in.metadata.name | type) == "string"
			then [$in.metadata.name] else [] end))[]
	| {key: ., value: "(autoname of \($urn))"}] | from_entries;
# (Names are looked up, not searched for: each word of a string that ends in
# "-" and 5 or more letters or digits, and each of its tails after a "-", is
# a candidate. A name glued to other text by "." stays unreplaced: a false
# refusal, never a false match.)
def denamed($names): if ($names | length) == 0 then . else
	def fix: if type == "string" then
			if test("-[0-9a-z]{5}") then
				reduce ([scan("[A-Za-z0-9_-]*-[0-9a-z]{5,}") | split("-") as $p | range(0; ($p | length) - 1) as $i | $p[$i:] | join("-")]
					| unique[] | select($names[.] != null)) as $n (.; split($n) | join($names[$n]))
			else . end
		elif type == "object" then map_values(fix) elif type == "array" then map(fix) else . end;
	fix end;
# The paths a step changes: its detailedDiff, or its diffs when it has none.
def diffpaths: ((.detailedDiff // {}) | to_entries | map({path: .key, kind: (.value.diffKind // "update")})) as $d
	| if ($d | length) > 0 then $d else ((.diffs // []) | map({path: ., kind: "update"})) end;
# Old and planned value of each changed path: inputs, or outputs for a path
# in the inputs of neither side (a diff of outputs only).
def pathvalues: . as $m | [diffpaths[] | (.path | pathkeys) as $k
	| (($m.old.inputs // {}) | at($k)) as $oi | (($m.new.inputs // {}) | at($k)) as $ni
	| (if $oi == null and $ni == null then [(($m.old.outputs // {}) | at($k)), (($m.new.outputs // {}) | at($k))] else [$oi, $ni] end) as $v
	| {path, kind, old: $v[0], new: $v[1]}];
# A Kubernetes component (Helm v4 Chart, yaml/v2, kustomize/v2) whose
# provider is unknown (a first deploy: the kubeconfig comes from the new
# cluster) renders nothing and does not warn: a created one with no child
# steps is incomplete too (found by the real tier, TestPlatform).
def k8s_component: test("^kubernetes:(helm\\.sh/v4:Chart|yaml/v2:ConfigGroup|kustomize/v2:Directory)$");
def childless_created: steps as $s | ($s | map(.new.parent // .old.parent // "")) as $p
  | [$s[] | select(.op == "create" and (.type | k8s_component)) | .urn | select(. as $u | $p | index($u) | not)];
def incomplete_urns: ([.[] | select(.diagnosticEvent) | .diagnosticEvent | select(.message | test("Preview is incomplete")) | .urn // ""] + childless_created) | unique;
'

# events FILE: the JSON events of FILE, one object a line.
events() {
	jq -R -c 'fromjson? | objects' "$1"
}

# mark_secrets EVENTS PLAN: marks each secret stack output in EVENTS (in
# place) with "changed", from the update plan PLAN of the same preview
# (`pulumi preview --save-plan`): the engine records there which outputs of
# the stack change (its goal's outputDiff, pkg/resource/deploy/step_executor.go,
# RegisterResourceOutputs: oldOuts.Diff(outs)), secret values included,
# which the event stream cannot show (lib.sh run_pulumi_json). The plan
# holds no plaintext (it is written without --show-secrets) and only the
# names are read.
mark_secrets() {
	local events=$1 plan=$2 marked
	[[ -f $events && -f $plan ]] || die 2 "mark-secrets needs the events and the plan of one preview"
	marked=$(mktemp)
	jq -c --slurpfile plan "$plan" --arg secret "$PULUMI_SECRET_SIG" '
		([$plan[0].resourcePlans // {} | to_entries[] | select(.value.goal.type == "pulumi:pulumi:Stack")
			| .value.goal.outputDiff // {} | ((.adds // {}) | keys[]), ((.updates // {}) | keys[]), (.deletes // [])[]] | unique) as $changed
		| if .resOutputsEvent.metadata.type? == "pulumi:pulumi:Stack" and (.resOutputsEvent.metadata.new.outputs | type) == "object" then
			.resOutputsEvent.metadata.new.outputs |= with_entries(
				if (.value | type) == "object" and (.value | has($secret)) then .value.changed = (.key as $k | $changed | index($k) != null) else . end)
		else . end' < <(events "$events") >"$marked" || {
		rm -f "$marked"
		die 2 "cannot read $events or the plan $plan"
	}
	mv "$marked" "$events"
}

# resolve_digests: replaces each {"$digest": TEXT} in the JSON on stdin by
# "sha256:" and the SHA-256 of TEXT (jq has no hash function).
resolve_digests() {
	local tmp json i=0 line
	tmp=$(mktemp -d)
	json=$(cat)
	jq -r '[.. | objects | select(has("$digest")) | .["$digest"]] | unique[]' <<<"$json" >"$tmp/texts"
	local files=()
	while IFS= read -r line; do
		printf '%s' "$line" >"$tmp/$i"
		files+=("$tmp/$i")
		i=$((i + 1))
	done <"$tmp/texts"
	if ((i > 0)); then
		printf '%s\0' "${files[@]}" | xargs -0 sha256sum | cut -d' ' -f1 >"$tmp/hashes"
	else
		: >"$tmp/hashes"
	fi
	jq --rawfile texts "$tmp/texts" --rawfile hashes "$tmp/hashes" '
		($texts | rtrimstr("\n") | split("\n")) as $t | ($hashes | rtrimstr("\n") | split("\n")) as $h
		| (if ($t | length) != ($h | length) then error("digest count mismatch") else . end)
		| ([range($t | length) | {key: $t[.], value: ("sha256:" + $h[.])}] | from_entries) as $map
		| def resolve: if type == "object" and has("$digest") then $map[.["$digest"]]
			elif type == "object" then map_values(resolve) elif type == "array" then map(resolve) else . end;
		resolve' <<<"$json"
	rm -rf "$tmp"
}

summarize() {
	local stack=$1 events=$2
	[[ -f $events ]] || die 2 "events file $events not found"
	# (Not jq -e: jq 1.6 exits 4 when the last input line yields nothing.)
	[[ -n $(jq -R 'fromjson? | select(type == "object" and .summaryEvent) | 1' "$events") ]] ||
		die 1 "$events has no summaryEvent: the pulumi operation did not finish"
	events "$events" | jq -s \
		--arg stack "$stack" --arg unknown "$PULUMI_UNKNOWN" --arg secret "$PULUMI_SECRET_SIG" "$COMMON_JQ"'
		. as $events
		| parents as $parents
		| (steps | map({key: .urn, value: .op}) | from_entries) as $ops
		| incomplete_urns as $inc
		| [steps[] | select(.op | nochange | not)] as $changed
		| [$changed[] | select(.urn as $u | $u | under($parents; $inc))] as $under
		| stack_outputs as $stackout
		| autonames as $names
		| {
			version: 2,
			stack: $stack,
			resources: [$changed[] | select(.urn as $u | $u | under($parents; $inc) | not)
				| {op, urn, keys: (((.diffs // []) + (.keys // []) + ((.detailedDiff // {}) | keys | map(toplevel))) | unique),
					inputs: {old: (if .old == null then "absent" else (.old.inputs // {}) | digest end),
						new: (if .new == null then "absent" else (.new.inputs // {}) | denamed($names) | digest end)},
					diff: (pathvalues | map(.old |= digest | .new |= (denamed($names) | digest)) | sort_by(.path))}] | sort_by(.urn, .op),
			outputs: ($events | output_changes | map(. + {value: (if .op == "delete" then "absent" else ($stackout.new.outputs[.name] | denamed($names) | digest) end)}) | sort_by(.name)),
			incomplete: [$inc[] | {urn: ., op: ($ops[.] // "unknown")}] | sort_by(.urn),
			undetermined: [$under[] | {op, urn}] | sort_by(.urn, .op),
			partial: ($inc | length > 0),
			blocked: [$inc[] | if . == "" then "a preview was incomplete for a resource the engine did not name"
				elif ($ops[.] // "") != "create" then "\(.) already exists (\($ops[.] // "no step")) and its preview is incomplete: the inputs it renders from are unknown until the update, so the preview cannot show what happens to the resources under it. Deploy the change that makes those inputs known (e.g. the new IAM role) on its own first, then this one."
				else empty end]
		}
		| .changes = ((.resources + .outputs + .undetermined) | length > 0)' | resolve_digests
}

markdown() {
	local summary=$1 events=$2 digest=${3:-}
	events "$events" | jq -r -s \
		--slurpfile summary "$summary" --arg digest "$digest" \
		--arg unknown "$PULUMI_UNKNOWN" --arg secret "$PULUMI_SECRET_SIG" "$COMMON_JQ"'
		def short: split("::") as $p | "`\($p[2] | split("$") | last)` \($p[3:] | join("::"))";
		def show: tidy | if . == null then "∅" elif type == "string" then . else tojson end
			| gsub("\n"; "⏎") | if length > 160 then .[:160] + "…" else . end;
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
		# Old → new of every changed path (update, replace); a create shows
		# the inputs it is created with. Secrets show as [secret, changed] or
		# [secret, unchanged], never their value.
		([$s.resources[] | . as $r | $byop[$r.urn + " " + $r.op] // empty
			| . as $m
			| if .old != null and .new != null and ($m | pathvalues | length) > 0 then
				"<details><summary>\($m.op) \($m.urn | short)</summary>\n\n```diff\n"
				+ ($m | pathvalues | map("~ \(.path): \(.old | show) → \(.new | show)") | join("\n"))
				+ "\n```\n</details>"
			elif .op == "create" and .new != null and ((.new.inputs // {}) | length) > 0 then
				"<details><summary>\($m.op) \($m.urn | short)</summary>\n\n```diff\n"
				+ ((.new.inputs // {}) | to_entries | map(select(.key != "__defaults") | "+ \(.key): \(.value | show)") | join("\n"))
				+ "\n```\n</details>"
			else empty end] | .[:200][]),
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
		(if $digest != "" then "", "Summary digest `sha256:\($digest)`: approving the deployment approves exactly the operations, changed paths and values above (summary.json binds each value by its SHA-256; a secret only by whether it changes). Apply previews again and refuses if anything differs, then updates exactly this plan (docs/approvals.md)." else empty end)'
}

# lines SUMMARY: the compared part of a summary, one canonical line each.
lines() {
	jq -r '
		if .version != 2 then error("summary format version \(.version), want 2") else . end
		| "stack \(.stack)",
		(.resources[] | . as $r | "\(.op) \(.urn)" + (if (.keys | length) > 0 then " [\(.keys | join(","))]" else "" end),
			"\(.op) \(.urn) inputs: \(.inputs.old) → \(.inputs.new)",
			(.diff[] | "\($r.op) \($r.urn) \(.path) (\(.kind)): \(.old) → \(.new)")),
		(.outputs[] | "output \(.op) \(.name): \(.value)"),
		(.incomplete[] | "incomplete \(.op) \(.urn)")' "$1" | LC_ALL=C sort
}

compare() {
	local approved=$1 fresh=$2 a f
	[[ -f $approved && -f $fresh ]] || die 2 "compare needs two summary files"
	a=$(mktemp)
	f=$(mktemp)
	# An unreadable summary is an error (2), never a difference (3).
	if ! lines "$approved" >"$a" || ! lines "$fresh" >"$f"; then
		rm -f "$a" "$f"
		die 2 "cannot read the summaries $approved and $fresh (not JSON, or not made by this version of pulumi-summary.sh): preview and approve again"
	fi
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
	report=$(events "$events" | jq -s \
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
		}') || die 2 "cannot read $approved or $events"
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
mark-secrets)
	[[ $# == 3 ]] || die 2 "usage: $0 mark-secrets EVENTS PLAN"
	mark_secrets "$2" "$3"
	;;
*) die 2 "usage: $0 summarize|markdown|compare|check-update|mark-secrets ..." ;;
esac
