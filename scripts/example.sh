#!/usr/bin/env bash
# Runs one example workflow: builds its activity component(s) and the
# workflow driver, then replays the seed's story on the host library with
# the host's log lines.
#
# Usage: scripts/example.sh add-five [NUM]     seed 000: actor-cache helpers
#        scripts/example.sh inference          seed 000: preloading a model
#        scripts/example.sh users [STORE]      seed 004: two workflow runs
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
cargo run -q -p workflows --bin "$name" -- "$@"
