//! What the two reverse bridges (SSE→stdio, Streamable HTTP→stdio) share.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use async_signal::{Signal, Signals};
use futures_lite::StreamExt;
use smol::Task;
use supergateway_proto::jsonrpc::{encode_error, parse_message, Id, Kind};
use supergateway_proto::url::Url;

use crate::cli::Config;
use crate::gateway::authorized::{wants_oauth, Upstream};
use crate::gateway::link::{self, ClientError, Link, SessionKey};
use crate::gateway::local::Stdout;
use crate::http::client::{Client, ClientOptions};
use crate::http::LiveHeaders;
use crate::oauth::Authorizer;
use crate::rt;

/// Bound on one SSE event from the server.
pub(crate) const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// Shortest wait before any reconnection, whatever `retry` the server sent:
/// a server that sends `retry: 0` and closes must not get a reconnect storm
/// (each reconnect replays `initialize` with the `--header` credentials).
pub(crate) const RECONNECT_FLOOR: Duration = Duration::from_millis(250);
/// Longest wait the bridge chooses itself while failures continue (a longer
/// `retry` from the server is still honoured).
pub(crate) const RECONNECT_CAP: Duration = Duration::from_secs(30);
/// A connection that lasted this long was healthy: the streak of failures
/// ends with it. A shorter one (a stream the server closes at once) counts
/// as a failure, or a server that accepts and closes would reset the
/// backoff every time.
pub(crate) const HEALTHY_AFTER: Duration = Duration::from_secs(5);

/// When to reconnect to the MCP server: at least the server's `retry` (SSE
/// and MCP require it) and never less than [`RECONNECT_FLOOR`]; while
/// failures continue, the wait doubles, with random jitter that only adds,
/// up to [`RECONNECT_CAP`].
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    /// Failures since the last healthy connection.
    streak: u32,
    /// Why the last attempt failed, while the streak lasts.
    cause: Option<String>,
}

impl Backoff {
    /// Records a failure (`cause` is shown to the local client, e.g. "could
    /// not reach the MCP server: cannot connect: Connection refused") and
    /// returns how long to wait before the next attempt. `retry` is the
    /// server's `retry` field, if it sent one; `random` spreads the jitter.
    pub(crate) fn fail(&mut self, cause: String, retry: Option<Duration>, random: u64) -> Duration {
        let wait = reconnect_delay(self.streak, retry, random);
        if self.streak == 0 {
            tracing::warn!(
                "{cause}; reconnecting in {} ms, then with backoff up to {} s while this lasts",
                wait.as_millis(),
                RECONNECT_CAP.as_secs()
            );
        } else {
            tracing::debug!("{cause}; reconnecting in {} ms", wait.as_millis());
        }
        self.streak = self.streak.saturating_add(1);
        self.cause = Some(cause);
        wait
    }

    /// The server answered (a stream is open): requests may be sent again.
    /// The streak goes on until the connection proves healthy ([`ended`]):
    /// a server that accepts and closes at once still gets longer waits.
    ///
    /// [`ended`]: Backoff::ended
    pub(crate) fn connected(&mut self) {
        if self.streak > 0 {
            tracing::debug!(
                "connected to the MCP server after {} failed attempt(s)",
                self.streak
            );
        }
        self.cause = None;
    }

    /// The connection ended after `lasted`: a healthy one ends the streak
    /// (its end is then the first failure of a new one).
    pub(crate) fn ended(&mut self, lasted: Duration) {
        if lasted >= HEALTHY_AFTER {
            self.streak = 0;
        }
    }

    /// An exchange with the server succeeded: the streak is over.
    pub(crate) fn succeeded(&mut self) {
        if self.streak > 0 {
            tracing::info!(
                "the MCP server is reachable again after {} failed attempt(s)",
                self.streak
            );
        }
        *self = Self::default();
    }

    /// The cause of the last failure, from that failure until a connection
    /// is up again ([`connected`]): for a bridge that reconnects in the
    /// background, why a request cannot be sent now.
    ///
    /// [`connected`]: Backoff::connected
    pub(crate) fn failing(&self) -> Option<&str> {
        self.cause.as_deref()
    }
}

