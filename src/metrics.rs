//! The Prometheus metrics of `--metricsEndpoint`: a fixed set of counters,
//! one gauge and one histogram, held per thread (the gateway runs on one)
//! in `Cell`s, and rendered with `proto::metrics` on a scrape.
//!
//! Every label value comes from a closed set, so a client cannot grow the
//! exposition: `server` is `default` for a single server, a `--config`
//! server's name (from the file, not from clients), or `*` for what is
//! counted before a request reaches a server; `transport` is the output
//! transport, `method` one of the MCP methods the spec defines or `other`,
//! `outcome` and `reason` small enums. Off (the default) holders have no
//! `Counters` and count nothing (one `Option` test per hook); on, a request
//! costs a few `Cell` updates and no allocation here.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use supergateway_proto::metrics::{
    family, histogram, sample, Histogram, Kind, LabelName, MetricName,
};

/// The transport a process serves (`transport` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    Sse,
    Stdio,
    StreamableHttp,
    Ws,
}

impl Transport {
    fn as_str(self) -> &'static str {
        match self {
            Self::Sse => "sse",
            Self::Stdio => "stdio",
            Self::StreamableHttp => "streamableHttp",
            Self::Ws => "ws",
        }
    }
}

/// How a request that reached the server ended (`outcome` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The server answered with an error.
    Error,
    /// The gateway answered it (the server exited, the client left, …).
    GatewayError,
    Ok,
}

const OUTCOMES: [&str; 3] = ["error", "gateway_error", "ok"];

impl Outcome {
    fn index(self) -> usize {
        match self {
            Self::Error => 0,
            Self::GatewayError => 1,
            Self::Ok => 2,
        }
    }
}

/// Why the front door refused a request (`reason` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reason {
    /// 401, or 403 for a missing scope.
    Auth,
    /// 413, 503 (budgets, introspection), 400 (malformed).
    Limits,
    /// 403: the Host or Origin check.
    Origin,
    /// 429: `--rateLimit`.
    Rate,
    /// 503: the process-wide `--maxBufferedBytes` budget is full (a load
    /// signal an operator scales on, not a client at fault).
    Budget,
}

const REASONS: [&str; 5] = ["auth", "limits", "origin", "rate", "budget"];

impl Reason {
    fn index(self) -> usize {
        match self {
            Self::Auth => 0,
            Self::Limits => 1,
            Self::Origin => 2,
            Self::Rate => 3,
            Self::Budget => 4,
        }
    }
}

/// The request methods the MCP specification defines (client to server);
/// anything else is counted as `other` (the last slot).
const METHODS: [&str; 19] = [
    "completion/complete",
    "initialize",
    "logging/setLevel",
    "ping",
    "prompts/get",
    "prompts/list",
    "resources/list",
    "resources/read",
    "resources/subscribe",
    "resources/templates/list",
    "resources/unsubscribe",
    "server/discover",
    "subscriptions/listen",
    "tasks/cancel",
    "tasks/get",
    "tasks/list",
    "tasks/result",
    "tools/call",
    "tools/list",
];

/// `method` label index: its slot in [`METHODS`], or the `other` slot.
pub(crate) fn method_index(method: &str) -> u8 {
    let index = METHODS
        .iter()
        .position(|known| *known == method)
        .unwrap_or(METHODS.len());
    u8::try_from(index).unwrap_or(u8::MAX)
}

/// Latency bucket bounds, seconds: 50 µs to 30 s.
const BOUNDS: [f64; 18] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0, 30.0,
];

const REQUEST_SLOTS: usize = (METHODS.len() + 1) * OUTCOMES.len();

/// The counters of one server over one transport (`server` and
/// `transport` labels). A single server is `default`; a `--config` server
/// its name; what happens before a request is routed to a `--config`
/// server (bytes on the connection, refusals at the gateway-wide front
/// door) is counted under `*`, which no server name can be.
pub(crate) struct Counters {
    server: Box<str>,
    transport: Transport,
    /// By method slot × outcome.
    requests: [Cell<u64>; REQUEST_SLOTS],
    latency_buckets: [Cell<u64>; BOUNDS.len()],
    latency_count: Cell<u64>,
    latency_sum_ns: Cell<u64>,
    sessions: Cell<u64>,
    child_starts: Cell<u64>,
    child_exits: Cell<u64>,
    child_restarts: Cell<u64>,
    bytes_in: Cell<u64>,
    bytes_out: Cell<u64>,
    queue_drops: Cell<u64>,
    slow_clients: Cell<u64>,
    refused: [Cell<u64>; REASONS.len()],
}

