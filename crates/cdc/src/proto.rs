//! A PostgreSQL replication connection (`replication=database`), spoken
//! directly on the wire: authentication (SCRAM-SHA-256, MD5, cleartext),
//! simple queries (replication commands and SQL), and the CopyBoth stream
//! of `START_REPLICATION` with standby status updates.
//!
//! Ordinary SQL (catalog queries, the snapshot's COPY) goes through
//! `tokio-postgres`; it does not speak the replication sub-protocol.

use std::pin::Pin;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use postgres_protocol::authentication::sasl::{ChannelBinding, SCRAM_SHA_256, ScramSha256};
use postgres_protocol::message::frontend;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_postgres::config::Host;

use crate::error::{CdcError, Result};

/// Session settings that make PostgreSQL's text output unambiguous for
/// parsing: ISO dates, UTC, ISO 8601 intervals, exact floats, hex bytea.
pub const SESSION_OPTIONS: &str = "-c datestyle=ISO -c timezone=UTC -c intervalstyle=iso_8601 -c extra_float_digits=3 -c bytea_output=hex";

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// Where and as whom to connect, from a `postgres://` URL or a key=value string.
#[derive(Clone)]
pub struct PgConfig {
    /// Host name, address or Unix socket directory.
    pub host: String,
    /// Whether `host` is a Unix socket directory.
    pub unix: bool,
    /// TCP port (also names the Unix socket file).
    pub port: u16,
    /// User name.
    pub user: String,
    /// Password, if any.
    pub password: Option<String>,
    /// Database name.
    pub dbname: String,
}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl PgConfig {
    /// Parses a connection string.
    pub fn parse(source_name: &str, text: &str) -> Result<PgConfig> {
        let invalid = |reason: String| CdcError::InvalidConnection {
            source_name: source_name.to_string(),
            reason,
        };
        let config = tokio_postgres::Config::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let (host, unix) = match config.get_hosts().first() {
            Some(Host::Tcp(h)) => (h.clone(), false),
            Some(Host::Unix(p)) => (p.display().to_string(), true),
            None => ("localhost".to_string(), false),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let user = config
            .get_user()
            .map(str::to_string)
            .ok_or_else(|| invalid("no user name".into()))?;
        let password = config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        let dbname = config
            .get_dbname()
            .map(str::to_string)
            .unwrap_or_else(|| user.clone());
        Ok(PgConfig {
            host,
            unix,
            port,
            user,
            password,
            dbname,
        })
    }

    /// The connection as a URL with the password masked, for display.
    pub fn redacted(&self) -> String {
        let password = if self.password.is_some() {
            ":********"
        } else {
            ""
        };
        if self.unix {
            format!(
                "postgres://{}{password}@/{}?host={}&port={}",
                self.user, self.dbname, self.host, self.port
            )
        } else {
            format!(
                "postgres://{}{password}@{}:{}/{}",
                self.user, self.host, self.port, self.dbname
            )
        }
    }

    /// The address, for error messages.
    pub fn address(&self) -> String {
        if self.unix {
            format!("{}/.s.PGSQL.{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The same connection for `tokio-postgres` (ordinary SQL).
    pub fn sql_config(&self) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .user(&self.user)
            .dbname(&self.dbname)
            .application_name("floe")
            .options(SESSION_OPTIONS)
            .connect_timeout(Duration::from_secs(10));
        if let Some(p) = &self.password {
            config.password(p);
        }
        config
    }
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// One message of the replication stream.
#[derive(Debug)]
pub enum StreamMessage {
    /// WAL data: one pgoutput message; the server's WAL end is `wal_end`.
    XLogData { wal_end: u64, data: Bytes },
    /// The server's WAL end, and whether it wants a status update now.
    Keepalive { wal_end: u64, reply: bool },
}

/// A connection in replication mode.
pub struct ReplConn {
    io: Pin<Box<dyn Io>>,
    buf: BytesMut,
    source: String,
}

/// The current time as microseconds since PostgreSQL's epoch.
pub fn pg_now() -> i64 {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    micros - PG_EPOCH_MICROS
}

/// Converts microseconds since PostgreSQL's epoch to Unix milliseconds.
pub fn pg_time_to_unix_ms(pg_micros: i64) -> i64 {
    (pg_micros + PG_EPOCH_MICROS) / 1000
}

/// Formats an LSN the way PostgreSQL does (`16/B374D848`).
pub fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xffff_ffff)
}

/// Parses an LSN in PostgreSQL's form.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

/// Quotes an identifier for SQL.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes a string literal for SQL.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn cstr(body: &mut Bytes) -> String {
    let end = body.iter().position(|&b| b == 0).unwrap_or(body.len());
    let s = String::from_utf8_lossy(&body[..end]).into_owned();
    body.advance((end + 1).min(body.len()));
    s
}

/// The SQLSTATE and message of an ErrorResponse body.
fn error_fields(mut body: Bytes) -> (String, String) {
    let (mut code, mut message) = (String::from("XX000"), String::new());
    while body.has_remaining() {
        let kind = body.get_u8();
        if kind == 0 {
            break;
        }
        let value = cstr(&mut body);
        match kind {
            b'C' => code = value,
            b'M' => message = value,
            _ => {}
        }
    }
    (code, message)
}

impl ReplConn {
    /// Connects and authenticates in replication mode.
    pub async fn connect(config: &PgConfig, source: &str) -> Result<ReplConn> {
        let fail = |reason: String| CdcError::Connect {
            source_name: source.to_string(),
            address: config.address(),
            reason,
        };
        let io: Pin<Box<dyn Io>> = if config.unix {
            let path = format!("{}/.s.PGSQL.{}", config.host, config.port);
            let stream = tokio::time::timeout(
                Duration::from_secs(10),
                tokio::net::UnixStream::connect(&path),
            )
            .await
            .map_err(|_| fail("timed out".into()))?
            .map_err(|e| fail(e.to_string()))?;
            Box::pin(stream)
        } else {
            let stream = tokio::time::timeout(
                Duration::from_secs(10),
                tokio::net::TcpStream::connect((config.host.as_str(), config.port)),
            )
            .await
            .map_err(|_| fail("timed out".into()))?
            .map_err(|e| fail(e.to_string()))?;
            let _ = stream.set_nodelay(true);
            Box::pin(stream)
        };
        let mut conn = ReplConn {
            io,
            buf: BytesMut::with_capacity(64 * 1024),
            source: source.to_string(),
        };
        let mut out = BytesMut::new();
        frontend::startup_message(
            [
                ("user", config.user.as_str()),
                ("database", config.dbname.as_str()),
                ("replication", "database"),
                ("application_name", "floe"),
                ("options", SESSION_OPTIONS),
            ],
            &mut out,
        )
        .map_err(|e| fail(e.to_string()))?;
        conn.send(&out).await?;
        conn.authenticate(config).await?;
        Ok(conn)
    }

    async fn authenticate(&mut self, config: &PgConfig) -> Result<()> {
        let source = self.source.clone();
        let password = || {
            config.password.clone().ok_or_else(|| CdcError::Connect {
                source_name: source.clone(),
                address: config.address(),
                reason: "the server asks for a password and the connection string has none".into(),
            })
        };
        let mut scram: Option<ScramSha256> = None;
        loop {
            let (tag, mut body) = self.read_frame().await?;
            match tag {
                b'R' => {
                    let code = body.get_i32();
                    let mut out = BytesMut::new();
                    match code {
                        0 => {}
                        3 => {
                            frontend::password_message(password()?.as_bytes(), &mut out)
                                .map_err(|e| self.protocol(e.to_string()))?;
                            self.send(&out).await?;
                        }
                        5 => {
                            let mut salt = [0u8; 4];
                            body.copy_to_slice(&mut salt);
                            let hash = postgres_protocol::authentication::md5_hash(
                                config.user.as_bytes(),
                                password()?.as_bytes(),
                                salt,
                            );
                            frontend::password_message(hash.as_bytes(), &mut out)
                                .map_err(|e| self.protocol(e.to_string()))?;
                            self.send(&out).await?;
                        }
                        10 => {
                            let mut mechanisms = Vec::new();
                            while body.has_remaining() && body[0] != 0 {
                                mechanisms.push(cstr(&mut body));
                            }
                            if !mechanisms.iter().any(|m| m == SCRAM_SHA_256) {
                                return Err(self.protocol(format!(
                                    "no supported SASL mechanism among {mechanisms:?}"
                                )));
                            }
                            let state = ScramSha256::new(
                                password()?.as_bytes(),
                                ChannelBinding::unsupported(),
                            );
                            frontend::sasl_initial_response(
                                SCRAM_SHA_256,
                                state.message(),
                                &mut out,
                            )
                            .map_err(|e| self.protocol(e.to_string()))?;
                            scram = Some(state);
                            self.send(&out).await?;
                        }
                        11 => {
                            let state = scram
                                .as_mut()
                                .ok_or_else(|| self.protocol("unexpected SASL continue".into()))?;
                            state
                                .update(&body)
                                .map_err(|e| self.protocol(e.to_string()))?;
                            frontend::sasl_response(state.message(), &mut out)
                                .map_err(|e| self.protocol(e.to_string()))?;
                            self.send(&out).await?;
                        }
                        12 => {
                            let state = scram
                                .as_mut()
                                .ok_or_else(|| self.protocol("unexpected SASL final".into()))?;
                            state
                                .finish(&body)
                                .map_err(|e| self.protocol(e.to_string()))?;
                        }
                        other => {
                            return Err(
                                self.protocol(format!("unsupported authentication method {other}"))
                            );
                        }
                    }
                }
                b'E' => {
                    let (sqlstate, message) = error_fields(body);
                    return Err(CdcError::Server {
                        source_name: self.source.clone(),
                        command: "connecting for replication".into(),
                        sqlstate,
                        message,
                    });
                }
                b'Z' => return Ok(()),
                _ => {}
            }
        }
    }

    fn protocol(&self, reason: String) -> CdcError {
        CdcError::Protocol {
            source_name: self.source.clone(),
            reason,
        }
    }

    fn io_error(&self, e: std::io::Error) -> CdcError {
        CdcError::Protocol {
            source_name: self.source.clone(),
            reason: format!("connection lost: {e}"),
        }
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.io
            .write_all(bytes)
            .await
            .map_err(|e| self.io_error(e))?;
        self.io.flush().await.map_err(|e| self.io_error(e))
    }

    /// Reads one backend message: its tag and body.
    async fn read_frame(&mut self) -> Result<(u8, Bytes)> {
        loop {
            if self.buf.len() >= 5 {
                let len = i32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]);
                if len < 4 {
                    return Err(self.protocol(format!("invalid message length {len}")));
                }
                let total = 1 + len as usize;
                if self.buf.len() >= total {
                    let mut frame = self.buf.split_to(total).freeze();
                    let tag = frame.get_u8();
                    frame.advance(4);
                    return Ok((tag, frame));
                }
                self.buf.reserve(total - self.buf.len());
            }
            let n = self
                .io
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| self.io_error(e))?;
            if n == 0 {
                return Err(self.protocol("the server closed the connection".into()));
            }
        }
    }

    /// Runs one simple query; returns its rows as text.
    pub async fn simple_query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        let mut out = BytesMut::new();
        frontend::query(sql, &mut out).map_err(|e| self.protocol(e.to_string()))?;
        self.send(&out).await?;
        let mut rows = Vec::new();
        let mut error = None;
        loop {
            let (tag, mut body) = self.read_frame().await?;
            match tag {
                b'D' => {
                    let n = body.get_i16();
                    let mut row = Vec::with_capacity(n.max(0) as usize);
                    for _ in 0..n {
                        let len = body.get_i32();
                        if len < 0 {
                            row.push(None);
                        } else {
                            let value = body.split_to(len as usize);
                            row.push(Some(String::from_utf8_lossy(&value).into_owned()));
                        }
                    }
                    rows.push(row);
                }
                b'E' => error = Some(error_fields(body)),
                b'Z' => break,
                _ => {}
            }
        }
        match error {
            Some((sqlstate, message)) => Err(CdcError::Server {
                source_name: self.source.clone(),
                command: sql.split_whitespace().next().unwrap_or("").to_string(),
                sqlstate,
                message,
            }),
            None => Ok(rows),
        }
    }

    /// Starts streaming the slot from `lsn` with pgoutput for `publication`.
    pub async fn start_replication(
        &mut self,
        slot: &str,
        lsn: u64,
        publication: &str,
    ) -> Result<()> {
        let sql = format!(
            "START_REPLICATION SLOT {} LOGICAL {} (proto_version '1', publication_names {})",
            quote_ident(slot),
            format_lsn(lsn),
            quote_literal(&quote_ident(publication)),
        );
        let mut out = BytesMut::new();
        frontend::query(&sql, &mut out).map_err(|e| self.protocol(e.to_string()))?;
        self.send(&out).await?;
        loop {
            let (tag, body) = self.read_frame().await?;
            match tag {
                b'W' => return Ok(()),
                b'E' => {
                    let (sqlstate, message) = error_fields(body);
                    // Drain to ReadyForQuery so the connection stays usable.
                    while self.read_frame().await?.0 != b'Z' {}
                    return Err(CdcError::Server {
                        source_name: self.source.clone(),
                        command: "START_REPLICATION".into(),
                        sqlstate,
                        message,
                    });
                }
                _ => {}
            }
        }
    }

    /// The next message of the replication stream.
    pub async fn next_message(&mut self) -> Result<StreamMessage> {
        loop {
            let (tag, mut body) = self.read_frame().await?;
            match tag {
                b'd' if body.has_remaining() => match body.get_u8() {
                    b'w' if body.remaining() >= 24 => {
                        let _start = body.get_u64();
                        let wal_end = body.get_u64();
                        let _clock = body.get_i64();
                        return Ok(StreamMessage::XLogData {
                            wal_end,
                            data: body,
                        });
                    }
                    b'k' if body.remaining() >= 17 => {
                        let wal_end = body.get_u64();
                        let _clock = body.get_i64();
                        let reply = body.get_u8() != 0;
                        return Ok(StreamMessage::Keepalive { wal_end, reply });
                    }
                    other => {
                        return Err(self.protocol(format!(
                            "unexpected replication message {:?}",
                            other as char
                        )));
                    }
                },
                b'E' => {
                    let (sqlstate, message) = error_fields(body);
                    return Err(CdcError::Server {
                        source_name: self.source.clone(),
                        command: "replication stream".into(),
                        sqlstate,
                        message,
                    });
                }
                b'c' => return Err(self.protocol("the server ended the stream".into())),
                _ => {}
            }
        }
    }

    /// Tells the server how far WAL is received and durably applied; the
    /// slot's confirmed position becomes `flushed`.
    pub async fn send_status(&mut self, received: u64, flushed: u64) -> Result<()> {
        let mut body = BytesMut::with_capacity(34);
        body.put_u8(b'r');
        body.put_u64(received);
        body.put_u64(flushed);
        body.put_u64(flushed);
        body.put_i64(pg_now());
        body.put_u8(0);
        let mut out = BytesMut::with_capacity(39);
        out.put_u8(b'd');
        out.put_i32(4 + body.len() as i32);
        out.extend_from_slice(&body);
        self.send(&out).await
    }
}

#[cfg(test)]
mod tests;
