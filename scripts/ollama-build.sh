#!/usr/bin/env bash
# Builds the real Ollama server the triage tests run against, from the Go
# module proxy's source of the pinned version, into a cache directory keyed
# by version:
#
#   ${XDG_CACHE_HOME:-$HOME/.cache}/peerdesk/ollama-$VERSION/ollama
#
# and prints that path. Skips the build when the binary is already there.
# harness/ollama looks in the same place (or at $PEERDESK_OLLAMA).
#
# The module zip lacks llama.cpp's vendored headers, so: nlohmann/json and
# stb come from Debian (nlohmann-json3-dev, libstb-dev), miniaudio.h from the
# module cache's github.com/gen2brain/malgo (placed as miniaudio/miniaudio.h
# on CGO_CPPFLAGS). CPU only, no cmake: ≈ 3.5–4.5 min cold on 2 cores.
#
# The binary is built under a temporary name in the same directory and
# renamed into place, so a killed build never leaves a half-written server.
set -euo pipefail

VERSION=${OLLAMA_VERSION:-0.17.4}
MALGO=github.com/gen2brain/malgo@v0.11.24
cache=${XDG_CACHE_HOME:-$HOME/.cache}/peerdesk/ollama-$VERSION
out=$cache/ollama

if [ -x "$out" ]; then
  echo "$out"
  exit 0
fi

here=$(cd "$(dirname "$0")" && pwd)
"$here/ensure-packages.sh" gcc=gcc g++=g++ nlohmann-json3-dev libstb-dev

mkdir -p "$cache"
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT

# miniaudio.h from the module cache (downloaded through the module proxy).
malgo_dir=$(cd "$work" && go mod download -json "$MALGO" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
[ -f "$malgo_dir/miniaudio.h" ] || { echo "ollama-build: no miniaudio.h in $MALGO ($malgo_dir)" >&2; exit 1; }
mkdir -p "$work/include/miniaudio"
cp "$malgo_dir/miniaudio.h" "$work/include/miniaudio/"

echo "ollama-build: building ollama v$VERSION into $out (cold: about 4 minutes on 2 cores)" >&2
start=$(date +%s)
(
  cd "$work"
  CGO_ENABLED=1 CGO_CPPFLAGS="-I$work/include ${CGO_CPPFLAGS:-}" GOBIN="$work/bin" GOFLAGS=-buildvcs=false \
    nice -n 19 go install -ldflags "-s -w -X=github.com/ollama/ollama/version.Version=$VERSION" \
    "github.com/ollama/ollama@v$VERSION"
)
# Same file system: rename(2) puts the whole binary in place at once.
mv -f "$work/bin/ollama" "$out"
echo "ollama-build: built in $(( $(date +%s) - start )) s" >&2
echo "$out"
