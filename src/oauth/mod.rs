//! The reverse bridges' OAuth 2.1 client (design/oauth-client.md (b)): all
//! of its I/O — HTTP to authorization servers, the loopback redirect
//! listener, the browser, the token store and its lock — over the sans-IO
//! pieces in `supergateway_proto::oauth`.
//!
//! # Timeouts and caps
//!
//! | what | bound | where |
//! |---|---|---|
//! | connect (each AS / PRM / token request) | the HTTP client's 10 s | `fetch` |
//! | each metadata GET, registration, token, device POST: head + body | 30 s | [`fetch::EXCHANGE_TIMEOUT`] |
//! | JSON bodies read | 64 KiB each | [`fetch::MAX_JSON_BYTES`] |
//! | redirects on metadata/token requests | none followed | `fetch` |
//! | interactive wait (callback, device polling, lock wait) | `--oauthTimeout`, 300 s | the flows, [`store::Store::lock`] |
//! | loopback listener | 127.0.0.1 only; ≤ 32 connections per flow, each head ≤ 8 KiB within 5 s | [`loopback`] |
//! | token file | ≤ 64 KiB read | [`store::MAX_FILE_BYTES`] |
//!
//! Nothing secret is logged: access and refresh tokens, codes, verifiers,
//! client secrets and device codes are [`Secret`]s (whose `Debug` hides
//! them) or never leave the function that uses them.

use std::fmt;

pub(crate) mod browser;
mod config;
pub(crate) mod fetch;
pub(crate) mod loopback;
pub(crate) mod store;

#[cfg(test)]
mod tests;

pub(crate) use config::{Config, Flow};

/// A credential: a token, a client secret. `Debug` shows no byte of it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(value: String) -> Self {
        Self(value)
    }

    /// The value, for the one place that sends or stores it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}
