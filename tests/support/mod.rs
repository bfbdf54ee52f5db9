//! Shared helpers of the end-to-end tests: real guest components built by
//! `scripts/build-guests.sh`, and the real `activity-host` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

pub mod browser;
pub mod nginx;
pub mod otlp;
pub mod pki;
pub mod process;
pub mod redis;
pub mod shared;
pub mod temporal;
pub mod users_service;
pub mod values;
pub mod wit;
pub mod worker;

/// The repository root.
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("host/cli/ is two levels down")
}

/// The compiled guest `file` (e.g. `users.wasm`), built once per test binary
/// through the project's only guest build entry point.
pub fn guest(file: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let status = Command::new(repo_root().join("scripts/build-guests.sh"))
            .current_dir(repo_root())
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run scripts/build-guests.sh");
        assert!(status.success(), "scripts/build-guests.sh failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join("target"));
        target.join("wasm32-wasip2/guest")
    });
    let path = dir.join(file);
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

/// Runs `activity-host` with `args` and JSON logs; returns its output.
pub fn activity_host(args: &[&str]) -> Run {
    activity_host_with_env(args, &[])
}

/// Runs `activity-host` with `args`, JSON logs and the variables `env`.
pub fn activity_host_with_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_activity-host"))
        .args(args)
        // JSON log lines, chosen through the variable (workers get the flag).
        .env("ACTIVITY_HOST_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .output()
        .expect("run activity-host");
    Run::from(output)
}

/// What a run of the binary printed.
pub struct Run {
    /// Whether it exited with 0.
    pub success: bool,
    /// Standard output.
    pub stdout: String,
    /// Standard error: guest output and log lines.
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Self {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    /// The per-call log lines (target `activity_host::call`), parsed.
    pub fn calls(&self) -> Vec<Value> {
        self.lines_of("activity_host::call")
    }

    /// The event lines (target `activity_host::event`), parsed.
    pub fn events(&self) -> Vec<Value> {
        self.lines_of("activity_host::event")
    }

    fn lines_of(&self, target: &str) -> Vec<Value> {
        self.stderr
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|line| line["target"] == target)
            .collect()
    }

    /// The `outcome` of every call, in order.
    pub fn outcomes(&self) -> Vec<String> {
        self.calls()
            .iter()
            .map(|call| call["outcome"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// How many lines of stderr contain `needle` (e.g. a guest's "ran" line).
    pub fn stderr_lines_with(&self, needle: &str) -> usize {
        self.stderr
            .lines()
            .filter(|line| line.contains(needle))
            .count()
    }

    /// Stdout's lines.
    pub fn stdout_lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}
