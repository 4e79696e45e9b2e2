//! The OTLP/HTTP JSON exporter: a `tracing` layer that turns finished spans (target
//! `supergateway::rpc`) and events into OTLP records on a bounded queue, and an export task on
//! the runtime that batches them and POSTs them with the in-tree HTTP client.
//!
//! - Configuration: the standard `OTEL_*` environment variables (`Settings::from_env`).
//! - The queue holds at most `QUEUE` spans and `QUEUE` log records; when full, the oldest is
//!   dropped and counted, and the count is logged (locally) once per export round. The relay
//!   path only ever takes a mutex for a push: it never waits for the network.
//! - A batch goes out when `BATCH` records are queued or every `OTEL_BSP_SCHEDULE_DELAY` ms
//!   (default 1000). A failed export is retried only on 429, 502, 503 and 504, with exponential
//!   backoff (or the server's `Retry-After` seconds), within `OTEL_EXPORTER_OTLP_TIMEOUT` ms
//!   (default 10000) per batch; otherwise the batch is dropped and logged.
//! - On shutdown, what is queued is exported within a deadline (`Running::shutdown`).
//! - The exporter's own events (target `supergateway::telemetry`) are never exported, so an
//!   export failure cannot feed the queue it drains.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_io::Timer;
use futures_lite::FutureExt;
use smol::channel::{self, Receiver, Sender};
use smol::Task;
use supergateway_proto::http::{HeaderName, HeaderValue, Method};
use supergateway_proto::otlp::{
    encode_logs, encode_traces, AnyValue, KeyValue, LogRecord, Scope, Severity, Span, SpanKind,
    Status,
};
use supergateway_proto::url::{Scheme, Url};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::{LookupSpan, Registry};

use crate::http::client::{Client, ClientOptions};
use crate::rt;
use crate::telemetry::{remote_parent, RPC_TARGET};

/// Records of each kind queued at most.
const QUEUE: usize = 2048;
/// Records per export request at most (and the queue length that triggers one).
const BATCH: usize = 512;
/// Attempts per batch at most (the first and the retries).
const ATTEMPTS: u32 = 5;
/// The first retry delay (doubled after each retry) when the server gives no `Retry-After`.
const BACKOFF: Duration = Duration::from_millis(100);
/// How long the exporter gets to send what is queued when the gateway exits.
const SHUTDOWN: Duration = Duration::from_secs(2);
/// Targets that are never exported (the exporter's own reports).
const OWN_TARGET: &str = "supergateway::telemetry";

/// The exporter's configuration, from the environment.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    traces: Option<Url>,
    logs: Option<Url>,
    /// `OTEL_EXPORTER_OTLP_HEADERS` (values are secrets: never printed).
    headers: Vec<(HeaderName, HeaderValue)>,
    resource: Vec<KeyValue>,
    timeout: Duration,
    delay: Duration,
}

