#!/usr/bin/env bash
# Builds this Python activity with componentize-py (from PyPI, pinned, in a
# venv under target/tools/):   build.sh OUT.wasm [changed-body]
# `changed-body` builds calculate with another factor (a code change, for
# the task-source tests). Called by scripts/build-guests.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
VERSION=0.25.1
venv="$root/target/tools/componentize-py"

if ! "$venv/bin/componentize-py" --version 2>/dev/null | grep -q " $VERSION\$"; then
    echo "python-users: installing componentize-py $VERSION into $venv" >&2
    python3 -m venv "$venv" || {
        sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >&2
        python3 -m venv "$venv"
    }
    "$venv/bin/pip" install -q "componentize-py==$VERSION"
fi

src="$here"
if [ "${2:-}" = changed-body ]; then
    src="$(mktemp -d)"
    trap 'rm -rf "$src"' EXIT
    sed 's/^FACTOR = 2$/FACTOR = 3/' "$here/app.py" >"$src/app.py"
    grep -q '^FACTOR = 3$' "$src/app.py"
fi
"$venv/bin/componentize-py" -q -d "$root/wit" -d "$root/examples/users/wit" -d "$here/wit" \
    -w example:users-python/users-http componentize -p "$src" app -o "$1"
