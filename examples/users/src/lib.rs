//! Example activity component: the activities of seed 004's README.
//!
//! Every body writes one line to stderr when it runs (`users: ran <export>`),
//! so a cache hit, which never runs the body, is visible in the host's output.

#[allow(missing_docs)] // generated from the WIT, which carries the docs
mod bindings {
    activity_sdk::wit_bindgen::generate!({
        world: "example:users/users",
        path: ["../../wit", "wit"],
        runtime_path: "activity_sdk::wit_bindgen::rt",
        with: { "activity:cache/types@0.1.0": activity_sdk::types },
        generate_all,
    });
}

use activity_sdk::Rule;
use bindings::exports::example::users::api::{Guest, User};

struct Users;

impl bindings::exports::activity::cache::rules::Guest for Users {
    fn declare() -> Vec<Rule> {
        vec![
            Rule::inputs("fetch-user").ttl(activity_sdk::hours(1)),
            Rule::task_source("calculate"),
            Rule::no_cache("send-email"),
        ]
    }
}

impl Guest for Users {
    fn fetch_user(user_id: u64) -> User {
        eprintln!("users: ran fetch-user");
        User {
            id: user_id,
            name: format!("User {user_id}"),
            email: format!("user{user_id}@example.com"),
        }
    }

    fn calculate(x: i64) -> i64 {
        eprintln!("users: ran calculate");
        if cfg!(feature = "changed-body") {
            x.wrapping_mul(3)
        } else {
            x.wrapping_mul(2)
        }
    }

    fn send_email(to: String) {
        eprintln!("users: ran send-email to {} bytes", to.len());
    }
}

bindings::export!(Users with_types_in bindings);
