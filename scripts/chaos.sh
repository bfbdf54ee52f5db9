#!/usr/bin/env bash
# Load and chaos: drives a worker (activity-host serve on Redis) with wrk
# while Redis is killed, restarted, frozen and thawed, and a trapping
# component is hammered; then reports requests served, errors, wrong results
# and the worker's RSS growth, and fails if any result was wrong, any call
# failed other than the deliberate traps, or the worker stopped serving.
#
# Usage: scripts/chaos.sh [SECONDS]     (default 20; stops by itself)
# Installs wrk and redis-server from Debian if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_TOTAL="${1:-20}"
log() { echo "chaos: $*" >&2; }

scripts/ensure-redis.sh
if ! command -v wrk >/dev/null; then
    log "installing wrk (Debian)"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq >&2 || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >&2
fi

cargo build -q -p activity-host-cli
HOST=target/debug/activity-host
DIR=$(mktemp -d)
cp "$(scripts/build-guests.sh users)" "$(scripts/build-guests.sh typed)" "$DIR/"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
REDIS_PORT=$(free_port)
WORKER_PORT=$(free_port)
REDIS_PID=""
WORKER_PID=""
CHAOS_PID=""
cleanup() {
    [ -n "$CHAOS_PID" ] && kill "$CHAOS_PID" 2>/dev/null
    [ -f "$DIR/redis.pid" ] && REDIS_PID=$(cat "$DIR/redis.pid")
    [ -n "$REDIS_PID" ] && kill -CONT "$REDIS_PID" 2>/dev/null && kill "$REDIS_PID" 2>/dev/null
    [ -n "$WORKER_PID" ] && kill "$WORKER_PID" 2>/dev/null
    rm -rf "$DIR"
}
trap cleanup EXIT

start_redis() {
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --loglevel warning >/dev/null &
    REDIS_PID=$!
    for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return; sleep 0.1; done
    log "redis-server did not start"; exit 1
}
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$WORKER_PID/status"; }

start_redis
"$HOST" serve --dir "$DIR" --store "redis://127.0.0.1:$REDIS_PORT" \
    --listen "127.0.0.1:$WORKER_PORT" --compile-cache off 2>"$DIR/worker.log" &
WORKER_PID=$!
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$WORKER_PORT/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fs "http://127.0.0.1:$WORKER_PORT/readyz" >/dev/null || { log "worker not ready"; cat "$DIR/worker.log" >&2; exit 1; }
RSS_START=$(rss_kib)

# The chaos, spread over the run: Redis killed, restarted, frozen, thawed.
step=$(( SECONDS_TOTAL * 1000 / 5 ))
(
    sleep_ms() { sleep "$(awk "BEGIN { print $1 / 1000 }")"; }
    sleep_ms "$step"; log "kill -9 redis-server"; kill -9 "$REDIS_PID"
    sleep_ms "$step"; log "restart redis-server"; start_redis
    echo "$REDIS_PID" >"$DIR/redis.pid"
    sleep_ms "$step"; log "freeze redis-server (SIGSTOP)"; kill -STOP "$REDIS_PID"
    sleep_ms "$step"; log "thaw redis-server (SIGCONT)"; kill -CONT "$REDIS_PID"
) &
CHAOS_PID=$!

log "wrk for ${SECONDS_TOTAL}s: fetch-user over 50 ids, 10% divide(0) traps"
report=$(wrk -t4 -c4 -d"${SECONDS_TOTAL}s" --timeout 10s -s scripts/chaos/load.lua \
    "http://127.0.0.1:$WORKER_PORT" 2>"$DIR/wrk.err")
wait "$CHAOS_PID" || { log "a chaos step failed"; exit 1; }
CHAOS_PID=""
REDIS_PID=$(cat "$DIR/redis.pid")
echo "$report" | grep -E "Requests/sec|Latency " || true
line=$(echo "$report" | grep '^CHAOS ')
requests=$(echo "$line" | sed 's/.*requests=\([0-9]*\).*/\1/')
wrong=$(echo "$line" | sed 's/.*wrong=\([0-9]*\).*/\1/')
traps=$(echo "$line" | sed 's/.*traps=\([0-9]*\).*/\1/')
unexpected=$(echo "$line" | sed 's/.*unexpected=\([0-9]*\).*/\1/')
sockets=$(echo "$line" | sed 's/.*socket_errors=\([0-9]*\).*/\1/')

alive=yes
curl -fs "http://127.0.0.1:$WORKER_PORT/healthz" >/dev/null || alive=no
RSS_END=$(rss_kib 2>/dev/null || echo 0)
stats=$(curl -fs "http://127.0.0.1:$WORKER_PORT/metrics" | grep -E '^activity_host_calls_total' | grep -v ' 0$' || true)

echo
echo "requests served       $requests"
echo "wrong results         $wrong (must be 0)"
echo "deliberate traps      $traps (divide(0): 500, nothing cached)"
echo "unexpected errors     $((unexpected + sockets)) (must be 0)"
echo "worker alive          $alive"
echo "worker RSS            $((RSS_START / 1024)) MiB -> $((RSS_END / 1024)) MiB ($(( (RSS_END - RSS_START) / 1024 )) MiB growth)"
echo "calls by outcome:"
echo "$stats" | sed 's/^/  /'
if [ -s "$DIR/wrk.err" ]; then echo "first wrk complaints:"; head -5 "$DIR/wrk.err"; fi

[ "$wrong" -eq 0 ] && [ "$((unexpected + sockets))" -eq 0 ] && [ "$alive" = yes ] && [ "$requests" -gt 0 ] || {
    log "FAILED"; tail -20 "$DIR/worker.log" >&2; exit 1; }
log "OK"
