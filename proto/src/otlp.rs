//! OpenTelemetry: the OTLP/HTTP JSON encoding of traces and logs, W3C trace
//! context (`traceparent`), and the `k=v,k2=v2` lists of the `OTEL_*`
//! environment variables.
//!
//! The encoders follow the OTLP JSON mapping of the protobuf messages
//! (OTLP spec, "JSON Protobuf Encoding"): lowerCamelCase keys, trace and span
//! ids as lowercase hex (not base64), enums as integers, 64-bit integers
//! (times, `intValue`) as decimal strings. One resource, one scope, and the
//! spans or log records of one batch per document:
//!
//! ```text
//! {"resourceSpans":[{"resource":{"attributes":[..]},
//!   "scopeSpans":[{"scope":{"name":..,"version":..},"spans":[..]}]}]}
//! ```
//!
//! Nothing here reads a clock or the environment: times and values come
//! from the caller.

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::fmt;

use crate::jsonrpc::{encode_string, write_u64};

/// An attribute value (OTLP `AnyValue`; arrays and maps are not needed).
#[derive(Clone, Debug, PartialEq)]
pub enum AnyValue {
    /// `boolValue`.
    Bool(bool),
    /// `doubleValue` (non-finite values as the strings `NaN`, `Infinity`,
    /// `-Infinity`, as the protobuf JSON mapping says).
    Double(f64),
    /// `intValue`, written as a decimal string.
    Int(i64),
    /// `stringValue`.
    String(String),
}

/// One attribute.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyValue {
    /// The attribute name (`rpc.method`, `service.name`, ...).
    pub key: Cow<'static, str>,
    /// Its value.
    pub value: AnyValue,
}

impl KeyValue {
    /// An attribute with a string value.
    pub fn string(key: impl Into<Cow<'static, str>>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: AnyValue::String(value.into()),
        }
    }

    /// An attribute with an integer value.
    pub fn int(key: impl Into<Cow<'static, str>>, value: i64) -> Self {
        Self {
            key: key.into(),
            value: AnyValue::Int(value),
        }
    }
}

/// `Span.SpanKind`, written as its number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SpanKind {
    /// 1: an operation inside the process.
    #[default]
    Internal,
    /// 2: the handling of an inbound request.
    Server,
    /// 3: an outbound request.
    Client,
}

impl SpanKind {
    /// The OTLP enum number.
    pub fn number(self) -> u8 {
        match self {
            Self::Internal => 1,
            Self::Server => 2,
            Self::Client => 3,
        }
    }
}

/// `Span.Status`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Status {
    /// Code 0: the default (written as no `status` at all).
    #[default]
    Unset,
    /// Code 1.
    Ok,
    /// Code 2, with a message.
    Error(String),
}

/// One finished span.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Span {
    /// Non-zero 16-byte trace id.
    pub trace_id: [u8; 16],
    /// Non-zero 8-byte span id.
    pub span_id: [u8; 8],
    /// The parent span, local or remote (`traceparent`).
    pub parent_span_id: Option<[u8; 8]>,
    /// The operation name.
    pub name: Cow<'static, str>,
    /// Server, client or internal.
    pub kind: SpanKind,
    /// Start, in nanoseconds since the Unix epoch.
    pub start_unix_nanos: u64,
    /// End, in nanoseconds since the Unix epoch.
    pub end_unix_nanos: u64,
    /// Attributes, in order.
    pub attributes: Vec<KeyValue>,
    /// Outcome.
    pub status: Status,
}

/// Log severity (`SeverityNumber`: the first number of each range).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// 1 `TRACE`.
    Trace,
    /// 5 `DEBUG`.
    Debug,
    /// 9 `INFO`.
    #[default]
    Info,
    /// 13 `WARN`.
    Warn,
    /// 17 `ERROR`.
    Error,
}

impl Severity {
    /// The OTLP `SeverityNumber`.
    pub fn number(self) -> u8 {
        match self {
            Self::Trace => 1,
            Self::Debug => 5,
            Self::Info => 9,
            Self::Warn => 13,
            Self::Error => 17,
        }
    }

