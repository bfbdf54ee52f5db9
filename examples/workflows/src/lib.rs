//! What the example workflow drivers share: where the built example
//! components are, the host's log on the terminal, and the story's headings.
//!
//! Each driver (`src/bin/*.rs`) plays one seed's workflow on the host
//! library, in one worker process (one replica). Run one with
//! `scripts/example.sh NAME`, which builds the components first.

use std::io::IsTerminal;
use std::path::PathBuf;

use activity_host::{CallReport, Outcome, Val};

/// The built component `name` (`scripts/build-guests.sh` writes it):
/// `$ACTIVITY_GUESTS/NAME.wasm`, by default under `$CARGO_TARGET_DIR` or this
/// workspace's `target/`.
pub fn component_file(name: &str) -> PathBuf {
    let dir = std::env::var_os("ACTIVITY_GUESTS").map_or_else(
        || {
            let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
                || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
                PathBuf::from,
            );
            target.join("wasm32-wasip2/guest")
        },
        PathBuf::from,
    );
    dir.join(format!("{name}.wasm"))
}

/// Shows the host's log (one line per call and per helper lookup) on
/// stdout, without timestamps, so it reads along with the story.
pub fn show_host_log() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,activity_host::call=info".into()),
        )
        .without_time()
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal())
        .init();
}

/// Prints a heading of the story.
pub fn step(text: &str) {
    println!("\n== {text}");
}

/// The single result of a call, in WAVE.
pub fn wave(report: &CallReport) -> String {
    report
        .results()
        .first()
        .map_or_else(|| "()".to_owned(), wave_of)
}

/// `value` in WAVE.
pub fn wave_of(value: &Val) -> String {
    activity_host::wasm_wave::to_string(value).unwrap_or_else(|e| format!("<{e}>"))
}

/// What a call's outcome means to a workflow author.
pub fn verdict(report: &CallReport) -> &'static str {
    match report.outcome {
        Outcome::Hit => "Cache HIT! Activity skipped",
        Outcome::Miss => "cache miss: activity ran, result stored",
        Outcome::Bypass => "not cached: activity ran",
        Outcome::Degraded => "store unavailable: activity ran uncached",
    }
}