impl fmt::Debug for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Counters")
            .field("server", &self.server)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

/// Every counter set, and the one for hooks that know no server.
struct Registry {
    on: bool,
    sets: Vec<Rc<Counters>>,
    process: Option<Rc<Counters>>,
}

thread_local! {
    static REGISTRY: RefCell<Registry> = const {
        RefCell::new(Registry {
            on: false,
            sets: Vec::new(),
            process: None,
        })
    };
}

/// Turns the metrics on (`--metricsEndpoint`); `process` (server, transport)
/// is the set of the hooks that know no server (bytes on connections, the
/// connection limit).
pub(crate) fn enable(process: &str, transport: Transport) {
    REGISTRY.with(|registry| registry.borrow_mut().on = true);
    let set = counters(process, transport);
    REGISTRY.with(|registry| registry.borrow_mut().process = set);
}

/// The counters of `server` over `transport` (made on first use), or
/// `None` when metrics are off: holders then count nothing.
pub(crate) fn counters(server: &str, transport: Transport) -> Option<Rc<Counters>> {
    REGISTRY.with(|registry| {
        let mut registry = registry.borrow_mut();
        if !registry.on {
            return None;
        }
        if let Some(set) = registry
            .sets
            .iter()
            .find(|set| &*set.server == server && set.transport == transport)
        {
            return Some(Rc::clone(set));
        }
        let set = Rc::new(Counters::new(server, transport));
        registry.sets.push(Rc::clone(&set));
        Some(set)
    })
}

fn bump(cell: &Cell<u64>, by: u64) {
    cell.set(cell.get().saturating_add(by));
}

fn with_process(update: impl FnOnce(&Counters)) {
    let set = REGISTRY.with(|registry| registry.borrow().process.clone());
    if let Some(set) = set {
        update(&set);
    }
}

/// Bytes read from a client connection.
pub(crate) fn bytes_in(bytes: usize) {
    with_process(|set| bump(&set.bytes_in, u64::try_from(bytes).unwrap_or(u64::MAX)));
}

/// Bytes written to a client connection.
pub(crate) fn bytes_out(bytes: usize) {
    with_process(|set| bump(&set.bytes_out, u64::try_from(bytes).unwrap_or(u64::MAX)));
}

/// A refusal before any server is known (the connection limit).
pub(crate) fn refused(reason: Reason) {
    with_process(|set| set.refused(reason));
}

impl Counters {
    fn new(server: &str, transport: Transport) -> Self {
        Self {
            server: server.into(),
            transport,
            requests: std::array::from_fn(|_| Cell::new(0)),
            latency_buckets: std::array::from_fn(|_| Cell::new(0)),
            latency_count: Cell::new(0),
            latency_sum_ns: Cell::new(0),
            sessions: Cell::new(0),
            child_starts: Cell::new(0),
            child_exits: Cell::new(0),
            child_restarts: Cell::new(0),
            bytes_in: Cell::new(0),
            bytes_out: Cell::new(0),
            queue_drops: Cell::new(0),
            slow_clients: Cell::new(0),
            refused: std::array::from_fn(|_| Cell::new(0)),
        }
    }

    /// A request the server answered (or never will): counted by method
    /// and outcome, its latency in the histogram.
    pub(crate) fn request(&self, method: u8, outcome: Outcome, latency: Duration) {
        let slot = usize::from(method)
            .min(METHODS.len())
            .saturating_mul(OUTCOMES.len())
            .saturating_add(outcome.index());
        if let Some(cell) = self.requests.get(slot) {
            bump(cell, 1);
        }
        let seconds = latency.as_secs_f64();
        if let Some(bucket) = BOUNDS.iter().position(|bound| seconds <= *bound) {
            if let Some(cell) = self.latency_buckets.get(bucket) {
                bump(cell, 1);
            }
        }
        bump(&self.latency_count, 1);
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        bump(&self.latency_sum_ns, nanos);
    }

    /// A session opened (`true`) or closed.
    pub(crate) fn session(&self, open: bool) {
        let sessions = self.sessions.get();
        self.sessions.set(if open {
            sessions.saturating_add(1)
        } else {
            sessions.saturating_sub(1)
        });
    }

    /// A child process started.
    pub(crate) fn child_start(&self) {
        bump(&self.child_starts, 1);
    }

    /// A child process exited.
    pub(crate) fn child_exit(&self) {
        bump(&self.child_exits, 1);
    }

