use super::*;

#[test]
fn a_peer_is_held_back_after_too_many_failures_then_let_go() {
    let t = Throttle::default();
    let peer: IpAddr = "192.0.2.1".parse().unwrap();
    let other: IpAddr = "192.0.2.2".parse().unwrap();
    let start = Instant::now();
    for i in 0..MAX_FAILURES {
        assert!(t.check_at(peer, start).is_ok(), "attempt {i}");
        t.failed_at(peer, start);
    }
    let wait = t
        .check_at(peer, start + Duration::from_secs(10))
        .unwrap_err();
    assert_eq!(wait, WINDOW - Duration::from_secs(10));
    assert!(t.check_at(other, start).is_ok());
    assert!(t.check_at(peer, start + WINDOW).is_ok());
}
