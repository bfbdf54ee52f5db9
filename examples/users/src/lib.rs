//! Example activity component: the activities of seed 004's README.
//!
//! Every body writes one line to stderr when it runs (`users: ran <export>`),
//! so a cache hit, which never runs the body, is visible in the host's output.
//!
//! Given `USERS_SERVICE_URL` (a granted variable, e.g. `http://127.0.0.1:8089`)
//! and a grant for that host, `fetch-user` asks the users service
//! (`examples/users-service`) and `send-email` posts to it, with the
//! `API_TOKEN` secret as bearer token; without it they work offline: the user
//! is made up from its id and the email goes nowhere.

use activity_sdk::http::Request;

activity_sdk::bindings!("example:users/users");
use bindings::exports::example::users::api::{Guest, Processed, User};

struct Users;

#[activity_sdk::activity]
impl Guest for Users {
    /// An "expensive database call".
    #[cache(inputs, ttl = "1h")]
    fn fetch_user(user_id: u64) -> User {
        eprintln!("users: ran fetch-user");
        let Some(service) = service_url() else {
            return User {
                id: user_id,
                name: format!("User {user_id}"),
                email: format!("user{user_id}@example.com"),
            };
        };
        // A failure traps: the call fails, and nothing is cached.
        let response = authorized(Request::get(format!("{service}/users/{user_id}")))
            .send()
            .unwrap_or_else(|error| panic!("fetch-user {user_id}: {error}"));
        if response.status != 200 {
            panic!(
                "fetch-user {user_id}: the users service answered {}",
                response.status
            );
        }
        let user: ServiceUser = serde_json::from_slice(&response.body)
            .unwrap_or_else(|error| panic!("fetch-user {user_id}: unexpected answer: {error}"));
        User {
            id: user.id,
            name: user.name,
            email: user.email,
        }
    }

    #[cache(inputs, ttl = "30m")]
    fn process_data(data: User) -> Processed {
        eprintln!("users: ran process-data");
        Processed {
            processed: true,
            user: data.name,
        }
    }

    /// Cached by inputs and this component's code: a rebuild with another
    /// body never sees the old results.
    #[cache(task_source)]
    fn calculate(x: i64) -> i64 {
        eprintln!("users: ran calculate");
        let factor = if cfg!(feature = "changed-body") { 3 } else { 2 };
        x.wrapping_mul(factor)
    }

    #[cache(no_cache)]
    fn send_email(to: String) {
        eprintln!("users: ran send-email to {} bytes", to.len());
        if let Some(service) = service_url() {
            let response = authorized(Request::post(format!("{service}/emails"), to))
                .send()
                .unwrap_or_else(|error| panic!("send-email: {error}"));
            if response.status != 202 {
                panic!("send-email: the users service answered {}", response.status);
            }
        }
    }
}

/// A user as the users service sends it.
#[derive(activity_sdk::serde::Deserialize)]
#[serde(crate = "activity_sdk::serde")]
struct ServiceUser {
    id: u64,
    name: String,
    email: String,
}

/// The users service, if the component is given one.
fn service_url() -> Option<String> {
    let url = std::env::var("USERS_SERVICE_URL").ok()?;
    Some(url.trim_end_matches('/').to_owned())
}

/// `request` with the `API_TOKEN` secret as bearer token, if granted: the
/// guest holds a placeholder, which the host replaces on the way out.
fn authorized(request: Request) -> Request {
    match std::env::var("API_TOKEN") {
        Ok(token) => request.header("authorization", format!("Bearer {token}")),
        Err(_) => request,
    }
}

bindings::export!(Users with_types_in bindings);
