#!/usr/bin/env bash
# Benchmarks: release build (the Dockerfile's flags), loopback only, every run bounded.
#   Benchmarks/run.sh throughput  /healthz (ceiling), accept in memory, accept with journal,
#                                 signed notifications: side by side in one run, with ratios
#   Benchmarks/run.sh e2e         jobs completed per second through the emulator (rename, probe,
#                                 callback; zero artificial delay) and daemon CPU per 1,000 jobs,
#                                 then the HTTP stack's floor for one job's five exchanges (issue 17)
#   Benchmarks/run.sh memory      RSS idle, with JOBS queued jobs, and after BATCHES drained batches
#   Benchmarks/run.sh recovery    start to /readyz 200 with JOBS unfinished jobs in the journal
#   Benchmarks/run.sh soak        RSS after each of SOAK_BATCHES batches of BATCH full jobs (rename,
#                                 notification, probe, callback), each drained and purged: growth
#                                 per job shows what a long-running daemon keeps
#   Benchmarks/run.sh callbacks   callbacks delivered per second to a healthy receiver, alone and
#                                 while a dead receiver (accepts, never answers) has a backlog of DEAD
#   Benchmarks/run.sh history     a journal with HISTORY finished jobs and PENDING callbacks to a
#                                 dead receiver: RSS, and the latency of reading old jobs and lists
#   Benchmarks/run.sh replicas    accept and end-to-end throughput with REPLICA_COUNTS (default "1 2 3")
#                                 replicas on PostgreSQL beside the SQLite journal, CPU per job in the
#                                 daemons and in PostgreSQL (from /proc), then takeover
#   Benchmarks/run.sh takeover    time from kill -9 of a replica with a call in flight to the job
#                                 completed by another, KILLS (default 10) times, LEASE (default 5) s
#   Benchmarks/run.sh forwarding  a signed notification posted to the replica that does not own the
#                                 job: time until the owner completed it, SAMPLES (default 20) times
#   Benchmarks/run.sh folders     a fixed-mode folder of FOLDER_ITEMS (default 10000) assets renamed through
#                                 the emulator (listing pages, item renames, probes; zero artificial delay):
#                                 items per second and daemon CPU per 1,000 items (SPEC §11)
#   Benchmarks/run.sh peers       the accept path beside the hand-rolled Node peer (PEER, default
#                                 ../shared/peers/node_accept.js; one process, not durable): the peer, the
#                                 HTTP stack's floors (Benchmarks/HTTPFloor, Hummingbird and bare SwiftNIO:
#                                 body read, fixed 202; and SwiftNIO answering once a row per request
#                                 is committed to SQLite as the journal commits, with its 0.5 ms wait
#                                 for company and without; and Hummingbird answering so), the
#                                 daemon with the journal in memory and with the SQLite journal, in one
#                                 run; ratios to the peer and the floor, p99, CPU per request (issue 17)
#   Benchmarks/run.sh all         throughput, e2e, memory, recovery, callbacks, history, replicas and folders, in that order
# Several modes may be given: Benchmarks/run.sh throughput e2e.
# Environment: DURATION (s, default 10), CONNECTIONS (default 64), JOBS (default 100000),
# BATCHES (default 3), BATCH (jobs per drained batch, default 20000), DEAD (callbacks, default 10000), HISTORY
# (default 1000000), PENDING (default 100000); for soak: SOAK_BATCHES
# (default 5), MAX_AGE (notifications.max_age_seconds, default 7200), FAULTS=1 (the load test's
# injected errors); LOG_LEVEL (daemon, default warning); KEEP=1 keeps the work directory (logs);
# BIN (a folder with both binaries; default: build them here). For e2e: E2E_JOBS (that many jobs
# instead of DURATION seconds of load: comparisons with less noise), CALLGRIND=1 (the daemon under
# valgrind's callgrind, which counts instructions repeatably on a noisy machine: instructions per
# job from the load's start to the last callback; ~40 jobs/s, so use E2E_JOBS=2000).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
JOBS=${JOBS:-100000}
BATCHES=${BATCHES:-3}
BATCH=${BATCH:-20000}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
# BIN: binaries built with the Dockerfile's flags (.ci/nightly passes the image's); by default the
# release build of this checkout.
if [ -z "${BIN:-}" ]; then
  swift build -c release --static-swift-stdlib --product asset-renamer >/dev/null
  swift build -c release --static-swift-stdlib --product cloudinary-emulator >/dev/null
  BIN=.build/release
fi
WORK=$(mktemp -d)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; [ -n "${KEEP:-}" ] && echo "kept $WORK" || rm -rf "$WORK"; }
trap cleanup EXIT

EMULATOR_PORT=19590
DAEMON_PORT=19580
DEAD_PORT=19570
EMULATOR=http://127.0.0.1:$EMULATOR_PORT
DAEMON=http://127.0.0.1:$DAEMON_PORT
SECRET=emulator-secret
TOKEN=bench-token
DIGEST=$(printf %s "$TOKEN" | $BIN/asset-renamer hash-token)
CALLBACK_SECRET=whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=

