//! Telemetry: local logs (tracing-subscriber's fmt layer, text or JSON lines), set from
//! `--logLevel` and refined by `RUST_LOG`, and the OTLP/HTTP exporter (`otlp_export`).
//!
//! - `--logLevel none` prints nothing at all, not even errors, as in the Node version; no
//!   subscriber is installed, so `RUST_LOG` is ignored too and events cost nothing.
//! - `info` keeps every target at INFO; `debug` raises supergateway's own targets to DEBUG and
//!   leaves the dependencies at INFO (use `RUST_LOG=debug` for everything).
//! - `RUST_LOG` directives are applied on top of those: a directive for the same target
//!   replaces the level's (`RUST_LOG=warn` turns `info` down), new targets are added
//!   (`RUST_LOG=async_io=trace`). Invalid directives are reported once on stderr and skipped.
//! - Directives are `level` or `target=level` (tracing-subscriber's `Targets`), not
//!   `EnvFilter`'s span and field matchers: those need a regex engine, which cost the binary
//!   ~400 KB for a feature a gateway's operators do not use.
//! - Logs go to stderr in the stdio output modes, where stdout carries the protocol, and to
//!   stdout otherwise (the Node version's choice). ANSI colours only when that stream is a
//!   terminal.
//!
//! - `--logFormat json` writes one JSON object per line (`json_log`), for log shippers.
//! - Every logged value is escaped in both formats (`escape`): no control character from a
//!   value reaches a log line, so a value cannot forge a line or steer the terminal.
//! - Spans: `rpc_span` (one per relayed JSON-RPC request, target `supergateway::rpc`, DEBUG) and
//!   `client_span` (one per outbound request of the reverse modes). They exist only when the
//!   exporter sends traces or supergateway's debug logs are on: otherwise nothing is allocated
//!   (one atomic load).
//!
//! Nothing here logs configuration values; callers never pass secrets to `tracing` (OTLP header
//! values included).

mod escape;
mod json_log;
mod otlp_export;

use std::cell::RefCell;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use supergateway_proto::jsonrpc::parse_message;
use supergateway_proto::otlp::{TraceParent, TRACEPARENT_LEN};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Metadata, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

pub(crate) use self::otlp_export::Exporter;

/// Local log verbosity (`--logLevel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LogLevel {
    /// Everything, including each message relayed.
    Debug,
    /// Startup, connections, errors.
    Info,
    /// Nothing at all, not even errors (as the Node version).
    None,
}

/// Local log line format (`--logFormat`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LogFormat {
    /// One JSON object per line, for log shippers.
    Json,
    /// Human-readable lines (tracing-subscriber's default format).
    Text,
}

/// The target of the spans the exporter sends (and `--logLevel debug` shows).
pub(crate) const RPC_TARGET: &str = "supergateway::rpc";

/// Per-request spans are created (traces are exported, or debug logs are on).
static SPANS: AtomicBool = AtomicBool::new(false);

