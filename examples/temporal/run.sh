#!/usr/bin/env bash
# Seed 004's Temporal story with one command: a Temporal dev server (in
# memory, on free loopback ports), `activity-host temporal` serving the users
# component, and a Python worker for UserWorkflow, which runs twice with the
# same input. The host's log lines show the second execution's activities as
# hits. Everything is stopped at the end.
#
# Usage: examples/temporal/run.sh [STORE]    (memory by default, or redis://…)
# Called by scripts/example.sh temporal.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
cd "$root"
store="${1:-memory}"

scripts/ensure-temporal.sh
component="$(scripts/build-guests.sh users | grep '/users.wasm$')"
cargo build -q -p activity-host
tools=target/tools/temporal/bin
free_port() { "$tools/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port="$(free_port)"
address="127.0.0.1:$port"
scratch="$(mktemp -d)"
server="" worker=""
# The worker first (its shutdown talks to the server), then the server.
cleanup() {
    if [ -n "$worker" ]; then kill "$worker" 2>/dev/null || true; wait "$worker" 2>/dev/null || true; fi
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$scratch"
}
trap cleanup EXIT
# Waits up to 30 s for command "$@" to succeed, unless process $pid dies.
wait_for() {
    local pid="$1" what="$2"; shift 2
    for _ in $(seq 300); do
        "$@" && return 0
        kill -0 "$pid" 2>/dev/null || { echo "run.sh: $what exited" >&2; return 1; }
        sleep 0.1
    done
    echo "run.sh: $what did not start within 30 s" >&2
    return 1
}

echo "== Temporal dev server on $address" >&2
HOME="$scratch" "$tools/temporal" server start-dev --headless --ip 127.0.0.1 \
    --port "$port" --http-port "$(free_port)" --metrics-port "$(free_port)" \
    --dynamic-config-value frontend.enableServerVersionCheck=false \
    --log-level error >/dev/null 2>&1 &
server=$!
wait_for "$server" "the Temporal dev server" \
    "$tools/temporal" operator namespace describe -n default --address "$address" >/dev/null 2>&1

echo "== activity-host temporal --task-queue my-queue --store $store (its log below)" >&2
log="$scratch/worker.log"
target/debug/activity-host temporal --address "$address" --task-queue my-queue \
    --store "$store" "$component" 2> >(tee "$log" >&2) &
worker=$!
wait_for "$worker" "activity-host temporal" grep -q "temporal worker polling" "$log"

echo "== UserWorkflow, twice with user 123 (examples/temporal/run.py)" >&2
cd "$here"
"$root/$tools/python" run.py --address "$address" --task-queue my-queue
