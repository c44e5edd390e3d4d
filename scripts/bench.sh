#!/usr/bin/env bash
# The foundation benchmarks (docs/BENCHMARKS.md), against real processes:
# agent idle RSS/CPU, Up → first peer call, overlay bulk throughput with
# the nodes' memory, and the coordinator with 200 control-only clients.
# Runs in a private network namespace with one veth (so nodes see a network)
# and no route anywhere.
#
# Usage: scripts/bench.sh [section…]; sections: idle firstcall bulk files
# control screen shell fleet (default: all; firstcall needs idle's agent).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PEERDESK_BENCH_NS:-}" ]; then
  # benchstat is fetched here: the namespace below has no route to the proxy.
  GOBIN="$PWD/bin" go install golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
  exec unshare -n env PEERDESK_BENCH_NS=1 "$0" "$@"
fi
ip link set lo up
ip link add bn0 type veth peer name bn1
ip link set bn0 arp off
ip addr add 10.254.0.1/24 dev bn0
ip link set bn1 up && ip link set bn0 up

sections=" ${*:-idle firstcall bulk files control screen shell fleet} "
want() { [[ $sections == *" $1 "* ]]; }

out=${BENCH_OUT:-bench/results/$(date -u +%Y-%m-%d)}
mkdir -p "$out"
work=$(mktemp -d)
pids=()
pin_agent="" pin_viewer="" # FILES_SPLIT, below
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o bin/ ./cmd/... ./bench/peerbench
export PEERDESK_PASSWORD=bench-password-1
hz=$(getconf CLK_TCK)

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
# window PID SECONDS: prints "cpu_percent rss_kib" for one window.
window() {
  local a b; a=$(cpu_ticks "$1"); sleep "$2"; b=$(cpu_ticks "$1")
  echo "$(awk -v a="$a" -v b="$b" -v s="$2" -v hz="$hz" 'BEGIN {printf "%.3f", (b-a)/hz/s*100}') $(rss_kib "$1")"
}
# median of a column of numbers on stdin
median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

# start_coordinator NAME: a coordinator with its own data directory and an
# admin "bench"; sets url, pin, sock and coord.
start_coordinator() {
  local d="$work/$1"
  local prof=()
  # FLEET_PPROF=127.0.0.1:6060 serves the fleet coordinator's profiles.
  if [ "$1" = fleet ] && [ -n "${FLEET_PPROF:-}" ]; then prof=(-pprof "$FLEET_PPROF"); fi
  bin/peerdesk serve -data "$d" -listen 127.0.0.1:0 -stun 127.0.0.1:0 -log-level error "${prof[@]}" >"$d.out" 2>"$d.log" &
  coord=$!; pids+=($coord)
  for _ in $(seq 100); do grep -q "CA pin:" "$d.out" 2>/dev/null && break; sleep 0.1; done
  url=$(awk '/url:/ {print $2}' "$d.out"); pin=$(awk '/CA pin:/ {print $3}' "$d.out")
  sock="$d/admin.sock"
  for _ in $(seq 100); do bin/peerdesk admin status -data "$d" >/dev/null 2>&1 && break; sleep 0.1; done
  bin/peerdesk admin add-user -data "$d" -name bench -role admin >/dev/null
}

echo "== coordinator"
start_coordinator coord
echo "coordinator_rss_empty_kib=$(rss_kib $coord)" | tee "$out/coordinator-empty.txt"

