#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Waits until every Argo CD Application in ARGOCD_NAMESPACE has observed its
# current spec (and, when given, the expected revision) and is Synced and
# Healthy, printing their states as it goes.
#
# An Application counts as ready when all of these hold:
#   - status.sync.comparedTo.source(s) and .destination equal the spec: Argo CD
#     has compared the Application as it is now, not as it was before the
#     deploy changed it (a just-updated Application still reports the old
#     comparison as Synced until the controller reconciles it);
#   - ARGOCD_REVISION, when set, is status.sync.revision (or one of
#     .revisions): Argo CD has resolved the revision the caller expects;
#   - no sync operation is running (status.operationState.phase), and the last
#     one, if it was for the current revision, did not fail;
#   - status.reconciledAt is not older than ARGOCD_SINCE, when that is set;
#   - status.sync.status is Synced and status.health.status is Healthy.
#
# Environment:
#   KUBECONFIG               kubeconfig to use (CI writes one under $RUNNER_TEMP)
#   ARGOCD_NAMESPACE         namespace of the Application objects (default argocd)
#   ARGOCD_WAIT_TIMEOUT      seconds before giving up (default 900)
#   ARGOCD_WAIT_INTERVAL     seconds between polls (default 15)
#   ARGOCD_REQUEST_TIMEOUT   kubectl --request-timeout for every call (default 20s)
#   ARGOCD_REVISION          revision (commit SHA or prefix) every Application must have synced (optional)
#   ARGOCD_SINCE             RFC 3339 time; reconciliations before it do not count (optional)
# Needs kubectl (read access to applications.argoproj.io and CRDs) and jq.
# Exit: 0 all ready, or nothing to wait for (no Argo CD or no Applications;
#       it says so); 2 usage; 3 not ready before the timeout.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_tools kubectl jq

ns=${ARGOCD_NAMESPACE:-argocd}
timeout=${ARGOCD_WAIT_TIMEOUT:-900}
interval=${ARGOCD_WAIT_INTERVAL:-15}
request_timeout=${ARGOCD_REQUEST_TIMEOUT:-20s}
revision=${ARGOCD_REVISION:-}
since=${ARGOCD_SINCE:-}
[[ $timeout =~ ^[0-9]+$ ]] || die 2 "ARGOCD_WAIT_TIMEOUT must be whole seconds, got $timeout"
deadline=$(($(date +%s) + timeout))
kube=(kubectl --request-timeout="$request_timeout")
if [[ -z ${KUBECONFIG:-} ]]; then
	note "KUBECONFIG is not set: using kubectl's default (~/.kube/config)"
fi

# One line per Application: name, ready (true|false), and why not.
# shellcheck disable=SC2016 # a jq program
READY_JQ='
def src: {repoURL, path, chart, targetRevision: (.targetRevision // "")};
def dst: {server: (.server // ""), name: (.name // ""), namespace: (.namespace // "")};
def sources: if .sources then (.sources | map(src)) else [(.source // {}) | src] end;
.items[] | .metadata.name as $name | (.status // {}) as $st
| (if $st.sync.comparedTo then
     (($st.sync.comparedTo | sources) == (.spec | sources)) and (($st.sync.comparedTo.destination // {} | dst) == (.spec.destination // {} | dst))
   else false end) as $observed
| ([$st.sync.revision // empty] + ($st.sync.revisions // [])) as $revs
| ($revision == "" or any($revs[]; startswith($revision))) as $atRevision
| ($st.operationState.phase // "") as $phase
| ($st.operationState.syncResult.revision // "") as $opRev
| ($since == "" or (($st.reconciledAt // "") >= $since)) as $fresh
| [ (if $observed then empty else "not yet compared with its current spec" end),
    (if $atRevision then empty else "revision \($revs | join(",") | if . == "" then "unknown" else . end), expected \($revision)" end),
    (if $phase == "Running" or $phase == "Terminating" then "sync operation \($phase)" else empty end),
    (if ($phase == "Failed" or $phase == "Error") and ($opRev == "" or any($revs[]; . == $opRev)) then "last sync \($phase): \($st.operationState.message // "")" else empty end),
    (if $fresh then empty else "not reconciled since \($since)" end),
    (if $st.sync.status == "Synced" then empty else "sync=\($st.sync.status // "Unknown")" end),
    (if $st.health.status == "Healthy" then empty else "health=\($st.health.status // "Unknown")" end)
  ] as $why
| "\($name)\t\($why | length == 0)\t\($why | join("; "))"'

crd=""
crd_checked=false
while :; do
	if [[ $crd_checked == false ]]; then
		if crd=$("${kube[@]}" get crd applications.argoproj.io --ignore-not-found --output name); then
			crd_checked=true
			if [[ -z $crd ]]; then
				echo "Argo CD is not installed (no applications.argoproj.io CRD): nothing to wait for"
				exit 0
			fi
		else
			echo "kubectl get crd failed; retrying"
		fi
	fi
	if [[ $crd_checked == true ]] && apps=$("${kube[@]}" get applications.argoproj.io --namespace "$ns" --output json); then
		if [[ $(jq '.items | length' <<<"$apps") == 0 ]]; then
			echo "no Argo CD Applications in namespace $ns: nothing to wait for"
			exit 0
		fi
		states=$(jq -r --arg revision "$revision" --arg since "$since" "$READY_JQ" <<<"$apps")
		total=0
		pending=()
		while IFS=$'\t' read -r name ready why; do
			[[ -n $name ]] || continue
			total=$((total + 1))
			[[ $ready == true ]] || pending+=("$name ($why)")
		done <<<"$states"
		if [[ ${#pending[@]} == 0 ]]; then
			echo "all $total Argo CD applications in $ns are Synced and Healthy${revision:+ at $revision}"
			exit 0
		fi
		echo "$total applications in $ns, ${#pending[@]} not ready: ${pending[*]}"
	elif [[ $crd_checked == true ]]; then
		echo "kubectl get applications failed; retrying"
	fi
	if (($(date +%s) >= deadline)); then
		echo "timed out after ${timeout}s waiting for Argo CD applications in $ns" >&2
		exit 3
	fi
	sleep "$interval"
done
