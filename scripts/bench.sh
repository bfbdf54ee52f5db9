#!/usr/bin/env bash
# The end-to-end benchmark, one command on a fresh machine: installs
# redis-server if missing, builds the guests and the release binary, starts
# its own redis-server and workers on free loopback ports, prints one table
# of figures measured side by side in the same run, and stops everything.
#
# Usage: scripts/bench.sh          the end-to-end table (a few minutes)
#        scripts/bench.sh --all    also the criterion benches: hot_path,
#                                  engine, redis (about 15 minutes more)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-redis.sh
scripts/build-guests.sh >/dev/null

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
cargo bench --bench e2e
if [ "${1:-}" = "--all" ]; then
    for bench in hot_path engine redis; do
        cargo bench --bench "$bench"
    done
fi
