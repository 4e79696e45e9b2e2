//! A link: one stdio child and the client sessions it serves — the driver
//! of `proto::relay`.
//!
//! The routing rules live in the relay (sans-IO, unit-tested in proto).
//! This driver owns what does I/O: the child process (its stdin is fed from
//! `Relay::poll_child_transmit` by the child's writer task, one write per
//! batch), the sessions' inboxes (each transport takes its frames from
//! `Relay::poll_frame` and is woken on `Event::SessionReady`), the request
//! spans, and the log lines for the relay's reports. After every verb it
//! feeds the relay, it carries out the relay's events (`pump`).
//!
//! The child is either that process or, for a reverse bridge, the remote
//! MCP server (`gateway::remote`): the link then only wakes the remote's
//! writer when lines wait (`start_remote`), and the remote feeds the
//! server's messages back as child lines.

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use smol::channel::{self, Receiver, Sender};
use smol::Task;
use supergateway_proto::int_map::{int_map, IntMap};
use supergateway_proto::mcp::x_mcp_header::Param;
use supergateway_proto::relay::{Config, Detached, Event, Relay, Report};

pub(crate) use supergateway_proto::relay::{ClientError, Clients, Frame, Replay, SessionKey};

use crate::child::{Child, ChildSpec, RestartPolicy};
use crate::gateway::authorized::Pauses;
use crate::metrics::{self, Outcome};

use crate::relay_settings::{process_budget, RelaySettings};
use crate::rt;
use crate::seal::HmacSeal;
use crate::telemetry::{self, RpcSpan};

pub(crate) use supergateway_proto::relay::RESTARTED;

/// `--restart`'s backoff: the first wait, and the most it grows to.
const BACKOFF_FLOOR: Duration = Duration::from_millis(100);
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// A child that stays up this long ends its streak of failures: the next
/// exit waits `BACKOFF_FLOOR` again.
const HEALTHY_AFTER: Duration = Duration::from_secs(10);
/// The exit of a streak that is reported as a warning (once per streak).
const WARN_AT: u32 = 3;

/// A shared child's restarts (`--restart`): the policy, the streak of
/// exits the backoff grows with, and the wait in progress.
struct Restarts {
    policy: RestartPolicy,
    /// Exits since the child last stayed up `HEALTHY_AFTER`.
    streak: u32,
    /// When the current child started.
    started: Instant,
    /// The wait before the next start: when it began and its task. The
    /// relay's clock stops meanwhile, so a probe queued for the next child
    /// does not time out while nobody is there to answer it.
    waiting: Option<(Instant, Task<()>)>,
    /// Time spent waiting, left out of the relay's clock.
    waited: Duration,
    /// Ends the streak once the child has stayed up `HEALTHY_AFTER`.
    recovery: Option<Task<()>>,
}

impl Restarts {
    /// The wait before start number `streak` of a streak: doubling from
    /// the floor, at most the cap, then scaled by a random 80–100 % so that
    /// gateways restarted together do not retry in step.
    fn delay(streak: u32) -> Duration {
        let doublings = streak.saturating_sub(1).min(20);
        let full = BACKOFF_FLOOR
            .saturating_mul(1u32 << doublings)
            .min(BACKOFF_CAP);
        let random = rt::random_bytes();
        let byte = random.first().copied().unwrap_or(0);
        // 80 % + byte/255 × 20 %, in thousandths.
        let per_mille = 800u32.saturating_add(u32::from(byte).saturating_mul(200) / 255);
        full.saturating_mul(per_mille)
            .checked_div(1000)
            .unwrap_or(full)
    }
}

/// Most bytes handed to the child's stdin in one write.
const WRITE_BATCH: usize = 256 * 1024;

thread_local! {
    /// The process's key for `requestState` tokens and its instance name,
    /// made on first use; and the last relay number given out.
    static SEALING: RefCell<Option<(Rc<HmacSeal>, [u8; 8])>> = const { RefCell::new(None) };
    static RELAYS: Cell<u32> = const { Cell::new(0) };
    /// Every link of this process, for the drain on SIGTERM
    /// (`close_idle_sessions`); gone ones are pruned as links are made.
    static LINKS: RefCell<Vec<Weak<RefCell<Link>>>> = const { RefCell::new(Vec::new()) };
}

/// Nothing is charged to any budget: the process's (request bodies being
/// read, the relays that share it) or a `--config` server's own.
pub(crate) fn budgets_empty() -> bool {
    process_budget().used() == 0
        && LINKS.with(|links| {
            links
                .borrow()
                .iter()
                .filter_map(Weak::upgrade)
                .all(|link| link.borrow().settings.budget.used() == 0)
        })
}

