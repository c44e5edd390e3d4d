#!/usr/bin/env bash
# Rebuilds peerdesk's copy of Headscale (third_party/headscale) for VERSION
# from the Go module cache, then applies third_party/headscale/patches/*.patch
# in order. Usage:
#
#   scripts/headscale-vendor.sh VERSION [OUT]
#
# OUT defaults to third_party/headscale, whose files (all but PEERDESK.md and
# patches/, which are peerdesk's) are then replaced; any other OUT must not
# exist yet or be empty, and receives the copy alone (the test that the tree
# is pristine + patches builds into a temporary OUT and compares).
#
# The copy holds, from github.com/juanfont/headscale@VERSION:
#   - go.mod and LICENSE;
#   - every package peerdesk imports from the module and every package of the
#     module those import (as built for linux/amd64), each with all its
#     non-test .go files (also those a build tag leaves out, such as
#     util/race.go) and the files it embeds.
#
# No upstream test is copied: no *_test.go, no testdata/, no package only
# tests import (policy/v2's testdata alone is 364 MB). `just test` runs the
# upstream tests of the patched packages with scripts/headscale-upstream-tests.sh,
# which places them from the module cache for the run and removes them after.
#
# Nothing is fetched when the version is in the module cache; otherwise
# `go mod download` fetches it through GOPROXY. The script fails loudly, naming
# the patch, when one does not apply; OUT is then left untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

mod=github.com/juanfont/headscale
patches=$root/third_party/headscale/patches

die() {
  echo "headscale-vendor: $*" >&2
  exit 1
}

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: $0 VERSION [OUT]"
version=$1
case $version in
v[0-9]*) ;;
*) die "VERSION must look like v0.29.3, not '$version'" ;;
esac
out=${2:-third_party/headscale}
case $out in /*) ;; *) out=$root/$out ;; esac
intree=false
[ "$(realpath -m "$out")" = "$root/third_party/headscale" ] && intree=true

# The pristine module, read-only in the module cache.
json=$(go mod download -json "$mod@$version") || die "go mod download $mod@$version failed: $json"
src=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")
[ -n "$src" ] && [ -f "$src/go.mod" ] || die "no module directory for $mod@$version in: $json"

# The module's packages peerdesk imports (from its own packages and tests).
roots=$(go list -e -f '{{join .Imports "\n"}}
{{join .TestImports "\n"}}
{{join .XTestImports "\n"}}' ./... | grep -E "^$mod(/|\$)" | sort -u) ||
  die "peerdesk imports no package of $mod"

# listmod ARGS...: `go list -e -deps ARGS` inside the pristine module, keeping
# the lines that start with '#' (the format marks the module's own packages)
# without the mark. The module's dependencies are not needed: GOPROXY=off, and
# an import outside the module that cannot be resolved is an error -e records
# and nothing here reads; the module's own files and imports come from $src.
listmod() {
  (cd "$src" && GOWORK=off GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local GOOS=linux GOARCH=amd64 \
    go list -e -deps "$@" 2>/dev/null) | sed -n 's/^#//p' | sort -u
}
mine="if .Module}}{{if eq .Module.Path \"$mod\""
# The packages: those peerdesk imports and what they import.
# shellcheck disable=SC2086
pkgs=$(listmod -f "{{$mine}}#{{.ImportPath}}{{end}}{{end}}" $roots)
for p in $roots; do
  grep -qxF "$p" <<<"$pkgs" || die "$p: not a package of $mod@$version (or go list failed on it)"
done
# Their files, as "dir/file" relative to the module root: every non-test .go
# file (also those a build tag leaves out) and every embedded file.
# shellcheck disable=SC2086
files=$(listmod -f "{{$mine}}{{\$d := .ImportPath}}{{range .GoFiles}}#{{\$d}}/{{.}}
{{end}}{{range .CgoFiles}}#{{\$d}}/{{.}}
{{end}}{{range .IgnoredGoFiles}}#{{\$d}}/{{.}}
{{end}}{{range .EmbedFiles}}#{{\$d}}/{{.}}
{{end}}{{end}}{{end}}" $pkgs | grep -v '_test\.go$' | sed "s#^$mod/\{0,1\}##")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/headscale-vendor.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
new=$tmp/new
mkdir -p "$new"

copy() { # copy a path relative to the module root from $src to $new
  mkdir -p "$new/$(dirname "$1")"
  cp -R "$src/$1" "$new/$1"
  chmod -R u+w "$new/$1"
}
copy go.mod
copy LICENSE
for f in $files; do copy "${f#/}"; done

# The patches, in order; a failing one stops everything.
shopt -s nullglob
patchfiles=("$patches"/[0-9][0-9][0-9][0-9]-*.patch)
for pf in "${patchfiles[@]}"; do
  # GIT_CEILING_DIRECTORIES: apply to $new, never to a repository above it.
  if ! (cd "$new" && GIT_CEILING_DIRECTORIES=$tmp git apply --whitespace=nowarn -p1 "$pf"); then
    die "patch $(basename "$pf") does not apply to $mod@$version: rework it (see third_party/headscale/PEERDESK.md)"
  fi
done

if $intree; then
  # Replace everything but peerdesk's own files.
  find "$out" -mindepth 1 -maxdepth 1 ! -name PEERDESK.md ! -name patches -exec rm -rf {} +
else
  mkdir -p "$out"
  [ -z "$(ls -A "$out")" ] || die "$out is not empty"
fi
cp -R "$new/." "$out/"
echo "headscale-vendor: $mod@$version, $(wc -w <<<"$pkgs") packages, ${#patchfiles[@]} patches -> $out"
