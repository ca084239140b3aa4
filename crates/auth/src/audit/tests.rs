use super::*;

fn event(n: usize) -> Event {
    Event {
        time: now(),
        kind: "ddl".into(),
        user: "floe".into(),
        peer: None,
        protocol: "local".into(),
        success: true,
        detail: format!("statement {n}"),
    }
}

#[test]
fn issue14_the_audit_trail_is_rotated_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let limits = AuditLimits {
        max_bytes: 2_000,
        keep: 2,
    };
    let audit = Audit::open_with(dir.path(), limits).unwrap();
    for n in 0..500 {
        audit.record(event(n));
    }
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec!["audit.log", "audit.log.1", "audit.log.2"]);
    let total: u64 = names
        .iter()
        .map(|n| std::fs::metadata(dir.path().join(n)).unwrap().len())
        .sum();
    assert!(total <= 3 * 2_200, "{total} bytes kept");
    // The newest events are kept, in order, ending with the last one.
    let events = audit.read().unwrap();
    assert!(events.len() > 20 && events.len() < 500, "{}", events.len());
    let numbers: Vec<usize> = events
        .iter()
        .map(|e| e.detail["statement ".len()..].parse().unwrap())
        .collect();
    assert_eq!(*numbers.last().unwrap(), 499);
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "{numbers:?}");
}

#[test]
fn issue14_a_reopened_trail_counts_its_existing_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let limits = AuditLimits {
        max_bytes: 1_000,
        keep: 1,
    };
    {
        let audit = Audit::open_with(dir.path(), limits).unwrap();
        for n in 0..5 {
            audit.record(event(n));
        }
    }
    let audit = Audit::open_with(dir.path(), limits).unwrap();
    for n in 5..10 {
        audit.record(event(n));
    }
    assert!(dir.path().join("audit.log.1").exists());
    assert!(std::fs::metadata(dir.path().join(FILE)).unwrap().len() < 1_000);
    assert_eq!(audit.read().unwrap().last().unwrap().detail, "statement 9");
}