    /// A child was replaced by a new one.
    pub(crate) fn child_restart(&self) {
        bump(&self.child_restarts, 1);
    }

    /// The relay dropped or refused queued messages (a budget report).
    pub(crate) fn queue_drop(&self) {
        bump(&self.queue_drops, 1);
    }

    /// A client too slow to read its stream was disconnected.
    pub(crate) fn slow_client(&self) {
        bump(&self.slow_clients, 1);
    }

    /// The front door refused a request.
    pub(crate) fn refused(&self, reason: Reason) {
        if let Some(cell) = self.refused.get(reason.index()) {
            bump(cell, 1);
        }
    }
}

/// The exposition (`text/plain; version=0.0.4`): each family once, with a
/// sample per counter set.
pub(crate) fn render() -> Vec<u8> {
    let mut out = Vec::with_capacity(8192);
    let (sets, process) = REGISTRY.with(|registry| {
        let registry = registry.borrow();
        (registry.sets.clone(), registry.process.clone())
    });
    write_all(&mut out, &sets, process.as_ref());
    out
}

/// The names, checked once per scrape (cheap, and no panic path).
struct Names {
    server: LabelName,
    transport: LabelName,
    method: LabelName,
    outcome: LabelName,
    reason: LabelName,
}

/// The per-set families: name, help, kind, whether it is counted per
/// connection (so only in the process's set: a `--config` server's set
/// never sees a connection's bytes), and the value of a set.
type Simple = (&'static str, &'static str, Kind, bool, fn(&Counters) -> u64);

const SIMPLE: [Simple; 8] = [
    (
        "supergateway_sessions_open",
        "Client sessions open.",
        Kind::Gauge,
        false,
        |c| c.sessions.get(),
    ),
    (
        "supergateway_child_starts",
        "MCP server processes started.",
        Kind::Counter,
        false,
        |c| c.child_starts.get(),
    ),
    (
        "supergateway_child_exits",
        "MCP server processes that exited.",
        Kind::Counter,
        false,
        |c| c.child_exits.get(),
    ),
    (
        "supergateway_child_restarts",
        "MCP server processes replaced by a new one.",
        Kind::Counter,
        false,
        |c| c.child_restarts.get(),
    ),
    (
        "supergateway_received_bytes",
        "Bytes read from client connections.",
        Kind::Counter,
        true,
        |c| c.bytes_in.get(),
    ),
    (
        "supergateway_sent_bytes",
        "Bytes written to client connections.",
        Kind::Counter,
        true,
        |c| c.bytes_out.get(),
    ),
    (
        "supergateway_queue_drops",
        "Budget refusals and dropped lines the relay reported (once per burst).",
        Kind::Counter,
        false,
        |c| c.queue_drops.get(),
    ),
    (
        "supergateway_slow_client_disconnects",
        "Clients disconnected for not reading their stream.",
        Kind::Counter,
        false,
        |c| c.slow_clients.get(),
    ),
];

