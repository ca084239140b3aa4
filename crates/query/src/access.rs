//! The SQL of access control: users, roles, privileges and tokens.
//!
//! ```sql
//! CREATE USER name [WITH] [PASSWORD 'secret'] [SUPERUSER] [IN ROLE r, ...]
//! CREATE ROLE name [WITH] [LOGIN] [PASSWORD 'secret'] [SUPERUSER] ...
//! ALTER USER|ROLE name [WITH] [PASSWORD 'secret'|NULL] [[NO]LOGIN] [[NO]SUPERUSER]
//! ALTER USER|ROLE name RENAME TO other
//! DROP USER|ROLE [IF EXISTS] name, ...
//! GRANT {SELECT|INSERT|UPDATE|DELETE|ALL} ON [TABLE] t, ... TO role, ... | PUBLIC
//! GRANT {SELECT|...|ALL} ON ALL TABLES IN SCHEMA s TO role
//! GRANT {USAGE|ALL} ON SCHEMA s TO role
//! GRANT role TO user        REVOKE ... FROM ...
//! CREATE TOKEN name [FOR ROLE role]      -- returns the token once
//! DROP TOKEN [IF EXISTS] name
//! ```
//!
//! `CREATE USER` and `ALTER USER` are the PostgreSQL forms (the SQL
//! parser reads them in another dialect's sense), and `GRANT role TO user`
//! is read here when the parser does not know it. The token statements
//! are Floe's own (see `syntax`); they are executed here. Every statement
//! is recorded in the audit trail, with passwords masked.

use std::sync::Arc;

