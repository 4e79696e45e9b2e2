//! The `requestState` token the gateway hands a modern client in an
//! `InputRequiredResult` and checks on the retry (MCP 2026-07-28
//! basic/patterns/mrtr.mdx §Server Requirements 4–5; design c.6 "Sealing").
//!
//! `requestState = "sg1." + base64url(P) + "." + base64url(T)`, no padding:
//!
//! - `P`, 40 bytes, big-endian: instance id (8) ‖ relay id (4) ‖ parked id
//!   (8) ‖ child generation (4) ‖ round nonce (8) ‖ expiry in this process's
//!   monotonic milliseconds (8). Readable on purpose: a load balancer can
//!   route the retry back by the instance id. It holds nothing secret.
//! - `T`, 32 bytes = MAC over `"supergateway requestState v1\0"` ‖ `P` ‖
//!   length of `method` (8 bytes, big-endian) ‖ `method` ‖ `target`. The
//!   length prefix (where the design sketched a `\0` separator) keeps the
//!   split between method and target unambiguous even if either holds NUL.
//!
//! The MAC itself is the caller's [`Seal`] (HMAC-SHA-256 with a per-process
//! random key in the binary), so this crate stays free of C and assembly for
//! the fuzzers. The token is attacker-controlled: [`open`] checks, in order,
//! the exact syntax (prefix, lengths, canonical base64url, nothing after)
//! and then the MAC, in constant time through [`Seal::verify`]. Expiry,
//! generation, nonce (single use) and the request match are the caller's
//! checks, which it makes after `open` succeeds.

use std::fmt;

use super::base64::{self, Alphabet};

/// A keyed MAC with 32-byte tags over the concatenation of `parts`.
pub trait Seal {
    /// The tag of `parts`, concatenated.
    fn tag(&self, parts: &[&[u8]]) -> [u8; 32];

    /// Whether `tag` is the tag of `parts`, compared in constant time.
    fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> bool;
}

/// What a token carries (`P`): which parked request it resumes and when it
/// stops being valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StatePayload {
    /// Random per process: names the gateway instance that parked the request.
    pub instance: [u8; 8],
    /// The relay (child link) holding the parked request.
    pub relay: u32,
    /// The parked request's gateway id.
    pub parked: u64,
    /// The child's generation (restart count) when the request was parked.
    pub generation: u32,
    /// This round's nonce: only the newest token of a parked request opens it.
    pub nonce: [u8; 8],
    /// Expiry, in milliseconds of this process's monotonic clock.
    pub expires_ms: u64,
}

impl StatePayload {
    /// Serialised length of `P`.
    pub const LEN: usize = 40;

    /// `P` as bytes.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut out = [0_u8; Self::LEN];
        let fields: [&[u8]; 6] = [
            &self.instance,
            &self.relay.to_be_bytes(),
            &self.parked.to_be_bytes(),
            &self.generation.to_be_bytes(),
            &self.nonce,
            &self.expires_ms.to_be_bytes(),
        ];
        let mut rest = out.as_mut_slice();
        for field in fields {
            let (head, tail) = rest.split_at_mut(field.len().min(rest.len()));
            head.copy_from_slice(field.get(..head.len()).unwrap_or_default());
            rest = tail;
        }
        out
    }

    /// `P` from bytes.
    #[must_use]
    pub fn from_bytes(bytes: &[u8; Self::LEN]) -> Self {
        let (instance, rest) = split::<8>(bytes);
        let (relay, rest) = split::<4>(rest);
        let (parked, rest) = split::<8>(rest);
        let (generation, rest) = split::<4>(rest);
        let (nonce, rest) = split::<8>(rest);
        let (expires_ms, _) = split::<8>(rest);
        Self {
            instance,
            relay: u32::from_be_bytes(relay),
            parked: u64::from_be_bytes(parked),
            generation: u32::from_be_bytes(generation),
            nonce,
            expires_ms: u64::from_be_bytes(expires_ms),
        }
    }
}

/// Why a token was refused. On the wire every variant is the same -32602
/// "Invalid or expired requestState"; the variant is for the gateway's log.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateError {
    /// Well-formed, but the MAC does not match this method and target (or
    /// another key sealed it: another process, or a forgery).
    Mac,
    /// Not a token of this format: prefix, length, alphabet, padding,
    /// trailing bits or trailing bytes.
    Syntax,
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Mac => "requestState was not sealed for this request by this process",
            Self::Syntax => "requestState is malformed",
        })
    }
}

