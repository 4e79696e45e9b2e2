//! The gateway modes, and what they share.

pub(crate) mod authorized;
pub(crate) mod event_stream;
pub(crate) mod front;
pub(crate) mod link;
pub(crate) mod local;
pub(crate) mod metrics_port;
pub(crate) mod rate;
pub(crate) mod refusal;
pub(crate) mod remote;
pub(crate) mod reverse;
pub(crate) mod servers;
pub(crate) mod session_id;
pub(crate) mod sse_stdio;
pub(crate) mod stdio_sse;
pub(crate) mod stdio_streamable;
pub(crate) mod stdio_ws;
pub(crate) mod streamable_stdio;

use std::cell::{Cell, RefCell};
use std::io;
use std::net::TcpListener;
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_io::{Async, Timer};
use async_signal::{Signal, Signals};
use futures_lite::{FutureExt, StreamExt};
use smol::channel;
use supergateway_proto::http::Limits;

use crate::auth::Caller;
use crate::child::{Child, ChildSpec};
use crate::cli::Config;
use crate::gateway::link::{outlet, Clients, Inbox, Link, SessionKey, RESTARTED};
use crate::gateway::refusal::Refusal;
use crate::http::server::{self, Handler, ServerOptions};
use crate::http::tls::Acceptor;
use crate::rt;
use crate::runtime::{Runtime, ServedChild, ServedSession};

/// How long streams get to deliver their last messages after the shared
/// child exited, before the gateway exits with the child's code.
const DRAIN: Duration = Duration::from_millis(1000);

thread_local! {
    /// The gateway is draining (SIGTERM/SIGINT received): every readiness
    /// endpoint answers 503.
    static DRAINING: Cell<bool> = const { Cell::new(false) };
}

/// The gateway is draining (SIGTERM/SIGINT received).
pub(crate) fn is_draining() -> bool {
    DRAINING.with(Cell::get)
}

fn set_draining() {
    DRAINING.with(|draining| draining.set(true));
}

/// After a drain found nothing left queued, the time given to writes
/// already handed to the sockets before children stop and the process
/// exits.
const FLUSH_GRACE: Duration = Duration::from_millis(50);
/// The drain's safety net: how often it looks again without a wake (long
/// in unit tests, so that a missing wake shows).
const DRAIN_TICK: Duration = if cfg!(test) {
    Duration::from_secs(5)
} else {
    Duration::from_millis(250)
};

/// The connection driver's settings for the stdio→network modes.
pub(crate) fn server_options(config: &Config) -> ServerOptions {
    ServerOptions {
        limits: Limits::DEFAULT,
        max_body_bytes: config.max_body_bytes,
        idle_timeout: Duration::from_secs(60),
        head_timeout: config.head_timeout,
        body_timeout: config.body_timeout,
        write_timeout: Duration::from_secs(30),
        max_connections: config.max_sessions.saturating_mul(2).saturating_add(64),
        queue_when_full: false,
        conn_span: |peer| tracing::info_span!("conn", %peer),
        budget: Some(crate::relay_settings::process_budget()),
        // The admin API starts from these options and stays plain: only
        // `run_stdio` adds TLS, for the MCP listener.
        tls: None,
    }
}

/// Which link a session is on now. A runtime override of a session's
/// arguments or environment can move it from the shared child to a child
/// of its own (`runtime::Runtime::apply`), so transports look the link up
/// here for each message instead of keeping it.
pub(crate) struct Route(RefCell<Rc<RefCell<Link>>>);

impl Route {
    pub(crate) fn new(link: Rc<RefCell<Link>>) -> Rc<Self> {
        Rc::new(Self(RefCell::new(link)))
    }

    /// The session's link now.
    pub(crate) fn link(&self) -> Rc<RefCell<Link>> {
        Rc::clone(&self.0.borrow())
    }

    /// Moves the session to `link`.
    pub(crate) fn set(&self, link: Rc<RefCell<Link>>) {
        *self.0.borrow_mut() = link;
    }

    /// The session's link is not `shared` (so its child is the session's
    /// own, stopped when the session ends).
    pub(crate) fn owns_child(&self, shared: Option<&Rc<RefCell<Link>>>) -> bool {
        !shared.is_some_and(|shared| Rc::ptr_eq(shared, &self.0.borrow()))
    }

    /// Stops the session's child if it is the session's own.
    pub(crate) fn stop_own_child(&self, shared: Option<&Rc<RefCell<Link>>>) {
        if self.owns_child(shared) {
            if let Some(child) = self.link().borrow().child() {
                child.stop_in_background();
            }
        }
    }
}

