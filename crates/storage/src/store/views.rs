//! The store's views: created, replaced and dropped under the store's DDL
//! lock, durable in the catalog before they are visible.

use super::Store;
use crate::{Result, StorageError, ViewDefinition};

impl Store {
    /// The view `schema.name`, if it exists.
    pub fn view(&self, schema: &str, name: &str) -> Option<ViewDefinition> {
        self.read_views()
            .get(schema)
            .and_then(|v| v.get(name))
            .cloned()
    }

    /// Names of the views in a schema, sorted.
    pub fn view_names(&self, schema: &str) -> Vec<String> {
        self.read_views()
            .get(schema)
            .map(|v| v.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Creates the view `schema.name`; with `or_replace`, a view of that
    /// name is replaced. Returns whether it was created (false: it existed
    /// and `if_not_exists` was given).
    pub async fn create_view(
        &self,
        schema: &str,
        name: &str,
        view: ViewDefinition,
        or_replace: bool,
        if_not_exists: bool,
    ) -> Result<bool> {
        let _ddl = self.ddl.lock().await;
        if !self.schema_exists(schema) {
            return Err(StorageError::NoSuchSchema {
                schema: schema.to_string(),
            });
        }
        let exists = self.view(schema, name).is_some();
        if self.table(schema, name).is_some() || (exists && !or_replace) {
            return if if_not_exists {
                Ok(false)
            } else {
                Err(StorageError::TableExists {
                    schema: schema.to_string(),
                    table: name.to_string(),
                })
            };
        }
        self.catalog.put_view(schema, name, &view).await?;
        self.views
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(schema.to_string())
            .or_default()
            .insert(name.to_string(), view);
        Ok(true)
    }

    /// Drops the view `schema.name`. Returns whether a view was dropped.
    pub async fn drop_view(&self, schema: &str, name: &str, if_exists: bool) -> Result<bool> {
        let _ddl = self.ddl.lock().await;
        if self.view(schema, name).is_none() {
            if self.table(schema, name).is_some() {
                return Err(StorageError::WrongKind {
                    name: name.to_string(),
                    kind: "view",
                    hint: "DROP TABLE",
                });
            }
            return if if_exists {
                Ok(false)
            } else {
                Err(StorageError::NoSuchView {
                    schema: schema.to_string(),
                    view: name.to_string(),
                })
            };
        }
        self.drop_view_locked(schema, name).await?;
        Ok(true)
    }

    /// Drops a view; the caller holds the DDL lock.
    pub(super) async fn drop_view_locked(&self, schema: &str, name: &str) -> Result<()> {
        self.catalog.delete_view(schema, name).await?;
        if let Some(views) = self
            .views
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(schema)
        {
            views.remove(name);
        }
        Ok(())
    }

    fn read_views(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, std::collections::BTreeMap<String, super::ViewsIn>> {
        self.views.read().unwrap_or_else(|e| e.into_inner())
    }
}
