#!/usr/bin/env bash
# The whole test suite. Installs what it needs first (redis-server from
# Debian; the wasm32-wasip2 target, or the offline fallback toolchain, through
# scripts/build-guests.sh), then runs every test: unit tests, property tests,
# and end-to-end tests on real components and real redis-server processes.
# Extra arguments go to `cargo test` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-redis.sh

scripts/build-guests.sh >/dev/null
cargo test --workspace --exclude users --exclude typed --exclude activity-sdk "$@"
