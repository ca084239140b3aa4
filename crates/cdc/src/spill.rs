//! Row changes of a large source transaction kept in a temporary file
//! under the data directory (`cdc-spill/`) instead of memory, and read
//! back, in order, when the transaction commits.
//!
//! A record is one change: the upstream table (an index into the
//! transaction's table names), its kind, the relation version it was
//! written under (an index into the transaction's relations) and its
//! tuples. Files are the worker's own: each is removed once applied, and
//! whatever a crash left is removed when the worker starts.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::apply::Op;
use crate::pgoutput::{Relation, Value};

/// The folder of spill files in a data directory.
pub(crate) fn dir(root: &Path) -> PathBuf {
    root.join("cdc-spill")
}

/// Removes the spill files a source's worker left (at its start).
pub(crate) fn clean(root: &Path, source: &str) {
    let prefix = format!("{source}.");
    let Ok(entries) = std::fs::read_dir(dir(root)) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A transaction's changes being written to a file.
pub(crate) struct SpillWriter {
    path: PathBuf,
    out: BufWriter<File>,
    tables: Vec<String>,
    relations: Vec<Arc<Relation>>,
    /// Changes written.
    pub count: usize,
    /// Whether the file was handed on (finished) rather than abandoned.
    finished: bool,
}

/// A spilled transaction, complete, to be read back.
pub(crate) struct Spilled {
    path: PathBuf,
    tables: Vec<String>,
    relations: Vec<Arc<Relation>>,
    /// Changes in the file.
    pub count: usize,
}

impl SpillWriter {
    /// Creates the file of a source's transaction `xid`.
    pub(crate) fn create(root: &Path, source: &str, xid: u32) -> std::io::Result<SpillWriter> {
        let dir = dir(root);
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{source}.{xid}.ops"));
        let out = BufWriter::with_capacity(256 * 1024, File::create(&path)?);
        Ok(SpillWriter {
            path,
            out,
            tables: Vec::new(),
            relations: Vec::new(),
            count: 0,
            finished: false,
        })
    }

    /// Appends one change of `upstream`.
    pub(crate) fn write(&mut self, upstream: &str, op: &Op) -> std::io::Result<()> {
        let table = match self.tables.iter().position(|t| t == upstream) {
            Some(i) => i,
            None => {
                self.tables.push(upstream.to_string());
                self.tables.len() - 1
            }
        };
        let mut record = Vec::with_capacity(64);
        record.extend_from_slice(&(table as u32).to_be_bytes());
        match op {
            Op::Upsert { relation, old, new } => {
                record.push(b'U');
                record.extend_from_slice(&self.relation(relation).to_be_bytes());
                match old {
                    Some(old) => {
                        record.push(1);
                        tuple(&mut record, old);
                    }
                    None => record.push(0),
                }
                tuple(&mut record, new);
            }
            Op::Delete { relation, old } => {
                record.push(b'D');
                record.extend_from_slice(&self.relation(relation).to_be_bytes());
                tuple(&mut record, old);
            }
            Op::Truncate => record.push(b'T'),
        }
        self.out.write_all(&(record.len() as u64).to_be_bytes())?;
        self.out.write_all(&record)?;
        self.count += 1;
        Ok(())
    }

    fn relation(&mut self, relation: &Arc<Relation>) -> u32 {
        match self.relations.iter().position(|r| Arc::ptr_eq(r, relation)) {
            Some(i) => i as u32,
            None => {
                self.relations.push(relation.clone());
                (self.relations.len() - 1) as u32
            }
        }
    }

    /// Drops the changes of `upstream` written so far (a table that
    /// paused or is copied again): they are skipped when read back.
    pub(crate) fn forget(&mut self, upstream: &str) {
        if let Some(t) = self.tables.iter_mut().find(|t| *t == upstream) {
            // No table has an empty name; its records read back as skipped.
            t.clear();
        }
    }

    /// Finishes the file for reading.
    pub(crate) fn finish(mut self) -> std::io::Result<Spilled> {
        self.out.flush()?;
        self.finished = true;
        Ok(Spilled {
            path: self.path.clone(),
            tables: std::mem::take(&mut self.tables),
            relations: std::mem::take(&mut self.relations),
            count: self.count,
        })
    }
}

impl Drop for SpillWriter {
    fn drop(&mut self) {
        // A finished writer hands its file to `Spilled`; others are abandoned.
        if !self.finished {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Spilled {
    /// Reads the changes back in order: (upstream, change); changes of a
    /// forgotten table are skipped.
    pub(crate) fn read(&self) -> std::io::Result<SpillReader<'_>> {
        Ok(SpillReader {
            spilled: self,
            input: BufReader::with_capacity(256 * 1024, File::open(&self.path)?),
            left: self.count,
        })
    }

    /// The tables with changes in the file.
    pub(crate) fn tables(&self) -> impl Iterator<Item = &str> {
        self.tables
            .iter()
            .map(String::as_str)
            .filter(|t| !t.is_empty())
    }
}

impl Drop for Spilled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads a spilled transaction.
pub(crate) struct SpillReader<'a> {
    spilled: &'a Spilled,
    input: BufReader<File>,
    left: usize,
}

fn corrupt(what: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("spill file: {what}"),
    )
}

impl SpillReader<'_> {
    /// The next change, or `None` at the end.
    pub(crate) fn next(&mut self) -> std::io::Result<Option<(&str, Op)>> {
        loop {
            if self.left == 0 {
                return Ok(None);
            }
            self.left -= 1;
            let mut len = [0u8; 8];
            self.input.read_exact(&mut len)?;
            let len = u64::from_be_bytes(len) as usize;
            let mut record = vec![0u8; len];
            self.input.read_exact(&mut record)?;
            let mut r = Cursor(&record);
            let table = r.u32()? as usize;
            let upstream = self
                .spilled
                .tables
                .get(table)
                .ok_or_else(|| corrupt("unknown table"))?;
            let kind = r.u8()?;
            let op = match kind {
                b'U' => {
                    let relation = self.relation(r.u32()?)?;
                    let old = if r.u8()? == 1 { Some(r.tuple()?) } else { None };
                    Op::Upsert {
                        relation,
                        old,
                        new: r.tuple()?,
                    }
                }
                b'D' => Op::Delete {
                    relation: self.relation(r.u32()?)?,
                    old: r.tuple()?,
                },
                b'T' => Op::Truncate,
                _ => return Err(corrupt("unknown change")),
            };
            if upstream.is_empty() {
                continue;
            }
            return Ok(Some((upstream.as_str(), op)));
        }
    }

    fn relation(&self, i: u32) -> std::io::Result<Arc<Relation>> {
        self.spilled
            .relations
            .get(i as usize)
            .cloned()
            .ok_or_else(|| corrupt("unknown relation"))
    }
}

fn tuple(out: &mut Vec<u8>, values: &[Value]) {
    out.extend_from_slice(&(values.len() as u32).to_be_bytes());
    for v in values {
        match v {
            Value::Null => out.push(b'n'),
            Value::Unchanged => out.push(b'u'),
            Value::Text(t) => {
                out.push(b't');
                out.extend_from_slice(&(t.len() as u32).to_be_bytes());
                out.extend_from_slice(t.as_bytes());
            }
        }
    }
}

struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> std::io::Result<&[u8]> {
        if self.0.len() < n {
            return Err(corrupt("truncated record"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> std::io::Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> std::io::Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn tuple(&mut self) -> std::io::Result<Vec<Value>> {
        let n = self.u32()? as usize;
        let mut values = Vec::with_capacity(n.min(self.0.len()));
        for _ in 0..n {
            values.push(match self.u8()? {
                b'n' => Value::Null,
                b'u' => Value::Unchanged,
                b't' => {
                    let len = self.u32()? as usize;
                    let bytes = self.take(len)?;
                    Value::Text(
                        String::from_utf8(bytes.to_vec()).map_err(|_| corrupt("invalid text"))?,
                    )
                }
                _ => return Err(corrupt("unknown value")),
            });
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests;
