//! Which statements and plans the session's user may run: SELECT on each
//! table a plan reads, INSERT/UPDATE/DELETE on the table it writes, and a
//! superuser for DDL, sources, maintenance and the audit trail.

use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::sqlparser::ast::{ObjectType, Statement};
use floe_auth::{Identity, Privilege};
use floe_common::defaults::DEFAULT_SCHEMA;

use super::Engine;
use crate::error::QueryError;

impl Engine {
    /// Fails unless the session may use `privilege` on `schema.table`.
    pub fn check_table(
        &self,
        privilege: Privilege,
        schema: &str,
        table: &str,
    ) -> Result<(), QueryError> {
        let who = self.session()?;
        Ok(self.auth.check_table(&who, privilege, schema, table)?)
    }

    /// Fails unless the session is a superuser's; records the attempt
    /// and its outcome as DDL in the audit trail.
    pub(super) fn require_superuser(
        &self,
        detail: &str,
        action: &str,
    ) -> Result<Identity, QueryError> {
        let who = self.session()?;
        if let Err(e) = self.auth.require_superuser(&who, action) {
            self.auth.record(&who, "ddl", false, detail.to_string());
            return Err(e.into());
        }
        Ok(who)
    }

    /// Fails unless the session may run every part of `plan`: SELECT on
    /// each table it reads, INSERT/UPDATE/DELETE on the table it writes,
    /// superuser for DDL, and superuser for the audit trail.
    pub fn authorize(&self, plan: &LogicalPlan) -> Result<(), QueryError> {
        use datafusion::common::tree_node::TreeNodeRecursion;
        use datafusion::logical_expr::{DmlStatement, WriteOp};
        let who = self.session()?;
        if self.auth.is_superuser(&who) {
            return Ok(());
        }
        let mut denied: Option<QueryError> = None;
        let mut check = |r: Result<(), QueryError>| match r {
            Ok(()) => TreeNodeRecursion::Continue,
            Err(e) => {
                denied = Some(e);
                TreeNodeRecursion::Stop
            }
        };
        plan.apply_with_subqueries(|node| {
            Ok(match node {
                LogicalPlan::TableScan(scan) => match crate::table::scanned_table(&scan.source) {
                    Some((schema, table)) => {
                        check(self.check_table(Privilege::Select, &schema, &table))
                    }
                    None if crate::system::superuser_only(&scan.source) => check(
                        self.auth
                            .require_superuser(&who, "read system.audit or system.sources")
                            .map_err(QueryError::from),
                    ),
                    None => TreeNodeRecursion::Continue,
                },
                LogicalPlan::Dml(DmlStatement { table_name, op, .. }) => {
                    let schema = table_name.schema().unwrap_or(DEFAULT_SCHEMA).to_string();
                    let table = table_name.table().to_string();
                    let privilege = match op {
                        WriteOp::Insert(_) => Some(Privilege::Insert),
                        WriteOp::Update => Some(Privilege::Update),
                        WriteOp::Delete | WriteOp::Truncate => Some(Privilege::Delete),
                        WriteOp::Ctas => None,
                    };
                    check(match privilege {
                        Some(p) => self.check_table(p, &schema, &table),
                        None => self
                            .auth
                            .require_superuser(&who, "create tables")
                            .map_err(QueryError::from),
                    })
                }
                LogicalPlan::Ddl(_) | LogicalPlan::Copy(_) => check(
                    self.auth
                        .require_superuser(&who, "run DDL")
                        .map_err(QueryError::from),
                ),
                _ => TreeNodeRecursion::Continue,
            })
        })?;
        match denied {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The action a statement needs a superuser for, if it does: DDL,
/// replication sources and maintenance.
pub(super) fn superuser_action(stmt: &Statement) -> Option<&'static str> {
    Some(match stmt {
        Statement::CreateSchema { .. } => "create schemas",
        Statement::CreateTable(_) => "create tables",
        Statement::AlterTable(_) => "alter tables",
        Statement::Drop {
            object_type: ObjectType::Table,
            ..
        } => "drop tables",
        Statement::Drop {
            object_type: ObjectType::Schema,
            ..
        } => "drop schemas",
        Statement::Vacuum(_) => "run VACUUM",
        Statement::CreateView(view) if !view.temporary => "create views",
        Statement::Drop {
            object_type: ObjectType::View,
            names,
            ..
        } if !names
            .iter()
            .all(|n| crate::temp_views::dropped(n).is_some()) =>
        {
            "drop views"
        }
        _ => return None,
    })
}