use arrow::array::{RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::sql::sqlparser::ast::{
    Action, AlterRoleOperation, CreateRole, Expr, Grant, GrantObjects, Grantee, GranteeName,
    GranteesType, ObjectName, ObjectType, Password, Privileges, Revoke, RoleOption, Statement,
    Value,
};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use floe_auth::{Identity, Object, Privilege, RoleOptions};

use crate::engine::{Engine, Output};
use crate::error::{QueryError, unsupported};
use crate::names;
use crate::syntax::{FloeStatement, at_words, expected};

pub(crate) const MASK: &str = "********";

/// Parses `CREATE USER ...` (the parser stands at CREATE): a role that may
/// log in unless NOLOGIN is given.
pub(crate) fn parse_create_user(parser: &mut Parser) -> Result<Statement, ParserError> {
    parser.expect_keywords(&[Keyword::CREATE, Keyword::USER])?;
    let mut role = parser.parse_create_role()?;
    role.login.get_or_insert(true);
    Ok(Statement::CreateRole(role))
}

/// Parses `ALTER USER ...` as `ALTER ROLE ...`.
pub(crate) fn parse_alter_user(parser: &mut Parser) -> Result<Statement, ParserError> {
    parser.expect_keywords(&[Keyword::ALTER, Keyword::USER])?;
    parser.parse_alter_role()
}

/// Parses GRANT or REVOKE: the parser's own form, or else PostgreSQL's
/// `GRANT role, ... TO role, ...` / `REVOKE role, ... FROM role, ...`.
pub(crate) fn parse_grant_or_revoke(parser: &mut Parser) -> Result<Statement, ParserError> {
    if let Some(stmt) = parser.maybe_parse(|p| p.parse_statement())? {
        return Ok(stmt);
    }
    let grant = parser.parse_keyword(Keyword::GRANT);
    if !grant {
        parser.expect_keyword(Keyword::REVOKE)?;
    }
    let roles = parser.parse_comma_separated(|p| p.parse_identifier())?;
    parser.expect_keyword(if grant { Keyword::TO } else { Keyword::FROM })?;
    let grantees = parser
        .parse_comma_separated(|p| p.parse_identifier())?
        .into_iter()
        .map(|i| Grantee {
            grantee_type: GranteesType::None,
            name: Some(GranteeName::ObjectName(ObjectName::from(vec![i]))),
        })
        .collect();
    if at_words(parser, &["with"]) {
        return Err(expected(
            "end of statement (WITH ADMIN OPTION is not supported)",
            &parser.peek_token(),
        ));
    }
    let privileges = Privileges::Actions(
        roles
            .into_iter()
            .map(|r| Action::Role {
                role: ObjectName::from(vec![r]),
            })
            .collect(),
    );
    Ok(if grant {
        Statement::Grant(Grant {
            privileges,
            objects: None,
            grantees,
            with_grant_option: false,
            as_grantor: None,
            granted_by: None,
            current_grants: None,
        })
    } else {
        Statement::Revoke(Revoke {
            privileges,
            objects: None,
            grantees,
            granted_by: None,
            cascade: None,
        })
    })
}

/// The statement at the parser, if it is one this module parses itself.
pub(crate) fn parse_here(parser: &mut Parser) -> Option<Result<Statement, ParserError>> {
    if at_words(parser, &["create", "user"]) {
        Some(parse_create_user(parser))
    } else if at_words(parser, &["alter", "user"]) {
        Some(parse_alter_user(parser))
    } else if at_words(parser, &["grant"]) || at_words(parser, &["revoke"]) {
        Some(parse_grant_or_revoke(parser))
    } else {
        None
    }
}

/// Whether `stmt` is one of the statements this module executes.
pub fn is_access_statement(stmt: &Statement) -> bool {
    match stmt {
        Statement::CreateRole(_)
        | Statement::AlterRole { .. }
        | Statement::Grant(_)
        | Statement::Revoke(_) => true,
        Statement::Drop { object_type, .. } => {
            matches!(object_type, ObjectType::Role | ObjectType::User)
        }
        _ => false,
    }
}

/// The statement as text, with passwords masked.
pub fn masked_text(stmt: &Statement) -> String {
    let mask = |p: &mut Password| {
        if let Password::Password(e) = p {
            *e = Expr::value(Value::SingleQuotedString(MASK.into()));
        }
    };
    let mut stmt = stmt.clone();
    match &mut stmt {
        Statement::CreateRole(role) => {
            if let Some(p) = &mut role.password {
                mask(p);
            }
        }
        Statement::AlterRole {
            operation: AlterRoleOperation::WithOptions { options },
            ..
        } => {
            for o in options {
                if let RoleOption::Password(p) = o {
                    mask(p);
                }
            }
        }
        _ => {}
    }
    stmt.to_string()
}

/// Executes an access-control statement as `who`, and records it.
pub(crate) async fn execute(
    engine: &Engine,
    who: &Identity,
    stmt: Statement,
) -> Result<Output, QueryError> {
    let kind = match &stmt {
        Statement::Grant(_) => "grant",
        Statement::Revoke(_) => "revoke",
        _ => "role",
    };
    let detail = masked_text(&stmt);
    let result = run(engine, who, stmt).await;
    engine.auth().record(who, kind, result.is_ok(), detail);
    result
}

/// Executes `CREATE TOKEN` or `DROP TOKEN` as `who`, and records it.
pub(crate) async fn execute_token(
    engine: &Engine,
    who: &Identity,
    stmt: FloeStatement,
) -> Result<Output, QueryError> {
    let detail = stmt.to_string();
    let result = run_token(engine, who, stmt);
    engine.auth().record(who, "token", result.is_ok(), detail);
    result
}

/// The columns `CREATE TOKEN` returns.
pub fn token_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("role", DataType::Utf8, false),
        Field::new("token", DataType::Utf8, false),
    ]))
}

fn run_token(engine: &Engine, who: &Identity, stmt: FloeStatement) -> Result<Output, QueryError> {
    let auth = engine.auth();
    match stmt {
        FloeStatement::CreateToken {
            name,
            if_not_exists,
            role,
        } => {
            let Some(token) = auth.create_token(who, &name, role.as_deref(), if_not_exists)? else {
                return Ok(Output::command("CREATE TOKEN"));
            };
            let role = role.unwrap_or_else(|| who.user.clone());
            let batch = RecordBatch::try_new(
                token_schema(),
                vec![
                    Arc::new(StringArray::from(vec![name])),
                    Arc::new(StringArray::from(vec![role])),
                    Arc::new(StringArray::from(vec![token])),
                ],
            )?;
            Ok(Output::Rows(Box::new(engine.context().read_batch(batch)?)))
        }
        FloeStatement::DropToken { name, if_exists } => {
            auth.drop_token(who, &name, if_exists)?;
            Ok(Output::command("DROP TOKEN"))
        }
        other => Err(unsupported(other.verb())),
    }
}

