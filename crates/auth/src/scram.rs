//! SCRAM-SHA-256 (RFC 5802, RFC 7677), the server side, as PostgreSQL
//! speaks it.
//!
//! A password is kept only as its [`Verifier`]: the salt, the iteration
//! count, `StoredKey = H(HMAC(SaltedPassword, "Client Key"))` and
//! `ServerKey = HMAC(SaltedPassword, "Server Key")`. Neither key lets
//! anyone log in; the text form is PostgreSQL's
//! (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`), so a
//! verifier a client computed itself (`psql`'s `\password`) is accepted as
//! it is. Channel binding (`SCRAM-SHA-256-PLUS`) is not offered.

use std::fmt;
use std::num::NonZeroU32;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::rand::{SecureRandom, SystemRandom};
use ring::{digest, hmac, pbkdf2};

/// Iterations of PBKDF2 for new verifiers (PostgreSQL's default).
pub const ITERATIONS: u32 = 4096;

const SALT_LEN: usize = 16;
const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 18;
const PREFIX: &str = "SCRAM-SHA-256$";

/// A malformed or failed SCRAM exchange.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    /// A client message does not follow the protocol.
    #[error("invalid SCRAM message: {0}")]
    Malformed(&'static str),
    /// The client's proof does not match the verifier: a wrong password.
    #[error("the client proof does not match")]
    WrongProof,
}

/// A password's SCRAM-SHA-256 verifier.
#[derive(Clone, PartialEq, Eq)]
pub struct Verifier {
    iterations: u32,
    salt: Vec<u8>,
    stored_key: [u8; KEY_LEN],
    server_key: [u8; KEY_LEN],
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Verifier(..)")
    }
}

impl fmt::Display for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX}{}:{}${}:{}",
            self.iterations,
            STANDARD.encode(&self.salt),
            STANDARD.encode(self.stored_key),
            STANDARD.encode(self.server_key)
        )
    }
}

/// Random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .expect("the operating system's random number generator failed");
    out
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; KEY_LEN] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data);
    tag.as_ref().try_into().expect("SHA-256 is 32 bytes")
}

fn sha256(data: &[u8]) -> [u8; KEY_LEN] {
    digest::digest(&digest::SHA256, data)
        .as_ref()
        .try_into()
        .expect("SHA-256 is 32 bytes")
}

/// Compares without an early exit, so timing tells nothing about where two
/// secrets differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Verifier {
    /// The verifier of `password` with a fresh random salt.
    pub fn new(password: &str) -> Verifier {
        Verifier::with_salt(password, &random_bytes::<SALT_LEN>(), ITERATIONS)
    }

    /// The verifier of `password` with the given salt and iterations.
    pub fn with_salt(password: &str, salt: &[u8], iterations: u32) -> Verifier {
        // As PostgreSQL does: SASLprep, or the bytes as they are when the
        // password is not valid for it.
        let normalized = stringprep::saslprep(password)
            .map(|p| p.into_owned())
            .unwrap_or_else(|_| password.to_string());
        let mut salted = [0u8; KEY_LEN];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            NonZeroU32::new(iterations.max(1)).expect("at least one iteration"),
            salt,
            normalized.as_bytes(),
            &mut salted,
        );
        let client_key = hmac_sha256(&salted, b"Client Key");
        Verifier {
            iterations,
            salt: salt.to_vec(),
            stored_key: sha256(&client_key),
            server_key: hmac_sha256(&salted, b"Server Key"),
        }
    }

    /// A verifier no password matches, with a salt that depends only on
    /// `user` and `secret`: an exchange for a user that does not exist
    /// looks like one for a user that does, and fails.
    pub fn decoy(user: &str, secret: &[u8]) -> Verifier {
        let salt = hmac_sha256(secret, user.as_bytes());
        Verifier {
            iterations: ITERATIONS,
            salt: salt[..SALT_LEN].to_vec(),
            stored_key: random_bytes(),
            server_key: random_bytes(),
        }
    }

    /// Parses PostgreSQL's text form; `None` if `text` is not one.
    pub fn parse(text: &str) -> Option<Verifier> {
        let rest = text.strip_prefix(PREFIX)?;
        let (params, keys) = rest.split_once('$')?;
        let (iterations, salt) = params.split_once(':')?;
        let (stored, server) = keys.split_once(':')?;
        let iterations: u32 = iterations.parse().ok().filter(|i| *i > 0)?;
        Some(Verifier {
            iterations,
            salt: STANDARD.decode(salt).ok().filter(|s| !s.is_empty())?,
            stored_key: STANDARD.decode(stored).ok()?.try_into().ok()?,
            server_key: STANDARD.decode(server).ok()?.try_into().ok()?,
        })
    }

    /// Whether `password` is the one this verifier was made from.
    pub fn matches(&self, password: &str) -> bool {
        let other = Verifier::with_salt(password, &self.salt, self.iterations);
        constant_time_eq(&other.stored_key, &self.stored_key)
    }
}