start_emulator() {
  $BIN/cloudinary-emulator --port $EMULATOR_PORT --invalidation-delay 0 >"$WORK/emulator.log" 2>&1 &
  EMULATOR_PID=$!
  PIDS+=($EMULATOR_PID)
  for _ in $(seq 100); do curl -sf -o /dev/null "$EMULATOR/_emulator/assets" && return 0; sleep 0.1; done
  echo "emulator not up" >&2; return 1
}
emulator() { curl -sf -X POST -H 'Content-Type: application/json' "$EMULATOR/_emulator/$1" ${2:+-d "$2"} >/dev/null; }
# Seeds the emulator with the public IDs Benchmarks/accept.lua sends for RENAMER_RUN=$1 ($2 per wrk
# thread), so those renames succeed. Each wrk run needs a fresh prefix: its counters restart at 1.
seed() {
  emulator assets "{\"public_id\":\"bench/${1}t0-\",\"count\":$2}"
  emulator assets "{\"public_id\":\"bench/${1}t1-\",\"count\":$2}"
}
config() { # $1 = storage path, $2 = retention days, $3 = notifications.max_age_seconds
  cat >"$WORK/renamer.yaml" <<YAML
http: {host: 127.0.0.1, port: $DAEMON_PORT}
clouds:
  main:
    cloud_name: demo
    api_key: "123456789012345"
    api_secret: $SECRET
    upload_prefix: "$EMULATOR"
    delivery_base_url: "$EMULATOR/demo"
    timeout_seconds: 600
    max_concurrent_requests: 32
clients:
  bench:
    token_sha256: $DIGEST
    callback_url_prefixes: ["$EMULATOR/_emulator/callbacks/", "http://127.0.0.1:$DEAD_PORT/"]
    callback_secrets: ["$CALLBACK_SECRET"]
queue: {capacity: 10000000}
storage: {path: "$1", retention_days: ${2:-7}}
notifications: {max_age_seconds: ${3:-7200}}
log: {level: ${LOG_LEVEL:-warning}}
YAML
}
start_daemon() {
  local daemon=$BIN/asset-renamer
  if [ -n "${CALLGRIND:-}" ]; then
    command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind; }
    # Valgrind 3.19 cannot read the Swift 6 toolchain's debug information: symbols only.
    objcopy --strip-debug "$daemon" "$WORK/asset-renamer"
    daemon="valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=$WORK/callgrind.out $WORK/asset-renamer"
  fi
  $daemon serve --config "$WORK/renamer.yaml" >>"$WORK/daemon.log" 2>&1 &
  DAEMON_PID=$!
  PIDS+=($DAEMON_PID)
}
stop_daemon() { kill -9 "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true; }
wait_ready() {
  # 60 s; under callgrind (CALLGRIND=1) start-up takes longer: 300 s.
  for _ in $(seq "$([ -n "${CALLGRIND:-}" ] && echo 30000 || echo 6000)"); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$DAEMON/readyz")" = 200 ] && return 0
    kill -0 "$DAEMON_PID" 2>/dev/null || { echo "daemon exited; see $WORK/daemon.log (KEEP=1 keeps it)" >&2; return 1; }
    sleep 0.01
  done
  echo "daemon not ready" >&2; return 1
}
metric() { curl -s "$DAEMON/metrics" | awk -v name="$1" '$1 == name {v = int($2)} END {print v + 0}'; }
# Jobs that reached a final status (completed, failed or cancelled).
finished() { curl -s "$DAEMON/metrics" | awk '$1 ~ /^renamer_jobs_finished_total[{]/ {v += int($2)} END {print v + 0}'; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
# user and system CPU seconds, bytes written to storage, context switches of every thread: "U S B C"
process_counters() {
  local u s b c
  read -r u s < <(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f %.2f", $14 / hz, $15 / hz}' "/proc/$1/stat")
  b=$(awk '$1 == "write_bytes:" {print $2}' "/proc/$1/io")
  c=$(cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {n += $2} END {print n + 0}')
  echo "$u $s $b $c"
}
# Waits (bounded by $2 seconds) until the command $1 prints at least $3.
wait_for() {
  local deadline=$((SECONDS + $2))
  while [ "$($1)" -lt "$3" ]; do
    [ $SECONDS -lt $deadline ] || { echo "timed out waiting for $1 >= $3 (at $($1))" >&2; return 1; }
    sleep 0.2
  done
}
delivered() { metric 'renamer_callbacks_total{outcome="delivered"}'; }
accepted() { metric renamer_renames_accepted_total; }
RATE=()
bench() { # $1 label, rest: wrk arguments; prints one line and remembers req/s
  local label=$1; shift
  local out rate cpu0 cpu1
  cpu0=$(cpu_seconds "$DAEMON_PID")
  out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@")
  cpu1=$(cpu_seconds "$DAEMON_PID")
  rate=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  RATE+=("$rate")
  printf '%-34s %10s req/s   p50 %8s   p99 %8s   %5s of ceiling   daemon %s µs CPU per request\n' "$label" "$rate" \
    "$(awk '$1=="50%" {print $2}' <<<"$out")" "$(awk '$1=="99%" {print $2}' <<<"$out")" \
    "$(awk -v r="$rate" -v c="${RATE[0]}" 'BEGIN {printf "%d %%", 100 * r / c}')" \
    "$(awk -v n="$(awk '/requests in/ {print $1}' <<<"$out")" -v c="$(echo "$cpu1 - $cpu0" | bc)" 'BEGIN {printf "%.0f", 1e6 * c / n}')"
}
# POST /v1/renames that the daemon refuses after reading the body (400: not JSON): the stack's own
# cost for a POST with a body, without the handler's work (validation, store, queue, job JSON).
refused_lua() {
  cat >"$WORK/refused.lua" <<'LUA'
local token = os.getenv("RENAMER_TOKEN") or "bench-token"
request = function()
  return wrk.format("POST", "/v1/renames", {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"},
    '{"from_public_id":"bench/refused","to_public_id":"bench/refused-new","invalidate":false,"x":[}')
end
LUA
}
# Signed notifications for wrk: N distinct bodies, each with X-Cld-Timestamp and X-Cld-Signature.
notifications_lua() {
  python3 - "$SECRET" >"$WORK/notifications.lua" <<'PY'
import hashlib, sys, time
secret = sys.argv[1]
now = str(int(time.time()))
print("bodies = {}")
for i in range(20000):
    body = ('{"notification_type":"rename","from_public_id":"bench/n%d","to_public_id":"bench/n%d-new",'
            '"resource_type":"image","type":"upload"}') % (i, i)
    signature = hashlib.sha1((body + now + secret).encode()).hexdigest()
    print('bodies[%d] = {%r, "%s"}' % (i + 1, body, signature))
print('local timestamp = "%s"' % now)
print('''local counter = 0
request = function()
  counter = counter + 1
  local entry = bodies[(counter %% #bodies) + 1]
  return wrk.format("POST", "/v1/notifications/cloudinary", {
    ["Content-Type"] = "application/json", ["X-Cld-Timestamp"] = timestamp, ["X-Cld-Signature"] = entry[2],
  }, entry[1])
end''' % ())
PY
}

throughput() {
  echo "== throughput: wrk -t2 -c$CONNECTIONS -d${DURATION}s; $(nproc) cores, $(uname -r)"
  RATE=()
  emulator pause
  config ":memory:"; start_daemon; wait_ready
  bench "healthz (ceiling)" "$DAEMON/healthz"
  refused_lua
  RENAMER_TOKEN=$TOKEN bench "floor: POST refused after body (400)" -s "$WORK/refused.lua" "$DAEMON"
  RENAMER_TOKEN=$TOKEN bench "accept, in memory" -s Benchmarks/accept.lua "$DAEMON"
  notifications_lua
  bench "notifications (signed)" -s "$WORK/notifications.lua" "$DAEMON"
  stop_daemon
  rm -f "$WORK"/journal.sqlite*
  config "$WORK/journal.sqlite"; start_daemon; wait_ready
  RENAMER_TOKEN=$TOKEN bench "accept, journal (fsync)" -s Benchmarks/accept.lua "$DAEMON"
  local commits rows
  commits=$(metric renamer_journal_commit_duration_seconds_count)
  rows=$(metric renamer_journal_job_writes_total)
  echo "  group commit: $rows job rows in $commits commits, $(awk -v r="$rows" -v c="$commits" 'BEGIN {printf "%.1f", r / (c ? c : 1)}') per commit (one fsync each)"
  stop_daemon
  emulator resume
}

e2e() {
  echo "== end to end: rename + probe + callback per job, emulator without delays, journal on"
  emulator assets '{"public_id":"bench/t0-","count":200000}'
  emulator assets '{"public_id":"bench/t1-","count":200000}'
  rm -f "$WORK"/journal.sqlite*
  config "$WORK/journal.sqlite"; start_daemon; wait_ready
  local cpu0 start accepted end cpu1
  local counters0 counters1
  cpu0=$(cpu_seconds "$DAEMON_PID"); counters0=$(process_counters "$DAEMON_PID"); start=$(date +%s.%N)
  [ -z "${CALLGRIND:-}" ] || callgrind_control -i on "$DAEMON_PID" >/dev/null
  if [ -n "${E2E_JOBS:-}" ]; then
    # That many jobs: each wrk thread stops sending after half, and wrk (which would wait out its
    # duration) is stopped once the daemon accepted them all.
    RENAMER_TOKEN=$TOKEN RENAMER_INVALIDATE=true RENAMER_CALLBACK="$EMULATOR/_emulator/callbacks/bench" \
      RENAMER_LIMIT=$((E2E_JOBS / 2)) wrk -t2 -c16 -d120s -s Benchmarks/accept.lua "$DAEMON" >/dev/null &
    local load=$!
    wait_for accepted 120 $((E2E_JOBS / 2 * 2))
    kill -INT "$load" 2>/dev/null || true
    wait "$load" 2>/dev/null || true
  else
    RENAMER_TOKEN=$TOKEN RENAMER_INVALIDATE=true RENAMER_CALLBACK="$EMULATOR/_emulator/callbacks/bench" \
      wrk -t2 -c16 -d"${DURATION}s" -s Benchmarks/accept.lua "$DAEMON" >/dev/null
  fi
  accepted=$(accepted)
  wait_for delivered 600 "$accepted"
  end=$(date +%s.%N); cpu1=$(cpu_seconds "$DAEMON_PID"); counters1=$(process_counters "$DAEMON_PID")
  if [ -n "${CALLGRIND:-}" ]; then
    callgrind_control -d "$DAEMON_PID" >/dev/null
    awk -v n="$accepted" '/^summary:/ {i += $2} END {printf "callgrind: %.0f instructions per job (%d jobs)\n", i / n, n}' "$WORK"/callgrind.out.*
  fi
  awk -v n="$accepted" -v t="$(echo "$end - $start" | bc)" -v c="$(echo "$cpu1 - $cpu0" | bc)" 'BEGIN {
    printf "%d jobs completed and called back in %.1f s: %.0f jobs/s; daemon CPU %.2f s = %.3f CPU-s per 1,000 jobs\n",
      n, t, n / t, c, 1000 * c / n }'
  local completed failed
  completed=$(metric 'renamer_jobs_finished_total{status="completed"}')
  failed=$(curl -s "$DAEMON/metrics" | awk '$1 == "renamer_jobs_finished_total{status=\"failed\"}" {print int($2)}')
  echo "completed $completed, failed ${failed:-0}, emulator callbacks received $(curl -s "$EMULATOR/_emulator/callbacks")"
  echo "journal: $(metric renamer_journal_job_writes_total) job rows in $(metric renamer_journal_commit_duration_seconds_count) commits"
  echo "$counters0 $counters1" | awk -v n="$accepted" '{
    printf "per job: %.0f µs user, %.0f µs system, %.1f KiB written to storage, %.1f context switches\n",
      1e6 * ($5 - $1) / n, 1e6 * ($6 - $2) / n, ($7 - $3) / 1024 / n, ($8 - $4) / n }'
  stop_daemon
  [ -n "${CALLGRIND:-}" ] || e2e_floor "$(echo "1000 * ($cpu1 - $cpu0) / $accepted" | bc -l)"
}

# The HTTP stack's floor under one job's five exchanges, measured after the e2e run: two inbound
# (the accept and the notification, both answered on the event loop: bare SwiftNIO, twice)
# and three outbound through AsyncHTTPClient set up as the daemon's (rename, probe, callback), at
# the run's concurrency (16). $1: the daemon's CPU-s per 1,000 jobs, for the comparison.
e2e_floor() {
  [ -x "$BIN/http-floor" ] || swift build -c release --static-swift-stdlib --product http-floor >/dev/null
  local floor=$BIN/http-floor port=19561 saved=${DAEMON_PID:-} nio outbound
  [ -x "$floor" ] || floor=.build/release/http-floor
  "$floor" nio $port >"$WORK/floor.log" 2>&1 &
  DAEMON_PID=$!
  PIDS+=($DAEMON_PID)
  for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
  CONNECTIONS=16 DURATION=5 RENAMER_TOKEN=alpha-token bench "floor: inbound, nio" -s Benchmarks/accept.lua "http://127.0.0.1:$port" |
    tee "$WORK/floor-nio.txt"
  # The outbound floor against this (cheap) server; the client's own CPU per request.
  "$floor" client "http://127.0.0.1:$port/v1/renames" 5 16 | tee "$WORK/floor-client.txt"
  stop_daemon
  DAEMON_PID=$saved
  nio=$(sed 's/.*daemon \([0-9.]*\) µs.*/\1/' "$WORK/floor-nio.txt")
  outbound=$(sed 's/.*client CPU \([0-9.]*\) µs.*/\1/' "$WORK/floor-client.txt")
  awk -v n="$nio" -v o="$outbound" -v d="$1" 'BEGIN {
    f = 2 * n + 3 * o
    printf "HTTP floor of one job (2 SwiftNIO exchanges, the accept and the notification, + 3 AsyncHTTPClient calls): %.0f µs = %.3f CPU-s per 1,000 jobs; the daemon: %.3f (%.1fx the floor; goal 0.5)\n", f, f / 1000, d, d * 1000 / f }'
}

memory() {
  echo "== memory: RSS idle, with $JOBS queued, after $BATCHES drained batches of $BATCH"
  config ":memory:" 0.0001; start_daemon; wait_ready
  local idle queued
  idle=$(rss_kib "$DAEMON_PID")
  echo "idle: $idle KiB"
  emulator pause
  while [ "$(accepted)" -lt "$JOBS" ]; do
    local run="m$RANDOM"
    seed "$run" 30000
    RENAMER_RUN=$run RENAMER_TOKEN=$TOKEN wrk -t2 -c64 -d2s -s Benchmarks/accept.lua "$DAEMON" >/dev/null
  done
  queued=$(metric renamer_queue_depth)
  awk -v q="$queued" -v r="$(rss_kib "$DAEMON_PID")" -v i="$idle" 'BEGIN {
    printf "%d queued: %d KiB (%.0f MiB), %.0f bytes per job above idle\n", q, r, r / 1024, (r - i) * 1024 / q }'
  emulator resume
  wait_for finished 600 "$(accepted)"
  sleep 12  # finished jobs are purged after retention (8.6 s here), checked every second
  echo "drained and purged: $(rss_kib "$DAEMON_PID") KiB"
  for batch in $(seq "$BATCHES"); do
    local target=$(($(accepted) + BATCH))
    while [ "$(accepted)" -lt "$target" ]; do
      local run="b$batch-$RANDOM"
      seed "$run" 20000
      RENAMER_RUN=$run RENAMER_TOKEN=$TOKEN wrk -t2 -c32 -d1s -s Benchmarks/accept.lua "$DAEMON" >/dev/null
    done
    wait_for finished 600 "$(accepted)"
    sleep 12
    echo "after batch $batch ($(accepted) accepted in all): $(rss_kib "$DAEMON_PID") KiB"
  done
  stop_daemon
}

