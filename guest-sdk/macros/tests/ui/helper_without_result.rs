#[activity_sdk::actor_cache]
fn warm_up(path: &str) {
    drop(path);
}

fn main() {}
