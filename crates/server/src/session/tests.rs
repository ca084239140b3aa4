use super::*;

#[test]
fn the_time_zone_is_read_from_startup_options() {
    assert_eq!(
        option_value("-c TimeZone=Asia/Tokyo", "timezone").as_deref(),
        Some("Asia/Tokyo")
    );
    assert_eq!(
        option_value("-cstatement_timeout=5 --timezone=UTC", "timezone").as_deref(),
        Some("UTC")
    );
    assert_eq!(option_value("-c search_path=public", "timezone"), None);
}