/// The wait after the `streak`-th consecutive failure (0 for the first):
/// what [`Backoff`] uses, and a reconnection that needs no refusal or log.
pub(crate) fn reconnect_delay(streak: u32, retry: Option<Duration>, random: u64) -> Duration {
    let base = retry.unwrap_or(Duration::ZERO).max(RECONNECT_FLOOR);
    let ceiling = RECONNECT_CAP.max(base);
    let grown = base
        .saturating_mul(1u32.checked_shl(streak.min(16)).unwrap_or(u32::MAX))
        .min(ceiling);
    // Up to half again, so that many bridges cut off together do not come
    // back together; never below `grown`, which honours `retry`.
    let permille = u32::try_from(random % 1001).unwrap_or(0);
    let jitter = grown
        .checked_div(2000)
        .and_then(|step| step.checked_mul(permille))
        .unwrap_or_default();
    grown.saturating_add(jitter).min(ceiling)
}

/// A random number for [`Backoff::fail`] (0 if the OS has none to give:
/// the wait is then the shortest allowed, which is still safe).
pub(crate) fn jitter_seed() -> u64 {
    let mut bytes = [0; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => u64::from_le_bytes(bytes),
        Err(_) => 0,
    }
}

/// The remote URL of a reverse bridge and the HTTP client to reach it, or
/// the exit code after a one-line error (`flag` names the URL's flag).
pub(crate) fn connect(
    flag: &str,
    url: &str,
    config: &Config,
    headers: &LiveHeaders,
) -> Result<(Url, Client), i32> {
    let url = Url::parse(url).map_err(|err| {
        eprintln!("supergateway: {flag} URL: {err}");
        2
    })?;
    let client = Client::new(client_options(config, headers)).map_err(|err| {
        eprintln!("supergateway: {err}");
        1
    })?;
    Ok((url, client))
}

/// The remote server's client with the OAuth client when the bridge runs
/// one (`wants_oauth`); `url` is the MCP endpoint its protected resource
/// metadata must name. Exits 1 (after one line) when it cannot be built.
pub(crate) fn upstream(config: &Config, url: &Url, client: Client) -> Result<Rc<Upstream>, i32> {
    if !wants_oauth(config) {
        return Ok(Rc::new(Upstream::new(client, None, config.input_timeout)));
    }
    match Authorizer::new(config.oauth.clone(), url.clone()) {
        Ok(auth) => Ok(Rc::new(Upstream::new(
            client,
            Some(auth),
            config.input_timeout,
        ))),
        Err(err) => {
            eprintln!("supergateway: OAuth client: {err}");
            Err(1)
        }
    }
}

/// The HTTP client settings for the reverse modes: `headers` (`--header`
/// and the runtime headers) are read at each request.
fn client_options(config: &Config, headers: &LiveHeaders) -> ClientOptions {
    ClientOptions {
        headers: config.headers.clone(),
        live_headers: Some(headers.clone()),
        omit_authorization: config.oauth.forced,
        connect_timeout: Duration::from_secs(10),
        // The bridges bound each request with --requestTimeout themselves
        // (and answer the local client with -32001); the client's own bound
        // is a backstop behind it.
        head_timeout: config
            .request_timeout
            .map_or(Duration::from_secs(3600), |timeout| {
                timeout.saturating_add(Duration::from_secs(10))
            }),
        idle_timeout: Duration::from_secs(30),
        max_idle_per_host: 8,
        max_body_bytes: config.max_body_bytes,
    }
}

/// Resolves on SIGINT, SIGTERM or SIGHUP (never, if they cannot be
/// watched).
pub(crate) async fn wait_for_signal() {
    match Signals::new([Signal::Term, Signal::Int, Signal::Hup]) {
        Ok(mut signals) => {
            if let Some(Ok(signal)) = signals.next().await {
                tracing::info!("received {signal:?}; exiting");
                return;
            }
            std::future::pending::<()>().await;
        }
        Err(err) => {
            tracing::warn!("cannot watch signals: {err}");
            std::future::pending::<()>().await;
        }
    }
}

/// The local client's session key on a bridge's link.
pub(crate) const STDIO_SESSION: SessionKey = 1;

/// Opens the local client's session on a bridge's link (the remote server
/// is the link's child) and writes its frames to `stdout` until it ends.
pub(crate) fn open_stdio_session(link: &Rc<RefCell<Link>>, stdout: &Stdout) -> Task<()> {
    let (outlet, inbox) = link::outlet();
    link.borrow_mut().open_session(STDIO_SESSION, outlet, true);
    let stdout = stdout.clone();
    rt::spawn(async move {
        while let Ok(frame) = inbox.recv().await {
            stdout.send(&frame);
        }
    })
}

