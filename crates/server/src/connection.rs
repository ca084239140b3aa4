//! One PG wire connection, from TLS negotiation to close.
//!
//! This is `pgwire`'s own connection loop (`process_socket`), built from
//! its public parts, with three changes:
//!
//! - every byte the client sends passes the [`Checker`] before `pgwire`
//!   decodes it ([`Checked`]), so a malformed or oversized frame gets
//!   FATAL 08P01 instead of reaching a decoder that would read past it or
//!   panic;
//! - a FATAL error closes the connection: nothing is read after it and no
//!   ReadyForQuery follows it;
//! - bytes sent in plain text after an SSLRequest, before the handshake,
//!   are refused rather than taken as if they had come over TLS.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use datafusion_postgres::pgwire;
use futures::{SinkExt, StreamExt};
use pgwire::api::{ClientInfo, ErrorHandler, PgWireConnectionState, PgWireServerHandlers};
use pgwire::error::{ErrorInfo, PgWireError};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::tokio::server::{PgWireMessageServerCodec, negotiate_tls, process_message};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_util::codec::{Framed, FramedParts};

use crate::errors::fatal_info;
use crate::frames::{Checker, FrameError};
use floe_common::HasStatus;

/// How long a client has to log in, as PostgreSQL's
/// `authentication_timeout` and `pgwire` allow by default.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// A client's byte stream with every frame checked before it is read.
pub struct Checked<S> {
    inner: S,
    checker: Checker,
    /// Bytes read from `inner` and not handed on yet.
    pending: BytesMut,
    /// How many bytes at the front of `pending` the checker passed already
    /// (the reader's buffer had no room for them yet).
    approved: usize,
    /// Why the stream stopped, once it has.
    refused: Option<FrameError>,
}

impl<S> Checked<S> {
    /// Checks `inner`, whose first bytes were read already (`early`).
    /// A stream that is `secure` has nothing to read before its TLS
    /// handshake, so early bytes there are refused.
    pub fn new(inner: S, early: BytesMut, secure: bool) -> Checked<S> {
        let refused = (secure && !early.is_empty()).then_some(FrameError::UnencryptedAfterSsl);
        Checked {
            inner,
            checker: Checker::new(),
            pending: early,
            approved: 0,
            refused,
        }
    }

    /// The login succeeded: session messages may follow.
    pub fn logged_in(&mut self) {
        self.checker.logged_in();
    }

    /// Why the stream stopped, if a frame was refused.
    pub fn refused(&self) -> Option<&FrameError> {
        self.refused.as_ref()
    }

    fn refusal(&self) -> Poll<io::Result<()>> {
        let reason = self.refused.as_ref().map(ToString::to_string);
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::InvalidData,
            reason.unwrap_or_default(),
        )))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Checked<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            if this.approved > 0 {
                // Checked bytes first, as many as the buffer takes.
                let n = this.approved.min(buf.remaining());
                buf.put_slice(&this.pending[..n]);
                this.pending.advance(n);
                this.approved -= n;
                return Poll::Ready(Ok(()));
            }
            if this.refused.is_some() {
                return this.refusal();
            }
            if this.pending.is_empty() {
                // Straight into the reader's buffer; what may not be
                // handed on yet waits in `pending`.
                let before = buf.filled().len();
                ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
                if buf.filled().len() == before {
                    return Poll::Ready(Ok(()));
                }
                let (passed, refused) = this.checker.feed(&buf.filled()[before..]);
                this.pending
                    .extend_from_slice(&buf.filled()[before + passed..]);
                buf.set_filled(before + passed);
                this.refused = refused;
                if passed > 0 || this.checker.closed() {
                    return Poll::Ready(Ok(()));
                }
                continue;
            }
            // Offer everything waiting, whatever room the reader's buffer
            // has: a complete frame must never wait on the socket because
            // the buffer could not take its header at once.
            let (passed, refused) = this.checker.feed(&this.pending);
            this.approved = passed;
            this.refused = refused;
            if passed > 0 || this.refused.is_some() {
                continue;
            }
            if this.checker.closed() {
                return Poll::Ready(Ok(()));
            }
            // An incomplete header: read what follows it.
            let mut more = [0u8; 4096];
            let mut more = ReadBuf::new(&mut more);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut more))?;
            if more.filled().is_empty() {
                return Poll::Ready(Ok(()));
            }
            this.pending.extend_from_slice(more.filled());
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Checked<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Whether a connection in `state` has not logged in yet.
fn logging_in(state: PgWireConnectionState) -> bool {
    matches!(
        state,
        PgWireConnectionState::AwaitingStartup | PgWireConnectionState::AuthenticationInProgress
    )
}