    /// The `severityText`.
    pub fn text(self) -> &'static str {
        match self {
            Self::Trace => "TRACE",
            Self::Debug => "DEBUG",
            Self::Info => "INFO",
            Self::Warn => "WARN",
            Self::Error => "ERROR",
        }
    }
}

/// One log record.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogRecord {
    /// When it happened, in nanoseconds since the Unix epoch (also written
    /// as the observed time).
    pub time_unix_nanos: u64,
    /// Severity number and text.
    pub severity: Severity,
    /// The message.
    pub body: String,
    /// Attributes (the event's other fields, its target).
    pub attributes: Vec<KeyValue>,
    /// The span the event happened in, if it belongs to a trace.
    pub trace: Option<([u8; 16], [u8; 8])>,
}

/// The instrumentation scope of a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scope<'a> {
    /// Scope name (the instrumenting program).
    pub name: &'a str,
    /// Its version.
    pub version: &'a str,
}

/// Appends an `ExportTraceServiceRequest` (the body of `POST /v1/traces`).
///
/// # Examples
///
/// ```
/// use supergateway_proto::otlp::{encode_traces, KeyValue, Scope, Span, SpanKind};
///
/// let span = Span {
///     trace_id: [1; 16],
///     span_id: [2; 8],
///     name: "tools/call".into(),
///     kind: SpanKind::Server,
///     start_unix_nanos: 1,
///     end_unix_nanos: 2,
///     ..Span::default()
/// };
/// let mut out = Vec::new();
/// let scope = Scope { name: "supergateway", version: "0.1.0" };
/// encode_traces(&[KeyValue::string("service.name", "gw")], &scope, &[span], &mut out);
/// let text = String::from_utf8(out).unwrap();
/// assert!(text.starts_with(r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name""#));
/// assert!(text.contains(r#""spanId":"0202020202020202","name":"tools/call","kind":2,"startTimeUnixNano":"1""#));
/// ```
pub fn encode_traces(resource: &[KeyValue], scope: &Scope<'_>, spans: &[Span], out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"resourceSpans\":[{");
    encode_resource(resource, out);
    out.extend_from_slice(b",\"scopeSpans\":[{");
    encode_scope(scope, out);
    out.extend_from_slice(b",\"spans\":[");
    for (i, span) in spans.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        encode_span(span, out);
    }
    out.extend_from_slice(b"]}]}]}");
}

/// Appends an `ExportLogsServiceRequest` (the body of `POST /v1/logs`).
///
/// # Examples
///
/// ```
/// use supergateway_proto::otlp::{encode_logs, LogRecord, Scope, Severity};
///
/// let record = LogRecord {
///     time_unix_nanos: 7,
///     severity: Severity::Warn,
///     body: "slow client".into(),
///     ..LogRecord::default()
/// };
/// let mut out = Vec::new();
/// encode_logs(&[], &Scope { name: "s", version: "1" }, &[record], &mut out);
/// let text = String::from_utf8(out).unwrap();
/// assert!(text.contains(r#""severityNumber":13,"severityText":"WARN","body":{"stringValue":"slow client"}"#));
/// ```
pub fn encode_logs(
    resource: &[KeyValue],
    scope: &Scope<'_>,
    records: &[LogRecord],
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(b"{\"resourceLogs\":[{");
    encode_resource(resource, out);
    out.extend_from_slice(b",\"scopeLogs\":[{");
    encode_scope(scope, out);
    out.extend_from_slice(b",\"logRecords\":[");
    for (i, record) in records.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        encode_log(record, out);
    }
    out.extend_from_slice(b"]}]}]}");
}

/// A W3C Trace Context `traceparent` (version 00 fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceParent {
    /// Non-zero trace id.
    pub trace_id: [u8; 16],
    /// Non-zero id of the caller's span (the parent of ours).
    pub parent_id: [u8; 8],
    /// `trace-flags` (bit 0: sampled).
    pub flags: u8,
}

