//! The data directory and its single-owner lock.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::{Result, StorageError};

const LOCK_FILE: &str = "floe.lock";
const CATALOG_FILE: &str = "catalog.db";
const WAREHOUSE_DIR: &str = "warehouse";

/// An opened, exclusively locked data directory.
///
/// The lock is an advisory `flock` on `floe.lock`; the operating system
/// releases it when the process exits, however it exits, so a `kill -9`
/// never leaves a stale lock behind.
#[derive(Debug)]
pub struct DataDir {
    root: PathBuf,
    _lock: File,
}

impl DataDir {
    /// Creates the directory if needed and takes its lock.
    ///
    /// Fails at once with [`StorageError::DataDirLocked`] if another process
    /// holds it; nothing in the directory is touched in that case.
    pub fn open(path: &Path) -> Result<DataDir> {
        let io = |source| StorageError::DataDirIo {
            path: path.to_path_buf(),
            source,
        };
        floe_common::fs::create_dir_all_durable(path).map_err(io)?;
        let root = fs::canonicalize(path).map_err(io)?;
        let lock_path = root.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(StorageError::DataDirLocked {
                    path: root,
                    lock: lock_path,
                });
            }
            Err(TryLockError::Error(source)) => return Err(io(source)),
        }
        floe_common::fs::create_dir_all_durable(&root.join(WAREHOUSE_DIR)).map_err(io)?;
        Ok(DataDir { root, _lock: lock })
    }

    /// The absolute path of the data directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The SQLite file holding the Iceberg SQL catalog.
    pub fn catalog_path(&self) -> PathBuf {
        self.root.join(CATALOG_FILE)
    }

    /// The write-ahead log's segment files.
    pub fn wal_path(&self) -> PathBuf {
        self.root.join("wal")
    }

    /// The folder holding table data and metadata.
    pub fn warehouse_path(&self) -> PathBuf {
        self.root.join(WAREHOUSE_DIR)
    }
}

#[cfg(test)]
mod tests;
