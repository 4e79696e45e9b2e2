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
//! | authorizations per bridge | ≤ 3 per 10 minutes | [`MAX_AUTHORIZATIONS`], [`ATTEMPT_WINDOW`] |
//! | retries per request | one after 401, one step-up after 403 | [`Attempt`] |
//! | refresh margin | 60 s, or half the token's lifetime when shorter | [`REFRESH_MARGIN`] |
//! | `expires_in` | clamped to [0, 1 year]; absent → 1 hour | `flow::stored_tokens` |
//! | device polling | the AS's interval (≥ 1 s, +5 s per `slow_down`), ≤ 15 min | `flow::device_flow` |
//!
//! # The hook
//!
//! The bridge sends every upstream request through [`Authorizer::credential`]
//! (the `Authorization` value to add, refreshed first when the token is
//! about to expire) and, for a 401 or 403 answer, [`Authorizer::challenge`]
//! with the `WWW-Authenticate` values: [`Verdict::Retry`] (send the request
//! again with the new credential), [`Verdict::Fail`] (answer the local
//! client with the error) or [`Verdict::PassOn`] (a 403 that is not about
//! scope: the server's own answer). One authorization or refresh (a
//! flight) runs at a time, as a task of the [`Authorizer`]'s: a request that
//! is cancelled or times out meanwhile does not stop it. The requests that
//! met a 401 while an authorization ran take its outcome: they retry with
//! its token, or fail with its error (no second browser window).
//!
//! Nothing secret is logged: access and refresh tokens, codes, verifiers,
//! client secrets and device codes are [`Secret`]s (whose `Debug` hides
//! them) or never leave the function that uses them.

pub(crate) mod browser;
mod config;
mod error;
pub(crate) mod fetch;
mod flow;
pub(crate) mod loopback;
pub(crate) mod store;

#[cfg(test)]
mod flow_tests;
#[cfg(test)]
mod tests;

use std::cell::{OnceCell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, Instant};

use smol::Task;
use supergateway_proto::oauth::challenge::{self, Bearer};
use supergateway_proto::oauth::discovery::AuthorizationServer;
use supergateway_proto::oauth::scope;
use supergateway_proto::oauth::token::Action;
use supergateway_proto::url::Url;

pub(crate) use config::{Config, Flow};
pub(crate) use error::OAuthError;

use self::fetch::Fetcher;
use self::flow::Discovered;
use self::store::{ClientKind, Record, Store, Tokens};
use crate::rt;

/// A credential (a token, a client secret): proto's, whose `Debug` shows
/// no byte of it and which has no `Display`.
pub(crate) use supergateway_proto::oauth::Secret;

/// Authorizations per bridge in [`ATTEMPT_WINDOW`], at most.
pub(crate) const MAX_AUTHORIZATIONS: usize = 3;
/// The window of [`MAX_AUTHORIZATIONS`].
pub(crate) const ATTEMPT_WINDOW: Duration = Duration::from_secs(600);
/// Refresh this long before expiry (or at half the lifetime when shorter).
pub(crate) const REFRESH_MARGIN: u64 = 60;

/// How the authorization URL reaches the user ([`browser::open`]; tests
/// follow it themselves).
pub(crate) type Opener = Rc<dyn Fn(&str)>;

/// The reverse bridge's OAuth client: one per bridge.
pub(crate) struct Authorizer {
    inner: Rc<Inner>,
    /// The task of the latest flight: it runs on when the request that
    /// started it is cancelled or times out (the loopback listener stays up,
    /// a rotated refresh token reaches the store), and ends with the bridge.
    task: RefCell<Option<Task<()>>>,
}

/// What the flights share with the [`Authorizer`].
struct Inner {
    config: Config,
    /// The MCP endpoint (what the PRM must name).
    mcp: Url,
    fetcher: Fetcher,
    /// Opened at the first authorization: a bridge whose server never asks
    /// for one creates no directory.
    store: OnceCell<Store>,
    opener: Opener,
    /// The authorization or refresh running now: one at a time.
    flight: RefCell<Option<Rc<Flight>>>,
    held: RefCell<Held>,
}

/// One authorization or refresh, and its outcome for every request that
/// waited for it (a failure included: they do not each start another one).
struct Flight {
    kind: Kind,
    outcome: smol::lock::OnceCell<Outcome>,
}

/// The outcome of a flight; its error is shared by the requests that waited.
type Outcome = Result<Obtained, Rc<OAuthError>>;

