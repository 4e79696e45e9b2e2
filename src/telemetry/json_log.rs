//! `--logFormat json`: one JSON object per line, for log shippers.
//!
//! ```text
//! {"timestamp":"2026-01-02T03:04:05.678901Z","level":"INFO","target":"supergateway::http::server",
//!  "message":"Listening on 127.0.0.1:8000","spans":[{"name":"session","id":"…"}]}
//! ```
//!
//! Written in-tree as a small `Layer` of its own (tracing-subscriber's `json` feature pulls in
//! tracing-serde, and a second `fmt::Layer` instantiation costs more binary than this): spans
//! keep their fields as `"key":value` pairs in their extensions, and each event becomes one
//! line with its time, level, target, fields and enclosing spans, written in one `write_all`.
//! Strings go through `escape::encode_json_string`: no raw control character (C0, DEL, C1,
//! U+2028/9, bidi controls) in a line, and values read back exactly.

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::escape::encode_json_string as encode_string;

/// Writes each event as one JSON object and a newline to `W`'s writer.
pub(crate) struct JsonLayer<W> {
    make_writer: W,
}

impl<W> JsonLayer<W> {
    pub(crate) fn new(make_writer: W) -> Self {
        Self { make_writer }
    }
}

/// A span's fields as `"key":value` members (in the registry's extensions).
struct SpanFields(Vec<u8>);

impl<S, W> Layer<S> for JsonLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut visitor = JsonVisitor::default();
        attrs.record(&mut visitor);
        span.extensions_mut().insert(SpanFields(visitor.out));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(SpanFields(fields)) = extensions.get_mut::<SpanFields>() {
            let mut visitor = JsonVisitor {
                out: std::mem::take(fields),
            };
            values.record(&mut visitor);
            *fields = visitor.out;
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"{\"timestamp\":\"");
        out.extend_from_slice(rfc3339(SystemTime::now()).as_bytes());
        out.extend_from_slice(b"\",\"level\":");
        encode_string(&mut out, meta.level().as_str());
        out.extend_from_slice(b",\"target\":");
        encode_string(&mut out, meta.target());
        let mut visitor = JsonVisitor::default();
        event.record(&mut visitor);
        if !visitor.out.is_empty() {
            out.push(b',');
            out.extend_from_slice(&visitor.out);
        }
        if let Some(scope) = ctx.event_scope(event) {
            out.extend_from_slice(b",\"spans\":[");
            for (i, span) in scope.from_root().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"name\":");
                encode_string(&mut out, span.name());
                let extensions = span.extensions();
                if let Some(SpanFields(fields)) = extensions.get::<SpanFields>() {
                    if !fields.is_empty() {
                        out.push(b',');
                        out.extend_from_slice(fields);
                    }
                }
                out.push(b'}');
            }
            out.push(b']');
        }
        out.extend_from_slice(b"}\n");
        let _ = self.make_writer.make_writer().write_all(&out);
    }
}

/// Collects `"key":value` members.
#[derive(Default)]
struct JsonVisitor {
    out: Vec<u8>,
}

impl JsonVisitor {
    fn key(&mut self, field: &Field) {
        if !self.out.is_empty() {
            self.out.push(b',');
        }
        encode_string(&mut self.out, field.name());
        self.out.push(b':');
    }
}

impl Visit for JsonVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        encode_string(&mut self.out, value);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        self.out.extend_from_slice(value.to_string().as_bytes());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        self.out.extend_from_slice(value.to_string().as_bytes());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.out
            .extend_from_slice(if value { b"true" } else { b"false" });
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.key(field);
        if value.is_finite() {
            self.out.extend_from_slice(value.to_string().as_bytes());
        } else {
            encode_string(&mut self.out, &value.to_string());
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.key(field);
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        encode_string(&mut self.out, &text);
    }
}

/// `YYYY-MM-DDThh:mm:ss.uuuuuuZ` (UTC).
fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let days = secs.checked_div(86_400).unwrap_or(0);
    let of_day = secs.checked_rem(86_400).unwrap_or(0);
    let (year, month, day) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        of_day.checked_div(3600).unwrap_or(0),
        of_day
            .checked_rem(3600)
            .unwrap_or(0)
            .checked_div(60)
            .unwrap_or(0),
        of_day.checked_rem(60).unwrap_or(0),
        since.subsec_micros()
    )
}

/// Howard Hinnant's `civil_from_days`: the proleptic Gregorian date of a day count since
/// 1970-01-01. The arithmetic cannot overflow for any `days` a `SystemTime` since the epoch
/// gives (< 2^48), so the lint is allowed on this function alone.
#[allow(clippy::arithmetic_side_effects)]
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days.clamp(0, 1 << 40) + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[test]
    fn dates() {
        let at = |secs: u64, micros: u64| {
            rfc3339(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros))
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(at(951_782_400, 5), "2000-02-29T00:00:00.000005Z");
        assert_eq!(at(1_700_000_000, 123_456), "2023-11-14T22:13:20.123456Z");
        assert_eq!(at(4_102_444_799, 0), "2099-12-31T23:59:59.000000Z");
    }

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn one_json_object_per_line() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let layer = JsonLayer::new(move || writer.clone());
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("session", id = "abc", n = 3u64);
            let _entered = span.enter();
            span.record("n", 4u64);
            tracing::warn!(code = -5i64, ok = true, "quote \" and\nnewline");
            tracing::info!("second");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(first["level"], "WARN");
        assert_eq!(first["message"], "quote \" and\nnewline");
        assert_eq!(first["code"], -5);
        assert_eq!(first["ok"], true);
        assert_eq!(first["target"], module_path!());
        assert_eq!(
            first["spans"],
            serde_json::json!([{"name": "session", "id": "abc", "n": 4}])
        );
        assert!(first["timestamp"].as_str().unwrap().ends_with('Z'));
        let second: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(second["message"], "second");
    }
}