recovery() {
  echo "== recovery: start to /readyz 200 with $JOBS unfinished jobs in the journal"
  emulator pause
  rm -f "$WORK"/journal.sqlite*
  config "$WORK/journal.sqlite"; start_daemon; wait_ready
  while [ "$(accepted)" -lt "$JOBS" ]; do
    RENAMER_RUN="r$RANDOM" RENAMER_TOKEN=$TOKEN wrk -t2 -c64 -d5s -s Benchmarks/accept.lua "$DAEMON" >/dev/null
  done
  local accepted start end
  accepted=$(accepted)
  stop_daemon
  echo "journal: $(du -h "$WORK/journal.sqlite" | cut -f1) (+ WAL $(du -h "$WORK/journal.sqlite-wal" 2>/dev/null | cut -f1))"
  start=$(date +%s.%N); start_daemon; wait_ready; end=$(date +%s.%N)
  printf 'recovery: %.2f s from start to /readyz 200 with %s unfinished jobs; RSS %s KiB\n' \
    "$(echo "$end - $start" | bc)" "$accepted" "$(rss_kib "$DAEMON_PID")"
  stop_daemon
  emulator resume
}

# Healthy callbacks for $DURATION s of accepted renames (no invalidation): prints the rate at which
# their callbacks were delivered, from the first request to the last delivery.
healthy_callbacks() { # $1 label
  local run="c$RANDOM" before start end count
  seed "$run" 200000
  before=$(delivered)
  local base_accepted
  base_accepted=$(accepted)
  start=$(date +%s.%N)
  RENAMER_RUN=$run RENAMER_TOKEN=$TOKEN RENAMER_CALLBACK="$EMULATOR/_emulator/callbacks/healthy" \
    wrk -t2 -c16 -d"${DURATION}s" -s Benchmarks/accept.lua "$DAEMON" >/dev/null
  count=$(($(accepted) - base_accepted))
  wait_for delivered 600 $((before + count))
  end=$(date +%s.%N)
  awk -v l="$1" -v n="$count" -v t="$(echo "$end - $start" | bc)" 'BEGIN {
    printf "%-40s %d jobs called back in %.1f s: %.0f callbacks/s\n", l, n, t, n / t }'
}