fn password(p: &Password) -> Result<Option<String>, QueryError> {
    match p {
        Password::NullPassword => Ok(None),
        Password::Password(Expr::Value(v)) => match &v.value {
            Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) => Ok(Some(s.clone())),
            Value::Null => Ok(None),
            _ => Err(password_literal()),
        },
        Password::Password(_) => Err(password_literal()),
    }
}

fn password_literal() -> QueryError {
    QueryError::InvalidOption {
        option: "PASSWORD".into(),
        reason: "must be a string literal or NULL".into(),
    }
}

fn role_options(options: &[RoleOption]) -> Result<RoleOptions, QueryError> {
    let mut out = RoleOptions::default();
    for o in options {
        match o {
            RoleOption::Login(b) => out.login = Some(*b),
            RoleOption::SuperUser(b) => out.superuser = Some(*b),
            RoleOption::Password(p) => out.password = Some(password(p)?),
            // Roles always inherit; Floe has no databases or replication
            // privileges to grant.
            RoleOption::Inherit(true)
            | RoleOption::CreateDB(false)
            | RoleOption::CreateRole(false)
            | RoleOption::Replication(false)
            | RoleOption::BypassRLS(false) => {}
            other => return Err(unsupported(&format!("role option {other}"))),
        }
    }
    Ok(out)
}

fn create_role_options(role: &CreateRole) -> Result<RoleOptions, QueryError> {
    let mut options = Vec::new();
    options.extend(role.login.map(RoleOption::Login));
    options.extend(role.superuser.map(RoleOption::SuperUser));
    options.extend(role.inherit.map(RoleOption::Inherit));
    options.extend(role.create_db.map(RoleOption::CreateDB));
    options.extend(role.create_role.map(RoleOption::CreateRole));
    options.extend(role.replication.map(RoleOption::Replication));
    options.extend(role.bypassrls.map(RoleOption::BypassRLS));
    options.extend(role.password.clone().map(RoleOption::Password));
    if role.connection_limit.is_some()
        || role.valid_until.is_some()
        || !role.in_group.is_empty()
        || !role.role.is_empty()
        || !role.user.is_empty()
        || !role.admin.is_empty()
        || role.authorization_owner.is_some()
    {
        return Err(unsupported(
            "CREATE ROLE with CONNECTION LIMIT, VALID UNTIL, IN GROUP, ROLE, USER or ADMIN",
        ));
    }
    let mut out = role_options(&options)?;
    out.in_role = role.in_role.iter().map(names::ident).collect();
    Ok(out)
}

fn role_name(name: &ObjectName) -> Result<String, QueryError> {
    match name.0.as_slice() {
        [part] => part
            .as_ident()
            .map(names::ident)
            .ok_or_else(|| unsupported("this role name")),
        _ => Err(QueryError::Parse {
            message: format!("role names are not qualified: {name}"),
        }),
    }
}

fn grantees(list: &[Grantee]) -> Result<Vec<String>, QueryError> {
    list.iter()
        .map(|g| match (&g.grantee_type, &g.name) {
            (GranteesType::Public, _) => Ok(floe_auth::roles::PUBLIC.to_string()),
            (
                GranteesType::None | GranteesType::Role | GranteesType::User,
                Some(GranteeName::ObjectName(n)),
            ) => role_name(n),
            _ => Err(unsupported(&format!("grantee {g}"))),
        })
        .collect()
}

