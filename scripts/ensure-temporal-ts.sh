#!/usr/bin/env bash
# Installs, if missing or outdated, Temporal's TypeScript SDK for
# examples/temporal-ts: `npm ci` from its committed lockfile (pinned
# versions; @temporalio/core-bridge ships its native core in the package)
# into target/tools/temporal-ts (never globally), then compiles the example
# with the pinned `tsc`. Afterwards:
#   node target/tools/temporal-ts/lib/driver.js ADDRESS TASK_QUEUE PLAN_JSON
# Silent on success; install progress goes to stderr. Idempotent. Needs
# Node.js 20 or newer and npm (installed from Debian if missing).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
example="$root/examples/temporal-ts"
tools="$root/target/tools/temporal-ts"

# Already installed from this lockfile, and compiled from these sources?
# (`installed` and `compiled` hold what each step last completed from.)
sources() { cat "$example/tsconfig.json" "$example"/src/*.ts; }
if cmp -s "$example/package-lock.json" "$tools/installed" &&
    cmp -s <(sources) "$tools/compiled"; then
    exit 0
fi

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "ensure-temporal-ts: installing Node.js (Debian)" >&2
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq >&2 || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm >&2
fi
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || {
    echo "ensure-temporal-ts: the Temporal TypeScript SDK needs Node.js 20 or newer; this is $(node --version)" >&2
    exit 1
}

mkdir -p "$tools"
if ! cmp -s "$example/package-lock.json" "$tools/installed"; then
    echo "ensure-temporal-ts: npm ci from examples/temporal-ts/package-lock.json into $tools" >&2
    rm -f "$tools/installed" "$tools/compiled"
    cp "$example/package.json" "$example/package-lock.json" "$tools/"
    (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error >&2)
    cp "$example/package-lock.json" "$tools/installed"
fi

echo "ensure-temporal-ts: compiling examples/temporal-ts to $tools/lib" >&2
rm -rf "$tools/src" "$tools/lib" "$tools/compiled"
cp -r "$example/src" "$example/tsconfig.json" "$tools/"
(cd "$tools" && node_modules/.bin/tsc -p . >&2)
sources >"$tools/compiled"