# The dead receiver: a listening socket that never accepts; every attempt waits for its timeout.
dead_receiver() {
  [ -n "${DEAD_PID:-}" ] && return 0
  python3 -c "import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $DEAD_PORT)); s.listen(4096); time.sleep(86400)" &
  DEAD_PID=$!
  PIDS+=($DEAD_PID)
}

# Reads against a long history (SPEC §8: history in storage, memory bounded): a journal seeded
# with HISTORY finished jobs over the retention period and PENDING callbacks to a dead receiver
# (a tenth due, the rest waiting for their retry time); RSS at start and after the reads, and the
# latency of reading an old job and of list pages.
history() {
  local finished=${HISTORY:-1000000} pending=${PENDING:-100000}
  echo "== history: $finished finished jobs in retention, $pending callbacks pending to a dead receiver"
  dead_receiver
  rm -f "$WORK"/history.sqlite*
  config "$WORK/history.sqlite" 7; start_daemon; wait_ready; stop_daemon  # creates the schema
  local seeded=$SECONDS
  python3 Benchmarks/seed-history.py "$WORK/history.sqlite" bench "$finished" "$pending" \
    "http://127.0.0.1:$DEAD_PORT/hooks/history" >"$WORK/old-ids"
  echo "seeded in $((SECONDS - seeded)) s: $(du -h "$WORK/history.sqlite" | cut -f1) journal"
  local started
  started=$(date +%s.%N); start_daemon; wait_ready
  printf 'ready in %.2f s; RSS %s KiB\n' "$(echo "$(date +%s.%N) - $started" | bc)" "$(rss_kib "$DAEMON_PID")"
  sleep 5  # the outbox's due callbacks load and go out to the dead receiver
  echo "after 5 s: RSS $(rss_kib "$DAEMON_PID") KiB; $(curl -s "$DAEMON/metrics" | awk '$1 ~ /^renamer_callbacks_backlog/ {printf "%s %s  ", $1, $2}')"
  # An id deep in the list, for a cursor page in the middle of history.
  local cursor
  cursor=$(sed -n 5p "$WORK/old-ids" | tr -d '\n' | base64 | tr '+/' '-_' | tr -d '=')
  cat >"$WORK/reads.lua" <<LUA
local ids = {}
for line in io.lines("$WORK/old-ids") do ids[#ids + 1] = line end
local paths = {
  job = function() return "/v1/renames/" .. ids[math.random(#ids)] end,
  first = function() return "/v1/renames?limit=20" end,
  deep = function() return "/v1/renames?limit=20&cursor=$cursor" end,
  status = function() return "/v1/renames?status=completed&limit=20" end,
}
local pick = paths[os.getenv("READ") or "job"]
request = function()
  return wrk.format("GET", pick(), {["Authorization"] = "Bearer $TOKEN"})
end
LUA
  RATE=()
  bench "GET /healthz (ceiling)" "$DAEMON/healthz"
  READ=job bench "GET an old job" -s "$WORK/reads.lua" "$DAEMON"
  READ=first bench "GET list, first page (20)" -s "$WORK/reads.lua" "$DAEMON"
  READ=deep bench "GET list, page deep in history" -s "$WORK/reads.lua" "$DAEMON"
  READ=status bench "GET list, status=completed" -s "$WORK/reads.lua" "$DAEMON"
  # Latency under a moderate load (the rows above saturate both cores: their p99 is queueing).
  READ=job CONNECTIONS=4 bench "GET an old job, 4 connections" -s "$WORK/reads.lua" "$DAEMON"
  READ=first CONNECTIONS=4 bench "GET list, 4 connections" -s "$WORK/reads.lua" "$DAEMON"
  READ=status CONNECTIONS=4 bench "GET list by status, 4 connections" -s "$WORK/reads.lua" "$DAEMON"
  echo "after the reads: RSS $(rss_kib "$DAEMON_PID") KiB (peak $(awk '/VmHWM/ {print $2}' "/proc/$DAEMON_PID/status") KiB)"
  stop_daemon
}

callbacks() {
  local dead=${DEAD:-10000}
  echo "== callbacks: healthy receiver alone, then beside a dead one (accepts, never answers) with a backlog of $dead"
  dead_receiver
  config ":memory:"; start_daemon; wait_ready
  healthy_callbacks "no backlog"
  local run="d$RANDOM" target
  seed "$run" "$dead"
  target=$(($(accepted) + dead))
  while [ "$(accepted)" -lt "$target" ]; do
    RENAMER_RUN=$run RENAMER_TOKEN=$TOKEN RENAMER_CALLBACK="http://127.0.0.1:$DEAD_PORT/hooks" \
      wrk -t2 -c16 -d1s -s Benchmarks/accept.lua "$DAEMON" >/dev/null
    run="d$RANDOM"; seed "$run" "$dead"
  done
  wait_for finished 600 "$(accepted)"
  echo "dead receiver's backlog: $(curl -s "$DAEMON/metrics" | awk '$1 ~ /^renamer_callbacks_backlog/ {printf "%s %s  ", $1, $2}')"
  healthy_callbacks "dead receiver with a backlog of $dead"
  stop_daemon
}

soak() {
  local batches=${SOAK_BATCHES:-5} max_age=${MAX_AGE:-7200}
  echo "== soak: $batches batches of $BATCH full jobs, each drained and purged; notifications.max_age_seconds $max_age"
  if [ -n "${FAULTS:-}" ]; then  # as the load test: transient errors, probes served for 0.3 s
    emulator settings '{"invalidation_delay_seconds":0.3}'
    for fault in rename:500:0.09 rename:429:0.01 lookup:503:0.1 delivery:502:0.1; do
      IFS=: read -r operation status probability <<<"$fault"
      emulator faults "{\"operation\":\"$operation\",\"status\":$status,\"probability\":$probability}"
    done
  fi
  rm -f "$WORK"/journal.sqlite*
  config "$WORK/journal.sqlite" 0.0001 "$max_age"; start_daemon; wait_ready
  local previous current before
  previous=$(rss_kib "$DAEMON_PID")
  echo "idle: $previous KiB"
  for batch in $(seq "$batches"); do
    before=$(accepted)
    local target=$((before + BATCH))
    while [ "$(accepted)" -lt "$target" ]; do
      local run="s$batch-$RANDOM"  # fresh public IDs per wrk run (its counters restart), seeded so renames succeed
      seed "$run" 10000
      RENAMER_RUN=$run RENAMER_TOKEN=$TOKEN RENAMER_INVALIDATE=true RENAMER_CALLBACK="$EMULATOR/_emulator/callbacks/bench" \
        wrk -t2 -c16 -d2s -s Benchmarks/accept.lua "$DAEMON" >/dev/null
    done
    wait_for delivered 600 "$(accepted)"
    sleep 12  # finished jobs are purged after retention (8.6 s here), checked every second
    current=$(rss_kib "$DAEMON_PID")
    awk -v b="$batch" -v a="$(accepted)" -v c="$current" -v p="$previous" -v n="$(($(accepted) - before))" \
      -v done="$(metric 'renamer_jobs_finished_total{status="completed"}')" 'BEGIN {
      printf "after batch %d (%d jobs in all, %d completed): %d KiB, %+d KiB (%+.0f bytes per job)\n", b, a, done, c, c - p, (c - p) * 1024 / n }'
    previous=$current
  done
  stop_daemon
}

# ---- Several replicas on PostgreSQL (SPEC §12) ----
# A throwaway cluster (Tests/postgres-cluster: initdb + pg_ctl on a free port), a fresh database per
# measurement, replicas on ports 19581.. with storage.kind postgres.
PG_DIR=""
PG_PORT=""
REPLICA_PIDS=()
start_postgres() {
  [ -n "$PG_DIR" ] && return 0
  chmod 755 "$WORK"
  PG_DIR="$WORK/pg"
  Tests/postgres-cluster start "$PG_DIR" >/dev/null
  PG_PORT=$(cat "$PG_DIR/port")
  PIDS+=()  # the cluster is stopped by stop_postgres (EXIT trap)
  trap 'stop_postgres; cleanup' EXIT
}
stop_postgres() { [ -n "$PG_DIR" ] && Tests/postgres-cluster stop "$PG_DIR" || true; }
fresh_database() { # prints the URL of a new database
  local name="bench_$RANDOM$RANDOM"
  Tests/postgres-cluster createdb "$PG_DIR" "$name" | tail -1
}
# CPU seconds of the whole cluster: the postmaster with its exited children, plus live backends.
postgres_cpu() {
  local master
  master=$(head -1 "$PG_DIR/data/postmaster.pid")
  { awk '{print $14 + $15 + $16 + $17}' "/proc/$master/stat"
    for child in $(pgrep -P "$master"); do awk '{print $14 + $15}' "/proc/$child/stat" 2>/dev/null; done
  } | awk -v hz="$(getconf CLK_TCK)" '{t += $1} END {printf "%.2f", t / hz}'
}
replica_config() { # $1 index, $2 database URL, $3 lease seconds
  local port=$((19581 + $1))
  sed -e "s|port: $DAEMON_PORT}|port: $port}|" -e "s|^storage: .*|storage: {kind: postgres, url: \"$2\", lease_seconds: $3, pool_size: 10}|" \
    "$WORK/renamer.yaml" >"$WORK/replica$1.yaml"
  echo "public_base_url: http://127.0.0.1:$port" >>"$WORK/replica$1.yaml"
}
start_replica() { # $1 index
  $BIN/asset-renamer serve --config "$WORK/replica$1.yaml" >>"$WORK/replica$1.log" 2>&1 &
  REPLICA_PIDS[$1]=$!
  PIDS+=($!)
  for _ in $(seq 3000); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$((19581 + $1))/readyz")" = 200 ] && return 0
    sleep 0.01
  done
  echo "replica $1 not ready" >&2; return 1
}
start_replicas() { # $1 count, $2 database URL, $3 lease seconds
  config "$WORK/unused.sqlite"
  REPLICA_PIDS=()
  for i in $(seq 0 $(($1 - 1))); do replica_config "$i" "$2" "$3"; start_replica "$i"; done
}
stop_replicas() { for pid in "${REPLICA_PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; done; REPLICA_PIDS=(); }
replicas_cpu() { local t=0; for pid in "${REPLICA_PIDS[@]}"; do t=$(echo "$t + $(cpu_seconds "$pid")" | bc); done; echo "$t"; }
replicas_metric() { # sum of a metric over the replicas
  local t=0
  for i in "${!REPLICA_PIDS[@]}"; do
    t=$((t + $(curl -s "http://127.0.0.1:$((19581 + i))/metrics" | awk -v name="$1" '$1 == name {v = int($2)} END {print v + 0}')))
  done
  echo "$t"
}
replicas_delivered() { replicas_metric 'renamer_callbacks_total{outcome="delivered"}'; }
# wrk against every replica at once (connections split), in the background; waits; prints the summed req/s.
wrk_replicas() { # $1 count, $2 connections in all, $3 duration, rest: environment for accept.lua as NAME=VALUE
  local count=$1 connections=$2 duration=$3; shift 3
  local outs=()
  for i in $(seq 0 $((count - 1))); do
    env "$@" RENAMER_RUN="${RUN_PREFIX:-}r$i-" RENAMER_TOKEN=$TOKEN \
      wrk -t1 -c$((connections / count)) -d"${duration}s" -s Benchmarks/accept.lua "http://127.0.0.1:$((19581 + i))" >"$WORK/wrk$i.out" &
    outs+=($!)
  done
  wait "${outs[@]}"
  cat "$WORK"/wrk*.out | awk '/Requests\/sec/ {r += $2} END {printf "%.0f", r}'
  rm -f "$WORK"/wrk*.out
}

replicas() {
  echo "== several replicas on PostgreSQL $(Tests/postgres-cluster 2>&1 | head -0; ls -d /usr/lib/postgresql/*/ | xargs -n1 basename | sort -V | tail -1) (fsync on; throwaway cluster), beside SQLite; $(nproc) cores"
  start_postgres
  emulator pause
  rm -f "$WORK"/journal.sqlite*
  config "$WORK/journal.sqlite"; start_daemon; wait_ready
  local sqlite_rate cpu0 cpu1
  cpu0=$(cpu_seconds "$DAEMON_PID")
  sqlite_rate=$(RENAMER_RUN=sq RENAMER_TOKEN=$TOKEN wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s Benchmarks/accept.lua "$DAEMON" | awk '/Requests\/sec/ {printf "%.0f", $2}')
  cpu1=$(cpu_seconds "$DAEMON_PID")
  printf '%-32s %8s req/s   daemon %6.0f µs CPU per accept\n' "accept, SQLite journal" "$sqlite_rate" \
    "$(echo "1000000 * ($cpu1 - $cpu0) / ($sqlite_rate * $DURATION)" | bc -l)"
  stop_daemon
  for count in ${REPLICA_COUNTS:-1 2 3}; do
    start_replicas "$count" "$(fresh_database)" 30
    local d0 p0 rate d1 p1
    d0=$(replicas_cpu); p0=$(postgres_cpu)
    rate=$(RUN_PREFIX=a$count wrk_replicas "$count" "$CONNECTIONS" "$DURATION")
    d1=$(replicas_cpu); p1=$(postgres_cpu)
    awk -v n="$count" -v r="$rate" -v s="$sqlite_rate" -v d="$(echo "$d1 - $d0" | bc)" -v p="$(echo "$p1 - $p0" | bc)" -v t="$DURATION" 'BEGIN {
      jobs = r * t
      printf "accept, PostgreSQL, %d replica(s)    %8.0f req/s (%3.0f %% of SQLite)   daemons %4.0f µs + PostgreSQL %4.0f µs CPU per accept; one database core: %.0f accepts/s\n",
        n, r, 100 * r / s, 1e6 * d / jobs, 1e6 * p / jobs, jobs / p }'
    stop_replicas
  done
  emulator resume
  e2e  # the SQLite journal's end-to-end figure, for the side-by-side
  local count
  for count in ${REPLICA_COUNTS:-1 2 3}; do
    start_replicas "$count" "$(fresh_database)" 30
    for i in $(seq 0 $((count - 1))); do emulator assets "{\"public_id\":\"bench/e${count}r$i-t0-\",\"count\":100000}"; done
    local d0 p0 start accepted end d1 p1
    d0=$(replicas_cpu); p0=$(postgres_cpu); start=$(date +%s.%N)
    RUN_PREFIX=e$count wrk_replicas "$count" 16 "$DURATION" RENAMER_INVALIDATE=true RENAMER_CALLBACK="$EMULATOR/_emulator/callbacks/bench" >/dev/null
    accepted=$(replicas_metric renamer_renames_accepted_total)
    wait_for replicas_delivered 600 "$accepted"
    end=$(date +%s.%N); d1=$(replicas_cpu); p1=$(postgres_cpu)
    awk -v n="$count" -v j="$accepted" -v t="$(echo "$end - $start" | bc)" -v d="$(echo "$d1 - $d0" | bc)" -v p="$(echo "$p1 - $p0" | bc)" 'BEGIN {
      printf "e2e, PostgreSQL, %d replica(s): %d jobs in %.1f s = %.0f jobs/s; CPU per 1,000 jobs: daemons %.3f s, PostgreSQL %.3f s; one database core: %.0f jobs/s\n",
        n, j, t, j / t, 1000 * d / j, 1000 * p / j, j / p }'
    stop_replicas
  done
  takeover
  forwarding
}

