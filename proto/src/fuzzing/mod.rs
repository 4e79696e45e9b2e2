//! Entry points for the fuzz targets and the corpus-replay tests, one file
//! per protocol area. Each `pub fn name(data: &[u8])` is the body of the
//! cargo-fuzz target `fuzz/fuzz_targets/name.rs` and asserts properties by
//! panicking; proto/tests/fuzz_corpus.rs replays the committed corpus
//! through the same functions on stable.
//!
//! Built only with the `fuzzing` cargo feature (and for proto's own unit
//! tests, whose property tests call these): it is not part of the library's
//! API, and it is what pulls in serde_json, the reference JSON parser
//! `parse_message` compares against.

mod chunks;
mod config;
mod http;
mod jsonrpc;
mod jwt;
mod mcp;
mod mux;
mod oauth;
mod otlp;
mod relay;
mod sse;
mod url;
mod x509;

pub use self::config::mcp_config;
pub use self::http::{chunked_decode, content_length, parse_head, parse_response_head};
pub use self::jsonrpc::{line_decode, parse_message};
pub use self::jwt::jwt;
pub use self::mcp::{canonical, header_value, request_state};
pub use self::mux::mux_sequence;
pub use self::oauth::oauth_documents;
pub use self::otlp::traceparent;
pub use self::relay::relay_sequence;
pub use self::sse::sse_decode;
pub use self::url::url_parse;
pub use self::x509::x509_subject;
