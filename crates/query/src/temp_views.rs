//! Temporary views (`CREATE TEMPORARY VIEW`), as PostgreSQL keeps them:
//! a session's own, in the schema `pg_temp`, gone when the session ends.
//!
//! The session's memory ([`crate::session_memory`]) holds their
//! definitions; the catalog's `pg_temp` schema ([`TempSchema`]) plans them
//! as the store's views are planned ([`crate::views`]). A statement's
//! unqualified relation names find the session's temporary views first
//! ([`qualify`]): such a name is written `pg_temp.name` before planning,
//! unless a WITH clause of the statement gives it. A view that reads a
//! temporary view is temporary itself. Any user may create them, as
//! PostgreSQL grants TEMPORARY to everyone; reading one needs the
//! privileges on what it reads.

use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::Result as DFResult;
use datafusion::sql::sqlparser::ast::{
    CopySource, FromTable, Ident, ObjectName, ObjectNamePart, ObjectType, Query, Statement,
    TableFactor, TableObject, TableWithJoins, Visit, VisitMut, Visitor, visit_relations_mut,
};
use floe_storage::ViewDefinition;

use crate::error::QueryError;
use crate::names;
use crate::session_memory;
use crate::views::ViewPlanner;

/// The schema temporary views live in.
pub(crate) const SCHEMA: &str = "pg_temp";

/// The names the WITH clauses of `node` give.
pub(crate) fn cte_names<V: Visit>(node: &V) -> BTreeSet<String> {
    struct Ctes(BTreeSet<String>);
    impl Visitor for Ctes {
        type Break = ();
        fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
            if let Some(with) = &query.with {
                self.0
                    .extend(with.cte_tables.iter().map(|c| names::ident(&c.alias.name)));
            }
            ControlFlow::Continue(())
        }
    }
    let mut ctes = Ctes(BTreeSet::new());
    let _ = node.visit(&mut ctes);
    ctes.0
}

/// Writes each unqualified relation name of `node` that names one of the
/// current session's temporary views as `pg_temp.name`. Whether it wrote
/// any. A WITH clause of `node` that gives one of those names is refused
/// (0A000): which relation each use of the name means depends on where
/// the clause is in scope, which this rewrite does not follow.
pub(crate) fn qualify<V: Visit + VisitMut>(node: &mut V) -> Result<bool, QueryError> {
    let temporary = session_memory::temp_view_names();
    if temporary.is_empty() {
        return Ok(false);
    }
    let ctes = cte_names(node);
    if let Some(name) = ctes.intersection(&temporary).next() {
        return Err(crate::error::unsupported(&format!(
            "a WITH query named \"{name}\" in a session with a temporary view of that name"
        )));
    }
    let mut qualified = false;
    let _ = visit_relations_mut(node, |relation| {
        if let [ObjectNamePart::Identifier(name)] = relation.0.as_slice() {
            let name = names::ident(name);
            if temporary.contains(&name) && !ctes.contains(&name) {
                relation
                    .0
                    .insert(0, ObjectNamePart::Identifier(Ident::new(SCHEMA)));
                qualified = true;
            }
        }
        ControlFlow::<()>::Continue(())
    });
    Ok(qualified)
}

/// Fails if `stmt` would write into, copy, alter, truncate or drop as a
/// table one of the current session's temporary views, named as it reads
/// them (unqualified or in `pg_temp`): those statements look names up
/// among tables, where the name means another relation or none.
pub(crate) fn refuse_writes(stmt: &Statement) -> Result<(), QueryError> {
    if session_memory::temp_view_names().is_empty() {
        return Ok(());
    }
    let relation = |t: &TableWithJoins| match &t.relation {
        TableFactor::Table { name, .. } => Some(name.clone()),
        _ => None,
    };
    let (written, as_table): (Vec<ObjectName>, Vec<ObjectName>) = match stmt {
        Statement::Insert(insert) => match &insert.table {
            TableObject::TableName(name) => (vec![name.clone()], vec![]),
            _ => (vec![], vec![]),
        },
        Statement::Update(update) => (relation(&update.table).into_iter().collect(), vec![]),
        Statement::Delete(delete) => {
            let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &delete.from;
            let mut names: Vec<ObjectName> = from.iter().filter_map(relation).collect();
            names.extend(delete.tables.iter().cloned());
            (names, vec![])
        }
        Statement::Copy {
            source: CopySource::Table { table_name, .. },
            ..
        } => (vec![table_name.clone()], vec![]),
        Statement::Truncate(truncate) => (
            vec![],
            truncate
                .table_names
                .iter()
                .map(|t| t.name.clone())
                .collect(),
        ),
        Statement::AlterTable(alter) => (vec![], vec![alter.name.clone()]),
        Statement::Drop {
            object_type: ObjectType::Table,
            names,
            ..
        } => (vec![], names.clone()),
        _ => return Ok(()),
    };
    if let Some(view) = written.iter().find_map(dropped) {
        return Err(QueryError::ReadOnlyView {
            name: format!("{SCHEMA}.{view}"),
        });
    }
    if let Some(view) = as_table.iter().find_map(dropped) {
        return Err(QueryError::Storage(floe_storage::StorageError::WrongKind {
            name: view,
            kind: "table",
            hint: "DROP VIEW",
        }));
    }
    Ok(())
}

