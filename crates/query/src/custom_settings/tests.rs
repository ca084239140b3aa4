use super::*;

fn run(memory: &SessionMemory, sql: &str) -> Result<Output, QueryError> {
    let stmt = crate::syntax::sql_statement(sql).unwrap();
    execute(memory, &stmt).expect("a custom setting")
}

#[test]
fn custom_settings_are_set_reset_and_kept_per_memory() {
    let memory = SessionMemory::default();
    run(&memory, "SET App.User_Id = '42'").unwrap();
    assert_eq!(
        memory.settings().get("app.user_id").map(String::as_str),
        Some("42")
    );
    run(&memory, "SET app.user_id TO 7").unwrap();
    assert_eq!(
        memory.settings().get("app.user_id").map(String::as_str),
        Some("7")
    );
    run(&memory, "RESET app.user_id").unwrap();
    assert_eq!(
        memory.settings().get("app.user_id").map(String::as_str),
        Some("")
    );
    let other = SessionMemory::default();
    assert!(other.settings().is_empty());
}

#[test]
fn bad_custom_settings_are_errors_and_other_settings_are_not_custom() {
    use floe_common::HasStatus;
    let memory = SessionMemory::default();
    let e = run(&memory, "SET app.x = 'a', 'b'").unwrap_err();
    assert_eq!(e.status(), Status::InvalidParameterValue);
    assert!(run(&memory, "SET LOCAL app.x = 1").is_err());
    for sql in [
        "SET datafusion.execution.batch_size = 1",
        "SET search_path = public",
    ] {
        let stmt = crate::syntax::sql_statement(sql).unwrap();
        assert!(execute(&memory, &stmt).is_none(), "{sql}");
    }
}
