use super::*;
use crate::Engine;

fn stmt(sql: &str) -> Parsed {
    Engine::parse(sql).unwrap().remove(0)
}

fn sql_of(text: &str) -> Statement {
    crate::syntax::sql_statement(text).unwrap()
}

#[test]
fn issue14_writes_are_refused_inside_a_block_and_reads_allowed() {
    for sql in [
        "SELECT 1",
        "SELECT * FROM t WHERE a > 1 UNION ALL SELECT * FROM u",
        "WITH x AS (SELECT 1) SELECT * FROM x",
        "EXPLAIN SELECT 1",
        "EXPLAIN ANALYZE SELECT 1",
        "SHOW search_path",
        "SET search_path = public",
        "COPY (SELECT 1) TO STDOUT",
        "VALUES (1)",
    ] {
        assert!(allowed_in_block(&sql_of(sql)), "{sql} should be allowed");
    }
    for sql in [
        "INSERT INTO t VALUES (1)",
        "UPDATE t SET a = 1",
        "DELETE FROM t",
        "COPY t FROM '/tmp/x.csv'",
        "CREATE TABLE t (a int)",
        "CREATE TABLE t2 AS SELECT 1",
        "DROP TABLE t",
        "ALTER TABLE t ADD COLUMN b int",
        "TRUNCATE t",
        "EXPLAIN ANALYZE INSERT INTO t VALUES (1)",
        "SELECT 1 INTO t3",
        "CREATE USER bob",
        "VACUUM",
        "CHECKPOINT",
        "CREATE TOKEN t",
        "DROP SOURCE s",
    ] {
        let err = check_in_block(&stmt(sql)).unwrap_err();
        assert_eq!(
            floe_common::HasStatus::status(&err).sqlstate(),
            "25006",
            "{sql}: {err}"
        );
        assert!(err.to_string().contains("transaction block"), "{err}");
    }
}

#[test]
fn issue14_a_block_opens_and_closes_with_its_statements() {
    let mut block = TransactionBlock::default();
    block.check(&stmt("INSERT INTO t VALUES (1)")).unwrap();
    block.check(&stmt("BEGIN")).unwrap();
    assert!(block.is_open());
    block.check(&stmt("SELECT 1")).unwrap();
    assert!(block.check(&stmt("INSERT INTO t VALUES (1)")).is_err());
    assert!(block.is_open());
    block.check(&stmt("ROLLBACK")).unwrap();
    assert!(!block.is_open());
    block.check(&stmt("INSERT INTO t VALUES (1)")).unwrap();
}

#[test]
fn issue23_a_refused_checkpoint_is_called_checkpoint() {
    let err = check_in_block(&stmt("CHECKPOINT")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot execute CHECKPOINT in a transaction block"),
        "{err}"
    );
}