/// The runtime's handle on a link's child.
pub(crate) struct LinkHandle(pub(crate) Rc<RefCell<Link>>);

impl ServedChild for LinkHandle {
    fn spec(&self) -> ChildSpec {
        self.0.borrow().spec().clone()
    }

    fn restart(&self, spec: &ChildSpec) -> io::Result<()> {
        Link::restart(&self.0, spec)
    }

    fn pid(&self) -> Option<i32> {
        // None once it has exited: a dead child's pid may be another
        // process's by now.
        self.0
            .borrow()
            .child()
            .filter(|child| child.is_running())
            .and_then(Child::pid)
    }

    fn identity(&self) -> usize {
        Rc::as_ptr(&self.0).cast::<()>() as usize
    }

    fn is_ready(&self) -> bool {
        self.0.borrow().is_ready()
    }

    fn is_live(&self) -> bool {
        self.0.borrow().is_live()
    }
}

/// The runtime's handle on a session: the route to its link and its key.
pub(crate) struct RoutedSession {
    pub(crate) route: Rc<Route>,
    pub(crate) key: SessionKey,
}

impl ServedSession for RoutedSession {
    fn child(&self) -> Rc<dyn ServedChild> {
        Rc::new(LinkHandle(self.route.link()))
    }

    fn move_to_own_child(&self, spec: &ChildSpec) -> io::Result<bool> {
        let shared = self.route.link();
        let replay = shared.borrow().replay_request();
        let settings = Rc::clone(shared.borrow().settings());
        let own = Link::start_replaying(spec, &settings, Clients::Separate, replay, |_| {})?;
        own.borrow_mut().serve_one_caller();
        let moved = shared.borrow_mut().detach_session(self.key, RESTARTED);
        let Some(moved) = moved else {
            if let Some(child) = own.borrow().child() {
                child.stop_in_background();
            }
            return Ok(false);
        };
        own.borrow_mut().open_moved(self.key, moved);
        self.route.set(own);
        Ok(true)
    }
}

/// Starts a child that belongs to one caller's session or request
/// (`--childPerSession`, a stateful Streamable HTTP session), with the
/// runtime's defaults and `--authEnv`'s variables from `caller`: 403 when
/// the caller lacks a claim they need (no child without its caller's
/// identity), 500 when the child cannot be spawned.
pub(crate) fn start_link(
    runtime: &Runtime,
    clients: Clients,
    caller: &Caller,
) -> Result<Rc<RefCell<Link>>, Refusal> {
    let spec = runtime.child_spec_for(caller).map_err(|refused| {
        tracing::warn!("no MCP server started for a caller (403): {refused}");
        Refusal::server_error(403, refused.message())
    })?;
    let link = Link::start(&spec, runtime.relay_settings(), clients, |_| {}).map_err(|err| {
        tracing::error!("could not start the MCP server: {err}");
        Refusal::CHILD_START
    })?;
    link.borrow_mut().serve_one_caller();
    Ok(link)
}

/// The `session` span of an SSE or WebSocket client session: its transport
/// and id, and who opened it when authentication is on (the OAuth subject
/// and client id, the client certificate's subject; never a token). Absent
/// fields are not recorded, so without authentication nothing is added.
pub(crate) fn session_span(transport: &'static str, id: &str, caller: &Caller) -> tracing::Span {
    tracing::info_span!(
        "session",
        transport,
        %id,
        subject = caller.principal.as_deref().map(|p| p.subject.as_str()),
        client_id = caller.client_id(),
        tls_subject = caller.certificate.as_deref(),
    )
}

/// A client session of a mode whose clients are separate (SSE, WebSocket):
/// on the shared child's link, or on a new child of its own.
pub(crate) struct ClientSession {
    pub(crate) route: Rc<Route>,
    pub(crate) key: SessionKey,
    pub(crate) frames: Inbox,
}

thread_local! {
    /// The last key given to an SSE or WebSocket session: unique in the
    /// process, since the SSE and WebSocket handlers of a `--config` server
    /// open sessions on one link.
    static CLIENT_KEYS: Cell<SessionKey> = const { Cell::new(0) };
}