/// Calls `hook` after every release of bytes to the process budget or a
/// link's (`None`: takes it off them): what wakes the drain on SIGTERM.
pub(crate) fn on_budget_release(hook: Option<Rc<dyn Fn()>>) {
    process_budget().on_release(hook.clone());
    LINKS.with(|links| {
        for link in links.borrow().iter().filter_map(Weak::upgrade) {
            link.borrow().settings.budget.on_release(hook.clone());
        }
    });
}

/// The drain on SIGTERM: ends every session of every link that has
/// nothing in flight and nothing queued (an idle SSE or GET stream, a
/// WebSocket), so long-lived streams close at once while sessions still
/// waiting for an answer keep their stream until it arrives. Listens
/// (`subscriptions/listen`) end first, with their final result.
pub(crate) fn close_idle_sessions() {
    let links: Vec<Rc<RefCell<Link>>> =
        LINKS.with(|links| links.borrow().iter().filter_map(Weak::upgrade).collect());
    for link in links {
        let mut link = link.borrow_mut();
        // A listen is never idle by itself: it ends now, with its final
        // result, and its session once that is delivered.
        link.relay.end_listens();
        link.pump(None);
        let idle: Vec<SessionKey> = link
            .ports
            .keys()
            .copied()
            .filter(|key| link.relay.session_bytes(*key) == 0)
            .collect();
        for key in idle {
            link.close_session(key);
        }
    }
}

/// The process's seal and instance name, and a fresh relay number.
fn sealing() -> (Rc<HmacSeal>, [u8; 8], u32) {
    let (seal, instance) = SEALING.with(|sealing| {
        sealing
            .borrow_mut()
            .get_or_insert_with(|| {
                let mut instance = [0u8; 8];
                instance.copy_from_slice(rt::random_bytes().get(..8).unwrap_or(&[0; 8]));
                // A load balancer routes a retry by this (the first 8 bytes
                // of a requestState's payload): say it once.
                let mut hex = String::with_capacity(16);
                rt::push_hex(&mut hex, &instance);
                tracing::info!("this gateway instance is {hex} (in requestState tokens)");
                (Rc::new(HmacSeal::random()), instance)
            })
            .clone()
    });
    let relay = RELAYS.with(|relays| {
        let next = relays.get().wrapping_add(1);
        relays.set(next);
        next
    });
    (seal, instance, relay)
}

/// The queue is closed (session ended) and empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Closed;

/// Where a session's transport takes its frames from: the link it is on
/// now (a session can move to another link) and the signal that frames
/// are waiting.
struct Port {
    link: RefCell<Weak<RefCell<Link>>>,
    key: Cell<SessionKey>,
    /// The metrics of the transport the session came over, when it is
    /// not the link's (the SSE and WebSocket of a `--config` server share
    /// one link); `None`: the link's.
    counters: RefCell<Option<Rc<metrics::Counters>>>,
    wake: Sender<()>,
    woken: Receiver<()>,
}

impl Port {
    fn wake(&self) {
        let _ = self.wake.try_send(());
    }
}

/// The link's end of a session: given to `Link::open_session`.
pub(crate) struct Outlet(Rc<Port>);

/// The transport's end of a session.
pub(crate) struct Inbox(Rc<Port>);

/// A new session's two ends.
pub(crate) fn outlet() -> (Outlet, Inbox) {
    let (wake, woken) = channel::bounded(1);
    let port = Rc::new(Port {
        link: RefCell::new(Weak::new()),
        key: Cell::new(0),
        counters: RefCell::new(None),
        wake,
        woken,
    });
    (Outlet(Rc::clone(&port)), Inbox(port))
}

impl Outlet {
    /// The session's requests and its opening count into `counters` (its
    /// transport's) instead of the link's.
    pub(crate) fn count_into(self, counters: Option<Rc<metrics::Counters>>) -> Self {
        *self.0.counters.borrow_mut() = counters;
        self
    }
}

impl Inbox {
    /// The next message; `Err(Closed)` once the session has ended and every
    /// queued message has been taken.
    pub(crate) async fn recv(&self) -> Result<Frame, Closed> {
        loop {
            if let Some(next) = self.take() {
                return next;
            }
            // A wake-up may be stale (its frames already taken): look again.
            if self.0.woken.recv().await.is_err() {
                return Err(Closed);
            }
        }
    }

    /// The next message if one is queued.
    pub(crate) fn try_recv(&self) -> Option<Frame> {
        self.take().and_then(Result::ok)
    }

    /// The session has ended (messages may still be queued).
    pub(crate) fn is_closed(&self) -> bool {
        let Some(link) = self.0.link.borrow().upgrade() else {
            return true;
        };
        let link = link.borrow();
        link.relay.exit_code().is_some() || link.relay.is_session_finished(self.0.key.get())
    }

    /// `None`: nothing yet; `Some(Err)`: the session is over.
    fn take(&self) -> Option<Result<Frame, Closed>> {
        let Some(link) = self.0.link.borrow().upgrade() else {
            return Some(Err(Closed));
        };
        let mut link = link.borrow_mut();
        let key = self.0.key.get();
        match link.relay.poll_frame(key) {
            Some(frame) => Some(Ok(frame)),
            None if link.relay.is_session_finished(key) => Some(Err(Closed)),
            None => None,
        }
    }
}

