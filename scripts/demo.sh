#!/usr/bin/env bash
# The demo: builds the host and the example activities, then tells a short
# story of calls on the in-memory actor store, with the host's log lines.
# Needs nothing but this repository and a Rust toolchain; everything else is
# installed on demand by scripts/build-guests.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Building the host (cargo build -p activity-host-cli)"
cargo build -q -p activity-host-cli
HOST=target/debug/activity-host

step "Building the example activities (scripts/build-guests.sh)"
USERS=$(scripts/build-guests.sh users)

step "What the users activity exports, and how each export is cached"
echo "\$ activity-host inspect $USERS"
"$HOST" inspect "$USERS"

step "Calls in one worker process, on the in-memory store"
cat <<'TXT'
fetch-user(123) twice: a miss that runs the body, then a hit that does not.
fetch-user(456): other inputs, another miss.
calculate(21) twice: cached by inputs and the component's code.
send-email twice: no-cache, so it runs every time (bypass).
Guest lines ("users: ran ...") show when a body really ran.
TXT
set -x
"$HOST" call "$USERS" \
    'fetch-user(123)' 'fetch-user(123)' 'fetch-user(456)' \
    'calculate(21)' 'calculate(21)' \
    'send-email("ada@example.com")' 'send-email("ada@example.com")'
set +x

step "The same component in a worker (activity-host serve), called over HTTP"
DIR=$(mktemp -d)
cp "$USERS" "$DIR/"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$HOST" serve --dir "$DIR" --listen "127.0.0.1:$PORT" 2>"$DIR/worker.log" &
WORKER=$!
trap 'kill $WORKER 2>/dev/null || true; rm -rf "$DIR"' EXIT
for _ in $(seq 50); do
    "$HOST" call --worker "http://127.0.0.1:$PORT" users 'calculate(1)' >/dev/null 2>&1 && break
    sleep 0.1
done
echo "\$ activity-host call --worker http://127.0.0.1:$PORT users 'fetch-user(7)' 'fetch-user(7)'"
"$HOST" call --worker "http://127.0.0.1:$PORT" users 'fetch-user(7)' 'fetch-user(7)'
kill -TERM "$WORKER"
wait "$WORKER"
echo "worker log:"
grep -E 'worker|outcome' "$DIR/worker.log" | tail -n 5
