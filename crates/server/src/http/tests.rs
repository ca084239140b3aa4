use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::*;

/// A secured engine and its superuser's token.
async fn engine() -> (tempfile::TempDir, Arc<Engine>, String) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).await.unwrap();
    engine.secure(&[]).unwrap();
    let admin = engine.auth().bootstrap("floe", "public").unwrap().unwrap();
    (dir, engine, admin.token)
}

/// Sends a request from 127.0.0.1.
async fn send(engine: &Arc<Engine>, req: Request<Body>) -> Response {
    let peer = crate::login::Peer("127.0.0.1:40000".parse().unwrap());
    router(engine.clone())
        .layer(axum::extract::connect_info::MockConnectInfo(peer))
        .oneshot(req)
        .await
        .unwrap()
}

async fn post_as(
    engine: &Arc<Engine>,
    token: &str,
    sql: &str,
    accept: &str,
) -> (StatusCode, String, Vec<u8>) {
    let req = Request::post("/v1/sql")
        .header("accept", accept)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(sql.to_string()))
        .unwrap();
    let resp = send(engine, req).await;
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
    let (_dir, engine, token) = engine().await;
    let (s, _, _) = post_as(
        &engine,
        &token,
        "CREATE TABLE t (a BIGINT, b TEXT); INSERT INTO t VALUES (1, 'x'), (2, NULL)",
        "",
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    let (s, ct, body) = post_as(
        &engine,
        &token,
        "SELECT a, b FROM t ORDER BY a",
        "application/json",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ct, "application/json");
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["rows"], json!([[1, "x"], [2, null]]));
    assert_eq!(v["columns"][0]["name"], "a");

    let (_, ct, body) = post_as(&engine, &token, "SELECT a, b FROM t ORDER BY a", "text/csv").await;
    assert_eq!(ct, "text/csv");
    assert_eq!(String::from_utf8(body).unwrap(), "a,b\n1,x\n2,\n");

    let (_, ct, body) = post_as(&engine, &token, "SELECT a FROM t ORDER BY a", ARROW_STREAM).await;
    assert_eq!(ct, ARROW_STREAM);
    let reader =
        arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(body), None).unwrap();
    let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, 2);
}

#[tokio::test]
async fn errors_carry_sqlstate_and_http_status() {
    let (_dir, engine, token) = engine().await;
    let (s, _, body) = post_as(&engine, &token, "SELECT * FROM nope", "").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], "42P01");

    let (s, _, body) = post_as(&engine, &token, "SELEC 1", "").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], "42601");
}

#[tokio::test]
async fn tables_lists_columns_and_healthz_answers() {
    let (_dir, engine, token) = engine().await;
    post_as(
        &engine,
        &token,
        "CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT)",
        "",
    )
    .await;
    let resp = send(
        &engine,
        Request::get("/v1/tables")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let v: Value =
        serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(v["tables"][0]["name"], "t");
    assert_eq!(v["tables"][0]["columns"][0]["name"], "id");
    assert_eq!(v["tables"][0]["columns"][0]["nullable"], false);

    let resp = send(
        &engine,
        Request::get("/healthz").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn issue5_requests_need_a_live_token_and_run_with_its_role() {
    let (_dir, engine, admin) = engine().await;
    let (s, _, _) = post_as(
        &engine,
        &admin,
        "CREATE TABLE secret (a BIGINT); CREATE TABLE open (a BIGINT); INSERT INTO open VALUES (1); \
         CREATE ROLE reader; GRANT SELECT ON open TO reader",
        "",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, body) = post_as(&engine, &admin, "CREATE TOKEN dash FOR ROLE reader", "").await;
    assert_eq!(s, StatusCode::OK);
    let v: Value = serde_json::from_slice(&body).unwrap();
    let token = v["rows"][0][2].as_str().unwrap().to_string();

    // No token, a wrong one: 401 with a challenge.
    let resp = send(
        &engine,
        Request::post("/v1/sql")
            .body(Body::from("SELECT 1"))
            .unwrap(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.headers().contains_key("www-authenticate"));
    let (s, _, body) = post_as(&engine, "floe_0000_nope", "SELECT 1", "").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["error"]["code"],
        "28P01"
    );

    // The role's privileges, no more.
    let (s, _, body) = post_as(&engine, &token, "SELECT a FROM open", "").await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let (s, _, body) = post_as(&engine, &token, "SELECT a FROM secret", "").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["error"]["code"],
        "42501"
    );
    let (s, _, _) = post_as(&engine, &token, "INSERT INTO open VALUES (2)", "").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = post_as(&engine, &token, "SELECT * FROM system.audit", "").await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Dropped: refused on the next request.
    post_as(&engine, &admin, "DROP TOKEN dash", "").await;
    let (s, _, _) = post_as(&engine, &token, "SELECT a FROM open", "").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}
