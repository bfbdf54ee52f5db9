#!/usr/bin/env sh
# Builds __NAME__.wasm with componentize-py (installed into .venv on first use;
# COMPONENTIZE_PY=path uses another install).
set -eu
cd "$(dirname "$0")"
VERSION=0.25.1
tool="${COMPONENTIZE_PY:-.venv/bin/componentize-py}"
if [ ! -x "$tool" ]; then
    python3 -m venv .venv
    .venv/bin/pip install -q "componentize-py==$VERSION"
fi
"$tool" -d wit -w local:__NAME__/__NAME__ componentize app -o __NAME__.wasm
echo "built __NAME__.wasm"
