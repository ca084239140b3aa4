use super::*;

#[test]
fn the_oldest_write_in_flight_bounds_cleanup_until_it_ends() {
    let writes = Arc::new(WritesInFlight::default());
    assert_eq!(writes.oldest(), None);
    let first = writes.begin();
    let at = writes.oldest().unwrap();
    assert!(at <= SystemTime::now() - CLOCK_SLACK);
    let second = writes.begin();
    assert_eq!(writes.oldest(), Some(at));
    drop(first);
    assert!(writes.oldest().unwrap() >= at);
    drop(second);
    assert_eq!(writes.oldest(), None);
}