/// Opens a `ClientSession` (a new process-wide key), or says what to answer:
/// 403 or 500 when a per-session child cannot start ([`start_link`]), 503
/// when the child has exited (a per-session child is then stopped, not
/// left behind). Its requests count into `counters` (its transport's
/// metrics; the link's may be another transport's).
pub(crate) fn open_client_session(
    shared: Option<&Rc<RefCell<Link>>>,
    runtime: &Runtime,
    caller: &Caller,
    counters: Option<Rc<crate::metrics::Counters>>,
) -> Result<ClientSession, Refusal> {
    let link = match shared {
        Some(link) => Rc::clone(link),
        None => start_link(runtime, Clients::Separate, caller)?,
    };
    let key = CLIENT_KEYS.with(|keys| {
        let key = keys.get().wrapping_add(1);
        keys.set(key);
        key
    });
    let (sender, frames) = outlet();
    if !link
        .borrow_mut()
        .open_session(key, sender.count_into(counters), true)
    {
        if shared.is_none() {
            if let Some(child) = link.borrow().child() {
                child.stop_in_background();
            }
        }
        return Err(Refusal::CHILD_EXITED);
    }
    Ok(ClientSession {
        route: Route::new(link),
        key,
        frames,
    })
}

enum Stop {
    ChildExited(i32),
    Signal(Signal),
}

/// What `run_stdio` needs of a stdio→network mode's handler besides
/// serving requests.
pub(crate) trait StdioMode: Handler {
    /// Open client sessions (streams, sockets) of this mode.
    fn session_count(&self) -> usize;
    /// Every child the mode runs: the shared one, or one per session.
    fn children(&self) -> Vec<Child>;
}