/// What a [`Flight`] does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Gets a token after a 401.
    Authorize,
    /// Asks for more scope after a 403 `insufficient_scope`.
    StepUp,
    /// Refreshes the held token before it expires.
    Refresh,
}

/// The `Authorization` value for one request, and which token it is.
pub(crate) struct Credential {
    /// `Bearer TOKEN`.
    pub(crate) header: Secret,
    generation: u64,
}

/// What one upstream request has been through: one per request, told of
/// each send with [`Attempt::sent`].
#[derive(Default)]
pub(crate) struct Attempt {
    /// The token generation it was sent with (`None`: no token).
    generation: Option<u64>,
    retried: bool,
    stepped_up: bool,
    /// Retries made with a token taken from the store, which the server
    /// may still refuse (revoked, or expired before its `expires_at`): each
    /// earns one more round, up to [`MAX_ADOPTED`].
    adopted: u8,
}

/// Rounds of a request spent on stored tokens, at most (each is a token
/// another process wrote since the last one).
const MAX_ADOPTED: u8 = 2;

/// How [`Inner::authorize`] got the token it holds now.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Obtained {
    /// Taken from the store as it was (not checked by anyone yet).
    Stored,
    /// Issued just now (refresh or a new authorization).
    Issued,
}

/// What to do with a 401 or 403.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Fail the request (JSON-RPC error -32000 "Authorization failed: …").
    Fail(OAuthError),
    /// Not an authorization matter: pass the server's answer on.
    PassOn,
    /// Send the request again with [`Authorizer::credential`].
    Retry,
}

impl Attempt {
    /// The request is (re)sent with `credential`.
    pub(crate) fn sent(&mut self, credential: Option<&Credential>) {
        self.generation = credential.map(|credential| credential.generation);
    }

    /// The verdict on a 401 or 403 (`status`) once `outcome` is in.
    fn after(&mut self, status: u16, outcome: &Outcome) -> Verdict {
        match outcome {
            Ok(Obtained::Stored) if status == 401 && self.adopted < MAX_ADOPTED => {
                // The server may refuse it too: that 401 is not the retry's.
                self.adopted = self.adopted.saturating_add(1);
                self.retried = false;
                Verdict::Retry
            }
            Ok(_) => Verdict::Retry,
            // The bridge logs the failure once per request, as the local client sees it.
            Err(err) => Verdict::Fail(OAuthError::Shared(Rc::clone(err))),
        }
    }
}

#[derive(Default)]
struct Held {
    current: Option<Current>,
    /// Bumped at every new token.
    generation: u64,
    /// When the recent authorizations started.
    attempts: VecDeque<Instant>,
}

/// The token in use.
struct Current {
    issuer: String,
    resource: String,
    server: AuthorizationServer,
    tokens: Tokens,
    /// When it was obtained (unix seconds): the lifetime sets the margin.
    obtained_at: u64,
}

impl Authorizer {
    /// The client for the MCP endpoint `mcp`, with the token store from the
    /// environment and the system browser.
    pub(crate) fn new(config: Config, mcp: Url) -> Result<Self, OAuthError> {
        let fetcher = Fetcher::new()
            .map_err(|err| OAuthError::Fetch("HTTP client", fetch::FetchError::Http(err)))?
            .for_server(&mcp);
        Ok(Self::from_inner(Inner {
            config,
            mcp,
            fetcher,
            store: OnceCell::new(),
            opener: Rc::new(browser::open),
            flight: RefCell::default(),
            held: RefCell::default(),
        }))
    }

    /// The same from its parts (tests: a store in a temp dir, a browser
    /// they follow themselves).
    #[cfg(test)]
    pub(crate) fn with_parts(
        config: Config,
        mcp: Url,
        fetcher: Fetcher,
        store: Store,
        opener: Opener,
    ) -> Self {
        Self::from_inner(Inner {
            config,
            mcp,
            fetcher,
            store: OnceCell::from(store),
            opener,
            flight: RefCell::default(),
            held: RefCell::default(),
        })
    }

    fn from_inner(inner: Inner) -> Self {
        Self {
            inner: Rc::new(inner),
            task: RefCell::default(),
        }
    }

    /// Whether [`Self::credential`] will refresh (or wait for a flight)
    /// first: the bridge stops its clocks meanwhile.
    pub(crate) fn refresh_due(&self) -> bool {
        self.inner.needs_refresh().is_some()
    }

