#!/usr/bin/env bash
# Runs upstream Headscale's own tests of the packages peerdesk patches
# (hscontrol/policy/v2 and hscontrol/mapper) against peerdesk's patched copy
# in third_party/headscale, without committing them. Usage:
#
#   scripts/headscale-upstream-tests.sh [GO TEST FLAGS...]
#
# e.g. scripts/headscale-upstream-tests.sh -race -short -count=1
#
# For the run it places into third_party/headscale, from the Go module cache
# (Headscale at the version peerdesk's go.mod requires):
#   - the tested packages' *_test.go files (copies);
#   - their testdata/ (a symbolic link into the read-only module cache:
#     policy/v2's is 364 MB);
#   - the module's packages only those tests import, such as
#     hscontrol/types/testcapture (copies of their non-test .go files).
# Every one of those paths is listed in .gitignore, and the script refuses to
# run if git would see one of them as a file to commit. It then runs
# `go test FLAGS` on the tested packages from peerdesk's module (so against
# the dependency versions peerdesk ships; go.mod replaces Headscale with
# third_party/headscale), and removes everything it placed when it exits,
# also on failure or interrupt. A leftover of a run that was killed (-9) is
# removed by the next run, and only if git ignores it.
#
# TestHeadscaleIsPristinePlusPatches (third_party_test.go) ignores exactly the
# files git ignores under third_party/headscale, so it passes with or without
# them present.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

mod=github.com/juanfont/headscale
tested="hscontrol/policy/v2 hscontrol/mapper"
dir=third_party/headscale

die() {
  echo "headscale-upstream-tests: $*" >&2
  exit 1
}

git rev-parse --is-inside-work-tree >/dev/null 2>&1 || die "$root is not a git checkout (needed to check that nothing placed can be committed)"

# One run at a time: two would place and remove the same files.
mkdir -p .cache
exec 9>.cache/headscale-upstream-tests.lock
flock -n 9 || die "another run holds .cache/headscale-upstream-tests.lock"

version=$(go list -m -f '{{.Version}}' "$mod") || die "go list -m $mod failed"
json=$(go mod download -json "$mod@$version") || die "go mod download $mod@$version failed: $json"
src=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")
[ -n "$src" ] && [ -f "$src/go.mod" ] || die "no module directory for $mod@$version in: $json"

# listmod ARGS...: `go list -e -deps ARGS` inside the pristine module, as in
# scripts/headscale-vendor.sh (lines marked '#' are the module's own).
listmod() {
  (cd "$src" && GOWORK=off GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local GOOS=linux GOARCH=amd64 \
    go list -e -deps "$@" 2>/dev/null) | sed -n 's/^#//p' | sort -u
}
mine="if .Module}}{{if eq .Module.Path \"$mod\""
testpkgs=$(for p in $tested; do echo "$mod/$p"; done)
# The module's packages the tests build (test variants "p [p.test]" count as
# p; test binaries and external test packages are not packages); those with
# no directory in the copy are the test-only ones.
# shellcheck disable=SC2086
deps=$(listmod -test -f "{{$mine}}#{{.ImportPath}}{{end}}{{end}}" $testpkgs |
  sed 's/ \[.*\]$//' | grep -v -e '\.test$' -e '_test$' | sort -u)
for p in $testpkgs; do
  grep -qxF "$p" <<<"$deps" || die "$p: not a package of $mod@$version (or go list failed on it)"
done
testonly=""
for p in $deps; do
  rel=${p#"$mod"/}
  [ "$p" = "$mod" ] && rel=.
  if [ ! -d "$dir/$rel" ] || git check-ignore -q "$dir/$rel"; then testonly="$testonly $rel"; fi
done

# The paths to place, relative to $dir.
targets=()
for p in $tested; do
  [ -d "$dir/$p" ] || die "$dir/$p: missing (run scripts/headscale-vendor.sh $version)"
  for f in "$src/$p"/*_test.go; do targets+=("$p/$(basename "$f")"); done
  if [ -d "$src/$p/testdata" ]; then targets+=("$p/testdata"); fi
done
for p in $testonly; do targets+=("$p"); done

# Only paths git ignores are placed (or removed as leftovers): nothing the run
# leaves behind can be committed, and no committed file is touched.
for t in "${targets[@]}"; do
  git check-ignore -q --no-index "$dir/$t" ||
    die "$dir/$t is not in .gitignore: add it there (upstream tests must never be committed)"
done

cleanup() {
  for t in "${targets[@]}"; do rm -rf "${dir:?}/$t"; done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
cleanup # leftovers of a run killed before its trap ran

for p in $tested; do
  for f in "$src/$p"/*_test.go; do
    cp "$f" "$dir/$p/"
    chmod u+w "$dir/$p/$(basename "$f")"
  done
  if [ -d "$src/$p/testdata" ]; then ln -s "$src/$p/testdata" "$dir/$p/testdata"; fi
done
for p in $testonly; do
  gofiles=$(listmod -f "{{if eq .ImportPath \"$mod/$p\"}}{{range .GoFiles}}#{{.}}
{{end}}{{range .CgoFiles}}#{{.}}
{{end}}{{range .IgnoredGoFiles}}#{{.}}
{{end}}{{range .EmbedFiles}}#{{.}}
{{end}}{{end}}" "$mod/$p" | grep -v '_test\.go$')
  [ -n "$gofiles" ] || die "$mod/$p: no files (go list failed on it)"
  mkdir -p "$dir/$p"
  for f in $gofiles; do
    mkdir -p "$dir/$p/$(dirname "$f")"
    cp "$src/$p/$f" "$dir/$p/$f"
    chmod u+w "$dir/$p/$f"
  done
done

# Belt and braces: git must see nothing new under $dir.
if untracked=$(git status --porcelain --untracked-files=all -- "$dir" | grep '^??'); then
  die "placed files git would commit:
$untracked"
fi

echo "headscale-upstream-tests: $mod@$version; placed ${#targets[@]} paths (test-only packages:${testonly:- none}); go test $*"
# shellcheck disable=SC2086
go test "$@" $testpkgs
