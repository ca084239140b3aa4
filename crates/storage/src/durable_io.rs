//! The Iceberg file I/O of a local warehouse, with every file durable when
//! its write returns.
//!
//! The Iceberg library's local storage syncs a streamed file's contents on
//! close but never the directory that names it, and writes one-shot files
//! (metadata JSON, manifest lists, position-delete files) without syncing
//! them at all. A commit that moved the catalog pointer to such files could
//! point, after a power cut, at files that no longer exist. Here every file
//! written is synced, then its directory, and new directories are made
//! durable up to an existing one, so when a write returns the file survives
//! a power cut under its name. Reads and deletes are the library's.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use iceberg::io::{
    FileMetadata, FileRead, FileWrite, InputFile, LocalFsStorage, OutputFile, Storage,
    StorageConfig, StorageFactory,
};
use iceberg::{Error, ErrorKind};
use serde::{Deserialize, Serialize};

/// Builds [`DurableFsStorage`] for the warehouse's `file:` locations.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DurableFsStorageFactory;

#[typetag::serde]
impl StorageFactory for DurableFsStorageFactory {
    fn build(&self, _config: &StorageConfig) -> iceberg::Result<Arc<dyn Storage>> {
        Ok(Arc::new(DurableFsStorage::default()))
    }
}

/// Local storage whose writes are durable (file and directory entry) when
/// they return.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DurableFsStorage {
    inner: LocalFsStorage,
}

/// A location (`file:///a/b`, `/a/b`) as a local path.
fn local_path(location: &str) -> PathBuf {
    let path = location
        .strip_prefix("file://")
        .or_else(|| location.strip_prefix("file:"))
        .unwrap_or(location);
    if path.starts_with('/') {
        PathBuf::from(path)
    } else {
        PathBuf::from(format!("/{path}"))
    }
}

fn io_error(operation: &str, path: &std::path::Path, e: std::io::Error) -> Error {
    Error::new(
        ErrorKind::Unexpected,
        format!("{operation} {}: {e}", path.display()),
    )
    .with_source(e)
}

fn parent(path: &std::path::Path) -> &std::path::Path {
    path.parent().unwrap_or(std::path::Path::new("/"))
}

#[typetag::serde]
#[async_trait]
impl Storage for DurableFsStorage {
    async fn exists(&self, path: &str) -> iceberg::Result<bool> {
        self.inner.exists(path).await
    }

    async fn metadata(&self, path: &str) -> iceberg::Result<FileMetadata> {
        self.inner.metadata(path).await
    }

    async fn read(&self, path: &str) -> iceberg::Result<Bytes> {
        self.inner.read(path).await
    }

    async fn reader(&self, path: &str) -> iceberg::Result<Box<dyn FileRead>> {
        self.inner.reader(path).await
    }

    async fn write(&self, path: &str, bs: Bytes) -> iceberg::Result<()> {
        let path = local_path(path);
        tokio::task::spawn_blocking(move || {
            floe_common::fs::write_durable(&path, &bs)
                .map_err(|e| io_error("writing durably", &path, e))
        })
        .await
        .map_err(|e| Error::new(ErrorKind::Unexpected, format!("writing a file: {e}")))?
    }

    async fn writer(&self, path: &str) -> iceberg::Result<Box<dyn FileWrite>> {
        let path = local_path(path);
        let dir = parent(&path);
        floe_common::fs::create_dir_all_durable(dir)
            .map_err(|e| io_error("creating directory", dir, e))?;
        let file = std::fs::File::create(&path).map_err(|e| io_error("creating file", &path, e))?;
        Ok(Box::new(DurableFileWrite {
            file: Some(file),
            path,
        }))
    }

    async fn delete(&self, path: &str) -> iceberg::Result<()> {
        self.inner.delete(path).await
    }

    async fn delete_prefix(&self, path: &str) -> iceberg::Result<()> {
        self.inner.delete_prefix(path).await
    }

    async fn delete_stream(&self, paths: BoxStream<'static, String>) -> iceberg::Result<()> {
        self.inner.delete_stream(paths).await
    }

    fn new_input(&self, path: &str) -> iceberg::Result<InputFile> {
        Ok(InputFile::new(Arc::new(self.clone()), path.to_string()))
    }

    fn new_output(&self, path: &str) -> iceberg::Result<OutputFile> {
        Ok(OutputFile::new(Arc::new(self.clone()), path.to_string()))
    }
}

/// A streamed file; closing it syncs the file and then its directory.
struct DurableFileWrite {
    file: Option<std::fs::File>,
    path: PathBuf,
}

#[async_trait]
impl FileWrite for DurableFileWrite {
    async fn write(&mut self, bs: Bytes) -> iceberg::Result<()> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| Error::new(ErrorKind::DataInvalid, "write to a closed file"))?;
        file.write_all(&bs)
            .map_err(|e| io_error("writing", &self.path, e))
    }

    async fn close(&mut self) -> iceberg::Result<()> {
        let file = self
            .file
            .take()
            .ok_or_else(|| Error::new(ErrorKind::DataInvalid, "file already closed"))?;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            file.sync_all().map_err(|e| io_error("syncing", &path, e))?;
            floe_common::fs::sync_dir(parent(&path))
                .map_err(|e| io_error("syncing the directory of", &path, e))
        })
        .await
        .map_err(|e| Error::new(ErrorKind::Unexpected, format!("closing a file: {e}")))?
    }
}

#[cfg(test)]
mod tests;
