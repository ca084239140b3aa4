//! Views: a name for a query, kept as its SQL text.
//!
//! A view is a row of `floe_views` in the catalog database: its schema,
//! name, the query's text, the view's column names (empty when the
//! query's own names are used) and the names the query's columns had when
//! the view was created. Views are not Iceberg views: the Iceberg
//! view format needs the query's output as an Iceberg schema, and a query
//! can produce types (intervals, unsigned integers) that Iceberg has no
//! type for. Each change is one SQLite statement, so it is durable and
//! whole when it returns.

use sqlx::Row;

use super::SqliteCatalog;
use crate::{Result, StorageError};

/// What a view stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewDefinition {
    /// The query, as SQL text.
    pub sql: String,
    /// The view's column names, in order; empty when the query's names are
    /// the view's.
    pub columns: Vec<String>,
    /// The query's output column names when the view was created: a view
    /// whose query now gives other columns (`SELECT *` over a table that
    /// changed) is refused rather than read with shifted columns.
    pub query_columns: Vec<String>,
}

fn views_error(e: impl std::fmt::Display) -> StorageError {
    StorageError::Catalog {
        table: "(views)".into(),
        reason: e.to_string(),
    }
}

impl SqliteCatalog {
    /// Every view: (schema, name, definition).
    pub(crate) async fn load_views(&self) -> Result<Vec<(String, String, ViewDefinition)>> {
        let rows = sqlx::query(
            "SELECT namespace, view_name, definition, columns, query_columns FROM floe_views
              WHERE catalog_name = ? ORDER BY namespace, view_name",
        )
        .bind(&self.name)
        .fetch_all(&self.pool)
        .await
        .map_err(views_error)?;
        rows.into_iter()
            .map(|row| {
                let names = |i: usize| -> Result<Vec<String>> {
                    serde_json::from_str(&row.get::<String, _>(i)).map_err(views_error)
                };
                Ok((
                    row.get(0),
                    row.get(1),
                    ViewDefinition {
                        sql: row.get(2),
                        columns: names(3)?,
                        query_columns: names(4)?,
                    },
                ))
            })
            .collect()
    }

    /// Writes the view `schema.name`, replacing one of that name.
    pub(crate) async fn put_view(
        &self,
        schema: &str,
        name: &str,
        view: &ViewDefinition,
    ) -> Result<()> {
        let columns = serde_json::to_string(&view.columns).map_err(views_error)?;
        let query_columns = serde_json::to_string(&view.query_columns).map_err(views_error)?;
        sqlx::query(
            "INSERT INTO floe_views
                    (catalog_name, namespace, view_name, definition, columns, query_columns)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (catalog_name, namespace, view_name)
             DO UPDATE SET definition = excluded.definition, columns = excluded.columns,
                           query_columns = excluded.query_columns",
        )
        .bind(&self.name)
        .bind(schema)
        .bind(name)
        .bind(&view.sql)
        .bind(columns)
        .bind(query_columns)
        .execute(&self.pool)
        .await
        .map_err(views_error)?;
        Ok(())
    }

    /// Removes the view `schema.name`.
    pub(crate) async fn delete_view(&self, schema: &str, name: &str) -> Result<()> {
        sqlx::query(
            "DELETE FROM floe_views WHERE catalog_name = ? AND namespace = ? AND view_name = ?",
        )
        .bind(&self.name)
        .bind(schema)
        .bind(name)
        .execute(&self.pool)
        .await
        .map_err(views_error)?;
        Ok(())
    }
}