/// Sets up local logging and, when the `OTEL_*` environment asks for it, the OTLP exporter,
/// whose export task the caller starts on the runtime (see the module doc). Calling it twice
/// keeps the first setup.
pub(crate) fn init(level: LogLevel, format: LogFormat, to_stderr: bool) -> Option<Exporter> {
    let rust_log = std::env::var("RUST_LOG").ok();
    let directives = directives(level, rust_log.as_deref());
    let mut warnings = Vec::new();
    let exporter = otlp_export::Settings::from_env(|name| std::env::var(name).ok(), &mut warnings)
        .map(Exporter::new);
    if directives.is_none() && exporter.is_none() {
        return None;
    }
    let targets = directives.as_deref().map(targets);
    let debug = targets
        .as_ref()
        .is_some_and(|t| t.would_enable(RPC_TARGET, &tracing::Level::DEBUG));
    let traces = exporter.as_ref().is_some_and(Exporter::exports_traces);
    SPANS.store(traces || debug, Ordering::Relaxed);
    let stream = if to_stderr {
        Stream::Stderr
    } else {
        Stream::Stdout
    };
    let ansi = match stream {
        Stream::Stdout => std::io::stdout().is_terminal(),
        Stream::Stderr => std::io::stderr().is_terminal(),
    };
    let local = targets.is_some();
    // One filter for every layer (per-layer filters cost ~30 KB of binary): what the log
    // directives enable, plus the request spans when traces are exported. Those spans are never
    // entered, so the local output only shows them as the parent of their own debug events.
    let filter = GlobalFilter {
        targets,
        rpc_spans: traces,
    };
    // One writer type for both streams: each output layer type is instantiated once.
    let text = (local && format == LogFormat::Text).then(|| {
        tracing_subscriber::fmt::layer()
            .fmt_fields(escape::EscapedFields)
            .with_writer(stream)
            .with_ansi(ansi)
    });
    let json = (local && format == LogFormat::Json).then(|| json_log::JsonLayer::new(stream));
    let otlp = exporter.as_ref().map(Exporter::layer);
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .with(otlp)
        .try_init();
    if let Err(error) = installed {
        eprintln!("supergateway: logging not set up: {error}");
    }
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    exporter
}

/// The process-wide filter: `targets` (the log directives) for events and spans, and the request
/// spans (target `supergateway::rpc`) whatever their level when `rpc_spans`.
struct GlobalFilter {
    targets: Option<Targets>,
    rpc_spans: bool,
}

impl GlobalFilter {
    fn wants(&self, meta: &Metadata<'_>) -> bool {
        (self.rpc_spans && meta.is_span() && meta.target() == RPC_TARGET)
            || self
                .targets
                .as_ref()
                .is_some_and(|targets| targets.would_enable(meta.target(), meta.level()))
    }
}

impl<S: Subscriber> Layer<S> for GlobalFilter {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.wants(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, _: Context<'_, S>) -> bool {
        self.wants(meta)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        let logs = self
            .targets
            .as_ref()
            .and_then(Layer::<S>::max_level_hint)
            .unwrap_or(LevelFilter::OFF);
        let spans = if self.rpc_spans {
            LevelFilter::DEBUG
        } else {
            LevelFilter::OFF
        };
        Some(logs.max(spans))
    }
}

/// Where local logs go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stream {
    Stdout,
    Stderr,
}

impl MakeWriter<'_> for Stream {
    type Writer = StreamWriter;
    fn make_writer(&self) -> StreamWriter {
        match self {
            Self::Stdout => StreamWriter::Stdout(std::io::stdout()),
            Self::Stderr => StreamWriter::Stderr(std::io::stderr()),
        }
    }
}

enum StreamWriter {
    Stdout(std::io::Stdout),
    Stderr(std::io::Stderr),
}

impl std::io::Write for StreamWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Stdout(out) => out.write(buf),
            Self::Stderr(err) => err.write(buf),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Self::Stdout(out) => out.write_all(buf),
            Self::Stderr(err) => err.write_all(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Stdout(out) => out.flush(),
            Self::Stderr(err) => err.flush(),
        }
    }
}

/// What the transport knows about the HTTP request (or connection) that carried the client
/// messages being handled: the request spans created meanwhile take it as attributes and parent.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Carrier<'a> {
    /// `supergateway.transport`: `sse`, `ws`, `streamableHttp`.
    pub(crate) transport: &'static str,
    /// The client-visible session id, if the transport has one.
    pub(crate) session: Option<&'a str>,
    /// The request's `traceparent` header.
    pub(crate) traceparent: Option<&'a [u8]>,
    /// `enduser.id`: who the caller authenticated as (`Caller::subject`),
    /// never a token.
    pub(crate) enduser: Option<&'a str>,
}

#[derive(Clone)]
struct Current {
    transport: &'static str,
    session: Option<String>,
    parent: Option<TraceParent>,
    enduser: Option<String>,
}

