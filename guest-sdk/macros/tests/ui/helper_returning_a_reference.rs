#[activity_sdk::actor_cache]
fn name(path: &str) -> &'static str {
    if path.is_empty() { "none" } else { "some" }
}

fn main() {}
