use super::*;
use crate::Protocol;

#[test]
fn sessions_come_and_go_and_finished_statements_are_kept() {
    let activity = Arc::new(Activity::default());
    let who = Identity {
        user: "alice".into(),
        peer: None,
        protocol: Protocol::Pg,
    };
    let session = activity.open(who);
    let running = session.begin("SELECT 1".into());
    assert_eq!(activity.sessions()[0].query.as_deref(), Some("SELECT 1"));
    running.finish("ok");
    assert_eq!(activity.sessions()[0].query, None);
    let q = &activity.queries()[0];
    assert_eq!(
        (q.statement.as_str(), q.status.as_str(), q.who.user.as_str()),
        ("SELECT 1", "ok", "alice")
    );
    for i in 0..RECENT_QUERIES + 5 {
        session.begin(format!("SELECT {i}")).finish("42501");
    }
    assert_eq!(activity.queries().len(), RECENT_QUERIES);
    drop(session);
    assert!(activity.sessions().is_empty());
}
