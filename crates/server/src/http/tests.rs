use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::*;

async fn engine() -> (tempfile::TempDir, Arc<Engine>) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).await.unwrap();
    (dir, engine)
}

async fn post(engine: &Arc<Engine>, sql: &str, accept: &str) -> (StatusCode, String, Vec<u8>) {
    let req = Request::post("/v1/sql")
        .header("accept", accept)
        .body(Body::from(sql.to_string()))
        .unwrap();
    let resp = router(engine.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, ct, body)
}

#[tokio::test]
async fn sql_answers_json_csv_and_arrow() {
    let (_dir, engine) = engine().await;
    let (s, _, _) = post(
        &engine,
        "CREATE TABLE t (a BIGINT, b TEXT); INSERT INTO t VALUES (1, 'x'), (2, NULL)",
        "",
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    let (s, ct, body) = post(&engine, "SELECT a, b FROM t ORDER BY a", "application/json").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ct, "application/json");
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["rows"], json!([[1, "x"], [2, null]]));
    assert_eq!(v["columns"][0]["name"], "a");

    let (_, ct, body) = post(&engine, "SELECT a, b FROM t ORDER BY a", "text/csv").await;
    assert_eq!(ct, "text/csv");
    assert_eq!(String::from_utf8(body).unwrap(), "a,b\n1,x\n2,\n");

    let (_, ct, body) = post(&engine, "SELECT a FROM t ORDER BY a", ARROW_STREAM).await;
    assert_eq!(ct, ARROW_STREAM);
    let reader =
        arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(body), None).unwrap();
    let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, 2);
}

#[tokio::test]
async fn errors_carry_sqlstate_and_http_status() {
    let (_dir, engine) = engine().await;
    let (s, _, body) = post(&engine, "SELECT * FROM nope", "").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], "42P01");

    let (s, _, body) = post(&engine, "SELEC 1", "").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], "42601");
}

#[tokio::test]
async fn tables_lists_columns_and_healthz_answers() {
    let (_dir, engine) = engine().await;
    post(
        &engine,
        "CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT)",
        "",
    )
    .await;
    let resp = router(engine.clone())
        .oneshot(Request::get("/v1/tables").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let v: Value =
        serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(v["tables"][0]["name"], "t");
    assert_eq!(v["tables"][0]["columns"][0]["name"], "id");
    assert_eq!(v["tables"][0]["columns"][0]["nullable"], false);

    let resp = router(engine)
        .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}
