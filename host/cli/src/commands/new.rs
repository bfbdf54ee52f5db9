//! `activity-host new NAME --lang rust|python|js [--dir DIR]`: a ready
//! activity project anywhere, built with its language's own tools: a WIT
//! world with a cached `hello` and a never-cached `record-event`, the code,
//! a build script or command, and a README. A Rust project gets the guest
//! SDK vendored (it is not on crates.io); Python and JavaScript ones get the
//! contract's WIT (and Python a helper module for the actor cache).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

/// Arguments of `new`.
#[derive(clap::Args)]
pub struct Args {
    /// The project's name: lower-case words joined by `-`, each starting
    /// with a letter (it names the WIT package `local:NAME`, its world and
    /// the component).
    #[arg(value_name = "NAME", value_parser = project_name)]
    name: String,

    /// The language of the activity.
    #[arg(long, value_enum, default_value = "rust")]
    lang: Lang,

    /// The directory to create (it must not exist, or be empty) [default:
    /// ./NAME].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// The languages a project can be written in.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Lang {
    /// Rust with activity-sdk, built by `cargo build --release --target
    /// wasm32-wasip2`.
    Rust,
    /// Python, built by componentize-py.
    Python,
    /// JavaScript, built by componentize-js.
    Js,
}

/// One file of a project: its path in the project, its text, and whether
/// it is a script to run.
struct File {
    path: &'static str,
    text: &'static str,
    executable: bool,
}

const fn file(path: &'static str, text: &'static str) -> File {
    File {
        path,
        text,
        executable: false,
    }
}

const fn script(path: &'static str, text: &'static str) -> File {
    File {
        path,
        text,
        executable: true,
    }
}

/// activity-host's contract, where the Python and JavaScript toolchains
/// look for dependencies.
const CONTRACT: File = file(
    "wit/deps/activity-cache/cache.wit",
    include_str!("../../../../wit/cache.wit"),
);

const WORLD: File = file("wit/world.wit", include_str!("../../templates/world.wit"));

const RUST: &[File] = &[
    WORLD,
    file(
        "Cargo.toml",
        include_str!("../../templates/rust/Cargo.toml"),
    ),
    file(
        "src/lib.rs",
        include_str!("../../templates/rust/src/lib.rs"),
    ),
    file("README.md", include_str!("../../templates/rust/README.md")),
    file(".gitignore", include_str!("../../templates/rust/gitignore")),
    // The guest SDK, vendored: its sources as they are in this repository,
    // standalone manifests, and the contract where its macros find it.
    file("vendor/activity-sdk/Cargo.toml", SDK_MANIFEST),
    file(
        "vendor/activity-sdk/src/lib.rs",
        include_str!("../../../../guest-sdk/src/lib.rs"),
    ),
    file(
        "vendor/activity-sdk/src/actor_cache.rs",
        include_str!("../../../../guest-sdk/src/actor_cache.rs"),
    ),
    file(
        "vendor/activity-sdk/src/http.rs",
        include_str!("../../../../guest-sdk/src/http.rs"),
    ),
    file(
        "vendor/activity-sdk/wit/cache.wit",
        include_str!("../../../../guest-sdk/wit/cache.wit"),
    ),
    file("vendor/activity-sdk/macros/Cargo.toml", MACROS_MANIFEST),
    file(
        "vendor/activity-sdk/macros/src/lib.rs",
        include_str!("../../../../guest-sdk/macros/src/lib.rs"),
    ),
];

const PYTHON: &[File] = &[
    WORLD,
    CONTRACT,
    file("app.py", include_str!("../../templates/python/app.py")),
    file(
        "actor_cache.py",
        include_str!("../../templates/python/actor_cache.py"),
    ),
    script("build.sh", include_str!("../../templates/python/build.sh")),
    file(
        "README.md",
        include_str!("../../templates/python/README.md"),
    ),
    file(
        ".gitignore",
        include_str!("../../templates/python/gitignore"),
    ),
];

const JS: &[File] = &[
    WORLD,
    CONTRACT,
    file("app.js", include_str!("../../templates/js/app.js")),
    file("build.mjs", include_str!("../../templates/js/build.mjs")),
    file(
        "package.json",
        include_str!("../../templates/js/package.json"),
    ),
    script("build.sh", include_str!("../../templates/js/build.sh")),
    file("README.md", include_str!("../../templates/js/README.md")),
    file(".gitignore", include_str!("../../templates/js/gitignore")),
];

