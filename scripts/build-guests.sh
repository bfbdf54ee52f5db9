#!/usr/bin/env bash
# Builds every guest (examples/*) to
#   ${CARGO_TARGET_DIR:-target}/wasm32-wasip2/guest/<name>.wasm
# and the test variants listed below to <name>-<variant>.wasm next to them:
# Rust crates (crate-type cdylib) with cargo, other languages with their
# example's own build.sh (examples/python-users: componentize-py in a venv
# under target/tools/; examples/js-users: componentize-js from npm at the
# committed lockfile's versions, under target/tools/). Prints the built paths.
#
# Usage: scripts/build-guests.sh [NAME...]      (default: every guest)
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
# Extra builds used by tests, NAME:VARIANT: a Rust crate with that feature
# on, or another language's build.sh given the variant.
VARIANTS=(users:changed-body python-users:changed-body js-users:changed-body)

log() { echo "build-guests: $*" >&2; }

rust_guests() {
    for manifest in examples/*/Cargo.toml; do
        if grep -q 'crate-type = \["cdylib"\]' "$manifest"; then
            sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -n 1
        fi
    done
}

script_guests() {
    for script in examples/*/build.sh; do basename "$(dirname "$script")"; done
}

# Builds examples/NAME with its build.sh to OUT/NAME[-VARIANT].wasm, unless
# that file is newer than every source of it.
build_script_guest() {
    local name="$1" variant="${2:-}" out="$OUT/$1${2:+-$2}.wasm"
    if [ -f "$out" ] && [ -z "$(find "examples/$name" examples/users/wit examples/wasi-0.2.12 wit -newer "$out" \
        -not -path '*/node_modules/*' -not -path '*/__pycache__/*' -type f -print -quit)" ]; then
        return
    fi
    log "building $name${variant:+ ($variant)} with examples/$name/build.sh"
    mkdir -p "$OUT"
    "examples/$name/build.sh" "$out" $variant >&2
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
    local guests=("$@") rust=() scripted=()
    [ ${#guests[@]} -gt 0 ] || mapfile -t guests < <(rust_guests; script_guests)
    for guest in "${guests[@]}"; do
        if [ -x "examples/$guest/build.sh" ]; then scripted+=("$guest"); else rust+=("$guest"); fi
    done

    if [ ${#rust[@]} -gt 0 ]; then
        local toolchain
        toolchain="$(pick_toolchain)"
        log "building ${rust[*]} with the $toolchain toolchain"
        # Variants first: they share the crate's output file name, so each is
        # copied aside before the plain build writes the final <crate>.wasm.
        for variant in "${VARIANTS[@]}"; do
            local crate="${variant%%:*}" feature="${variant#*:}"
            [[ " ${rust[*]} " == *" $crate "* ]] || continue
            "cargo_$toolchain" -p "$crate" --features "$feature" >&2
            cp "$OUT/${crate//-/_}.wasm" "$OUT/$crate-$feature.wasm"
        done
        local packages=()
        for guest in "${rust[@]}"; do packages+=(-p "$guest"); done
        "cargo_$toolchain" "${packages[@]}" >&2
        for guest in "${rust[@]}"; do
            # Cargo names the file after the library (dashes become
            # underscores); the component keeps the crate's name.
            local built="$OUT/${guest//-/_}.wasm"
            [ -f "$built" ] || { log "missing $built"; exit 1; }
            [ "$built" = "$OUT/$guest.wasm" ] || cp "$built" "$OUT/$guest.wasm"
        done
    fi

    for guest in "${scripted[@]}"; do
        for variant in "${VARIANTS[@]}"; do
            [ "${variant%%:*}" = "$guest" ] && build_script_guest "$guest" "${variant#*:}"
        done
        build_script_guest "$guest"
    done

    for guest in "${guests[@]}"; do
        [ -f "$OUT/$guest.wasm" ] || { log "missing $OUT/$guest.wasm"; exit 1; }
        echo "$OUT/$guest.wasm"
    done
}

main "$@"