impl std::error::Error for StateError {}

/// Length of a token: `sg1.`, 54 symbols for `P`, `.`, 43 symbols for `T`.
pub const TOKEN_LEN: usize = PREFIX.len() + P_SYMBOLS + 1 + T_SYMBOLS;

/// Seals `payload` for a request of `method` on `target` (the tool or
/// prompt name, or the resource URI).
///
/// # Examples
///
/// ```
/// use supergateway_proto::mcp::request_state::{open, seal, Seal, StateError, StatePayload};
///
/// // A toy MAC for the example; the binary uses HMAC-SHA-256.
/// struct Xor(u8);
/// impl Seal for Xor {
///     fn tag(&self, parts: &[&[u8]]) -> [u8; 32] {
///         let mut tag = [self.0; 32];
///         for (i, b) in parts.iter().flat_map(|p| p.iter()).enumerate() {
///             tag[i % 32] ^= b.rotate_left(i as u32 % 8);
///         }
///         tag
///     }
///     fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
///         self.tag(parts) == tag
///     }
/// }
///
/// let payload = StatePayload {
///     instance: *b"instance", relay: 1, parked: 7, generation: 0,
///     nonce: [9; 8], expires_ms: 300_000,
/// };
/// let token = seal(&Xor(1), &payload, "tools/call", "get_weather");
/// assert!(token.starts_with("sg1.") && token.len() == 102);
/// assert_eq!(open(&Xor(1), &token, "tools/call", "get_weather"), Ok(payload));
/// assert_eq!(open(&Xor(1), &token, "tools/call", "other"), Err(StateError::Mac));
/// assert_eq!(open(&Xor(2), &token, "tools/call", "get_weather"), Err(StateError::Mac));
/// let tampered = format!("{token}-TAMPERED");
/// assert_eq!(open(&Xor(1), &tampered, "tools/call", "get_weather"), Err(StateError::Syntax));
/// ```
pub fn seal<S: Seal + ?Sized>(
    seal: &S,
    payload: &StatePayload,
    method: &str,
    target: &str,
) -> String {
    let p = payload.to_bytes();
    let tag = seal.tag(&mac_input(&p, &method_len(method), method, target));
    let mut token = String::with_capacity(TOKEN_LEN);
    token.push_str(PREFIX);
    base64::encode(&p, Alphabet::UrlNoPad, &mut token);
    token.push('.');
    base64::encode(&tag, Alphabet::UrlNoPad, &mut token);
    token
}

/// Opens a token sealed by [`seal`] for the same `method` and `target`.
///
/// # Errors
///
/// [`StateError::Syntax`], then [`StateError::Mac`]: see the module doc.
pub fn open<S: Seal + ?Sized>(
    seal: &S,
    token: &str,
    method: &str,
    target: &str,
) -> Result<StatePayload, StateError> {
    let (p, tag) = parse(token)?;
    if seal.verify(&mac_input(&p, &method_len(method), method, target), &tag) {
        Ok(StatePayload::from_bytes(&p))
    } else {
        Err(StateError::Mac)
    }
}

/// Reads a token's payload **without checking its MAC**: for logging which
/// instance a misrouted retry was meant for, never for acting on it.
///
/// # Errors
///
/// [`StateError::Syntax`] as in [`open`].
pub fn dangerous_peek(token: &str) -> Result<StatePayload, StateError> {
    parse(token).map(|(p, _)| StatePayload::from_bytes(&p))
}

/// Most bytes of an instance id (`--instanceId`).
pub const MAX_INSTANCE_ID: usize = 32;

/// Ends the instance id a prefixed token (or session id) starts with:
/// visible ASCII, unreserved in a URL query and valid in a header value,
/// and outside the id's alphabet, so the id ends at the first `.` and a
/// load balancer matching `ID.` never takes another id's tokens for its own.
pub const INSTANCE_SEPARATOR: char = '.';

/// Why an instance id was refused.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstanceIdError {
    /// No byte at all.
    Empty,
    /// More than [`MAX_INSTANCE_ID`] bytes.
    TooLong,
    /// A byte outside `[A-Za-z0-9_-]`.
    Character,
}