/// The vendored SDK's manifest: guest-sdk/Cargo.toml's dependencies,
/// without the workspace.
const SDK_MANIFEST: &str = r#"[package]
name = "activity-sdk"
version = "0.1.0"
edition = "2024"
publish = false
description = "activity-host's guest SDK, vendored by `activity-host new`."

[dependencies]
activity-sdk-macros = { path = "macros" }
postcard = { version = "1", default-features = false, features = ["alloc"] }
serde = { version = "1", features = ["derive"] }
wasip2 = "=1.0.1"
wit-bindgen = "0.61"
"#;

/// The vendored SDK macros' manifest.
const MACROS_MANIFEST: &str = r#"[package]
name = "activity-sdk-macros"
version = "0.1.0"
edition = "2024"
publish = false
description = "The attribute macros of activity-sdk, vendored by `activity-host new`."

[lib]
proc-macro = true

[dependencies]
humantime = "2"
proc-macro2 = "1"
quote = "1"
syn = { version = "2", features = ["full"] }
"#;

/// Creates the project and says how to build and call it.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&args.name));
    let files = match args.lang {
        Lang::Rust => RUST,
        Lang::Python => PYTHON,
        Lang::Js => JS,
    };
    create(&dir, &args.name, files)?;
    let module = args.name.replace('-', "_");
    let (build, wasm) = match args.lang {
        Lang::Rust => (
            "cargo build --release --target wasm32-wasip2".to_owned(),
            format!("target/wasm32-wasip2/release/{module}.wasm"),
        ),
        Lang::Python | Lang::Js => ("./build.sh".to_owned(), format!("{}.wasm", args.name)),
    };
    println!("created {}", dir.display());
    println!("  cd {}", dir.display());
    println!("  {build}");
    println!("  activity-host call {wasm} 'hello(\"Ada\")' 'hello(\"Ada\")'");
    Ok(ExitCode::SUCCESS)
}

/// Writes `files` into `dir` (new or empty), with the project's names in
/// the templates.
fn create(dir: &Path, name: &str, files: &[File]) -> anyhow::Result<()> {
    let occupied = std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some());
    if occupied {
        anyhow::bail!("{} exists and is not empty", dir.display());
    }
    let module = name.replace('-', "_");
    for file in files {
        let path = dir.join(file.path);
        let parent = path.parent().expect("a file is in a directory");
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
        let vendored = file.path.starts_with("vendor/") || file.path.starts_with("wit/deps/");
        let text = if vendored {
            file.text.to_owned()
        } else {
            file.text
                .replace("__NAME__", name)
                .replace("__MODULE__", &module)
        };
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        if file.executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .with_context(|| format!("cannot make {} executable", path.display()))?;
        }
    }
    Ok(())
}

/// A project name: lower-case words of letters and digits, each starting
/// with a letter, joined by `-` (a WIT identifier and a crate name).
fn project_name(text: &str) -> Result<String, String> {
    let word = |word: &str| {
        word.starts_with(|c: char| c.is_ascii_lowercase())
            && word
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    };
    if text.split('-').all(word) {
        Ok(text.to_owned())
    } else {
        Err(
            "lower-case words joined by `-`, each starting with a letter (e.g. `word-count`)"
                .into(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_wit_identifiers() {
        for good in ["hello", "word-count", "v2-parser"] {
            assert_eq!(project_name(good).as_deref(), Ok(good));
        }
        for bad in ["", "Hello", "word_count", "2fast", "a--b", "-a", "a-"] {
            assert!(project_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn projects_are_created_in_an_empty_directory_only() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("p");
        create(&project, "word-count", PYTHON).unwrap();
        let world = std::fs::read_to_string(project.join("wit/world.wit")).unwrap();
        assert!(world.contains("package local:word-count@0.1.0;"), "{world}");
        assert!(world.contains("world word-count {"), "{world}");
        let error = create(&project, "word-count", PYTHON).unwrap_err();
        assert!(error.to_string().contains("is not empty"), "{error}");
    }
}
