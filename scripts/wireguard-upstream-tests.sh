#!/usr/bin/env bash
# Runs upstream wireguard-go's own tests of the package peerdesk patches
# (device) against peerdesk's patched copy in third_party/wireguard-go,
# without committing them (third_party/wireguard-go/PEERDESK.md). Usage:
#
#   scripts/wireguard-upstream-tests.sh [GO TEST FLAGS...]
#
# It copies device/*_test.go from the module cache (wireguard-go at the
# version peerdesk's go.mod requires, downloaded if missing) into
# third_party/wireguard-go/device, runs `go test FLAGS` on the package from
# peerdesk's module, and removes the copies when it exits, also on failure or
# interrupt. .gitignore lists them; the script refuses to run if git would
# commit one.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=github.com/tailscale/wireguard-go
dst=third_party/wireguard-go/device
version=$(go list -m -f '{{.Version}}' "$mod")
src=$(go mod download -json "$mod@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$src/device" ] || { echo "wireguard-upstream-tests: no $mod@$version in the module cache" >&2; exit 1; }
placed=()
cleanup() { [ ${#placed[@]} -eq 0 ] || rm -f "${placed[@]}"; }
trap cleanup EXIT INT TERM
for f in "$src"/device/*_test.go; do
  t="$dst/$(basename "$f")"
  if [ -e "$t" ] && ! git check-ignore -q "$t"; then
    echo "wireguard-upstream-tests: $t would be committed; refusing" >&2
    exit 1
  fi
  cp "$f" "$t" && chmod u+w "$t"
  git check-ignore -q "$t" || { echo "wireguard-upstream-tests: $t is not ignored by git" >&2; exit 1; }
  placed+=("$t")
done
go test "$@" "$mod/device"
