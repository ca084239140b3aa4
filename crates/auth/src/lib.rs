//! Floe's access control.
//!
//! This crate owns who may connect and what they may do: roles (users are
//! roles that may log in), their passwords as SCRAM-SHA-256 verifiers
//! ([`scram`]), privileges on schemas and tables, bearer tokens for HTTP,
//! the audit trail ([`audit`]) and per-peer throttling of failed logins
//! ([`throttle`]). The state lives in `auth.json` in the data directory
//! ([`roles`]); every change is written through before it is acknowledged.
//!
//! Front ends authenticate a connection or request into an [`Identity`];
//! the SQL layer asks [`Auth`] before it reads or writes a table. Checks
//! read the current state, so a REVOKE or a dropped token takes effect on
//! the next statement or request.

pub mod activity;
pub mod audit;
pub mod error;
pub mod roles;
pub mod scram;
pub mod throttle;

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

pub use error::AuthError;
pub use roles::{Grant, Object, Privilege, Role, State, Token};
use scram::Verifier;

/// How a session reached Floe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// The PostgreSQL wire protocol.
    Pg,
    /// The HTTP API.
    Http,
    /// In process (`floe sql` on a data directory): the owner of the files.
    Local,
}

impl Protocol {
    /// The name in the audit trail.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Pg => "pg",
            Protocol::Http => "http",
            Protocol::Local => "local",
        }
    }
}

/// Who runs a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The role.
    pub user: String,
    /// The client's address.
    pub peer: Option<SocketAddr>,
    /// How it connected.
    pub protocol: Protocol,
}

impl Identity {
    /// The in-process owner of the data directory, who holds every
    /// privilege.
    pub fn local() -> Identity {
        Identity {
            user: "local".to_string(),
            peer: None,
            protocol: Protocol::Local,
        }
    }

    /// Whether this is the in-process owner.
    pub fn is_local(&self) -> bool {
        self.protocol == Protocol::Local
    }
}

/// The administrator account made on first start.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    /// The superuser's name.
    pub user: String,
    /// Its password.
    pub password: String,
    /// A token acting as it, for HTTP.
    pub token: String,
}

/// Changes to a role (CREATE ROLE and ALTER ROLE options).
#[derive(Debug, Clone, Default)]
pub struct RoleOptions {
    /// LOGIN / NOLOGIN.
    pub login: Option<bool>,
    /// SUPERUSER / NOSUPERUSER.
    pub superuser: Option<bool>,
    /// PASSWORD '...' (`Some(None)`: PASSWORD NULL). A SCRAM verifier is
    /// taken as it is.
    pub password: Option<Option<String>>,
    /// IN ROLE ...: roles the new role becomes a member of.
    pub in_role: Vec<String>,
}

/// An authentication in progress.
#[derive(Debug)]
pub struct Login {
    /// The user name the client gave.
    pub user: String,
    /// The verifier to check against: the role's, or a decoy no password
    /// matches when the role does not exist, may not log in or has no
    /// password.
    pub verifier: Verifier,
    /// Why the login fails whatever the password, for the audit trail.
    pub refused: Option<&'static str>,
}

/// Prefix of token texts.
const TOKEN_PREFIX: &str = "floe_";
const TOKEN_ID_BYTES: usize = 8;
const TOKEN_SECRET_BYTES: usize = 24;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn token_hash(secret: &str) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, secret.as_bytes()).as_ref())
}

/// A random password of 32 characters from an unambiguous alphabet.
fn random_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    scram::random_bytes::<32>()
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// Access control over one data directory.
#[derive(Debug)]
pub struct Auth {
    dir: PathBuf,
    state: RwLock<State>,
    audit: audit::Audit,
    throttle: throttle::Throttle,
    activity: Arc<activity::Activity>,
    /// When each (token, client address) last went into the audit trail.
    token_logins: std::sync::Mutex<std::collections::HashMap<(String, IpAddr), std::time::Instant>>,
}

