//! What a table keeps in memory beyond its buffer, and the bounds on it.
//!
//! Three per-table caches grow with use: the key index (the sorted keys of
//! live data files, for changes by key), the plan cache (the manifests and
//! delete files planning has read) and the idempotency keys of recent
//! requests. Each reports its entries and approximate bytes
//! ([`CacheStats`], `system.caches`) and stays within a limit in bytes set
//! by a table property ([`CacheLimits`]).

use std::collections::HashMap;

/// Table property: the most bytes the key index keeps.
pub const KEY_INDEX_MAX_BYTES: &str = "floe.key-index.max-bytes";
/// Table property: the most bytes the plan cache keeps.
pub const PLAN_CACHE_MAX_BYTES: &str = "floe.plan-cache.max-bytes";
/// Table property: the most bytes of committed idempotency keys kept in
/// memory (older ones are looked up in the catalog).
pub const IDEMPOTENCY_MAX_BYTES: &str = "floe.idempotency.max-bytes";

/// The key index limit when a table sets none: 512 MiB, the keys of
/// about 33 million rows.
pub const DEFAULT_KEY_INDEX_BYTES: u64 = 512 << 20;
/// The plan cache limit when a table sets none.
pub const DEFAULT_PLAN_CACHE_BYTES: u64 = 256 << 20;
/// The idempotency key limit when a table sets none: about 100,000 keys
/// of 36 bytes (a UUID).
pub const DEFAULT_IDEMPOTENCY_BYTES: u64 = 16 << 20;

/// The memory bounds of one table's caches, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    /// The key index.
    pub key_index: u64,
    /// The plan cache.
    pub plan_cache: u64,
    /// Committed idempotency keys kept in memory.
    pub idempotency: u64,
}

impl Default for CacheLimits {
    fn default() -> Self {
        CacheLimits {
            key_index: DEFAULT_KEY_INDEX_BYTES,
            plan_cache: DEFAULT_PLAN_CACHE_BYTES,
            idempotency: DEFAULT_IDEMPOTENCY_BYTES,
        }
    }
}

impl CacheLimits {
    /// The limits a table's properties set, defaults elsewhere.
    pub fn for_table(properties: &HashMap<String, String>) -> CacheLimits {
        let get = |key: &str| crate::buffer::u64_property(properties, key);
        let defaults = CacheLimits::default();
        CacheLimits {
            key_index: get(KEY_INDEX_MAX_BYTES).unwrap_or(defaults.key_index),
            plan_cache: get(PLAN_CACHE_MAX_BYTES).unwrap_or(defaults.plan_cache),
            idempotency: get(IDEMPOTENCY_MAX_BYTES).unwrap_or(defaults.idempotency),
        }
    }

    /// Checks a table property value; `None` if the key is not a cache limit.
    pub fn check_property(key: &str, value: &str) -> Option<std::result::Result<(), String>> {
        if ![
            KEY_INDEX_MAX_BYTES,
            PLAN_CACHE_MAX_BYTES,
            IDEMPOTENCY_MAX_BYTES,
        ]
        .contains(&key)
        {
            return None;
        }
        Some(match value.trim().parse::<u64>() {
            Ok(_) => Ok(()),
            _ => Err(format!(
                "{key} must be a non-negative integer, not \"{value}\""
            )),
        })
    }
}

/// How much one cache holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// The cache: `key_index`, `plan_cache` or `idempotency_keys`.
    pub cache: &'static str,
    /// What it holds: data files (key index); manifest lists, manifests,
    /// delete files and data files with merged deletes (plan cache); keys
    /// (idempotency keys).
    pub entries: u64,
    /// Approximately how many bytes of memory the entries take.
    pub bytes: u64,
    /// The most bytes it keeps.
    pub limit_bytes: u64,
}

#[cfg(test)]
mod tests;
