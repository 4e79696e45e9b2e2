//! The issuer's signing keys: found through its metadata (RFC 8414, then
//! OpenID Connect Discovery, the `issuer` compared exactly), fetched from
//! its `jwks_uri` with the bounded [`Fetcher`], kept for the answer's
//! `Cache-Control: max-age` (clamped to [`MIN_MAX_AGE`]…[`MAX_MAX_AGE`],
//! [`DEFAULT_MAX_AGE`] without one).
//!
//! - One fetch at a time: requests that need keys while a fetch runs wait
//!   for it and use its result (the gate is an async mutex; whoever gets it
//!   after a fetch sees the new generation and does not fetch again). Only
//!   requests that find no keys at all wait: stale keys are used while a
//!   background fetch replaces them.
//! - A failed fetch keeps the last good keys, and the next attempt waits
//!   [`RETRY_AFTER`], so an unreachable issuer costs a request no more than
//!   one wait per [`RETRY_AFTER`]. It is logged once until a fetch succeeds.
//!   The last good keys serve at most [`MAX_STALE`] past their freshness:
//!   a key the issuer has withdrawn (rotated out after a leak) must not be
//!   trusted for ever by a gateway that can no longer reach it (503 then).
//! - A token whose key is unknown (rotation) triggers a refetch at most once
//!   per [`NO_KEY_REFETCH`], so tokens with made-up `kid`s cannot make the
//!   gateway hammer the issuer.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use smol::lock::Mutex;
use supergateway_proto::jwt::{parse_jwks, Jwks, Limits};
use supergateway_proto::oauth::discovery::{authorization_server_urls, AuthorizationServer};
use supergateway_proto::url::Url;

use crate::oauth::fetch::{FetchError, Fetcher};
use crate::rt;

/// Keys kept at least this long, whatever `max-age` says.
const MIN_MAX_AGE: Duration = Duration::from_secs(60);
/// Keys refetched at least this often, whatever `max-age` says.
const MAX_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// Without `Cache-Control: max-age`.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(15 * 60);
/// After a failed fetch, the next one waits this long.
const RETRY_AFTER: Duration = Duration::from_secs(10);
/// An unknown `kid` refetches the keys at most this often.
const NO_KEY_REFETCH: Duration = Duration::from_secs(60);
/// Keys whose refresh keeps failing are used at most this long past their
/// freshness, then dropped.
const MAX_STALE: Duration = Duration::from_secs(24 * 3600);

/// See the module documentation.
pub(crate) struct Keys {
    issuer: String,
    fetcher: Fetcher,
    state: RefCell<State>,
    /// Held while a fetch runs.
    gate: Mutex<()>,
    /// When the last refetch for an unknown key started.
    last_no_key: Cell<Option<Instant>>,
    /// A background refresh of stale keys is spawned.
    refreshing: Cell<bool>,
}

struct State {
    jwks: Option<Rc<Jwks>>,
    /// The `jwks_uri` found, kept until a fetch from it fails.
    jwks_uri: Option<Url>,
    /// Counts finished fetch attempts, so a waiter can tell one ran
    /// meanwhile.
    generation: u64,
    /// The keys are used without a fetch until then.
    fresh_until: Option<Instant>,
    /// No fetch before then (after a failure).
    retry_at: Option<Instant>,
    /// The last fetch failed and that was logged.
    failing: bool,
}

/// No keys could be had at all (the issuer has not answered yet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Unavailable;

impl Keys {
    pub(crate) fn new(issuer: &str, fetcher: Fetcher) -> Self {
        Self {
            issuer: issuer.to_owned(),
            fetcher,
            state: RefCell::new(State {
                jwks: None,
                jwks_uri: None,
                generation: 0,
                fresh_until: None,
                retry_at: None,
                failing: false,
            }),
            gate: Mutex::new(()),
            last_no_key: Cell::new(None),
            refreshing: Cell::new(false),
        }
    }

    /// The keys to verify with now. Cached keys are used at once; once
    /// stale (and no failed fetch is waiting out [`RETRY_AFTER`]) they are
    /// refetched in the background, so no request waits for the issuer
    /// while there are keys. Without keys yet, the request waits for the
    /// (shared) fetch.
    pub(crate) async fn current(self: &Rc<Self>) -> Result<Rc<Jwks>, Unavailable> {
        let now = Instant::now();
        let jwks = self.usable(now);
        let (generation, due) = {
            let state = self.state.borrow();
            let fresh = state.fresh_until.is_some_and(|until| now < until);
            let waiting = state.retry_at.is_some_and(|at| now < at);
            (state.generation, !fresh && !waiting)
        };
        match jwks {
            Some(jwks) => {
                if due && !self.refreshing.replace(true) {
                    let keys = Rc::clone(self);
                    rt::spawn(async move {
                        keys.fetch_once(generation).await;
                        keys.refreshing.set(false);
                    })
                    .detach();
                }
                Ok(jwks)
            }
            None if due => {
                self.fetch_once(generation).await;
                self.usable(Instant::now()).ok_or(Unavailable)
            }
            None => Err(Unavailable),
        }
    }

    /// The keys, unless they are more than [`MAX_STALE`] past their
    /// freshness (dropped then, with one warning).
    fn usable(&self, now: Instant) -> Option<Rc<Jwks>> {
        let mut state = self.state.borrow_mut();
        let expired = state
            .fresh_until
            .is_some_and(|until| now.saturating_duration_since(until) > MAX_STALE);
        if expired && state.jwks.take().is_some() {
            tracing::warn!(
                "--authIssuer {}: the last good signing keys are more than {} h past their \
                 max-age and the issuer still cannot be reached: tokens are refused (503) \
                 until a fetch succeeds",
                self.issuer,
                MAX_STALE.as_secs() / 3600
            );
        }
        state.jwks.clone()
    }