impl Settings {
    /// The settings from the `OTEL_*` variables (`lookup`), or `None` when no endpoint is set or
    /// `OTEL_SDK_DISABLED=true`. Invalid values are skipped with a line in `warnings`.
    pub(crate) fn from_env(
        lookup: impl Fn(&str) -> Option<String>,
        warnings: &mut Vec<String>,
    ) -> Option<Self> {
        let var = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        if var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
            return None;
        }
        let base = var("OTEL_EXPORTER_OTLP_ENDPOINT");
        let mut endpoint = |signal: &str, path: &str| -> Option<Url> {
            let exporter = format!("OTEL_{}_EXPORTER", signal.to_ascii_uppercase());
            if var(&exporter).is_some_and(|v| v.trim() == "none") {
                return None;
            }
            let specific = format!(
                "OTEL_EXPORTER_OTLP_{}_ENDPOINT",
                signal.to_ascii_uppercase()
            );
            let (name, url) = match (var(&specific), &base) {
                (Some(url), _) => (specific, url),
                (None, Some(base)) => (
                    "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
                    format!("{}{path}", base.trim().trim_end_matches('/')),
                ),
                (None, None) => return None,
            };
            match Url::parse(url.trim()) {
                Ok(url) if matches!(url.scheme(), Scheme::Http | Scheme::Https) => Some(url),
                _ => {
                    warnings.push(format!(
                        "{name} is not an http(s) URL; {signal} not exported"
                    ));
                    None
                }
            }
        };
        let traces = endpoint("traces", "/v1/traces");
        let logs = endpoint("logs", "/v1/logs");
        if traces.is_none() && logs.is_none() {
            return None;
        }
        let mut headers = Vec::new();
        if let Some(list) = var("OTEL_EXPORTER_OTLP_HEADERS") {
            match supergateway_proto::otlp::parse_key_values(&list) {
                Ok(pairs) => {
                    for (name, value) in pairs {
                        match (HeaderName::new(&name), HeaderValue::new(value.as_bytes())) {
                            (Ok(name), Ok(value)) => headers.push((name, value)),
                            _ => warnings.push(format!(
                                "OTEL_EXPORTER_OTLP_HEADERS: header {name:?} is not valid; skipped"
                            )),
                        }
                    }
                }
                Err(err) => warnings.push(format!("OTEL_EXPORTER_OTLP_HEADERS ignored: {err}")),
            }
        }
        let millis = |name: &str, default: u64, warnings: &mut Vec<String>| {
            let value = var(name).map(|v| v.trim().parse::<u64>());
            match value {
                None => Duration::from_millis(default),
                Some(Ok(ms)) if ms > 0 => Duration::from_millis(ms),
                Some(_) => {
                    warnings.push(format!(
                        "{name} must be a number of milliseconds > 0; using {default}"
                    ));
                    Duration::from_millis(default)
                }
            }
        };
        let timeout = millis("OTEL_EXPORTER_OTLP_TIMEOUT", 10_000, warnings);
        let delay = millis("OTEL_BSP_SCHEDULE_DELAY", 1_000, warnings);
        let resource = resource(
            var("OTEL_SERVICE_NAME"),
            var("OTEL_RESOURCE_ATTRIBUTES"),
            warnings,
        );
        Some(Self {
            traces,
            logs,
            headers,
            resource,
            timeout,
            delay,
        })
    }
}

/// `service.name` (`OTEL_SERVICE_NAME`, else the attributes', else `supergateway`), the SDK's
/// attributes, the process id, then `OTEL_RESOURCE_ATTRIBUTES`.
fn resource(
    service: Option<String>,
    attributes: Option<String>,
    warnings: &mut Vec<String>,
) -> Vec<KeyValue> {
    let mut extra = Vec::new();
    if let Some(list) = attributes {
        match supergateway_proto::otlp::parse_key_values(&list) {
            Ok(pairs) => extra = pairs,
            Err(err) => warnings.push(format!("OTEL_RESOURCE_ATTRIBUTES ignored: {err}")),
        }
    }
    let service = service
        .map(|s| s.trim().to_owned())
        .or_else(|| {
            extra
                .iter()
                .find(|(key, _)| key == "service.name")
                .map(|(_, value)| value.clone())
        })
        .unwrap_or_else(|| "supergateway".to_owned());
    let mut resource = vec![
        KeyValue::string("service.name", service),
        KeyValue::string("service.version", env!("CARGO_PKG_VERSION")),
        KeyValue::string("telemetry.sdk.name", "supergateway"),
        KeyValue::string("telemetry.sdk.language", "rust"),
        KeyValue::int("process.pid", i64::from(std::process::id())),
    ];
    for (key, value) in extra {
        if key != "service.name" {
            resource.push(KeyValue::string(key, value));
        }
    }
    resource
}

/// What the layer and the export task share.
struct Shared {
    queue: Mutex<Queue>,
    dropped: AtomicU64,
    /// Wakes the export task when a batch is full.
    wake: Sender<()>,
    traces: bool,
    logs: bool,
}

#[derive(Default)]
struct Queue {
    spans: VecDeque<Span>,
    logs: VecDeque<LogRecord>,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push_span(&self, span: Span) {
        let full = {
            let mut queue = self.queue();
            if queue.spans.len() >= QUEUE {
                queue.spans.pop_front();
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            queue.spans.push_back(span);
            queue.spans.len() >= BATCH
        };
        if full {
            let _ = self.wake.try_send(());
        }
    }

    fn push_log(&self, record: LogRecord) {
        let full = {
            let mut queue = self.queue();
            if queue.logs.len() >= QUEUE {
                queue.logs.pop_front();
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            queue.logs.push_back(record);
            queue.logs.len() >= BATCH
        };
        if full {
            let _ = self.wake.try_send(());
        }
    }
}

/// The configured exporter, before its task runs.
pub(crate) struct Exporter {
    settings: Settings,
    shared: Arc<Shared>,
    wake: Receiver<()>,
}

/// The export task, running.
pub(crate) struct Running {
    task: Task<()>,
    stop: Sender<()>,
}

impl Exporter {
    pub(crate) fn new(settings: Settings) -> Self {
        let (wake_tx, wake) = channel::bounded(1);
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            dropped: AtomicU64::new(0),
            wake: wake_tx,
            traces: settings.traces.is_some(),
            logs: settings.logs.is_some(),
        });
        Self {
            settings,
            shared,
            wake,
        }
    }

