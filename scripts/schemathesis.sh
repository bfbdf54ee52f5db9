#!/usr/bin/env bash
# Property-based API testing of a live worker against its own OpenAPI
# description (GET /openapi.json) with schemathesis: generated valid and
# invalid requests for every route; every documented check but one must pass.
# Bounded: EXAMPLES (default 100) cases per route and phase; stops by itself.
#
# Usage: scripts/schemathesis.sh [EXAMPLES]
# Installs schemathesis from PyPI into a venv under target/tools/ if missing.
#
# Left out: `positive_data_acceptance`. A call's `wave` text and `args` must
# match the export's WIT signature, which no static schema can express, so a
# schema-valid body is often (rightly) a 400.
set -euo pipefail
cd "$(dirname "$0")/.."

EXAMPLES="${1:-100}"
VERSION=4.32.5
VENV=target/tools/schemathesis
log() { echo "schemathesis: $*" >&2; }

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -qx "schemathesis, version $VERSION"; then
    log "installing schemathesis $VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "schemathesis==$VERSION"
fi

cargo build -q -p activity-host-cli
DIR=$(mktemp -d)
cp "$(scripts/build-guests.sh users)" "$(scripts/build-guests.sh typed)" "$DIR/"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
target/debug/activity-host serve --dir "$DIR" --listen "127.0.0.1:$PORT" 2>"$DIR/worker.log" &
WORKER_PID=$!
trap 'kill "$WORKER_PID" 2>/dev/null; rm -rf "$DIR"' EXIT

"$VENV/bin/schemathesis" run "http://127.0.0.1:$PORT/openapi.json" \
    --wait-for-schema 120 --max-examples "$EXAMPLES" \
    --checks all --exclude-checks positive_data_acceptance || {
    log "FAILED (worker log below)"; tail -20 "$DIR/worker.log" >&2; exit 1; }
kill -0 "$WORKER_PID" || { log "the worker died"; exit 1; }
