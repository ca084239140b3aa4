use super::*;

#[test]
fn sqlstates_are_unique_and_five_characters() {
    let mut seen = std::collections::HashSet::new();
    for s in ALL {
        assert_eq!(s.sqlstate().len(), 5, "{s:?}");
        assert!(seen.insert(s.sqlstate()), "duplicate SQLSTATE for {s:?}");
        assert_eq!(Status::from_sqlstate(s.sqlstate()), Some(s));
    }
}

#[test]
fn client_errors_are_4xx_and_server_errors_5xx() {
    assert_eq!(Status::UndefinedTable.http_status(), 404);
    assert_eq!(Status::SyntaxError.http_status(), 400);
    assert_eq!(Status::Internal.http_status(), 500);
    assert_eq!(Status::ProgramLimitExceeded.http_status(), 413);
}
