//! Roles, their privileges and tokens, kept in `auth.json` in the data
//! directory.
//!
//! The file is replaced atomically (written aside, synced, renamed) on
//! every change, with mode 0600. It holds SCRAM verifiers and SHA-256
//! hashes of tokens, never a password or a token.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::AuthError;

/// File name of the access-control state in the data directory.
pub const FILE: &str = "auth.json";

/// The pseudo-role every role belongs to.
pub const PUBLIC: &str = "public";

/// A privilege on a schema or a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Privilege {
    /// Look up objects in a schema.
    Usage,
    /// Read a table.
    Select,
    /// Add rows to a table.
    Insert,
    /// Change rows of a table.
    Update,
    /// Remove rows from a table.
    Delete,
}

impl Privilege {
    /// Every privilege `ALL` grants on a table.
    pub const TABLE: [Privilege; 4] = [
        Privilege::Select,
        Privilege::Insert,
        Privilege::Update,
        Privilege::Delete,
    ];

    /// The SQL keyword.
    pub fn name(self) -> &'static str {
        match self {
            Privilege::Usage => "USAGE",
            Privilege::Select => "SELECT",
            Privilege::Insert => "INSERT",
            Privilege::Update => "UPDATE",
            Privilege::Delete => "DELETE",
        }
    }
}

/// What a privilege is held on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Object {
    /// A schema (for USAGE).
    Schema { schema: String },
    /// A table.
    Table { schema: String, table: String },
}

impl std::fmt::Display for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Object::Schema { schema } => write!(f, "schema {schema}"),
            Object::Table { schema, table } => write!(f, "table {schema}.{table}"),
        }
    }
}

/// A role: a user when it may log in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// May log in.
    pub login: bool,
    /// Passes every privilege check.
    pub superuser: bool,
    /// The SCRAM-SHA-256 verifier of its password, if it has one.
    pub verifier: Option<String>,
    /// Roles it is a member of (and inherits the privileges of).
    #[serde(default)]
    pub member_of: BTreeSet<String>,
    /// When it was created.
    pub created: String,
}

/// A grant of one privilege on one object to one role.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Grant {
    /// The role (or `public`).
    pub grantee: String,
    /// The privilege.
    pub privilege: Privilege,
    /// What it is held on.
    pub object: Object,
}

/// A bearer token for HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// Its name, for DROP TOKEN.
    pub name: String,
    /// The role it acts as.
    pub role: String,
    /// Hex SHA-256 of its secret part.
    pub hash: String,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created: String,
}

/// Everything in `auth.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Roles by name.
    pub roles: BTreeMap<String, Role>,
    /// Privileges granted.
    pub grants: BTreeSet<Grant>,
    /// Tokens by id (the public part of the token text).
    pub tokens: BTreeMap<String, Token>,
    /// Key for the salts of decoy verifiers (hex).
    #[serde(default)]
    pub decoy_key: String,
}

impl State {
    /// Reads the state in `dir`; an empty state if there is none yet.
    pub fn load(dir: &Path) -> Result<State, AuthError> {
        let path = dir.join(FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| AuthError::Corrupt {
                path,
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(source) => Err(AuthError::Io { path, source }),
        }
    }

    /// Replaces the state in `dir` atomically.
    pub fn save(&self, dir: &Path) -> Result<(), AuthError> {
        let path = dir.join(FILE);
        let bytes = serde_json::to_vec_pretty(self).expect("state encodes");
        floe_common::fs::write_atomic(&path, &bytes, 0o600)
            .map_err(|source| AuthError::Io { path, source })
    }

    /// `name` and every role it is a member of, directly or through other
    /// roles, and `public`.
    pub fn effective_roles(&self, name: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::from([PUBLIC.to_string()]);
        let mut todo = vec![name.to_string()];
        while let Some(r) = todo.pop() {
            if !seen.insert(r.clone()) {
                continue;
            }
            if let Some(role) = self.roles.get(&r) {
                todo.extend(role.member_of.iter().cloned());
            }
        }
        seen
    }

    /// Whether any of `roles` (a role's [`State::effective_roles`]) holds
    /// `privilege` on `object`.
    pub fn holds(&self, roles: &BTreeSet<String>, privilege: Privilege, object: &Object) -> bool {
        roles.iter().any(|grantee| {
            self.grants.contains(&Grant {
                grantee: grantee.clone(),
                privilege,
                object: object.clone(),
            })
        })
    }
}
