//! Runs every `tests/slt/*.slt` file twice: in process and over the PG wire.
//!
//! With `FLOE_SLT_COMPLETE=1` the in-process run rewrites the expected
//! output in the files instead of checking it.

use std::path::PathBuf;

use floe_query::Engine;
use floe_tests::slt::{InProcess, PgWire};
use floe_tests::support::TestServer;
use sqllogictest::{Runner, default_column_validator, default_normalizer, default_validator};

fn slt_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/slt exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_in_process() {
    let complete = std::env::var_os("FLOE_SLT_COMPLETE").is_some();
    let mut failures = Vec::new();
    for file in slt_files() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(dir.path()).await.unwrap();
        let mut runner = Runner::new(move || {
            let engine = engine.clone();
            async move {
                Ok(InProcess {
                    engine,
                    block: Default::default(),
                    zone: Default::default(),
                })
            }
        });
        runner.with_column_validator(default_column_validator);
        let result = if complete {
            runner
                .update_test_file(
                    &file,
                    " ",
                    default_validator,
                    default_normalizer,
                    default_column_validator,
                )
                .await
                .map_err(|e| e.to_string())
        } else {
            runner
                .run_file_async(&file)
                .await
                .map_err(|e| e.display(true).to_string())
        };
        if let Err(e) = result {
            failures.push(format!("{}:\n{e}", file.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Over the PG wire the server runs on workers with the stack `floe
/// serve` gives them.
#[test]
fn slt_over_pg_wire() {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(floe_server::WORKER_STACK_BYTES)
        .enable_all()
        .build()
        .unwrap()
        .block_on(slt_files_over_pg_wire());
}

async fn slt_files_over_pg_wire() {
    let mut failures = Vec::new();
    for file in slt_files() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(dir.path()).await.unwrap();
        let server = TestServer::start(engine).await;
        let config = server.pg_config();
        let mut runner = Runner::new(move || {
            let config = config.clone();
            async move {
                let (client, conn) = tokio_postgres::connect(&config, tokio_postgres::NoTls)
                    .await
                    .map_err(|e| floe_tests::slt::SltError(e.to_string()))?;
                tokio::spawn(conn);
                Ok(PgWire { client })
            }
        });
        if let Err(e) = runner.run_file_async(&file).await {
            failures.push(format!("{}:\n{}", file.display(), e.display(true)));
        }
        server.stop().await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