/// Why a `traceparent` value was rejected (W3C Trace Context §3.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceParentError {
    /// Not 55 bytes (version 00), or a longer future version without `-`
    /// after the known fields.
    Length,
    /// Version `ff`, or not two lowercase hex digits.
    Version,
    /// A field is not lowercase hex.
    Hex,
    /// A `-` is missing between fields.
    Delimiter,
    /// The trace id is all zeros.
    ZeroTraceId,
    /// The parent id is all zeros.
    ZeroParentId,
}

impl fmt::Display for TraceParentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Length => "traceparent: wrong length",
            Self::Version => "traceparent: invalid version",
            Self::Hex => "traceparent: not lowercase hex",
            Self::Delimiter => "traceparent: missing '-'",
            Self::ZeroTraceId => "traceparent: all-zero trace id",
            Self::ZeroParentId => "traceparent: all-zero parent id",
        })
    }
}

impl std::error::Error for TraceParentError {}

/// Bytes of a version-00 `traceparent`.
pub const TRACEPARENT_LEN: usize = 55;

impl TraceParent {
    /// Parses a `traceparent` header value: `00-<32 hex>-<16 hex>-<2 hex>`,
    /// lowercase only. A future version (not `00`, not `ff`) is parsed for
    /// the version-00 fields when what follows them is empty or starts with
    /// `-`, as the spec asks.
    ///
    /// # Examples
    ///
    /// ```
    /// use supergateway_proto::otlp::TraceParent;
    ///
    /// let value = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    /// let parsed = TraceParent::parse(value).unwrap();
    /// assert!(parsed.sampled());
    /// let mut out = Vec::new();
    /// parsed.encode(&mut out);
    /// assert_eq!(out, value);
    /// assert!(TraceParent::parse(b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01").is_err());
    /// ```
    pub fn parse(value: &[u8]) -> Result<Self, TraceParentError> {
        let version = value.get(..2).ok_or(TraceParentError::Length)?;
        let version = hex_byte(version).ok_or(TraceParentError::Version)?;
        if version == 0xff {
            return Err(TraceParentError::Version);
        }
        match value.len() {
            TRACEPARENT_LEN => {}
            len if version != 0 && len > TRACEPARENT_LEN => {
                if value.get(TRACEPARENT_LEN) != Some(&b'-') {
                    return Err(TraceParentError::Delimiter);
                }
            }
            _ => return Err(TraceParentError::Length),
        }
        for at in [2, 35, 52] {
            if value.get(at) != Some(&b'-') {
                return Err(TraceParentError::Delimiter);
            }
        }
        let mut trace_id = [0; 16];
        let mut parent_id = [0; 8];
        let mut flags = [0; 1];
        decode_hex(value.get(3..35).unwrap_or_default(), &mut trace_id)?;
        decode_hex(value.get(36..52).unwrap_or_default(), &mut parent_id)?;
        decode_hex(value.get(53..55).unwrap_or_default(), &mut flags)?;
        if trace_id == [0; 16] {
            return Err(TraceParentError::ZeroTraceId);
        }
        if parent_id == [0; 8] {
            return Err(TraceParentError::ZeroParentId);
        }
        let [flags] = flags;
        Ok(Self {
            trace_id,
            parent_id,
            flags,
        })
    }

    /// Appends the version-00 form (55 bytes).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"00-");
        push_hex(out, &self.trace_id);
        out.push(b'-');
        push_hex(out, &self.parent_id);
        out.push(b'-');
        push_hex(out, &[self.flags]);
    }

    /// The caller sampled the trace (flag bit 0).
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }
}

/// Why an `OTEL_*` list was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListError {
    /// An entry has no `=`, or an empty key.
    Entry,
    /// A `%` is not followed by two hex digits, or the decoded bytes are
    /// not UTF-8.
    Escape,
}