thread_local! {
    /// Set by `with_carrier` around a synchronous call into the link.
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
}

/// Runs `handle` (a synchronous hand-off of client messages to the link) with `carrier` as the
/// context of the request spans it creates. Costs nothing when no span is made.
pub(crate) fn with_carrier<R>(carrier: Carrier<'_>, handle: impl FnOnce() -> R) -> R {
    if !SPANS.load(Ordering::Relaxed) {
        return handle();
    }
    let current = Current {
        transport: carrier.transport,
        session: carrier.session.map(str::to_owned),
        parent: carrier
            .traceparent
            .and_then(|value| TraceParent::parse(value.trim_ascii()).ok()),
        enduser: carrier.enduser.map(str::to_owned),
    };
    let previous = CURRENT.with(|slot| slot.replace(Some(current)));
    let result = handle();
    CURRENT.with(|slot| *slot.borrow_mut() = previous);
    result
}

/// The carrier of a hand-off, kept for the requests of it that reach the child later (held
/// while the child starts or is probed): see [`current_context`] and [`with_context`].
#[derive(Clone)]
pub(crate) struct HandOff(Current);

/// The carrier `with_carrier` has set now, if any; `None` (one atomic load) when spans are off.
pub(crate) fn current_context() -> Option<HandOff> {
    if !SPANS.load(Ordering::Relaxed) {
        return None;
    }
    CURRENT.with(|slot| slot.borrow().clone().map(HandOff))
}

/// Runs `handle` with `context` as the carrier when no carrier is set (a request the relay
/// forwards outside any hand-off, on a child's line or timer); else as it is.
pub(crate) fn with_context<R>(context: Option<&HandOff>, handle: impl FnOnce() -> R) -> R {
    let Some(HandOff(context)) = context else {
        return handle();
    };
    if CURRENT.with(|slot| slot.borrow().is_some()) {
        return handle();
    }
    CURRENT.with(|slot| *slot.borrow_mut() = Some(context.clone()));
    let result = handle();
    CURRENT.with(|slot| *slot.borrow_mut() = None);
    result
}

/// Whether request spans are made (traces exported, or debug logs on).
pub(crate) fn spans_on() -> bool {
    SPANS.load(Ordering::Relaxed)
}

/// The remote parent of the request spans being created, from `with_carrier`.
pub(crate) fn remote_parent() -> Option<TraceParent> {
    CURRENT.with(|slot| slot.borrow().as_ref().and_then(|current| current.parent))
}

/// The spans of one relayed JSON-RPC request: the server span (from the client's request to the
/// child's answer) and its child span for the round trip to the child process.
pub(crate) struct RpcSpan {
    server: tracing::Span,
    child: tracing::Span,
    start: std::time::Instant,
}

/// Starts the spans of a request relayed to the child, or `None` when spans are off.
pub(crate) fn rpc_span(method: &str, id: &[u8], pid: Option<i32>) -> Option<RpcSpan> {
    if !SPANS.load(Ordering::Relaxed) {
        return None;
    }
    let id = String::from_utf8_lossy(id);
    let server = CURRENT.with(|slot| {
        let current = slot.borrow();
        let transport = current.as_ref().map_or("stdio", |c| c.transport);
        let session = current.as_ref().and_then(|c| c.session.as_deref());
        let enduser = current.as_ref().and_then(|c| c.enduser.as_deref());
        tracing::debug_span!(
            target: RPC_TARGET,
            parent: None,
            "rpc",
            otel.name = method,
            otel.kind = "server",
            rpc.system = "jsonrpc",
            rpc.method = method,
            rpc.jsonrpc.request_id = %id,
            mcp.session.id = session,
            enduser.id = enduser,
            supergateway.transport = transport,
            process.pid = pid,
            rpc.jsonrpc.error_code = tracing::field::Empty,
            otel.status_message = tracing::field::Empty,
        )
    });
    if server.is_disabled() {
        return None;
    }
    let child = tracing::debug_span!(
        target: RPC_TARGET,
        parent: &server,
        "child.call",
        otel.kind = "client",
        rpc.method = method,
        process.pid = pid,
    );
    Some(RpcSpan {
        server,
        child,
        start: std::time::Instant::now(),
    })
}