/// Privileges and the objects they are on.
fn privileges_on(
    engine: &Engine,
    privileges: &Privileges,
    objects: &GrantObjects,
) -> Result<(Vec<Privilege>, Vec<Object>), QueryError> {
    let store = engine.store();
    let schema_of = |n: &ObjectName| -> Result<String, QueryError> {
        let schema = role_name(n)?;
        if !store.schema_exists(&schema) {
            return Err(QueryError::Storage(
                floe_storage::StorageError::NoSuchSchema { schema },
            ));
        }
        Ok(schema)
    };
    let (on_schema, objects) = match objects {
        GrantObjects::Schemas(names) => (
            true,
            names
                .iter()
                .map(|n| {
                    Ok(Object::Schema {
                        schema: schema_of(n)?,
                    })
                })
                .collect::<Result<Vec<_>, QueryError>>()?,
        ),
        GrantObjects::Tables(names) => (
            false,
            names
                .iter()
                .map(|n| {
                    let (schema, table) = names::table(n)?;
                    if store.table(&schema, &table).is_none() {
                        return Err(QueryError::NoSuchTable {
                            name: format!("{schema}.{table}"),
                        });
                    }
                    Ok(Object::Table { schema, table })
                })
                .collect::<Result<Vec<_>, QueryError>>()?,
        ),
        GrantObjects::AllTablesInSchema { schemas } => {
            let mut out = Vec::new();
            for n in schemas {
                let schema = schema_of(n)?;
                for table in store.table_names(&schema) {
                    out.push(Object::Table {
                        schema: schema.clone(),
                        table,
                    });
                }
            }
            (false, out)
        }
        other => return Err(unsupported(&format!("privileges on {other}"))),
    };
    let list = match privileges {
        Privileges::All { .. } if on_schema => vec![Privilege::Usage],
        Privileges::All { .. } => Privilege::TABLE.to_vec(),
        Privileges::Actions(actions) => actions
            .iter()
            .map(|a| match (a, on_schema) {
                (Action::Usage, true) => Ok(Privilege::Usage),
                (Action::Select { columns: None }, false) => Ok(Privilege::Select),
                (Action::Insert { columns: None }, false) => Ok(Privilege::Insert),
                (Action::Update { columns: None }, false) => Ok(Privilege::Update),
                (Action::Delete, false) => Ok(Privilege::Delete),
                (Action::Truncate, false) => Ok(Privilege::Delete),
                (other, true) => Err(unsupported(&format!("privilege {other} on a schema"))),
                (other, false) => Err(unsupported(&format!("privilege {other} on a table"))),
            })
            .collect::<Result<Vec<_>, QueryError>>()?,
    };
    Ok((list, objects))
}

/// The roles of `GRANT role TO ...`, if that is the form.
fn granted_roles(privileges: &Privileges) -> Option<Result<Vec<String>, QueryError>> {
    let Privileges::Actions(actions) = privileges else {
        return None;
    };
    let roles: Vec<&ObjectName> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Role { role } => Some(role),
            _ => None,
        })
        .collect();
    if roles.is_empty() {
        return None;
    }
    if roles.len() != actions.len() {
        return Some(Err(unsupported("granting roles and privileges together")));
    }
    Some(roles.into_iter().map(role_name).collect())
}

