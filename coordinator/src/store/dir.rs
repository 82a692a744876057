//! The data directory: one coordinator at a time (a lock file), and the
//! layout version it was written with (a format file).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::StoreError;
use super::layout::FORMAT_VERSION;

/// Name of the lock file, locked for as long as a coordinator runs.
const LOCK_FILE: &str = "LOCK";
/// Name of the file that says which layout version the data is in.
const FORMAT_FILE: &str = "FORMAT";
/// What the format file starts with.
const FORMAT_NAME: &str = "coordinator-store";
/// The folder the storage engine keeps its files in.
const ENGINE_DIR: &str = "engine";
/// Written when a coordinator closes the store, removed when one opens it:
/// missing at open means the last run stopped without closing (a crash).
const CLEAN_FILE: &str = "CLEAN";

/// A data directory held by this process.
#[derive(Debug)]
pub(super) struct DataDir {
    path: PathBuf,
    /// Whether the last run closed the store (or there was none).
    last_run_closed: bool,
    /// Held, and locked, until the directory is let go.
    _lock: File,
}

impl DataDir {
    /// Takes the data directory at `path`, creating it if needed: refuses
    /// when another coordinator holds it, or when it was written with
    /// another layout version.
    ///
    /// # Errors
    ///
    /// [`StoreError::Locked`], [`StoreError::Version`], or
    /// [`StoreError::Io`] when the directory cannot be created or read.
    pub(super) fn open(path: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(path).map_err(|e| StoreError::io(path, e))?;
        let lock_path = path.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StoreError::io(&lock_path, e))?;
        if lock.try_lock().is_err() {
            return Err(StoreError::Locked(path.to_path_buf()));
        }
        let fresh = !path.join(ENGINE_DIR).exists();
        let clean = path.join(CLEAN_FILE);
        let last_run_closed = fresh || clean.exists();
        let _ = std::fs::remove_file(&clean);
        let dir = Self {
            path: path.to_path_buf(),
            last_run_closed,
            _lock: lock,
        };
        dir.check_format()?;
        Ok(dir)
    }

    /// Whether the last coordinator on this directory closed the store
    /// (or this is a new directory).
    pub(super) fn last_run_closed(&self) -> bool {
        self.last_run_closed
    }

    /// Notes that this run closed the store: every record is written.
    pub(super) fn mark_closed(&self) {
        let clean = self.path.join(CLEAN_FILE);
        if let Err(e) = File::create(&clean).and_then(|file| file.sync_all()) {
            tracing::warn!(path = %clean.display(), error = %e, "could not note the clean stop");
        }
    }

    /// The directory.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// The folder of the storage engine's files.
    pub(super) fn engine_path(&self) -> PathBuf {
        self.path.join(ENGINE_DIR)
    }

    /// Checks the format file, or writes it in a directory that has none
    /// and no data.
    fn check_format(&self) -> Result<(), StoreError> {
        let format = self.path.join(FORMAT_FILE);
        match std::fs::read_to_string(&format) {
            Ok(text) => {
                let version = text
                    .strip_prefix(FORMAT_NAME)
                    .map(str::trim)
                    .and_then(|v| v.parse::<u32>().ok());
                match version {
                    Some(FORMAT_VERSION) => Ok(()),
                    found => Err(StoreError::Version {
                        path: format,
                        found: found
                            .map_or_else(|| format!("{:?}", text.trim()), |v| v.to_string()),
                    }),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if self.engine_path().exists() {
                    return Err(StoreError::Version {
                        path: format,
                        found: "no format file".to_owned(),
                    });
                }
                let mut file = File::create(&format).map_err(|e| StoreError::io(&format, e))?;
                writeln!(file, "{FORMAT_NAME} {FORMAT_VERSION}")
                    .and_then(|()| file.sync_all())
                    .map_err(|e| StoreError::io(&format, e))
            }
            Err(e) => Err(StoreError::io(&format, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("store-dir-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let path = scratch("lock");
        let first = DataDir::open(&path).unwrap();
        let second = DataDir::open(&path).unwrap_err();
        assert!(matches!(second, StoreError::Locked(_)), "{second}");
        assert!(
            second.to_string().contains("another coordinator"),
            "{second}"
        );
        drop(first);
        DataDir::open(&path).unwrap();
    }

    #[test]
    fn an_unknown_format_version_is_refused_with_what_was_found() {
        let path = scratch("version");
        drop(DataDir::open(&path).unwrap());
        let format = path.join(FORMAT_FILE);
        assert_eq!(
            std::fs::read_to_string(&format).unwrap(),
            format!("{FORMAT_NAME} {FORMAT_VERSION}\n")
        );
        std::fs::write(&format, format!("{FORMAT_NAME} 99\n")).unwrap();
        let refused = DataDir::open(&path).unwrap_err();
        assert!(matches!(refused, StoreError::Version { .. }));
        let message = refused.to_string();
        assert!(message.contains("version 99"), "{message}");
        assert!(
            message.contains(&format!("reads version {FORMAT_VERSION}")),
            "{message}"
        );
    }

    #[test]
    fn engine_files_without_a_format_file_are_refused() {
        let path = scratch("no-format");
        std::fs::create_dir_all(path.join(ENGINE_DIR)).unwrap();
        let refused = DataDir::open(&path).unwrap_err();
        assert!(refused.to_string().contains("no format file"), "{refused}");
    }
}
