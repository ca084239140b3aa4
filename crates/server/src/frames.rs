//! The bytes a PostgreSQL client sends, checked frame by frame before the
//! protocol library decodes them.
//!
//! `pgwire`'s decoders trust their input: a message whose fields run past
//! its declared length is read into the next message, a length below 4 or
//! a field cut short panics, and before a login it accepts a query of up
//! to 1 GiB. The [`Checker`] sees every byte first and lets through only
//! frames PostgreSQL itself would accept:
//!
//! - the startup packet: 8 to 10,000 bytes; protocol 3, whose parameters
//!   are NUL-terminated name/value pairs ending with the packet, or a
//!   cancel request;
//! - until the login succeeds, only password messages (at most 10,000
//!   bytes, the limit PostgreSQL has for a startup packet) and Terminate,
//!   and one frame at a time;
//! - then every message type the server implements, with a length of at
//!   least 4 and at most the protocol library's limit for the type, whose
//!   fields end exactly where the message does.
//!
//! A refused frame is a [`FrameError`]; the connection answers it with a
//! FATAL error and closes, as PostgreSQL does.

use floe_common::{HasStatus, Status};

/// Longest startup packet (length word included), as in PostgreSQL and
/// `pgwire`; also the longest message before login and of small types.
pub const MAX_STARTUP: u32 = 10_000;
/// Longest Query, Parse, Bind or CopyData message: 1 GiB less 2 bytes,
/// `pgwire`'s limit.
pub const MAX_LARGE: u32 = 0x3fff_fffe;

const CANCEL_REQUEST: u32 = 80_877_102;

/// Why a frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The startup packet's length is outside 8..=10,000 bytes.
    #[error("invalid length of startup packet: {length} bytes (8 to {MAX_STARTUP} allowed)")]
    StartupLength { length: u32 },
    /// The startup packet asks for a protocol other than 3.x.
    #[error("unsupported frontend protocol {major}.{minor}: server supports 3.0 to 3.2")]
    UnsupportedProtocol { major: u16, minor: u16 },
    /// A cancel request whose length is not 16 to 268 bytes.
    #[error("invalid length of cancel request: {length} bytes")]
    CancelLength { length: u32 },
    /// The startup packet's parameters are not well formed.
    #[error("invalid startup packet layout: {reason}")]
    StartupLayout { reason: &'static str },
    /// A message other than a password message before the login.
    #[error(
        "protocol violation: expected a password message during authentication, got message type {}",
        kind_name(*kind)
    )]
    BeforeLogin { kind: u8 },
    /// A message type the server does not know.
    #[error("invalid frontend message type {}", kind_name(*kind))]
    UnknownType { kind: u8 },
    /// A message length outside what its type allows.
    #[error(
        "invalid message length {length} for message type {} ({min} to {max} bytes allowed)",
        kind_name(*kind)
    )]
    Length {
        kind: u8,
        length: u32,
        min: u32,
        max: u32,
    },
    /// A message whose fields do not fill it exactly.
    #[error("invalid message format (type {}): {reason}", kind_name(*kind))]
    Layout { kind: u8, reason: &'static str },
    /// Bytes that arrived unencrypted before the TLS handshake.
    #[error("received unencrypted data after SSL request")]
    UnencryptedAfterSsl,
}

impl HasStatus for FrameError {
    fn status(&self) -> Status {
        match self {
            FrameError::UnsupportedProtocol { .. } => Status::FeatureNotSupported,
            _ => Status::ProtocolViolation,
        }
    }
}

/// `'Q'`, or the byte's value when it is not a printable character.
fn kind_name(kind: u8) -> String {
    if kind.is_ascii_graphic() {
        format!("'{}'", kind as char)
    } else {
        format!("0x{kind:02x}")
    }
}

/// One field of a message body.
#[derive(Debug, Clone, Copy)]
enum Field {
    /// A NUL-terminated string.
    Str,
    /// A big-endian integer of this many bytes (1, 2 or 4), which counts
    /// the elements of the field after it.
    Int(u8),
    /// As many elements of this many bytes as the integer before says.
    Array(u8),
    /// As many values as the integer before says, each an Int32 length
    /// and that many bytes (none when the length is negative).
    Values,
    /// The rest of the message, whatever it holds.
    Rest,
    /// Name/value strings up to an empty name, which ends the message.
    Parameters,
}