/// See the module documentation.
pub(crate) struct Link {
    relay: Relay,
    /// This link, for the ports of sessions opened on it.
    this: Weak<RefCell<Self>>,
    child: Option<Child>,
    /// A remote server in the child's place: wakes its writer (lines wait
    /// in `Relay::poll_child_transmit`). `None` for a process child.
    remote: Option<Box<dyn Fn()>>,
    ports: IntMap<SessionKey, Rc<Port>>,
    /// What the current child was started with.
    spec: ChildSpec,
    /// What the relay was made with (a session moved to a child of its
    /// own gets a relay made the same way).
    settings: Rc<RelaySettings>,
    /// Counts children: callbacks of a child replaced by a restart carry an
    /// older number and are ignored.
    generation: u64,
    /// Runs once when the current child exits by itself (not when a restart
    /// stops it).
    on_exit: Option<Box<dyn FnOnce(i32)>>,
    /// Children replaced by a restart, possibly still shutting down (a
    /// gateway that stops waits for them too).
    retiring: Vec<Child>,
    /// The spans of the requests at the child, by gateway id (only while
    /// spans are on).
    spans: IntMap<u64, RpcSpan>,
    /// With metrics on, the method slot and start of each request at the
    /// child, by gateway id.
    timings: IntMap<u64, (u8, Instant, Rc<metrics::Counters>)>,
    /// The relay's clock starts here.
    epoch: Instant,
    /// Time the relay's clock leaves out (a reverse bridge waiting for an
    /// OAuth authorization: the probe's deadline must not run out).
    pauses: Option<Rc<Pauses>>,
    /// The task that wakes the relay at its next deadline, and that
    /// deadline (ms since `epoch`).
    timer: Option<(u64, Task<()>)>,
    /// A link of one caller's own child ([`Link::serve_one_caller`]).
    one_caller: bool,
    /// On such a link, the telemetry carrier of the latest hand-off: the
    /// context of requests the relay forwards later, outside any hand-off
    /// (held while the child is initialised or probed). A shared link
    /// keeps none: the latest hand-off may be another caller's.
    context: Option<telemetry::HandOff>,
    /// `--restart` on a shared child; `None`: an exit ends the link.
    restarts: Option<Restarts>,
}

impl Link {
    /// Spawns the child and the link around it. `on_exit` runs after the
    /// child has exited by itself and every session has been told.
    pub(crate) fn start(
        spec: &ChildSpec,
        settings: &Rc<RelaySettings>,
        clients: Clients,
        on_exit: impl FnOnce(i32) + 'static,
    ) -> io::Result<Rc<RefCell<Self>>> {
        Self::start_replaying(spec, settings, clients, None, on_exit)
    }

    /// `start`, then the child is initialised with `replay` (the
    /// `initialize` another link's child got; its answer is swallowed), so
    /// that sessions moved here find it initialised.
    pub(crate) fn start_replaying(
        spec: &ChildSpec,
        settings: &Rc<RelaySettings>,
        clients: Clients,
        replay: Option<Replay>,
        on_exit: impl FnOnce(i32) + 'static,
    ) -> io::Result<Rc<RefCell<Self>>> {
        let link = Self::new(spec, settings, clients, None, Box::new(on_exit));
        let child = spawn_child(&link, spec, 0)?;
        let mut this = link.borrow_mut();
        this.child = Some(child);
        this.start_relay(replay);
        drop(this);
        Ok(link)
    }

    /// A link whose child is a remote server (a reverse bridge): `wake`
    /// runs whenever lines wait for it (`poll_child_transmit`); the remote
    /// hands back what the server sends with `handle_child_line`. Under
    /// `--upstreamProtocol auto` the first line waiting is the probe.
    pub(crate) fn start_remote(
        settings: &Rc<RelaySettings>,
        clients: Clients,
        wake: impl Fn() + 'static,
    ) -> Rc<RefCell<Self>> {
        let link = Self::new(
            &ChildSpec::default(),
            settings,
            clients,
            Some(Box::new(wake)),
            Box::new(|_| {}),
        );
        link.borrow_mut().start_relay(None);
        link
    }

