//! The records of the store: what one durable inode looks like on disk,
//! with the encodings of names and times they use.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Metadata that a sync makes durable along with an inode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Permission bits (no file type bits).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime_sec: i64,
    pub mtime_nsec: u32,
}

impl Meta {
    pub fn new(mode: u32, uid: u32, gid: u32, mtime: SystemTime) -> Meta {
        let (mtime_sec, mtime_nsec) = time_to_parts(mtime);
        Meta {
            mode: mode & 0o7777,
            uid,
            gid,
            mtime_sec,
            mtime_nsec,
        }
    }

    pub fn mtime(&self) -> SystemTime {
        time_from_parts(self.mtime_sec, self.mtime_nsec)
    }
}

/// What kind of inode a record describes, with its durable contents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    /// `generation` 0 means no data file: the durable contents are empty.
    File { size: u64, generation: u64 },
    /// Entry names are encoded with [`encode_name`].
    Dir { entries: BTreeMap<String, u64> },
    /// The target is encoded with [`encode_name`].
    Symlink { target: String },
}

/// One durable inode, as stored in `inodes/<id>.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    #[serde(flatten)]
    pub meta: Meta,
    #[serde(flatten)]
    pub body: Body,
}

/// Whether `name` can be a directory entry.
pub fn is_valid_name(name: &OsStr) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty() && bytes != b"." && bytes != b".." && !bytes.contains(&b'/')
}

/// Encodes a file name (any bytes) as a readable JSON string: printable
/// ASCII other than `%` stays as it is, every other byte becomes `%XX`.
pub fn encode_name(name: &OsStr) -> String {
    let mut out = String::with_capacity(name.len());
    for &byte in name.as_bytes() {
        if (byte.is_ascii_graphic() && byte != b'%') || byte == b' ' {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Reverses [`encode_name`].
pub fn decode_name(encoded: &str) -> Option<OsString> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(OsString::from_vec(out))
}

fn time_to_parts(time: SystemTime) -> (i64, u32) {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => (after.as_secs() as i64, after.subsec_nanos()),
        Err(before) => {
            let before = before.duration();
            let secs = -(before.as_secs() as i64);
            match before.subsec_nanos() {
                0 => (secs, 0),
                nanos => (secs - 1, 1_000_000_000 - nanos),
            }
        }
    }
}

fn time_from_parts(secs: i64, nanos: u32) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::new(secs as u64, nanos)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs()) + Duration::from_nanos(nanos.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in [
            &b"plain.parquet"[..],
            b"with space",
            b"100%",
            b"\xff\x00\n",
            "caf\u{e9}".as_bytes(),
        ] {
            let name = OsStr::from_bytes(name);
            let encoded = encode_name(name);
            assert!(encoded.is_ascii());
            assert_eq!(decode_name(&encoded).as_deref(), Some(name));
        }
        assert_eq!(encode_name(OsStr::new("a b%")), "a b%25");
        assert_eq!(decode_name("%4"), None);
    }

    #[test]
    fn times_round_trip() {
        for time in [
            UNIX_EPOCH,
            UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789),
            UNIX_EPOCH - Duration::new(5, 250_000_000),
        ] {
            let (secs, nanos) = time_to_parts(time);
            assert_eq!(time_from_parts(secs, nanos), time);
        }
    }

    #[test]
    fn records_serialize_readably() {
        let record = Record {
            meta: Meta::new(0o644, 0, 0, UNIX_EPOCH),
            body: Body::File {
                size: 3,
                generation: 1,
            },
        };
        let json = serde_json::to_string(&record).unwrap();
        assert!(json.contains("\"kind\":\"file\""), "{json}");
        assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), record);
    }
}
