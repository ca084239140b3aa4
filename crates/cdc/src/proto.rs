//! A PostgreSQL replication connection (`replication=database`), spoken
//! directly on the wire: authentication (SCRAM-SHA-256, MD5, cleartext),
//! simple queries (replication commands and SQL), and the CopyBoth stream
//! of `START_REPLICATION` with standby status updates.
//!
//! Ordinary SQL (catalog queries, the snapshot's COPY) goes through
//! `tokio-postgres`; it does not speak the replication sub-protocol. Both
//! run over a stream from [`open_stream`], which negotiates TLS as the
//! connection string's `sslmode` says (see `tls`).

use std::pin::Pin;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use postgres_protocol::authentication::sasl::{ChannelBinding, SCRAM_SHA_256, ScramSha256};
use postgres_protocol::message::backend::{self, DataRowBody, ErrorResponseBody};
use postgres_protocol::message::frontend;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_postgres::config::Host;
use tokio_postgres::fallible_iterator::FallibleIterator;

use crate::error::{CdcError, Result};
pub use crate::tls::SslMode;
use crate::tls::take_ssl_options;

/// Session settings that make PostgreSQL's text output unambiguous for
/// parsing: ISO dates, UTC, ISO 8601 intervals, exact floats, hex bytea.
pub const SESSION_OPTIONS: &str = "-c datestyle=ISO -c timezone=UTC -c intervalstyle=iso_8601 -c extra_float_digits=3 -c bytea_output=hex";

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// The longest backend message accepted, in bytes after the tag.
/// PostgreSQL caps a field at 1 GiB; a message carries one such value
/// plus its framing. A longer length header is a broken or hostile server.
pub(crate) const MAX_MESSAGE_LEN: usize = (1 << 30) + (1 << 20);

/// How much of a message's announced length is reserved ahead of its
/// bytes arriving: memory grows with what the server sends, not with
/// what its header claims.
const READ_RESERVE: usize = 1 << 20;

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
    /// How the connection is secured (`sslmode`; TCP only, as in libpq).
    pub ssl_mode: SslMode,
    /// The file of CA certificates that verify the server (`sslrootcert`).
    pub ssl_root_cert: Option<String>,
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
        let (rest, ssl_mode, ssl_root_cert) = take_ssl_options(text);
        let ssl_mode = match ssl_mode.as_deref() {
            None | Some("") => SslMode::default(),
            Some(m) => SslMode::parse(m).ok_or_else(|| {
                invalid(format!(
                    "invalid sslmode {m:?}: use disable, prefer, require, verify-ca or verify-full"
                ))
            })?,
        };
        let ssl_root_cert = ssl_root_cert.filter(|p| !p.is_empty());
        if ssl_mode.verifies() && ssl_root_cert.is_none() {
            return Err(invalid(format!(
                "sslmode={ssl_mode} needs sslrootcert=<file of CA certificates>; Floe does not read a system trust store"
            )));
        }
        let config = tokio_postgres::Config::from_str(&rest).map_err(|e| invalid(e.to_string()))?;
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
            ssl_mode,
            ssl_root_cert,
        })
    }

    /// The connection as a URL with the password masked, for display.
    pub fn redacted(&self) -> String {
        let password = if self.password.is_some() {
            ":********"
        } else {
            ""
        };
        let mut params = Vec::new();
        if self.unix {
            params.push(format!("host={}", self.host));
            params.push(format!("port={}", self.port));
        }
        if self.ssl_mode != SslMode::default() {
            params.push(format!("sslmode={}", self.ssl_mode));
        }
        if let Some(root) = &self.ssl_root_cert {
            params.push(format!("sslrootcert={root}"));
        }
        let query = if params.is_empty() {
            String::new()
        } else {
            format!("?{}", params.join("&"))
        };
        if self.unix {
            format!("postgres://{}{password}@/{}{query}", self.user, self.dbname)
        } else {
            format!(
                "postgres://{}{password}@{}:{}/{}{query}",
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

    /// The same connection's login for `tokio-postgres` (ordinary SQL),
    /// over a stream from [`open_stream`].
    pub fn sql_config(&self) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .user(&self.user)
            .dbname(&self.dbname)
            .application_name("floe")
            .options(SESSION_OPTIONS)
            .ssl_mode(tokio_postgres::config::SslMode::Disable);
        if let Some(p) = &self.password {
            config.password(p);
        }
        config
    }
}

pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// A connection to the source's server, secured as `sslmode` says.
pub(crate) type Stream = Pin<Box<dyn Io>>;

/// How long connecting (and the TLS handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to the source's server and, over TCP, negotiates TLS as
/// `sslmode` says (SSLRequest, then the handshake). The startup message
/// is the caller's.
pub(crate) async fn open_stream(config: &PgConfig, source: &str) -> Result<Stream> {
    let fail = |reason: String| CdcError::Connect {
        source_name: source.to_string(),
        address: config.address(),
        reason,
    };
    let connect = async {
        if config.unix {
            let path = format!("{}/.s.PGSQL.{}", config.host, config.port);
            let stream = tokio::net::UnixStream::connect(&path)
                .await
                .map_err(|e| e.to_string())?;
            return Ok::<Stream, String>(Box::pin(stream));
        }
        let stream = tokio::net::TcpStream::connect((config.host.as_str(), config.port))
            .await
            .map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        if config.ssl_mode == SslMode::Disable {
            return Ok(Box::pin(stream));
        }
        negotiate_tls(stream, config).await
    };
    tokio::time::timeout(CONNECT_TIMEOUT, connect)
        .await
        .map_err(|_| fail("timed out".into()))?
        .map_err(fail)
}

/// Asks the server for TLS (SSLRequest) and makes the handshake; with
/// `sslmode=prefer`, a server that declines gets a plain connection.
async fn negotiate_tls<S>(mut stream: S, config: &PgConfig) -> Result<Stream, String>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let tls = crate::tls::client_config(config.ssl_mode, config.ssl_root_cert.as_deref())?;
    let mut out = BytesMut::new();
    frontend::ssl_request(&mut out);
    stream.write_all(&out).await.map_err(|e| e.to_string())?;
    stream.flush().await.map_err(|e| e.to_string())?;
    let mut answer = [0u8; 1];
    stream
        .read_exact(&mut answer)
        .await
        .map_err(|e| format!("no answer to the SSL request: {e}"))?;
    match answer[0] {
        b'S' => {
            let name = crate::tls::server_name(&config.host)?;
            let stream = tokio_rustls::TlsConnector::from(tls)
                .connect(name, stream)
                .await
                .map_err(|e| format!("TLS handshake failed (sslmode={}): {e}", config.ssl_mode))?;
            Ok(Box::pin(stream))
        }
        b'N' if config.ssl_mode == SslMode::Prefer => Ok(Box::pin(stream)),
        b'N' => Err(format!(
            "the server does not support SSL but sslmode={}",
            config.ssl_mode
        )),
        other => Err(format!(
            "unexpected answer {} to the SSL request",
            tag_name(other)
        )),
    }
}

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