    fn new(
        spec: &ChildSpec,
        settings: &Rc<RelaySettings>,
        clients: Clients,
        remote: Option<Box<dyn Fn()>>,
        on_exit: Box<dyn FnOnce(i32)>,
    ) -> Rc<RefCell<Self>> {
        let config = Config {
            limits: settings.limits,
            request_events: telemetry::spans_on() || settings.metrics.is_some(),
            upstream: settings.upstream,
            probe_timeout_ms: settings.probe_timeout_ms,
            input_timeout_ms: settings.input_timeout_ms,
            ..Config::new(clients)
        };
        let random = Box::new(rt::random_bytes);
        let mut relay = Relay::new(config, settings.budget.clone(), random);
        relay.set_filter(settings.filter.clone());
        let link = Rc::new_cyclic(|this| {
            RefCell::new(Self {
                relay,
                this: this.clone(),
                child: None,
                remote,
                ports: int_map(),
                spec: spec.clone(),
                settings: Rc::clone(settings),
                generation: 0,
                on_exit: Some(on_exit),
                retiring: Vec::new(),
                spans: int_map(),
                timings: int_map(),
                epoch: Instant::now(),
                pauses: None,
                timer: None,
                one_caller: false,
                context: None,
                restarts: None,
            })
        });
        LINKS.with(|links| {
            let mut links = links.borrow_mut();
            links.retain(|link| link.strong_count() > 0);
            links.push(Rc::downgrade(&link));
        });
        link
    }

    /// The relay starts serving the new child (the probe, a replay).
    fn start_relay(&mut self, replay: Option<Replay>) {
        let (seal, instance, relay) = sealing();
        self.relay.set_seal(seal, instance, relay);
        self.relay
            .set_instance_id(crate::gateway::session_id::instance_id());
        self.relay.start_child();
        if let Some(replay) = replay {
            self.relay.replay_from(replay);
        }
        self.pump(None);
    }

    /// Replaces the child with one started from `spec`: the old one is
    /// stopped (stdin closed, then SIGTERM, SIGKILL), the clients' requests
    /// in flight get a JSON-RPC error, and the new child is initialised with
    /// the `initialize` the first client sent (its answer swallowed) and
    /// `notifications/initialized`. Sessions stay open. Does nothing once
    /// the child has exited by itself. The new child is spawned first: if
    /// that fails, the old one keeps serving and nothing else changes.
    pub(crate) fn restart(link: &Rc<RefCell<Self>>, spec: &ChildSpec) -> io::Result<()> {
        let generation = {
            let this = link.borrow();
            if this.relay.exit_code().is_some() {
                return Ok(());
            }
            this.generation.wrapping_add(1)
        };
        // Its callbacks run only once `generation` is committed below (this
        // thread runs no other task in between).
        let child = spawn_child(link, spec, generation).inspect_err(|err| {
            tracing::error!("could not restart the MCP server (the old one keeps running): {err}");
        })?;
        let old = {
            let mut this = link.borrow_mut();
            this.generation = generation;
            this.retiring.retain(Child::is_running);
            let old = this.child.replace(child);
            if let Some(old) = &old {
                this.retiring.push(old.clone());
            }
            this.spec = spec.clone();
            this.end_wait();
            let now = this.now_ms();
            this.relay.advance(now);
            this.relay.handle_child_restart();
            this.count(metrics::Counters::child_restart);
            this.pump(None);
            old
        };
        if let Some(old) = old {
            old.stop_in_background();
        }
        Ok(())
    }

    /// The child exited while it was asked `server/discover` and the relay
    /// wants it started again (once, as a handshake-era server): spawns
    /// the new child. False when that fails (the exit is then an ordinary
    /// one).
    fn restart_after_probe(link: &Rc<RefCell<Self>>) -> bool {
        let (generation, spec) = {
            let this = link.borrow();
            (this.generation.wrapping_add(1), this.spec.clone())
        };
        let child = match spawn_child(link, &spec, generation) {
            Ok(child) => child,
            Err(err) => {
                tracing::error!("could not start the MCP server again: {err}");
                return false;
            }
        };
        let mut this = link.borrow_mut();
        this.generation = generation;
        // Lines the relay released to the new child are waiting already.
        child.input_ready();
        this.child = Some(child);
        this.pump(None);
        true
    }

    /// Every child of this link that may still run: the current one and
    /// those a restart replaced (stopping the gateway stops them all).
    pub(crate) fn children(&self) -> Vec<Child> {
        self.child
            .iter()
            .chain(self.retiring.iter().filter(|child| child.is_running()))
            .cloned()
            .collect()
    }

    /// What the current child was started with.
    pub(crate) fn spec(&self) -> &ChildSpec {
        &self.spec
    }

    /// What the relay was made with.
    pub(crate) fn settings(&self) -> &Rc<RelaySettings> {
        &self.settings
    }

    /// The metrics a session's requests count into: its transport's, else
    /// the link's; `None` when metrics are off.
    fn counters_of(&self, session: SessionKey) -> Option<Rc<metrics::Counters>> {
        let own = self
            .ports
            .get(&session)
            .and_then(|port| port.counters.borrow().clone());
        own.or_else(|| self.settings.metrics.clone())
    }

    /// Counts a session opening or closing in its transport's metrics.
    fn count_session(&self, port: &Port, open: bool) {
        let own = port.counters.borrow().clone();
        if let Some(counters) = own.or_else(|| self.settings.metrics.clone()) {
            counters.session(open);
        }
    }

