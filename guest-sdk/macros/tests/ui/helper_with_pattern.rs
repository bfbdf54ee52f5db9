#[activity_sdk::actor_cache]
fn add((a, b): (u32, u32)) -> u32 {
    a + b
}

fn main() {}
