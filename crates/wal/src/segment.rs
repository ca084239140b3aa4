//! The segment file format.
//!
//! A segment is named after the LSN of its first record
//! (`00000000000000000042.wal`) and starts with the 8-byte magic
//! `FLOEWAL1`. Records follow back to back:
//!
//! ```text
//! u32 LE  body length
//! u32 LE  CRC-32 of the body
//! body:   u64 LE lsn | u16 LE key length | key (UTF-8) | payload
//! ```

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::{Lsn, Result, WalError};

const MAGIC: &[u8; 8] = b"FLOEWAL1";
const HEADER: usize = 8;
const BODY_FIXED: usize = 8 + 2;

/// One replayed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub lsn: Lsn,
    pub key: String,
    pub payload: Vec<u8>,
}

/// What the log knows about one segment file.
#[derive(Debug, Clone)]
pub(crate) struct SegmentInfo {
    pub path: PathBuf,
    pub last_lsn: Lsn,
    pub bytes: u64,
    /// The highest LSN of each key with records in the segment.
    pub keys: HashMap<String, Lsn>,
}

pub(crate) fn record_size(key: &str, payload: &[u8]) -> usize {
    HEADER + BODY_FIXED + key.len() + payload.len()
}

pub(crate) fn encode(out: &mut Vec<u8>, lsn: Lsn, key: &str, payload: &[u8]) {
    let key = &key.as_bytes()[..key.len().min(u16::MAX as usize)];
    let body_len = BODY_FIXED + key.len() + payload.len();
    let start = out.len();
    out.reserve(HEADER + body_len);
    out.extend_from_slice(&(body_len as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&lsn.to_le_bytes());
    out.extend_from_slice(&(key.len() as u16).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out[start + HEADER..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

fn segment_name(first_lsn: Lsn) -> String {
    format!("{first_lsn:020}.wal")
}

/// Creates a new, empty segment and makes its directory entry durable.
pub(crate) fn create(dir: &Path, first_lsn: Lsn) -> Result<(File, SegmentInfo)> {
    let path = dir.join(segment_name(first_lsn));
    let io = |operation, source| WalError::Io {
        path: path.clone(),
        operation,
        source,
    };
    let mut file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&path)
        .map_err(|e| io("creating segment", e))?;
    std::io::Write::write_all(&mut file, MAGIC).map_err(|e| io("writing", e))?;
    file.sync_all().map_err(|e| io("syncing", e))?;
    sync_dir(dir)?;
    let info = SegmentInfo {
        path: path.clone(),
        last_lsn: first_lsn.saturating_sub(1),
        bytes: MAGIC.len() as u64,
        keys: HashMap::new(),
    };
    Ok((file, info))
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| WalError::Io {
            path: dir.to_path_buf(),
            operation: "syncing directory",
            source,
        })
}

/// Reads every segment in `dir`, in order. A damaged tail of the last
/// segment is truncated away; damage elsewhere is an error.
pub(crate) fn replay(dir: &Path) -> Result<(Vec<SegmentInfo>, Vec<Entry>)> {
    let mut paths = Vec::new();
    let listing = std::fs::read_dir(dir).map_err(|source| WalError::Io {
        path: dir.to_path_buf(),
        operation: "listing",
        source,
    })?;
    for item in listing {
        let item = item.map_err(|source| WalError::Io {
            path: dir.to_path_buf(),
            operation: "listing",
            source,
        })?;
        let name = item.file_name();
        let name = name.to_string_lossy();
        if let Some(stem) = name.strip_suffix(".wal")
            && let Ok(first) = stem.parse::<Lsn>()
        {
            paths.push((first, item.path()));
        }
    }
    paths.sort();
    let mut segments = Vec::with_capacity(paths.len());
    let mut entries = Vec::new();
    let mut last_lsn: Lsn = 0;
    let count = paths.len();
    for (i, (first, path)) in paths.into_iter().enumerate() {
        let is_last = i + 1 == count;
        let mut data = Vec::new();
        File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut data))
            .map_err(|source| WalError::Io {
                path: path.clone(),
                operation: "reading",
                source,
            })?;
        let corrupt = |offset: usize, reason: String| WalError::Corrupt {
            path: path.clone(),
            offset: offset as u64,
            reason,
        };
        let mut info = SegmentInfo {
            path: path.clone(),
            last_lsn: first.saturating_sub(1),
            bytes: data.len() as u64,
            keys: HashMap::new(),
        };
        if data.len() < HEADER || &data[..HEADER] != MAGIC {
            if is_last && data.len() < HEADER && MAGIC.starts_with(&data) {
                // Created but its header never reached the disk: nothing in it.
                let _ = std::fs::remove_file(&path);
                continue;
            }
            return Err(corrupt(0, "not a Floe WAL segment (bad magic)".into()));
        }
        let mut offset = HEADER;
        let mut torn: Option<(usize, String)> = None;
        while offset < data.len() {
            match decode(&data[offset..]) {
                Ok((entry, len)) => {
                    if entry.lsn <= last_lsn {
                        return Err(corrupt(
                            offset,
                            format!("LSN {} does not follow {last_lsn}", entry.lsn),
                        ));
                    }
                    last_lsn = entry.lsn;
                    info.last_lsn = entry.lsn;
                    info.keys.insert(entry.key.clone(), entry.lsn);
                    entries.push(entry);
                    offset += len;
                }
                Err(reason) => {
                    torn = Some((offset, reason));
                    break;
                }
            }
        }
        if let Some((offset, reason)) = torn {
            if !is_last {
                return Err(corrupt(offset, reason));
            }
            tracing::warn!(path = %path.display(), offset, %reason,
                "cutting off a torn record at the end of the write-ahead log");
            let file = OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_len(offset as u64).and_then(|_| f.sync_all()));
            file.map_err(|source| WalError::Io {
                path: path.clone(),
                operation: "truncating a torn tail",
                source,
            })?;
            info.bytes = offset as u64;
        }
        segments.push(info);
    }
    Ok((segments, entries))
}

/// Decodes one record; returns it and its encoded length.
fn decode(data: &[u8]) -> std::result::Result<(Entry, usize), String> {
    if data.len() < HEADER {
        return Err(format!(
            "{} bytes left, a record header needs 8",
            data.len()
        ));
    }
    let body_len = u32::from_le_bytes(data[0..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(data[4..8].try_into().expect("4 bytes"));
    if body_len < BODY_FIXED {
        return Err(format!("record length {body_len} is too small"));
    }
    let Some(body) = data.get(HEADER..HEADER + body_len) else {
        return Err(format!(
            "record of {body_len} bytes, only {} left",
            data.len() - HEADER
        ));
    };
    if crc32fast::hash(body) != crc {
        return Err("checksum mismatch".into());
    }
    let lsn = u64::from_le_bytes(body[0..8].try_into().expect("8 bytes"));
    let key_len = u16::from_le_bytes(body[8..10].try_into().expect("2 bytes")) as usize;
    let Some(key) = body.get(BODY_FIXED..BODY_FIXED + key_len) else {
        return Err(format!("key length {key_len} exceeds the record"));
    };
    let key = std::str::from_utf8(key)
        .map_err(|_| "key is not UTF-8".to_string())?
        .to_string();
    let payload = body[BODY_FIXED + key_len..].to_vec();
    Ok((Entry { lsn, key, payload }, HEADER + body_len))
}
