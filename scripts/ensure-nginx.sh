#!/usr/bin/env bash
# Installs Debian's nginx if it is missing: the Temporal tests put it in
# front of the dev server as a TLS-terminating gRPC proxy (TLS, mutual TLS,
# an API key it checks). The package's own service is not started.
set -euo pipefail
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
    echo "ensure-nginx: installing nginx (Debian)" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    # Keep the package from starting a system-wide nginx on port 80.
    policy=/usr/sbin/policy-rc.d
    made_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
        $sudo chmod +x "$policy"
        made_policy=1
    fi
    $sudo apt-get update -qq >&2 || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nginx >&2
    [ -z "$made_policy" ] || $sudo rm -f "$policy"
fi