fn write_all(out: &mut Vec<u8>, sets: &[Rc<Counters>], process: Option<&Rc<Counters>>) {
    let (Ok(server), Ok(transport), Ok(method), Ok(outcome), Ok(reason)) = (
        LabelName::new("server"),
        LabelName::new("transport"),
        LabelName::new("method"),
        LabelName::new("outcome"),
        LabelName::new("reason"),
    ) else {
        return;
    };
    let names = Names {
        server,
        transport,
        method,
        outcome,
        reason,
    };
    fn base<'a>(names: &Names, set: &'a Counters) -> [(LabelName, &'a str); 2] {
        [
            (names.server, &*set.server),
            (names.transport, set.transport.as_str()),
        ]
    }

    if let Ok(name) = MetricName::new("supergateway_requests") {
        family(
            out,
            name,
            "Requests that reached the MCP server, by method and outcome.",
            Kind::Counter,
        );
        for set in sets {
            let [server, transport] = base(&names, set);
            let methods = METHODS.iter().copied().chain(std::iter::once("other"));
            let mut cells = set.requests.iter();
            for m in methods {
                for o in OUTCOMES {
                    let value = cells.next().map_or(0, Cell::get);
                    let labels = [server, transport, (names.method, m), (names.outcome, o)];
                    sample(out, name, "_total", &labels, value);
                }
            }
        }
    }
    if let Ok(name) = MetricName::new("supergateway_request_duration_seconds") {
        family(
            out,
            name,
            "Time from a request reaching the MCP server to its answer.",
            Kind::Histogram,
        );
        // One histogram per transport, over every server.
        let mut transports: Vec<Transport> = Vec::with_capacity(4);
        for set in sets {
            if !transports.contains(&set.transport) {
                transports.push(set.transport);
            }
        }
        for transport in transports {
            let of = || sets.iter().filter(move |set| set.transport == transport);
            let buckets: [u64; BOUNDS.len()] = std::array::from_fn(|i| {
                of().map(|set| set.latency_buckets.get(i).map_or(0, Cell::get))
                    .fold(0, u64::saturating_add)
            });
            let count = of()
                .map(|set| set.latency_count.get())
                .fold(0, u64::saturating_add);
            let sum_ns = of()
                .map(|set| set.latency_sum_ns.get())
                .fold(0, u64::saturating_add);
            #[allow(clippy::cast_precision_loss)] // a sum of latencies, not an id
            let sum = sum_ns as f64 / 1e9;
            histogram(
                out,
                name,
                &[(names.transport, transport.as_str())],
                &Histogram {
                    bounds: &BOUNDS,
                    buckets: &buckets,
                    count,
                    sum,
                },
            );
        }
    }
    for (metric, help, kind, per_connection, value) in SIMPLE {
        if let Ok(name) = MetricName::new(metric) {
            family(out, name, help, kind);
            let suffix = if kind == Kind::Counter { "_total" } else { "" };
            for set in sets {
                let counted = !per_connection || process.is_some_and(|p| Rc::ptr_eq(p, set));
                if counted {
                    sample(out, name, suffix, &base(&names, set), value(set));
                }
            }
        }
    }
    if let Ok(name) = MetricName::new("supergateway_refused_requests") {
        family(
            out,
            name,
            "Requests the gateway refused before the MCP server saw them, by reason.",
            Kind::Counter,
        );
        for set in sets {
            let [server, transport] = base(&names, set);
            for (r, cell) in REASONS.iter().zip(&set.refused) {
                let labels = [server, transport, (names.reason, r)];
                sample(out, name, "_total", &labels, cell.get());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_bounded() {
        assert_eq!(method_index("tools/call"), 17);
        assert_eq!(usize::from(method_index("x")), METHODS.len());
        assert_eq!(usize::from(method_index("")), METHODS.len());
    }

    #[test]
    fn renders_exact_lines() {
        enable("default", Transport::Ws);
        let set = counters("default", Transport::Ws).unwrap();
        set.request(
            method_index("tools/call"),
            Outcome::Ok,
            Duration::from_micros(70),
        );
        set.request(
            method_index("nope"),
            Outcome::Error,
            Duration::from_secs(60),
        );
        refused(Reason::Rate);
        set.session(true);
        set.session(true);
        set.session(false);
        // A second server's set: its own samples, the histogram shared.
        let other = counters("files", Transport::Ws).unwrap();
        other.session(true);
        other.request(method_index("ping"), Outcome::Ok, Duration::from_secs(1));
        let text = String::from_utf8(render()).unwrap();
        for line in [
            "supergateway_requests_total{server=\"default\",transport=\"ws\",method=\"tools/call\",outcome=\"ok\"} 1",
            "supergateway_requests_total{server=\"default\",transport=\"ws\",method=\"other\",outcome=\"error\"} 1",
            "supergateway_request_duration_seconds_bucket{transport=\"ws\",le=\"0.00005\"} 0",
            "supergateway_request_duration_seconds_bucket{transport=\"ws\",le=\"0.0001\"} 1",
            "supergateway_request_duration_seconds_bucket{transport=\"ws\",le=\"30\"} 2",
            "supergateway_request_duration_seconds_bucket{transport=\"ws\",le=\"+Inf\"} 3",
            "supergateway_request_duration_seconds_sum{transport=\"ws\"} 61.00007",
            "supergateway_request_duration_seconds_count{transport=\"ws\"} 3",
            "supergateway_sessions_open{server=\"default\",transport=\"ws\"} 1",
            "supergateway_sessions_open{server=\"files\",transport=\"ws\"} 1",
            "supergateway_requests_total{server=\"files\",transport=\"ws\",method=\"ping\",outcome=\"ok\"} 1",
            "supergateway_refused_requests_total{server=\"default\",transport=\"ws\",reason=\"rate\"} 1",
            "supergateway_refused_requests_total{server=\"default\",transport=\"ws\",reason=\"auth\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("supergateway_requests_total"))
                .count(),
            2 * (METHODS.len() + 1) * OUTCOMES.len()
        );
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("# TYPE supergateway_sessions_open "))
                .count(),
            1
        );
    }
}
