//! Example activity component: the activities of seed 004's README.
//!
//! Every body writes one line to stderr when it runs (`users: ran <export>`),
//! so a cache hit, which never runs the body, is visible in the host's output.

activity_sdk::bindings!("example:users/users");
use bindings::exports::example::users::api::{Guest, Processed, User};

struct Users;

#[activity_sdk::activity]
impl Guest for Users {
    /// An "expensive database call".
    #[cache(inputs, ttl = "1h")]
    fn fetch_user(user_id: u64) -> User {
        eprintln!("users: ran fetch-user");
        let name = format!("User {user_id}");
        let email = format!("user{user_id}@example.com");
        User {
            id: user_id,
            name,
            email,
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
    }
}

bindings::export!(Users with_types_in bindings);
