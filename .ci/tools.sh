#!/usr/bin/env bash
# Installs the pinned tools of the real-component test tier (tests/realtier)
# into a cache keyed by version, so a second run is instant:
#   pulumi CLI, pulumi-resource-kubernetes, kube-apiserver (built from the Go
#   module proxy) and etcd (Debian's etcd-server); for the closed-loop tier
#   kube-controller-manager, kube-scheduler, kwok, Prometheus and
#   prometheus-adapter, also built from the Go module proxy.
# The S3 server is gofakes3, started in-process by the test, so it needs no binary.
#   pulumi-eks (pulumi-resource-eks): the npm package @pulumi/eks at the SDK's
#   pin, its compiled provider run by Node (the platform scenario, issue #14).
# Not here: pulumi-language-go (the pipeline rehearsal's `runtime: go`). Its
# module, github.com/pulumi/pulumi/sdk/go/pulumi-language-go/v3, is not served
# by the Go module proxy (403 "This module version is not available" for
# v3.274.1, pseudo-versions and the version list); the rehearsal uses
# $BIN_DIR/pulumi-language-go when someone puts one there, else an in-process
# stand-in (tests/realtier/rehearsal.go, GoLanguageHost).
#
# Usage: bash .ci/tools.sh [tier|closedloop]   (default both; --bin-dir prints where they go)
#   tier:       etcd, pulumi, pulumi-resource-kubernetes, kube-apiserver, pulumi-eks
#   closedloop: kube-controller-manager, kube-scheduler, kwok, Prometheus, prometheus-adapter
# Cache: ${AIPLATFORM_TOOLS:-$HOME/.cache/aiplatform-tools}; the test looks there first.
set -euo pipefail

PULUMI_VERSION=v3.274.1
# The proxy serves pulumi-kubernetes/provider/v4 only as this pseudo-version
# (its release tags lack the provider/ prefix); it is the newest it has.
K8S_PROVIDER_MODULE=github.com/pulumi/pulumi-kubernetes/provider/v4
K8S_PROVIDER_VERSION=v4.0.0-20260115033456-f47bc2d6f199
K8S_PROVIDER_SDK_VERSION=v4.24.0 # the SDK its go.mod pins (upstream replaces it with ../sdk)
KUBE_VERSION=v1.34.4
ETCD_PACKAGE=etcd-server
# pulumi-eks's provider is TypeScript compiled into the npm package; the Go
# SDK (go.mod: github.com/pulumi/pulumi-eks/sdk/v2) asks the engine for this version.
EKS_VERSION=2.8.1
# The closed-loop autoscaling tier (tests/closedloop, issue 20): kwok plays the
# nodes and pods, Prometheus scrapes the Triton load simulator and the
# metrics adapter serves the HPA's custom metric. None has replace
# directives, so a wrapper module requiring each builds it (install_go).
KWOK_VERSION=v0.8.0
PROMETHEUS_VERSION=v0.316.0 # Prometheus 3.16.0's Go module version
ADAPTER_VERSION=v0.12.0     # the version the platform's chart runs (observability)

TOOLS_DIR=${AIPLATFORM_TOOLS:-$HOME/.cache/aiplatform-tools}
BIN_DIR=$TOOLS_DIR/bin

if [[ ${1:-} == --bin-dir ]]; then
	echo "$BIN_DIR"
	exit 0
fi

mkdir -p "$BIN_DIR"
# Builds may share the machine: lowest priority and, by default, one package
# at a time (AIPLATFORM_TOOLS_JOBS raises it); a big link still needs 4-5 GB.
# No -trimpath: it is part of every compile's action ID (cmd/go
# internal/work/exec.go, buildActionID), so with it nothing a tool compiles
# is shared with other builds. Without it the standard library is compiled
# once for `go vet`, `go test` and every tool, pulumi-kubernetes' generator
# (generate.go, run before the build: 631 of its 632 packages are the provider's) costs
# nothing extra (86 CPU-s before), and Prometheus' packages are shared with
# tests/promql (install_go's ALIGN_GOMOD below).
NICE=(nice -n 19)
GOBUILD=(go build -p "${AIPLATFORM_TOOLS_JOBS:-1}")
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export GOFLAGS="-mod=mod -buildvcs=false" # wrapper modules fill their go.sum on the first build

