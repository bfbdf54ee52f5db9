#!/usr/bin/env bash
# Builds every guest crate (examples/*) to
#   ${CARGO_TARGET_DIR:-target}/wasm32-wasip2/guest/<crate>.wasm
# and the test variants listed below to <crate>-<feature>.wasm next to them.
#
# Usage: scripts/build-guests.sh [CRATE...]      (default: every guest crate)
#
# This is the only place that picks the guest toolchain:
#   ACTIVITY_GUEST_TOOLCHAIN=auto    (default) rustup's wasm32-wasip2 target,
#                                    installed on demand; Debian's if that fails
#   ACTIVITY_GUEST_TOOLCHAIN=rustup  rustup's target only
#   ACTIVITY_GUEST_TOOLCHAIN=debian  the offline fallback: Debian's rustc-web and
#                                    wasi-libc, rebuilding std (about a minute)
set -euo pipefail
cd "$(dirname "$0")/.."

# Flags meant for the host build must not leak into the wasm build (tests run
# this script from inside `cargo test`).
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS RUSTC RUSTC_WRAPPER RUSTDOC

PROFILE=guest
TARGET=wasm32-wasip2
OUT="${CARGO_TARGET_DIR:-target}/$TARGET/$PROFILE"
# Extra builds of a crate with one feature on, used by tests: CRATE:FEATURE.
VARIANTS=(users:changed-body)

log() { echo "build-guests: $*" >&2; }

all_guests() {
    for manifest in examples/*/Cargo.toml; do
        grep -q 'crate-type = \["cdylib"\]' "$manifest" &&
            sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -n 1
    done
}

rustup_ready() {
    command -v rustup >/dev/null || return 1
    rustup target list --installed 2>/dev/null | grep -qx "$TARGET" && return 0
    log "installing the $TARGET target with rustup"
    rustup target add "$TARGET" >&2
}

debian_ready() {
    local missing=()
    for pkg in rustc-web cargo-web rust-web-src wasi-libc; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq >&2 || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
}

cargo_rustup() {
    cargo build --profile "$PROFILE" --target "$TARGET" "$@"
}

cargo_debian() {
    # The linkers ship with the machine's own (rustup) toolchain.
    local bin
    bin="$(rustc --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/bin"
    [ -x "$bin/wasm-component-ld" ] && [ -x "$bin/gcc-ld/wasm-ld" ] ||
        { log "no wasm-component-ld / gcc-ld/wasm-ld under $bin"; return 1; }
    PATH="/usr/bin:$bin/gcc-ld:$PATH" \
        RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
        CARGO_TARGET_WASM32_WASIP2_LINKER="$bin/wasm-component-ld" \
        RUSTFLAGS="-C link-self-contained=no -L native=/usr/lib/wasm32-wasi" \
        /usr/bin/cargo build --profile "$PROFILE" --target "$TARGET" \
        -Zbuild-std=std,panic_abort "$@"
}

pick_toolchain() {
    case "${ACTIVITY_GUEST_TOOLCHAIN:-auto}" in
        rustup) rustup_ready && echo rustup ;;
        debian) debian_ready && echo debian ;;
        auto)
            if rustup_ready; then echo rustup
            else
                log "rustup's $TARGET target is unavailable; using the Debian fallback"
                debian_ready && echo debian
            fi ;;
        *) log "unknown ACTIVITY_GUEST_TOOLCHAIN=${ACTIVITY_GUEST_TOOLCHAIN}"; return 1 ;;
    esac
}

main() {
    local guests=("$@")
    [ ${#guests[@]} -gt 0 ] || mapfile -t guests < <(all_guests)
    local toolchain
    toolchain="$(pick_toolchain)"
    log "building ${guests[*]} with the $toolchain toolchain"

    # Variants first: they share the crate's output file name, so each is
    # copied aside before the plain build writes the final <crate>.wasm.
    for variant in "${VARIANTS[@]}"; do
        local crate="${variant%%:*}" feature="${variant#*:}"
        [[ " ${guests[*]} " == *" $crate "* ]] || continue
        "cargo_$toolchain" -p "$crate" --features "$feature" >&2
        cp "$OUT/$crate.wasm" "$OUT/$crate-$feature.wasm"
    done
    local packages=()
    for guest in "${guests[@]}"; do packages+=(-p "$guest"); done
    "cargo_$toolchain" "${packages[@]}" >&2

    for guest in "${guests[@]}"; do
        # Cargo names the file after the library (dashes become underscores);
        # the component keeps the crate's name.
        local built="$OUT/${guest//-/_}.wasm"
        [ -f "$built" ] || { log "missing $built"; exit 1; }
        [ "$built" = "$OUT/$guest.wasm" ] || cp "$built" "$OUT/$guest.wasm"
        echo "$OUT/$guest.wasm"
    done
}

main "$@"
