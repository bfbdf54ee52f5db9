struct Model;

#[activity_sdk::actor_cache]
fn load(model: &Model) -> u32 {
    let _ = model;
    1
}

fn main() {}