    /// The `Authorization` value to send, if a token is held; refreshed
    /// first when it expires within the margin (a failed refresh keeps the
    /// old token: the server's 401 then decides).
    pub(crate) async fn credential(&self) -> Option<Credential> {
        if self.inner.needs_refresh().is_some() {
            if let Some(flight) = self.running() {
                // Whatever it gave, look again: it may have left a fresh token.
                let _ = flight.outcome.wait().await;
            }
            if let Some(generation) = self.inner.needs_refresh() {
                let flight = self.running().unwrap_or_else(|| {
                    self.start(Kind::Refresh, |inner| async move {
                        match inner.refresh_held(generation).await {
                            Ok(()) => Ok(Obtained::Issued),
                            Err(err) => {
                                tracing::warn!("oauth: refreshing the access token failed: {err}");
                                Err(Rc::new(err))
                            }
                        }
                    })
                });
                // A failed refresh was logged by its task; the old token stays.
                let _ = flight.outcome.wait().await;
            }
        }
        let held = self.inner.held.borrow();
        let current = held.current.as_ref()?;
        Some(Credential {
            header: Secret::new(format!("Bearer {}", current.tokens.access_token.expose())),
            generation: held.generation,
        })
    }

    /// Handles a 401 or 403 answer (`www_authenticate`: its field values)
    /// to a request in `attempt`.
    pub(crate) async fn challenge(
        &self,
        status: u16,
        www_authenticate: &[&str],
        attempt: &mut Attempt,
    ) -> Verdict {
        let bearer = challenge::bearer(www_authenticate)
            .ok()
            .flatten()
            .unwrap_or_default();
        let step_up = match status {
            401 if attempt.retried => return Verdict::Fail(OAuthError::Unauthorized),
            401 => {
                attempt.retried = true;
                false
            }
            403 if bearer.insufficient_scope() && attempt.stepped_up => {
                return Verdict::Fail(OAuthError::ScopeRefused)
            }
            403 if bearer.insufficient_scope() => {
                attempt.stepped_up = true;
                true
            }
            _ => return Verdict::PassOn,
        };
        while let Some(flight) = self.running() {
            let outcome = flight.outcome.wait().await;
            // An authorization answers every 401 that met it, failed or not;
            // after a refresh or a step-up, look again.
            if !step_up && flight.kind == Kind::Authorize {
                return attempt.after(status, outcome);
            }
        }
        {
            let held = self.inner.held.borrow();
            // Another request authorised while this one waited: use that.
            if !step_up && held.current.is_some() && attempt.generation != Some(held.generation) {
                return Verdict::Retry;
            }
        }
        let kind = if step_up {
            Kind::StepUp
        } else {
            Kind::Authorize
        };
        let flight = self.start(kind, |inner| async move {
            inner.authorize(&bearer, step_up).await.map_err(Rc::new)
        });
        let outcome = flight.outcome.wait().await;
        attempt.after(status, outcome)
    }

    /// The flight running now, if any.
    fn running(&self) -> Option<Rc<Flight>> {
        self.inner.flight.borrow().clone()
    }

    /// Starts a flight (none runs) as a task of this authorizer's, in the
    /// caller's span.
    fn start<F>(&self, kind: Kind, work: impl FnOnce(Rc<Inner>) -> F) -> Rc<Flight>
    where
        F: Future<Output = Outcome> + 'static,
    {
        let flight = Rc::new(Flight {
            kind,
            outcome: smol::lock::OnceCell::new(),
        });
        let inner = Rc::clone(&self.inner);
        let work = work(Rc::clone(&inner));
        let done = Rc::clone(&flight);
        let span = tracing::Span::current();
        let task = rt::spawn(rt::in_span(span, async move {
            let outcome = work.await;
            // Set once, here: nobody else sets it.
            let _ = done.outcome.try_set(outcome);
            inner.flight.borrow_mut().take();
        }));
        *self.inner.flight.borrow_mut() = Some(Rc::clone(&flight));
        // The previous flight's task has ended (it cleared `flight` last).
        *self.task.borrow_mut() = Some(task);
        flight
    }
}