# Takeover after kill -9: a job's call hangs at the paused emulator on replica 0, replica 0 is
# killed, and the time until replica 1 has completed the job (takeover, reconciliation, rename) is
# measured, KILLS times. Goal: at most lease_seconds + 5 s every time.
takeover() {
  local lease=${LEASE:-5} kills=${KILLS:-10}
  start_postgres
  start_replicas 2 "$(fresh_database)" "$lease"
  emulator assets "{\"public_id\":\"bench/takeover-\",\"count\":$kills}"
  local times=()
  for round in $(seq 0 $((kills - 1))); do
    emulator pause
    local id
    id=$(curl -s -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' http://127.0.0.1:19581/v1/renames \
      -d "{\"from_public_id\":\"bench/takeover-$round\",\"to_public_id\":\"bench/taken-$round\",\"invalidate\":false}" |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
    for _ in $(seq 500); do
      [ "$(curl -s "$EMULATOR/_emulator/in-flight" | python3 -c 'import json, sys; print(json.load(sys.stdin)["calls"])')" -ge 1 ] && break
      sleep 0.01
    done
    local killed_at done_at
    kill -9 "${REPLICA_PIDS[0]}"; wait "${REPLICA_PIDS[0]}" 2>/dev/null || true
    killed_at=$(date +%s.%N)
    emulator resume
    while [ "$(curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:19582/v1/renames/$id" | python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])')" != completed ]; do
      sleep 0.05
      [ "$(echo "$(date +%s.%N) - $killed_at > 120" | bc)" = 1 ] && { echo "takeover round $round: not completed after 120 s" >&2; break; }
    done
    done_at=$(date +%s.%N)
    times+=("$(echo "$done_at - $killed_at" | bc)")
    start_replica 0
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v lease="$lease" -v n="$kills" '{t[NR] = $1} END {
    printf "takeover after kill -9 (lease_seconds %d, %d kills): p50 %.2f s, max %.2f s (goal: at most %d s)\n", lease, n, t[int((NR + 1) / 2)], t[NR], lease + 5 }'
  stop_replicas
}