    /// Counts into the server's metrics, when they are on.
    fn count(&self, update: impl FnOnce(&metrics::Counters)) {
        if let Some(counters) = &self.settings.metrics {
            update(counters);
        }
    }

    /// The `initialize` to replay to another child, once the child has
    /// answered it.
    pub(crate) fn replay_request(&self) -> Option<Replay> {
        self.relay.replay_request()
    }

    /// The `x-mcp-header` parameters to check on a `tools/call` of `tool`
    /// (see `Relay::param_headers`).
    pub(crate) fn param_headers(&self, tool: &str) -> Option<&[Param]> {
        self.relay.param_headers(tool)
    }

    /// The child process.
    pub(crate) fn child(&self) -> Option<&Child> {
        self.child.as_ref()
    }

    /// True while the child runs.
    pub(crate) fn is_running(&self) -> bool {
        self.relay.exit_code().is_none() && self.child.as_ref().is_some_and(Child::is_running)
    }

    /// Client requests in flight at the child.
    pub(crate) fn in_flight(&self) -> usize {
        self.relay.in_flight()
    }

    /// Liveness (`--healthEndpoint`): the child runs, or, with a restart
    /// policy, the link is working through a restart (only an exit that
    /// ends the gateway makes it false).
    pub(crate) fn is_live(&self) -> bool {
        if self.restarts.is_some() {
            self.relay.exit_code().is_none()
        } else {
            self.is_running()
        }
    }

    /// Readiness (`--readyEndpoint`): the child runs, is not being
    /// probed or initialised, and no restart is waiting out its backoff.
    pub(crate) fn is_ready(&self) -> bool {
        self.is_running()
            && !self.relay.is_initializing()
            && self
                .restarts
                .as_ref()
                .is_none_or(|restarts| restarts.waiting.is_none())
    }

    /// Starts the child again, after a backoff, whenever it exits by itself
    /// and `policy` says so (instead of ending the link and its sessions).
    pub(crate) fn restart_on_exit(&mut self, policy: RestartPolicy) {
        self.restarts = (policy != RestartPolicy::Never).then(|| Restarts {
            policy,
            streak: 0,
            started: Instant::now(),
            waiting: None,
            waited: Duration::ZERO,
            recovery: None,
        });
    }

    /// Whether the exit of the current child with `code` is to be followed
    /// by a new start.
    fn restarts_after(&self, code: i32) -> bool {
        self.relay.exit_code().is_none()
            && self
                .restarts
                .as_ref()
                .is_some_and(|restarts| restarts.policy.restarts(code))
    }

    /// The current child exited with `code` and is to be started again:
    /// its requests in flight get -32000 now (their clients can retry), the
    /// relay prepares the next child's initialisation (the kept
    /// `initialize` or the probe, listens carried), and a task starts the
    /// child once the backoff has passed. Sessions stay open; what clients
    /// send meanwhile waits for the new child.
    fn schedule_restart(&mut self, code: i32) {
        let generation = self.generation.wrapping_add(1);
        self.generation = generation;
        self.child = None;
        let now = self.now_ms();
        self.relay.advance(now);
        self.relay.handle_child_replaced(&format!(
            "the MCP server exited (code {code}) and is being restarted; retry the request"
        ));
        for (_, span) in self.spans.drain() {
            span.finish(Some((-32000, "the MCP server exited")));
        }
        let Some(restarts) = self.restarts.as_mut() else {
            return;
        };
        restarts.recovery = None;
        if restarts.started.elapsed() >= HEALTHY_AFTER {
            restarts.streak = 0;
        }
        restarts.streak = restarts.streak.saturating_add(1);
        let streak = restarts.streak;
        let delay = Restarts::delay(streak);
        let shown = delay.as_secs_f64();
        match streak {
            WARN_AT => tracing::warn!(
                "the MCP server keeps exiting ({streak} times); next start in {shown:.1} s"
            ),
            s if s < WARN_AT => tracing::info!(
                "the MCP server exited with code {code}; starting it again in {shown:.1} s"
            ),
            // Reported once per streak: the rest only at debug level.
            _ => tracing::debug!(
                "the MCP server exited with code {code} ({streak} times); next start in {shown:.1} s"
            ),
        }
        let weak = self.this.clone();
        let task = rt::spawn(async move {
            async_io::Timer::after(delay).await;
            if let Some(link) = weak.upgrade() {
                Self::start_again(&link, generation);
            }
        });
        restarts.waiting = Some((Instant::now(), task));
        self.pump(None);
    }

    /// The backoff is over (or cut short by a runtime restart): the relay's
    /// clock runs again. The waiting task is detached, not dropped, as it
    /// may be the one running this.
    fn end_wait(&mut self) {
        if let Some(restarts) = self.restarts.as_mut() {
            if let Some((since, task)) = restarts.waiting.take() {
                restarts.waited = restarts.waited.saturating_add(since.elapsed());
                task.detach();
            }
        }
    }