/// A token's successful use from one address is audited at most this
/// often (every request authenticates; the trail records logins).
pub const TOKEN_LOGIN_AUDIT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);
const TOKEN_LOGINS_KEPT: usize = 10_000;

impl Auth {
    /// Opens the access-control state and the audit trail in `dir`.
    pub fn open(dir: &Path) -> Result<Arc<Auth>, AuthError> {
        let mut state = State::load(dir)?;
        if state.decoy_key.is_empty() {
            state.decoy_key = hex(&scram::random_bytes::<32>());
            if !state.roles.is_empty() {
                state.save(dir)?;
            }
        }
        Ok(Arc::new(Auth {
            dir: dir.to_path_buf(),
            state: RwLock::new(state),
            audit: audit::Audit::open(dir)?,
            throttle: throttle::Throttle::default(),
            activity: Arc::default(),
            token_logins: Default::default(),
        }))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().expect("auth state lock")
    }

    /// Applies `change` to a copy of the state, writes it, and only then
    /// makes it current.
    fn change<T>(
        &self,
        change: impl FnOnce(&mut State) -> Result<T, AuthError>,
    ) -> Result<T, AuthError> {
        let mut current = self.state.write().expect("auth state lock");
        let mut next = current.clone();
        let out = change(&mut next)?;
        next.save(&self.dir)?;
        *current = next;
        Ok(out)
    }

    /// A copy of the current state (for the system tables).
    pub fn snapshot(&self) -> State {
        self.read().clone()
    }

    /// Open sessions and recent statements.
    pub fn activity(&self) -> &Arc<activity::Activity> {
        &self.activity
    }

    /// Failed-login throttling.
    pub fn throttle(&self) -> &throttle::Throttle {
        &self.throttle
    }

    /// The audit trail.
    pub fn audit(&self) -> &audit::Audit {
        &self.audit
    }

    /// Whether any role exists yet.
    pub fn has_roles(&self) -> bool {
        !self.read().roles.is_empty()
    }

    /// On first start: creates the superuser `user` with a random password
    /// and a token, lets every role use `schema`, and returns the secrets.
    /// `None` if roles exist already.
    pub fn bootstrap(&self, user: &str, schema: &str) -> Result<Option<Bootstrap>, AuthError> {
        let password = random_password();
        let (id, secret) = new_token_parts();
        let made = self.change(|state| {
            if !state.roles.is_empty() {
                return Ok(false);
            }
            state.roles.insert(
                user.to_string(),
                Role {
                    login: true,
                    superuser: true,
                    verifier: Some(Verifier::new(&password).to_string()),
                    member_of: BTreeSet::new(),
                    created: audit::now(),
                },
            );
            state.grants.insert(Grant {
                grantee: roles::PUBLIC.to_string(),
                privilege: Privilege::Usage,
                object: Object::Schema {
                    schema: schema.to_string(),
                },
            });
            state.tokens.insert(
                id.clone(),
                Token {
                    name: "admin".to_string(),
                    role: user.to_string(),
                    hash: token_hash(&secret),
                    created_by: user.to_string(),
                    created: audit::now(),
                },
            );
            Ok(true)
        })?;
        if !made {
            return Ok(None);
        }
        self.audit.record(audit::Event {
            time: audit::now(),
            kind: "role".into(),
            user: user.to_string(),
            peer: None,
            protocol: Protocol::Local.name().into(),
            success: true,
            detail: format!("created superuser {user} and token admin on first start"),
        });
        Ok(Some(Bootstrap {
            user: user.to_string(),
            password,
            token: format!("{TOKEN_PREFIX}{id}_{secret}"),
        }))
    }

    // ---- authentication ------------------------------------------------