# A notification posted to the replica that does not own the job: the time until the owner has
# completed the job (forwarded through the database, polled every 200 ms), SAMPLES times.
forwarding() {
  local samples=${SAMPLES:-20}
  start_postgres
  emulator settings '{"sends_notifications":false}'
  emulator assets "{\"public_id\":\"bench/fwd-\",\"count\":$samples}"
  config "$WORK/unused.sqlite"
  sed -i 's|^    max_concurrent_requests: 32$|    max_concurrent_requests: 32\n    invalidation: {method: notification, max_wait_seconds: 120}|' "$WORK/renamer.yaml"
  REPLICA_PIDS=()
  local url
  url=$(fresh_database)
  for i in 0 1; do replica_config "$i" "$url" 30; start_replica "$i"; done
  local times=()
  for round in $(seq 0 $((samples - 1))); do
    local id
    id=$(curl -s -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' http://127.0.0.1:19581/v1/renames \
      -d "{\"from_public_id\":\"bench/fwd-$round\",\"to_public_id\":\"bench/fwd-new-$round\",\"invalidate\":true}" |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
    while [ "$(curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:19582/v1/renames/$id" | python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])')" != confirming_invalidation ]; do
      sleep 0.02
    done
    local posted_at done_at
    posted_at=$(date +%s.%N)
    python3 - "$SECRET" "$round" "$id" <<'PY'
import hashlib, sys, time, urllib.request
secret, n, job = sys.argv[1], sys.argv[2], sys.argv[3]
body = ('{"notification_type":"rename","from_public_id":"bench/fwd-%s","to_public_id":"bench/fwd-new-%s",'
        '"resource_type":"image","type":"upload"}') % (n, n)
ts = str(int(time.time()))
signature = hashlib.sha1((body + ts + secret).encode()).hexdigest()
request = urllib.request.Request("http://127.0.0.1:19582/v1/notifications/cloudinary?cloud=main&job=" + job, data=body.encode(),
    headers={"Content-Type": "application/json", "X-Cld-Timestamp": ts, "X-Cld-Signature": signature})
urllib.request.urlopen(request).read()
PY
    while [ "$(curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:19582/v1/renames/$id" | python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])')" != completed ]; do
      sleep 0.01
    done
    done_at=$(date +%s.%N)
    times+=("$(echo "$done_at - $posted_at" | bc)")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v n="$samples" '{t[NR] = $1} END {
    printf "notification at a non-owner to the job completed by its owner (%d samples): p50 %.0f ms, max %.0f ms (goal: within 1 s)\n", n, 1000 * t[int((NR + 1) / 2)], 1000 * t[NR] }'
  stop_replicas
  emulator settings '{"sends_notifications":true}'
}