impl fmt::Display for ListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Entry => "an entry is not key=value",
            Self::Escape => "invalid percent-encoding",
        })
    }
}

impl std::error::Error for ListError {}

/// Parses the `key1=value1,key2=value2` lists of `OTEL_EXPORTER_OTLP_HEADERS`
/// and `OTEL_RESOURCE_ATTRIBUTES`: entries split on `,`, key and value on
/// the first `=`, each trimmed of spaces and tabs and then percent-decoded
/// (`+` stays a plus). Empty entries are skipped. Any invalid entry rejects
/// the whole list (the SDK spec: discard the value and report an error).
///
/// # Examples
///
/// ```
/// use supergateway_proto::otlp::parse_key_values;
///
/// let pairs = parse_key_values("api-key=a%20b, x = 1=2 ,").unwrap();
/// assert_eq!(pairs, [("api-key".to_owned(), "a b".to_owned()), ("x".to_owned(), "1=2".to_owned())]);
/// assert!(parse_key_values("novalue").is_err());
/// ```
pub fn parse_key_values(list: &str) -> Result<Vec<(String, String)>, ListError> {
    let mut pairs = Vec::new();
    for entry in list.split(',') {
        if entry.trim_matches(OWS).is_empty() {
            continue;
        }
        let (key, value) = entry.split_once('=').ok_or(ListError::Entry)?;
        let key = percent_decode(key.trim_matches(OWS))?;
        if key.is_empty() {
            return Err(ListError::Entry);
        }
        let value = percent_decode(value.trim_matches(OWS))?;
        pairs.push((key, value));
    }
    Ok(pairs)
}

const OWS: [char; 2] = [' ', '\t'];

fn percent_decode(s: &str) -> Result<String, ListError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0usize;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let pair = bytes
                .get(i.saturating_add(1)..i.saturating_add(3))
                .ok_or(ListError::Escape)?;
            out.push(hex_byte_any_case(pair).ok_or(ListError::Escape)?);
            i = i.saturating_add(3);
        } else {
            out.push(b);
            i = i.saturating_add(1);
        }
    }
    String::from_utf8(out).map_err(|_| ListError::Escape)
}

fn encode_resource(attributes: &[KeyValue], out: &mut Vec<u8>) {
    out.extend_from_slice(b"\"resource\":{\"attributes\":");
    encode_attributes(attributes, out);
    out.push(b'}');
}

fn encode_scope(scope: &Scope<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"\"scope\":{\"name\":");
    encode_string(out, scope.name);
    out.extend_from_slice(b",\"version\":");
    encode_string(out, scope.version);
    out.push(b'}');
}

fn encode_span(span: &Span, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"traceId\":\"");
    push_hex(out, &span.trace_id);
    out.extend_from_slice(b"\",\"spanId\":\"");
    push_hex(out, &span.span_id);
    out.push(b'"');
    if let Some(parent) = &span.parent_span_id {
        out.extend_from_slice(b",\"parentSpanId\":\"");
        push_hex(out, parent);
        out.push(b'"');
    }
    out.extend_from_slice(b",\"name\":");
    encode_string(out, &span.name);
    out.extend_from_slice(b",\"kind\":");
    push_u64(out, u64::from(span.kind.number()));
    out.extend_from_slice(b",\"startTimeUnixNano\":");
    push_u64_string(out, span.start_unix_nanos);
    out.extend_from_slice(b",\"endTimeUnixNano\":");
    push_u64_string(out, span.end_unix_nanos);
    out.extend_from_slice(b",\"attributes\":");
    encode_attributes(&span.attributes, out);
    match &span.status {
        Status::Unset => {}
        Status::Ok => out.extend_from_slice(b",\"status\":{\"code\":1}"),
        Status::Error(message) => {
            out.extend_from_slice(b",\"status\":{\"code\":2,\"message\":");
            encode_string(out, message);
            out.push(b'}');
        }
    }
    out.push(b'}');
}

