#!/usr/bin/env bash
# Runs `go test ./...` N times (default 10) and prints a table of every test
# that failed, with its count. Every second run is contended: the tests get
# one CPU (-cpu 1) while a CPU burner per core competes for the machine;
# the burners are bounded (they die with this script, and after an hour at
# most). Extra arguments go to go test (e.g. -race, -run, or packages).
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
shift || true
args=("$@")
pkgs=(./...)
for a in "${args[@]}"; do [[ $a == ./* ]] && pkgs=(); done

out=$(mktemp -d)
burners=()
stop_burners() {
  for p in "${burners[@]}"; do kill "$p" 2>/dev/null; done
  burners=()
}
trap 'stop_burners' EXIT

start=$(date +%s)
passed=0
for i in $(seq 1 "$runs"); do
  mode=alone extra=()
  if (( i % 2 == 0 )); then
    mode=contended extra=(-cpu 1)
    for _ in $(seq 1 "$(nproc)"); do
      timeout 3600 bash -c 'while :; do :; done' &
      burners+=($!)
    done
  fi
  t0=$(date +%s)
  go test -json -count=1 -timeout 30m "${extra[@]}" "${args[@]}" "${pkgs[@]}" >"$out/run$i.json" 2>"$out/run$i.err"
  rc=$?
  stop_burners
  # A test's failure, or a package that failed outside any test (build
  # error, TestMain, panic, timeout).
  grep -E '"Action":"fail"' "$out/run$i.json" \
    | sed -E 's/.*"Package":"([^"]*)"(,"Test":"([^"]*)")?.*/\1 \3/' \
    | awk -v run="$i" '{print run, $1, ($2 == "" ? "(package)" : $2)}' >>"$out/failures"
  (( rc == 0 )) && passed=$((passed + 1))
  printf 'run %2d/%d %-9s %s in %ds\n' "$i" "$runs" "$mode" "$([ $rc -eq 0 ] && echo pass || echo FAIL)" "$(( $(date +%s) - t0 ))"
  if (( rc != 0 )) && [ -s "$out/run$i.err" ]; then sed 's/^/    /' "$out/run$i.err" | head -20; fi
done

echo
echo "passed $passed of $runs runs in $(( ($(date +%s) - start) / 60 )) min $(( ($(date +%s) - start) % 60 )) s ($(nproc) CPUs; contended runs: -cpu 1 beside $(nproc) burners)"
if [ -s "$out/failures" ]; then
  echo
  printf '%-6s %-50s %s\n' count package test
  awk '{print $2, $3}' "$out/failures" | sort | uniq -c | sort -rn \
    | awk '{printf "%-6s %-50s %s\n", $1, $2, $3}'
  echo
  echo "test output (go test -json) of every run: $out"
  exit 1
fi
rm -rf "$out"