/// The fields of a startup packet after its protocol version.
const STARTUP: &[Field] = &[Field::Parameters];

/// What a message type may hold: its longest length and its fields.
fn layout(kind: u8, logged_in: bool) -> Result<(u32, &'static [Field]), FrameError> {
    use Field::*;
    if !logged_in {
        return match kind {
            b'p' => Ok((MAX_STARTUP, &[Rest])),
            b'X' => Ok((4, &[])),
            _ => Err(FrameError::BeforeLogin { kind }),
        };
    }
    Ok(match kind {
        b'Q' => (MAX_LARGE, &[Str]),
        b'P' => (MAX_LARGE, &[Str, Str, Int(2), Array(4)]),
        b'B' => (
            MAX_LARGE,
            &[Str, Str, Int(2), Array(2), Int(2), Values, Int(2), Array(2)],
        ),
        b'd' => (MAX_LARGE, &[Rest]),
        b'D' | b'C' => (MAX_STARTUP, &[Int(1), Str]),
        b'E' => (MAX_STARTUP, &[Str, Int(4)]),
        b'f' => (MAX_STARTUP, &[Str]),
        b'p' => (MAX_STARTUP, &[Rest]),
        b'H' | b'S' | b'X' | b'c' => (4, &[]),
        _ => return Err(FrameError::UnknownType { kind }),
    })
}

/// Where the check of a body is.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// About to read field `i`.
    Start(usize),
    /// Inside the string of field `i`.
    Str(usize),
    /// Reading the `size`-byte integer of field `i`: `have` bytes of it
    /// so far.
    Int {
        i: usize,
        size: u8,
        have: u8,
        value: u32,
    },
    /// Skipping `left` bytes of field `i`; `values` more values follow.
    Skip { i: usize, left: usize, values: u32 },
    /// Reading a value's length in field `i`; `values` more follow it.
    ValueLen {
        i: usize,
        have: u8,
        value: u32,
        values: u32,
    },
    /// In the parameters: in a name (or a value), empty so far or not.
    Parameter { name: bool, empty: bool },
}

/// The check of one message body, fed as its bytes arrive.
#[derive(Debug)]
struct Body {
    fields: &'static [Field],
    step: Step,
    /// Bytes of the body not seen yet.
    left: usize,
    /// The integer read last.
    count: u32,
}

impl Body {
    fn new(fields: &'static [Field], left: usize) -> Body {
        Body {
            fields,
            step: Step::Start(0),
            left,
            count: 0,
        }
    }

    fn done(&self) -> bool {
        self.left == 0 && matches!(self.step, Step::Start(i) if i == self.fields.len())
    }