async fn run(engine: &Engine, who: &Identity, stmt: Statement) -> Result<Output, QueryError> {
    let auth = engine.auth();
    match stmt {
        Statement::CreateRole(role) => {
            let options = create_role_options(&role)?;
            for name in &role.names {
                auth.create_role(who, &role_name(name)?, options.clone(), role.if_not_exists)?;
            }
            Ok(Output::command("CREATE ROLE"))
        }
        Statement::AlterRole { name, operation } => {
            let name = names::ident(&name);
            match operation {
                AlterRoleOperation::WithOptions { options } => {
                    auth.alter_role(who, &name, role_options(&options)?)?
                }
                AlterRoleOperation::RenameRole { role_name } => {
                    auth.rename_role(who, &name, &names::ident(&role_name))?
                }
                other => return Err(unsupported(&format!("ALTER ROLE {other}"))),
            }
            Ok(Output::command("ALTER ROLE"))
        }
        Statement::Drop {
            names: list,
            if_exists,
            ..
        } => {
            for name in &list {
                auth.drop_role(who, &role_name(name)?, if_exists)?;
            }
            Ok(Output::command("DROP ROLE"))
        }
        Statement::Grant(grant) => {
            if grant.with_grant_option {
                return Err(unsupported("WITH GRANT OPTION"));
            }
            let to = grantees(&grant.grantees)?;
            match (&grant.objects, granted_roles(&grant.privileges)) {
                (None, Some(roles)) => auth.grant_roles(who, &roles?, &to)?,
                (Some(objects), None) => {
                    let (privileges, objects) = privileges_on(engine, &grant.privileges, objects)?;
                    auth.grant(who, &privileges, &objects, &to)?;
                }
                _ => return Err(unsupported(&format!("{grant}"))),
            }
            Ok(Output::command("GRANT"))
        }
        Statement::Revoke(revoke) => {
            let from = grantees(&revoke.grantees)?;
            match (&revoke.objects, granted_roles(&revoke.privileges)) {
                (None, Some(roles)) => auth.revoke_roles(who, &roles?, &from)?,
                (Some(objects), None) => {
                    let (privileges, objects) = privileges_on(engine, &revoke.privileges, objects)?;
                    auth.revoke(who, &privileges, &objects, &from)?;
                }
                _ => return Err(unsupported(&format!("{revoke}"))),
            }
            Ok(Output::command("REVOKE"))
        }
        other => Err(unsupported(&format!("{other}"))),
    }
}

#[cfg(test)]
mod tests;

/// The access-control system tables.
pub(crate) mod tables {
    use std::sync::Arc;

    use arrow::array::{
        ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
    };
    use arrow::datatypes::{DataType, Field, TimeUnit};
    use floe_auth::{Auth, Identity, Object};

