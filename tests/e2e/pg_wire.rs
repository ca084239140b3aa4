//! Client-level behaviour over the PG wire protocol with tokio-postgres:
//! the extended protocol, parameters, type OIDs and SQLSTATEs.

use floe_query::Engine;
use floe_tests::support::TestServer;
use tokio_postgres::types::Type;

async fn server() -> (tempfile::TempDir, TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).await.unwrap();
    (dir, TestServer::start(engine).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_2_prepared_statements_bind_parameters_and_report_types() {
    let (_dir, server) = server().await;
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT, score DOUBLE PRECISION, ok BOOLEAN, day DATE)",
        )
        .await
        .unwrap();
    let n = client
        .execute(
            "INSERT INTO t VALUES ($1, $2, $3, $4, DATE '2024-01-02')",
            &[&1i64, &"one", &1.5f64, &true],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    let stmt = client
        .prepare("SELECT id, name, score, ok, day FROM t WHERE id = $1")
        .await
        .unwrap();
    let types: Vec<Type> = stmt.columns().iter().map(|c| c.type_().clone()).collect();
    assert_eq!(
        types,
        vec![Type::INT8, Type::TEXT, Type::FLOAT8, Type::BOOL, Type::DATE]
    );
    let rows = client.query(&stmt, &[&1i64]).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, &str>(1), "one");
    assert_eq!(rows[0].get::<_, f64>(2), 1.5);
    assert!(rows[0].get::<_, bool>(3));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_2_errors_carry_sqlstate_on_both_protocols() {
    let (_dir, server) = server().await;
    let client = server.connect().await;
    let e = client.simple_query("SELECT * FROM nope").await.unwrap_err();
    assert_eq!(e.code().unwrap().code(), "42P01", "{e}");
    let e = client.prepare("SELECT * FROM nope").await.unwrap_err();
    assert_eq!(e.code().unwrap().code(), "42P01", "{e}");
    let e = client.simple_query("SELEC 1").await.unwrap_err();
    assert_eq!(e.code().unwrap().code(), "42601", "{e}");
    let e = client
        .simple_query("CREATE TABLE x (a BIGINT); CREATE TABLE x (a BIGINT)")
        .await
        .unwrap_err();
    assert_eq!(e.code().unwrap().code(), "42P07", "{e}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_2_readers_see_writes_from_other_connections_at_once() {
    let (_dir, server) = server().await;
    let writer = server.connect().await;
    let reader = server.connect().await;
    writer
        .batch_execute("CREATE TABLE e (v BIGINT)")
        .await
        .unwrap();
    for i in 0..5i64 {
        writer
            .execute("INSERT INTO e VALUES ($1)", &[&i])
            .await
            .unwrap();
        let row = reader
            .query_one("SELECT count(*) FROM e", &[])
            .await
            .unwrap();
        assert_eq!(row.get::<_, i64>(0), i + 1);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_2_concurrent_writers_lose_no_rows() {
    let (_dir, server) = server().await;
    let setup = server.connect().await;
    setup
        .batch_execute("CREATE TABLE w (writer BIGINT, i BIGINT)")
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for w in 0..4i64 {
        let client = server.connect().await;
        tasks.push(tokio::spawn(async move {
            for i in 0..10i64 {
                client
                    .execute("INSERT INTO w VALUES ($1, $2)", &[&w, &i])
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let row = setup
        .query_one(
            "SELECT count(*), count(DISTINCT writer * 100 + i) FROM w",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 40);
    assert_eq!(row.get::<_, i64>(1), 40);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_2_time_travel_reads_an_earlier_snapshot() {
    let (_dir, server) = server().await;
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE tt (v BIGINT); INSERT INTO tt VALUES (1)")
        .await
        .unwrap();
    // Small inserts are buffered; CHECKPOINT commits them as a snapshot.
    client.batch_execute("CHECKPOINT").await.unwrap();
    let first: i64 = client
        .query_one(
            "SELECT snapshot_id FROM system.snapshots WHERE table_name = 'tt'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    client
        .batch_execute("INSERT INTO tt VALUES (2), (3)")
        .await
        .unwrap();
    client.batch_execute("CHECKPOINT").await.unwrap();
    let then: i64 = client
        .query_one(
            &format!("SELECT count(*) FROM at_snapshot('public.tt', {first})"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let now: i64 = client
        .query_one("SELECT count(*) FROM tt", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!((then, now), (1, 3));
    server.stop().await;
}

/// Connects as `user` with `password`; the error's SQLSTATE if refused.
async fn login(
    server: &TestServer,
    user: &str,
    password: &str,
) -> Result<tokio_postgres::Client, String> {
    let config = format!(
        "host={} port={} user={user} password='{password}' dbname=floe",
        server.pg.ip(),
        server.pg.port()
    );
    match tokio_postgres::connect(&config, tokio_postgres::NoTls).await {
        Ok((client, conn)) => {
            tokio::spawn(conn);
            Ok(client)
        }
        Err(e) => Err(e
            .as_db_error()
            .map(|d| d.code().code().to_string())
            .unwrap_or_else(|| e.to_string())),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue5_wrong_passwords_get_28p01_and_missing_privileges_42501() {
    let (_dir, server) = server().await;
    let admin = server.connect().await;
    admin
        .batch_execute(
            "CREATE TABLE t (a BIGINT); CREATE USER alice PASSWORD 'right'; \
             CREATE TABLE u (a BIGINT); GRANT SELECT ON u TO alice",
        )
        .await
        .unwrap();
    assert_eq!(
        login(&server, "alice", "wrong").await.err().as_deref(),
        Some("28P01")
    );
    assert_eq!(
        login(&server, "nobody", "x").await.err().as_deref(),
        Some("28P01")
    );
    let alice = login(&server, "alice", "right").await.unwrap();
    alice.simple_query("SELECT * FROM u").await.unwrap();
    for sql in [
        "SELECT * FROM t",
        "INSERT INTO u VALUES (1)",
        "DROP TABLE u",
    ] {
        let e = alice.simple_query(sql).await.unwrap_err();
        assert_eq!(e.code().map(|c| c.code()), Some("42501"), "{sql}: {e}");
        let e = alice.query(sql, &[]).await.unwrap_err();
        assert_eq!(
            e.code().map(|c| c.code()),
            Some("42501"),
            "{sql} (extended): {e}"
        );
    }
    server.stop().await;
}
