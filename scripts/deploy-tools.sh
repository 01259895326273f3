#!/usr/bin/env bash
# Builds the tools the deployment tests use, once, into <build>/deploy-tools/bin:
#   helm          Helm v4, built with `go install` from the Go module proxy (no binary downloads)
#   deploy-validate  docker/validate: strict decoding of rendered manifests against the
#                 Kubernetes API types
# Module and build caches live beside them (<build>/deploy-tools/{gomod,gocache}) while they
# build, so nothing outside the build directory is touched, and are removed afterwards. A stamp
# per tool (the Go and Helm versions; the validator's sources) makes a second run a no-op and
# rebuilds only what changed. Needs Go >= 1.26 (`go` on PATH or /usr/local/go/bin/go).
# Usage: scripts/deploy-tools.sh [build dir]   (prints the bin directory last)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(mkdir -p "${1:-$repo/build}" && cd "${1:-$repo/build}" && pwd)
helm_version=v4.3.2
dir=$build/deploy-tools
mkdir -p "$dir/bin"

go=$(command -v go || true)
[[ -z $go && -x /usr/local/go/bin/go ]] && go=/usr/local/go/bin/go
if [[ -z $go ]]; then
  echo "deploy-tools: Go is needed to build helm and deploy-validate (go on PATH or /usr/local/go/bin/go)" >&2
  exit 1
fi

# One build at a time (ctest's fixture and a developer may call this together).
exec 9>"$dir/.lock"
flock 9

# One stamp per tool: the Go version and the Helm version, or the validator's sources.
helm_stamp=$({ "$go" version; echo "helm $helm_version"; } | sha256sum | cut -d' ' -f1)
validate_stamp=$({
  "$go" version
  cat "$repo"/docker/validate/go.mod "$repo"/docker/validate/go.sum "$repo"/docker/validate/*.go
} | sha256sum | cut -d' ' -f1)
fresh() { [[ -x $dir/bin/$1 && -f $dir/$1.stamp && $(cat "$dir/$1.stamp") == "$2" ]]; }
if fresh helm "$helm_stamp" && fresh deploy-validate "$validate_stamp"; then
  echo "$dir/bin"
  exit 0
fi

export GOMODCACHE=$dir/gomod GOCACHE=$dir/gocache GOBIN=$dir/bin
# -modcacherw: the module cache stays deletable; -trimpath: the validator and helm share
# compiled k8s.io packages in the build cache.
export GOFLAGS="-modcacherw -buildvcs=false -trimpath"
start=$(date +%s)
if ! fresh deploy-validate "$validate_stamp"; then
  echo "deploy-tools: building deploy-validate with $("$go" version | cut -d' ' -f3)" >&2
  (cd "$repo/docker/validate" && "$go" build -ldflags="-s -w" -o "$dir/bin/deploy-validate" .)
  echo "$validate_stamp" >"$dir/deploy-validate.stamp"
fi
if ! fresh helm "$helm_stamp"; then
  echo "deploy-tools: building helm $helm_version (Go module proxy)" >&2
  "$go" install -ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=$helm_version" \
    "helm.sh/helm/v4/cmd/helm@$helm_version"
  echo "$helm_stamp" >"$dir/helm.stamp"
fi
# The caches (~2 GB) only serve a rebuild, which the stamps make rare: drop them.
"$go" clean -cache -modcache
rm -rf "$dir/gocache" "$dir/gomod"
echo "deploy-tools: built in $(($(date +%s) - start)) s" >&2
echo "$dir/bin"
