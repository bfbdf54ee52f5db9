//! Seed 000's `add_five` workflow's tasks. The helpers sleep to stand for a
//! slow load; `add-five: ran <helper>` on stderr shows when one really ran.

use std::{fs, thread::sleep, time::Duration};

use activity_sdk::actor_cache;
use serde::Serialize;

activity_sdk::bindings!("example:add-five/add-five");

/// A custom key object (the seed's `MyObject`): any `Serialize` type works.
#[derive(Serialize, Hash, PartialEq, Eq)]
struct MyObject {
    value: i64,
}

fn read_number(path: &str) -> Result<i64, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    text.trim().parse().map_err(|e| format!("{path}: {e}"))
}

#[actor_cache]
fn load_data(file: &str) -> Result<i64, String> {
    eprintln!("add-five: ran load-data");
    sleep(Duration::from_millis(500)); // say the file takes long to load
    read_number(file)
}

#[actor_cache]
fn load_directory(dir: &str) -> Result<i64, String> {
    eprintln!("add-five: ran load-directory");
    sleep(Duration::from_millis(500));
    read_number(&format!("{dir}/another.txt"))
}

#[actor_cache]
fn get_value(obj: &MyObject) -> i64 {
    eprintln!("add-five: ran get-value");
    sleep(Duration::from_millis(500));
    obj.value
}

struct AddFive;

#[activity_sdk::activity]
impl bindings::Guest for AddFive {
    #[cache(inputs)]
    fn create_file() -> String {
        fs::write("/data/my_file.txt", "34").expect("/data is granted writable");
        "/data/my_file.txt".into()
    }

    #[cache(inputs)]
    fn create_directory() -> String {
        fs::create_dir_all("/data/dir").expect("/data is granted writable");
        fs::write("/data/dir/another.txt", "12").expect("/data is granted writable");
        "/data/dir".into()
    }

    #[cache(no_cache)]
    fn add_file(num: i64, file: String, dir: String) -> Result<i64, String> {
        let value = get_value(&MyObject { value: 1 });
        Ok(num + load_data(&file)? + load_directory(&dir)? + value)
    }
}

bindings::export!(AddFive with_types_in bindings);