peers() {
  local peer=${PEER:-../shared/peers/node_accept.js} port=19560 saved
  command -v node >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs; }
  [ -f "$peer" ] || { echo "no Node peer at $peer (set PEER)" >&2; return 1; }
  echo "== peers: accept, wrk -t2 -c$CONNECTIONS -d${DURATION}s, a unique public ID per request; $(nproc) cores; node $(node --version)"
  RATE=()
  emulator pause
  node "$peer" $port >"$WORK/peer.log" 2>&1 &
  local peer_pid=$!
  PIDS+=($peer_pid)
  for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
  saved=${DAEMON_PID:-}
  DAEMON_PID=$peer_pid
  RENAMER_TOKEN=alpha-token bench "Node peer (1 process, not durable)" -s Benchmarks/accept.lua "http://127.0.0.1:$port"
  kill -9 "$peer_pid"; wait "$peer_pid" 2>/dev/null || true
  # The floors: the HTTP stack alone reading the body and answering a fixed 202 (Benchmarks/HTTPFloor).
  [ -x "$BIN/http-floor" ] || swift build -c release --static-swift-stdlib --product http-floor >/dev/null
  local floor=$BIN/http-floor stack
  [ -x "$floor" ] || floor=.build/release/http-floor
  # nio-sqlite: durable, with the journal's 0.5 ms wait for company before a commit, then without;
  # hummingbird-sqlite: durable on the daemon's framework, with the wait.
  for stack in hummingbird nio nio-sqlite:500 nio-sqlite:0 hummingbird-sqlite:500; do
    rm -f "$WORK"/floor.sqlite*
    "$floor" ${stack%%:*} $((port + 1)) "$WORK/floor.sqlite" ${stack#*:} >"$WORK/floor.log" 2>&1 &
    peer_pid=$!
    PIDS+=($peer_pid)
    for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$((port + 1))/healthz" && break; sleep 0.1; done
    DAEMON_PID=$peer_pid
    local what="body read, fixed 202"
    [ "${stack%%:*}" != "${stack#*:}" ] && what="row committed after ${stack#*:} µs, fixed 202"
    RENAMER_TOKEN=alpha-token bench "${stack%%:*} floor ($what)" \
      -s Benchmarks/accept.lua "http://127.0.0.1:$((port + 1))"
    kill -9 "$peer_pid"; wait "$peer_pid" 2>/dev/null || true
    # The durable floors leave ~100 MB of dirty pages; written back while the daemon runs, they
    # took CPU from it (35 µs per request in memory instead of 30).
    rm -f "$WORK"/floor.sqlite*
    sync
  done
  DAEMON_PID=$saved
  config ":memory:"; start_daemon; wait_ready
  RENAMER_TOKEN=$TOKEN RENAMER_RUN=m bench "asset-renamer, journal in memory" -s Benchmarks/accept.lua "$DAEMON"
  stop_daemon
  rm -f "$WORK"/journal.sqlite*
  config "$WORK/journal.sqlite"; start_daemon; wait_ready
  RENAMER_TOKEN=$TOKEN RENAMER_RUN=j bench "asset-renamer, SQLite journal" -s Benchmarks/accept.lua "$DAEMON"
  stop_daemon
  emulator resume
  awk -v p="${RATE[0]}" -v f="${RATE[1]}" -v n="${RATE[2]}" -v d="${RATE[3]}" -v z="${RATE[4]}" -v h="${RATE[5]}" -v m="${RATE[6]}" -v j="${RATE[7]}" 'BEGIN {
    printf "ratios to the Node peer: journal in memory %.2f (goal >= 1.0), SQLite journal %.2f (goal >= 0.8); Hummingbird floor %.2f, NIO floor %.2f, NIO + SQLite floor %.2f (no wait: %.2f), Hummingbird + SQLite floor %.2f\n", m / p, j / p, f / p, n / p, d / p, z / p, h / p
    printf "ratios to the Hummingbird floor: journal in memory %.2f, SQLite journal %.2f; SQLite journal to the NIO + SQLite floor %.2f (no wait: %.2f), to the Hummingbird + SQLite floor %.2f\n", m / f, j / f, j / d, j / z, j / h }'
}

