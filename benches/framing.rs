//! Framing-layer benchmarks (STYLE.md item 21): request-head parsing,
//! chunked decoding and encoding, SSE encoding and parsing, JSON-RPC
//! classification and id splicing, all in `supergateway_proto`.
//!
//! Run with `cargo bench --bench framing` (add `-- --quick` for a short run,
//! or a name filter such as `-- sse`). Each benchmark reports throughput in
//! bytes of wire input (decoders) or payload input (encoders), and checks
//! its result inside the timed closure, so a benchmark that stops doing the
//! work fails instead of getting faster.
#![forbid(unsafe_code)]
// Benchmark code, not reachable from the network: asserting by panicking and
// indexing fixed inputs is the point here (the workspace denies these lints
// outside tests).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use supergateway_proto::http::{
    encode_chunk, encode_last_chunk, BodyDecoder, BodyFraming, HeadDecoder, Limits,
};
use supergateway_proto::jsonrpc::{parse_message, splice, Kind};
use supergateway_proto::sse::{encode_event, SseField, SseParser};

criterion_group!(
    benches,
    head_parse,
    chunked_decode,
    chunk_encode,
    sse_encode,
    sse_parse,
    jsonrpc
);
criterion_main!(benches);

/// A Streamable HTTP POST as an MCP client sends it.
const POST_HEAD: &[u8] = b"POST /mcp HTTP/1.1\r\n\
Host: localhost:8000\r\n\
User-Agent: mcp-client/1.0\r\n\
Accept: application/json, text/event-stream\r\n\
Content-Type: application/json\r\n\
Mcp-Session-Id: 5f0c8a4e-4b7d-4c52-9a57-0d3d8c1e2f10\r\n\
Mcp-Protocol-Version: 2025-06-18\r\n\
Content-Length: 128\r\n\
Connection: keep-alive\r\n\r\n";

/// A request from a browser-like client: 24 headers, a long cookie.
fn big_head() -> Vec<u8> {
    let mut head = b"GET /sse?client=bench&x=1 HTTP/1.1\r\nHost: localhost:8000\r\n".to_vec();
    for i in 0..22 {
        head.extend_from_slice(
            format!("X-Header-{i:02}: value-{i}-abcdefghijklmnop\r\n").as_bytes(),
        );
    }
    head.extend_from_slice(b"Cookie: ");
    head.extend_from_slice(&[b'c'; 512]);
    head.extend_from_slice(b"\r\n\r\n");
    head
}

fn head_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("head_parse");
    for (name, head) in [("mcp_post", POST_HEAD.to_vec()), ("24_headers", big_head())] {
        group.throughput(Throughput::Bytes(head.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &head, |b, head| {
            b.iter(|| {
                let (parsed, n) = HeadDecoder::new(Limits::DEFAULT)
                    .decode(black_box(head))
                    .unwrap()
                    .unwrap();
                assert_eq!(n, head.len());
                assert_eq!(parsed.host(), "localhost:8000");
            });
        });
    }
    group.finish();
}

/// A 64 KiB payload of JSON-ish bytes.
fn payload() -> Vec<u8> {
    br#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"abc"}]}}"#
        .iter()
        .copied()
        .cycle()
        .take(64 * 1024)
        .collect()
}

/// `payload` chunked in pieces of `size` bytes, with the last chunk.
fn chunked(payload: &[u8], size: usize) -> Vec<u8> {
    let mut wire = Vec::new();
    for piece in payload.chunks(size) {
        encode_chunk(&mut wire, piece);
    }
    encode_last_chunk(&mut wire);
    wire
}

