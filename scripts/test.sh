#!/usr/bin/env bash
# The whole test suite. Installs what it needs first (redis-server, and
# chromium with its WebDriver for the browser test, nginx as the Temporal
# tests' TLS proxy, from Debian; Temporal's
# TypeScript SDK from npm, for the TypeScript workflow's test; the
# wasm32-wasip2 target, or the offline fallback toolchain, through
# scripts/build-guests.sh), then runs every test: unit tests, property tests,
# and end-to-end tests on real components and real redis-server processes.
# Extra arguments go to `cargo test` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-redis.sh
scripts/ensure-chromium.sh
scripts/ensure-nginx.sh
scripts/ensure-temporal-ts.sh

scripts/build-guests.sh >/dev/null
# Guest crates (cdylibs for wasm32-wasip2) and the guest SDK build for the
# host too, but have no host tests; every other workspace crate is tested.
excluded=(--exclude activity-sdk)
for manifest in examples/*/Cargo.toml; do
    if grep -q 'crate-type = \["cdylib"\]' "$manifest"; then
        excluded+=(--exclude "$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -n 1)")
    fi
done
cargo test --workspace "${excluded[@]}" "$@"
