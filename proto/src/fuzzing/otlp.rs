//! W3C trace context harness (`traceparent`).

/// Fuzz target `traceparent`: the input is a `traceparent` header value.
/// Asserts that a value that parses re-encodes to 55 bytes that parse to
/// the same fields (parse → format → parse), that a version-00 value
/// re-encodes to exactly itself, and that accepted ids are never all
/// zeros. The same input is also read as an `OTEL_*` `k=v` list: decoding
/// never panics, and every decoded key is non-empty.
#[allow(clippy::panic)]
pub fn traceparent(data: &[u8]) {
    use crate::otlp::{parse_key_values, TraceParent, TRACEPARENT_LEN};

    if let Ok(parsed) = TraceParent::parse(data) {
        assert_ne!(parsed.trace_id, [0; 16], "zero trace id accepted");
        assert_ne!(parsed.parent_id, [0; 8], "zero parent id accepted");
        let mut out = Vec::with_capacity(TRACEPARENT_LEN);
        parsed.encode(&mut out);
        assert_eq!(out.len(), TRACEPARENT_LEN, "encoded length");
        assert_eq!(
            TraceParent::parse(&out),
            Ok(parsed),
            "parse → format → parse"
        );
        if data.starts_with(b"00") {
            assert_eq!(out, data, "version 00 round trip");
        }
    }
    if let Ok(list) = std::str::from_utf8(data) {
        if let Ok(pairs) = parse_key_values(list) {
            assert!(pairs.iter().all(|(key, _)| !key.is_empty()), "empty key");
        }
    }
}