/// An exchange waiting for the client's final message.
#[derive(Debug)]
pub struct Exchange {
    verifier: Verifier,
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

/// Starts an exchange: reads the client's first message and returns the
/// server's first message to send.
pub fn start(verifier: Verifier, client_first: &[u8]) -> Result<(Exchange, String), ScramError> {
    start_with_nonce(
        verifier,
        client_first,
        &STANDARD.encode(random_bytes::<NONCE_LEN>()),
    )
}

fn start_with_nonce(
    verifier: Verifier,
    client_first: &[u8],
    server_nonce: &str,
) -> Result<(Exchange, String), ScramError> {
    let text = std::str::from_utf8(client_first)
        .map_err(|_| ScramError::Malformed("client-first-message is not UTF-8"))?;
    // gs2-header: cbind-flag "," [authzid] ","
    let (flag, rest) = text.split_once(',').ok_or(ScramError::Malformed(
        "client-first-message has no GS2 header",
    ))?;
    match flag {
        "n" | "y" => {}
        f if f.starts_with("p=") => {
            return Err(ScramError::Malformed(
                "channel binding was requested but is not offered",
            ));
        }
        _ => return Err(ScramError::Malformed("unknown channel binding flag")),
    }
    let (authzid, bare) = rest.split_once(',').ok_or(ScramError::Malformed(
        "client-first-message has no GS2 header",
    ))?;
    if !authzid.is_empty() && !authzid.starts_with("a=") {
        return Err(ScramError::Malformed("invalid authorization identity"));
    }
    let mut attributes = bare.split(',');
    match attributes.next() {
        Some(a) if a.starts_with("n=") => {}
        Some(a) if a.starts_with("m=") => {
            return Err(ScramError::Malformed(
                "mandatory extensions are not supported",
            ));
        }
        _ => {
            return Err(ScramError::Malformed(
                "client-first-message has no user name",
            ));
        }
    }
    let client_nonce = attributes
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .filter(|n| !n.is_empty() && n.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b','))
        .ok_or(ScramError::Malformed(
            "client-first-message has no valid nonce",
        ))?;
    let nonce = format!("{client_nonce}{server_nonce}");
    let server_first = format!(
        "r={nonce},s={},i={}",
        STANDARD.encode(&verifier.salt),
        verifier.iterations
    );
    Ok((
        Exchange {
            verifier,
            gs2_header: format!("{flag},{authzid},"),
            client_first_bare: bare.to_string(),
            server_first: server_first.clone(),
            nonce,
        },
        server_first,
    ))
}

impl Exchange {
    /// Checks the client's final message; returns the server's final
    /// message (its signature) when the proof matches.
    pub fn finish(self, client_final: &[u8]) -> Result<String, ScramError> {
        let text = std::str::from_utf8(client_final)
            .map_err(|_| ScramError::Malformed("client-final-message is not UTF-8"))?;
        let (without_proof, proof) = text
            .rsplit_once(",p=")
            .ok_or(ScramError::Malformed("client-final-message has no proof"))?;
        let mut attributes = without_proof.split(',');
        let binding = attributes
            .next()
            .and_then(|a| a.strip_prefix("c="))
            .and_then(|c| STANDARD.decode(c).ok())
            .ok_or(ScramError::Malformed(
                "client-final-message has no channel binding",
            ))?;
        if binding != self.gs2_header.as_bytes() {
            return Err(ScramError::Malformed("channel binding does not match"));
        }
        let nonce = attributes
            .next()
            .and_then(|a| a.strip_prefix("r="))
            .ok_or(ScramError::Malformed("client-final-message has no nonce"))?;
        if !constant_time_eq(nonce.as_bytes(), self.nonce.as_bytes()) {
            return Err(ScramError::Malformed("nonce does not match"));
        }
        let proof: [u8; KEY_LEN] = STANDARD
            .decode(proof)
            .ok()
            .and_then(|p| p.try_into().ok())
            .ok_or(ScramError::Malformed("invalid client proof"))?;
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, self.server_first, without_proof
        );
        let signature = hmac_sha256(&self.verifier.stored_key, auth_message.as_bytes());
        let mut client_key = [0u8; KEY_LEN];
        for (k, (p, s)) in client_key.iter_mut().zip(proof.iter().zip(signature)) {
            *k = p ^ s;
        }
        if !constant_time_eq(&sha256(&client_key), &self.verifier.stored_key) {
            return Err(ScramError::WrongProof);
        }
        let server_signature = hmac_sha256(&self.verifier.server_key, auth_message.as_bytes());
        Ok(format!("v={}", STANDARD.encode(server_signature)))
    }
}

#[cfg(test)]
mod tests;
