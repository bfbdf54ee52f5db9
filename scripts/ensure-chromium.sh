#!/usr/bin/env bash
# Installs Debian's headless-capable chromium and its WebDriver
# (chromium-driver) if they are missing; the browser test drives them.
set -euo pipefail
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    echo "ensure-chromium: installing chromium and chromium-driver (Debian)" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq >&2 || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        chromium chromium-driver fonts-dejavu-core >&2
fi
