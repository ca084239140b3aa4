//! The audit trail: one JSON object per line in `audit.log` in the data
//! directory, appended and never rewritten.
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

/// The append-only audit file.
#[derive(Debug)]
pub struct Audit {
    path: PathBuf,
    file: Mutex<File>,
}

impl Audit {
    /// Opens (creating) the audit file in `dir`.
    pub fn open(dir: &Path) -> Result<Audit, AuthError> {
        let path = dir.join(FILE);
        let io = |source| AuthError::Io {
            path: path.clone(),
            source,
        };
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&path).map_err(io)?;
        Ok(Audit {
            path,
            file: Mutex::new(file),
        })
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
        let mut file = self.file.lock().expect("audit lock");
        let result = file.write_all(&line).and_then(|()| {
            if event.kind == "login" {
                Ok(())
            } else {
                file.sync_data()
            }
        });
        if let Err(e) = result {
            tracing::error!(path = %self.path.display(), error = %e, "cannot write the audit trail");
        }
    }

    /// Every event, oldest first. A line that does not parse (a write cut
    /// short by a crash) is skipped.
    pub fn read(&self) -> Result<Vec<Event>, AuthError> {
        let _guard = self.file.lock().expect("audit lock");
        let file = File::open(&self.path).map_err(|source| AuthError::Io {
            path: self.path.clone(),
            source,
        })?;
        let mut events = Vec::new();
        for line in BufReader::new(file).lines() {
            let line = line.map_err(|source| AuthError::Io {
                path: self.path.clone(),
                source,
            })?;
            if let Ok(event) = serde_json::from_str(&line) {
                events.push(event);
            }
        }
        Ok(events)
    }
}

/// The current time as audit events write it.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}