/// A checked backend message.
pub(crate) enum Backend {
    /// A message `postgres-protocol` parses (every tag but the ones below).
    Message(backend::Message),
    /// CopyBothResponse (`W`): the replication stream starts.
    CopyBoth,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Message(_) => f.write_str("Message"),
            Backend::CopyBoth => f.write_str("CopyBoth"),
        }
    }
}

/// Splits one whole message (tag, length, body) off the front of `buf`;
/// `None` while more bytes are needed. A length below 4 or over
/// [`MAX_MESSAGE_LEN`] is an error.
pub(crate) fn split_message(buf: &mut BytesMut) -> Result<Option<BytesMut>, String> {
    let Some(len) = announced_len(buf)? else {
        return Ok(None);
    };
    if buf.len() < 1 + len {
        return Ok(None);
    }
    Ok(Some(buf.split_to(1 + len)))
}

/// The length a message header in `buf` announces (after the tag), checked.
fn announced_len(buf: &[u8]) -> Result<Option<usize>, String> {
    if buf.len() < 5 {
        return Ok(None);
    }
    let len = i32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]);
    if len < 4 {
        return Err(format!(
            "invalid length {len} of a {} message",
            tag_name(buf[0])
        ));
    }
    let len = len as usize;
    if len > MAX_MESSAGE_LEN {
        return Err(format!(
            "a {} message of {len} bytes exceeds the limit of {MAX_MESSAGE_LEN} bytes",
            tag_name(buf[0])
        ));
    }
    Ok(Some(len))
}

/// A message tag for error messages: the character, or its code.
fn tag_name(tag: u8) -> String {
    if tag.is_ascii_graphic() {
        format!("'{}'", tag as char)
    } else {
        format!("0x{tag:02x}")
    }
}