impl RpcSpan {
    /// The child answered (`error`: its JSON-RPC error code and message), or the gateway gave
    /// up on the request (`error` with the gateway's code).
    pub(crate) fn finish(self, error: Option<(i64, &str)>) {
        let Self {
            server,
            child,
            start,
        } = self;
        drop(child);
        if let Some((code, message)) = error {
            server.record("rpc.jsonrpc.error_code", code);
            server.record("otel.status_message", message);
        }
        let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
        let outcome = if error.is_some() { "error" } else { "ok" };
        tracing::debug!(target: RPC_TARGET, parent: &server, duration_us = micros, outcome, "request done");
    }
}

/// The code and message of a JSON-RPC error response line (read only when spans are on).
pub(crate) fn error_of(line: &[u8]) -> Option<(i64, String)> {
    let value: serde_json::Value = serde_json::from_slice(line).ok()?;
    let error = value.get("error")?;
    let code = error.get("code")?.as_i64()?;
    let message = error.get("message").and_then(|m| m.as_str()).unwrap_or("");
    Some((code, message.to_owned()))
}

/// A span for one outbound request of a reverse mode (kind client) and the `traceparent` to
/// send with it; `None` when spans are off.
pub(crate) struct ClientSpan {
    pub(crate) span: tracing::Span,
    traceparent: Option<[u8; TRACEPARENT_LEN]>,
}

impl ClientSpan {
    /// The `traceparent` header value naming this span.
    pub(crate) fn traceparent(&self) -> Option<&[u8]> {
        self.traceparent.as_ref().map(|value| value.as_slice())
    }

    /// Records the HTTP status of the response (an error status marks the span failed).
    pub(crate) fn record_status(&self, status: u16) {
        self.span.record("http.response.status_code", status);
        if !(200..300).contains(&status) {
            self.span.record("otel.status_message", "HTTP error status");
            self.span.record("error.type", status);
        }
    }
}

/// Starts a client span for POSTing `message` to `server` (`transport`: `sse`,
/// `streamableHttp`).
pub(crate) fn client_span(
    message: &[u8],
    transport: &'static str,
    server: &str,
) -> Option<ClientSpan> {
    if !SPANS.load(Ordering::Relaxed) {
        return None;
    }
    let parsed = parse_message(message).ok();
    let method = parsed
        .as_ref()
        .and_then(|m| m.method.as_deref())
        .unwrap_or("response");
    let span = tracing::debug_span!(
        target: RPC_TARGET,
        parent: None,
        "rpc.client",
        otel.name = method,
        otel.kind = "client",
        rpc.system = "jsonrpc",
        rpc.method = method,
        server.address = server,
        supergateway.transport = transport,
        http.response.status_code = tracing::field::Empty,
        otel.status_message = tracing::field::Empty,
        error.type = tracing::field::Empty,
    );
    let traceparent = otlp_export::context_of(&span).and_then(|(trace_id, span_id)| {
        let mut out = Vec::with_capacity(TRACEPARENT_LEN);
        TraceParent {
            trace_id,
            parent_id: span_id,
            flags: 1,
        }
        .encode(&mut out);
        <[u8; TRACEPARENT_LEN]>::try_from(out).ok()
    });
    Some(ClientSpan { span, traceparent })
}

