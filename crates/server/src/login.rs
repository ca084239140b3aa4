//! Authentication on both endpoints.
//!
//! - PG wire: SCRAM-SHA-256 ([`Authenticate`], one per connection). A
//!   client that does not use TLS where it is required, names no user, or
//!   fails the exchange gets a FATAL error and the connection closes; every
//!   error in this phase is FATAL, so no failure leaves a session open.
//! - HTTP: `Authorization: Bearer <token>` ([`require_token`]); `/healthz`
//!   is open.
//!
//! Successful and failed logins go to the audit trail; failures count
//! against the peer address, and a peer with too many is refused for a
//! while (53400, HTTP 429).

use std::fmt::Debug;
use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use datafusion_postgres::pgwire;
use floe_common::{HasStatus, Status};
use floe_query::Engine;
use floe_query::floe_auth::scram::{self, Exchange};
use floe_query::floe_auth::{AuthError, Identity, Login, Protocol};
use futures::{Sink, SinkExt};
use pgwire::api::auth::{
    DefaultServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use pgwire::api::{
    ClientInfo, ConnectionGuard, ConnectionHandle, ConnectionManager, METADATA_USER,
    PgWireConnectionState, PidSecretKeyGenerator, RandomPidSecretKeyGenerator,
};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::startup::{Authentication, PasswordMessageFamily};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use tokio::sync::Mutex;

use crate::errors::{http_error, pg_fatal};

const SCRAM_SHA_256: &str = "SCRAM-SHA-256";

/// Where a connection is in authentication.
enum Phase {
    /// Waiting for the startup message.
    Start,
    /// SASL offered; waiting for the client's first message.
    Offered(Login),
    /// Server-first sent; waiting for the client's proof.
    Challenged(Login, Exchange),
    /// Authenticated, or failed.
    Over,
}

/// What every connection's authenticator shares.
pub struct Shared {
    pub engine: Arc<Engine>,
    pub require_tls: bool,
    pub connections: Arc<ConnectionManager>,
    pub pids: RandomPidSecretKeyGenerator,
}

/// SCRAM-SHA-256 authentication of one PG wire connection.
pub struct Authenticate {
    shared: Arc<Shared>,
    phase: Mutex<Phase>,
    live: Arc<crate::session::Liveness>,
}

impl Authenticate {
    /// An authenticator for a new connection, whose activity `live`
    /// records once it has logged in.
    pub(crate) fn new(shared: Arc<Shared>, live: Arc<crate::session::Liveness>) -> Authenticate {
        Authenticate {
            shared,
            phase: Mutex::new(Phase::Start),
            live,
        }
    }

    fn who<C: ClientInfo>(client: &C, user: &str) -> Identity {
        Identity {
            user: user.to_string(),
            peer: Some(client.socket_addr()),
            protocol: Protocol::Pg,
        }
    }

    /// Fails the login: audit, throttle, FATAL.
    fn fail<C: ClientInfo>(&self, client: &C, login: &Login, why: &str) -> PgWireError {
        let auth = self.shared.engine.auth();
        auth.finish_login(&Self::who(client, &login.user), Some(why));
        tracing::info!(peer = %client.socket_addr(), user = %login.user, reason = why, "login failed");
        let e = AuthError::WrongPassword {
            user: login.user.clone(),
        };
        pg_fatal(e.status().sqlstate(), e.to_string())
    }

    async fn step<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut phase = self.phase.lock().await;
        match (std::mem::replace(&mut *phase, Phase::Over), message) {
            (Phase::Start, PgWireFrontendMessage::Startup(startup)) => {
                if self.shared.require_tls && !client.is_secure() {
                    tracing::info!(peer = %client.socket_addr(), "refused a connection without TLS");
                    return Err(pg_fatal(
                        Status::InvalidAuthorization.sqlstate(),
                        "this server requires TLS: connect with sslmode=require or stronger".into(),
                    ));
                }
                protocol_negotiation(client, &startup).await?;
                save_startup_parameters_to_metadata(client, &startup);
                let Some(user) = client.metadata().get(METADATA_USER).cloned() else {
                    return Err(pg_fatal(
                        Status::InvalidAuthorization.sqlstate(),
                        "no PostgreSQL user name specified in startup packet".into(),
                    ));
                };
                let login = self
                    .shared
                    .engine
                    .auth()
                    .begin_login(&user, client.socket_addr().ip())
                    .map_err(|e| pg_fatal(e.status().sqlstate(), e.to_string()))?;
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client
                    .send(PgWireBackendMessage::Authentication(Authentication::SASL(
                        vec![SCRAM_SHA_256.to_string()],
                    )))
                    .await?;
                *phase = Phase::Offered(login);
                Ok(())
            }
            (Phase::Offered(login), PgWireFrontendMessage::PasswordMessageFamily(msg)) => {
                let Some((mechanism, data)) = sasl_initial_response(&msg) else {
                    return Err(self.fail(client, &login, "not a SASL initial response"));
                };
                if mechanism != SCRAM_SHA_256.as_bytes() {
                    return Err(self.fail(client, &login, "unsupported SASL mechanism"));
                }
                match scram::start(login.verifier.clone(), data.unwrap_or_default()) {
                    Ok((exchange, server_first)) => {
                        client
                            .send(PgWireBackendMessage::Authentication(
                                Authentication::SASLContinue(server_first.into_bytes().into()),
                            ))
                            .await?;
                        *phase = Phase::Challenged(login, exchange);
                        Ok(())
                    }
                    Err(e) => Err(self.fail(client, &login, &e.to_string())),
                }
            }
            (
                Phase::Challenged(login, exchange),
                PgWireFrontendMessage::PasswordMessageFamily(msg),
            ) => {
                let Some(response) = password_message_body(&msg) else {
                    return Err(self.fail(client, &login, "not a SASL response"));
                };
                let server_final = match exchange.finish(response) {
                    Ok(f) => f,
                    Err(scram::ScramError::WrongProof) => {
                        let why = login.refused.unwrap_or("wrong password");
                        return Err(self.fail(client, &login, why));
                    }
                    Err(e) => return Err(self.fail(client, &login, &e.to_string())),
                };
                if let Some(why) = login.refused {
                    // A decoy verifier matched nothing, so this is unreachable
                    // in practice; refuse all the same.
                    return Err(self.fail(client, &login, why));
                }
                self.admit(client, &login, server_final).await
            }
            (_, other) => Err(pg_fatal(
                Status::ProtocolViolation.sqlstate(),
                format!(
                    "protocol violation: unexpected message during authentication ({})",
                    message_name(&other)
                ),
            )),
        }
    }

    /// Completes a successful login.
    async fn admit<C>(
        &self,
        client: &mut C,
        login: &Login,
        server_final: String,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        client
            .send(PgWireBackendMessage::Authentication(
                Authentication::SASLFinal(server_final.into_bytes().into()),
            ))
            .await?;
        let who = Self::who(client, &login.user);
        let auth = self.shared.engine.auth();
        auth.finish_login(&who, None);
        let (pid, secret_key) = self.shared.pids.generate(client);
        client.set_pid_and_secret_key(pid, secret_key.clone());
        let (handle, guard) = self.shared.connections.register(pid, secret_key);
        client
            .session_extensions()
            .insert::<Arc<ConnectionHandle>>(handle);
        client.session_extensions().insert::<ConnectionGuard>(guard);
        let zone = crate::session::startup_zone(client)
            .map_err(|e| pg_fatal(Status::InvalidParameterValue.sqlstate(), e.to_string()))?;
        let mut parameters = DefaultServerParameterProvider::default();
        parameters.is_superuser = auth.is_superuser(&who);
        parameters.server_version = floe_common::defaults::server_version();
        parameters.time_zone = zone.shown().to_string();
        self.live.touch();
        client.session_extensions().insert(crate::session::Session {
            activity: auth.activity().open(who.clone()),
            identity: who,
            live: self.live.clone(),
            zone: std::sync::Mutex::new(zone),
            memory: Default::default(),
        });
        finish_authentication(client, &parameters).await
    }
}