/// A stdio→network mode until the shared child exits (the gateway then
/// exits with its code) or a signal asks for shutdown (children stopped,
/// exit 0). With `shared`, one child is started at once, its sessions being
/// such `Clients`; `make` builds the mode's handler around its link (`None`
/// when the mode starts children per session).
pub(crate) async fn run_stdio<H: StdioMode>(
    config: &Config,
    runtime: &Runtime,
    shared: Option<Clients>,
    make: impl FnOnce(Option<Rc<RefCell<Link>>>) -> Rc<H>,
) -> i32 {
    let (mut signals, listener) = match listen(config) {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let (exited_tx, exited) = channel::bounded::<i32>(1);
    let shared = match shared {
        None => None,
        Some(clients) => match start_shared(runtime, clients, config.restart, move |code| {
            let _ = exited_tx.try_send(code);
        }) {
            Ok(link) => Some(link),
            Err(err) => {
                eprintln!("supergateway: cannot start the MCP server: {err}");
                return 1;
            }
        },
    };
    let handler = make(shared.clone());
    if let Some(tls) = &config.tls {
        tracing::info!("TLS on: {}", tls.files);
    }
    let tls = config.tls.as_ref().map(Acceptor::new);
    let mut options = server_options(config);
    options.tls = tls.clone();
    let server = rt::spawn(server::serve(
        listener,
        Rc::new(options),
        Rc::clone(&handler),
    ));

    let stop = async { Stop::ChildExited(exited.recv().await.unwrap_or(1)) }
        .or(async { Stop::Signal(stop_signal(&mut signals, tls.as_deref()).await) })
        .await;
    drop(server); // stop accepting
    match stop {
        Stop::ChildExited(code) => {
            // Streams end once they have delivered what the link queued.
            let drained = async {
                while handler.session_count() > 0 {
                    Timer::after(Duration::from_millis(10)).await;
                }
            };
            drained
                .or(async {
                    Timer::after(DRAIN).await;
                })
                .await;
            code
        }
        Stop::Signal(signal) => {
            shut_down(signal, shared.as_slice(), config, &mut signals).await;
            let stopping: Vec<_> = handler
                .children()
                .into_iter()
                .map(|child| rt::spawn(async move { child.shutdown().await }))
                .collect();
            for task in stopping {
                task.await;
            }
            0
        }
    }
}

/// Starts the shared child of a served server, with its `--restart`
/// policy, and hands it to the runtime (which restarts it when the runtime
/// defaults change). `on_exit` runs when it exits for good.
pub(crate) fn start_shared(
    runtime: &Runtime,
    clients: Clients,
    restart: crate::child::RestartPolicy,
    on_exit: impl FnOnce(i32) + 'static,
) -> io::Result<Rc<RefCell<Link>>> {
    let link = Link::start(
        &runtime.child_spec(),
        runtime.relay_settings(),
        clients,
        on_exit,
    )?;
    link.borrow_mut().restart_on_exit(restart);
    runtime.set_shared(Some(
        Rc::new(LinkHandle(Rc::clone(&link))) as Rc<dyn ServedChild>
    ));
    Ok(link)
}

/// The signals a serving gateway answers, and its listener on
/// `--host`:`--port`; or, having said why, the exit code.
fn listen(config: &Config) -> Result<(Signals, Async<TcpListener>), i32> {
    let signals = Signals::new([Signal::Term, Signal::Int, Signal::Hup]).map_err(|err| {
        tracing::error!("cannot install signal handlers: {err}");
        1
    })?;
    let listener = server::bind(&config.host, config.port).map_err(|err| {
        tracing::error!("cannot listen on {}:{}: {err}", config.host, config.port);
        eprintln!(
            "supergateway: cannot listen on {}:{}: {err}",
            config.host, config.port
        );
        1
    })?;
    Ok((signals, listener))
}

/// The signal that stops the gateway. With `--tlsCert`, SIGHUP re-reads
/// the certificate, key and client CA instead; without, it stops, as in
/// Node.
async fn stop_signal(signals: &mut Signals, tls: Option<&Acceptor>) -> Signal {
    loop {
        match (signals.next().await, tls) {
            (Some(Ok(Signal::Hup)), Some(tls)) => tls.reload(),
            (Some(Ok(signal)), _) => return signal,
            _ => std::future::pending().await,
        }
    }
}

/// The drain on SIGTERM/SIGINT, before the children are stopped:
/// readiness turns 503 at once (a load balancer stops sending; the caller
/// has closed the listener), and what is in flight gets up to
/// `--drainTimeout`; a second signal cuts it short.
async fn shut_down(
    signal: Signal,
    shared: &[Rc<RefCell<Link>>],
    config: &Config,
    signals: &mut Signals,
) {
    tracing::info!("received {signal:?}; shutting down");
    set_draining();
    let started = Instant::now();
    drain(shared)
        .or(async {
            Timer::after(config.drain_timeout).await;
            tracing::warn!(
                "drain timeout ({} ms) reached with requests in flight",
                config.drain_timeout.as_millis()
            );
        })
        .or(async {
            while let Some(next) = signals.next().await {
                if matches!(next, Ok(Signal::Term | Signal::Int)) {
                    tracing::info!("second signal: stopping without waiting");
                    return;
                }
            }
            std::future::pending::<()>().await;
        })
        .await;
    tracing::info!("drained in {} ms", started.elapsed().as_millis());
}

/// Waits until nothing is in flight: no request at the shared child, and
/// nothing charged to the process budget (requests in flight at any child,
/// frames queued for clients, bodies being read); then a short grace for
/// the last writes. Woken by the budgets: everything that can end the wait
/// (an answer, a frame delivered, a body read, a session ended) gives
/// bytes back to one. A slow tick stays as a safety net, for a state change
/// that would give none back (or a budget made after the drain began).
async fn drain(shared: &[Rc<RefCell<Link>>]) {
    /// Takes the hooks off the budgets however the drain ends (it is
    /// dropped when --drainTimeout or a second signal cuts it short).
    struct Hooked;
    impl Drop for Hooked {
        fn drop(&mut self) {
            link::on_budget_release(None);
        }
    }
    let (wake, woken) = channel::bounded::<()>(1);
    link::on_budget_release(Some(Rc::new(move || {
        let _ = wake.try_send(());
    })));
    let hooked = Hooked;
    loop {
        // Sessions that become idle (their last answer delivered) end too.
        link::close_idle_sessions();
        let busy = shared.iter().any(|link| link.borrow().in_flight() > 0);
        if !busy && link::budgets_empty() {
            break;
        }
        // A release since the check above left its signal in the channel:
        // none is lost.
        let _ = woken
            .recv()
            .or(async {
                Timer::after(DRAIN_TICK).await;
                Ok(())
            })
            .await;
    }
    drop(hooked);
    Timer::after(FLUSH_GRACE).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The drain ends as soon as the budgets empty: woken by the release,
    /// not by its safety-net tick (it would take `DRAIN_TICK` at least).
    #[test]
    fn the_drain_is_woken_by_the_budget() {
        rt::block_on(async {
            let budget = crate::relay_settings::process_budget();
            budget.charge(100);
            let releaser = {
                let budget = budget.clone();
                rt::spawn(async move {
                    Timer::after(Duration::from_millis(20)).await;
                    budget.release(40);
                    Timer::after(Duration::from_millis(20)).await;
                    budget.release(60);
                })
            };
            let started = Instant::now();
            drain(&[]).await;
            let took = started.elapsed();
            releaser.await;
            assert!(
                took >= Duration::from_millis(40).saturating_add(FLUSH_GRACE),
                "{took:?}"
            );
            assert!(took < Duration::from_secs(2), "{took:?}");
        });
    }
}
