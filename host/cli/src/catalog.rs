//! The components a worker serves: every `.wasm` file of a directory, or a
//! list of files, each loaded under its file stem, reloaded when the file
//! changes and unloaded when it is deleted. A file that fails to load is
//! logged; the version loaded before it (if any) keeps serving.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use activity_host::Host;

/// Where the components come from.
#[derive(Clone, Debug)]
pub enum Sources {
    /// Every `*.wasm` file in this directory (new files are picked up too).
    Directory(PathBuf),
    /// These files, each under its name.
    Files(Vec<(String, PathBuf)>),
}

/// One watched file.
#[derive(Clone, Debug)]
struct Watched {
    name: String,
    path: PathBuf,
    /// Modification time and length when last loaded (or tried).
    seen: Option<(SystemTime, u64)>,
}

/// The watched component files of a worker.
pub struct Catalog {
    sources: Sources,
    watched: Mutex<Vec<Watched>>,
    /// Whether the directory could not be listed last time (logged once
    /// until it can).
    unlisted: AtomicBool,
}

impl Catalog {
    /// A catalog of `sources`; nothing is loaded until [`Catalog::refresh`].
    pub fn new(sources: Sources) -> Self {
        Self {
            sources,
            watched: Mutex::default(),
            unlisted: AtomicBool::new(false),
        }
    }

    /// Where the components come from.
    pub fn sources(&self) -> &Sources {
        &self.sources
    }

    /// The names of the components it watches (loaded or not).
    pub fn names(&self) -> Vec<String> {
        let watched = self
            .watched
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        watched.iter().map(|w| w.name.clone()).collect()
    }

    /// The file component `name` was loaded from.
    pub fn path_of(&self, name: &str) -> Option<PathBuf> {
        let watched = self
            .watched
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        watched
            .iter()
            .find(|w| w.name == name)
            .map(|w| w.path.clone())
    }

    /// Loads every file that is new or changed since the last refresh.
    /// Returns how many components are loaded in all.
    pub async fn refresh(&self, host: &Host) -> usize {
        let files = match self.named_files() {
            Ok(files) => {
                self.unlisted.store(false, Ordering::Relaxed);
                files
            }
            Err(error) => {
                if !self.unlisted.swap(true, Ordering::Relaxed) {
                    let dir = match &self.sources {
                        Sources::Directory(dir) => dir.display().to_string(),
                        Sources::Files(_) => String::new(),
                    };
                    tracing::warn!(
                        %dir,
                        %error,
                        "cannot list the component directory {dir}: {error}; looking again every second"
                    );
                }
                return host.component_names().len();
            }
        };
        let (mut load, mut unload) = (Vec::new(), Vec::new());
        {
            let mut watched = self
                .watched
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for (name, path) in &files {
                let seen = stamp(path);
                match watched
                    .iter_mut()
                    .find(|w| w.name == *name && w.path == *path)
                {
                    Some(entry) if entry.seen == seen => {}
                    Some(entry) if seen.is_none() => {
                        entry.seen = None;
                        unload.push(entry.clone());
                    }
                    Some(entry) => {
                        entry.seen = seen;
                        load.push(entry.clone());
                    }
                    None => {
                        let (name, path) = (name.clone(), path.clone());
                        let entry = Watched { name, path, seen };
                        watched.push(entry.clone());
                        load.push(entry);
                    }
                }
            }
            // A file of a directory deleted since it was loaded: no longer listed.
            for entry in watched.iter_mut() {
                let listed = files.iter().any(|(_, path)| *path == entry.path);
                if entry.seen.is_some() && !listed {
                    entry.seen = None;
                    unload.push(entry.clone());
                }
            }
        }
        for entry in unload {
            let why = format!("{} was deleted", entry.path.display());
            host.unload(&entry.name, &why);
        }
        for entry in load {
            if let Err(error) = host.load_file(&entry.name, &entry.path).await {
                tracing::error!(
                    component = entry.name,
                    file = %entry.path.display(),
                    %error,
                    "component not loaded; the previous version, if any, keeps serving"
                );
            }
        }
        host.component_names().len()
    }

    /// Refreshes every `every` in a background task, until the task is
    /// aborted.
    pub fn keep_loaded(
        self: &Arc<Self>,
        host: &Arc<Host>,
        every: Duration,
    ) -> tokio::task::JoinHandle<()> {
        let (catalog, host) = (self.clone(), host.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                catalog.refresh(&host).await;
            }
        })
    }

    fn named_files(&self) -> std::io::Result<Vec<(String, PathBuf)>> {
        match &self.sources {
            Sources::Files(files) => Ok(files.clone()),
            Sources::Directory(dir) => {
                let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(dir)?
                    .filter_map(|entry| entry.ok().map(|e| e.path()))
                    .filter(|path| path.extension().is_some_and(|ext| ext == "wasm"))
                    .map(|path| (stem(&path), path))
                    .collect();
                files.sort();
                Ok(files)
            }
        }
    }
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.modified().ok()?, metadata.len()))
}

/// A component's default name: its file name without `.wasm`.
pub fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "component".to_owned())
}
