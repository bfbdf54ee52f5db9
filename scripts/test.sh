#!/usr/bin/env bash
# The whole test suite. Installs what it needs first (the wasm32-wasip2 target,
# or the offline fallback toolchain, through scripts/build-guests.sh), then
# runs every test: unit tests and end-to-end tests on real components.
# Extra arguments go to `cargo test` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build-guests.sh >/dev/null
cargo test --workspace --exclude users --exclude activity-sdk "$@"
