#!/usr/bin/env bash
# The demo: builds the host and the example activities, then tells a short
# story of calls on the in-memory actor store, with the host's log lines.
# Needs nothing but this repository and a Rust toolchain; everything else is
# installed on demand by scripts/build-guests.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Building the host and the users service (cargo build -p activity-host-cli -p users-service)"
cargo build -q -p activity-host-cli -p users-service
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

step "The users activity asking a real users service, with a secret it never sees"
cat <<'TXT'
examples/users-service answers GET /users/ID when the request carries its
token. The worker grants the users component that one host and gives it the
token as the API_TOKEN secret: the guest sees a placeholder, the host puts the
real token in the request. The first fetch-user(7) reaches the service; the
second is a hit, and the service sees nothing.
TXT
SERVICE_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export USERS_API_TOKEN="demo-$RANDOM$RANDOM"
export USERS_SERVICE_URL="http://127.0.0.1:$SERVICE_PORT"
target/debug/users-service --listen "127.0.0.1:$SERVICE_PORT" >"$DIR/service.log" &
SERVICE=$!
trap 'kill $SERVICE 2>/dev/null || true; rm -rf "$DIR"' EXIT
cat >"$DIR/activity-host.toml" <<TOML
[components.users]
env = ["USERS_SERVICE_URL"]
allowed-outbound-hosts = ["$USERS_SERVICE_URL"]

[components.users.secrets]
API_TOKEN = { env = "USERS_API_TOKEN", hosts = ["$USERS_SERVICE_URL"] }
TOML
cat "$DIR/activity-host.toml"
for _ in $(seq 50); do grep -q listening "$DIR/service.log" 2>/dev/null && break; sleep 0.1; done
set -x
"$HOST" call --config "$DIR/activity-host.toml" "$USERS" 'fetch-user(7)' 'fetch-user(7)' 'send-email("ada@example.com")'
set +x
echo "users service log:"
cat "$DIR/service.log"
