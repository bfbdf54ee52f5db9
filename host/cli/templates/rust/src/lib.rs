//! The __NAME__ activities. Each export's cache rule sits next to it; the
//! host does all the caching.

activity_sdk::bindings!("local:__NAME__/__NAME__");
use bindings::exports::local::__MODULE__::api::Guest;

struct Activities;

#[activity_sdk::activity]
impl Guest for Activities {
    #[cache(inputs, ttl = "1h")]
    fn hello(name: String) -> String {
        // Guest stderr reaches the host's log: a cache hit never prints it.
        eprintln!("__NAME__: ran hello");
        format!("Hello, {name}!")
    }

    #[cache(no_cache)]
    fn record_event(event: String) {
        eprintln!("__NAME__: recorded {event}");
    }
}

bindings::export!(Activities with_types_in bindings);
