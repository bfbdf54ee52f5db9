#!/usr/bin/env bash
# The whole test suite. Installs what it needs first (redis-server from
# Debian; the wasm32-wasip2 target, or the offline fallback toolchain, through
# scripts/build-guests.sh), then runs every test: unit tests, property tests,
# and end-to-end tests on real components and real redis-server processes.
# Extra arguments go to `cargo test` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null; then
    echo "test.sh: installing redis-server (Debian)" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq >&2 || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >&2
fi

scripts/build-guests.sh >/dev/null
cargo test --workspace --exclude users --exclude typed --exclude activity-sdk "$@"