    /// Starts a password login of `user` from `peer`: refuses a throttled
    /// peer, and picks the verifier to check against.
    pub fn begin_login(&self, user: &str, peer: IpAddr) -> Result<Login, AuthError> {
        if let Err(wait) = self.throttle.check(peer) {
            return Err(AuthError::Throttled {
                peer: peer.to_string(),
                retry_after_secs: wait.as_secs().max(1),
            });
        }
        let state = self.read();
        let decoy_key = state.decoy_key.as_bytes().to_vec();
        let refused_with = |why| Login {
            user: user.to_string(),
            verifier: Verifier::decoy(user, &decoy_key),
            refused: Some(why),
        };
        Ok(match state.roles.get(user) {
            None => refused_with("role does not exist"),
            Some(role) if !role.login => refused_with("role may not log in"),
            Some(role) => match role.verifier.as_deref().and_then(Verifier::parse) {
                Some(verifier) => Login {
                    user: user.to_string(),
                    verifier,
                    refused: None,
                },
                None => refused_with("role has no password"),
            },
        })
    }

    /// Records the outcome of a login; a failure counts against the peer.
    pub fn finish_login(&self, who: &Identity, failure: Option<&str>) {
        if failure.is_some()
            && let Some(peer) = who.peer
        {
            self.throttle.failed(peer.ip());
        }
        self.audit.record(audit::Event {
            time: audit::now(),
            kind: "login".into(),
            user: who.user.clone(),
            peer: who.peer.map(|p| p.to_string()),
            protocol: who.protocol.name().into(),
            success: failure.is_none(),
            detail: failure.unwrap_or("authenticated").to_string(),
        });
    }

