#!/usr/bin/env bash
# Seed 004's Temporal story with one command: a Temporal dev server (in
# memory, on free loopback ports), `activity-host temporal` serving the users
# component, and a Python worker for UserWorkflow, which runs twice with the
# same input. The host's log lines show the second execution's activities as
# hits. Everything is stopped at the end.
#
# Usage: examples/temporal/run.sh [STORE]    (memory by default, or redis://…)
#        examples/temporal/run.sh --bench   (bench.py instead of the story:
#                                           medians and ratios, release build)
# Called by scripts/example.sh temporal.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
cd "$root"
if [ "${1:-}" = --bench ]; then
    # Release build; the typed component's slow function; no per-call lines.
    store=memory profile=release script=bench.py guests=(users typed)
    export RUST_LOG="${RUST_LOG:-warn,activity_host::temporal=info}"
    cargo build -q --release -p activity-host-cli
else
    store="${1:-memory}" profile=debug script=run.py guests=(users)
    cargo build -q -p activity-host-cli
fi

scripts/ensure-temporal.sh
components=()
while read -r built; do components+=("$built"); done < <(scripts/build-guests.sh "${guests[@]}")
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
"target/$profile/activity-host" temporal --address "$address" --task-queue my-queue \
    --store "$store" "${components[@]}" 2> >(tee "$log" >&2) &
worker=$!
wait_for "$worker" "activity-host temporal" grep -q "temporal worker polling" "$log"

echo "== examples/temporal/$script" >&2
cd "$here"
"$root/$tools/python" "$script" --address "$address" --task-queue my-queue
