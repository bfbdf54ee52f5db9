struct Users;

#[activity_sdk::activity]
impl Users {
    fn fetch(id: u64) -> u64 {
        id
    }
}

fn main() {}
