//! The reverse bridges' upstream HTTP requests with the OAuth hook
//! (design/oauth-client.md "The hook"): every request to the remote MCP
//! server — POSTs, the GET streams, DELETE, the bridge's own `tools/list`
//! and probe — goes through [`Upstream::send`], which adds the
//! `Authorization` the [`Authorizer`] holds and hands it a 401 or 403.
//!
//! While an authorization or a refresh runs (the user in the browser,
//! device polling, another process's lock), and while the local client answers the
//! server's elicitation or sampling request ([`Asking`]), the bridge's
//! clocks stop ([`Pauses`]): a `--requestTimeout` budget and the relay's
//! own deadlines (the probe's) only count time nobody waits for a person.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_io::Timer;
use futures_lite::FutureExt;
use smol::Task;
use supergateway_proto::http::{HeaderName, HeaderValue, Method};
use supergateway_proto::jsonrpc::{Kind, Message};
use supergateway_proto::url::Url;

use crate::cli::Config;
use crate::http::client::{Client, ClientError, ClientResponse};
use crate::oauth::{Attempt, Authorizer, Credential, OAuthError, Verdict};
use crate::rt;

/// Bound on a 401/403 body read before the request is sent again (the
/// connection then goes back to the pool).
const CHALLENGE_BODY_BYTES: u64 = 64 * 1024;
/// Longest the body of a 401/403 may take to arrive.
const CHALLENGE_BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `headers` (`--header`, `--oauth2Bearer`) set `Authorization`.
pub(crate) fn has_static_authorization(headers: &[(HeaderName, HeaderValue)]) -> bool {
    headers
        .iter()
        .any(|(name, _)| name.as_str().eq_ignore_ascii_case("authorization"))
}

/// Whether the bridge runs the OAuth client: with `--oauth`, or when no
/// static `Authorization` is configured (a static one wins otherwise).
pub(crate) fn wants_oauth(config: &Config) -> bool {
    config.oauth.forced || !has_static_authorization(&config.headers)
}

/// The remote MCP server's client with its OAuth client, if any.
pub(crate) struct Upstream {
    client: Client,
    auth: Option<Authorizer>,
    pauses: Rc<Pauses>,
    asking: Rc<Asking>,
}

/// What came back from a request.
pub(crate) enum Answer {
    /// The response head (the body follows).
    Head(Box<ClientResponse>),
    /// A 403 that is the server's own answer, not about scope (its body
    /// was read while the authorizer looked at it).
    Read { status: u16, body: Vec<u8> },
}

/// Why a request got no answer.
#[derive(Debug)]
pub(crate) enum SendError {
    /// The request could not be made.
    Http(ClientError),
    /// The server wants authorization and it failed: `status` is the
    /// server's last answer (401 or 403).
    Auth { status: u16, error: OAuthError },
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http(err) => err.fmt(f),
            Self::Auth { error, .. } => write!(f, "Authorization failed: {error}"),
        }
    }
}

impl Upstream {
    /// `input_timeout` (`--inputTimeout`) bounds each pause for a server
    /// request the local client answers.
    pub(crate) fn new(client: Client, auth: Option<Authorizer>, input_timeout: Duration) -> Self {
        let pauses = Rc::new(Pauses::default());
        let asking = Rc::new(Asking {
            pauses: Rc::clone(&pauses),
            limit: input_timeout,
            open: RefCell::default(),
        });
        Self {
            client,
            auth,
            pauses,
            asking,
        }
    }

    /// The server's requests that wait for a person.
    pub(crate) fn asking(&self) -> &Rc<Asking> {
        &self.asking
    }

    /// The HTTP client (for connects that carry no request).
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// The bridge's clock pauses (shared with its link and its request
    /// timers).
    pub(crate) fn pauses(&self) -> &Rc<Pauses> {
        &self.pauses
    }

