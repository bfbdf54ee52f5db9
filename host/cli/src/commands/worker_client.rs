//! A blocking client of a running worker's HTTP API, for the subcommands'
//! `--worker URL`.

use anyhow::Context;
use serde_json::Value;

/// Where a running worker is, and how to reach it.
#[derive(clap::Args, Clone)]
pub struct WorkerArgs {
    /// Ask a running worker (`activity-host serve`) at this URL (or
    /// `host:port`, meaning `http://host:port`) instead of working in this
    /// process; components are then named as the worker names them.
    #[arg(long, env = "ACTIVITY_HOST_WORKER", value_name = "URL")]
    pub worker: Option<String>,

    /// The worker's bearer token, if it requires one (with --worker).
    #[arg(
        long,
        env = "ACTIVITY_HOST_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

impl WorkerArgs {
    /// A client of the worker, if `--worker` was given.
    pub fn client(&self) -> Option<WorkerClient> {
        let base = self.worker.as_deref()?;
        Some(WorkerClient::new(base, self.token.clone()))
    }
}

/// A blocking client of a worker's HTTP API.
pub struct WorkerClient {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

/// A worker's answer.
pub struct Answer {
    /// The HTTP status.
    pub status: ureq::http::StatusCode,
    /// The `x-cache` header (a call's outcome), or `-`.
    pub outcome: String,
    /// The JSON body.
    pub body: Value,
}

impl Answer {
    /// The worker's error message, for a failed request.
    pub fn error(&self) -> String {
        format!(
            "{} ({})",
            self.body["error"].as_str().unwrap_or("?"),
            self.status
        )
    }
}

impl WorkerClient {
    fn new(base: &str, token: Option<String>) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let base = base.trim_end_matches('/');
        let base = if base.contains("://") {
            base.to_owned()
        } else {
            format!("http://{base}")
        };
        Self { base, token, agent }
    }

    /// Sends `method` (GET, POST or DELETE) to `path` (from `/v1/…`, with
    /// its query), with `body` as JSON if given.
    pub fn send(&self, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<Answer> {
        let url = format!("{}{path}", self.base);
        let unreachable = || format!("cannot reach the worker at {}", self.base);
        let authorization = self.token.as_ref().map(|token| format!("Bearer {token}"));
        let mut response = match (method, body) {
            ("POST", body) => {
                let mut request = self.agent.post(&url);
                if let Some(value) = &authorization {
                    request = request.header("authorization", value);
                }
                request
                    .send_json(body.unwrap_or(&Value::Null))
                    .with_context(unreachable)?
            }
            (method, _) => {
                let mut request = match method {
                    "DELETE" => self.agent.delete(&url),
                    _ => self.agent.get(&url),
                };
                if let Some(value) = &authorization {
                    request = request.header("authorization", value);
                }
                request.call().with_context(unreachable)?
            }
        };
        let status = response.status();
        let outcome = response
            .headers()
            .get("x-cache")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned();
        let body = response.body_mut().read_json().unwrap_or(Value::Null);
        Ok(Answer {
            status,
            outcome,
            body,
        })
    }
}