/// The name a temporary view is created under: unqualified or in
/// `pg_temp` (42P16 for any other schema).
pub(crate) fn view_name(name: &ObjectName) -> Result<String, QueryError> {
    let qualified = name.0.len() > 1;
    let (schema, view) = names::table(name)?;
    if qualified && schema != SCHEMA {
        return Err(QueryError::InvalidArgument {
            status: floe_common::Status::InvalidTableDefinition,
            message: format!(
                "cannot create temporary relation in non-temporary schema \"{schema}\""
            ),
        });
    }
    Ok(view)
}

/// The current session's temporary view a DROP VIEW name means, if it
/// means one: an unqualified name of one, or a name in `pg_temp`.
pub(crate) fn dropped(name: &ObjectName) -> Option<String> {
    let (schema, view) = names::table(name).ok()?;
    let temporary = match name.0.len() {
        1 => session_memory::temp_view(&view).is_some(),
        _ => schema == SCHEMA,
    };
    temporary.then_some(view)
}

/// Drops the current session's temporary views `views`: as in
/// PostgreSQL, fails with 2BP01 while another temporary view reads one of
/// them, or with `cascade` drops those too.
pub(crate) fn drop(views: &[String], if_exists: bool, cascade: bool) -> Result<(), QueryError> {
    let Some(memory) = session_memory::try_current() else {
        return Ok(());
    };
    let mut kept = memory.temp_views();
    let mut doomed: Vec<String> = Vec::new();
    for view in views {
        if !kept.contains_key(view) {
            if if_exists {
                continue;
            }
            return Err(QueryError::Storage(
                floe_storage::StorageError::NoSuchView {
                    schema: SCHEMA.to_string(),
                    view: view.clone(),
                },
            ));
        }
        doomed.push(view.clone());
    }
    // Every temporary view that reads a doomed one, directly or not.
    let mut next = doomed.clone();
    while let Some(view) = next.pop() {
        for (reader, definition) in kept.iter() {
            if doomed.contains(reader)
                || !crate::views::names_relation(&definition.sql, SCHEMA, &view)
            {
                continue;
            }
            if !cascade {
                return Err(QueryError::InvalidArgument {
                    status: floe_common::Status::DependentObjectsStillExist,
                    message: format!(
                        "cannot drop view {SCHEMA}.{view} because other objects depend on it: \
                         view {SCHEMA}.{reader} depends on view {SCHEMA}.{view}; use DROP ... \
                         CASCADE to drop the dependent objects too"
                    ),
                });
            }
            doomed.push(reader.clone());
            next.push(reader.clone());
        }
    }
    for view in doomed {
        kept.remove(&view);
    }
    Ok(())
}

/// Keeps `definition` as the current session's temporary view `name`
/// (replacing one of that name with `or_replace`).
pub(crate) fn keep(
    name: &str,
    definition: ViewDefinition,
    or_replace: bool,
    if_not_exists: bool,
) -> Result<(), QueryError> {
    let memory = session_memory::try_current()
        .ok_or_else(|| crate::error::unsupported("CREATE TEMPORARY VIEW outside a session"))?;
    let mut kept = memory.temp_views();
    if kept.contains_key(name) && !or_replace {
        if if_not_exists {
            return Ok(());
        }
        return Err(QueryError::Storage(
            floe_storage::StorageError::TableExists {
                schema: SCHEMA.to_string(),
                table: name.to_string(),
            },
        ));
    }
    kept.insert(name.to_string(), definition);
    Ok(())
}

/// The catalog's `pg_temp` schema: the current session's temporary views.
#[derive(Debug)]
pub(crate) struct TempSchema {
    pub(crate) views: Arc<ViewPlanner>,
}

#[async_trait]
impl SchemaProvider for TempSchema {
    fn table_names(&self) -> Vec<String> {
        session_memory::temp_view_names().into_iter().collect()
    }

    async fn table(&self, name: &str) -> DFResult<Option<Arc<dyn TableProvider>>> {
        let Some(view) = session_memory::temp_view(name) else {
            return Ok(None);
        };
        crate::catalog::view_table(&self.views, SCHEMA, name, &view)
            .await
            .map(Some)
    }

    async fn table_type(&self, name: &str) -> DFResult<Option<TableType>> {
        Ok(session_memory::temp_view(name).map(|_| TableType::View))
    }

    fn table_exist(&self, name: &str) -> bool {
        session_memory::temp_view(name).is_some()
    }
}

#[cfg(test)]
mod tests;