    /// Sends a request with the held credential (if any) and no more: a
    /// 401 is not acted on (the session's DELETE on the way out must not
    /// open a browser).
    pub(crate) async fn send_held(
        &self,
        method: Method,
        url: &Url,
        headers: &[(&str, &[u8])],
        head_timeout: Option<Duration>,
    ) -> Result<ClientResponse, ClientError> {
        let credential = match &self.auth {
            Some(auth) => self.credential(auth).await,
            None => None,
        };
        let mut all = headers.to_vec();
        if let Some(credential) = &credential {
            all.push(("authorization", credential.header.expose().as_bytes()));
        }
        self.client
            .send(method, url, &all, None, head_timeout)
            .await
    }

    /// Sends a request as [`Client::send`] does, with the held credential;
    /// a 401 or 403 goes to the authorizer, and the same request (body
    /// included) is sent again when it says so.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &Url,
        headers: &[(&str, &[u8])],
        body: Option<&[u8]>,
        head_timeout: Option<Duration>,
    ) -> Result<Answer, SendError> {
        let Some(auth) = &self.auth else {
            return self
                .client
                .send(method, url, headers, body, head_timeout)
                .await
                .map(|response| Answer::Head(Box::new(response)))
                .map_err(SendError::Http);
        };
        let mut attempt = Attempt::default();
        loop {
            let credential = self.credential(auth).await;
            attempt.sent(credential.as_ref());
            let mut all = headers.to_vec();
            if let Some(credential) = &credential {
                all.push(("authorization", credential.header.expose().as_bytes()));
            }
            let response = self
                .client
                .send(method, url, &all, body, head_timeout)
                .await
                .map_err(SendError::Http)?;
            let status = response.status();
            if !matches!(status, 401 | 403) {
                return Ok(Answer::Head(Box::new(response)));
            }
            let challenges: Vec<String> = response
                .head()
                .headers()
                .filter(|(name, _)| name.eq_ignore_ascii_case("www-authenticate"))
                .map(|(_, value)| String::from_utf8_lossy(value).into_owned())
                .collect();
            // Read (bounded in size and time) so that the connection can be used again; a
            // server that trickles this body must not hold the request (or the writer).
            let deadline = async {
                Timer::after(CHALLENGE_BODY_TIMEOUT).await;
                Err(ClientError::Timeout("error body"))
            };
            let body = response
                .body(CHALLENGE_BODY_BYTES)
                .or(deadline)
                .await
                .unwrap_or_default();
            let challenges: Vec<&str> = challenges.iter().map(String::as_str).collect();
            let verdict = {
                let _paused = self.pauses.pause();
                auth.challenge(status, &challenges, &mut attempt).await
            };
            match verdict {
                Verdict::Retry => {}
                Verdict::PassOn => return Ok(Answer::Read { status, body }),
                Verdict::Fail(error) => return Err(SendError::Auth { status, error }),
            }
        }
    }

    /// The authorizer's credential; the clocks stop while it refreshes the
    /// token first (or waits for the flight under way).
    async fn credential(&self, auth: &Authorizer) -> Option<Credential> {
        let _paused = auth.refresh_due().then(|| self.pauses.pause());
        auth.credential().await
    }
}

/// Server requests that wait for the local client's user: elicitation
/// and sampling (the client may ask its user to approve). From the request
/// until its answer goes upstream the clocks pause, at most `limit` each.
pub(crate) struct Asking {
    pauses: Rc<Pauses>,
    limit: Duration,
    /// By the server's request id (raw JSON).
    open: RefCell<HashMap<Vec<u8>, Open>>,
}

/// One request waiting for its answer: its pause, and the task that ends
/// it at the limit.
type Open = (Paused, Task<()>);

/// Requests tracked at once, at most (more are not paused for).
const MAX_ASKING: usize = 64;

