//! Sans-IO protocol layer of supergateway.
//!
//! Everything that parses or produces bytes that cross a network or a pipe
//! lives here, and nothing here does I/O: no async, no sockets, no clock, no
//! logging. Decoders are push-style and resumable: the caller hands them the
//! bytes it has, they report how many they consumed and what they produced,
//! and "need more" is never an error. Encoders append to a `Vec<u8>` the
//! caller owns. Every size is bounded by an explicit limit, and no input can
//! make this crate panic (the workspace denies the panic lints outside tests).
//!
//! The binary (`src/` of the workspace) is a thin driver around these types:
//! read → decode → act → encode → write.
#![forbid(unsafe_code)]
#![cfg_attr(not(fuzzing), warn(missing_docs))]

pub mod config;
pub mod http;
pub mod int_map;
pub mod jsonrpc;
pub mod jwt;
pub mod mcp;
pub mod metrics;
pub mod mux;
pub mod oauth;
pub mod otlp;
pub mod rate_limit;
pub mod relay;
pub mod secrets;
pub mod sse;
pub mod url;
pub mod ws;
pub mod x509;

// The fuzz harnesses: behind the `fuzzing` feature, and hidden from the docs
// (not an API). Proto's own property tests call them too.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
