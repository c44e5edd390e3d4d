#!/usr/bin/env bash
# The peerdesk journey on one machine, with embedded defaults: a coordinator
# (embedded Headscale, DERP, STUN, Badger), an enrolled agent, and a
# technician's viewer that fetches the agent's system information peer to
# peer over the overlay. Everything listens on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/bin
data=${DEMO_DIR:-$PWD/.demo}
port=${DEMO_PORT:-18443}
export PEERDESK_PASSWORD=${DEMO_PASSWORD:-demo-password-1}

rm -rf "$data" && mkdir -p "$data"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "coordinator: https://127.0.0.1:$port"
"$bin/peerdesk" serve -data "$data/coordinator" -listen "127.0.0.1:$port" -stun 127.0.0.1:0 -log-level warn \
  >"$data/coordinator.out" 2>"$data/coordinator.log" &
pids+=($!)
for _ in $(seq 100); do grep -q "CA pin:" "$data/coordinator.out" 2>/dev/null && break; sleep 0.1; done
cat "$data/coordinator.out"
url=$(awk '/url:/ {print $2}' "$data/coordinator.out")
pin=$(awk '/CA pin:/ {print $3}' "$data/coordinator.out")
for _ in $(seq 100); do "$bin/peerdesk" admin status -data "$data/coordinator" >/dev/null 2>&1 && break; sleep 0.1; done

step "first admin, from the local command (no setup page exists)"
"$bin/peerdesk" admin add-user -data "$data/coordinator" -name admin -role admin

step "enrollment token (single use, 24 h)"
token=$("$bin/peerdesk" admin token -data "$data/coordinator" -note demo)
echo "$token"

step "agent: enroll once, then run"
"$bin/peerdesk-agent" enroll -state "$data/agent" -coordinator "$url" -token "$token" -hostname demo-pc
"$bin/peerdesk-agent" run -state "$data/agent" -heartbeat 2s -log-level ${DEMO_LOG:-warn} 2>"$data/agent.log" &
pids+=($!)

step "technician: log in (the CA pin is how the viewer trusts the coordinator)"
"$bin/peerdesk-viewer" login -state "$data/viewer" -coordinator "$url" -pin "$pin" -user admin

step "machines"
device=""
for _ in $(seq 100); do
  out=$("$bin/peerdesk-viewer" machines -state "$data/viewer")
  device=$(awk '$2=="demo-pc" && $4=="true" && $5!="" {print $1}' <<<"$out")
  [ -n "$device" ] && break
  sleep 0.2
done
echo "$out"
[ -n "$device" ] || { echo "the agent did not come online; see $data/agent.log" >&2; exit 1; }

step "system information, fetched from the agent directly over the overlay with a signed grant"
"$bin/peerdesk-viewer" sysinfo -state "$data/viewer" "$device" | head -n 25

step "a session of 6 calls; the coordinator is stopped after the first answer and the calls go on (O3)"
"$bin/peerdesk-viewer" sysinfo -state "$data/viewer" -repeat 6 -every 1s "$device" | tee "$data/session.out" &
session=$!
for _ in $(seq 200); do [ -s "$data/session.out" ] && break; sleep 0.05; done
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
echo "   (coordinator stopped)"
wait "$session"

step "audit trail of this run: $data/coordinator (peerdesk admin audit -data ...)"
echo "demo finished; state kept in $data"
