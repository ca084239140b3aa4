//! Starting an in-process Floe server for a test.

use std::net::SocketAddr;
use std::sync::Arc;

use floe_query::Engine;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A Floe server on ephemeral loopback ports; stopped when dropped.
pub struct TestServer {
    /// The engine the server runs on.
    pub engine: Arc<Engine>,
    /// PG wire address.
    pub pg: SocketAddr,
    /// HTTP address.
    pub http: SocketAddr,
    /// The superuser `floe`'s password.
    pub password: String,
    /// A bearer token of the superuser.
    pub token: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// Starts a server on `engine`, secured as `floe serve` secures it
    /// (COPY confined to the system's temporary directory), with its
    /// superuser `floe` made.
    pub async fn start(engine: Arc<Engine>) -> TestServer {
        engine
            .secure(&[std::env::temp_dir()])
            .expect("secure the engine");
        let admin = engine
            .auth()
            .bootstrap("floe", floe_common::defaults::DEFAULT_SCHEMA)
            .expect("bootstrap")
            .expect("a fresh data directory");
        let pg_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind pg");
        let http_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind http");
        let pg = pg_listener.local_addr().unwrap();
        let http = http_listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(floe_server::serve(
            engine.clone(),
            pg_listener,
            http_listener,
            floe_server::Options::default(),
            async move {
                let _ = rx.await;
            },
        ));
        TestServer {
            engine,
            pg,
            http,
            password: admin.password,
            token: admin.token,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// A tokio-postgres connection string for this server.
    pub fn pg_config(&self) -> String {
        format!(
            "host={} port={} user=floe dbname=floe password={}",
            self.pg.ip(),
            self.pg.port(),
            self.password
        )
    }

    /// Connects a tokio-postgres client.
    pub async fn connect(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.pg_config(), tokio_postgres::NoTls)
            .await
            .expect("connect over PG wire");
        tokio::spawn(conn);
        client
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server result");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}