/// The body of a password message (PasswordMessage, SASLInitialResponse
/// or SASLResponse: one message type whose meaning depends on the phase).
fn password_message_body(msg: &PasswordMessageFamily) -> Option<&[u8]> {
    match msg {
        PasswordMessageFamily::Raw(body) => Some(body),
        _ => None,
    }
}

/// A SASLInitialResponse's mechanism and data (none if its length is -1);
/// `None` unless the fields fill the message exactly.
fn sasl_initial_response(msg: &PasswordMessageFamily) -> Option<(&[u8], Option<&[u8]>)> {
    let body = password_message_body(msg)?;
    let end = body.iter().position(|&b| b == 0)?;
    let (mechanism, rest) = (&body[..end], &body[end + 1..]);
    let (length, data) = rest.split_first_chunk::<4>()?;
    match i32::from_be_bytes(*length) {
        -1 if data.is_empty() => Some((mechanism, None)),
        n if usize::try_from(n).is_ok_and(|n| n == data.len()) => Some((mechanism, Some(data))),
        _ => None,
    }
}

fn message_name(m: &PgWireFrontendMessage) -> &'static str {
    match m {
        PgWireFrontendMessage::Startup(_) => "startup",
        PgWireFrontendMessage::PasswordMessageFamily(_) => "password",
        PgWireFrontendMessage::Query(_) => "query",
        PgWireFrontendMessage::Parse(_) => "parse",
        _ => "other",
    }
}

#[async_trait]
impl StartupHandler for Authenticate {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // Every failure here must close the connection: pgwire would
        // otherwise carry on with the session after a non-fatal error.
        self.step(client, message).await.map_err(|e| match e {
            PgWireError::UserError(info) if info.severity == "FATAL" => {
                PgWireError::UserError(info)
            }
            other => pg_fatal(Status::ProtocolViolation.sqlstate(), other.to_string()),
        })
    }
}

/// The connect information HTTP handlers see: the peer address.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for Peer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, crate::tls::TlsListener>>
    for Peer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, crate::tls::TlsListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

/// HTTP middleware: authenticates `Authorization: Bearer <token>` and puts
/// the [`Identity`] into the request's extensions.
pub async fn require_token(
    State(engine): State<Arc<Engine>>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    mut request: Request,
    next: Next,
) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    let Some(token) = token else {
        let e = AuthError::MissingCredentials {
            hint: "send Authorization: Bearer <token> (CREATE TOKEN makes one)",
        };
        return challenge(http_error(e.status(), &e.to_string()));
    };
    match engine.auth().authenticate_token(token, peer) {
        Ok(who) => {
            request.extensions_mut().insert(who);
            next.run(request).await
        }
        Err(e) => {
            let mut response = http_error(e.status(), &e.to_string());
            if let AuthError::Throttled {
                retry_after_secs, ..
            } = e
                && let Ok(v) = axum::http::HeaderValue::from_str(&retry_after_secs.to_string())
            {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            if response.status() == axum::http::StatusCode::UNAUTHORIZED {
                response = challenge(response);
            }
            response
        }
    }
}

fn challenge(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static("Bearer realm=\"floe\""),
    );
    response
}
