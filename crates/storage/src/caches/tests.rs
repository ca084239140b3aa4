use std::collections::HashMap;

use super::*;

#[test]
fn issue14_cache_limits_come_from_table_properties() {
    assert_eq!(
        CacheLimits::for_table(&HashMap::new()),
        CacheLimits::default()
    );
    let properties = HashMap::from([
        (KEY_INDEX_MAX_BYTES.to_string(), "1000".to_string()),
        (PLAN_CACHE_MAX_BYTES.to_string(), " 0 ".to_string()),
        (IDEMPOTENCY_MAX_BYTES.to_string(), "nonsense".to_string()),
    ]);
    let limits = CacheLimits::for_table(&properties);
    assert_eq!(limits.key_index, 1000);
    assert_eq!(limits.plan_cache, 0);
    assert_eq!(limits.idempotency, DEFAULT_IDEMPOTENCY_BYTES);
}

#[test]
fn issue14_cache_limit_properties_are_checked() {
    assert_eq!(
        CacheLimits::check_property("floe.flush.max-rows", "x"),
        None
    );
    assert_eq!(
        CacheLimits::check_property(KEY_INDEX_MAX_BYTES, "0"),
        Some(Ok(()))
    );
    let err = CacheLimits::check_property(PLAN_CACHE_MAX_BYTES, "-1")
        .unwrap()
        .unwrap_err();
    assert!(
        err.contains(PLAN_CACHE_MAX_BYTES) && err.contains("-1"),
        "{err}"
    );
    assert!(crate::check_property(IDEMPOTENCY_MAX_BYTES, "lots").is_err());
}