    fn ts() -> DataType {
        DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()))
    }

    fn micros(text: &str) -> Option<i64> {
        chrono::DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.timestamp_micros())
    }

    /// `system.audit`.
    pub(crate) fn audit_fields() -> Vec<Field> {
        vec![
            Field::new("time", ts(), true),
            Field::new("kind", DataType::Utf8, false),
            Field::new("user_name", DataType::Utf8, false),
            Field::new("peer", DataType::Utf8, true),
            Field::new("protocol", DataType::Utf8, false),
            Field::new("success", DataType::Boolean, false),
            Field::new("detail", DataType::Utf8, false),
        ]
    }

    pub(crate) fn audit_columns(auth: &Auth) -> Result<Vec<ArrayRef>, floe_auth::AuthError> {
        let events = auth.audit().read()?;
        Ok(vec![
            Arc::new(
                TimestampMicrosecondArray::from(
                    events.iter().map(|e| micros(&e.time)).collect::<Vec<_>>(),
                )
                .with_timezone("+00:00"),
            ),
            Arc::new(StringArray::from_iter_values(
                events.iter().map(|e| &e.kind),
            )),
            Arc::new(StringArray::from_iter_values(
                events.iter().map(|e| &e.user),
            )),
            Arc::new(StringArray::from_iter(
                events.iter().map(|e| e.peer.as_deref()),
            )),
            Arc::new(StringArray::from_iter_values(
                events.iter().map(|e| &e.protocol),
            )),
            Arc::new(BooleanArray::from_iter(
                events.iter().map(|e| Some(e.success)),
            )),
            Arc::new(StringArray::from_iter_values(
                events.iter().map(|e| &e.detail),
            )),
        ])
    }

    /// `system.roles`: every role (as `pg_roles` shows every role).
    pub(crate) fn roles_fields() -> Vec<Field> {
        vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("login", DataType::Boolean, false),
            Field::new("superuser", DataType::Boolean, false),
            Field::new("has_password", DataType::Boolean, false),
            Field::new("member_of", DataType::Utf8, false),
            Field::new("created", ts(), true),
        ]
    }

    pub(crate) fn roles_columns(auth: &Auth) -> Vec<ArrayRef> {
        let state = auth.snapshot();
        let roles: Vec<_> = state.roles.iter().collect();
        vec![
            Arc::new(StringArray::from_iter_values(roles.iter().map(|(n, _)| n))),
            Arc::new(BooleanArray::from_iter(
                roles.iter().map(|(_, r)| Some(r.login)),
            )),
            Arc::new(BooleanArray::from_iter(
                roles.iter().map(|(_, r)| Some(r.superuser)),
            )),
            Arc::new(BooleanArray::from_iter(
                roles.iter().map(|(_, r)| Some(r.verifier.is_some())),
            )),
            Arc::new(StringArray::from_iter_values(roles.iter().map(|(_, r)| {
                r.member_of.iter().cloned().collect::<Vec<_>>().join(",")
            }))),
            Arc::new(
                TimestampMicrosecondArray::from(
                    roles
                        .iter()
                        .map(|(_, r)| micros(&r.created))
                        .collect::<Vec<_>>(),
                )
                .with_timezone("+00:00"),
            ),
        ]
    }

    /// `system.grants`: a superuser sees all, others the grants to their
    /// roles.
    pub(crate) fn grants_fields() -> Vec<Field> {
        vec![
            Field::new("grantee", DataType::Utf8, false),
            Field::new("privilege", DataType::Utf8, false),
            Field::new("object_type", DataType::Utf8, false),
            Field::new("table_schema", DataType::Utf8, false),
            Field::new("table_name", DataType::Utf8, true),
        ]
    }

    pub(crate) fn grants_columns(auth: &Auth, who: Option<&Identity>) -> Vec<ArrayRef> {
        let state = auth.snapshot();
        let mine = who
            .filter(|w| !auth.is_superuser(w))
            .map(|w| state.effective_roles(&w.user));
        let grants: Vec<_> = state
            .grants
            .iter()
            .filter(|g| mine.as_ref().is_none_or(|m| m.contains(&g.grantee)))
            .collect();
        let (kind, schema, table): (Vec<_>, Vec<_>, Vec<_>) = grants
            .iter()
            .map(|g| match &g.object {
                Object::Schema { schema } => ("schema", schema.clone(), None),
                Object::Table { schema, table } => ("table", schema.clone(), Some(table.clone())),
            })
            .fold(
                (vec![], vec![], vec![]),
                |(mut k, mut s, mut t), (a, b, c)| {
                    k.push(a);
                    s.push(b);
                    t.push(c);
                    (k, s, t)
                },
            );
        vec![
            Arc::new(StringArray::from_iter_values(
                grants.iter().map(|g| &g.grantee),
            )),
            Arc::new(StringArray::from_iter_values(
                grants.iter().map(|g| g.privilege.name()),
            )),
            Arc::new(StringArray::from(kind)),
            Arc::new(StringArray::from(schema)),
            Arc::new(StringArray::from(table)),
        ]
    }

    /// `system.tokens`: a superuser sees all, others the tokens of their
    /// role or that they created. The secrets are never stored.
    pub(crate) fn tokens_fields() -> Vec<Field> {
        vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("role", DataType::Utf8, false),
            Field::new("created_by", DataType::Utf8, false),
            Field::new("created", ts(), true),
        ]
    }

    pub(crate) fn tokens_columns(auth: &Auth, who: Option<&Identity>) -> Vec<ArrayRef> {
        let state = auth.snapshot();
        let restrict = who.filter(|w| !auth.is_superuser(w));
        let tokens: Vec<_> = state
            .tokens
            .values()
            .filter(|t| restrict.is_none_or(|w| t.role == w.user || t.created_by == w.user))
            .collect();
        vec![
            Arc::new(StringArray::from_iter_values(
                tokens.iter().map(|t| &t.name),
            )),
            Arc::new(StringArray::from_iter_values(
                tokens.iter().map(|t| &t.role),
            )),
            Arc::new(StringArray::from_iter_values(
                tokens.iter().map(|t| &t.created_by),
            )),
            Arc::new(
                TimestampMicrosecondArray::from(
                    tokens
                        .iter()
                        .map(|t| micros(&t.created))
                        .collect::<Vec<_>>(),
                )
                .with_timezone("+00:00"),
            ),
        ]
    }

    fn ts_column(values: Vec<Option<i64>>) -> ArrayRef {
        Arc::new(TimestampMicrosecondArray::from(values).with_timezone("+00:00"))
    }

    /// Whether a row of `user`'s shows to `who`: superusers see every
    /// session and statement, others their own.
    fn visible(auth: &Auth, who: Option<&Identity>, user: &str) -> bool {
        who.is_none_or(|w| w.user == user || auth.is_superuser(w))
    }

    /// The session_id, user_name, peer and protocol columns.
    fn session_columns<'a>(rows: impl Iterator<Item = (u64, &'a Identity)>) -> Vec<ArrayRef> {
        let rows: Vec<_> = rows.collect();
        vec![
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|(id, _)| *id as i64),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|(_, who)| &who.user),
            )),
            Arc::new(StringArray::from_iter(
                rows.iter().map(|(_, who)| who.peer.map(|p| p.to_string())),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|(_, who)| who.protocol.name()),
            )),
        ]
    }

    /// `system.sessions`: the sessions open now.
    pub(crate) fn sessions_fields() -> Vec<Field> {
        vec![
            Field::new("session_id", DataType::Int64, false),
            Field::new("user_name", DataType::Utf8, false),
            Field::new("peer", DataType::Utf8, true),
            Field::new("protocol", DataType::Utf8, false),
            Field::new("backend_start", ts(), true),
            Field::new("state", DataType::Utf8, false),
            Field::new("query", DataType::Utf8, true),
            Field::new("query_start", ts(), true),
        ]
    }

    pub(crate) fn sessions_columns(auth: &Auth, who: Option<&Identity>) -> Vec<ArrayRef> {
        let rows: Vec<_> = auth
            .activity()
            .sessions()
            .into_iter()
            .filter(|s| visible(auth, who, &s.who.user))
            .collect();
        let mut columns = session_columns(rows.iter().map(|s| (s.id, &s.who)));
        columns.extend::<[ArrayRef; 4]>([
            ts_column(rows.iter().map(|s| micros(&s.started)).collect()),
            Arc::new(StringArray::from_iter_values(
                rows.iter()
                    .map(|s| if s.query.is_some() { "active" } else { "idle" }),
            )),
            Arc::new(StringArray::from_iter(
                rows.iter().map(|s| s.query.as_deref()),
            )),
            ts_column(
                rows.iter()
                    .map(|s| s.query_started.as_deref().and_then(micros))
                    .collect(),
            ),
        ]);
        columns
    }

    /// `system.queries`: the last statements that finished.
    pub(crate) fn queries_fields() -> Vec<Field> {
        vec![
            Field::new("session_id", DataType::Int64, false),
            Field::new("user_name", DataType::Utf8, false),
            Field::new("peer", DataType::Utf8, true),
            Field::new("protocol", DataType::Utf8, false),
            Field::new("started", ts(), true),
            Field::new("duration_ms", DataType::Float64, false),
            Field::new("statement", DataType::Utf8, false),
            Field::new("status", DataType::Utf8, false),
        ]
    }

    pub(crate) fn queries_columns(auth: &Auth, who: Option<&Identity>) -> Vec<ArrayRef> {
        let rows: Vec<_> = auth
            .activity()
            .queries()
            .into_iter()
            .filter(|q| visible(auth, who, &q.who.user))
            .collect();
        let mut columns = session_columns(rows.iter().map(|q| (q.session, &q.who)));
        columns.extend::<[ArrayRef; 4]>([
            ts_column(rows.iter().map(|q| micros(&q.started)).collect()),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|q| q.duration_ms),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|q| &q.statement),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|q| &q.status),
            )),
        ]);
        columns
    }
}