impl fmt::Display for InstanceIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "is empty",
            Self::TooLong => "is longer than 32 characters",
            Self::Character => "may hold only A-Z, a-z, 0-9, _ and -",
        })
    }
}

impl std::error::Error for InstanceIdError {}

/// Checks an instance id: `[A-Za-z0-9_-]{1,32}`.
///
/// # Errors
///
/// Which rule it breaks.
pub fn check_instance_id(id: &str) -> Result<(), InstanceIdError> {
    if id.is_empty() {
        Err(InstanceIdError::Empty)
    } else if id.len() > MAX_INSTANCE_ID {
        Err(InstanceIdError::TooLong)
    } else if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Err(InstanceIdError::Character)
    } else {
        Ok(())
    }
}

/// A token sealed by an instance that has an id is `ID.` + the token
/// [`seal`] makes (the prefix is for routing and is not under the MAC: the
/// MAC's key is the process's anyway). Splits such a token into the id and
/// the bare token; `None` for a bare token, or when what comes before the
/// first `.` is no instance id, or what comes after it is not shaped like a
/// bare token (`sg1.…` of [`TOKEN_LEN`] bytes; its syntax is `open`'s to check).
///
/// ```
/// use supergateway_proto::mcp::request_state::{split_instance, TOKEN_LEN};
///
/// let bare = format!("sg1.{}", "A".repeat(TOKEN_LEN - 4));
/// assert_eq!(split_instance(&bare), None);
/// let prefixed = format!("gw-2.{bare}");
/// assert_eq!(split_instance(&prefixed), Some(("gw-2", bare.as_str())));
/// assert_eq!(split_instance("not a token"), None);
/// assert_eq!(split_instance("gw-2.sg1.short"), None);
/// assert_eq!(split_instance(&format!("gw.2.{bare}")), None);
/// ```
#[must_use]
pub fn split_instance(token: &str) -> Option<(&str, &str)> {
    if token.len() == TOKEN_LEN && token.starts_with(PREFIX) {
        return None;
    }
    let (id, rest) = token.split_once(INSTANCE_SEPARATOR)?;
    check_instance_id(id).ok()?;
    (rest.len() == TOKEN_LEN && rest.starts_with(PREFIX)).then_some((id, rest))
}

const PREFIX: &str = "sg1.";
/// Domain separation: a tag made for anything else never opens a token.
const CONTEXT: &[u8] = b"supergateway requestState v1\0";
/// base64url without padding: 40 bytes → 54 symbols, 32 bytes → 43.
const P_SYMBOLS: usize = 54;
const T_SYMBOLS: usize = 43;

/// Syntax check and decoding: `(P, T)`.
fn parse(token: &str) -> Result<([u8; StatePayload::LEN], [u8; 32]), StateError> {
    if token.len() != TOKEN_LEN {
        return Err(StateError::Syntax);
    }
    let body = token.strip_prefix(PREFIX).ok_or(StateError::Syntax)?;
    let (p, t) = body.split_once('.').ok_or(StateError::Syntax)?;
    if p.len() != P_SYMBOLS || t.len() != T_SYMBOLS {
        return Err(StateError::Syntax);
    }
    let p = base64::decode(p.as_bytes(), Alphabet::UrlNoPad).ok_or(StateError::Syntax)?;
    let t = base64::decode(t.as_bytes(), Alphabet::UrlNoPad).ok_or(StateError::Syntax)?;
    Ok((
        p.try_into().map_err(|_| StateError::Syntax)?,
        t.try_into().map_err(|_| StateError::Syntax)?,
    ))
}

fn method_len(method: &str) -> [u8; 8] {
    u64::try_from(method.len())
        .unwrap_or(u64::MAX)
        .to_be_bytes()
}

fn mac_input<'a>(
    p: &'a [u8; StatePayload::LEN],
    method_len: &'a [u8; 8],
    method: &'a str,
    target: &'a str,
) -> [&'a [u8]; 5] {
    [CONTEXT, p, method_len, method.as_bytes(), target.as_bytes()]
}

/// The first `N` bytes of `bytes` and the rest (zeros if too short, which
/// the fixed callers above never are).
fn split<const N: usize>(bytes: &[u8]) -> ([u8; N], &[u8]) {
    let (head, tail) = bytes.split_at(N.min(bytes.len()));
    (head.try_into().unwrap_or([0; N]), tail)
}

#[cfg(test)]
mod tests;
