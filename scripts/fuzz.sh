#!/usr/bin/env bash
# Runs every Fuzz* target in the module for $1 seconds each (default 20),
# or only those whose "package target" matches the extended regexp $2,
# one after the other with two workers, and runs every one of them to the
# end whatever the others did. Then it prints one table: package, target,
# executions, new interesting inputs and the result, which is ok, FAIL with
# the first line of the failure, or the input that made the target fail
# (go test keeps it under the package's testdata/fuzz; commit it as a seed
# once the decoder is fixed). It exits non-zero if any target failed.
#
# Every target's full output is kept in a log directory named at the end.
set -uo pipefail
cd "$(dirname "$0")/.."

secs=${1:-20}
only=${2:-}
case $secs in
'' | *[!0-9]* | 0)
  echo "usage: $0 [seconds per target (a positive integer) [regexp of 'package target']]" >&2
  exit 2
  ;;
esac
# A target that hangs is stopped this long after its fuzzing time is up
# (its goroutines are dumped into its log) and counted as failed.
grace=300

logs=$(mktemp -d "${TMPDIR:-/tmp}/peerdesk-fuzz.XXXXXX")

# The targets: "import-path dir Target" for each Fuzz function in the test
# files go would build on this platform.
targets=()
while read -r pkg dir files; do
  [[ -n $files ]] || continue
  # Word splitting is wanted: files is a list of paths without spaces.
  # shellcheck disable=SC2086
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' $files | awk '{print $2}'); do
    if [[ -z $only ]] || grep -qE -- "$only" <<<"$pkg $f"; then
      targets+=("$pkg $dir $f")
    fi
  done
done < <(go list -f '{{.ImportPath}} {{.Dir}}{{range .TestGoFiles}} {{$.Dir}}/{{.}}{{end}}{{range .XTestGoFiles}} {{$.Dir}}/{{.}}{{end}}' ./...)
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "fuzz: no fuzz targets found" >&2
  exit 1
fi

echo "fuzz: ${#targets[@]} targets, ${secs}s each, logs in $logs"
rows=()
failed=0
for t in "${targets[@]}"; do
  read -r pkg dir name <<<"$t"
  log="$logs/$(echo "$pkg" | tr / _).$name.log"
  echo "== $pkg $name"
  go test -run '^$' -fuzz "^$name\$" -fuzztime "${secs}s" -parallel 2 \
    -timeout "$((secs + grace))s" "$pkg" >"$log" 2>&1
  rc=$?

  # go test prints "fuzz: elapsed: 3s, execs: 1234 (411/sec), new
  # interesting: 5 (total: 17)" every few seconds and once at the end.
  last=$(grep -E '^fuzz: elapsed: .*, execs: [0-9]+' "$log" | tail -n 1)
  execs=$(sed -nE 's/.*, execs: ([0-9]+).*/\1/p' <<<"$last")
  fresh=$(sed -nE 's/.*new interesting: ([0-9]+).*/\1/p' <<<"$last")

  if [[ $rc -eq 0 ]]; then
    result=ok
  else
    failed=$((failed + 1))
    crash=$(sed -nE 's/^[[:space:]]*Failing input written to (.*)$/\1/p' "$log" | head -n 1)
    # The first line that says what went wrong: the first one under a
    # "--- FAIL" line, else the first line that is neither progress nor
    # go test's own summary.
    first=$(awk '
      /^[[:space:]]*--- FAIL/ { inside = 1; next }
      inside && NF { sub(/^[[:space:]]+/, ""); print; exit }
    ' "$log")
    if [[ -z $first ]]; then
      first=$(grep -vE '^(fuzz: |FAIL|ok |exit status|PASS$|=== |# )|^[[:space:]]*$' "$log" | head -n 1 | sed -E 's/^[[:space:]]+//')
    fi
    [[ -n $first ]] || first="go test exited with status $rc"
    if [[ -n $crash ]]; then
      result="FAIL ${dir#"$PWD"/}/$crash: ${first:0:100}"
    else
      result="FAIL ${first:0:140}"
    fi
  fi
  echo "   ${execs:--} execs, ${fresh:--} new interesting: $result"
  rows+=("${pkg#github.com/peerdesk/peerdesk/}|$name|${execs:--}|${fresh:--}|$result")
done

echo
{
  echo "package|target|execs|new|result"
  printf '%s\n' "${rows[@]}"
} | column -t -s '|' -R 3,4
echo
echo "fuzz: ${#targets[@]} targets, ${secs}s each, $failed failed; logs in $logs"
[[ $failed -eq 0 ]]
