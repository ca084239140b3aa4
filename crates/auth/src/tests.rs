use super::*;

fn pg(user: &str) -> Identity {
    Identity {
        user: user.to_string(),
        peer: Some("127.0.0.1:5000".parse().unwrap()),
        protocol: Protocol::Pg,
    }
}

fn open() -> (tempfile::TempDir, Arc<Auth>, Bootstrap) {
    let dir = tempfile::tempdir().unwrap();
    let auth = Auth::open(dir.path()).unwrap();
    let boot = auth.bootstrap("floe", "public").unwrap().unwrap();
    (dir, auth, boot)
}

fn user(auth: &Auth, name: &str) {
    auth.create_role(
        &pg("floe"),
        name,
        RoleOptions {
            login: Some(true),
            password: Some(Some("pw".into())),
            ..RoleOptions::default()
        },
        false,
    )
    .unwrap();
}

fn table(name: &str) -> Object {
    Object::Table {
        schema: "public".into(),
        table: name.into(),
    }
}

#[test]
fn first_start_makes_one_superuser_with_a_password_and_a_token() {
    let (dir, auth, boot) = open();
    assert!(auth.bootstrap("floe", "public").unwrap().is_none());
    let login = auth
        .begin_login("floe", "127.0.0.1".parse().unwrap())
        .unwrap();
    assert!(login.refused.is_none());
    assert!(login.verifier.matches(&boot.password));
    let who = auth
        .authenticate_token(&boot.token, "127.0.0.1:1".parse().unwrap())
        .unwrap();
    assert_eq!(who.user, "floe");
    let text = std::fs::read_to_string(dir.path().join(roles::FILE)).unwrap();
    assert!(!text.contains(&boot.password));
    assert!(!text.contains(boot.token.rsplit('_').next().unwrap()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(roles::FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn privileges_come_from_grants_to_the_user_its_roles_and_public() {
    let (_dir, auth, _) = open();
    let admin = pg("floe");
    user(&auth, "alice");
    auth.create_role(&admin, "analyst", RoleOptions::default(), false)
        .unwrap();
    let alice = pg("alice");
    let denied = auth
        .check_table(&alice, Privilege::Select, "public", "t")
        .unwrap_err();
    assert_eq!(denied.to_string(), "permission denied for table public.t");
    auth.grant(
        &admin,
        &[Privilege::Select],
        &[table("t")],
        &["analyst".into()],
    )
    .unwrap();
    assert!(
        auth.check_table(&alice, Privilege::Select, "public", "t")
            .is_err()
    );
    auth.grant_roles(&admin, &["analyst".into()], &["alice".into()])
        .unwrap();
    auth.check_table(&alice, Privilege::Select, "public", "t")
        .unwrap();
    assert!(
        auth.check_table(&alice, Privilege::Insert, "public", "t")
            .is_err()
    );
    // USAGE on the schema is needed too; public has it from the start.
    auth.revoke(
        &admin,
        &[Privilege::Usage],
        &[Object::Schema {
            schema: "public".into(),
        }],
        &[roles::PUBLIC.into()],
    )
    .unwrap();
    let e = auth
        .check_table(&alice, Privilege::Select, "public", "t")
        .unwrap_err();
    assert_eq!(e.to_string(), "permission denied for schema public");
    // A cycle of memberships is refused.
    assert!(
        auth.grant_roles(&admin, &["alice".into()], &["analyst".into()])
            .is_err()
    );
}

#[test]
fn only_superusers_manage_roles_and_grants() {
    let (_dir, auth, _) = open();
    user(&auth, "alice");
    let alice = pg("alice");
    let e = auth
        .create_role(&alice, "bob", RoleOptions::default(), false)
        .unwrap_err();
    assert_eq!(floe_common::HasStatus::status(&e).sqlstate(), "42501");
    assert!(
        auth.grant(
            &alice,
            &[Privilege::Select],
            &[table("t")],
            &["alice".into()]
        )
        .is_err()
    );
    // A user may change its own password, nothing else.
    auth.alter_role(
        &alice,
        "alice",
        RoleOptions {
            password: Some(Some("new".into())),
            ..RoleOptions::default()
        },
    )
    .unwrap();
    assert!(
        auth.begin_login("alice", "127.0.0.1".parse().unwrap())
            .unwrap()
            .verifier
            .matches("new")
    );
    assert!(
        auth.alter_role(
            &alice,
            "alice",
            RoleOptions {
                superuser: Some(true),
                ..RoleOptions::default()
            }
        )
        .is_err()
    );
}

#[test]
fn a_dropped_token_stops_working_at_once() {
    let (_dir, auth, _) = open();
    user(&auth, "alice");
    let alice = pg("alice");
    let token = auth
        .create_token(&alice, "ingest", None, false)
        .unwrap()
        .unwrap();
    assert!(auth.create_token(&alice, "ingest", None, false).is_err());
    assert_eq!(
        auth.create_token(&alice, "ingest", None, true).unwrap(),
        None
    );
    let peer = "127.0.0.1:1".parse().unwrap();
    assert_eq!(auth.authenticate_token(&token, peer).unwrap().user, "alice");
    // Not for a role alice is not a member of.
    assert!(auth.create_token(&alice, "x", Some("floe"), false).is_err());
    // Its use is a login in the audit trail, once per address and hour.
    auth.authenticate_token(&token, peer).unwrap();
    let logins = auth
        .audit()
        .read()
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "login" && e.protocol == "http" && e.success)
        .count();
    assert_eq!(logins, 1);
    auth.drop_token(&alice, "ingest", false).unwrap();
    assert!(matches!(
        auth.authenticate_token(&token, peer),
        Err(AuthError::InvalidToken)
    ));
    assert!(auth.authenticate_token("floe_nonsense", peer).is_err());
}

#[test]
fn state_survives_reopening_and_dropping_a_role_removes_what_it_held() {
    let (dir, auth, _) = open();
    let admin = pg("floe");
    user(&auth, "alice");
    auth.grant(
        &admin,
        &[Privilege::Select],
        &[table("t")],
        &["alice".into()],
    )
    .unwrap();
    let token = auth
        .create_token(&admin, "a", Some("alice"), false)
        .unwrap()
        .unwrap();
    drop(auth);
    let auth = Auth::open(dir.path()).unwrap();
    auth.check_table(&pg("alice"), Privilege::Select, "public", "t")
        .unwrap();
    auth.drop_role(&admin, "alice", false).unwrap();
    assert!(auth.snapshot().grants.iter().all(|g| g.grantee != "alice"));
    assert!(
        auth.authenticate_token(&token, "127.0.0.1:1".parse().unwrap())
            .is_err()
    );
    // A session of a dropped role can no longer run anything.
    assert!(
        auth.check_table(&pg("alice"), Privilege::Select, "public", "t")
            .is_err()
    );
    // The last superuser stays.
    assert!(auth.drop_role(&admin, "floe", false).is_err());
    assert!(
        auth.alter_role(
            &pg("local"),
            "floe",
            RoleOptions {
                superuser: Some(false),
                ..RoleOptions::default()
            }
        )
        .is_err()
    );
}

#[test]
fn unknown_users_get_a_decoy_that_fails_and_failures_are_throttled() {
    let (dir, auth, _) = open();
    let ip: IpAddr = "192.0.2.7".parse().unwrap();
    let login = auth.begin_login("nobody", ip).unwrap();
    assert_eq!(login.refused, Some("role does not exist"));
    let who = Identity {
        user: "nobody".into(),
        peer: Some(SocketAddr::new(ip, 1)),
        protocol: Protocol::Pg,
    };
    for _ in 0..throttle::MAX_FAILURES {
        auth.finish_login(&who, Some("wrong password"));
    }
    assert!(matches!(
        auth.begin_login("floe", ip),
        Err(AuthError::Throttled { .. })
    ));
    let events = auth.audit().read().unwrap();
    let failed = events
        .iter()
        .filter(|e| e.kind == "login" && !e.success)
        .count();
    assert_eq!(failed, throttle::MAX_FAILURES);
    assert!(
        events
            .iter()
            .all(|e| e.peer.as_deref() != Some("192.0.2.7:1") || e.user == "nobody")
    );
    drop(dir);
}

#[test]
fn hashed_passwords_are_taken_as_they_are() {
    let (_dir, auth, _) = open();
    let verifier = Verifier::new("secret").to_string();
    auth.create_role(
        &pg("floe"),
        "bob",
        RoleOptions {
            login: Some(true),
            password: Some(Some(verifier)),
            ..RoleOptions::default()
        },
        false,
    )
    .unwrap();
    assert!(
        auth.begin_login("bob", "127.0.0.1".parse().unwrap())
            .unwrap()
            .verifier
            .matches("secret")
    );
    let md5 = RoleOptions {
        password: Some(Some(format!("md5{}", "0".repeat(32)))),
        ..RoleOptions::default()
    };
    assert!(auth.alter_role(&pg("floe"), "bob", md5).is_err());
}
