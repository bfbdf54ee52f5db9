trait Guest {
    fn fetch(id: u64) -> u64;
}

struct Users;

#[activity_sdk::activity]
impl Guest for Users {
    #[cache(forever)]
    fn fetch(id: u64) -> u64 {
        id
    }
}

fn main() {}
