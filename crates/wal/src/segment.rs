//! The segment file format.
//!
//! A segment is named after the LSN of its first record
//! (`00000000000000000042.wal`) and starts with the 8-byte magic
//! `FLOEWAL2`. Records follow back to back:
//!
//! ```text
//! u32 LE  body length
//! u32 LE  CRC-32 of the body
//! body:   u64 LE lsn | u64 LE group | u16 LE key length | key (UTF-8) | payload
//! ```
//!
//! `group` is the LSN of the first record of the group the record was
//! written and synced with. Groups are written one after another, each only
//! once the one before it is synced, so a damaged record followed by an
//! intact record of a *later* group was synced (and acknowledged): that is
//! damage, never a torn write. Segments of the first format (`FLOEWAL1`,
//! without `group`) are still read; each of their records counts as a group
//! of its own.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::{Lsn, Result, WalError};

const MAGIC: &[u8; 8] = b"FLOEWAL2";
const MAGIC_V1: &[u8; 8] = b"FLOEWAL1";
const HEADER: usize = 8;
const BODY_FIXED: usize = 8 + 8 + 2;
const BODY_FIXED_V1: usize = 8 + 2;

/// The record layout of a segment, told by its magic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    V1,
    V2,
}

impl Format {
    fn body_fixed(self) -> usize {
        match self {
            Format::V1 => BODY_FIXED_V1,
            Format::V2 => BODY_FIXED,
        }
    }
}

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

/// Appends one record to `out`; `group` is the LSN of the first record of
/// the group it will be written and synced with.
pub(crate) fn encode(out: &mut Vec<u8>, lsn: Lsn, group: Lsn, key: &str, payload: &[u8]) {
    let key = &key.as_bytes()[..key.len().min(u16::MAX as usize)];
    let body_len = BODY_FIXED + key.len() + payload.len();
    let start = out.len();
    out.reserve(HEADER + body_len);
    out.extend_from_slice(&(body_len as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&lsn.to_le_bytes());
    out.extend_from_slice(&group.to_le_bytes());
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
        let format = match data.get(..HEADER) {
            Some(m) if m == MAGIC => Format::V2,
            Some(m) if m == MAGIC_V1 => Format::V1,
            _ if is_last && data.len() < HEADER && MAGIC.starts_with(&data) => {
                // Created but its header never reached the disk: nothing in it.
                remove_empty(dir, &path)?;
                continue;
            }
            _ => return Err(corrupt(0, "not a Floe WAL segment (bad magic)".into())),
        };
        let mut offset = HEADER;
        let mut torn: Option<(usize, String)> = None;
        while offset < data.len() {
            match decode(format, &data[offset..]) {
                Ok((record, len)) => {
                    let entry = record.entry;
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
            if let Some(later) = synced_after(format, &data, offset, last_lsn) {
                return Err(corrupt(
                    offset,
                    format!(
                        "{reason}, and the intact record of LSN {} at byte {} was written in a \
                         later group, so the damaged record had been synced and acknowledged",
                        later.entry.lsn, later.offset
                    ),
                ));
            }
            tracing::warn!(path = %path.display(), offset, %reason,
                dropped_bytes = data.len() - offset,
                "cutting off a torn write at the end of the write-ahead log; \
                 it was never acknowledged");
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
        if is_last && info.last_lsn < first {
            // The last segment holds no record (created just before a crash,
            // or its only group was torn): remove it, so the next write can
            // start a segment of the same name.
            remove_empty(dir, &path)?;
            continue;
        }
        segments.push(info);
    }
    Ok((segments, entries))
}

/// Removes a segment that holds no record and makes the removal durable.
fn remove_empty(dir: &Path, path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(WalError::Io {
                path: path.to_path_buf(),
                operation: "removing an empty segment",
                source,
            });
        }
    }
    sync_dir(dir)
}

/// A record found by [`synced_after`].
struct Found {
    entry: Entry,
    offset: usize,
}

/// Looks past a bad record at `bad` (the first record after LSN `last`) for
/// an intact record of a later group than the bad one. Finding one proves
/// the bad record's group was synced before that group was written, so the
/// bad record is damage, not a torn write. Records of the bad record's own
/// group may survive a torn write in any order and prove nothing.
fn synced_after(format: Format, data: &[u8], bad: usize, last: Lsn) -> Option<Found> {
    let bad_lsn = last + 1;
    let mut offset = bad + 1;
    while offset + HEADER + format.body_fixed() <= data.len() {
        if let Ok((record, len)) = decode(format, &data[offset..])
            && record.entry.lsn > last
        {
            if record.group > bad_lsn {
                return Some(Found {
                    entry: record.entry,
                    offset,
                });
            }
            offset += len;
            continue;
        }
        offset += 1;
    }
    None
}

/// A decoded record and the group it was written with.
struct Record {
    entry: Entry,
    group: Lsn,
}

/// Decodes one record; returns it and its encoded length.
fn decode(format: Format, data: &[u8]) -> std::result::Result<(Record, usize), String> {
    if data.len() < HEADER {
        return Err(format!(
            "{} bytes left, a record header needs 8",
            data.len()
        ));
    }
    let body_len = u32::from_le_bytes(data[0..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(data[4..8].try_into().expect("4 bytes"));
    let fixed = format.body_fixed();
    if body_len < fixed {
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
    let group = match format {
        Format::V1 => lsn,
        Format::V2 => u64::from_le_bytes(body[8..16].try_into().expect("8 bytes")),
    };
    let key_len = u16::from_le_bytes(body[fixed - 2..fixed].try_into().expect("2 bytes")) as usize;
    let Some(key) = body.get(fixed..fixed + key_len) else {
        return Err(format!("key length {key_len} exceeds the record"));
    };
    let key = std::str::from_utf8(key)
        .map_err(|_| "key is not UTF-8".to_string())?
        .to_string();
    let payload = body[fixed + key_len..].to_vec();
    Ok((
        Record {
            entry: Entry { lsn, key, payload },
            group,
        },
        HEADER + body_len,
    ))
}