/// Parses one whole message, as split off by [`split_message`]; every
/// field is checked against the bytes present.
pub(crate) fn parse_message(mut frame: BytesMut) -> Result<Backend, String> {
    let tag = frame.first().copied().unwrap_or(0);
    if tag == b'W' {
        // CopyBothResponse: format, column count, a format per column.
        let body = &frame[5.min(frame.len())..];
        if body.len() < 3 {
            return Err("truncated CopyBothResponse".into());
        }
        let columns = i16::from_be_bytes([body[1], body[2]]);
        if columns < 0 || body.len() != 3 + 2 * columns as usize {
            return Err(format!(
                "CopyBothResponse of {} bytes for {columns} columns",
                body.len()
            ));
        }
        return Ok(Backend::CopyBoth);
    }
    match backend::Message::parse(&mut frame) {
        Ok(Some(message)) => Ok(Backend::Message(message)),
        Ok(None) => Err(format!("truncated {} message", tag_name(tag))),
        Err(e) => Err(format!("malformed {} message: {e}", tag_name(tag))),
    }
}

/// The SQLSTATE and message of an ErrorResponse.
pub(crate) fn error_fields(body: &ErrorResponseBody) -> Result<(String, String), String> {
    let (mut code, mut message) = (String::from("XX000"), String::new());
    let mut fields = body.fields();
    while let Some(field) = fields
        .next()
        .map_err(|e| format!("malformed ErrorResponse: {e}"))?
    {
        let value = String::from_utf8_lossy(field.value_bytes()).into_owned();
        match field.type_() {
            b'C' => code = value,
            b'M' => message = value,
            _ => {}
        }
    }
    Ok((code, message))
}

/// The values of a DataRow as text (`None` for NULL).
pub(crate) fn data_row(body: &DataRowBody) -> Result<Vec<Option<String>>, String> {
    let buffer = body.buffer();
    let mut ranges = body.ranges();
    let mut row = Vec::new();
    while let Some(range) = ranges
        .next()
        .map_err(|e| format!("malformed DataRow: {e}"))?
    {
        row.push(range.map(|r| String::from_utf8_lossy(&buffer[r]).into_owned()));
    }
    Ok(row)
}

/// Decodes the payload of a CopyData message of the replication stream:
/// XLogData (`w`) or a primary keepalive (`k`).
pub(crate) fn stream_message(mut body: Bytes) -> Result<StreamMessage, String> {
    if !body.has_remaining() {
        return Err("empty CopyData message".into());
    }
    match body.get_u8() {
        b'w' => {
            if body.remaining() < 24 {
                return Err(format!(
                    "truncated XLogData header ({} bytes)",
                    body.remaining()
                ));
            }
            let _start = body.get_u64();
            let wal_end = body.get_u64();
            let _clock = body.get_i64();
            Ok(StreamMessage::XLogData {
                wal_end,
                data: body,
            })
        }
        b'k' => {
            if body.remaining() != 17 {
                return Err(format!(
                    "keepalive of {} bytes where 17 were expected",
                    body.remaining()
                ));
            }
            let wal_end = body.get_u64();
            let _clock = body.get_i64();
            let reply = body.get_u8() != 0;
            Ok(StreamMessage::Keepalive { wal_end, reply })
        }
        other => Err(format!(
            "unexpected replication message {}",
            tag_name(other)
        )),
    }
}

impl ReplConn {
    /// A connection over a stream set up elsewhere (tests).
    #[cfg(test)]
    pub(crate) fn over(io: impl Io + 'static, source: &str) -> ReplConn {
        ReplConn {
            io: Box::pin(io),
            buf: BytesMut::new(),
            source: source.to_string(),
        }
    }