    /// Checks the next bytes of the body, at most as many as are left.
    /// When the last byte is in, also checks that the fields end with it.
    fn feed(&mut self, mut input: &[u8]) -> Result<(), &'static str> {
        debug_assert!(input.len() <= self.left);
        loop {
            match self.step {
                Step::Start(i) => match self.fields.get(i) {
                    None if self.left == 0 => return Ok(()),
                    None => return Err("bytes after the last field"),
                    Some(Field::Str) => self.step = Step::Str(i),
                    Some(Field::Int(size)) => {
                        self.step = Step::Int {
                            i,
                            size: *size,
                            have: 0,
                            value: 0,
                        }
                    }
                    Some(Field::Array(size)) => {
                        let bytes = self.count as usize * *size as usize;
                        if bytes > self.left {
                            return Err("more elements than the message holds");
                        }
                        self.step = Step::Skip {
                            i,
                            left: bytes,
                            values: 0,
                        };
                    }
                    Some(Field::Values) => {
                        self.step = match self.count {
                            0 => Step::Start(i + 1),
                            n => Step::ValueLen {
                                i,
                                have: 0,
                                value: 0,
                                values: n - 1,
                            },
                        }
                    }
                    Some(Field::Rest) => {
                        self.step = Step::Skip {
                            i,
                            left: self.left,
                            values: 0,
                        }
                    }
                    Some(Field::Parameters) => {
                        self.step = Step::Parameter {
                            name: true,
                            empty: true,
                        }
                    }
                },
                Step::Skip { i, left: 0, values } => {
                    self.step = if values > 0 {
                        Step::ValueLen {
                            i,
                            have: 0,
                            value: 0,
                            values: values - 1,
                        }
                    } else {
                        Step::Start(i + 1)
                    };
                }
                _ if input.is_empty() => {
                    return if self.left == 0 {
                        Err("the message ends inside a field")
                    } else {
                        Ok(())
                    };
                }
                Step::Str(i) => match input.iter().position(|&b| b == 0) {
                    Some(at) => {
                        self.take(&mut input, at + 1);
                        self.step = Step::Start(i + 1);
                    }
                    None => {
                        let n = input.len();
                        self.take(&mut input, n);
                    }
                },
                Step::Int {
                    i,
                    size,
                    have,
                    value,
                } => {
                    let value = (value << 8) | u32::from(input[0]);
                    self.take(&mut input, 1);
                    self.step = if have + 1 == size {
                        self.count = value;
                        Step::Start(i + 1)
                    } else {
                        Step::Int {
                            i,
                            size,
                            have: have + 1,
                            value,
                        }
                    };
                }
                Step::ValueLen {
                    i,
                    have,
                    value,
                    values,
                } => {
                    let value = (value << 8) | u32::from(input[0]);
                    self.take(&mut input, 1);
                    self.step = if have < 3 {
                        Step::ValueLen {
                            i,
                            have: have + 1,
                            value,
                            values,
                        }
                    } else {
                        // A negative length is NULL, with no bytes.
                        let length = usize::try_from(value as i32).unwrap_or(0);
                        if length > self.left {
                            return Err("a parameter value longer than the message");
                        }
                        Step::Skip {
                            i,
                            left: length,
                            values,
                        }
                    };
                }
                Step::Skip { i, left, values } => {
                    let n = left.min(input.len());
                    self.take(&mut input, n);
                    self.step = Step::Skip {
                        i,
                        left: left - n,
                        values,
                    };
                }
                Step::Parameter { name, empty } => {
                    match input.iter().position(|&b| b == 0) {
                        None => {
                            let n = input.len();
                            self.take(&mut input, n);
                            self.step = Step::Parameter { name, empty: false };
                        }
                        Some(0) => {
                            self.take(&mut input, 1);
                            if name && empty {
                                // The empty name that ends the parameters.
                                if self.left > 0 {
                                    return Err("bytes after the terminating NUL");
                                }
                                self.step = Step::Start(self.fields.len());
                            } else {
                                self.step = Step::Parameter {
                                    name: !name,
                                    empty: true,
                                };
                            }
                        }
                        Some(at) => {
                            self.take(&mut input, at);
                            self.step = Step::Parameter { name, empty: false };
                        }
                    }
                }
            }
        }
    }

    fn take(&mut self, input: &mut &[u8], n: usize) {
        *input = &input[n..];
        self.left -= n;
    }
}

/// Which frames come next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The startup packet (or a cancel request).
    Startup,
    /// Messages before the login succeeded.
    Login,
    /// Messages of a logged-in session.
    Session,
    /// Nothing more: a cancel request was the connection's last frame.
    Closed,
}

/// What a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The startup packet.
    Startup,
    /// A cancel request, sent instead of a startup packet.
    Cancel,
    /// A message of this type.
    Message(u8),
}

/// Where the checker is in the current frame.
#[derive(Debug)]
enum Frame {
    /// At a header: 8 bytes for a startup packet's length and code, 5
    /// for a message's type and length. A header is taken only whole,
    /// once it checked out, so the decoder never sees a type or a length
    /// that is refused.
    Header,
    /// In a frame's body.
    Body { kind: Kind, body: Body },
}

/// Checks the frames of one connection as their bytes arrive.
#[derive(Debug)]
pub struct Checker {
    phase: Phase,
    frame: Frame,
    /// The error that stopped the checker; it refuses everything after.
    failed: Option<FrameError>,
}

impl Default for Checker {
    fn default() -> Self {
        Checker::new()
    }
}

impl Checker {
    /// A checker for a connection whose TLS negotiation is over: its
    /// first frame is the startup packet.
    pub fn new() -> Checker {
        Checker {
            phase: Phase::Startup,
            frame: Frame::Header,
            failed: None,
        }
    }

    /// The session is logged in: every message type may follow.
    pub fn logged_in(&mut self) {
        if self.phase == Phase::Login {
            self.phase = Phase::Session;
        }
    }

