//! Errors of access control, each with its [`Status`].

use std::path::PathBuf;

use floe_common::{HasStatus, Status};

use crate::scram::ScramError;

/// An access-control error.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The password does not match, or the user does not exist (the two
    /// are not told apart).
    #[error("password authentication failed for user \"{user}\"")]
    WrongPassword { user: String },
    /// A bearer token that is unknown, malformed or revoked.
    #[error("invalid or revoked token")]
    InvalidToken,
    /// No credentials came with a request that needs them.
    #[error("authentication required: {hint}")]
    MissingCredentials { hint: &'static str },
    /// The role exists but may not log in.
    #[error("role \"{user}\" is not permitted to log in")]
    CannotLogin { user: String },
    /// The authentication exchange broke the protocol.
    #[error("{0}")]
    Scram(#[from] ScramError),
    /// Too many failed logins from one peer.
    #[error("too many failed logins from {peer}; try again in {retry_after_secs} s")]
    Throttled { peer: String, retry_after_secs: u64 },
    /// The session's role does not hold a privilege.
    #[error("permission denied for {kind} {name}")]
    PermissionDenied { kind: &'static str, name: String },
    /// An action only superusers may take.
    #[error("permission denied: only a superuser may {action}")]
    SuperuserOnly { action: String },
    /// A role named in a statement does not exist.
    #[error("role \"{name}\" does not exist")]
    NoSuchRole { name: String },
    /// CREATE ROLE of a name in use.
    #[error("role \"{name}\" already exists")]
    RoleExists { name: String },
    /// A token named in a statement does not exist.
    #[error("token \"{name}\" does not exist")]
    NoSuchToken { name: String },
    /// CREATE TOKEN of a name in use.
    #[error("token \"{name}\" already exists")]
    TokenExists { name: String },
    /// A change that would leave Floe without a way in, or that breaks a
    /// rule of roles.
    #[error("{reason}")]
    Refused { reason: String },
    /// An option that cannot be used here.
    #[error("invalid option {option}: {reason}")]
    InvalidOption { option: String, reason: String },
    /// Reading or writing the access-control file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The access-control file cannot be read back.
    #[error("{path} is not a valid access-control file: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

impl HasStatus for AuthError {
    fn status(&self) -> Status {
        match self {
            AuthError::WrongPassword { .. } | AuthError::InvalidToken => Status::InvalidPassword,
            AuthError::MissingCredentials { .. }
            | AuthError::CannotLogin { .. }
            | AuthError::Scram(_) => Status::InvalidAuthorization,
            AuthError::Throttled { .. } => Status::ConfigurationLimitExceeded,
            AuthError::PermissionDenied { .. } | AuthError::SuperuserOnly { .. } => {
                Status::InsufficientPrivilege
            }
            AuthError::NoSuchRole { .. } | AuthError::NoSuchToken { .. } => Status::UndefinedObject,
            AuthError::RoleExists { .. } | AuthError::TokenExists { .. } => Status::DuplicateObject,
            AuthError::Refused { .. } => Status::ObjectInUse,
            AuthError::InvalidOption { .. } => Status::InvalidParameterValue,
            AuthError::Io { .. } => Status::IoError,
            AuthError::Corrupt { .. } => Status::Internal,
        }
    }
}