    /// Spans are exported.
    pub(crate) fn exports_traces(&self) -> bool {
        self.shared.traces
    }

    /// The layer that feeds the queue (spans of target `supergateway::rpc`, and the events the
    /// global filter lets through when logs are exported).
    pub(crate) fn layer(&self) -> OtlpLayer {
        OtlpLayer {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Starts the export task on the runtime.
    pub(crate) fn start(self) -> Running {
        let (stop, stopped) = channel::bounded(1);
        let task = rt::spawn(quietly(export_loop(
            self.settings,
            self.shared,
            self.wake,
            stopped,
        )));
        Running { task, stop }
    }
}

impl Running {
    /// Exports what is queued, waiting at most `SHUTDOWN`.
    pub(crate) async fn shutdown(self) {
        let _ = self.stop.try_send(());
        let task = self.task;
        async {
            task.await;
        }
        .or(async {
            Timer::after(SHUTDOWN).await;
            tracing::warn!(target: OWN_TARGET, "OTLP: export not finished at exit; the rest is dropped");
        })
        .await;
    }
}

async fn export_loop(
    settings: Settings,
    shared: Arc<Shared>,
    wake: Receiver<()>,
    stop: Receiver<()>,
) {
    let options = ClientOptions {
        headers: settings.headers.clone(),
        connect_timeout: settings.timeout,
        head_timeout: settings.timeout,
        max_idle_per_host: 2,
        ..ClientOptions::default()
    };
    let client = match Client::new(options) {
        Ok(client) => client,
        Err(err) => {
            tracing::error!(target: OWN_TARGET, "OTLP export off: {err}");
            return;
        }
    };
    let scope = Scope {
        name: "supergateway",
        version: env!("CARGO_PKG_VERSION"),
    };
    let mut body = Vec::new();
    let mut failures = Failures::default();
    loop {
        let stopping = async {
            let _ = wake.recv().await;
            false
        }
        .or(async {
            Timer::after(settings.delay).await;
            false
        })
        .or(async {
            let _ = stop.recv().await;
            true
        })
        .await;
        let dropped = shared.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(target: OWN_TARGET, "OTLP: queue full, dropped {dropped} spans/log records");
        }
        // What is queued now, in batches: records that arrive meanwhile wait for the next round.
        for _ in 0..QUEUE.div_ceil(BATCH) {
            let (spans, logs) = {
                let mut queue = shared.queue();
                let spans: Vec<Span> = drain(&mut queue.spans);
                let logs: Vec<LogRecord> = drain(&mut queue.logs);
                (spans, logs)
            };
            if spans.is_empty() && logs.is_empty() {
                break;
            }
            if let (Some(url), false) = (&settings.traces, spans.is_empty()) {
                body.clear();
                encode_traces(&settings.resource, &scope, &spans, &mut body);
                if let Err(why) = export(&client, url, &body, settings.timeout).await {
                    failures.report(spans.len(), "spans", &why);
                }
            }
            if let (Some(url), false) = (&settings.logs, logs.is_empty()) {
                body.clear();
                encode_logs(&settings.resource, &scope, &logs, &mut body);
                if let Err(why) = export(&client, url, &body, settings.timeout).await {
                    failures.report(logs.len(), "log records", &why);
                }
            }
        }
        if body.capacity() > 1024 * 1024 {
            body = Vec::new();
        }
        if stopping {
            return;
        }
    }
}

fn drain<T>(queue: &mut VecDeque<T>) -> Vec<T> {
    let n = queue.len().min(BATCH);
    queue.drain(..n).collect()
}

thread_local! {
    /// Set while the export task runs: events it causes (the HTTP client's, ours) are not
    /// exported, or a failing export would feed the queue it drains.
    static EXPORTING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `future` with `EXPORTING` set during each poll (one thread runs every task, so what is
/// logged during those polls comes from the export).
async fn quietly<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| {
        EXPORTING.with(|flag| flag.set(true));
        let poll = future.as_mut().poll(cx);
        EXPORTING.with(|flag| flag.set(false));
        poll
    })
    .await
}

/// Reports failed exports in the local log: the first at once, then at most one line per
/// `REPORT_EVERY` with the count of the failures in between (a collector that is down must not
/// flood the log).
#[derive(Default)]
struct Failures {
    last: Option<Instant>,
    unreported: u64,
}

const REPORT_EVERY: Duration = Duration::from_secs(10);

impl Failures {
    fn report(&mut self, n: usize, what: &str, why: &str) {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) < REPORT_EVERY)
        {
            self.unreported = self.unreported.saturating_add(1);
            return;
        }
        let earlier = std::mem::take(&mut self.unreported);
        if earlier > 0 {
            tracing::warn!(target: OWN_TARGET, "OTLP: {n} {what} dropped: {why} ({earlier} more failed exports since the last report)");
        } else {
            tracing::warn!(target: OWN_TARGET, "OTLP: {n} {what} dropped: {why}");
        }
        self.last = Some(now);
    }
}