    /// Starts child number `generation` after a backoff; if it cannot be
    /// spawned, that counts as one more exit of the streak.
    fn start_again(link: &Rc<RefCell<Self>>, generation: u64) {
        let spec = {
            let mut this = link.borrow_mut();
            if this.generation != generation || this.child.is_some() {
                return; // a runtime restart came first
            }
            if crate::gateway::is_draining() {
                // The gateway is stopping: a child started now might
                // outlive the list of children it stops.
                return;
            }
            this.end_wait();
            this.spec.clone()
        };
        let child = spawn_child(link, &spec, generation);
        let mut this = link.borrow_mut();
        match child {
            Ok(child) => {
                // Lines the relay prepared for it (the replay) wait already.
                child.input_ready();
                this.child = Some(child);
                let weak = this.this.clone();
                if let Some(restarts) = this.restarts.as_mut() {
                    restarts.started = Instant::now();
                    restarts.recovery = Some(rt::spawn(async move {
                        async_io::Timer::after(HEALTHY_AFTER).await;
                        if let Some(link) = weak.upgrade() {
                            link.borrow_mut().recovered(generation);
                        }
                    }));
                }
                this.pump(None);
            }
            Err(err) => {
                tracing::error!("could not start the MCP server again: {err}");
                this.schedule_restart(127);
            }
        }
    }

    /// Child `generation` has stayed up `HEALTHY_AFTER`: its streak ends.
    fn recovered(&mut self, generation: u64) {
        if self.generation != generation {
            return;
        }
        if let Some(restarts) = self.restarts.as_mut() {
            if let Some(task) = restarts.recovery.take() {
                task.detach();
            }
            if restarts.streak > 0 {
                tracing::info!(
                    "the MCP server is up again (after {} exits in a row)",
                    restarts.streak
                );
                restarts.streak = 0;
            }
        }
    }

    /// Registers a session and the port its transport takes frames from.
    /// False when the child has exited. `standalone`: with `Clients::One`,
    /// this is the stream for notifications that belong to no request (with
    /// `Separate` every session is).
    pub(crate) fn open_session(
        &mut self,
        key: SessionKey,
        outlet: Outlet,
        standalone: bool,
    ) -> bool {
        if !self.relay.open_session(key, standalone) {
            return false;
        }
        self.count_session(&outlet.0, true);
        self.attach(key, outlet.0);
        self.pump(None);
        true
    }

    /// Takes a session out of this link without ending its stream: its
    /// requests in flight get `message` as an error, those are cancelled at
    /// the child, and the session is returned to be opened on another link
    /// (`open_moved`) with the frames it had queued here.
    pub(crate) fn detach_session(&mut self, key: SessionKey, message: &str) -> Option<Moved> {
        let detached = self.relay.detach_session(key, message);
        let port = self.ports.remove(&key);
        if let Some(port) = &port {
            self.count_session(port, false);
        }
        self.pump(None);
        Some(Moved {
            detached: detached?,
            port: port?,
        })
    }

    /// Opens a session detached from another link.
    pub(crate) fn open_moved(&mut self, key: SessionKey, moved: Moved) -> bool {
        if !self.relay.open_detached(key, moved.detached) {
            moved.port.wake();
            return false;
        }
        self.count_session(&moved.port, true);
        self.attach(key, moved.port);
        self.pump(None);
        true
    }

    /// Sends `initialize` (with `protocol_version`) to the child on behalf of
    /// clients that will not: stateless Streamable HTTP clients each
    /// initialise only their own request. Later `initialize` requests are
    /// answered from its result.
    pub(crate) fn initialize_child(&mut self, protocol_version: &str) {
        self.relay.initialize_child(protocol_version);
        self.pump(None);
    }

    /// Ends a session: its queue closes (its transport ends the stream), its
    /// requests in flight are cancelled at the child, and the child's
    /// requests it was asked are answered with an error.
    pub(crate) fn close_session(&mut self, key: SessionKey) {
        self.relay.close_session(key);
        if let Some(port) = self.ports.remove(&key) {
            self.count_session(&port, false);
            port.wake();
        }
        self.pump(None);
    }

    /// Marks the link as one caller's own (a per-session or per-request
    /// child): requests the relay holds and forwards later keep the
    /// telemetry context (transport, session, `traceparent`, `enduser.id`)
    /// of the latest hand-off, which can only be that caller's.
    pub(crate) fn serve_one_caller(&mut self) {
        self.one_caller = true;
    }

    /// Handles one message (or batch) a client sent. Returns how many
    /// answers it will get, each on the session's queue.
    pub(crate) fn handle_client_message(
        &mut self,
        key: SessionKey,
        bytes: &[u8],
    ) -> Result<usize, ClientError> {
        if self.one_caller {
            if let Some(context) = telemetry::current_context() {
                self.context = Some(context);
            }
        }
        let now = self.now_ms();
        self.relay.advance(now);
        let result = self.relay.handle_client_message(key, bytes);
        self.pump(None);
        result
    }

