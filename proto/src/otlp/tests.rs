use serde_json::{json, Value};

use super::*;

const TRACE: [u8; 16] = [
    0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36,
];
const SPAN: [u8; 8] = [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7];
const PARENT: [u8; 8] = [0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1];

fn scope() -> Scope<'static> {
    Scope {
        name: "supergateway",
        version: "0.1.0",
    }
}

fn resource() -> Vec<KeyValue> {
    vec![
        KeyValue::string("service.name", "supergateway"),
        KeyValue::string("deployment.environment", "test \"q\""),
    ]
}

fn parse(out: &[u8]) -> Value {
    serde_json::from_slice(out)
        .unwrap_or_else(|err| panic!("{err}: {}", String::from_utf8_lossy(out)))
}

#[test]
fn span_document_field_by_field() {
    let span = Span {
        trace_id: TRACE,
        span_id: SPAN,
        parent_span_id: Some(PARENT),
        name: "tools/call".into(),
        kind: SpanKind::Server,
        start_unix_nanos: 1_700_000_000_123_456_789,
        end_unix_nanos: u64::MAX,
        attributes: vec![
            KeyValue::string("rpc.method", "tools/call"),
            KeyValue::int("process.pid", 4242),
            KeyValue::int("rpc.jsonrpc.error_code", -32601),
            KeyValue {
                key: "ok".into(),
                value: AnyValue::Bool(true),
            },
            KeyValue {
                key: "ratio".into(),
                value: AnyValue::Double(0.5),
            },
        ],
        status: Status::Error("Method not found".into()),
    };
    let mut out = Vec::new();
    encode_traces(&resource(), &scope(), &[span], &mut out);
    let expected = json!({
        "resourceSpans": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": "supergateway"}},
                {"key": "deployment.environment", "value": {"stringValue": "test \"q\""}}
            ]},
            "scopeSpans": [{
                "scope": {"name": "supergateway", "version": "0.1.0"},
                "spans": [{
                    "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                    "spanId": "00f067aa0ba902b7",
                    "parentSpanId": "deadbeef00000001",
                    "name": "tools/call",
                    "kind": 2,
                    "startTimeUnixNano": "1700000000123456789",
                    "endTimeUnixNano": "18446744073709551615",
                    "attributes": [
                        {"key": "rpc.method", "value": {"stringValue": "tools/call"}},
                        {"key": "process.pid", "value": {"intValue": "4242"}},
                        {"key": "rpc.jsonrpc.error_code", "value": {"intValue": "-32601"}},
                        {"key": "ok", "value": {"boolValue": true}},
                        {"key": "ratio", "value": {"doubleValue": 0.5}}
                    ],
                    "status": {"code": 2, "message": "Method not found"}
                }]
            }]
        }]
    });
    let got = parse(&out);
    assert_eq!(got, expected);
    // Field by field, the parts that are easy to get wrong.
    let span = &got["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    assert!(span["traceId"].is_string() && span["spanId"].is_string());
    assert!(span["startTimeUnixNano"].is_string(), "times as strings");
    assert!(span["kind"].is_u64(), "enums as ints");
    assert!(span["status"]["code"].is_u64());
    assert!(span["attributes"][1]["value"]["intValue"].is_string());
}

#[test]
fn span_without_parent_or_status() {
    let span = Span {
        trace_id: TRACE,
        span_id: SPAN,
        name: "child.call".into(),
        kind: SpanKind::Client,
        start_unix_nanos: 0,
        end_unix_nanos: 1,
        ..Span::default()
    };
    let ok = Span {
        kind: SpanKind::Internal,
        status: Status::Ok,
        ..span.clone()
    };
    let mut out = Vec::new();
    encode_traces(&[], &scope(), &[span, ok], &mut out);
    let got = parse(&out);
    let spans = &got["resourceSpans"][0]["scopeSpans"][0]["spans"];
    assert_eq!(
        spans[0],
        json!({
            "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
            "spanId": "00f067aa0ba902b7",
            "name": "child.call",
            "kind": 3,
            "startTimeUnixNano": "0",
            "endTimeUnixNano": "1",
            "attributes": []
        })
    );
    assert_eq!(spans[1]["kind"], 1);
    assert_eq!(spans[1]["status"], json!({"code": 1}));
    assert_eq!(
        got["resourceSpans"][0]["resource"],
        json!({"attributes": []})
    );
}

#[test]
fn log_document_field_by_field() {
    let record = LogRecord {
        time_unix_nanos: 1_700_000_000_000_000_001,
        severity: Severity::Warn,
        body: "line1\nline2 \u{1}".into(),
        attributes: vec![KeyValue::string("target", "supergateway::link")],
        trace: Some((TRACE, SPAN)),
    };
    let plain = LogRecord {
        time_unix_nanos: 5,
        severity: Severity::Debug,
        body: String::new(),
        ..LogRecord::default()
    };
    let mut out = Vec::new();
    encode_logs(&resource(), &scope(), &[record, plain], &mut out);
    let expected = json!({
        "resourceLogs": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": "supergateway"}},
                {"key": "deployment.environment", "value": {"stringValue": "test \"q\""}}
            ]},
            "scopeLogs": [{
                "scope": {"name": "supergateway", "version": "0.1.0"},
                "logRecords": [
                    {
                        "timeUnixNano": "1700000000000000001",
                        "observedTimeUnixNano": "1700000000000000001",
                        "severityNumber": 13,
                        "severityText": "WARN",
                        "body": {"stringValue": "line1\nline2 \u{1}"},
                        "attributes": [{"key": "target", "value": {"stringValue": "supergateway::link"}}],
                        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                        "spanId": "00f067aa0ba902b7"
                    },
                    {
                        "timeUnixNano": "5",
                        "observedTimeUnixNano": "5",
                        "severityNumber": 5,
                        "severityText": "DEBUG",
                        "body": {"stringValue": ""},
                        "attributes": []
                    }
                ]
            }]
        }]
    });
    assert_eq!(parse(&out), expected);
}

