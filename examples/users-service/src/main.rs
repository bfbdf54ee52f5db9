//! The users service of the users example: what `fetch-user` and
//! `send-email` call when the component is granted the service.
//!
//! ```text
//! users-service [--listen 127.0.0.1:8089] [--latency 20ms] [--token-env USERS_API_TOKEN]
//! ```
//!
//! Prints `users-service listening on http://ADDR` once it accepts
//! connections, then one line per request (`users-service: GET /users/7
//! authorization=valid`), never the token itself. Routes:
//! - `GET /users/{id}`: the user as JSON (`{"id":7,"name":"User 7",
//!   "email":"user7@example.com"}`); 401 without `Authorization: Bearer
//!   TOKEN` when a token is set;
//! - `POST /emails`: accepts an email (202), the same authorization;
//! - `GET /redirect?to=URL`: 302 to URL (tests: redirects are not followed);
//! - `GET /bytes/{n}`: a body of `n` bytes (tests: response limits);
//! - `GET /hang`: never answers (tests: a hung server costs one call its
//!   timeout).

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use clap::Parser;
use serde::Deserialize;

/// The service's flags.
#[derive(Parser)]
#[command(about = "The users example's HTTP service: users by id, emails; logs every request")]
struct Args {
    /// Address to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8089")]
    listen: SocketAddr,
    /// Delay added to every answer, e.g. `20ms` (a slow database).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0s")]
    latency: Duration,
    /// Environment variable holding the bearer token requests must carry
    /// (unset or empty: no token required).
    #[arg(long, default_value = "USERS_API_TOKEN")]
    token_env: String,
}

#[derive(Clone)]
struct Service {
    latency: Duration,
    token: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let token = std::env::var(&args.token_env)
        .ok()
        .filter(|t| !t.is_empty());
    let service = Service {
        latency: args.latency,
        token,
    };
    let app = Router::new()
        .route("/users/{id}", get(user))
        .route("/emails", post(email))
        .route("/redirect", get(redirect))
        .route("/bytes/{n}", get(bytes))
        .route("/hang", get(hang))
        .with_state(service);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!(
        "users-service listening on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, app).await?;
    Ok(())
}

impl Service {
    /// Logs the request and checks its token; the answer if it is refused.
    async fn admit(&self, request: &str, headers: &HeaderMap) -> Result<(), Response> {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        let authorization = match (&self.token, given) {
            (_, None) => "missing",
            (Some(token), Some(given)) if token == given => "valid",
            (None, Some(_)) => "unchecked",
            (Some(_), Some(_)) => "invalid",
        };
        println!("users-service: {request} authorization={authorization}");
        tokio::time::sleep(self.latency).await;
        match (&self.token, authorization) {
            (Some(_), "missing" | "invalid") => Err((
                StatusCode::UNAUTHORIZED,
                "a valid bearer token is required\n",
            )
                .into_response()),
            _ => Ok(()),
        }
    }
}

async fn user(State(service): State<Service>, Path(id): Path<u64>, headers: HeaderMap) -> Response {
    if let Err(refused) = service.admit(&format!("GET /users/{id}"), &headers).await {
        return refused;
    }
    let user = serde_json::json!({
        "id": id,
        "name": format!("User {id}"),
        "email": format!("user{id}@example.com"),
    });
    axum::Json(user).into_response()
}

async fn email(State(service): State<Service>, headers: HeaderMap, body: String) -> Response {
    let request = format!("POST /emails ({} bytes)", body.len());
    if let Err(refused) = service.admit(&request, &headers).await {
        return refused;
    }
    (StatusCode::ACCEPTED, "queued\n").into_response()
}

#[derive(Deserialize)]
struct RedirectTo {
    to: String,
}

async fn redirect(
    State(service): State<Service>,
    Query(target): Query<RedirectTo>,
    headers: HeaderMap,
) -> Response {
    let request = format!("GET /redirect?to={}", target.to);
    if let Err(refused) = service.admit(&request, &headers).await {
        return refused;
    }
    Redirect::to(&target.to).into_response()
}

async fn bytes(
    State(service): State<Service>,
    Path(n): Path<usize>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = service.admit(&format!("GET /bytes/{n}"), &headers).await {
        return refused;
    }
    vec![b'x'; n].into_response()
}

async fn hang(State(service): State<Service>, headers: HeaderMap) -> Response {
    let _ = service.admit("GET /hang", &headers).await;
    std::future::pending::<Response>().await
}