if want idle; then
echo "== agent idle (5 windows of 20 s after 15 s warm-up)"
tok=$(bin/peerdesk admin token -data "$work/coord" 2>/dev/null)
bin/peerdesk-agent enroll -state "$work/agent" -coordinator "$url" -token "$tok" -hostname bench-pc >/dev/null
bin/peerdesk-agent run -state "$work/agent" -log-level error 2>"$work/agent.log" &
agent=$!; pids+=($agent)
sleep 15
for _ in 1 2 3 4 5; do window $agent 20; done | tee "$out/agent-idle-windows.txt"
echo "agent_idle_cpu_percent_median=$(awk '{print $1}' "$out/agent-idle-windows.txt" | median) agent_idle_rss_kib_median=$(awk '{print $2}' "$out/agent-idle-windows.txt" | median)" | tee "$out/agent-idle.txt"
# What the resident set is made of at the end (issue 13: the executable's
# file pages, not the heap, had grown): anonymous memory (heap, stacks),
# the agent binary's own file pages, and shared libraries'.
awk -v exe="$(readlink "/proc/$agent/exe")" '
  /^[0-9a-f]+-[0-9a-f]+ / { f = ($6 == exe) ? "exe" : ($6 ~ /^\// ? "lib" : "anon") }
  /^Rss:/ { r[f] += $2 }
  END { printf "agent_idle_end_anon_kib=%d agent_idle_end_exe_kib=%d agent_idle_end_lib_kib=%d\n", r["anon"], r["exe"], r["lib"] }' "/proc/$agent/smaps" | tee "$out/agent-idle-smaps.txt"
fi

if want firstcall; then
echo "== Up → first peer call (20 fresh technician nodes)"
bin/peerdesk-viewer login -state "$work/v0" -coordinator "$url" -pin "$pin" -user bench >/dev/null
device=$(bin/peerdesk-viewer machines -state "$work/v0" | awk '$2=="bench-pc" {print $1}')
bin/peerbench firstcall -coordinator "$url" -pin "$pin" -user bench -device "$device" -n 20 2>"$work/firstcall.log" | tee "$out/firstcall.txt"
fi

# bulk LIMIT NAME: 3 × 1 GiB from a fresh technician node to one receiver,
# both under GOMEMLIMIT=LIMIT ("" = the product's default soft limit).
bulk() {
  local lim=$1 name=$2
  GOMEMLIMIT=$lim $pin_agent bin/peerbench recv -coordinator "$url" -pin "$pin" -socket "$sock" -state "$work/recv-$name" >"$work/recv-$name.out" 2>"$work/recv-$name.log" &
  local recvpid=$!; pids+=($recvpid)
  for _ in $(seq 100); do grep -q "addr=" "$work/recv-$name.out" 2>/dev/null && break; sleep 0.1; done
  local raddr; raddr=$(sed -n 's/^addr=//p' "$work/recv-$name.out")
  : >"$out/throughput-$name-runs.txt"
  for i in 1 2 3; do
    sleep 7 # stay inside the per-address login limit
    GOMEMLIMIT=$lim $pin_viewer bin/peerbench send -coordinator "$url" -pin "$pin" -user bench -state "$work/send-$name$i" -to "$raddr" -mb "${FILES_REF_MB:-1024}" 2>>"$work/send.log" | tee -a "$out/throughput-$name-runs.txt"
  done
  for _ in $(seq 600); do [ "$(grep -c recv_bytes "$work/recv-$name.out" || true)" -ge 3 ] && break; sleep 0.1; done
  grep recv_bytes "$work/recv-$name.out" | tee "$out/throughput-$name-recv.txt"
  echo "$name: mib_per_s_median=$(sed -n 's/.*mib_per_s=\([0-9.]*\).*/\1/p' "$out/throughput-$name-runs.txt" | median) send_hwm_kib_median=$(sed -n 's/.*send_hwm_kib=\([0-9]*\).*/\1/p' "$out/throughput-$name-runs.txt" | median) recv_hwm_kib_max=$(sed -n 's/.*recv_hwm_kib=\([0-9]*\).*/\1/p' "$out/throughput-$name-recv.txt" | sort -g | tail -1)" | tee "$out/throughput-$name.txt"
  kill $recvpid 2>/dev/null || true
}
if want bulk; then
echo "== bulk throughput over the overlay (3 × 1 GiB; default soft limit, then none)"
bulk "" default
bulk off nolimit
fi

if want files; then
# 1 GiB up and down through the files capability (peerdesk-viewer files
# put/get: 4 MiB chunks, each hashed, written and synced on arrival; the
# whole file hashed at both ends), against peerbench send on the same
# machine in the same run; the agent's RSS sampled every 0.2 s.
# FILES_MB sets the file's size (default 1024, on a nearly full disk less;
# peerbench sends as much). FILES_PROFILE=DIR writes the agent's CPU and
# heap profiles (through its loopback -pprof) and the viewer's CPU
# profiles of the middle run into DIR, and the agent's gctrace.
fmb=${FILES_MB:-1024}
fprof=${FILES_PROFILE:-}
# FILES_SPLIT=1 puts each end on a core of its own (taskset: the agent and
# peerbench recv on CPU 1, the viewer and peerbench send on CPU 0), for
# both the files runs and peerbench: two machines modelled on one, where
# otherwise both ends and both nodes share the two cores.
if [ -n "${FILES_SPLIT:-}" ]; then pin_agent="taskset -c 1" pin_viewer="taskset -c 0"; fi
echo "== files: $fmb MiB each way through the files capability (3 runs), against peerbench send"
# Its own coordinator: this machine is enrolled once per coordinator (the
# idle section's agent already is on the first).
main_coord=("$url" "$pin" "$sock" "$coord")
start_coordinator files
mkdir -p "$work/f/remote"
tok=$(bin/peerdesk admin token -data "$work/files" 2>/dev/null)
bin/peerdesk-agent enroll -state "$work/fagent" -coordinator "$url" -token "$tok" -hostname bench-files >/dev/null
if [ -n "$fprof" ]; then
  mkdir -p "$fprof"
  GODEBUG=gctrace=1 bin/peerdesk-agent run -state "$work/fagent" -unattended -no-screen -log-level error -pprof 127.0.0.1:6061 2>"$fprof/agent-gctrace.txt" &
else
  $pin_agent bin/peerdesk-agent run -state "$work/fagent" -unattended -no-screen -log-level error 2>"$work/fagent.log" &
fi
fagent=$!; pids+=($fagent)
bin/peerdesk-viewer login -state "$work/fv" -coordinator "$url" -pin "$pin" -user bench >/dev/null
for _ in $(seq 300); do fdev=$(bin/peerdesk-viewer machines -state "$work/fv" 2>/dev/null | awk '$2=="bench-files" && $4=="true" {print $1}'); [ -n "$fdev" ] && break; sleep 0.2; done
head -c "${fmb}M" /dev/urandom >"$work/f/src.bin"
bin/peerdesk-viewer files ls -state "$work/fv" "$fdev" "$work/f" >/dev/null # the path and the consent lease are up
sleep 5
rss0=$(rss_kib $fagent)
( peak=0; while kill -0 $fagent 2>/dev/null; do r=$(rss_kib $fagent); [ "$r" -gt "$peak" ] && peak=$r && echo $peak >"$work/fpeak"; sleep 0.2; done ) &
sampler=$!; pids+=($sampler)
: >"$out/files-runs.txt"; : >"$out/files-ls.txt"
for i in 1 2 3; do
  vp=() vg=() cp=()
  if [ -n "$fprof" ] && [ "$i" = 2 ]; then
    vp=(-cpuprofile "$fprof/viewer-put.cpu") vg=(-cpuprofile "$fprof/viewer-get.cpu")
    curl -s -o "$fprof/agent-put.cpu" "http://127.0.0.1:6061/debug/pprof/profile?seconds=5" & cp=($!)
    # and what the heap holds while the upload runs
    (sleep 2; curl -s -o "$fprof/agent-mid-put.heap" "http://127.0.0.1:6061/debug/pprof/heap?gc=1") & cp+=($!)
  fi
  # What a command pays before its first byte: the viewer's node joins
  # the overlay and finds its path to the agent, and a grant is fetched.
  tc=$(date +%s.%N)
  bin/peerdesk-viewer files ls -state "$work/fv" "$fdev" "$work/f" >/dev/null
  t0=$(date +%s.%N)
  awk -v a="$tc" -v b="$t0" 'BEGIN {printf "ls_s=%.2f\n", b-a}' >>"$out/files-ls.txt"
  $pin_viewer bin/peerdesk-viewer files put -state "$work/fv" "${vp[@]}" -overwrite "$fdev" "$work/f/src.bin" "$work/f/remote/up.bin" >"$work/put.out"
  t1=$(date +%s.%N)
  if [ ${#cp[@]} -gt 0 ]; then
    wait "${cp[@]}"; curl -s -o "$fprof/agent-after-put.heap" "http://127.0.0.1:6061/debug/pprof/heap"
    curl -s -o "$fprof/agent-get.cpu" "http://127.0.0.1:6061/debug/pprof/profile?seconds=5" & cp=($!)
  fi
  rm -f "$work/f/down.bin"
  $pin_viewer bin/peerdesk-viewer files get -state "$work/fv" "${vg[@]}" "$fdev" "$work/f/remote/up.bin" "$work/f/down.bin" >"$work/get.out"
  t2=$(date +%s.%N)
  if [ ${#cp[@]} -gt 0 ]; then wait "${cp[@]}"; fi
  cmp -s "$work/f/src.bin" "$work/f/down.bin" || { echo "files: the round trip differs" >&2; exit 1; }
  # The commands' own clocks start once the node is up and the grant in
  # hand, as peerbench send's starts once it has dialled: *_xfer_* is the
  # figure to hold against peerbench, the other the command's wall time.
  # *_flow_*: from the first bytes on (the first call over a node just up
  # waits seconds for the overlay's path to the agent).
  xu=$(sed -n 's/.* in \([0-9.]*\) s.*/\1/p' "$work/put.out"); xd=$(sed -n 's/.* in \([0-9.]*\) s.*/\1/p' "$work/get.out")
  fu=$(sed -n 's/.*, \([0-9.]*\) MiB\/s after the first bytes.*/\1/p' "$work/put.out"); fd=$(sed -n 's/.*, \([0-9.]*\) MiB\/s after the first bytes.*/\1/p' "$work/get.out")
  awk -v mb="$fmb" -v a="$t0" -v b="$t1" -v c="$t2" -v xu="$xu" -v xd="$xd" -v fu="$fu" -v fd="$fd" 'BEGIN {printf "up_mib_per_s=%.1f down_mib_per_s=%.1f up_xfer_mib_per_s=%.1f down_xfer_mib_per_s=%.1f up_flow_mib_per_s=%s down_flow_mib_per_s=%s\n", mb/(b-a), mb/(c-b), mb/xu, mb/xd, fu, fd}' | tee -a "$out/files-runs.txt"
done
kill $sampler 2>/dev/null || true
rm -f "$work/f/src.bin" "$work/f/down.bin" "$work/f/remote/up.bin"
FILES_REF_MB=$fmb bulk "" files-ref
ref=$(sed -n 's/.*mib_per_s_median=\([0-9.]*\).*/\1/p' "$out/throughput-files-ref.txt")
up=$(sed -n 's/.*up_mib_per_s=\([0-9.]*\).*/\1/p' "$out/files-runs.txt" | median)
down=$(sed -n 's/.*down_mib_per_s=\([0-9.]*\).*/\1/p' "$out/files-runs.txt" | median)
xup=$(sed -n 's/.*up_xfer_mib_per_s=\([0-9.]*\).*/\1/p' "$out/files-runs.txt" | median)
xdown=$(sed -n 's/.*down_xfer_mib_per_s=\([0-9.]*\).*/\1/p' "$out/files-runs.txt" | median)
fup=$(sed -n 's/.*up_flow_mib_per_s=\([0-9.]*\).*/\1/p' "$out/files-runs.txt" | median)
fdown=$(sed -n 's/.*down_flow_mib_per_s=\([0-9.]*\).*/\1/p' "$out/files-runs.txt" | median)
echo "files: up_mib_per_s_median=$up down_mib_per_s_median=$down peerbench_mib_per_s_median=$ref up_percent=$(awk -v a="$up" -v r="$ref" 'BEGIN {printf "%.0f", a/r*100}') down_percent=$(awk -v a="$down" -v r="$ref" 'BEGIN {printf "%.0f", a/r*100}') agent_rss_before_kib=$rss0 agent_rss_peak_kib=$(cat "$work/fpeak") agent_rss_growth_kib=$(( $(cat "$work/fpeak") - rss0 )) ls_s_median=$(sed -n 's/ls_s=//p' "$out/files-ls.txt" | median) up_xfer_mib_per_s_median=$xup down_xfer_mib_per_s_median=$xdown up_xfer_percent=$(awk -v a="$xup" -v r="$ref" 'BEGIN {printf "%.0f", a/r*100}') down_xfer_percent=$(awk -v a="$xdown" -v r="$ref" 'BEGIN {printf "%.0f", a/r*100}') up_flow_mib_per_s_median=$fup down_flow_mib_per_s_median=$fdown up_flow_percent=$(awk -v a="$fup" -v r="$ref" 'BEGIN {printf "%.0f", a/r*100}') down_flow_percent=$(awk -v a="$fdown" -v r="$ref" 'BEGIN {printf "%.0f", a/r*100}')" | tee "$out/files.txt"
kill $fagent 2>/dev/null || true
url=${main_coord[0]} pin=${main_coord[1]} sock=${main_coord[2]} coord=${main_coord[3]}
fi

if want control; then
echo "== coordinator with 200 control-only clients (5 windows of 20 s, 30 s after all joined)"
bin/peerbench controlload -coordinator "$url" -pin "$pin" -socket "$sock" -n 200 -hold 150s >"$work/load.out" 2>"$work/load.log" &
loadpid=$!; pids+=($loadpid)
for _ in $(seq 1200); do grep -q "holding" "$work/load.out" 2>/dev/null && break; sleep 0.1; done
cat "$work/load.out" | grep clients= | tee "$out/controlload.txt"
sleep 30
for _ in 1 2 3 4 5; do window $coord 20; done | tee "$out/coordinator-200-windows.txt"
echo "coordinator_200_cpu_percent_median=$(awk '{print $1}' "$out/coordinator-200-windows.txt" | median) coordinator_200_rss_kib_median=$(awk '{print $2}' "$out/coordinator-200-windows.txt" | median)" | tee "$out/coordinator-200.txt"
wait $loadpid || true
fi

if want screen; then
echo "== screen sessions (1920x1080 on Xvfb, headless Chromium, 6 sessions; medians by benchstat)"
go test ./e2e -run '^$' -bench BenchmarkScreenSession -benchtime 1x -count 6 -timeout 30m | tee "$out/screen-runs.txt"
bin/benchstat "$out/screen-runs.txt" | tee "$out/screen.txt"
echo "== the same, the agent coding for screen content throughout (PEERDESK_SCREEN_CODING=screen: a slow or metered path)"
PEERDESK_SCREEN_CODING=screen go test ./e2e -run '^$' -bench BenchmarkScreenSession -benchtime 1x -count 6 -timeout 30m | tee "$out/screen-coding-screen-runs.txt"
bin/benchstat "$out/screen-coding-screen-runs.txt" | tee "$out/screen-coding-screen.txt"
fi

if want shell; then
echo "== shell keystroke → echo in the browser (headless Chromium, over the overlay; 6 runs of 300 keys; medians by benchstat)"
go test ./e2e -run '^$' -bench BenchmarkShellEcho -benchtime 1x -count 6 -timeout 30m | tee "$out/shell-runs.txt"
bin/benchstat "$out/shell-runs.txt" | tee "$out/shell.txt"
fi

if want fleet; then
# Agents here enroll, report an inventory, hold a presence stream and
# heartbeat, but do not join the overlay's control plane: Headscale's
# joins grow quadratically (676 of 2,000 had joined after 11 min), which
# the control section measures at 200; FLEET_OVERLAY=true joins them too.
echo "== fleet: a fresh coordinator with ${FLEET_N:=2000} agents (inventory, presence stream, heartbeats; overlay=${FLEET_OVERLAY:=false})"
start_coordinator fleet
bin/peerbench controlload -coordinator "$url" -pin "$pin" -socket "$sock" -n "$FLEET_N" -parallel 20 -app -overlay="$FLEET_OVERLAY" -hold 300s >"$work/fleet-load.out" 2>"$work/fleet-load.log" &
loadpid=$!; pids+=($loadpid)
for _ in $(seq 36000); do grep -q "holding" "$work/fleet-load.out" 2>/dev/null && break; sleep 0.1; done
grep clients= "$work/fleet-load.out" | tee "$out/fleet-join.txt"
sleep 30
for _ in 1 2 3 4 5; do window $coord 20; done | tee "$out/fleet-windows.txt"
echo "fleet_cpu_percent_median=$(awk '{print $1}' "$out/fleet-windows.txt" | median) fleet_rss_kib_median=$(awk '{print $2}' "$out/fleet-windows.txt" | median)" | tee "$out/fleet.txt"
bin/peerbench access -coordinator "$url" -pin "$pin" -socket "$sock" -user bench -n 50 | tee "$out/fleet-access.txt"
kill $loadpid 2>/dev/null || true
fi

{ echo "date=$(date -u +%FT%TZ) cpus=$(nproc) go=$(go env GOVERSION) kernel=$(uname -r)"; cat "$out"/*.txt | grep -v '^[0-9.]* [0-9]*$'; } > "$out/summary.txt"
echo; echo "== summary ($out/summary.txt)"; cat "$out/summary.txt"