#[test]
fn severities_and_special_values() {
    let numbers: Vec<u8> = [
        Severity::Trace,
        Severity::Debug,
        Severity::Info,
        Severity::Warn,
        Severity::Error,
    ]
    .iter()
    .map(|s| s.number())
    .collect();
    assert_eq!(numbers, [1, 5, 9, 13, 17]);
    let cases = [
        (AnyValue::Double(f64::NAN), r#"{"doubleValue":"NaN"}"#),
        (
            AnyValue::Double(f64::INFINITY),
            r#"{"doubleValue":"Infinity"}"#,
        ),
        (
            AnyValue::Double(f64::NEG_INFINITY),
            r#"{"doubleValue":"-Infinity"}"#,
        ),
        (AnyValue::Double(-1.25), r#"{"doubleValue":-1.25}"#),
        (
            AnyValue::Int(i64::MIN),
            r#"{"intValue":"-9223372036854775808"}"#,
        ),
        (AnyValue::Int(0), r#"{"intValue":"0"}"#),
        (AnyValue::Bool(false), r#"{"boolValue":false}"#),
    ];
    for (value, expected) in cases {
        let mut out = Vec::new();
        encode_value(&value, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }
}

#[test]
fn traceparent_accept() {
    let cases: &[(&str, [u8; 16], [u8; 8], u8)] = &[
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            TRACE,
            SPAN,
            1,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
            TRACE,
            SPAN,
            0,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff",
            TRACE,
            SPAN,
            0xff,
        ),
        // A future version: the version-00 fields, then `-` and more.
        (
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever",
            TRACE,
            SPAN,
            1,
        ),
        (
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            TRACE,
            SPAN,
            1,
        ),
    ];
    for (value, trace_id, parent_id, flags) in cases {
        let parsed =
            TraceParent::parse(value.as_bytes()).unwrap_or_else(|err| panic!("{value}: {err}"));
        assert_eq!(
            parsed,
            TraceParent {
                trace_id: *trace_id,
                parent_id: *parent_id,
                flags: *flags
            },
            "{value}"
        );
        let mut out = Vec::new();
        parsed.encode(&mut out);
        assert_eq!(out.len(), TRACEPARENT_LEN);
        if value.starts_with("00") {
            assert_eq!(out, value.as_bytes());
        }
        assert_eq!(TraceParent::parse(&out), Ok(parsed));
    }
}

#[test]
fn traceparent_reject() {
    use TraceParentError::*;
    let cases: &[(&str, TraceParentError)] = &[
        ("", Length),
        ("0", Length),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
            Length,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011",
            Length,
        ),
        // Version 00 allows nothing after the flags.
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            Length,
        ),
        (
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            Version,
        ),
        (
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            Version,
        ),
        (
            "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            Version,
        ),
        (
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            Delimiter,
        ),
        (
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            Hex,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
            Hex,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0X",
            Hex,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            Hex,
        ),
        (
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            Delimiter,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
            Delimiter,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
            Delimiter,
        ),
        (
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            ZeroTraceId,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            ZeroParentId,
        ),
        (
            " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            Version,
        ),
    ];
    for (value, expected) in cases {
        assert_eq!(
            TraceParent::parse(value.as_bytes()),
            Err(*expected),
            "{value:?}"
        );
    }
}

#[test]
fn key_value_lists_accept() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("", &[]),
        (" , ,", &[]),
        ("a=b", &[("a", "b")]),
        ("a=b,c=d", &[("a", "b"), ("c", "d")]),
        (" a = b , c=d ", &[("a", "b"), ("c", "d")]),
        ("a=", &[("a", "")]),
        ("a=b=c", &[("a", "b=c")]),
        (
            "Authorization=Bearer%20tok%2Cen",
            &[("Authorization", "Bearer tok,en")],
        ),
        ("k%3d=v%3D", &[("k=", "v=")]),
        ("a=1+2", &[("a", "1+2")]),
        ("x=%C3%A9", &[("x", "é")]),
        (
            "service.name=gw,deployment.environment=prod",
            &[("service.name", "gw"), ("deployment.environment", "prod")],
        ),
    ];
    for (list, expected) in cases {
        let got = parse_key_values(list).unwrap_or_else(|err| panic!("{list:?}: {err}"));
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(got, expected, "{list:?}");
    }
}

#[test]
fn key_value_lists_reject() {
    let cases: &[(&str, ListError)] = &[
        ("a", ListError::Entry),
        ("a=b,c", ListError::Entry),
        ("=b", ListError::Entry),
        (" =b", ListError::Entry),
        ("a=%", ListError::Escape),
        ("a=%2", ListError::Escape),
        ("a=%zz", ListError::Escape),
        ("a=%FF", ListError::Escape),
        ("%=b", ListError::Escape),
    ];
    for (list, expected) in cases {
        assert_eq!(parse_key_values(list), Err(*expected), "{list:?}");
    }
}