    /// Connects and authenticates in replication mode.
    pub async fn connect(config: &PgConfig, source: &str) -> Result<ReplConn> {
        let fail = |reason: String| CdcError::Connect {
            source_name: source.to_string(),
            address: config.address(),
            reason,
        };
        let io = open_stream(config, source).await?;
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
        use backend::Message as M;
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
            let mut out = BytesMut::new();
            match self.read_message().await? {
                M::AuthenticationOk => {}
                M::AuthenticationCleartextPassword => {
                    frontend::password_message(password()?.as_bytes(), &mut out)
                        .map_err(|e| self.protocol(e.to_string()))?;
                    self.send(&out).await?;
                }
                M::AuthenticationMd5Password(body) => {
                    let hash = postgres_protocol::authentication::md5_hash(
                        config.user.as_bytes(),
                        password()?.as_bytes(),
                        body.salt(),
                    );
                    frontend::password_message(hash.as_bytes(), &mut out)
                        .map_err(|e| self.protocol(e.to_string()))?;
                    self.send(&out).await?;
                }
                M::AuthenticationSasl(body) => {
                    let mechanisms: Vec<String> = body
                        .mechanisms()
                        .map(|m| Ok(m.to_string()))
                        .collect()
                        .map_err(|e| {
                            self.protocol(format!("malformed SASL authentication request: {e}"))
                        })?;
                    if !mechanisms.iter().any(|m| m == SCRAM_SHA_256) {
                        return Err(self.protocol(format!(
                            "no supported SASL mechanism among {mechanisms:?}"
                        )));
                    }
                    let state =
                        ScramSha256::new(password()?.as_bytes(), ChannelBinding::unsupported());
                    frontend::sasl_initial_response(SCRAM_SHA_256, state.message(), &mut out)
                        .map_err(|e| self.protocol(e.to_string()))?;
                    scram = Some(state);
                    self.send(&out).await?;
                }
                M::AuthenticationSaslContinue(body) => {
                    let state = scram
                        .as_mut()
                        .ok_or_else(|| self.protocol("unexpected SASL continue".into()))?;
                    state
                        .update(body.data())
                        .map_err(|e| self.protocol(format!("SCRAM: {e}")))?;
                    frontend::sasl_response(state.message(), &mut out)
                        .map_err(|e| self.protocol(e.to_string()))?;
                    self.send(&out).await?;
                }
                M::AuthenticationSaslFinal(body) => {
                    let mut state = scram
                        .take()
                        .ok_or_else(|| self.protocol("unexpected SASL final".into()))?;
                    state
                        .finish(body.data())
                        .map_err(|e| self.protocol(format!("SCRAM: {e}")))?;
                }
                M::AuthenticationGss
                | M::AuthenticationGssContinue(_)
                | M::AuthenticationKerberosV5
                | M::AuthenticationScmCredential
                | M::AuthenticationSspi => {
                    return Err(self.protocol(
                        "the server asks for an unsupported authentication method (GSS, SSPI, Kerberos or SCM)"
                            .into(),
                    ));
                }
                M::ErrorResponse(body) => {
                    return Err(self.server_error("connecting for replication", &body));
                }
                M::ReadyForQuery(_) => return Ok(()),
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

    /// The error of an ErrorResponse to `command`.
    fn server_error(&self, command: &str, body: &ErrorResponseBody) -> CdcError {
        match error_fields(body) {
            Ok((sqlstate, message)) => CdcError::Server {
                source_name: self.source.clone(),
                command: command.to_string(),
                sqlstate,
                message,
            },
            Err(reason) => self.protocol(format!("{command}: {reason}")),
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

    /// Reads one backend message, checked.
    async fn read_backend(&mut self) -> Result<Backend> {
        loop {
            if let Some(frame) = split_message(&mut self.buf).map_err(|e| self.protocol(e))? {
                return parse_message(frame).map_err(|e| self.protocol(e));
            }
            if let Some(len) = announced_len(&self.buf).map_err(|e| self.protocol(e))? {
                let missing = 1 + len - self.buf.len();
                self.buf.reserve(missing.min(READ_RESERVE));
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

    /// Reads one backend message other than CopyBothResponse.
    async fn read_message(&mut self) -> Result<backend::Message> {
        match self.read_backend().await? {
            Backend::Message(m) => Ok(m),
            Backend::CopyBoth => Err(self.protocol("unexpected CopyBothResponse".into())),
        }
    }

    /// Runs one simple query; returns its rows as text.
    pub async fn simple_query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        use backend::Message as M;
        let mut out = BytesMut::new();
        frontend::query(sql, &mut out).map_err(|e| self.protocol(e.to_string()))?;
        self.send(&out).await?;
        let command = sql.split_whitespace().next().unwrap_or("").to_string();
        let mut rows = Vec::new();
        let mut error = None;
        loop {
            match self.read_message().await? {
                M::DataRow(body) => rows
                    .push(data_row(&body).map_err(|e| self.protocol(format!("{command}: {e}")))?),
                M::ErrorResponse(body) => error = Some(self.server_error(&command, &body)),
                M::ReadyForQuery(_) => break,
                _ => {}
            }
        }
        match error {
            Some(e) => Err(e),
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
            match self.read_backend().await? {
                Backend::CopyBoth => return Ok(()),
                Backend::Message(backend::Message::ErrorResponse(body)) => {
                    let error = self.server_error("START_REPLICATION", &body);
                    // Drain to ReadyForQuery so the connection stays usable.
                    while !matches!(
                        self.read_message().await?,
                        backend::Message::ReadyForQuery(_)
                    ) {}
                    return Err(error);
                }
                Backend::Message(_) => {}
            }
        }
    }

    /// The next message of the replication stream.
    pub async fn next_message(&mut self) -> Result<StreamMessage> {
        use backend::Message as M;
        loop {
            match self.read_message().await? {
                M::CopyData(body) => {
                    return stream_message(body.into_bytes()).map_err(|e| self.protocol(e));
                }
                M::ErrorResponse(body) => {
                    return Err(self.server_error("replication stream", &body));
                }
                M::CopyDone => return Err(self.protocol("the server ended the stream".into())),
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