fn chunked_decode(c: &mut Criterion) {
    let payload = payload();
    let mut group = c.benchmark_group("chunked_decode");
    for size in [64, 4096] {
        let wire = chunked(&payload, size);
        let mut out = Vec::with_capacity(payload.len());
        group.throughput(Throughput::Bytes(wire.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("64KiB_in_chunks_of", size),
            &wire,
            |b, wire| {
                b.iter(|| {
                    out.clear();
                    let mut decoder =
                        BodyDecoder::new(BodyFraming::Chunked, 1 << 20, &Limits::DEFAULT).unwrap();
                    let progress = decoder.decode(black_box(wire), &mut out).unwrap();
                    assert!(progress.done && progress.consumed == wire.len());
                    assert_eq!(out.len(), payload.len());
                });
            },
        );
    }
    group.finish();
}

fn chunk_encode(c: &mut Criterion) {
    let payload = payload();
    let mut group = c.benchmark_group("chunk_encode");
    for size in [64, 4096] {
        let expected = chunked(&payload, size).len();
        let mut out = Vec::with_capacity(expected);
        group.throughput(Throughput::Bytes(payload.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("64KiB_in_chunks_of", size),
            &payload,
            |b, payload| {
                b.iter(|| {
                    out.clear();
                    for piece in black_box(payload).chunks(size) {
                        encode_chunk(&mut out, piece);
                    }
                    encode_last_chunk(&mut out);
                    assert_eq!(out.len(), expected);
                });
            },
        );
    }
    group.finish();
}

/// A `tools/call` result of about `len` bytes, one line of JSON.
fn message(len: usize) -> Vec<u8> {
    let mut text =
        br#"{"jsonrpc":"2.0","id":42,"result":{"content":[{"type":"text","text":""#.to_vec();
    text.extend(
        b"lorem ipsum "
            .iter()
            .cycle()
            .take(len.saturating_sub(text.len() + 6)),
    );
    text.extend_from_slice(br#""}]}}"#);
    text
}

fn sse_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("sse_encode");
    let id = SseField::new("s1-1234").unwrap();
    for len in [256, 16 * 1024] {
        let data = message(len);
        // One line of data: "event: message\n" + "id: s1-1234\n" + "data: …\n\n".
        let expected = 15 + 12 + 6 + data.len() + 2;
        let mut out = Vec::with_capacity(expected);
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.bench_with_input(BenchmarkId::new("message_bytes", len), &data, |b, data| {
            b.iter(|| {
                out.clear();
                encode_event(
                    &mut out,
                    Some(&SseField::MESSAGE),
                    Some(&id),
                    black_box(data),
                );
                assert_eq!(out.len(), expected);
            });
        });
    }
    // Multi-line data (pretty-printed JSON): every line break becomes a new
    // `data:` field.
    let pretty: Vec<u8> = b"{\n  \"jsonrpc\": \"2.0\",\n  \"id\": 1\n}\n"
        .iter()
        .copied()
        .cycle()
        .take(4096)
        .collect();
    let mut out = Vec::new();
    group.throughput(Throughput::Bytes(pretty.len() as u64));
    group.bench_with_input(
        BenchmarkId::new("multiline_bytes", 4096),
        &pretty,
        |b, data| {
            b.iter(|| {
                out.clear();
                encode_event(&mut out, Some(&SseField::MESSAGE), None, black_box(data));
                assert!(out.len() > data.len() && out.ends_with(b"\n\n"));
            });
        },
    );
    group.finish();
}

fn sse_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("sse_parse");
    for len in [256, 16 * 1024] {
        let data = message(len);
        let mut stream = Vec::new();
        let events = 64;
        for i in 0..events {
            let id = SseField::new(&format!("s1-{i}")).unwrap();
            encode_event(&mut stream, Some(&SseField::MESSAGE), Some(&id), &data);
        }
        group.throughput(Throughput::Bytes(stream.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("64_events_of", len),
            &stream,
            |b, stream| {
                b.iter(|| {
                    let mut parser = SseParser::new(1 << 20);
                    let mut rest = black_box(&stream[..]);
                    let mut count = 0;
                    while let (consumed, Some(event)) = parser.decode(rest).unwrap() {
                        assert_eq!(event.data.len(), data.len());
                        rest = &rest[consumed..];
                        count += 1;
                    }
                    assert_eq!(count, events);
                });
            },
        );
    }
    group.finish();
}

fn jsonrpc(c: &mut Criterion) {
    let mut group = c.benchmark_group("jsonrpc");
    let request = br#"{"jsonrpc":"2.0","id":"req-17","method":"tools/call","params":{"name":"echo","arguments":{"text":"hello, world","n":[1,2,3],"nested":{"a":true,"b":null}},"_meta":{"progressToken":"tok-17"}}}"#;
    let response = message(16 * 1024);
    let cases: [(&str, &[u8], Kind); 2] = [
        ("request_tools_call", request, Kind::Request),
        ("response_16KiB", &response, Kind::Response),
    ];
    for (name, input, kind) in cases {
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("parse_message", name),
            input,
            |b, input| {
                b.iter(|| {
                    let msg = parse_message(black_box(input)).unwrap();
                    assert_eq!(msg.kind, kind);
                    assert!(msg.id.is_some());
                });
            },
        );
        // What relaying does per message: classify, then splice the
        // gateway's id (and progress token) in.
        let mut out = Vec::with_capacity(input.len() + 32);
        group.bench_with_input(
            BenchmarkId::new("parse_message+splice", name),
            input,
            |b, input| {
                b.iter(|| {
                    let msg = parse_message(black_box(input)).unwrap();
                    let mut spans = vec![(msg.id_span.clone().unwrap(), &b"1234"[..])];
                    if let Some((_, span)) = &msg.progress_token {
                        spans.push((span.clone(), &b"\"gw-1234\""[..]));
                    }
                    out.clear();
                    splice(&mut out, input, &spans).unwrap();
                    assert!(out.starts_with(br#"{"jsonrpc":"2.0","id":1234,"#));
                });
            },
        );
    }
    group.finish();
}
