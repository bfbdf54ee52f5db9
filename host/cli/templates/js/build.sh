#!/usr/bin/env sh
# Builds __NAME__.wasm with componentize-js (installed by npm on first use;
# needs Node.js 20 or newer).
set -eu
cd "$(dirname "$0")"
[ -d node_modules/@bytecodealliance/componentize-js ] || npm install --no-audit --no-fund
node build.mjs
