//! The Prometheus metrics of `--metricsEndpoint`: a fixed set of counters,
//! one gauge and one histogram, held per thread (the gateway runs on one)
//! in `Cell`s, and rendered with `proto::metrics` on a scrape.
//!
//! Every label value comes from a closed set, so a client cannot grow the
//! exposition: `server` is `default` (one server per process until the
//! `mcpServers` config lands), `transport` is the process's output
//! transport, `method` one of the MCP methods the spec defines or `other`,
//! `outcome` and `reason` small enums. Off (the default) every hook is one
//! `Cell<bool>` read; on, a request costs a few `Cell` updates and no
//! allocation here.

use std::cell::Cell;
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

struct Metrics {
    on: Cell<bool>,
    transport: Cell<Transport>,
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

thread_local! {
    static METRICS: Metrics = Metrics {
        on: Cell::new(false),
        transport: Cell::new(Transport::Stdio),
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
    };
}

/// Turns the metrics on (`--metricsEndpoint`) for a process serving
/// `transport`.
pub(crate) fn enable(transport: Transport) {
    METRICS.with(|metrics| {
        metrics.on.set(true);
        metrics.transport.set(transport);
    });
}

/// Whether anything is being counted.
pub(crate) fn on() -> bool {
    METRICS.with(|metrics| metrics.on.get())
}

fn bump(cell: &Cell<u64>, by: u64) {
    cell.set(cell.get().saturating_add(by));
}

fn with_on(update: impl FnOnce(&Metrics)) {
    METRICS.with(|metrics| {
        if metrics.on.get() {
            update(metrics);
        }
    });
}

/// A request the server answered (or never will): counted by method and
/// outcome, its latency in the histogram.
pub(crate) fn request(method: u8, outcome: Outcome, latency: Duration) {
    with_on(|metrics| {
        let slot = usize::from(method)
            .min(METHODS.len())
            .saturating_mul(OUTCOMES.len())
            .saturating_add(outcome.index());
        if let Some(cell) = metrics.requests.get(slot) {
            bump(cell, 1);
        }
        let seconds = latency.as_secs_f64();
        if let Some(bucket) = BOUNDS.iter().position(|bound| seconds <= *bound) {
            if let Some(cell) = metrics.latency_buckets.get(bucket) {
                bump(cell, 1);
            }
        }
        bump(&metrics.latency_count, 1);
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        bump(&metrics.latency_sum_ns, nanos);
    });
}

/// A session opened (`true`) or closed.
pub(crate) fn session(open: bool) {
    with_on(|metrics| {
        let sessions = metrics.sessions.get();
        metrics.sessions.set(if open {
            sessions.saturating_add(1)
        } else {
            sessions.saturating_sub(1)
        });
    });
}

/// A child process started.
pub(crate) fn child_start() {
    with_on(|metrics| bump(&metrics.child_starts, 1));
}

/// A child process exited.
pub(crate) fn child_exit() {
    with_on(|metrics| bump(&metrics.child_exits, 1));
}

/// A child was replaced by a new one.
pub(crate) fn child_restart() {
    with_on(|metrics| bump(&metrics.child_restarts, 1));
}

/// Bytes read from a client connection.
pub(crate) fn bytes_in(bytes: usize) {
    with_on(|metrics| bump(&metrics.bytes_in, u64::try_from(bytes).unwrap_or(u64::MAX)));
}

/// Bytes written to a client connection.
pub(crate) fn bytes_out(bytes: usize) {
    with_on(|metrics| bump(&metrics.bytes_out, u64::try_from(bytes).unwrap_or(u64::MAX)));
}

/// The relay dropped or refused queued messages (a budget report).
pub(crate) fn queue_drop() {
    with_on(|metrics| bump(&metrics.queue_drops, 1));
}

/// A client too slow to read its stream was disconnected.
pub(crate) fn slow_client() {
    with_on(|metrics| bump(&metrics.slow_clients, 1));
}

/// The front door refused a request.
pub(crate) fn refused(reason: Reason) {
    with_on(|metrics| {
        if let Some(cell) = metrics.refused.get(reason.index()) {
            bump(cell, 1);
        }
    });
}

/// The exposition (`text/plain; version=0.0.4`).
pub(crate) fn render() -> Vec<u8> {
    let mut out = Vec::with_capacity(8192);
    METRICS.with(|metrics| write_all(&mut out, metrics));
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

fn write_all(out: &mut Vec<u8>, metrics: &Metrics) {
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
    let t = metrics.transport.get().as_str();
    let base = [(names.server, "default"), (names.transport, t)];

    if let Ok(name) = MetricName::new("supergateway_requests") {
        family(
            out,
            name,
            "Requests that reached the MCP server, by method and outcome.",
            Kind::Counter,
        );
        let methods = METHODS.iter().copied().chain(std::iter::once("other"));
        let mut cells = metrics.requests.iter();
        for m in methods {
            for o in OUTCOMES {
                let value = cells.next().map_or(0, Cell::get);
                let labels = [base[0], base[1], (names.method, m), (names.outcome, o)];
                sample(out, name, "_total", &labels, value);
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
        let buckets: [u64; BOUNDS.len()] =
            std::array::from_fn(|i| metrics.latency_buckets.get(i).map_or(0, Cell::get));
        #[allow(clippy::cast_precision_loss)] // a sum of latencies, not an id
        let sum = metrics.latency_sum_ns.get() as f64 / 1e9;
        histogram(
            out,
            name,
            &[(names.transport, t)],
            &Histogram {
                bounds: &BOUNDS,
                buckets: &buckets,
                count: metrics.latency_count.get(),
                sum,
            },
        );
    }
    let gauge = |out: &mut Vec<u8>, name: &'static str, help: &str, value: u64| {
        if let Ok(name) = MetricName::new(name) {
            family(out, name, help, Kind::Gauge);
            sample(out, name, "", &base, value);
        }
    };
    gauge(
        out,
        "supergateway_sessions_open",
        "Client sessions open.",
        metrics.sessions.get(),
    );
    let counter = |out: &mut Vec<u8>, name: &'static str, help: &str, value: u64| {
        if let Ok(name) = MetricName::new(name) {
            family(out, name, help, Kind::Counter);
            sample(out, name, "_total", &base, value);
        }
    };
    counter(
        out,
        "supergateway_child_starts",
        "MCP server processes started.",
        metrics.child_starts.get(),
    );
    counter(
        out,
        "supergateway_child_exits",
        "MCP server processes that exited.",
        metrics.child_exits.get(),
    );
    counter(
        out,
        "supergateway_child_restarts",
        "MCP server processes replaced by a new one.",
        metrics.child_restarts.get(),
    );
    counter(
        out,
        "supergateway_received_bytes",
        "Bytes read from client connections.",
        metrics.bytes_in.get(),
    );
    counter(
        out,
        "supergateway_sent_bytes",
        "Bytes written to client connections.",
        metrics.bytes_out.get(),
    );
    counter(
        out,
        "supergateway_queue_drops",
        "Budget refusals and dropped lines the relay reported (once per burst).",
        metrics.queue_drops.get(),
    );
    counter(
        out,
        "supergateway_slow_client_disconnects",
        "Clients disconnected for not reading their stream.",
        metrics.slow_clients.get(),
    );
    if let Ok(name) = MetricName::new("supergateway_refused_requests") {
        family(
            out,
            name,
            "Requests the gateway refused before the MCP server saw them, by reason.",
            Kind::Counter,
        );
        for (r, cell) in REASONS.iter().zip(&metrics.refused) {
            let labels = [base[0], base[1], (names.reason, r)];
            sample(out, name, "_total", &labels, cell.get());
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
        enable(Transport::Ws);
        request(
            method_index("tools/call"),
            Outcome::Ok,
            Duration::from_micros(70),
        );
        request(
            method_index("nope"),
            Outcome::Error,
            Duration::from_secs(60),
        );
        refused(Reason::Rate);
        session(true);
        session(true);
        session(false);
        let text = String::from_utf8(render()).unwrap();
        for line in [
            "supergateway_requests_total{server=\"default\",transport=\"ws\",method=\"tools/call\",outcome=\"ok\"} 1",
            "supergateway_requests_total{server=\"default\",transport=\"ws\",method=\"other\",outcome=\"error\"} 1",
            "supergateway_request_duration_seconds_bucket{transport=\"ws\",le=\"0.00005\"} 0",
            "supergateway_request_duration_seconds_bucket{transport=\"ws\",le=\"0.0001\"} 1",
            "supergateway_request_duration_seconds_bucket{transport=\"ws\",le=\"30\"} 1",
            "supergateway_request_duration_seconds_bucket{transport=\"ws\",le=\"+Inf\"} 2",
            "supergateway_request_duration_seconds_sum{transport=\"ws\"} 60.00007",
            "supergateway_request_duration_seconds_count{transport=\"ws\"} 2",
            "supergateway_sessions_open{server=\"default\",transport=\"ws\"} 1",
            "supergateway_refused_requests_total{server=\"default\",transport=\"ws\",reason=\"rate\"} 1",
            "supergateway_refused_requests_total{server=\"default\",transport=\"ws\",reason=\"auth\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("supergateway_requests_total"))
                .count(),
            (METHODS.len() + 1) * OUTCOMES.len()
        );
    }
}
