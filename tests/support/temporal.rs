//! A real Temporal dev server for one test (`temporal server start-dev`, in
//! memory, on free loopback ports, stopped by pid when dropped), the real
//! `activity-host temporal` worker, and the drivers that run workflows on
//! it: Python (tests/temporal/driver.py) and TypeScript
//! (examples/temporal-ts/src/driver.ts). `scripts/ensure-temporal.sh`
//! installs the server and the Python SDK under target/tools/temporal,
//! `scripts/ensure-temporal-ts.sh` the TypeScript SDK under
//! target/tools/temporal-ts; a missing toolchain fails the test.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::process::LoggedProcess;
use super::redis::free_port;
use super::repo_root;

/// The venv with the `temporal` CLI and a Python with `temporalio`,
/// installed once per test binary by the project's script.
fn tools() -> &'static PathBuf {
    static TOOLS: OnceLock<PathBuf> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let status = Command::new(repo_root().join("scripts/ensure-temporal.sh"))
            .status()
            .expect("run scripts/ensure-temporal.sh");
        assert!(status.success(), "scripts/ensure-temporal.sh failed");
        repo_root().join("target/tools/temporal/bin")
    })
}

/// The npm install of examples/temporal-ts, with the driver compiled to
/// `lib/driver.js`, installed once per test binary by the project's script.
fn ts_tools() -> &'static PathBuf {
    static TOOLS: OnceLock<PathBuf> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let status = Command::new(repo_root().join("scripts/ensure-temporal-ts.sh"))
            .status()
            .expect("run scripts/ensure-temporal-ts.sh");
        assert!(status.success(), "scripts/ensure-temporal-ts.sh failed");
        repo_root().join("target/tools/temporal-ts")
    })
}

/// A running dev server.
pub struct TemporalServer {
    /// `127.0.0.1:PORT`, the frontend.
    pub address: String,
    child: Option<Child>,
    home: tempfile::TempDir,
}

impl TemporalServer {
    /// Starts a server and waits until its `default` namespace answers.
    pub fn start() -> Self {
        let mut server = Self {
            address: format!("127.0.0.1:{}", free_port()),
            child: None,
            // The server writes a cluster id under $HOME/.config: a fresh home.
            home: tempfile::tempdir().unwrap(),
        };
        server.spawn();
        server
    }

    /// Stops the server (a worker connected to it loses it).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same address (with empty state: it keeps
    /// everything in memory).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    fn spawn(&mut self) {
        let cli = tools().join("temporal");
        let port = self.address.rsplit(':').next().unwrap();
        let child = Command::new(&cli)
            .args(["server", "start-dev", "--headless", "--ip", "127.0.0.1"])
            .args(["--port", port])
            .args(["--http-port", &free_port().to_string()])
            .args(["--metrics-port", &free_port().to_string()])
            .args([
                "--dynamic-config-value",
                "frontend.enableServerVersionCheck=false",
            ])
            .args(["--log-level", "error"])
            .env("HOME", self.home.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the Temporal dev server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = Command::new(&cli)
                .args(["operator", "namespace", "describe", "-n", "default"])
                .args(["--address", &self.address])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the Temporal dev server did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for TemporalServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A running `activity-host temporal` worker.
pub struct TemporalWorker {
    /// The process and its JSON log.
    pub process: LoggedProcess,
}

impl TemporalWorker {
    /// Starts a worker for `task_queue` of `server` with `args` (component
    /// files, `--store`, …) and waits until it polls.
    pub fn start(server: &TemporalServer, task_queue: &str, args: &[&str]) -> Self {
        Self::start_at(&server.address, task_queue, args, &[])
    }

    /// Like [`TemporalWorker::start`], for the frontend at `address` (such
    /// as a proxy in front of the server, with `--tls…` flags in `args`),
    /// with the environment variables `env`.
    pub fn start_at(address: &str, task_queue: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_with(
            task_queue,
            &[&["--address", address][..], args].concat(),
            env,
        )
    }

    /// Starts `activity-host temporal` on `task_queue` with `args` (where to
    /// connect included, or left to Temporal's variables and profiles) and
    /// the variables `env`; returns once it polls.
    pub fn start_with(task_queue: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut process = LoggedProcess::spawn(
            Command::new(env!("CARGO_BIN_EXE_activity-host"))
                // Only what the test gives: never the machine's own.
                .env_remove("TEMPORAL_ADDRESS")
                .env_remove("TEMPORAL_NAMESPACE")
                .env_remove("TEMPORAL_PROFILE")
                .env_remove("TEMPORAL_CONFIG_FILE")
                .env_remove("TEMPORAL_API_KEY")
                .envs(env.iter().copied())
                .arg("temporal")
                .args(["--task-queue", task_queue, "--log-format", "json"])
                .args(["--compile-cache", "off"])
                .args(args)
                .env("RUST_LOG", "info"),
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        while process.log_lines_with("temporal worker polling") == 0 {
            assert!(
                process.is_running() && Instant::now() < deadline,
                "the temporal worker did not start:\n{}",
                process.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { process }
    }
}

/// Runs workflows through the Python driver: `plan` is
/// `{"runs": [{"workflow": NAME, "arg": …, "cancel_when_started": bool}], "concurrent": bool}`.
/// Returns one JSON object per run, in order: `{"result": …}` or
/// `{"error": [each failure of the cause chain: {"class", "type", "message", "details", "non_retryable"}]}`.
pub fn run_workflows(server: &TemporalServer, task_queue: &str, plan: &Value) -> Vec<Value> {
    let mut driver = Command::new(tools().join("python"));
    driver.arg(repo_root().join("tests/temporal/driver.py"));
    run_driver(driver, server, task_queue, plan)
}

/// Runs workflows through the TypeScript driver (the workflows of
/// examples/temporal-ts, in a TypeScript worker), as [`run_workflows`] does:
/// `plan` names only `UserWorkflow` and has no `cancel_when_started`. The
/// error chain's classes are the TypeScript SDK's (`WorkflowFailedError`,
/// `ActivityFailure`, `ApplicationFailure`).
pub fn run_workflows_ts(server: &TemporalServer, task_queue: &str, plan: &Value) -> Vec<Value> {
    let mut driver = Command::new("node");
    driver.arg(ts_tools().join("lib/driver.js"));
    run_driver(driver, server, task_queue, plan)
}

/// Runs `driver ADDRESS TASK_QUEUE PLAN_JSON` and reads its JSON lines, one
/// per run of `plan`.
fn run_driver(
    mut driver: Command,
    server: &TemporalServer,
    task_queue: &str,
    plan: &Value,
) -> Vec<Value> {
    let output = driver
        .args([&server.address, task_queue, &plan.to_string()])
        .output()
        .expect("run the workflow driver");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the workflow driver failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let runs: Vec<Value> = stdout
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    assert_eq!(
        runs.len(),
        plan["runs"].as_array().map_or(0, Vec::len),
        "one result per run expected:\n{stdout}"
    );
    runs
}
