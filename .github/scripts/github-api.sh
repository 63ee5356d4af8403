# shellcheck shell=bash
# Sourced by the GitHub-specific scripts: a GET/POST/PATCH helper for the REST
# API with curl (GitHub-hosted and self-hosted runners both have it).
#   GITHUB_TOKEN       the job's token (required)
#   GITHUB_API_URL     default https://api.github.com
#   GITHUB_REPOSITORY  owner/name (required)

# gh_api METHOD PATH [BODY_FILE]: prints the response body; returns 22 on
# HTTP errors (curl --fail-with-body), after printing the body to stderr.
gh_api() {
	local method=$1 path=$2 body=${3:-}
	local args=(--silent --show-error --location --fail-with-body --request "$method"
		--header "Authorization: Bearer $GITHUB_TOKEN"
		--header "Accept: application/vnd.github+json"
		--header "X-GitHub-Api-Version: 2022-11-28")
	if [[ -n $body ]]; then
		args+=(--header "Content-Type: application/json" --data-binary "@$body")
	fi
	curl "${args[@]}" "${GITHUB_API_URL:-https://api.github.com}$path"
}
