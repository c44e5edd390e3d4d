#!/usr/bin/env bash
# Runs every Fuzz* target in the module for $1 seconds each.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | awk '{print $2}'); do
    echo "== $pkg $f"
    go test -run '^$' -fuzz "^$f\$" -fuzztime "${secs}s" "$pkg"
  done
done