# timed LABEL CMD...: runs CMD and prints its wall and CPU time.
timed() {
	local TIMEFORMAT
	TIMEFORMAT="tools.sh: $(printf '%-28s' "$1") %0Rs wall, %0Us user, %0Ss sys"
	shift
	time "$@"
}

# link NAME VERSIONED_PATH: exposes a versioned binary under $BIN_DIR.
link() { ln -sfn "$2" "$BIN_DIR/$1"; }

install_pulumi() {
	local dest=$TOOLS_DIR/pulumi/$PULUMI_VERSION
	if [[ ! -x $dest/pulumi ]]; then
		local mod=$TOOLS_DIR/src/pulumi-$PULUMI_VERSION
		rm -rf "$mod" && mkdir -p "$mod" "$dest"
		# pkg/v3 carries replace directives, so `go install pkg@version` refuses it;
		# a wrapper module requires it and repeats the one replace that matters.
		(
			cd "$mod"
			go mod init aiplatform.local/tools/pulumi >/dev/null 2>&1
			go mod edit -require=github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION \
				-require=github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION \
				-replace=github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e
			"${NICE[@]}" "${GOBUILD[@]}" -o "$dest/pulumi.tmp" \
				-ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
				github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
		)
		mv "$dest/pulumi.tmp" "$dest/pulumi"
	fi
	link pulumi "$dest/pulumi"
}

