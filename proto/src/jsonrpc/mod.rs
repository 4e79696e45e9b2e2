//! JSON-RPC 2.0 as MCP uses it: newline framing of the stdio transport,
//! one-pass classification of messages for routing, exact ids, and the few
//! messages the gateway writes itself.
//!
//! The gateway relays messages; it does not rebuild them. [`parse_message`]
//! validates the whole input as JSON (RFC 8259) but extracts only what
//! routing needs, with byte spans so that [`splice`] can swap ids and tokens
//! in place. Ids keep their exact JSON text ([`RawId`], [`Id`]) so a peer gets
//! back precisely what it sent, whatever its JSON type.
//!
//! Checks and the tests that pin them (in `jsonrpc/tests.rs`):
//!
//! | rule | test |
//! | --- | --- |
//! | one JSON value, nothing after it (no smuggled second message) | `reject_table` (`trailing garbage`) |
//! | duplicate `id`/`method`/`jsonrpc`/... keys rejected | `reject_table` (`duplicate`) |
//! | duplicate nested keys we route on rejected | `reject_table` (`duplicate progressToken`) |
//! | ids round-trip byte for byte | `accept_table`, `id_owned_round_trip` |
//! | nesting bounded, no recursion | `deep_nesting_is_bounded` |
//! | stdio lines bounded, never buffered past the limit | `line_oversize_dropped_next_intact` |

mod canonical;
mod encode;
mod id;
mod line;
mod members;
mod message;
mod scan;

use std::fmt;

pub use encode::{encode_error, encode_result, encode_string, splice};
pub use id::{Id, RawId};
pub use line::{Line, LineDecoder};
pub use members::{
    array_elements, error_code, member, member_string, object_members, string_token, Member,
    ValueKind,
};
pub use message::{parse_message, split_batch, Kind, Message, Meta};

pub use canonical::{canonical, CanonicalError};
pub use encode::encode_error_with_data;
pub use encode::write_u64;

// The validating JSON cursor, for the other modules of this crate that read
// JSON (mcp::capabilities, mcp::x_mcp_header, ...).
pub(crate) use canonical::unescape as unescape_strict;
pub(crate) use scan::{Cursor, Token, Type as JsonType};

/// Why a message was refused.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageError {
    /// A top-level JSON array: a batch. Split it with [`split_batch`] if the
    /// negotiated revision allows batches (2025-03-26), else refuse it.
    Batch,
    /// An internal invariant failed (a caller bug such as unsorted
    /// [`splice`] spans, never bad input).
    Internal(&'static str),
    /// Valid JSON that is not a JSON-RPC 2.0 message; the reason.
    Invalid(&'static str),
    /// Not UTF-8, or not exactly one JSON value.
    Parse,
}

impl MessageError {
    /// The JSON-RPC error code to answer with: −32700 for `Parse`, −32600
    /// for `Invalid` and `Batch`, −32603 for `Internal`.
    pub fn code(&self) -> i32 {
        match self {
            Self::Parse => codes::PARSE_ERROR,
            Self::Invalid(_) | Self::Batch => codes::INVALID_REQUEST,
            Self::Internal(_) => codes::INTERNAL_ERROR,
        }
    }
}

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Batch => f.write_str("batch messages are not supported here"),
            Self::Internal(why) => write!(f, "internal error: {why}"),
            Self::Invalid(why) => write!(f, "invalid JSON-RPC message: {why}"),
            Self::Parse => f.write_str("parse error: not a UTF-8 JSON value"),
        }
    }
}

impl std::error::Error for MessageError {}

/// JSON-RPC 2.0 error codes (§5.1) and the MCP/SDK ones the gateway uses.
pub mod codes {
    /// Invalid JSON was received.
    pub const PARSE_ERROR: i32 = -32700;
    /// The JSON sent is not a valid request object.
    pub const INVALID_REQUEST: i32 = -32600;
    /// The method does not exist or is not available.
    pub const METHOD_NOT_FOUND: i32 = -32601;
    /// Invalid method parameters.
    pub const INVALID_PARAMS: i32 = -32602;
    /// Internal JSON-RPC error.
    pub const INTERNAL_ERROR: i32 = -32603;
    /// Generic server error (TypeScript SDK: "Bad Request: ..." and the
    /// like on the Streamable HTTP transport).
    pub const SERVER_ERROR: i32 = -32000;
    /// Session not found (TypeScript SDK, answered with HTTP 404).
    pub const SESSION_NOT_FOUND: i32 = -32001;
    /// Request timed out (the TypeScript SDK's `ErrorCode.RequestTimeout`;
    /// the same number as `SESSION_NOT_FOUND`, as in the SDK).
    pub const REQUEST_TIMEOUT: i32 = -32001;
    /// MCP 2026-07-28: a standard `Mcp-*` header is missing, malformed or
    /// disagrees with the body (HTTP 400).
    pub const HEADER_MISMATCH: i32 = -32020;
    /// MCP 2026-07-28: the request needs a client capability the request's
    /// `_meta` did not declare (HTTP 400; `data.requiredCapabilities`).
    pub const MISSING_CLIENT_CAPABILITY: i32 = -32021;
    /// MCP 2026-07-28: the request's protocol version is not served (HTTP
    /// 400; `data.supported`, `data.requested`).
    pub const UNSUPPORTED_PROTOCOL_VERSION: i32 = -32022;
    /// MCP ≤ 2025-11-25 resource not found; 2026-07-28 uses
    /// [`INVALID_PARAMS`] instead and forbids this code.
    pub const RESOURCE_NOT_FOUND_LEGACY: i32 = -32002;
}

#[cfg(test)]
mod tests;