/// A message from the local client, to the bridge's relay; a message it
/// refuses whole is answered here.
pub(crate) fn handle_stdin(link: &Rc<RefCell<Link>>, stdout: &Stdout, line: &[u8]) {
    let result = link.borrow_mut().handle_client_message(STDIO_SESSION, line);
    if let Err(err @ (ClientError::Malformed(_) | ClientError::Busy(_))) = result {
        // A request refused as busy gets its own id.
        let id = matches!(err, ClientError::Busy(_))
            .then(|| parse_message(line).ok())
            .flatten()
            .filter(|message| message.kind == Kind::Request)
            .and_then(|message| message.id)
            .map(|id| id.as_bytes().to_vec());
        let mut out = Vec::with_capacity(96);
        encode_error(&mut out, id.as_deref(), err.code(), &err.to_string());
        stdout.send(&out);
    }
}

/// `notifications/cancelled` for request `id`, sent upstream when the
/// local client's request timed out.
pub(crate) fn cancel_notification(id: &Id) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(
        br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"#,
    );
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(br#","reason":"request timed out"}}"#);
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{reconnect_delay as delay, Backoff, RECONNECT_CAP, RECONNECT_FLOOR};

    #[test]
    fn the_wait_has_a_floor_and_honours_retry() {
        // retry: 0 (or none) is lifted to the floor
        assert_eq!(delay(0, Some(Duration::ZERO), 0), RECONNECT_FLOOR);
        assert_eq!(delay(0, None, 0), RECONNECT_FLOOR);
        // a longer retry is honoured, even over the cap
        assert_eq!(
            delay(0, Some(Duration::from_secs(3)), 0),
            Duration::from_secs(3)
        );
        assert_eq!(
            delay(5, Some(Duration::from_secs(90)), u64::MAX),
            Duration::from_secs(90)
        );
    }

    #[test]
    fn the_wait_doubles_up_to_the_cap_with_upward_jitter() {
        let mut previous = Duration::ZERO;
        for streak in 0..40 {
            let least = delay(streak, Some(Duration::ZERO), 0);
            let most = delay(streak, Some(Duration::ZERO), 1000);
            assert!(least >= previous, "streak {streak}");
            assert!(most >= least && most <= RECONNECT_CAP, "streak {streak}");
            assert!(most <= least.saturating_add(least / 2), "streak {streak}");
            previous = least;
        }
        assert_eq!(delay(1, None, 0), RECONNECT_FLOOR * 2);
        assert_eq!(delay(3, None, 0), RECONNECT_FLOOR * 8);
        assert_eq!(delay(3, None, 500), RECONNECT_FLOOR * 10);
        assert_eq!(delay(39, None, 0), RECONNECT_CAP);
        // the jitter is random % 1001 thousandths of half the wait
        assert_eq!(delay(2, None, 999), Duration::from_micros(1_499_500));
        assert_eq!(delay(2, None, 1001), RECONNECT_FLOOR * 4);
        assert_eq!(delay(2, None, 1002), Duration::from_micros(1_000_500));
    }

    #[test]
    fn requests_are_refused_until_connected() {
        let mut backoff = Backoff::default();
        assert_eq!(backoff.failing(), None);
        let wait = backoff.fail("down".to_owned(), None, 0);
        assert_eq!(wait, RECONNECT_FLOOR);
        assert_eq!(backoff.failing(), Some("down"));
        // the streak goes on: the next wait is longer
        assert_eq!(
            backoff.fail("down".to_owned(), None, 0),
            RECONNECT_FLOOR * 2
        );
        // a short connection does not end the streak, a long one does
        backoff.ended(Duration::from_millis(10));
        assert_eq!(backoff.fail("x".to_owned(), None, 0), RECONNECT_FLOOR * 4);
        backoff.ended(Duration::from_secs(60));
        assert_eq!(backoff.fail("x".to_owned(), None, 0), RECONNECT_FLOOR);
        backoff.fail("x".to_owned(), None, 0);
        backoff.connected();
        assert_eq!(backoff.failing(), None);
        // connected, but closed at once: the streak goes on
        assert_eq!(backoff.fail("x".to_owned(), None, 0), RECONNECT_FLOOR * 4);
        backoff.succeeded();
        assert_eq!(backoff.fail("x".to_owned(), None, 0), RECONNECT_FLOOR);
    }
}