    fn attach(&mut self, key: SessionKey, port: Rc<Port>) {
        *port.link.borrow_mut() = self.this.clone();
        port.key.set(key);
        port.wake(); // it may have frames already, or be closed
        self.ports.insert(key, port);
    }

    /// Waits for the lines the relay has for a remote child and puts them in
    /// `batch` (replacing what it held); `woken` gets a signal whenever lines
    /// wait. False once the link is gone.
    pub(crate) async fn next_remote_lines(
        link: &Weak<RefCell<Self>>,
        woken: &Receiver<()>,
        batch: &mut Vec<u8>,
    ) -> bool {
        loop {
            batch.clear();
            let Some(link) = link.upgrade() else {
                return false;
            };
            let any = link
                .borrow_mut()
                .relay
                .poll_child_transmit(batch, WRITE_BATCH);
            drop(link);
            if any {
                return true;
            }
            if woken.recv().await.is_err() {
                return false;
            }
        }
    }

    /// A remote child lost its state (the server ended the session): the
    /// requests in flight get `message`, and the kept `initialize` is sent
    /// again to start a new one; sessions stay open.
    pub(crate) fn replace_remote(&mut self, message: &str) {
        let now = self.now_ms();
        self.relay.advance(now);
        self.relay.handle_child_replaced(message);
        self.pump(None);
    }

    /// The remote server refused the probe with a 2026-07-28 error: no
    /// fallback to `initialize` (see `Relay::handle_probe_refused`).
    pub(crate) fn handle_probe_refused(&mut self) {
        self.relay.handle_probe_refused();
        self.pump(None);
    }

    /// Learns the `x-mcp-header` annotations of a `tools/list` result the
    /// remote fetched itself.
    pub(crate) fn handle_tool_list(&mut self, result: &[u8], first_page: bool) {
        self.relay.handle_tool_list(result, first_page);
        self.pump(None);
    }

    /// One line from the child (a process's stdout line, or one message
    /// from a remote server).
    pub(crate) fn handle_child_line(&mut self, line: &[u8]) {
        let now = self.now_ms();
        self.relay.advance(now);
        self.relay.handle_child_line(line);
        self.pump(Some(line));
    }

    fn handle_child_exit(&mut self, code: i32) {
        self.relay.handle_child_exit(code);
        self.pump(None);
        for (_, span) in self.spans.drain() {
            span.finish(Some((-32000, "the MCP server exited")));
        }
    }

    /// Carries out what the relay has for the driver. `line`: the child's
    /// line just handled (its error, for the request's span).
    fn pump(&mut self, line: Option<&[u8]>) {
        self.pump_events(line);
        self.arm_timer();
    }

    /// The relay's time now, ms since the link started (paused time left
    /// out).
    fn now_ms(&self) -> u64 {
        let paused = self.pauses.as_ref().map_or(Duration::ZERO, |p| p.paused());
        let waited = self.restarts.as_ref().map_or(Duration::ZERO, |restarts| {
            let now = restarts
                .waiting
                .as_ref()
                .map_or(Duration::ZERO, |(since, _)| since.elapsed());
            restarts.waited.saturating_add(now)
        });
        let paused = paused.saturating_add(waited);
        let running = self.epoch.elapsed().saturating_sub(paused);
        u64::try_from(running.as_millis()).unwrap_or(u64::MAX)
    }

    /// The relay's clock stops while `pauses` runs one (a reverse bridge's
    /// authorization).
    pub(crate) fn set_pauses(&mut self, pauses: Rc<Pauses>) {
        self.pauses = Some(pauses);
    }

    /// Keeps one timer task aimed at the relay's next deadline.
    fn arm_timer(&mut self) {
        let Some(deadline) = self.relay.poll_timeout() else {
            self.timer = None;
            return;
        };
        if self
            .timer
            .as_ref()
            .is_some_and(|(armed, _)| *armed == deadline)
        {
            return;
        }
        let weak = self.this.clone();
        let wait = Duration::from_millis(deadline.saturating_sub(self.now_ms()));
        let task = rt::spawn(async move {
            async_io::Timer::after(wait).await;
            let Some(link) = weak.upgrade() else { return };
            let mut link = link.borrow_mut();
            // This task is done: the next deadline gets a new one.
            let _ = link.timer.take().map(|(_, task)| task.detach());
            let now = link.now_ms();
            link.relay.advance(now);
            link.relay.handle_timeout();
            link.pump(None);
        });
        self.timer = Some((deadline, task));
    }

