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
home="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$home"
}
trap cleanup EXIT

echo "== Temporal dev server on $address" >&2
HOME="$home" "$tools/temporal" server start-dev --headless --ip 127.0.0.1 \
    --port "$port" --http-port "$(free_port)" --metrics-port "$(free_port)" \
    --dynamic-config-value frontend.enableServerVersionCheck=false \
    --log-level error >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 200); do
    "$tools/temporal" operator namespace describe -n default --address "$address" \
        >/dev/null 2>&1 && break
    sleep 0.1
done

echo "== activity-host temporal --task-queue my-queue --store $store (its log below)" >&2
target/debug/activity-host temporal --address "$address" --task-queue my-queue \
    --store "$store" "$component" &
pids+=($!)
sleep 1

echo "== UserWorkflow, twice with user 123 (examples/temporal/run.py)" >&2
cd "$here"
"$root/$tools/python" run.py --address "$address" --task-queue my-queue
