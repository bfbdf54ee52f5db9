trait Guest {
    fn send(to: String);
}

struct Mailer;

#[activity_sdk::activity]
impl Guest for Mailer {
    #[cache(no_cache, ttl = "1h")]
    fn send(to: String) {
        drop(to);
    }
}

fn main() {}
