#!/usr/bin/env bash
# Runs one example workflow: builds its activity component(s) and the
# workflow driver, then replays the seed's story on the host library with
# the host's log lines.
#
# Usage: scripts/example.sh add-five [NUM]     seed 000: actor-cache helpers
#        scripts/example.sh inference          seed 000: preloading a model
#        scripts/example.sh users [STORE]      seed 004: two workflow runs
#                                              (STORE: memory or redis://…)
set -euo pipefail
cd "$(dirname "$0")/.."

name="${1:-}"
case "$name" in
    add-five | inference | users) shift ;;
    *) echo "usage: scripts/example.sh add-five|inference|users [ARGS...]" >&2; exit 2 ;;
esac
scripts/build-guests.sh "$name" >/dev/null
cargo run -q -p workflows --bin "$name" -- "$@"
