//! What a session keeps from one statement to the next, besides who it is
//! and its time zone: the statements it prepared ([`crate::prepared`]),
//! the custom settings it set ([`crate::custom_settings`]) and its
//! temporary views ([`crate::temp_views`]). A PostgreSQL connection holds
//! one for its life, an HTTP request has its own, and an engine used in
//! process keeps one for its owner.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use floe_storage::ViewDefinition;

use crate::prepared::Kept;

/// A session's memory (see the module's doc). Clones share it.
#[derive(Debug, Clone, Default)]
pub struct SessionMemory {
    statements: Arc<Mutex<HashMap<String, Arc<Kept>>>>,
    settings: Arc<Mutex<BTreeMap<String, String>>>,
    client: Arc<Mutex<BTreeMap<String, String>>>,
    temp_views: Arc<Mutex<BTreeMap<String, ViewDefinition>>>,
}

tokio::task_local! {
    /// The memory of the session the current task runs in.
    static MEMORY: SessionMemory;
}

/// Runs `work` in a session whose memory is `memory`.
pub(crate) async fn scope<F: std::future::Future>(memory: SessionMemory, work: F) -> F::Output {
    MEMORY.scope(memory, work).await
}

/// The current session's memory, or `outside` when the task runs in no
/// session.
pub(crate) fn current(outside: &SessionMemory) -> SessionMemory {
    MEMORY
        .try_with(SessionMemory::clone)
        .unwrap_or_else(|_| outside.clone())
}

/// The current session's memory, if the task runs in a session.
pub(crate) fn try_current() -> Option<SessionMemory> {
    MEMORY.try_with(SessionMemory::clone).ok()
}

/// Whether the current task runs in a session's memory.
pub(crate) fn in_session() -> bool {
    MEMORY.try_with(|_| ()).is_ok()
}

/// The current session's custom setting `name` (lowercase), if it set one.
pub fn custom_setting(name: &str) -> Option<String> {
    MEMORY
        .try_with(|memory| memory.settings().get(name).cloned())
        .ok()
        .flatten()
}

/// The settings the current session's connection keeps itself
/// (`application_name`, `DateStyle`, ...), by lowercase name, as it last
/// reported them.
pub(crate) fn client_settings() -> BTreeMap<String, String> {
    MEMORY
        .try_with(|memory| lock(&memory.client).clone())
        .unwrap_or_default()
}

/// The current session's temporary view `name` ([`crate::temp_views`]).
pub(crate) fn temp_view(name: &str) -> Option<ViewDefinition> {
    MEMORY
        .try_with(|memory| memory.temp_views().get(name).cloned())
        .ok()
        .flatten()
}

/// The names of the current session's temporary views.
pub(crate) fn temp_view_names() -> std::collections::BTreeSet<String> {
    MEMORY
        .try_with(|memory| memory.temp_views().keys().cloned().collect())
        .unwrap_or_default()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SessionMemory {
    /// The session's prepared statements, by name.
    pub(crate) fn statements(&self) -> MutexGuard<'_, HashMap<String, Arc<Kept>>> {
        lock(&self.statements)
    }

    /// The session's temporary views, by name.
    pub(crate) fn temp_views(&self) -> MutexGuard<'_, BTreeMap<String, ViewDefinition>> {
        lock(&self.temp_views)
    }

    /// The session's custom settings, by lowercase name.
    pub(crate) fn settings(&self) -> MutexGuard<'_, BTreeMap<String, String>> {
        lock(&self.settings)
    }

    /// Records the settings the session's connection keeps itself (names
    /// in any case), for `SHOW ALL`.
    pub fn report_client_settings<'a>(
        &self,
        settings: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) {
        *lock(&self.client) = settings
            .into_iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.to_string()))
            .collect();
    }
}
