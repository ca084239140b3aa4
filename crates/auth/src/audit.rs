//! The audit trail: one JSON object per line in `audit.log` in the data
//! directory, appended and never rewritten, rotated by size with a bounded
//! number of older files kept.
//!
//! Logins (successful and failed, with the peer address), DDL, GRANT and
//! REVOKE, and changes to roles and tokens are recorded. Statements that
//! carry a password are recorded without it.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::AuthError;

/// File name of the audit trail in the data directory.
pub const FILE: &str = "audit.log";

/// One audited event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When, RFC 3339 in UTC with microseconds.
    pub time: String,
    /// `login`, `ddl`, `grant`, `revoke`, `role` or `token`.
    pub kind: String,
    /// The role that acted (or tried to log in).
    pub user: String,
    /// The client's address, when it came over the network.
    pub peer: Option<String>,
    /// `pg`, `http` or `local`.
    pub protocol: String,
    /// Whether it succeeded.
    pub success: bool,
    /// What happened: the statement, or why a login failed.
    pub detail: String,
}

/// How large the audit trail may grow: the file is rotated at `max_bytes`
/// (`audit.log` becomes `audit.log.1`, and so on) and `keep` rotated files
/// are kept, so it holds at most about `(keep + 1) * max_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditLimits {
    /// Size at which the file is rotated.
    pub max_bytes: u64,
    /// Rotated files kept; older ones are deleted.
    pub keep: usize,
}

impl Default for AuditLimits {
    fn default() -> Self {
        AuditLimits {
            max_bytes: 16 << 20,
            keep: 4,
        }
    }
}

/// The append-only audit file and its rotated predecessors.
#[derive(Debug)]
pub struct Audit {
    path: PathBuf,
    limits: AuditLimits,
    writer: Mutex<Writer>,
}

#[derive(Debug)]
struct Writer {
    file: File,
    bytes: u64,
}

fn open_active(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

impl Audit {
    /// Opens (creating) the audit file in `dir`, with default limits.
    pub fn open(dir: &Path) -> Result<Audit, AuthError> {
        Audit::open_with(dir, AuditLimits::default())
    }

    /// Opens (creating) the audit file in `dir`.
    pub fn open_with(dir: &Path, limits: AuditLimits) -> Result<Audit, AuthError> {
        let path = dir.join(FILE);
        let io = |source| AuthError::Io {
            path: path.clone(),
            source,
        };
        let file = open_active(&path).map_err(io)?;
        let bytes = file.metadata().map_err(io)?.len();
        Ok(Audit {
            path,
            limits,
            writer: Mutex::new(Writer { file, bytes }),
        })
    }

    fn rotated(&self, n: usize) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends an event. Events other than logins are synced to disk
    /// before this returns. A failure to write is logged, never raised:
    /// the action it records has already happened.
    pub fn record(&self, event: Event) {
        let mut line = match serde_json::to_vec(&event) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode an audit event");
                return;
            }
        };
        line.push(b'\n');
        let mut writer = self.lock();
        let result = writer.file.write_all(&line).and_then(|()| {
            if event.kind == "login" {
                Ok(())
            } else {
                writer.file.sync_data()
            }
        });
        if let Err(e) = result {
            tracing::error!(path = %self.path.display(), error = %e, "cannot write the audit trail");
            return;
        }
        writer.bytes += line.len() as u64;
        if writer.bytes >= self.limits.max_bytes
            && let Err(e) = self.rotate(&mut writer)
        {
            tracing::error!(path = %self.path.display(), error = %e, "cannot rotate the audit trail");
        }
    }

    /// Moves the full file aside (dropping the oldest) and starts a new one.
    fn rotate(&self, writer: &mut Writer) -> std::io::Result<()> {
        writer.file.sync_data()?;
        if self.limits.keep == 0 {
            std::fs::remove_file(&self.path)?;
        } else {
            for n in (1..self.limits.keep).rev() {
                match std::fs::rename(self.rotated(n), self.rotated(n + 1)) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            std::fs::rename(&self.path, self.rotated(1))?;
        }
        *writer = Writer {
            file: open_active(&self.path)?,
            bytes: 0,
        };
        floe_common::fs::sync_dir(self.path.parent().unwrap_or(Path::new(".")))
    }

    /// Every event kept, oldest first. A line that does not parse (a write
    /// cut short by a crash) is skipped. The lock that writers take is held
    /// only to open the files, never while reading them.
    pub fn read(&self) -> Result<Vec<Event>, AuthError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| AuthError::Io { path, source }
        };
        let (files, active_len) = {
            let writer = self.lock();
            let mut files = Vec::new();
            for n in (1..=self.limits.keep).rev() {
                let path = self.rotated(n);
                match File::open(&path) {
                    Ok(f) => files.push((path, f)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io(&path)(e)),
                }
            }
            let active = File::open(&self.path).map_err(io(&self.path))?;
            files.push((self.path.clone(), active));
            (files, writer.bytes)
        };
        let last = files.len() - 1;
        let mut events = Vec::new();
        for (i, (path, file)) in files.into_iter().enumerate() {
            let reader: Box<dyn std::io::Read> = if i == last {
                Box::new(std::io::Read::take(file, active_len))
            } else {
                Box::new(file)
            };
            for line in BufReader::new(reader).lines() {
                let line = line.map_err(io(&path))?;
                if let Ok(event) = serde_json::from_str(&line) {
                    events.push(event);
                }
            }
        }
        Ok(events)
    }
}

/// The current time as audit events write it.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests;