    /// The identity a bearer token acts as. Unknown, malformed and revoked
    /// tokens fail and count against the peer.
    pub fn authenticate_token(&self, text: &str, peer: SocketAddr) -> Result<Identity, AuthError> {
        if let Err(wait) = self.throttle.check(peer.ip()) {
            return Err(AuthError::Throttled {
                peer: peer.ip().to_string(),
                retry_after_secs: wait.as_secs().max(1),
            });
        }
        let found = text
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|rest| rest.split_once('_'))
            .and_then(|(id, secret)| {
                let state = self.read();
                let token = state.tokens.get(id)?;
                state.roles.get(&token.role)?;
                scram::constant_time_eq(token_hash(secret).as_bytes(), token.hash.as_bytes())
                    .then(|| (id.to_string(), token.name.clone(), token.role.clone()))
            });
        match found {
            Some((id, name, user)) => {
                let who = Identity {
                    user,
                    peer: Some(peer),
                    protocol: Protocol::Http,
                };
                if self.first_token_login(id, peer.ip()) {
                    self.audit.record(audit::Event {
                        time: audit::now(),
                        kind: "login".into(),
                        user: who.user.clone(),
                        peer: Some(peer.to_string()),
                        protocol: Protocol::Http.name().into(),
                        success: true,
                        detail: format!("token {name}"),
                    });
                }
                Ok(who)
            }
            None => {
                self.finish_login(
                    &Identity {
                        user: String::new(),
                        peer: Some(peer),
                        protocol: Protocol::Http,
                    },
                    Some("invalid or revoked token"),
                );
                Err(AuthError::InvalidToken)
            }
        }
    }

    /// Whether a token's use from `ip` is due an audit line: the first
    /// time, then once per [`TOKEN_LOGIN_AUDIT_INTERVAL`].
    fn first_token_login(&self, id: String, ip: IpAddr) -> bool {
        let now = std::time::Instant::now();
        let mut seen = self.token_logins.lock().expect("token login lock");
        if seen.len() >= TOKEN_LOGINS_KEPT {
            seen.retain(|_, at| now.duration_since(*at) < TOKEN_LOGIN_AUDIT_INTERVAL);
        }
        let key = (id, ip);
        if seen
            .get(&key)
            .is_some_and(|at| now.duration_since(*at) < TOKEN_LOGIN_AUDIT_INTERVAL)
        {
            return false;
        }
        seen.insert(key, now);
        true
    }

    // ---- authorization -------------------------------------------------

    /// Whether `who` is a superuser (the in-process owner always is).
    pub fn is_superuser(&self, who: &Identity) -> bool {
        superuser_in(&self.read(), who).unwrap_or(false)
    }

    /// Fails unless `who` is a superuser.
    pub fn require_superuser(&self, who: &Identity, action: &str) -> Result<(), AuthError> {
        if superuser_in(&self.read(), who)? {
            Ok(())
        } else {
            Err(AuthError::SuperuserOnly {
                action: action.to_string(),
            })
        }
    }

    /// Fails if `who`'s role has been dropped since it logged in.
    fn require_role(&self, who: &Identity) -> Result<(), AuthError> {
        superuser_in(&self.read(), who).map(|_| ())
    }

    /// Fails unless `who` may use `privilege` on `schema.table` (USAGE on
    /// the schema and the privilege on the table).
    pub fn check_table(
        &self,
        who: &Identity,
        privilege: Privilege,
        schema: &str,
        table: &str,
    ) -> Result<(), AuthError> {
        let state = self.read();
        if superuser_in(&state, who)? {
            return Ok(());
        }
        let roles = state.effective_roles(&who.user);
        let on_schema = Object::Schema {
            schema: schema.to_string(),
        };
        if !state.holds(&roles, Privilege::Usage, &on_schema) {
            return Err(AuthError::PermissionDenied {
                kind: "schema",
                name: schema.to_string(),
            });
        }
        let on_table = Object::Table {
            schema: schema.to_string(),
            table: table.to_string(),
        };
        if !state.holds(&roles, privilege, &on_table) {
            return Err(AuthError::PermissionDenied {
                kind: "table",
                name: format!("{schema}.{table}"),
            });
        }
        Ok(())
    }

    /// Whether `who` holds any privilege on `schema.table` (for listings).
    pub fn can_see_table(&self, who: &Identity, schema: &str, table: &str) -> bool {
        Privilege::TABLE
            .iter()
            .any(|p| self.check_table(who, *p, schema, table).is_ok())
    }

    /// Records a statement in the audit trail.
    pub fn record(&self, who: &Identity, kind: &str, success: bool, detail: String) {
        self.audit.record(audit::Event {
            time: audit::now(),
            kind: kind.into(),
            user: who.user.clone(),
            peer: who.peer.map(|p| p.to_string()),
            protocol: who.protocol.name().into(),
            success,
            detail,
        });
    }

    /// Forgets the grants on a dropped table.
    pub fn forget_table(&self, schema: &str, table: &str) -> Result<(), AuthError> {
        let object = Object::Table {
            schema: schema.to_string(),
            table: table.to_string(),
        };
        if !self.read().grants.iter().any(|g| g.object == object) {
            return Ok(());
        }
        self.change(|state| {
            state.grants.retain(|g| g.object != object);
            Ok(())
        })
    }

    /// Forgets the grants on a dropped schema and its tables.
    pub fn forget_schema(&self, schema: &str) -> Result<(), AuthError> {
        let in_schema = |o: &Object| match o {
            Object::Schema { schema: s } | Object::Table { schema: s, .. } => s == schema,
        };
        if !self.read().grants.iter().any(|g| in_schema(&g.object)) {
            return Ok(());
        }
        self.change(|state| {
            state.grants.retain(|g| !in_schema(&g.object));
            Ok(())
        })
    }

    // ---- roles -----------------------------------------------------------

    /// CREATE ROLE / CREATE USER.
    pub fn create_role(
        &self,
        who: &Identity,
        name: &str,
        options: RoleOptions,
        if_not_exists: bool,
    ) -> Result<(), AuthError> {
        self.require_superuser(who, "create roles")?;
        check_role_name(name)?;
        let verifier = password_verifier(&options.password)?;
        self.change(|state| {
            if state.roles.contains_key(name) {
                return if if_not_exists {
                    Ok(())
                } else {
                    Err(AuthError::RoleExists {
                        name: name.to_string(),
                    })
                };
            }
            for r in &options.in_role {
                if !state.roles.contains_key(r) {
                    return Err(AuthError::NoSuchRole { name: r.clone() });
                }
            }
            state.roles.insert(
                name.to_string(),
                Role {
                    login: options.login.unwrap_or(false),
                    superuser: options.superuser.unwrap_or(false),
                    verifier: verifier.flatten(),
                    member_of: options.in_role.iter().cloned().collect(),
                    created: audit::now(),
                },
            );
            Ok(())
        })
    }

    /// ALTER ROLE / ALTER USER. A role may change its own password; every
    /// other change needs a superuser.
    pub fn alter_role(
        &self,
        who: &Identity,
        name: &str,
        options: RoleOptions,
    ) -> Result<(), AuthError> {
        let own_password_only = who.user == name
            && options.login.is_none()
            && options.superuser.is_none()
            && options.in_role.is_empty()
            && options.password.is_some();
        if own_password_only {
            self.require_role(who)?;
        } else {
            self.require_superuser(who, "alter roles")?;
        }
        let verifier = password_verifier(&options.password)?;
        self.change(|state| {
            let Some(role) = state.roles.get_mut(name) else {
                return Err(AuthError::NoSuchRole {
                    name: name.to_string(),
                });
            };
            if let Some(login) = options.login {
                role.login = login;
            }
            if let Some(superuser) = options.superuser {
                role.superuser = superuser;
            }
            if let Some(v) = verifier {
                role.verifier = v;
            }
            keep_a_superuser(state)
        })
    }

    /// ALTER ROLE ... RENAME TO.
    pub fn rename_role(&self, who: &Identity, from: &str, to: &str) -> Result<(), AuthError> {
        self.require_superuser(who, "rename roles")?;
        check_role_name(to)?;
        if who.user == from {
            return Err(AuthError::Refused {
                reason: "the current user cannot be renamed".into(),
            });
        }
        self.change(|state| {
            if state.roles.contains_key(to) {
                return Err(AuthError::RoleExists {
                    name: to.to_string(),
                });
            }
            let Some(role) = state.roles.remove(from) else {
                return Err(AuthError::NoSuchRole {
                    name: from.to_string(),
                });
            };
            state.roles.insert(to.to_string(), role);
            for role in state.roles.values_mut() {
                if role.member_of.remove(from) {
                    role.member_of.insert(to.to_string());
                }
            }
            state.grants = std::mem::take(&mut state.grants)
                .into_iter()
                .map(|mut g| {
                    if g.grantee == from {
                        g.grantee = to.to_string();
                    }
                    g
                })
                .collect();
            for token in state.tokens.values_mut() {
                if token.role == from {
                    token.role = to.to_string();
                }
            }
            Ok(())
        })
    }

    /// DROP ROLE / DROP USER: its grants, memberships and tokens go too.
    pub fn drop_role(&self, who: &Identity, name: &str, if_exists: bool) -> Result<(), AuthError> {
        self.require_superuser(who, "drop roles")?;
        if who.user == name {
            return Err(AuthError::Refused {
                reason: "the current user cannot be dropped".into(),
            });
        }
        self.change(|state| {
            if state.roles.remove(name).is_none() {
                return if if_exists {
                    Ok(())
                } else {
                    Err(AuthError::NoSuchRole {
                        name: name.to_string(),
                    })
                };
            }
            for role in state.roles.values_mut() {
                role.member_of.remove(name);
            }
            state.grants.retain(|g| g.grantee != name);
            state.tokens.retain(|_, t| t.role != name);
            keep_a_superuser(state)
        })
    }

    /// GRANT privileges ON objects TO grantees.
    pub fn grant(
        &self,
        who: &Identity,
        privileges: &[Privilege],
        objects: &[Object],
        grantees: &[String],
    ) -> Result<(), AuthError> {
        self.require_superuser(who, "grant privileges")?;
        self.change(|state| {
            check_grantees(state, grantees)?;
            for grantee in grantees {
                for object in objects {
                    for privilege in privileges {
                        state.grants.insert(Grant {
                            grantee: grantee.clone(),
                            privilege: *privilege,
                            object: object.clone(),
                        });
                    }
                }
            }
            Ok(())
        })
    }

    /// REVOKE privileges ON objects FROM grantees.
    pub fn revoke(
        &self,
        who: &Identity,
        privileges: &[Privilege],
        objects: &[Object],
        grantees: &[String],
    ) -> Result<(), AuthError> {
        self.require_superuser(who, "revoke privileges")?;
        self.change(|state| {
            check_grantees(state, grantees)?;
            state.grants.retain(|g| {
                !(grantees.contains(&g.grantee)
                    && privileges.contains(&g.privilege)
                    && objects.contains(&g.object))
            });
            Ok(())
        })
    }

    /// GRANT role TO member: members gain the role's privileges.
    pub fn grant_roles(
        &self,
        who: &Identity,
        granted: &[String],
        members: &[String],
    ) -> Result<(), AuthError> {
        self.require_superuser(who, "grant roles")?;
        self.change(|state| {
            for name in granted.iter().chain(members) {
                if !state.roles.contains_key(name) {
                    return Err(AuthError::NoSuchRole { name: name.clone() });
                }
            }
            for member in members {
                for role in granted {
                    if state.effective_roles(role).contains(member) {
                        return Err(AuthError::Refused {
                            reason: format!("role \"{member}\" is a member of role \"{role}\""),
                        });
                    }
                    state
                        .roles
                        .get_mut(member)
                        .expect("checked")
                        .member_of
                        .insert(role.clone());
                }
            }
            Ok(())
        })
    }

    /// REVOKE role FROM member.
    pub fn revoke_roles(
        &self,
        who: &Identity,
        granted: &[String],
        members: &[String],
    ) -> Result<(), AuthError> {
        self.require_superuser(who, "revoke roles")?;
        self.change(|state| {
            for member in members {
                let Some(role) = state.roles.get_mut(member) else {
                    return Err(AuthError::NoSuchRole {
                        name: member.clone(),
                    });
                };
                for g in granted {
                    role.member_of.remove(g);
                }
            }
            Ok(())
        })
    }

    // ---- tokens ----------------------------------------------------------

    /// CREATE TOKEN name [FOR ROLE role]: a token acting as `role` (by
    /// default the creator). A role may create tokens for itself and the
    /// roles it is a member of; tokens for a superuser need a superuser.
    /// Returns the token text, which is not stored; `None` if a token of
    /// that name exists and `if_not_exists` is given.
    pub fn create_token(
        &self,
        who: &Identity,
        name: &str,
        role: Option<&str>,
        if_not_exists: bool,
    ) -> Result<Option<String>, AuthError> {
        self.require_role(who)?;
        let role = role.unwrap_or(&who.user).to_string();
        let superuser = self.is_superuser(who);
        let (id, secret) = new_token_parts();
        let made = self.change(|state| {
            let Some(target) = state.roles.get(&role) else {
                return Err(AuthError::NoSuchRole { name: role.clone() });
            };
            if !superuser && (target.superuser || !state.effective_roles(&who.user).contains(&role))
            {
                return Err(AuthError::PermissionDenied {
                    kind: "role",
                    name: role.clone(),
                });
            }
            if state.tokens.values().any(|t| t.name == name) {
                return if if_not_exists {
                    Ok(false)
                } else {
                    Err(AuthError::TokenExists {
                        name: name.to_string(),
                    })
                };
            }
            state.tokens.insert(
                id.clone(),
                Token {
                    name: name.to_string(),
                    role: role.clone(),
                    hash: token_hash(&secret),
                    created_by: who.user.clone(),
                    created: audit::now(),
                },
            );
            Ok(true)
        })?;
        Ok(made.then(|| format!("{TOKEN_PREFIX}{id}_{secret}")))
    }

    /// DROP TOKEN: by a superuser, the token's creator or its role. Takes
    /// effect on the next request.
    pub fn drop_token(&self, who: &Identity, name: &str, if_exists: bool) -> Result<(), AuthError> {
        self.require_role(who)?;
        let superuser = self.is_superuser(who);
        self.change(|state| {
            let Some(id) = state
                .tokens
                .iter()
                .find(|(_, t)| t.name == name)
                .map(|(id, _)| id.clone())
            else {
                return if if_exists {
                    Ok(())
                } else {
                    Err(AuthError::NoSuchToken {
                        name: name.to_string(),
                    })
                };
            };
            let token = &state.tokens[&id];
            if !superuser && token.created_by != who.user && token.role != who.user {
                return Err(AuthError::PermissionDenied {
                    kind: "token",
                    name: name.to_string(),
                });
            }
            state.tokens.remove(&id);
            Ok(())
        })
    }
}