    fn pump_events(&mut self, line: Option<&[u8]>) {
        while let Some(event) = self.relay.poll_event() {
            match event {
                Event::ChildReady => {
                    if let Some(child) = &self.child {
                        child.input_ready();
                    } else if let Some(wake) = &self.remote {
                        wake();
                    }
                }
                Event::SessionReady(key) | Event::SessionClosed(key) => {
                    if let Some(port) = self.ports.get(&key) {
                        port.wake();
                    }
                }
                Event::RequestStarted {
                    request,
                    session,
                    method,
                    client_id,
                    ..
                } => {
                    if let Some(counters) = self.counters_of(session) {
                        let slot = metrics::method_index(&method);
                        self.timings
                            .insert(request, (slot, Instant::now(), counters));
                    }
                    let pid = self.child.as_ref().and_then(Child::pid);
                    let span = telemetry::with_context(self.context.as_ref(), || {
                        telemetry::rpc_span(&method, client_id.as_bytes(), pid)
                    });
                    if let Some(span) = span {
                        self.spans.insert(request, span);
                    }
                }
                Event::RequestFinished {
                    request,
                    error,
                    child_error,
                } => {
                    if let Some((slot, started, counters)) = self.timings.remove(&request) {
                        let outcome = match (child_error, &error) {
                            (true, _) => Outcome::Error,
                            (false, Some(_)) => Outcome::GatewayError,
                            (false, None) => Outcome::Ok,
                        };
                        counters.request(slot, outcome, started.elapsed());
                    }
                    let Some(span) = self.spans.remove(&request) else {
                        continue;
                    };
                    let from_child = child_error
                        .then(|| line.and_then(telemetry::error_of))
                        .flatten();
                    match (from_child, error) {
                        (Some((code, text)), _) => span.finish(Some((code, &text))),
                        (None, Some((code, text))) => span.finish(Some((i64::from(code), &text))),
                        (None, None) => span.finish(None),
                    }
                }
                Event::Report(report) => {
                    self.count(|m| count_report(m, &report));
                    log_report(&report, line);
                }
            }
        }
    }
}

/// A session on its way from one link to another (`Link::detach_session`).
pub(crate) struct Moved {
    detached: Detached,
    port: Rc<Port>,
}

fn count_report(counters: &metrics::Counters, report: &Report) {
    match report {
        Report::SlowClient(_) => counters.slow_client(),
        Report::ChildNotReading { .. }
        | Report::ProcessBudget { .. }
        | Report::SessionBudget(_) => counters.queue_drop(),
        _ => {}
    }
}

fn log_report(report: &Report, line: Option<&[u8]>) {
    match report {
        Report::BadChildLine(_) => {
            let line = line.unwrap_or_default();
            let shown = String::from_utf8_lossy(line.get(..200).unwrap_or(line)).into_owned();
            tracing::warn!("{report}: {shown}");
        }
        Report::ForeignAnswer(_) | Report::Replaying | Report::ChildEra { .. } => {
            tracing::info!("{report}")
        }
        _ => tracing::warn!("{report}"),
    }
}

/// Spawns `spec` as `link`'s child number `generation`. The callbacks hold
/// the link weakly (the link owns the child; the child's tasks must not own
/// the link) and do nothing once a restart has replaced this child.
fn spawn_child(link: &Rc<RefCell<Link>>, spec: &ChildSpec, generation: u64) -> io::Result<Child> {
    let weak: Weak<RefCell<Link>> = Rc::downgrade(link);
    let on_line = move |line: &[u8]| {
        if let Some(link) = weak.upgrade() {
            let mut link = link.borrow_mut();
            if link.generation == generation {
                link.handle_child_line(line);
            }
        }
    };
    let weak: Weak<RefCell<Link>> = Rc::downgrade(link);
    let input = move |batch: &mut Vec<u8>| {
        let Some(link) = weak.upgrade() else {
            return false;
        };
        let mut link = link.borrow_mut();
        link.generation == generation && link.relay.poll_child_transmit(batch, WRITE_BATCH)
    };
    let weak: Weak<RefCell<Link>> = Rc::downgrade(link);
    let (counters, span) = {
        let link = link.borrow();
        (link.settings.metrics.clone(), link.settings.span.clone())
    };
    let child = Child::spawn(spec, &span, on_line, input, move |code| {
        if let Some(counters) = &counters {
            counters.child_exit();
        }
        let Some(strong) = weak.upgrade() else { return };
        let on_exit = {
            let mut link = strong.borrow_mut();
            if link.generation != generation {
                return; // replaced by a restart: nobody is told
            }
            if link.relay.handle_probe_exit(code) {
                link.pump(None);
                drop(link);
                if Link::restart_after_probe(&strong) {
                    return;
                }
                link = strong.borrow_mut();
            }
            if link.restarts_after(code) {
                link.schedule_restart(code);
                return;
            }
            link.handle_child_exit(code);
            link.on_exit.take()
        };
        if let Some(on_exit) = on_exit {
            on_exit(code);
        }
    })?;
    link.borrow().count(metrics::Counters::child_start);
    Ok(child)
}