    /// Whether the stream is over (after a cancel request).
    pub fn closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Checks the next bytes of the stream. Returns how many of them may
    /// be handed to the decoder, and the error that stops the stream if
    /// the next bytes are refused. Bytes not taken (an incomplete header,
    /// or, before the login, what follows the current frame, so the
    /// decoder sees one frame at a time) must be offered again with more.
    /// A frame that ends in error is never handed on whole: its last byte
    /// is passed only once the frame checked out.
    pub fn feed(&mut self, input: &[u8]) -> (usize, Option<FrameError>) {
        if let Some(e) = &self.failed {
            return (0, Some(e.clone()));
        }
        let mut passed = 0;
        while passed < input.len() {
            if self.phase == Phase::Closed {
                return (passed, None);
            }
            match self.step(&input[passed..]) {
                Ok((0, _)) => break,
                Ok((n, frame_done)) => {
                    passed += n;
                    if frame_done && self.phase != Phase::Session {
                        break;
                    }
                }
                Err(e) => {
                    self.failed = Some(e.clone());
                    return (passed, Some(e));
                }
            }
        }
        (passed, None)
    }

    /// Checks bytes of the current frame; returns how many were taken and
    /// whether the frame is complete.
    fn step(&mut self, input: &[u8]) -> Result<(usize, bool), FrameError> {
        match &mut self.frame {
            Frame::Header => {
                let need = if self.phase == Phase::Startup { 8 } else { 5 };
                let Some(header) = input.get(..need) else {
                    return Ok((0, false));
                };
                let (kind, body) = self.open(header)?;
                let done = body.done();
                if done {
                    self.finish_frame(kind);
                } else {
                    self.frame = Frame::Body { kind, body };
                }
                Ok((need, done))
            }
            Frame::Body { kind, body } => {
                let kind = *kind;
                let n = body.left.min(input.len());
                body.feed(&input[..n])
                    .map_err(|reason| layout_error(kind, reason))?;
                let done = body.done();
                if done {
                    self.finish_frame(kind);
                }
                Ok((n, done))
            }
        }
    }

    /// Checks a complete header; returns the frame's kind and the check
    /// of its body.
    fn open(&self, header: &[u8]) -> Result<(Kind, Body), FrameError> {
        if self.phase == Phase::Startup {
            let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
            let code = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
            if !(8..=MAX_STARTUP).contains(&length) {
                return Err(FrameError::StartupLength { length });
            }
            let rest = (length - 8) as usize;
            return match code {
                CANCEL_REQUEST if (16..=268).contains(&length) => {
                    Ok((Kind::Cancel, Body::new(&[Field::Rest], rest)))
                }
                CANCEL_REQUEST => Err(FrameError::CancelLength { length }),
                _ if code >> 16 == 3 => {
                    let mut body = Body::new(STARTUP, rest);
                    body.feed(&[])
                        .map_err(|reason| FrameError::StartupLayout { reason })?;
                    Ok((Kind::Startup, body))
                }
                _ => Err(FrameError::UnsupportedProtocol {
                    major: (code >> 16) as u16,
                    minor: code as u16,
                }),
            };
        }
        let kind = header[0];
        let length = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
        let (max, fields) = layout(kind, self.phase == Phase::Session)?;
        let min = 4;
        if !(min..=max).contains(&length) {
            return Err(FrameError::Length {
                kind,
                length,
                min,
                max,
            });
        }
        let kind = Kind::Message(kind);
        let mut body = Body::new(fields, (length - 4) as usize);
        body.feed(&[])
            .map_err(|reason| layout_error(kind, reason))?;
        Ok((kind, body))
    }

    fn finish_frame(&mut self, kind: Kind) {
        self.frame = Frame::Header;
        match kind {
            Kind::Startup => self.phase = Phase::Login,
            Kind::Cancel => self.phase = Phase::Closed,
            Kind::Message(_) => {}
        }
    }
}

fn layout_error(kind: Kind, reason: &'static str) -> FrameError {
    match kind {
        Kind::Message(kind) => FrameError::Layout { kind, reason },
        Kind::Startup | Kind::Cancel => FrameError::StartupLayout { reason },
    }
}

#[cfg(test)]
mod tests;
