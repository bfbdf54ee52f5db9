//! A real `activity-host serve` process for one test, on a free loopback
//! port, stopped when dropped.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::process::LoggedProcess;
use super::redis::free_port;

/// A running worker process.
pub struct Worker {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    process: LoggedProcess,
    token: Option<String>,
    agent: ureq::Agent,
}

/// A response: status, `x-cache` header, JSON (or text) body.
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The `x-cache` header, if any.
    pub cache: Option<String>,
    /// The `x-cache-age-ms` header, if any.
    pub age_ms: Option<u64>,
    /// The `x-cache-reason` header (a miss's reason), if any.
    pub reason: Option<String>,
    /// The body as JSON (`Value::String` of the text if it is not JSON).
    pub body: Value,
}

impl Worker {
    /// Starts `activity-host serve --dir DIR` with `extra` flags.
    pub fn start(dir: &Path, extra: &[&str]) -> Self {
        Self::start_with(&[&["--dir", dir.to_str().unwrap()][..], extra].concat())
    }

    /// Starts `activity-host serve` with `extra` flags (and a free port).
    pub fn start_with(extra: &[&str]) -> Self {
        Self::start_with_env(extra, &[])
    }

    /// Starts `activity-host serve` with `extra` flags and the variables
    /// `env`.
    pub fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let process = LoggedProcess::spawn(
            Command::new(env!("CARGO_BIN_EXE_activity-host"))
                .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
                .args(["--log-format", "json"])
                .args(extra)
                .env("RUST_LOG", "info")
                .envs(env.iter().copied()),
        );
        let token = extra
            .iter()
            .position(|a| *a == "--token")
            .map(|i| extra[i + 1].to_owned());
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let worker = Self {
            url,
            process,
            token,
            agent,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while worker.get("/healthz").status != 200 {
            assert!(Instant::now() < deadline, "the worker did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        worker
    }

    fn reply(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
        let Ok(mut response) = response else {
            return Reply {
                status: 0,
                cache: None,
                age_ms: None,
                reason: None,
                body: Value::Null,
            };
        };
        let status = response.status().as_u16();
        let cache = header(&response, "x-cache");
        let reason = header(&response, "x-cache-reason");
        let age_ms = header(&response, "x-cache-age-ms").and_then(|v| v.parse().ok());
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            cache,
            age_ms,
            reason,
            body,
        }
    }

    /// The most memory the worker has had resident (`VmHWM`), in MiB.
    pub fn peak_resident_mib(&self) -> u64 {
        let pid = self.process.pid().expect("the worker is running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let line = status
            .lines()
            .find(|line| line.starts_with("VmHWM:"))
            .unwrap();
        let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib / 1024
    }

    /// Sends `call` (`{"wave": …}`) to `component` from `n` threads at once.
    pub fn call_concurrently(&self, component: &str, call: &Value, n: usize) -> Vec<Reply> {
        let path = format!("/v1/components/{component}/call");
        std::thread::scope(|scope| {
            let threads: Vec<_> = (0..n)
                .map(|_| scope.spawn(|| self.post(&path, call)))
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        })
    }

    /// GET `path` (with the token, if the worker has one).
    pub fn get(&self, path: &str) -> Reply {
        let mut request = self.agent.get(&format!("{}{path}", self.url));
        if let Some(token) = &self.token {
            request = request.header("authorization", &format!("Bearer {token}"));
        }
        Self::reply(request.call())
    }

    /// POST `body` as JSON to `path` (with the token, if any).
    pub fn post(&self, path: &str, body: &Value) -> Reply {
        let mut request = self.agent.post(&format!("{}{path}", self.url));
        if let Some(token) = &self.token {
            request = request.header("authorization", &format!("Bearer {token}"));
        }
        Self::reply(request.send_json(body))
    }

    /// DELETE `path` (with the token, if any).
    pub fn delete(&self, path: &str) -> Reply {
        let mut request = self.agent.delete(&format!("{}{path}", self.url));
        if let Some(token) = &self.token {
            request = request.header("authorization", &format!("Bearer {token}"));
        }
        Self::reply(request.call())
    }

    /// POST raw bytes to `path` without the token.
    pub fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
        let request = self
            .agent
            .post(&format!("{}{path}", self.url))
            .header("content-type", content_type);
        Self::reply(request.send(&body[..]))
    }

    /// POSTs JSON `body` to `path` with `Accept: accept`.
    pub fn post_accepting(&self, path: &str, body: &Value, accept: &str) -> Reply {
        let request = self
            .agent
            .post(&format!("{}{path}", self.url))
            .header("accept", accept);
        Self::reply(request.send_json(body))
    }

    /// POSTs `body` to `path` as `content_type`, asking for
    /// `application/octet-stream`: the status, `x-cache` and the raw body.
    pub fn post_for_bytes(
        &self,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> (u16, Option<String>, Vec<u8>) {
        let request = self
            .agent
            .post(&format!("{}{path}", self.url))
            .header("content-type", content_type)
            .header("accept", "application/octet-stream");
        let mut response = request.send(body).unwrap();
        let cache = header(&response, "x-cache");
        let bytes = response
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .unwrap();
        (response.status().as_u16(), cache, bytes)
    }

    /// Calls `wave` on `component`.
    pub fn call(&self, component: &str, wave: &str) -> Reply {
        self.post(
            &format!("/v1/components/{component}/call"),
            &serde_json::json!({ "wave": wave }),
        )
    }

    /// The worker's per-call log lines so far, parsed.
    pub fn calls(&self) -> Vec<Value> {
        self.process.calls()
    }

    /// Everything the worker logged so far.
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// The worker's event lines so far (loads, invalidations, …), parsed.
    pub fn events(&self) -> Vec<Value> {
        self.process.events()
    }

    /// How many lines of the worker's output (log and guest stderr) contain
    /// `needle`.
    pub fn log_lines_with(&self, needle: &str) -> usize {
        self.process.log_lines_with(needle)
    }

    /// Kills the worker (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        self.process.terminate()
    }
}

/// The header `name` of `response`, as text.
fn header(response: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    let value = response.headers().get(name)?;
    value.to_str().ok().map(str::to_owned)
}
