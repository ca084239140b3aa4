use super::*;

fn parsed(sql: &str) -> crate::Parsed {
    let mut s = Engine::parse(sql).unwrap();
    assert_eq!(s.len(), 1, "{sql}");
    s.remove(0)
}

fn one(sql: &str) -> Statement {
    parsed(sql).sql().expect("an SQL statement").clone()
}

#[test]
fn postgresql_forms_of_user_and_role_statements_parse() {
    let Statement::CreateRole(role) = one("CREATE USER alice WITH PASSWORD 'pw' IN ROLE analyst")
    else {
        panic!("not a role");
    };
    assert_eq!(role.login, Some(true));
    assert_eq!(create_role_options(&role).unwrap().in_role, vec!["analyst"]);
    let Statement::CreateRole(role) = one("CREATE ROLE analyst") else {
        panic!("not a role");
    };
    assert_eq!(role.login, None);
    assert!(matches!(
        one("ALTER USER alice PASSWORD 'x'"),
        Statement::AlterRole { .. }
    ));
    let Statement::Grant(g) = one("GRANT analyst, auditors TO alice, bob") else {
        panic!("not a grant");
    };
    assert_eq!(
        granted_roles(&g.privileges).unwrap().unwrap(),
        vec!["analyst", "auditors"]
    );
    assert_eq!(grantees(&g.grantees).unwrap(), vec!["alice", "bob"]);
    let Statement::Revoke(r) = one("REVOKE SELECT ON t FROM PUBLIC") else {
        panic!("not a revoke");
    };
    assert_eq!(grantees(&r.grantees).unwrap(), vec!["public"]);
    assert!(parsed("CREATE TOKEN ingest FOR ROLE writer").is_floe_syntax());
    assert!(parsed("DROP TOKEN IF EXISTS ingest").is_floe_syntax());
    assert!(is_access_statement(&one("DROP USER alice")));
    assert!(!is_access_statement(&one("DROP TABLE alice")));
    assert!(Engine::parse("GRANT analyst TO alice WITH ADMIN OPTION").is_err());
}

#[test]
fn passwords_never_reach_the_statement_text() {
    for sql in [
        "CREATE USER alice PASSWORD 'hunter2'",
        "CREATE ROLE alice LOGIN PASSWORD 'hunter2'",
        "ALTER USER alice WITH PASSWORD 'hunter2'",
        "ALTER ROLE alice LOGIN PASSWORD 'hunter2'",
    ] {
        let text = masked_text(&one(sql));
        assert!(!text.contains("hunter2"), "{sql} -> {text}");
        assert!(text.contains(MASK), "{sql} -> {text}");
        assert_eq!(parsed(sql).text(), text);
    }
}