/// POSTs one batch, retrying on 429/502/503/504 within `timeout`; returns why it failed.
async fn export(client: &Client, url: &Url, body: &[u8], timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now().checked_add(timeout);
    let mut backoff = BACKOFF;
    let headers: [(&str, &[u8]); 1] = [("content-type", b"application/json")];
    for attempt in 1..=ATTEMPTS {
        let remaining = deadline.map_or(timeout, |d| d.saturating_duration_since(Instant::now()));
        if remaining.is_zero() {
            break;
        }
        let sent = async {
            let response = client
                .send(Method::Post, url, &headers, Some(body), Some(remaining))
                .await
                .map_err(|err| err.to_string())?;
            let status = response.status();
            let retry_after = response
                .header_str("retry-after")
                .and_then(|value| value.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let _ = response.body(64 * 1024).await;
            Ok((status, retry_after))
        }
        .or(async {
            Timer::after(remaining).await;
            Err("timed out".to_owned())
        })
        .await;
        match sent {
            Ok((200..=299, _)) => return Ok(()),
            Ok((status @ (429 | 502 | 503 | 504), retry_after)) if attempt < ATTEMPTS => {
                let wait = retry_after.unwrap_or(backoff);
                let left =
                    deadline.map_or(timeout, |d| d.saturating_duration_since(Instant::now()));
                if wait >= left {
                    return Err(format!("HTTP {status}, no time left to retry"));
                }
                tracing::debug!(target: OWN_TARGET, "OTLP: HTTP {status}; retrying in {wait:?}");
                Timer::after(wait).await;
                backoff = backoff.saturating_mul(2);
            }
            Ok((status, _)) => return Err(format!("HTTP {status}")),
            Err(err) => return Err(err),
        }
    }
    Err("export timed out".to_owned())
}

/// A span being recorded (in the registry's extensions).
struct SpanData {
    span: Span,
    error_code: Option<i64>,
    status_message: Option<String>,
}

pub(crate) struct OtlpLayer {
    shared: Arc<Shared>,
}

impl<S> Layer<S> for OtlpLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !self.shared.traces || attrs.metadata().target() != RPC_TARGET {
            return;
        }
        let Some(span_ref) = ctx.span(id) else { return };
        let parent = span_ref.parent().and_then(|parent| {
            let extensions = parent.extensions();
            let data = extensions.get::<SpanData>()?;
            Some((data.span.trace_id, data.span.span_id))
        });
        let (trace_id, parent_span_id) = match (parent, remote_parent()) {
            (Some((trace_id, span_id)), _) => (trace_id, Some(span_id)),
            (None, Some(remote)) => (remote.trace_id, Some(remote.parent_id)),
            (None, None) => (random_id::<16>(), None),
        };
        let mut data = SpanData {
            span: Span {
                trace_id,
                span_id: random_id::<8>(),
                parent_span_id,
                name: Cow::Borrowed(attrs.metadata().name()),
                kind: SpanKind::Internal,
                start_unix_nanos: unix_nanos(),
                ..Span::default()
            },
            error_code: None,
            status_message: None,
        };
        attrs.record(&mut SpanVisitor(&mut data));
        span_ref.extensions_mut().insert(data);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span_ref) = ctx.span(id) else { return };
        let mut extensions = span_ref.extensions_mut();
        if let Some(data) = extensions.get_mut::<SpanData>() {
            values.record(&mut SpanVisitor(data));
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span_ref) = ctx.span(&id) else {
            return;
        };
        let Some(data) = span_ref.extensions_mut().remove::<SpanData>() else {
            return;
        };
        let mut span = data.span;
        span.end_unix_nanos = unix_nanos();
        match (data.status_message, data.error_code) {
            (Some(message), _) => span.status = Status::Error(message),
            (None, Some(code)) => span.status = Status::Error(format!("JSON-RPC error {code}")),
            (None, None) => {}
        }
        self.shared.push_span(span);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        if !self.shared.logs || meta.target().starts_with(OWN_TARGET) || EXPORTING.with(Cell::get) {
            return;
        }
        let mut record = LogRecord {
            time_unix_nanos: unix_nanos(),
            severity: severity(meta.level()),
            attributes: vec![KeyValue::string("log.target", meta.target())],
            ..LogRecord::default()
        };
        record.trace = ctx.event_scope(event).and_then(|scope| {
            scope.into_iter().find_map(|span| {
                let extensions = span.extensions();
                let data = extensions.get::<SpanData>()?;
                Some((data.span.trace_id, data.span.span_id))
            })
        });
        event.record(&mut LogVisitor(&mut record));
        self.shared.push_log(record);
    }
}

