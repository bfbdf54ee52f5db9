//! A child process whose stderr (JSON log lines and guest output) goes to a
//! temporary file the test reads; killed when dropped.

use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// A running process and its log.
pub struct LoggedProcess {
    child: Option<Child>,
    log: tempfile::NamedTempFile,
}

impl LoggedProcess {
    /// Spawns `command` with stdout discarded and stderr logged.
    pub fn spawn(command: &mut Command) -> Self {
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = command
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        Self {
            child: Some(child),
            log,
        }
    }

    /// Everything logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// The per-call log lines (target `activity_host::call`) so far, parsed.
    pub fn calls(&self) -> Vec<Value> {
        self.lines_of("activity_host::call")
    }

    /// The event lines (target `activity_host::event`) so far, parsed.
    pub fn events(&self) -> Vec<Value> {
        self.lines_of("activity_host::event")
    }

    fn lines_of(&self, target: &str) -> Vec<Value> {
        self.log()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|line| line["target"] == target)
            .collect()
    }

    /// How many lines logged so far contain `needle`.
    pub fn log_lines_with(&self, needle: &str) -> usize {
        self.log()
            .lines()
            .filter(|line| line.contains(needle))
            .count()
    }

    /// The process id, unless it was killed or terminated.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is still running (it has not exited by itself).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// Kills the process (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        child.wait().unwrap()
    }
}

impl Drop for LoggedProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
