//! `requestState` for the multi-round flows of modern requests: `HEX(payload).HEX(tag)`, where
//! payload is the compact JSON `{"tool", "round", "memo", "nonce"}` and tag its HMAC-SHA256
//! under a fixed fixture key. The key is a constant, not per process, because a stateless
//! gateway may answer the retry from another instance of this fixture. The state carries what
//! earlier rounds learnt (`memo`), so the fixture keeps nothing between rounds.

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{json, Value};

/// Test-only key: integrity against a client editing the state, not secrecy.
const FIXTURE_KEY: &[u8] = b"supergateway conformance fixture requestState key v1";

/// A verified state: which flow, which round, and what earlier rounds carried forward.
pub(crate) struct Opened {
    pub(crate) round: u32,
    pub(crate) memo: Value,
}

/// Why a state was refused (the caller answers -32602 either way; the text goes in the message).
#[derive(Clone, Copy, Debug)]
pub(crate) enum StateError {
    /// Not `HEX.HEX`, or the payload is not the expected JSON object.
    Malformed,
    /// The tag does not match the payload: edited or forged.
    BadTag,
    /// A valid state issued for another tool or prompt.
    WrongFlow,
}

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Malformed => "requestState is malformed",
            Self::BadTag => "requestState failed its integrity check",
            Self::WrongFlow => "requestState was issued for another request",
        })
    }
}

fn key() -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, FIXTURE_KEY)
}

/// Seals the state of `flow` at `round`. The random nonce makes every issued state distinct.
pub(crate) fn seal(flow: &str, round: u32, memo: &Value) -> String {
    let mut nonce = [0u8; 12];
    if SystemRandom::new().fill(&mut nonce).is_err() {
        // Still unique enough per round for a test fixture: the round is in the payload.
        eprintln!("conformance-server: no system randomness; requestState nonce is zero");
    }
    let payload = json!({"tool": flow, "round": round, "memo": memo, "nonce": hex(&nonce)});
    let bytes = payload.to_string().into_bytes();
    let tag = hmac::sign(&key(), &bytes);
    format!("{}.{}", hex(&bytes), hex(tag.as_ref()))
}

/// Checks the tag first, then that the state belongs to `flow`.
pub(crate) fn open(flow: &str, state: &str) -> Result<Opened, StateError> {
    let (payload_hex, tag_hex) = state.split_once('.').ok_or(StateError::Malformed)?;
    let payload = unhex(payload_hex).ok_or(StateError::Malformed)?;
    let tag = unhex(tag_hex).ok_or(StateError::BadTag)?;
    hmac::verify(&key(), &payload, &tag).map_err(|_| StateError::BadTag)?;
    let value: Value = serde_json::from_slice(&payload).map_err(|_| StateError::Malformed)?;
    if value.get("tool").and_then(Value::as_str) != Some(flow) {
        return Err(StateError::WrongFlow);
    }
    let round = value
        .get("round")
        .and_then(Value::as_u64)
        .and_then(|r| u32::try_from(r).ok())
        .ok_or(StateError::Malformed)?;
    let memo = value.get("memo").cloned().unwrap_or(Value::Null);
    Ok(Opened { round, memo })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lower-case hex only, even length; anything else (a `-TAMPERED` suffix) is `None`.
fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    text.as_bytes()
        .chunks_exact(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(pair, 16).ok()
        })
        .collect()
}
