#!/usr/bin/env bash
# Builds this JavaScript activity with componentize-js (from npm, at the
# versions of the committed lockfile, under target/tools/):
#   build.sh OUT.wasm [changed-body]
# `changed-body` builds calculate with another factor (a code change, for
# the task-source tests). Called by scripts/build-guests.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
tools="$root/target/tools/js-users"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "js-users: installing Node.js (Debian)" >&2
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq >&2 || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm >&2
fi
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || {
    echo "js-users: componentize-js needs Node.js 20 or newer; this is $(node --version)" >&2
    exit 1
}
mkdir -p "$tools"
# `installed` marks a complete install of exactly this lockfile.
if ! cmp -s "$here/package-lock.json" "$tools/installed"; then
    echo "js-users: installing componentize-js from the lockfile in $tools" >&2
    cp "$here/package.json" "$here/package-lock.json" "$tools/"
    # Not `npm ci`: componentize-js declares optional platform packages that
    # were never published, which npm ci (11.x) reports as a lockfile out of
    # sync. `npm install --no-save` installs the lockfile's versions and
    # leaves it unchanged.
    (cd "$tools" && rm -rf node_modules &&
        npm install --no-save --no-audit --no-fund --loglevel=error >&2)
    cmp -s "$here/package-lock.json" "$tools/package-lock.json" ||
        { echo "js-users: npm changed the lockfile" >&2; exit 1; }
    cp "$here/package-lock.json" "$tools/installed"
fi
cp "$here/build.mjs" "$tools/"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The world, with the users world, the contract and WASI as dependencies
# (the layout componentize-js reads).
mkdir -p "$work/wit/deps/activity-cache" "$work/wit/deps/users"
cp "$here/wit/world.wit" "$work/wit/"
cp "$root/examples/users/wit/world.wit" "$work/wit/deps/users/"
cp "$root/wit/cache.wit" "$work/wit/deps/activity-cache/"
cp "$root"/examples/wasi-0.2.12/*.wit "$work/wit/deps/"
if [ "${2:-}" = changed-body ]; then
    sed 's/^const FACTOR = 2n;$/const FACTOR = 3n;/' "$here/app.js" >"$work/app.js"
    grep -q '^const FACTOR = 3n;$' "$work/app.js"
else
    cp "$here/app.js" "$work/app.js"
fi
node "$tools/build.mjs" "$work/app.js" "$work/wit" users-js "$1"