    /// The start-up fetch, so that the first request finds the keys (a
    /// request that comes first shares it: same generation).
    pub(crate) async fn prefetch(&self) {
        let generation = self.state.borrow().generation;
        self.fetch_once(generation).await;
    }

    /// A token named a key `seen` lacks: refetch, unless one was done for
    /// that reason within [`NO_KEY_REFETCH`]. The newer keys, if there are.
    pub(crate) async fn refetch_for_unknown_key(&self, seen: &Rc<Jwks>) -> Option<Rc<Jwks>> {
        let now = Instant::now();
        let recent = self
            .last_no_key
            .get()
            .is_some_and(|last| now.saturating_duration_since(last) < NO_KEY_REFETCH);
        if !recent {
            self.last_no_key.set(Some(now));
            let generation = self.state.borrow().generation;
            self.fetch_once(generation).await;
        }
        // Also when no refetch was allowed: one that ran since `seen` was
        // taken may have the key.
        let latest = self.usable(Instant::now())?;
        (!Rc::ptr_eq(&latest, seen)).then_some(latest)
    }

    /// Fetches, unless a fetch attempt started after `generation` was read
    /// (then that one's result stands).
    async fn fetch_once(&self, generation: u64) {
        let _held = self.gate.lock().await;
        if self.state.borrow().generation != generation {
            return;
        }
        let outcome = self.fetch().await;
        let now = Instant::now();
        let mut state = self.state.borrow_mut();
        // Counted when done: whoever read the number while this fetch ran
        // and waited at the gate finds it changed and takes this result.
        state.generation = generation.wrapping_add(1);
        match outcome {
            Ok((jwks, uri, max_age)) => {
                if state.failing {
                    tracing::info!("--authIssuer {}: signing keys fetched", self.issuer);
                }
                tracing::debug!(
                    "--authIssuer {}: {} signing key(s), kept {} s",
                    self.issuer,
                    jwks.len(),
                    max_age.as_secs()
                );
                state.jwks = Some(Rc::new(jwks));
                state.jwks_uri = Some(uri);
                state.fresh_until = now.checked_add(max_age);
                state.retry_at = None;
                state.failing = false;
            }
            Err(why) => {
                if !state.failing {
                    let keeping = if state.jwks.is_some() {
                        ", keeping the last good keys"
                    } else {
                        ""
                    };
                    tracing::warn!(
                        "--authIssuer {}: signing keys not fetched{keeping}: {why}",
                        self.issuer
                    );
                }
                state.failing = true;
                state.jwks_uri = None;
                state.retry_at = now.checked_add(RETRY_AFTER);
            }
        }
    }

    /// Metadata (unless the `jwks_uri` is known), then the key set.
    async fn fetch(&self) -> Result<(Jwks, Url, Duration), String> {
        let known = self.state.borrow().jwks_uri.clone();
        let uri = match known {
            Some(uri) => uri,
            None => self.discover().await?,
        };
        let answer = self
            .fetcher
            .get(
                &uri,
                &[("accept", b"application/jwk-set+json, application/json")],
            )
            .await
            .map_err(|err| format!("{}: {err}", uri.redacted()))?;
        let jwks = parse_jwks(&answer.body, Limits::DEFAULT)
            .map_err(|err| format!("{}: {err}", uri.redacted()))?;
        let max_age = answer.max_age.map_or(DEFAULT_MAX_AGE, |secs| {
            Duration::from_secs(secs).clamp(MIN_MAX_AGE, MAX_MAX_AGE)
        });
        Ok((jwks, uri, max_age))
    }

    /// The issuer's `jwks_uri`: RFC 8414 metadata first, then OpenID's.
    async fn discover(&self) -> Result<Url, String> {
        let candidates = authorization_server_urls(&self.issuer)
            .map_err(|err| format!("the issuer URL: {err}"))?;
        let mut last = String::from("no metadata URL");
        for url in candidates {
            let body = match self.fetcher.get_json(&url, &[]).await {
                Ok(body) => body,
                // Not there: try the next well-known location.
                Err(FetchError::Status(status)) if (400..500).contains(&status) => {
                    last = format!("{}: answered {status}", url.redacted());
                    continue;
                }
                Err(err) => return Err(format!("{}: {err}", url.redacted())),
            };
            let server = AuthorizationServer::parse(&body, &self.issuer)
                .map_err(|err| format!("{}: {err}", url.redacted()))?;
            return server
                .jwks_uri()
                .cloned()
                .ok_or_else(|| format!("{}: the metadata has no jwks_uri", url.redacted()));
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_fresh_until(fresh_until: Instant) -> Keys {
        let keys = Keys::new("https://issuer.example", Fetcher::new().unwrap());
        let jwks = parse_jwks(br#"{"keys": []}"#, Limits::DEFAULT).unwrap();
        let mut state = keys.state.borrow_mut();
        state.jwks = Some(Rc::new(jwks));
        state.fresh_until = Some(fresh_until);
        drop(state);
        keys
    }

    #[test]
    fn stale_keys_serve_a_day_past_their_freshness_then_are_dropped() {
        let now = Instant::now();
        let keys = keys_fresh_until(now);
        assert!(keys.usable(now).is_some());
        assert!(keys.usable(now + MAX_STALE).is_some());
        assert!(keys
            .usable(now + MAX_STALE + Duration::from_secs(1))
            .is_none());
        // Dropped, not hidden: a later look (any time) finds none either.
        assert!(keys.usable(now).is_none());
    }
}