/// Whether `who` is a superuser (the in-process owner is); fails if its
/// role has been dropped since it logged in.
fn superuser_in(state: &State, who: &Identity) -> Result<bool, AuthError> {
    if who.is_local() {
        return Ok(true);
    }
    state
        .roles
        .get(&who.user)
        .map(|r| r.superuser)
        .ok_or_else(|| AuthError::CannotLogin {
            user: who.user.clone(),
        })
}

fn new_token_parts() -> (String, String) {
    (
        hex(&scram::random_bytes::<TOKEN_ID_BYTES>()),
        hex(&scram::random_bytes::<TOKEN_SECRET_BYTES>()),
    )
}

fn check_role_name(name: &str) -> Result<(), AuthError> {
    if name.is_empty() || name == roles::PUBLIC || name == "local" {
        return Err(AuthError::Refused {
            reason: format!("role name \"{name}\" is reserved"),
        });
    }
    Ok(())
}

/// The verifier to store for a PASSWORD option: a SCRAM verifier as given,
/// otherwise the verifier of the password. Empty passwords are refused.
fn password_verifier(
    password: &Option<Option<String>>,
) -> Result<Option<Option<String>>, AuthError> {
    Ok(match password {
        None => None,
        Some(None) => Some(None),
        Some(Some(p)) if p.is_empty() => {
            return Err(AuthError::InvalidOption {
                option: "PASSWORD".into(),
                reason: "an empty password is not allowed".into(),
            });
        }
        Some(Some(p)) => Some(Some(match Verifier::parse(p) {
            Some(v) => v.to_string(),
            None if p.starts_with("SCRAM-SHA-256$") || p.starts_with("md5") && p.len() == 35 => {
                return Err(AuthError::InvalidOption {
                    option: "PASSWORD".into(),
                    reason: "only SCRAM-SHA-256 verifiers are accepted as hashed passwords".into(),
                });
            }
            None => Verifier::new(p).to_string(),
        })),
    })
}

fn check_grantees(state: &State, grantees: &[String]) -> Result<(), AuthError> {
    for g in grantees {
        if g != roles::PUBLIC && !state.roles.contains_key(g) {
            return Err(AuthError::NoSuchRole { name: g.clone() });
        }
    }
    Ok(())
}

/// Refuses a change that leaves no superuser able to log in.
fn keep_a_superuser(state: &State) -> Result<(), AuthError> {
    if state.roles.values().any(|r| r.superuser && r.login) {
        Ok(())
    } else {
        Err(AuthError::Refused {
            reason: "this would leave no superuser that can log in".into(),
        })
    }
}

#[cfg(test)]
mod tests;
