#!/usr/bin/env bash
# Waits until every Argo CD Application in $ARGOCD_NAMESPACE is Synced and
# Healthy, printing their states as it goes. Exits non-zero on timeout.
#
#   ARGOCD_NAMESPACE      namespace of the Application objects (default argocd)
#   ARGOCD_WAIT_TIMEOUT   seconds before giving up (default 900)
#   ARGOCD_WAIT_INTERVAL  seconds between polls (default 15)
#   ARGOCD_MIN_APPS       fail unless at least this many exist (default 1), so
#                         an empty namespace does not count as success
#
# Only kubectl is needed (no argocd CLI, no jq), with read access to
# applications.argoproj.io.
set -euo pipefail

ns="${ARGOCD_NAMESPACE:-argocd}"
timeout="${ARGOCD_WAIT_TIMEOUT:-900}"
interval="${ARGOCD_WAIT_INTERVAL:-15}"
min_apps="${ARGOCD_MIN_APPS:-1}"
deadline=$(($(date +%s) + timeout))
template='{range .items[*]}{.metadata.name}{"\t"}{.status.sync.status}{"\t"}{.status.health.status}{"\n"}{end}'

while :; do
  if apps=$(kubectl get applications.argoproj.io --namespace "$ns" --output "jsonpath=$template"); then
    total=0
    pending=()
    while IFS=$'\t' read -r name sync health; do
      [ -n "$name" ] || continue
      total=$((total + 1))
      if [ "$sync" != Synced ] || [ "$health" != Healthy ]; then
        pending+=("$name sync=${sync:-Unknown} health=${health:-Unknown}")
      fi
    done <<<"$apps"
    if [ "$total" -ge "$min_apps" ] && [ "${#pending[@]}" -eq 0 ]; then
      echo "all $total Argo CD applications in $ns are Synced and Healthy"
      exit 0
    fi
    echo "$total applications in $ns, ${#pending[@]} not ready: ${pending[*]:-none yet}"
  else
    echo "kubectl get applications failed; retrying"
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "timed out after ${timeout}s waiting for Argo CD applications in $ns" >&2
    exit 1
  fi
  sleep "$interval"
done
