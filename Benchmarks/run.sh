#!/usr/bin/env bash
# Accept throughput and recovery, release build, loopback only, bounded runs.
#   Benchmarks/run.sh accept     POST /v1/renames (auth, validation, journal on, Cloudinary paused) vs /healthz
#   Benchmarks/run.sh recovery   time from start to /readyz 200 with N unfinished jobs in the journal
# Environment: DURATION (s, default 10), CONNECTIONS (default 64), JOBS (recovery, default 100000).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
JOBS=${JOBS:-100000}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
swift build -c release --static-swift-stdlib --product asset-renamer >/dev/null
swift build -c release --static-swift-stdlib --product cloudinary-emulator >/dev/null
BIN=.build/release
WORK=$(mktemp -d)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

EMULATOR_PORT=19590
DAEMON_PORT=19580
$BIN/cloudinary-emulator --port $EMULATOR_PORT >"$WORK/emulator.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -sf -o /dev/null -X POST localhost:$EMULATOR_PORT/_emulator/pause && break; sleep 0.1; done

TOKEN=bench-token
DIGEST=$(printf %s "$TOKEN" | $BIN/asset-renamer hash-token)
config() { # $1 = storage path
  cat >"$WORK/renamer.yaml" <<YAML
http: {host: 127.0.0.1, port: $DAEMON_PORT}
clouds:
  main: {cloud_name: demo, api_key: "123456789012345", api_secret: emulator-secret, upload_prefix: "http://127.0.0.1:$EMULATOR_PORT", timeout_seconds: 600}
clients:
  bench: {token_sha256: $DIGEST}
queue: {capacity: 10000000}
storage: {path: "$1"}
log: {level: warning}
YAML
}
start_daemon() {
  $BIN/asset-renamer serve --config "$WORK/renamer.yaml" >>"$WORK/daemon.log" 2>&1 &
  DAEMON=$!
  PIDS+=($DAEMON)
}
wait_ready() {
  for _ in $(seq 6000); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' localhost:$DAEMON_PORT/readyz)" = 200 ] && return 0
    sleep 0.01
  done
  echo "daemon not ready" >&2; return 1
}
bench() { # $1 label, rest: wrk arguments
  local label=$1; shift
  local out
  out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@")
  printf '%-28s %10s req/s   p50 %8s   p99 %8s\n' "$label" \
    "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk '$1=="50%" {print $2}' <<<"$out")" "$(awk '$1=="99%" {print $2}' <<<"$out")"
}

case "${1:-accept}" in
accept)
  echo "machine: $(nproc) cores, $(uname -r); wrk -t2 -c$CONNECTIONS -d${DURATION}s"
  config ":memory:"; start_daemon; wait_ready
  bench "healthz (ceiling)" "http://127.0.0.1:$DAEMON_PORT/healthz"
  RENAMER_TOKEN=$TOKEN bench "accept, in-memory" -s Benchmarks/accept.lua "http://127.0.0.1:$DAEMON_PORT"
  kill -9 $DAEMON; sleep 0.5
  config "$WORK/journal.sqlite"; start_daemon; wait_ready
  bench "healthz (ceiling, journal)" "http://127.0.0.1:$DAEMON_PORT/healthz"
  RENAMER_TOKEN=$TOKEN bench "accept, journal (fsync)" -s Benchmarks/accept.lua "http://127.0.0.1:$DAEMON_PORT"
  ;;
recovery)
  config "$WORK/journal.sqlite"; start_daemon; wait_ready
  echo "filling the journal with $JOBS unfinished jobs (Cloudinary paused)..."
  while :; do
    RENAMER_TOKEN=$TOKEN wrk -t2 -c64 -d5s -s Benchmarks/accept.lua "http://127.0.0.1:$DAEMON_PORT" >/dev/null
    accepted=$(curl -s localhost:$DAEMON_PORT/metrics | awk '/^renamer_renames_accepted_total / {print $2}')
    echo "  accepted: $accepted"
    [ "${accepted%.*}" -ge "$JOBS" ] && break
  done
  kill -9 $DAEMON; sleep 0.5
  echo "journal: $(du -h "$WORK/journal.sqlite" | cut -f1) (+ WAL $(du -h "$WORK/journal.sqlite-wal" 2>/dev/null | cut -f1))"
  start=$(date +%s.%N); start_daemon; wait_ready; end=$(date +%s.%N)
  printf 'recovery: %.2f s from start to /readyz 200 with %s unfinished jobs; RSS %s KiB\n' \
    "$(echo "$end - $start" | bc)" "$accepted" "$(awk '/VmRSS/ {print $2}' /proc/$DAEMON/status)"
  ;;
esac