fn encode_log(record: &LogRecord, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"timeUnixNano\":");
    push_u64_string(out, record.time_unix_nanos);
    out.extend_from_slice(b",\"observedTimeUnixNano\":");
    push_u64_string(out, record.time_unix_nanos);
    out.extend_from_slice(b",\"severityNumber\":");
    push_u64(out, u64::from(record.severity.number()));
    out.extend_from_slice(b",\"severityText\":");
    encode_string(out, record.severity.text());
    out.extend_from_slice(b",\"body\":{\"stringValue\":");
    encode_string(out, &record.body);
    out.extend_from_slice(b"},\"attributes\":");
    encode_attributes(&record.attributes, out);
    if let Some((trace_id, span_id)) = &record.trace {
        out.extend_from_slice(b",\"traceId\":\"");
        push_hex(out, trace_id);
        out.extend_from_slice(b"\",\"spanId\":\"");
        push_hex(out, span_id);
        out.push(b'"');
    }
    out.push(b'}');
}

fn encode_attributes(attributes: &[KeyValue], out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, attribute) in attributes.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"key\":");
        encode_string(out, &attribute.key);
        out.extend_from_slice(b",\"value\":");
        encode_value(&attribute.value, out);
        out.push(b'}');
    }
    out.push(b']');
}

fn encode_value(value: &AnyValue, out: &mut Vec<u8>) {
    match value {
        AnyValue::Bool(b) => {
            out.extend_from_slice(if *b {
                b"{\"boolValue\":true}"
            } else {
                b"{\"boolValue\":false}"
            });
        }
        AnyValue::Double(d) => {
            out.extend_from_slice(b"{\"doubleValue\":");
            if d.is_nan() {
                out.extend_from_slice(b"\"NaN\"");
            } else if d.is_infinite() {
                out.extend_from_slice(if *d > 0.0 {
                    b"\"Infinity\""
                } else {
                    b"\"-Infinity\""
                });
            } else {
                // Rust's shortest round-trip form is valid JSON for finite values.
                out.extend_from_slice(d.to_string().as_bytes());
            }
            out.push(b'}');
        }
        AnyValue::Int(i) => {
            out.extend_from_slice(b"{\"intValue\":\"");
            if *i < 0 {
                out.push(b'-');
            }
            out.extend_from_slice(write_u64(i.unsigned_abs(), &mut [0; 20]));
            out.extend_from_slice(b"\"}");
        }
        AnyValue::String(s) => {
            out.extend_from_slice(b"{\"stringValue\":");
            encode_string(out, s);
            out.push(b'}');
        }
    }
}

fn push_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(write_u64(n, &mut [0; 20]));
}

fn push_u64_string(out: &mut Vec<u8>, n: u64) {
    out.push(b'"');
    push_u64(out, n);
    out.push(b'"');
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `bytes` as lowercase hex.
pub fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        out.push(HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'));
        out.push(HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0'));
    }
}

/// Lowercase hex into `out` (exactly twice its length).
fn decode_hex(hex: &[u8], out: &mut [u8]) -> Result<(), TraceParentError> {
    if hex.len() != out.len().saturating_mul(2) {
        return Err(TraceParentError::Length);
    }
    for (slot, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *slot = hex_byte(pair).ok_or(TraceParentError::Hex)?;
    }
    Ok(())
}

/// Two lowercase hex digits.
fn hex_byte(pair: &[u8]) -> Option<u8> {
    match pair {
        [hi, lo] => Some((lower_hex(*hi)? << 4) | lower_hex(*lo)?),
        _ => None,
    }
}

fn hex_byte_any_case(pair: &[u8]) -> Option<u8> {
    match pair {
        [hi, lo] => hex_byte(&[hi.to_ascii_lowercase(), lo.to_ascii_lowercase()]),
        _ => None,
    }
}

fn lower_hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => b.checked_sub(b'0'),
        b'a'..=b'f' => b.checked_sub(b'a')?.checked_add(10),
        _ => None,
    }
}
