#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Installs the pinned Pulumi CLI after checking its SHA-256 against the
# checksums Pulumi publishes with each release. The archive comes from
# get.pulumi.com, the checksum list from the GitHub release: two origins, so
# a tampered download on one of them does not pass. (Pulumi's release
# workflow writes pulumi-<version>-checksums.txt with sha256sum over the
# archives, .github/workflows/sign.yml, and publishes both places,
# .github/workflows/release.yml.)
#
# Environment:
#   PULUMI_VERSION          e.g. 3.274.1 (required)
#   PULUMI_INSTALL_DIR      where the CLI goes (default ~/.pulumi-cli/<version>)
#   PULUMI_DOWNLOAD_CACHE   where archives are kept between runs (default ~/.cache/pulumi-cli);
#                           a cached archive is verified again before use
#   PULUMI_DOWNLOAD_URL     archive base URL (default https://get.pulumi.com/releases/sdk)
#   PULUMI_CHECKSUMS_URL    checksum list base URL (default https://github.com/pulumi/pulumi/releases/download)
# Adds the CLI to GITHUB_PATH when set; prints the directory otherwise.
# Exit: 0 installed, 1 download or verification failed, 2 usage.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_env PULUMI_VERSION
require_tools curl tar

version=${PULUMI_VERSION#v}
case $(uname -m) in
x86_64 | amd64) arch=x64 ;;
aarch64 | arm64) arch=arm64 ;;
*) die 2 "no Pulumi CLI build for $(uname -m)" ;;
esac
archive=pulumi-v$version-linux-$arch.tar.gz
cache=${PULUMI_DOWNLOAD_CACHE:-$HOME/.cache/pulumi-cli}
dest=${PULUMI_INSTALL_DIR:-$HOME/.pulumi-cli/$version}
mkdir -p "$cache" "$dest"

fetch() { curl --fail --silent --show-error --location --retry 3 --output "$2" "$1"; }

sums=$(mktemp)
trap 'rm -f "$sums"' EXIT
fetch "${PULUMI_CHECKSUMS_URL:-https://github.com/pulumi/pulumi/releases/download}/v$version/pulumi-$version-checksums.txt" "$sums" ||
	die 1 "cannot download the checksums of Pulumi $version"
want=$(awk -v f="$archive" '$2 == f || $2 == "*" f { print $1 }' "$sums")
[[ $want =~ ^[0-9a-f]{64}$ ]] || die 1 "pulumi-$version-checksums.txt lists no SHA-256 for $archive"

if [[ ! -f $cache/$archive || $(sha256 "$cache/$archive") != "$want" ]]; then
	fetch "${PULUMI_DOWNLOAD_URL:-https://get.pulumi.com/releases/sdk}/$archive" "$cache/$archive.part" ||
		die 1 "cannot download $archive"
	got=$(sha256 "$cache/$archive.part")
	if [[ $got != "$want" ]]; then
		rm -f "$cache/$archive.part"
		die 1 "$archive has SHA-256 $got, but Pulumi published $want: refusing to install it"
	fi
	mv "$cache/$archive.part" "$cache/$archive"
fi

tar -xzf "$cache/$archive" -C "$dest" --strip-components=1
installed=$("$dest/pulumi" version)
[[ ${installed#v} == "$version" ]] || die 1 "installed CLI reports $installed, expected $version"
if [[ -n ${GITHUB_PATH:-} ]]; then
	echo "$dest" >>"$GITHUB_PATH"
fi
echo "Pulumi CLI $installed in $dest (sha256 $want verified)"