/// The ids of `span` as the exporter recorded them (`None` when it is not exported).
pub(crate) fn context_of(span: &tracing::Span) -> Option<([u8; 16], [u8; 8])> {
    span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<Registry>()?;
        let span_ref = registry.span(id)?;
        let extensions = span_ref.extensions();
        let data = extensions.get::<SpanData>()?;
        Some((data.span.trace_id, data.span.span_id))
    })
    .flatten()
}

fn severity(level: &Level) -> Severity {
    match *level {
        Level::TRACE => Severity::Trace,
        Level::DEBUG => Severity::Debug,
        Level::INFO => Severity::Info,
        Level::WARN => Severity::Warn,
        Level::ERROR => Severity::Error,
    }
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// A non-zero id: a splitmix64 sequence seeded once from the OS (ids need to be unique, not
/// secret).
fn random_id<const N: usize>() -> [u8; N] {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut id = [0u8; N];
    for chunk in id.chunks_mut(8) {
        let mut state = STATE.load(Ordering::Relaxed);
        if state == 0 {
            let mut seed = [0u8; 8];
            let _ = getrandom::fill(&mut seed);
            state = u64::from_le_bytes(seed) | 1;
            STATE.store(state, Ordering::Relaxed);
        }
        let z = STATE.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
        let z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        let z = z ^ (z >> 31);
        for (slot, byte) in chunk.iter_mut().zip(z.to_le_bytes()) {
            *slot = byte;
        }
    }
    if id.iter().all(|&b| b == 0) {
        if let Some(last) = id.last_mut() {
            *last = 1;
        }
    }
    id
}

/// Reads a span's fields: `otel.*` set name, kind and status; the rest are attributes.
struct SpanVisitor<'a>(&'a mut SpanData);

impl SpanVisitor<'_> {
    fn set(&mut self, field: &Field, value: AnyValue) {
        let data = &mut *self.0;
        match (field.name(), &value) {
            ("otel.name", AnyValue::String(name)) => data.span.name = Cow::Owned(name.clone()),
            ("otel.kind", AnyValue::String(kind)) => {
                data.span.kind = match kind.as_str() {
                    "server" => SpanKind::Server,
                    "client" => SpanKind::Client,
                    _ => SpanKind::Internal,
                };
            }
            ("otel.status_message", AnyValue::String(message)) => {
                data.status_message = Some(message.clone());
            }
            (name, _) => {
                if let ("rpc.jsonrpc.error_code", AnyValue::Int(code)) = (name, &value) {
                    data.error_code = Some(*code);
                }
                data.span.attributes.push(KeyValue {
                    key: Cow::Borrowed(field.name()),
                    value,
                });
            }
        }
    }
}