/// The filter for comma-separated directives; each invalid one is reported on stderr and
/// skipped, so one typo in `RUST_LOG` does not silence the rest.
fn targets(directives: &str) -> Targets {
    let valid: Vec<&str> = directives
        .split(',')
        .map(str::trim)
        .filter(|directive| !directive.is_empty())
        .filter(|directive| match directive.parse::<Targets>() {
            Ok(_) => true,
            Err(_) => {
                eprintln!("supergateway: ignoring invalid RUST_LOG directive {directive:?}");
                false
            }
        })
        .collect();
    valid.join(",").parse().unwrap_or_default()
}

/// The filter directives for a level and an optional `RUST_LOG` value; `None` when nothing
/// must be printed.
fn directives(level: LogLevel, rust_log: Option<&str>) -> Option<String> {
    let base = match level {
        LogLevel::None => return None,
        LogLevel::Info => "info",
        LogLevel::Debug => "info,supergateway=debug,supergateway_proto=debug",
    };
    Some(match rust_log.map(str::trim) {
        Some(extra) if !extra.is_empty() => format!("{base},{extra}"),
        _ => base.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_hand_off_applies_only_outside_a_carrier() {
        let kept = HandOff(Current {
            transport: "streamableHttp",
            session: Some("s-1".to_owned()),
            parent: None,
            enduser: Some("alice".to_owned()),
        });
        let enduser =
            || CURRENT.with(|slot| slot.borrow().as_ref().and_then(|c| c.enduser.clone()));
        // Outside any hand-off (a held request forwarded on a child's line):
        // the kept one, and nothing once done.
        assert_eq!(with_context(Some(&kept), enduser), Some("alice".to_owned()));
        assert_eq!(enduser(), None);
        assert_eq!(with_context(None, enduser), None);
        // Inside a hand-off: that one wins.
        CURRENT.with(|slot| {
            *slot.borrow_mut() = Some(Current {
                transport: "sse",
                session: None,
                parent: None,
                enduser: Some("bob".to_owned()),
            });
        });
        assert_eq!(with_context(Some(&kept), enduser), Some("bob".to_owned()));
        assert_eq!(enduser(), Some("bob".to_owned()));
        CURRENT.with(|slot| *slot.borrow_mut() = None);
    }

    #[test]
    fn directives_follow_level_then_rust_log() {
        let cases: &[(LogLevel, Option<&str>, Option<&str>)] = &[
            (LogLevel::None, None, None),
            (LogLevel::None, Some("debug"), None),
            (LogLevel::Info, None, Some("info")),
            (LogLevel::Info, Some(""), Some("info")),
            (LogLevel::Info, Some("  "), Some("info")),
            (LogLevel::Info, Some("warn"), Some("info,warn")),
            (
                LogLevel::Debug,
                None,
                Some("info,supergateway=debug,supergateway_proto=debug"),
            ),
            (
                LogLevel::Debug,
                Some("async_io=trace"),
                Some("info,supergateway=debug,supergateway_proto=debug,async_io=trace"),
            ),
        ];
        for &(level, rust_log, expected) in cases {
            assert_eq!(
                directives(level, rust_log).as_deref(),
                expected,
                "{level:?} {rust_log:?}"
            );
        }
    }

    #[test]
    fn rust_log_overrides_the_level_for_the_same_target() {
        let filter = |level, rust_log| {
            let directives = directives(level, rust_log).unwrap_or_default();
            let mut parts: Vec<String> = targets(&directives)
                .to_string()
                .split(',')
                .map(str::to_owned)
                .collect();
            parts.sort();
            parts.join(",")
        };
        assert_eq!(filter(LogLevel::Info, None), "info");
        assert_eq!(filter(LogLevel::Info, Some("warn")), "warn");
        assert_eq!(filter(LogLevel::Info, Some("x=trace")), "info,x=trace");
        assert_eq!(
            filter(LogLevel::Info, Some("x=loud,y=debug")),
            "info,y=debug"
        );
        assert_eq!(
            filter(LogLevel::Debug, Some("supergateway=trace,off")),
            "off,supergateway=trace,supergateway_proto=debug"
        );
    }
}
