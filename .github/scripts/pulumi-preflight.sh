#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Checks, before any other pulumi command, that a stack can be used without a
# prompt, and says what to do when it cannot:
#   1. PULUMI_BACKEND_URL names a DIY backend. Empty is not "use Pulumi.yaml":
#      none is committed there, so the CLI would use a login stored on the
#      machine or Pulumi Cloud.
#   2. The stack exists. Nothing in CI creates it: a stack is created once,
#      with its KMS secrets provider (README "State backend", step 3).
#   3. Its secrets provider is the expected one: `secretsprovider:` with its
#      `encryptedkey:` in Pulumi.<stack>.yaml, or, with
#      PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER=true, the provider recorded in
#      the state. Without either the CLI silently picks the passphrase
#      provider (pkg/cmd/pulumi/stack/secrets.go, GetSecretsManager: the
#      state's provider is used only when that variable is set; the DIY
#      backend's default is passphrase, pkg/backend/diy/stack.go) and then
#      fails asking for PULUMI_CONFIG_PASSPHRASE. A freshly initialised stack
#      records no provider in its state until its first update
#      (pkg/backend/diy/backend.go, CreateStack), so the first deploy needs
#      the committed lines.
#   4. Pulumi.<stack>.yaml is edited for the account: adminRoleArns holds no
#      role of AWS's documentation account 123456789012 (the committed
#      placeholder) while clusterCreatorRoleArn, which aiplatform setup sets
#      to the bootstrap's apply role, is in another account. (Both in that
#      account is the rehearsal's fake AWS, whose account it is.)
# Findings 3 and 4 name the checklist items "stack-file-committed" and
# "stack-config" as aiplatform setup prints them (internal/setup/checklist.go,
# ItemSpecs).
#
# Environment:
#   STACK                     stack name (required)
#   PULUMI_BACKEND_URL        s3://…, file://…, gs://… or azblob://… (required)
#   PULUMI_CWD                project directory (default: the current one)
#   PULUMI_SECRETS_PROVIDER   expected provider: awskms (default), passphrase, or any
#   PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER   true lets the state's provider count
# Exit: 0 usable, 1 pulumi failed, 2 not usable (the message says why and what to do).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

require_env STACK
require_backend
require_tools pulumi jq
expected=${PULUMI_SECRETS_PROVIDER:-awskms}
mapfile -t cwd < <(cwd_args)
config=${PULUMI_CWD:-.}/Pulumi.$STACK.yaml
stack_file_item='setup checklist item "stack-file-committed" (Commit Pulumi.<stack>.yaml in a pull request) is not done'
stack_config_item='setup checklist item "stack-config" (Edit each stack'"'"'s config for your account) is not done'
init_hint="create it once with: pulumi stack init $STACK --secrets-provider \"awskms://alias/aiplatform-pulumi-secrets?region=<region>\" (the bootstrap's secretsProvider output), then commit the secretsprovider: and encryptedkey: lines it adds to Pulumi.$STACK.yaml (README \"State backend\", step 3)"

state=$(mktemp)
errors=$(mktemp)
trap 'rm -f "$state" "$errors"' EXIT
if ! pulumi stack export --stack "$STACK" --non-interactive "${cwd[@]}" --file "$state" 2>"$errors"; then
	if grep -qiE "no stack named|not found|does not exist" "$errors"; then
		die 2 "stack $STACK does not exist in $PULUMI_BACKEND_URL; $init_hint"
	fi
	cat "$errors" >&2
	die 1 "pulumi stack export --stack $STACK failed (credentials for the backend?)"
fi

# yaml_key KEY: a top-level scalar of the stack config file, unquoted.
yaml_key() {
	[[ -f $config ]] || return 0
	sed -nE "s/^$1:[[:space:]]*['\"]?([^'\"#]*[^'\"#[:space:]])['\"]?[[:space:]]*(#.*)?$/\1/p" "$config" | head -n 1
}
scheme_of() {
	case $1 in
	"" | default | passphrase) echo passphrase ;;
	*://*) echo "${1%%://*}" ;;
	*) echo "$1" ;;
	esac
}

provider=$(yaml_key secretsprovider)
source=$config
if [[ -n $provider ]]; then
	[[ -n $(yaml_key encryptedkey) || $(scheme_of "$provider") == passphrase ]] ||
		die 2 "$stack_file_item: $config has secretsprovider: $provider but no encryptedkey:. The CLI would make a new data key on every run" \
			"(kms:Encrypt, which the preview role lacks) and could not decrypt secrets set with the real one; commit both lines that pulumi stack init wrote"
elif [[ -n $(yaml_key encryptionsalt) ]]; then
	provider=passphrase
else
	source="the state"
	provider=$(jq -r '.deployment.secrets_providers // {} | if .type == "cloud" then .state.url // "" elif .type then .type else "" end' "$state")
	if [[ -z $provider ]]; then
		die 2 "$stack_file_item: stack $STACK has no secrets provider: none in $config and none in its state (it has never been deployed)." \
			"The CLI would fall back to the passphrase provider and stop. $init_hint"
	fi
	if [[ ${PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER:-} != true && ${PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER:-} != 1 ]]; then
		die 2 "$stack_file_item: $config names no secrets provider and PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER is not true, so the CLI would use the" \
			"passphrase provider instead of $provider from the state. Commit the secretsprovider: and encryptedkey: lines, or set the variable"
	fi
fi

if [[ $expected != any && $(scheme_of "$provider") != "$expected" ]]; then
	die 2 "stack $STACK uses the secrets provider $provider (from $source), not $expected://; $init_hint, or change it with pulumi stack change-secrets-provider"
fi
# config_role_arns KEY: the IAM role ARNs in the value of config key KEY
# (aiplatform:KEY or KEY; a scalar, or a list in block or flow style), one a line.
config_role_arns() {
	[[ -f $config ]] || return 0
	# [ \t], not [[:space:]]: older mawk has no character classes.
	awk -v key="$1" '
		{ match($0, /^[ \t]*/); indent = RLENGTH }
		/^[ \t]*(#.*)?$/ { next }
		on && indent <= base { on = 0 }
		!on && $0 ~ "^[ \t]*(aiplatform:)?" key ":" { on = 1; base = indent }
		on { sub(/[ \t]#.*$/, ""); print }
	' "$config" | grep -oE 'arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+' || true
}
# account_of ARN: its 12-digit account.
account_of() { cut -d: -f5 <<<"$1"; }

docs_account=123456789012
mapfile -t creators < <(config_role_arns clusterCreatorRoleArn)
creator=${creators[0]:-}
if [[ -n $creator && $(account_of "$creator") != "$docs_account" ]]; then
	mapfile -t placeholders < <(config_role_arns adminRoleArns | grep -F ":iam::$docs_account:" || true)
	if [[ ${#placeholders[@]} -gt 0 ]]; then
		die 2 "$stack_config_item: $config's adminRoleArns still holds ${placeholders[*]}, in AWS's documentation account $docs_account," \
			"while clusterCreatorRoleArn ($creator) is in account $(account_of "$creator"): besides the apply role, no one of yours could administer the cluster." \
			"Set adminRoleArns to your administrators' role (docs/configure.md) and commit the file in the pull request"
	fi
fi
echo "preflight: stack $STACK in ${PULUMI_BACKEND_URL%%\?*}, secrets provider ${provider%%\?*} (from $source)"
