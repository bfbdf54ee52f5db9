trait Guest {
    fn fetch(id: u64) -> u64;
}

struct Users;

#[activity_sdk::activity]
impl Guest for Users {
    #[cache(inputs, ttl = "soon")]
    fn fetch(id: u64) -> u64 {
        id
    }
}

fn main() {}
