//! Decoding the messages of PostgreSQL's `pgoutput` plugin (protocol
//! version 1, text tuples).

use bytes::{Buf, Bytes};

/// A column of a relation as the stream describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelColumn {
    /// Part of the replica identity (the key).
    pub key: bool,
    /// Column name.
    pub name: String,
    /// Type OID.
    pub type_oid: u32,
    /// Type modifier (`-1` if none).
    pub type_mod: i32,
}

/// A relation (table) as the stream describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// The table's OID.
    pub id: u32,
    /// Schema name.
    pub namespace: String,
    /// Table name.
    pub name: String,
    /// Replica identity: `d` default (primary key), `n` nothing, `f` full, `i` index.
    pub replica_identity: u8,
    /// Columns in order.
    pub columns: Vec<RelColumn>,
}

/// One value of a tuple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A TOASTed value the change did not touch; it keeps its old value.
    Unchanged,
    /// The value in PostgreSQL's text output form.
    Text(String),
}

/// A decoded pgoutput message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A transaction starts; `final_lsn` is the LSN of its commit record.
    Begin {
        final_lsn: u64,
        commit_time: i64,
        xid: u32,
    },
    /// The transaction commits; `end_lsn` is the end of its commit record.
    Commit {
        commit_lsn: u64,
        end_lsn: u64,
        commit_time: i64,
    },
    /// Describes a relation before its first change (and after a schema change).
    Relation(Relation),
    /// A new row.
    Insert { relation: u32, new: Vec<Value> },
    /// A changed row; `old` is the old key (or whole row with REPLICA
    /// IDENTITY FULL) when the key changed or identity is full.
    Update {
        relation: u32,
        old: Option<Vec<Value>>,
        new: Vec<Value>,
    },
    /// A deleted row, by its key (or whole row).
    Delete { relation: u32, old: Vec<Value> },
    /// Tables emptied.
    Truncate { relations: Vec<u32> },
    /// Something Floe does not need (origin, type, logical message).
    Other(u8),
}

/// Why a message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn need(body: &Bytes, n: usize, what: &str) -> Result<(), DecodeError> {
    if body.remaining() < n {
        Err(DecodeError(format!("truncated {what}")))
    } else {
        Ok(())
    }
}

fn cstr(body: &mut Bytes) -> Result<String, DecodeError> {
    let end = body
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| DecodeError("unterminated string".into()))?;
    let s = String::from_utf8_lossy(&body[..end]).into_owned();
    body.advance(end + 1);
    Ok(s)
}

fn tuple(body: &mut Bytes) -> Result<Vec<Value>, DecodeError> {
    need(body, 2, "tuple")?;
    let n = body.get_i16().max(0) as usize;
    // Each value takes at least one byte: a count beyond the bytes present
    // fails below, before it can size an allocation.
    let mut values = Vec::with_capacity(n.min(body.remaining()));
    for _ in 0..n {
        need(body, 1, "tuple value")?;
        values.push(match body.get_u8() {
            b'n' => Value::Null,
            b'u' => Value::Unchanged,
            b't' | b'b' => {
                need(body, 4, "tuple value")?;
                let len = body.get_i32();
                let len = usize::try_from(len)
                    .map_err(|_| DecodeError(format!("negative length {len} of a tuple value")))?;
                need(body, len, "tuple value")?;
                let bytes = body.split_to(len);
                Value::Text(String::from_utf8_lossy(&bytes).into_owned())
            }
            other => {
                return Err(DecodeError(format!(
                    "unknown tuple value kind {:?}",
                    other as char
                )));
            }
        });
    }
    Ok(values)
}

/// Decodes one pgoutput message.
pub fn decode(mut body: Bytes) -> Result<Message, DecodeError> {
    need(&body, 1, "message")?;
    let tag = body.get_u8();
    Ok(match tag {
        b'B' => {
            need(&body, 20, "BEGIN")?;
            Message::Begin {
                final_lsn: body.get_u64(),
                commit_time: body.get_i64(),
                xid: body.get_u32(),
            }
        }
        b'C' => {
            need(&body, 25, "COMMIT")?;
            let _flags = body.get_u8();
            Message::Commit {
                commit_lsn: body.get_u64(),
                end_lsn: body.get_u64(),
                commit_time: body.get_i64(),
            }
        }
        b'R' => {
            need(&body, 4, "RELATION")?;
            let id = body.get_u32();
            let namespace = cstr(&mut body)?;
            let name = cstr(&mut body)?;
            need(&body, 3, "RELATION")?;
            let replica_identity = body.get_u8();
            let n = body.get_i16().max(0) as usize;
            // A column takes at least 10 bytes (flags, name, type, modifier).
            let mut columns = Vec::with_capacity(n.min(body.remaining() / 10));
            for _ in 0..n {
                need(&body, 1, "RELATION column")?;
                let flags = body.get_u8();
                let name = cstr(&mut body)?;
                need(&body, 8, "RELATION column")?;
                columns.push(RelColumn {
                    key: flags & 1 == 1,
                    name,
                    type_oid: body.get_u32(),
                    type_mod: body.get_i32(),
                });
            }
            Message::Relation(Relation {
                id,
                namespace: if namespace.is_empty() {
                    "pg_catalog".into()
                } else {
                    namespace
                },
                name,
                replica_identity,
                columns,
            })
        }
        b'I' => {
            need(&body, 5, "INSERT")?;
            let relation = body.get_u32();
            let _new = body.get_u8();
            Message::Insert {
                relation,
                new: tuple(&mut body)?,
            }
        }
        b'U' => {
            need(&body, 5, "UPDATE")?;
            let relation = body.get_u32();
            let mut kind = body.get_u8();
            let mut old = None;
            if kind == b'K' || kind == b'O' {
                old = Some(tuple(&mut body)?);
                need(&body, 1, "UPDATE")?;
                kind = body.get_u8();
            }
            if kind != b'N' {
                return Err(DecodeError(format!(
                    "UPDATE without a new tuple (got {:?})",
                    kind as char
                )));
            }
            Message::Update {
                relation,
                old,
                new: tuple(&mut body)?,
            }
        }
        b'D' => {
            need(&body, 5, "DELETE")?;
            let relation = body.get_u32();
            let _kind = body.get_u8();
            Message::Delete {
                relation,
                old: tuple(&mut body)?,
            }
        }
        b'T' => {
            need(&body, 5, "TRUNCATE")?;
            let n = body.get_u32() as usize;
            let _options = body.get_u8();
            need(&body, n.saturating_mul(4), "TRUNCATE")?;
            Message::Truncate {
                relations: (0..n).map(|_| body.get_u32()).collect(),
            }
        }
        other => Message::Other(other),
    })
}

#[cfg(test)]
mod tests;