install_k8s_provider() {
	local dest=$TOOLS_DIR/pulumi-resource-kubernetes/$K8S_PROVIDER_VERSION
	if [[ ! -x $dest/pulumi-resource-kubernetes ]]; then
		local src mod=$TOOLS_DIR/src/pulumi-kubernetes-$K8S_PROVIDER_VERSION
		src=$(cd "$TOOLS_DIR" && GOFLAGS= go mod download -json "$K8S_PROVIDER_MODULE@$K8S_PROVIDER_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
		[[ -d $src ]] || { echo "tools.sh: could not download $K8S_PROVIDER_MODULE@$K8S_PROVIDER_VERSION" >&2; return 1; }
		# The module cache is read-only and generate.go writes the embedded schema
		# next to itself: build from a writable copy.
		rm -rf "$mod" && mkdir -p "$(dirname "$mod")" "$dest"
		cp -r "$src" "$mod" && chmod -R u+w "$mod"
		(
			cd "$mod"
			go mod edit -dropreplace=github.com/pulumi/pulumi-kubernetes/sdk/v4 \
				-require=github.com/pulumi/pulumi-kubernetes/sdk/v4@$K8S_PROVIDER_SDK_VERSION
			cd cmd/pulumi-resource-kubernetes
			VERSION=${K8S_PROVIDER_VERSION#v} "${NICE[@]}" go run -p "${AIPLATFORM_TOOLS_JOBS:-1}" ./generate.go
			"${NICE[@]}" "${GOBUILD[@]}" -o "$dest/pulumi-resource-kubernetes.tmp" \
				-ldflags "-s -w -X $K8S_PROVIDER_MODULE/pkg/version.Version=${K8S_PROVIDER_VERSION#v}" .
		)
		mv "$dest/pulumi-resource-kubernetes.tmp" "$dest/pulumi-resource-kubernetes"
		rm -rf "$mod"
	fi
	link pulumi-resource-kubernetes "$dest/pulumi-resource-kubernetes"
}

# kube_wrapper: the wrapper module that builds Kubernetes' commands from
# k8s.io/kubernetes at $KUBE_VERSION. kube-apiserver, kube-controller-manager
# and kube-scheduler are built from the same module, tags and flags, so the
# build cache shares their packages (the closed-loop tier, issue 20, needs the
# controller manager's HPA, Deployment and ReplicaSet controllers and the scheduler).
kube_wrapper() {
	local mod=$TOOLS_DIR/src/kubernetes-$KUBE_VERSION staging=v0.${KUBE_VERSION#v1.}
	if [[ ! -f $mod/go.mod.done ]]; then
		rm -rf "$mod" && mkdir -p "$mod"
		(
			cd "$mod"
			go mod init aiplatform.local/tools/kubernetes >/dev/null 2>&1
			# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces
			# them with ./staging paths; point each at its published release.
			local gomod edits=(-require=k8s.io/kubernetes@$KUBE_VERSION)
			gomod=$(GOFLAGS= go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
			for m in $(sed -n 's#^\t\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod"); do
				edits+=(-replace="$m=$m@$staging")
			done
			go mod edit "${edits[@]}"
			touch go.mod.done
		) >&2
	fi
	echo "$mod"
}

# install_kube NAME: builds k8s.io/kubernetes/cmd/NAME at $KUBE_VERSION.
install_kube() {
	local name=$1 dest=$TOOLS_DIR/$1/$KUBE_VERSION
	if [[ ! -x $dest/$name ]]; then
		local mod minor=${KUBE_VERSION#v1.}
		minor=${minor%%.*}
		mod=$(kube_wrapper)
		mkdir -p "$dest"
		(
			cd "$mod"
			"${NICE[@]}" "${GOBUILD[@]}" -tags providerless -o "$dest/$name.tmp" \
				-ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean" \
				"k8s.io/kubernetes/cmd/$name"
		)
		mv "$dest/$name.tmp" "$dest/$name"
	fi
	link "$name" "$dest/$name"
}

# install_go NAME MODULE PACKAGE VERSION [TAGS] [ALIGN_GOMOD]: builds PACKAGE of
# MODULE@VERSION (modules without replace directives) with build TAGS in a
# wrapper module, into a directory keyed by version and tags. Not `go install pkg@version`: that also reads
# the module's version list for deprecations, which the proxy refuses for
# sigs.k8s.io/prometheus-adapter (403 "This module version is not available").
# ALIGN_GOMOD, a go.mod of this repository that also compiles MODULE's
# packages: the wrapper requires its versions too (all but the modules it
# replaces), so both builds resolve the same versions and the build cache
# shares every package they have in common (a compile's action ID hashes its
# dependencies' outputs, so one differing golang.org/x version below a
# package is enough to compile it twice). Build tags are not hashed, only
# the files they select. The binary stays keyed by version and tags: a later
# change to that go.mod changes what a cold build can share, not the tool.
install_go() {
	local name=$1 module=$2 pkg=$3 version=$4 tags=${5:-} align=${6:-}
	local dest=$TOOLS_DIR/$name/$version${tags:+-${tags//,/-}} mod=$TOOLS_DIR/src/$name-$version
	if [[ ! -x $dest/$name ]]; then
		rm -rf "$mod" && mkdir -p "$mod" "$dest"
		local aligned=()
		if [[ -n $align ]]; then
			# Its require lines (one or a block): a tidy go.mod lists every
			# module that provides a package it compiles. Not the replaced ones.
			local replaced path ver
			replaced=$(sed -n 's#^\(replace[[:space:]]\+\)\?[[:space:]]*\([^[:space:]]\+\)\( [^[:space:]]\+\)\? =>.*#\2#p' "$align")
			while read -r path ver; do
				grep -qxF "$path" <<<"$replaced" || aligned+=(-require="$path@$ver")
			done < <(awk '/^require \(/{b=1;next} b&&/^\)/{b=0;next} b&&NF>=2&&$1!~/^\/\//{print $1, $2} /^require [^(]/{print $2, $3}' "$align")
		fi
		(
			cd "$mod"
			go mod init "aiplatform.local/tools/$name" >/dev/null 2>&1
			go mod edit "${aligned[@]}" -require="$module@$version"
			"${NICE[@]}" "${GOBUILD[@]}" -tags "$tags" -ldflags "-s -w" -o "$dest/$name.tmp" "$pkg"
		)
		mv "$dest/$name.tmp" "$dest/$name"
	fi
	link "$name" "$dest/$name"
}

install_etcd() {
	if [[ ! -x /usr/bin/etcd ]]; then
		local sudo=()
		[[ $(id -u) == 0 ]] || sudo=(sudo)
		"${sudo[@]}" apt-get update -qq
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$ETCD_PACKAGE" >/dev/null
	fi
	link etcd /usr/bin/etcd
}

# pulumi-eks: `npm install --ignore-scripts` (no install scripts run; the
# provider needs none: cmd/provider/index.js is plain JS) into a directory
# keyed by version, and a `pulumi-resource-eks` wrapper that runs it with the
# machine's Node (>= 18), the way the CLI runs any resource plugin on PATH.
install_eks_provider() {
	local dest=$TOOLS_DIR/pulumi-eks/$EKS_VERSION
	local entry=$dest/node_modules/@pulumi/eks/cmd/provider/index.js
	if [[ ! -f $entry || ! -x $dest/pulumi-resource-eks ]]; then
		command -v node >/dev/null && command -v npm >/dev/null || {
			echo "tools.sh: pulumi-eks needs node and npm (Debian: apt-get install nodejs npm)" >&2
			return 1
		}
		rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
		(
			cd "$dest.tmp"
			echo '{"name":"aiplatform-tools-pulumi-eks","private":true}' >package.json
			"${NICE[@]}" npm install --ignore-scripts --no-audit --no-fund --loglevel=error "@pulumi/eks@$EKS_VERSION" >/dev/null
			printf '#!/bin/sh\nexec node "%s" "$@"\n' "$dest/node_modules/@pulumi/eks/cmd/provider/index.js" >pulumi-resource-eks
			chmod +x pulumi-resource-eks
		)
		rm -rf "$dest" && mv "$dest.tmp" "$dest"
	fi
	link pulumi-resource-eks "$dest/pulumi-resource-eks"
}

GROUP=${1:-all}
case $GROUP in
all | tier | closedloop) ;;
*)
	echo "tools.sh: unknown group '$GROUP'; use tier, closedloop or nothing (both)" >&2
	exit 2
	;;
esac

if [[ $GROUP != closedloop ]]; then
	timed etcd install_etcd
	timed "pulumi $PULUMI_VERSION" install_pulumi
	timed "pulumi-resource-kubernetes" install_k8s_provider
	timed "kube-apiserver $KUBE_VERSION" install_kube kube-apiserver
	timed "pulumi-eks $EKS_VERSION" install_eks_provider
fi
if [[ $GROUP != tier ]]; then
	# The controller manager and scheduler last: they share most packages
	# with kube-apiserver, which .ci/run builds (group tier) at the same time.
	timed "kwok $KWOK_VERSION" install_go kwok sigs.k8s.io/kwok sigs.k8s.io/kwok/cmd/kwok "$KWOK_VERSION"
	# Only Kubernetes service discovery (the loop's PodMonitor): the build tags of
	# Prometheus' plugins/*.go ("!remove_all_sd || enable_<name>_sd") leave out
	# the cloud SDKs, which are most of its build time.
	timed "prometheus $PROMETHEUS_VERSION" install_go prometheus github.com/prometheus/prometheus github.com/prometheus/prometheus/cmd/prometheus "$PROMETHEUS_VERSION" remove_all_sd,enable_kubernetes_sd "$REPO_ROOT/tests/promql/go.mod"
	timed "prometheus-adapter $ADAPTER_VERSION" install_go prometheus-adapter sigs.k8s.io/prometheus-adapter sigs.k8s.io/prometheus-adapter/cmd/adapter "$ADAPTER_VERSION"
	timed "kube-controller-manager" install_kube kube-controller-manager
	timed "kube-scheduler" install_kube kube-scheduler
fi
echo "tools.sh: tools in $BIN_DIR"
