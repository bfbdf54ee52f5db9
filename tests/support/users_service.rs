//! A real `users-service` process (examples/users-service) for one test, on
//! a free loopback port, its request log in a temporary file; killed when
//! dropped.

use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::repo_root;

/// A running users service.
pub struct UsersService {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its port.
    pub port: u16,
    child: Child,
    log: tempfile::NamedTempFile,
}

impl UsersService {
    /// Starts the service; requests must carry `token`, if given.
    pub fn start(token: Option<&str>) -> Self {
        Self::start_with(token, "0s")
    }

    /// Starts the service answering each request after `latency` (`20ms`).
    pub fn start_with(token: Option<&str>, latency: &str) -> Self {
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut command = Command::new(binary());
        command
            .args(["--listen", "127.0.0.1:0", "--latency", latency])
            .env("USERS_API_TOKEN", token.unwrap_or_default())
            .stdout(log.reopen().unwrap())
            .stderr(Stdio::inherit());
        let child = command.spawn().expect("start users-service");
        let deadline = Instant::now() + Duration::from_secs(10);
        let url = loop {
            let text = std::fs::read_to_string(log.path()).unwrap_or_default();
            if let Some(url) = text
                .lines()
                .find_map(|line| line.strip_prefix("users-service listening on "))
            {
                break url.to_owned();
            }
            assert!(Instant::now() < deadline, "users-service did not start");
            std::thread::sleep(Duration::from_millis(20));
        };
        let port = url.rsplit(':').next().unwrap().parse().unwrap();
        Self {
            url,
            port,
            child,
            log,
        }
    }

    /// The request lines logged so far (`GET /users/7 authorization=valid`).
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(self.log.path())
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.strip_prefix("users-service: "))
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for UsersService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The service's binary, built once per test binary (`cargo build -p
/// users-service`, the same profile and target directory as the tests).
fn binary() -> &'static std::path::Path {
    static BUILT: OnceLock<std::path::PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "users-service"])
            .current_dir(repo_root())
            .status()
            .expect("run cargo build -p users-service");
        assert!(status.success(), "cargo build -p users-service failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| repo_root().join("target"));
        target.join("debug/users-service")
    })
}
