//! DataFusion's catalog view of the store: schemas are Iceberg namespaces.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider};
use datafusion::datasource::TableProvider;
use datafusion::error::Result as DFResult;
use datafusion::logical_expr::TableType;
use floe_storage::Store;

use crate::error::QueryError;
use crate::estimates::EstimateCache;
use crate::table::FloeTable;
use crate::views::ViewPlanner;

/// The one catalog of a Floe process. Besides the store's schemas it holds
/// the built-in schemas registered at start (`system`, `pg_catalog`).
#[derive(Debug)]
pub struct FloeCatalog {
    store: Arc<Store>,
    views: Arc<ViewPlanner>,
    builtin: RwLock<BTreeMap<String, Arc<dyn SchemaProvider>>>,
    estimates: Arc<EstimateCache>,
}

impl FloeCatalog {
    /// A catalog over the store; `views` plans the store's views, and
    /// `estimates` sizes its tables for the planner.
    pub(crate) fn new(
        store: Arc<Store>,
        views: Arc<ViewPlanner>,
        estimates: Arc<EstimateCache>,
    ) -> FloeCatalog {
        FloeCatalog {
            store,
            views,
            builtin: RwLock::new(BTreeMap::new()),
            estimates,
        }
    }
}

impl CatalogProvider for FloeCatalog {
    fn schema_names(&self) -> Vec<String> {
        let mut names = self.store.schemas();
        names.extend(
            self.builtin
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .keys()
                .cloned(),
        );
        names
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        if let Some(s) = self
            .builtin
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            return Some(s.clone());
        }
        if name == crate::temp_views::SCHEMA {
            return Some(Arc::new(crate::temp_views::TempSchema {
                views: self.views.clone(),
            }));
        }
        self.store.schema_exists(name).then(|| {
            Arc::new(FloeSchema {
                store: self.store.clone(),
                views: self.views.clone(),
                name: name.to_string(),
                estimates: self.estimates.clone(),
            }) as Arc<dyn SchemaProvider>
        })
    }

    fn register_schema(
        &self,
        name: &str,
        schema: Arc<dyn SchemaProvider>,
    ) -> DFResult<Option<Arc<dyn SchemaProvider>>> {
        Ok(self
            .builtin
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), schema))
    }
}

/// The table the view `schema.name` stands for when a statement reads it:
/// its plan, or one that reports why it no longer plans.
pub(crate) async fn view_table(
    views: &ViewPlanner,
    schema: &str,
    name: &str,
    view: &floe_storage::ViewDefinition,
) -> DFResult<Arc<dyn TableProvider>> {
    Ok(match views.table(schema, name, view).await {
        Ok(table) => Arc::new(table),
        // Inside another view's planning the error goes up, so the
        // outermost view reports the cause.
        Err(e) if crate::views::planning_a_view() => return Err(e.into_datafusion()),
        Err(e) => Arc::new(crate::views::BrokenView::new(e)),
    })
}

/// One schema of the store.
#[derive(Debug)]
struct FloeSchema {
    store: Arc<Store>,
    views: Arc<ViewPlanner>,
    name: String,
    estimates: Arc<EstimateCache>,
}

#[async_trait]
impl SchemaProvider for FloeSchema {
    fn table_names(&self) -> Vec<String> {
        let mut names = self.store.table_names(&self.name);
        names.extend(self.store.view_names(&self.name));
        names.sort();
        names
    }

    async fn table(&self, name: &str) -> DFResult<Option<Arc<dyn TableProvider>>> {
        if let Some(view) = self.store.view(&self.name, name) {
            return view_table(&self.views, &self.name, name, &view)
                .await
                .map(Some);
        }
        let Some(handle) = self.store.table(&self.name, name) else {
            return match self.store.unavailable(&self.name, name) {
                Some(e) => Err(QueryError::Storage(e).into_datafusion()),
                None => Ok(None),
            };
        };
        let defaults = crate::defaults::stored(&handle);
        let estimates = self.estimates.estimates(&handle).await;
        let mut table = FloeTable::new(handle)
            .map_err(QueryError::into_datafusion)?
            .with_estimates(estimates);
        if !defaults.is_empty() {
            // Boxed: a view's planning reaches here once per view it reads.
            table = table.with_defaults(Box::pin(self.views.defaults(&defaults)).await);
        }
        Ok(Some(Arc::new(table)))
    }

    async fn table_type(&self, name: &str) -> DFResult<Option<TableType>> {
        if self.store.view(&self.name, name).is_some() {
            return Ok(Some(TableType::View));
        }
        Ok(self.table(name).await?.map(|t| t.table_type()))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.store.table(&self.name, name).is_some() || self.store.view(&self.name, name).is_some()
    }
}