/// Serves one connection until the client leaves, a FATAL error, or the
/// login takes longer than [`STARTUP_TIMEOUT`].
pub async fn process_socket<H: PgWireServerHandlers>(
    socket: TcpStream,
    tls: Option<pgwire::tokio::TlsAcceptor>,
    handlers: H,
) -> io::Result<()> {
    let startup_timeout = tokio::time::sleep(STARTUP_TIMEOUT);
    tokio::pin!(startup_timeout);
    let negotiated = tokio::select! {
        _ = &mut startup_timeout => return Ok(()),
        negotiated = negotiate_tls(socket, tls) => negotiated?,
    };
    let Some(negotiated) = negotiated else {
        return Ok(());
    };
    let parts = negotiated.into_parts();
    let secure = parts.codec.client_info.is_secure;
    let io = Checked::new(parts.io, parts.read_buf, secure);
    let mut checked = FramedParts::new::<PgWireBackendMessage>(io, parts.codec);
    checked.write_buf = parts.write_buf;
    let mut socket = Framed::from_parts(checked);

    let startup_handler = handlers.startup_handler();
    let simple_query_handler = handlers.simple_query_handler();
    let extended_query_handler = handlers.extended_query_handler();
    let copy_handler = handlers.copy_handler();
    let cancel_handler = handlers.cancel_handler();
    let error_handler = handlers.error_handler();
    loop {
        let before_login = logging_in(socket.state());
        let next = if before_login {
            tokio::select! {
                _ = &mut startup_timeout => None,
                next = socket.next() => next,
            }
        } else {
            socket.next().await
        };
        let message = match next {
            None | Some(Ok(PgWireFrontendMessage::Terminate(_))) => break,
            Some(Ok(message)) => message,
            Some(Err(PgWireError::IoError(e))) => {
                if let Some(refused) = socket.get_ref().refused() {
                    let info = fatal_info(refused.status().sqlstate(), refused.to_string());
                    tracing::debug!(peer = %socket.socket_addr(), error = %refused, "refused a PG message");
                    return fatal(&mut socket, info).await;
                }
                return Err(e);
            }
            // A frame the checker passed that the decoder refuses.
            Some(Err(e)) => {
                let mut info = ErrorInfo::from(e);
                info.severity = "FATAL".into();
                tracing::debug!(peer = %socket.socket_addr(), error = %info.message, "refused a PG message");
                return fatal(&mut socket, info).await;
            }
        };
        let cancel = matches!(message, PgWireFrontendMessage::CancelRequest(_));
        let is_extended_query = match socket.state() {
            PgWireConnectionState::CopyInProgress(extended) => extended,
            _ => message.is_extended_query(),
        };
        if let Err(mut e) = process_message(
            message,
            &mut socket,
            startup_handler.clone(),
            simple_query_handler.clone(),
            extended_query_handler.clone(),
            copy_handler.clone(),
            cancel_handler.clone(),
        )
        .await
        {
            error_handler.on_error(&socket, &mut e);
            let info = ErrorInfo::from(e);
            if info.is_fatal() {
                return fatal(&mut socket, info).await;
            }
            pgwire::tokio::server::process_error(
                &mut socket,
                PgWireError::UserError(Box::new(info)),
                is_extended_query,
            )
            .await?;
        }
        if cancel {
            break;
        }
        if before_login && !logging_in(socket.state()) {
            socket.get_mut().logged_in();
        }
    }
    Ok(())
}

/// Sends a FATAL error and closes the connection.
async fn fatal<S, T>(
    socket: &mut Framed<S, PgWireMessageServerCodec<T>>,
    info: ErrorInfo,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    socket
        .send(PgWireBackendMessage::ErrorResponse(info.into()))
        .await?;
    socket.close().await
}

#[cfg(test)]
mod tests;