# One job's field from its JSON (the first occurrence: the job's own, not its callback's).
json_field() { grep -o "\"$1\":\"[^\"]*\"" | head -1 | sed 's/.*:"\(.*\)"/\1/'; }

folders() {
  local n=${FOLDER_ITEMS:-10000} id status cpu0 cpu1 t0 t1 body
  # A folder of its own per run: an earlier run's targets would collide.
  local folder="bench/folder-$(date +%s%N)"
  curl -sf -X POST -H 'Content-Type: application/json' "$EMULATOR/_emulator/settings" -d '{"folder_mode":"fixed"}' >/dev/null
  emulator assets "{\"public_id\":\"$folder/a\",\"count\":$n}"
  config "$WORK/folders.sqlite"
  sed -i 's/^    max_concurrent_requests: 32$/    max_concurrent_requests: 32\n    folder_mode: fixed\n    admin_api_max_requests_per_hour: 2000/' "$WORK/renamer.yaml"
  start_daemon
  wait_ready
  cpu0=$(cpu_seconds "$DAEMON_PID")
  t0=$(date +%s.%N)
  id=$(curl -s -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$DAEMON/v1/folder-renames" \
    -d "{\"from_folder\":\"$folder\",\"to_folder\":\"$folder-moved\"}" | json_field id)
  local deadline=$((SECONDS + 900))
  while :; do
    body=$(curl -s -H "Authorization: Bearer $TOKEN" "$DAEMON/v1/folder-renames/$id")
    status=$(printf %s "$body" | json_field status)
    case "$status" in completed | failed | cancelled) break ;; esac
    [ $SECONDS -lt $deadline ] || { echo "folder rename $id not final after 900 s: $body" >&2; return 1; }
    sleep 0.05
  done
  t1=$(date +%s.%N)
  cpu1=$(cpu_seconds "$DAEMON_PID")
  printf 'folder rename (fixed mode, %d items, SQLite journal): %s in %.2f s: %.0f items/s; daemon CPU %.0f ms per 1,000 items; RSS %d MiB\n' \
    "$n" "$status" "$(echo "$t1 - $t0" | bc)" "$(echo "$n / ($t1 - $t0)" | bc -l)" "$(echo "($cpu1 - $cpu0) * 1000000 / $n" | bc -l)" \
    "$(($(rss_kib "$DAEMON_PID") / 1024))"
  printf '  result: %s\n' "$(printf %s "$body" | grep -o '"result":{[^}]*}')"
  stop_daemon
  curl -sf -X POST -H 'Content-Type: application/json' "$EMULATOR/_emulator/settings" -d '{"folder_mode":"dynamic"}' >/dev/null
}

start_emulator
for mode in "${@:-throughput}"; do
  case "$mode" in
  throughput) throughput ;;
  e2e) e2e ;;
  memory) memory ;;
  recovery) recovery ;;
  soak) soak ;;
  callbacks) callbacks ;;
  history) history ;;
  replicas) replicas ;;
  takeover) takeover ;;
  forwarding) forwarding ;;
  folders) folders ;;
  peers) peers ;;
  all) throughput; e2e; memory; recovery; callbacks; history; replicas; folders ;;
  *) echo "usage: $0 MODE... (throughput|e2e|memory|recovery|soak|callbacks|history|replicas|takeover|forwarding|folders|peers|all)" >&2; exit 2 ;;
  esac
done
