# shellcheck shell=bash
# Shared helpers of the .github/scripts Pulumi scripts; sourced, not run.
# Everything comes from environment variables, so the scripts run the same in
# GitHub Actions, on a laptop and in the real-tier rehearsal. They need bash,
# pulumi, jq and (argocd-wait.sh) kubectl; nothing GitHub-specific. When
# GITHUB_OUTPUT / GITHUB_STEP_SUMMARY are set they also write there.
#
# Exit codes shared by all scripts (each script's header lists the ones it uses):
#   0  success
#   1  a command failed (pulumi, kubectl), or an unexpected error
#   2  usage or configuration error: a missing or bad variable or input file
#   3  a difference: the fresh preview differs from the approved one (apply),
#      the stack has drifted (drift), Applications not ready in time (argocd-wait)
#   4  blocked: the preview is incomplete for a component that already exists
#   5  the update performed an operation that was not approved (found afterwards)

# The unknown-value placeholder the engine serializes for values that are
# computed during the update (pkg/resource/stack/deployment.go,
# computedValuePlaceholder) and the signature key of a secret.
# shellcheck disable=SC2034 # used by the scripts that source this file
PULUMI_UNKNOWN=04da6b54-80e4-46f7-96ec-b56ff0331ba9
# shellcheck disable=SC2034
PULUMI_SECRET_SIG=4dabf18193072939515e22adb298388d

# shellcheck disable=SC2034
SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# die CODE MESSAGE...: prints an error (as a GitHub annotation in Actions) and exits.
die() {
	local code=$1
	shift
	if [[ ${GITHUB_ACTIONS:-} == true ]]; then
		echo "::error::$*" >&2
	else
		echo "error: $*" >&2
	fi
	exit "$code"
}

note() { echo "$*" >&2; }

# require_env NAME...: every variable must be set and non-empty.
require_env() {
	local name
	for name in "$@"; do
		[[ -n ${!name:-} ]] || die 2 "$name is not set (see the header of $(basename "$0"))"
	done
}

# require_tools NAME...: every command must be on PATH.
require_tools() {
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null || die 2 "$tool is not installed; $(basename "$0") needs it"
	done
}

# require_backend: PULUMI_BACKEND_URL must name a DIY backend. An empty value
# does not mean "use Pulumi.yaml": the CLI takes PULUMI_BACKEND_URL, then
# Pulumi.yaml's backend.url (none is committed), then whatever `pulumi login`
# last stored on the machine, and finally Pulumi Cloud
# (pkg/workspace/creds.go, GetCurrentCloudURLWithSource).
require_backend() {
	local url=${PULUMI_BACKEND_URL:-}
	[[ -n $url ]] || die 2 "PULUMI_BACKEND_URL is not set. Set it to the state bucket, the bootstrap's backendUrl output" \
		"(s3://aiplatform-pulumi-state-…?region=…&awssdk=v2); in GitHub Actions it is the repository variable PULUMI_BACKEND_URL." \
		"Without it the CLI would use a stored login or Pulumi Cloud."
	case $url in
	s3://* | file://* | gs://* | azblob://*) ;;
	*) die 2 "PULUMI_BACKEND_URL=$url is not a DIY backend (s3://, file://, gs://, azblob://); this project keeps its state in the bootstrap's bucket" ;;
	esac
}

# cwd_args: --cwd for the project directory (PULUMI_CWD, default: the current one).
cwd_args() {
	if [[ -n ${PULUMI_CWD:-} ]]; then
		printf '%s\n' --cwd "$PULUMI_CWD"
	fi
}

# out_dir: where a script writes its files (OUT_DIR, default pulumi-out/<stack>).
out_dir() {
	local dir=${OUT_DIR:-pulumi-out/$STACK}
	mkdir -p "$dir"
	(cd "$dir" && pwd)
}

sha256() {
	if command -v sha256sum >/dev/null; then
		sha256sum "$1" | cut -d' ' -f1
	else
		shasum -a 256 "$1" | cut -d' ' -f1
	fi
}

# gh_output KEY VALUE: a step output, when running in GitHub Actions.
gh_output() {
	if [[ -n ${GITHUB_OUTPUT:-} ]]; then
		echo "$1=$2" >>"$GITHUB_OUTPUT"
	fi
}

# step_summary FILE: appends FILE to the job summary (GitHub allows 1 MiB per step).
step_summary() {
	if [[ -n ${GITHUB_STEP_SUMMARY:-} ]]; then
		head -c 900000 "$1" >>"$GITHUB_STEP_SUMMARY"
	fi
}

# The jq filter that turns the engine event stream into one progress line
# per step, so a long `pulumi up --json` still shows what it is doing.
# shellcheck disable=SC2016 # a jq program
PROGRESS_JQ='
def name: .urn | split("::") | .[3:] | join("::");
def kind: .type // (.urn | split("::")[2] | split("$") | last);
if .resourcePreEvent then .resourcePreEvent.metadata | select(.op != "same") | "  \(.op) \(kind) \(name)"
elif .resOpFailedEvent then .resOpFailedEvent.metadata | "  FAILED \(.op) \(kind) \(name)"
elif .diagnosticEvent then .diagnosticEvent | select(.severity != "debug" and (.ephemeral | not)) | "  \(.severity): \(.message | rtrimstr("\n"))"
elif .summaryEvent then "  done: \(.summaryEvent.resourceChanges // {} | to_entries | map("\(.key)=\(.value)") | join(" "))"
else empty end'

# run_pulumi_json EVENTS_FILE ARGS...: runs `pulumi ARGS --json` with the
# engine's JSON event stream (one apitype.EngineEvent per line) written to
# EVENTS_FILE and a progress line per step on stdout; returns pulumi's status.
# For preview, PULUMI_ENABLE_STREAMING_JSON_PREVIEW switches --json from a
# single digest to the same event stream `up --json` prints (documented on
# the --json flag; sdk/go/common/env/env.go EnableStreamingJSONPreview). The
# stream is used instead of the digest because only the stream carries the
# root stack's outputs (the digest serializes each step when it starts).
# Secrets in the stream are always {sig, ciphertext: "[secret]"}, also with
# --show-secrets (pkg/backend/display/display.go, logJSONEvent converts with
# showSecrets false): whether one changed comes from the update plan
# (pulumi-summary.sh mark-secrets).
run_pulumi_json() {
	local events=$1
	shift
	local status=0
	PULUMI_ENABLE_STREAMING_JSON_PREVIEW=true pulumi "$@" --json --non-interactive |
		tee "$events" | jq --unbuffered -R -r "fromjson? | $PROGRESS_JQ" || status=${PIPESTATUS[0]}
	return "$status"
}