impl Visit for SpanVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field, AnyValue::String(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field, AnyValue::Int(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set(field, int_or_string(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field, AnyValue::Bool(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(field, AnyValue::Double(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.set(field, AnyValue::String(format!("{value:?}")));
    }
}

/// Reads an event's fields: `message` is the body, the rest are attributes.
struct LogVisitor<'a>(&'a mut LogRecord);

impl LogVisitor<'_> {
    fn set(&mut self, field: &Field, value: AnyValue) {
        self.0.attributes.push(KeyValue {
            key: Cow::Borrowed(field.name()),
            value,
        });
    }
}

impl Visit for LogVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            value.clone_into(&mut self.0.body);
        } else {
            self.set(field, AnyValue::String(value.to_owned()));
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field, AnyValue::Int(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set(field, int_or_string(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field, AnyValue::Bool(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(field, AnyValue::Double(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.0.body.clear();
            let _ = write!(self.0.body, "{value:?}");
        } else {
            self.set(field, AnyValue::String(format!("{value:?}")));
        }
    }
}

fn int_or_string(value: u64) -> AnyValue {
    i64::try_from(value).map_or_else(|_| AnyValue::String(value.to_string()), AnyValue::Int)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> (Option<Settings>, Vec<String>) {
        let mut warnings = Vec::new();
        let settings = Settings::from_env(
            |name| {
                vars.iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| (*value).to_owned())
            },
            &mut warnings,
        );
        (settings, warnings)
    }

    #[test]
    fn endpoints_from_the_environment() {
        assert!(settings(&[]).0.is_none());
        let (s, _) = settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318/")]);
        let s = s.unwrap();
        assert_eq!(s.traces.unwrap().target(), "/v1/traces");
        assert_eq!(s.logs.unwrap().target(), "/v1/logs");
        assert_eq!(s.timeout, Duration::from_secs(10));
        assert_eq!(s.delay, Duration::from_secs(1));
        let (s, _) = settings(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:1/base"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://t:2/custom"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "500"),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ]);
        let s = s.unwrap();
        assert_eq!(s.traces.unwrap().target(), "/custom");
        assert!(s.logs.is_none());
        assert_eq!(s.timeout, Duration::from_millis(500));
        assert_eq!(s.delay, Duration::from_millis(50));
        let (s, _) = settings(&[("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://h/l")]);
        let s = s.unwrap();
        assert!(s.traces.is_none());
        assert_eq!(s.logs.unwrap().target(), "/l");
        for disabled in ["true", "TRUE", " true "] {
            let (s, _) = settings(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h"),
                ("OTEL_SDK_DISABLED", disabled),
            ]);
            assert!(s.is_none(), "{disabled}");
        }
        let (s, warnings) = settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://h")]);
        assert!(s.is_none());
        assert_eq!(warnings.len(), 2, "{warnings:?}");
    }

    #[test]
    fn headers_and_resource() {
        let (s, warnings) = settings(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "api-key=s3cret%20x,bad%0Aname=1",
            ),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=from-attrs,deployment.environment=prod",
            ),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon"),
        ]);
        let s = s.unwrap();
        assert_eq!(s.headers.len(), 1);
        assert_eq!(s.headers[0].0.as_str(), "api-key");
        assert_eq!(s.headers[0].1.as_bytes(), b"s3cret x");
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings.iter().all(|w| !w.contains("s3cret")));
        assert_eq!(
            s.resource[0],
            KeyValue::string("service.name", "from-attrs")
        );
        assert!(s
            .resource
            .contains(&KeyValue::string("deployment.environment", "prod")));
        let (s, _) = settings(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h"),
            ("OTEL_SERVICE_NAME", "gw-1"),
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs"),
        ]);
        let s = s.unwrap();
        assert_eq!(s.resource[0], KeyValue::string("service.name", "gw-1"));
        assert_eq!(
            s.resource
                .iter()
                .filter(|kv| kv.key == "service.name")
                .count(),
            1
        );
    }

    #[test]
    fn ids_are_distinct_and_non_zero() {
        let a = random_id::<16>();
        let b = random_id::<16>();
        assert_ne!(a, b);
        assert_ne!(a, [0; 16]);
        assert_ne!(random_id::<8>(), [0; 8]);
    }

    #[test]
    fn the_queue_drops_the_oldest() {
        let (wake, _rx) = channel::bounded(1);
        let shared = Shared {
            queue: Mutex::new(Queue::default()),
            dropped: AtomicU64::new(0),
            wake,
            traces: true,
            logs: true,
        };
        for i in 0..QUEUE + 3 {
            shared.push_log(LogRecord {
                time_unix_nanos: i as u64,
                ..LogRecord::default()
            });
        }
        assert_eq!(shared.dropped.load(Ordering::Relaxed), 3);
        let queue = shared.queue();
        assert_eq!(queue.logs.len(), QUEUE);
        assert_eq!(queue.logs.front().unwrap().time_unix_nanos, 3);
    }
}
