#[activity_sdk::actor_cache]
async fn load(path: &str) -> u32 {
    path.len() as u32
}

fn main() {}
