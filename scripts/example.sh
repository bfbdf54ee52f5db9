#!/usr/bin/env bash
# Runs one example workflow: builds its activity component(s) and the
# workflow driver, then replays the seed's story on the host library with
# the host's log lines.
#
# Usage: scripts/example.sh add-five [NUM]     seed 000: actor-cache helpers
#        scripts/example.sh inference          seed 000: preloading a model
#        scripts/example.sh users [STORE]      seed 004: two workflow runs against
#                                              examples/users-service
#                                              (STORE: memory or redis://…)
#        scripts/example.sh temporal [STORE]   seed 004 on a real Temporal dev
#                                              server, workflows in Python
#        scripts/example.sh temporal --bench   hit vs. bare activity through it
set -euo pipefail
cd "$(dirname "$0")/.."

name="${1:-}"
case "$name" in
    temporal) shift; exec examples/temporal/run.sh "$@" ;;
    add-five | inference | users) shift ;;
    *) echo "usage: scripts/example.sh add-five|inference|users|temporal [ARGS...]" >&2; exit 2 ;;
esac
scripts/build-guests.sh "$name" >/dev/null
if [ "$name" != users ]; then
    exec cargo run -q -p workflows --bin "$name" -- "$@"
fi

# The users activities ask examples/users-service, with a token the guest
# never sees (the API_TOKEN secret); the service's log shows what reached it.
cargo build -q -p users-service -p workflows
log=$(mktemp)
USERS_API_TOKEN="example-$RANDOM$RANDOM"
export USERS_API_TOKEN
target/debug/users-service --listen 127.0.0.1:0 >"$log" &
service=$!
trap 'kill $service 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q listening "$log" && break; sleep 0.05; done
USERS_SERVICE_URL=$(sed -n 's/^users-service listening on //p' "$log")
export USERS_SERVICE_URL
target/debug/users "$@"
echo
echo "users service log ($USERS_SERVICE_URL):"
sed -n 's/^users-service: /  /p' "$log"