impl Inner {
    /// Discovery, then stored tokens, a refresh, or a new authorization.
    async fn authorize(&self, bearer: &Bearer, step_up: bool) -> Result<Obtained, OAuthError> {
        let found = flow::discover(&self.fetcher, &self.mcp, bearer).await?;
        let issuer = found.server.issuer().to_owned();
        let resource = found.prm.resource().to_owned();
        if let (Some(bound), Some(_)) = (&self.config.issuer, &self.config.client_id) {
            if *bound != issuer {
                return Err(OAuthError::PreregisteredIssuer(bound.clone()));
            }
        }
        tracing::info!(
            "oauth: MCP server requires authorization (resource {resource}, authorization server {issuer})"
        );
        let locked = self
            .store()
            .lock(&issuer, &resource, self.config.timeout)
            .await
            .map_err(OAuthError::Store)?;
        let mut record = locked
            .read()
            .map_err(OAuthError::Store)?
            .filter(|record| record.issuer == issuer && record.resource == resource)
            .unwrap_or_else(|| Record::new(&issuer, &resource));
        if let Some(bound) = record
            .client
            .as_ref()
            .filter(|c| c.kind == ClientKind::Preregistered)
        {
            if self.config.client_id.as_deref() != Some(bound.client_id.as_str()) {
                record.client = None;
            }
        }
        let held_token = self.held_token(&issuer, &resource);
        if !step_up {
            if let Some(tokens) = record.tokens.clone() {
                let fresh = tokens.expires_at > flow::now();
                if fresh && Some(&tokens.access_token) != held_token.as_ref() {
                    // Another bridge (or an earlier run) has a token we do
                    // not: take it.
                    self.adopt(&found, tokens);
                    return Ok(Obtained::Stored);
                }
                if tokens.refresh_token.is_some() {
                    if let Some(client) = self.refresh_client(&record, &found.server) {
                        match flow::refresh(
                            &self.fetcher,
                            &found.server,
                            &client,
                            &resource,
                            &tokens,
                        )
                        .await
                        {
                            Ok(new) => {
                                record.tokens = Some(new.clone());
                                locked.write(&record).map_err(OAuthError::Store)?;
                                self.adopt(&found, new);
                                return Ok(Obtained::Issued);
                            }
                            Err(OAuthError::Token(err)) if err.action() == Action::WipeTokens => {
                                tracing::info!(
                                    "oauth: the stored refresh token was refused; authorising again"
                                );
                                record.tokens = None;
                                locked.write(&record).map_err(OAuthError::Store)?;
                            }
                            Err(OAuthError::Token(err)) if err.action() == Action::WipeClient => {
                                tracing::info!(
                                    "oauth: the stored client was refused; registering again"
                                );
                                record = Record::new(&issuer, &resource);
                                locked.remove().map_err(OAuthError::Store)?;
                            }
                            Err(err) => return Err(err),
                        }
                    }
                }
            }
        }
        let requested = record
            .tokens
            .as_ref()
            .and_then(|tokens| tokens.requested_scope.clone());
        let scope = if step_up {
            let wanted = scope::step_up(
                requested.as_deref(),
                bearer.scope.as_deref(),
                found.server.scopes_supported(),
            )
            .map_err(|err| OAuthError::Proto("scope", err))?;
            let already = match (&requested, &wanted) {
                (Some(requested), Some(wanted)) => scope::covers(requested, wanted),
                (_, None) => true,
                (None, Some(_)) => false,
            };
            if already {
                return Err(OAuthError::ScopeRefused);
            }
            wanted
        } else {
            scope::initial(
                bearer.scope.as_deref(),
                found.prm.scopes_supported(),
                found.server.scopes_supported(),
            )
            .map_err(|err| OAuthError::Proto("scope", err))?
        };
        self.count_attempt()?;
        let result = match self.config.flow {
            Flow::AuthorizationCode => {
                flow::code_flow(
                    &self.fetcher,
                    &self.config,
                    &self.opener,
                    &found,
                    &mut record,
                    scope.as_deref(),
                )
                .await
            }
            Flow::Device => {
                flow::device_flow(
                    &self.fetcher,
                    &self.config,
                    &found,
                    &mut record,
                    scope.as_deref(),
                )
                .await
            }
            Flow::ClientCredentials => {
                flow::client_credentials(&self.fetcher, &self.config, &found, scope.as_deref())
                    .await
            }
        };
        let tokens = match result {
            Ok(tokens) => tokens,
            Err(err) => {
                // A registration made on the way is kept (or, after
                // invalid_client, forgotten); nothing else changes.
                let _ = locked.write(&record);
                return Err(err);
            }
        };
        tracing::info!(
            "oauth: authorised; token valid for {} s",
            tokens.expires_at.saturating_sub(flow::now())
        );
        record.tokens = Some(tokens.clone());
        locked.write(&record).map_err(OAuthError::Store)?;
        self.adopt(&found, tokens);
        Ok(Obtained::Issued)
    }