impl Asking {
    /// Notes a message from the server: a request for a person pauses.
    pub(crate) fn from_server(self: &Rc<Self>, message: &Message<'_>) {
        let asks = matches!(
            message.method.as_deref(),
            Some("elicitation/create" | "sampling/createMessage")
        );
        let (Kind::Request, true, Some(id)) = (message.kind, asks, &message.id) else {
            return;
        };
        let id = id.as_bytes().to_vec();
        if self.open.borrow().len() >= MAX_ASKING || self.open.borrow().contains_key(&id) {
            return;
        }
        let paused = self.pauses.pause();
        let weak = Rc::downgrade(self);
        let limit = self.limit;
        let key = id.clone();
        let expiry = rt::spawn(async move {
            Timer::after(limit).await;
            if let Some(asking) = weak.upgrade() {
                // This task ends here: detach it before its handle drops.
                let entry = asking.open.borrow_mut().remove(&key);
                if let Some((_, task)) = entry {
                    task.detach();
                }
            }
        });
        self.open.borrow_mut().insert(id, (paused, expiry));
    }

    /// Notes a message for the server: the answer to such a request ends
    /// its pause.
    pub(crate) fn to_server(&self, message: &Message<'_>) {
        if !matches!(message.kind, Kind::Response | Kind::ErrorResponse) {
            return;
        }
        if let Some(id) = &message.id {
            let entry = self.open.borrow_mut().remove(id.as_bytes());
            drop(entry);
        }
    }
}

/// The times the bridge waited for an authorization: its clocks leave them
/// out. Pauses nest (concurrent requests may wait at once).
#[derive(Default)]
pub(crate) struct Pauses {
    state: RefCell<PauseState>,
}

#[derive(Default)]
struct PauseState {
    depth: u32,
    since: Option<Instant>,
    total: Duration,
}

/// Ends a pause when dropped (also when the waiting request is cancelled).
pub(crate) struct Paused(Rc<Pauses>);

impl Drop for Paused {
    fn drop(&mut self) {
        let mut state = self.0.state.borrow_mut();
        state.depth = state.depth.saturating_sub(1);
        if state.depth == 0 {
            if let Some(since) = state.since.take() {
                state.total = state.total.saturating_add(since.elapsed());
            }
        }
    }
}

impl Pauses {
    /// Stops the clocks until the guard is dropped.
    pub(crate) fn pause(self: &Rc<Self>) -> Paused {
        let mut state = self.state.borrow_mut();
        if state.depth == 0 {
            state.since = Some(Instant::now());
        }
        state.depth = state.depth.saturating_add(1);
        Paused(Rc::clone(self))
    }

    /// All paused time so far (the current pause included).
    pub(crate) fn paused(&self) -> Duration {
        let state = self.state.borrow();
        let current = state.since.map_or(Duration::ZERO, |since| since.elapsed());
        state.total.saturating_add(current)
    }

    /// Resolves once `budget` has passed outside pauses.
    pub(crate) async fn sleep(&self, budget: Duration) {
        let started = Instant::now();
        let paused_before = self.paused();
        loop {
            let paused = self.paused().saturating_sub(paused_before);
            let spent = started.elapsed().saturating_sub(paused);
            let Some(left) = budget.checked_sub(spent).filter(|left| !left.is_zero()) else {
                return;
            };
            // Paused time meanwhile makes this wake early: it waits again.
            Timer::after(left).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Pauses;

    #[test]
    fn pauses_nest_and_add_up() {
        let pauses = std::rc::Rc::new(Pauses::default());
        assert_eq!(pauses.paused(), Duration::ZERO);
        let first = pauses.pause();
        let second = pauses.pause();
        std::thread::sleep(Duration::from_millis(20));
        drop(first);
        assert!(pauses.paused() >= Duration::from_millis(20));
        drop(second);
        let total = pauses.paused();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(pauses.paused(), total, "no pause runs");
    }

    #[test]
    fn sleep_leaves_paused_time_out() {
        let pauses = std::rc::Rc::new(Pauses::default());
        let started = std::time::Instant::now();
        crate::rt::block_on(async {
            let paused = pauses.pause();
            let sleeping = pauses.sleep(Duration::from_millis(30));
            let holding = async {
                async_io::Timer::after(Duration::from_millis(60)).await;
                drop(paused);
                std::future::pending::<()>().await;
            };
            futures_lite::FutureExt::or(sleeping, holding).await;
        });
        assert!(started.elapsed() >= Duration::from_millis(90));
    }
}
