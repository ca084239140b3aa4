//! The error log of one table: the last failure of each kind of
//! background work on it (flush, compaction, vacuum), kept until that work
//! next succeeds, for `system.tables.last_error`.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use crate::Result;

/// The last failure of each kind of background work, by kind.
#[derive(Debug, Default)]
pub(crate) struct ErrorLog {
    errors: Mutex<BTreeMap<&'static str, String>>,
}

impl ErrorLog {
    fn errors(&self) -> MutexGuard<'_, BTreeMap<&'static str, String>> {
        self.errors.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the outcome of background work of one kind: a failure
    /// replaces the kind's last one, a success clears it.
    pub(crate) fn record<T>(&self, work: &'static str, outcome: &Result<T>) {
        let mut errors = self.errors();
        match outcome {
            Ok(_) => {
                errors.remove(work);
            }
            Err(e) => {
                errors.insert(work, e.to_string());
            }
        }
    }

    /// Every kind's failure not succeeded since, as `work: error` lines
    /// in the order of the kinds' names; `None` if there is none.
    pub(crate) fn last(&self) -> Option<String> {
        let errors = self.errors();
        (!errors.is_empty()).then(|| {
            errors
                .iter()
                .map(|(work, e)| format!("{work}: {e}"))
                .collect::<Vec<_>>()
                .join("\n")
        })
    }
}

#[cfg(test)]
mod tests;