    /// Refreshes the held token (under the store lock: a token another
    /// bridge stored meanwhile is taken instead).
    async fn refresh_held(&self, generation: u64) -> Result<(), OAuthError> {
        let (issuer, resource, server, held) = {
            let held = self.held.borrow();
            if held.generation != generation {
                return Ok(());
            }
            let Some(current) = held.current.as_ref() else {
                return Ok(());
            };
            (
                current.issuer.clone(),
                current.resource.clone(),
                current.server.clone(),
                current.tokens.clone(),
            )
        };
        let locked = self
            .store()
            .lock(&issuer, &resource, self.config.timeout)
            .await
            .map_err(OAuthError::Store)?;
        let mut record = locked
            .read()
            .map_err(OAuthError::Store)?
            .unwrap_or_else(|| Record::new(&issuer, &resource));
        let found = |tokens| (issuer.clone(), resource.clone(), server.clone(), tokens);
        if let Some(stored) = record.tokens.clone() {
            if stored.access_token != held.access_token && stored.expires_at > flow::now() {
                self.set_current(found(stored));
                return Ok(());
            }
        }
        let client = self
            .refresh_client(&record, &server)
            .ok_or(OAuthError::NoRegistration)?;
        let base = record.tokens.clone().unwrap_or(held);
        match flow::refresh(&self.fetcher, &server, &client, &resource, &base).await {
            Ok(new) => {
                record.tokens = Some(new.clone());
                locked.write(&record).map_err(OAuthError::Store)?;
                self.set_current(found(new));
                Ok(())
            }
            Err(err) => {
                if let OAuthError::Token(token_err) = &err {
                    let wiped = match token_err.action() {
                        Action::WipeTokens => {
                            record.tokens = None;
                            let _ = locked.write(&record);
                            true
                        }
                        Action::WipeClient => {
                            let _ = locked.remove();
                            true
                        }
                        _ => false,
                    };
                    // The held tokens are as dead as the stored ones: the next request goes
                    // without them (its 401 starts an authorization) instead of refreshing
                    // with a revoked token first.
                    if wiped {
                        self.held.borrow_mut().current = None;
                    }
                }
                Err(err)
            }
        }
    }

    /// The token store (from the environment at first use).
    fn store(&self) -> &Store {
        self.store.get_or_init(Store::from_env)
    }

    /// The client to refresh with: the stored registration, else the
    /// configured one (pre-registered or CIMD, which are not stored).
    fn refresh_client(
        &self,
        record: &Record,
        server: &AuthorizationServer,
    ) -> Option<store::ClientRecord> {
        record.client.clone().or_else(|| {
            flow::known_client(&self.config, server, None)
                .ok()
                .flatten()
        })
    }

    /// The generation of the held token when it is due for a refresh.
    fn needs_refresh(&self) -> Option<u64> {
        let held = self.held.borrow();
        let current = held.current.as_ref()?;
        current.tokens.refresh_token.as_ref()?;
        let lifetime = current
            .tokens
            .expires_at
            .saturating_sub(current.obtained_at);
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        (current.tokens.expires_at <= flow::now().saturating_add(margin)).then_some(held.generation)
    }

    fn held_token(&self, issuer: &str, resource: &str) -> Option<Secret> {
        let held = self.held.borrow();
        held.current
            .as_ref()
            .filter(|current| current.issuer == issuer && current.resource == resource)
            .map(|current| current.tokens.access_token.clone())
    }

    fn adopt(&self, found: &Discovered, tokens: Tokens) {
        self.set_current((
            found.server.issuer().to_owned(),
            found.prm.resource().to_owned(),
            found.server.clone(),
            tokens,
        ));
    }

    fn set_current(
        &self,
        (issuer, resource, server, tokens): (String, String, AuthorizationServer, Tokens),
    ) {
        let mut held = self.held.borrow_mut();
        held.generation = held.generation.wrapping_add(1);
        held.current = Some(Current {
            issuer,
            resource,
            server,
            tokens,
            obtained_at: flow::now(),
        });
    }

    /// Counts an authorization against the cap, or refuses it.
    fn count_attempt(&self) -> Result<(), OAuthError> {
        let mut held = self.held.borrow_mut();
        let now = Instant::now();
        while held
            .attempts
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) >= ATTEMPT_WINDOW)
        {
            held.attempts.pop_front();
        }
        if held.attempts.len() >= MAX_AUTHORIZATIONS {
            return Err(OAuthError::AttemptCap);
        }
        held.attempts.push_back(now);
        Ok(())
    }
}
