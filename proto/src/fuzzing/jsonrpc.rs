//! JSON-RPC harnesses (`line_decode`, `parse_message`).

// Fuzz harnesses assert properties by panicking, so the panic, indexing and
// arithmetic lints are allowed on them (STYLE.md 19); input-derived sizes are
// small (one byte) and indexes are bounded by the input or by spans the
// property checks first.

use super::chunks::fuzz_chunks;

/// Fuzz target `line_decode`: the first byte sets the line limit (0–63),
/// the rest is the stream. Asserts that one-piece, byte-at-a-time and chunked
/// decoding agree with a one-line model (split on LF, strip one CR before
/// it, lines over the limit reported by length), and `consumed ≤ len`.
#[allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
pub fn line_decode(data: &[u8]) {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let max = usize::from(first % 64);
    let mut pieces: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    let pending = pieces.pop().map_or(0, <[u8]>::len);
    let model: Vec<Result<Vec<u8>, usize>> = pieces
        .into_iter()
        .map(|line| {
            if line.len() > max {
                Err(line.len())
            } else {
                Ok(line.strip_suffix(b"\r").unwrap_or(line).to_vec())
            }
        })
        .collect();
    let model = (model, pending);
    assert_eq!(lines_run(&[input], max), model, "one piece");
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(lines_run(&bytes, max), model, "one byte at a time");
    assert_eq!(
        lines_run(&fuzz_chunks(input), max),
        model,
        "arbitrary chunks"
    );
}

#[allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
fn lines_run(chunks: &[&[u8]], max: usize) -> (Vec<Result<Vec<u8>, usize>>, usize) {
    use crate::jsonrpc::{Line, LineDecoder};
    let mut decoder = LineDecoder::new(max);
    let mut out = Vec::new();
    for chunk in chunks {
        let mut rest = *chunk;
        let mut budget = rest.len() + 1;
        loop {
            assert!(budget > 0, "decode loops without progress");
            budget -= 1;
            let (consumed, line) = decoder.decode(rest);
            assert!(consumed <= rest.len(), "consumed beyond input");
            match line {
                Line::Complete(line) => {
                    assert!(line.len() <= max && !line.contains(&b'\n'));
                    out.push(Ok(line.to_vec()));
                }
                Line::Oversize { len } => out.push(Err(len)),
                Line::NeedMore => {
                    assert_eq!(consumed, rest.len(), "NeedMore must consume all input");
                    break;
                }
            }
            rest = &rest[consumed..];
        }
    }
    (out, decoder.pending())
}

/// Fuzz target `parse_message`: never panics; when it accepts, every span is
/// in bounds and on char boundaries, each id or token span holds exactly its
/// `RawId`, which is a valid `Id`, the kind agrees with the fields, splicing
/// a new id in gives a message that parses the same way; and it agrees with
/// serde_json on what is JSON at all (skipped for deeply nested input, where
/// the two recursion limits differ).
#[allow(
    clippy::panic,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
pub fn parse_message(data: &[u8]) {
    use crate::jsonrpc::{self, Kind, MessageError};
    let result = jsonrpc::parse_message(data);
    let shallow = data.iter().filter(|&&b| b == b'[' || b == b'{').count() < 100;
    if shallow {
        let is_json = serde_json::from_slice::<serde::de::IgnoredAny>(data).is_ok();
        let is_value = serde_json::from_slice::<serde_json::Value>(data).is_ok();
        match &result {
            Err(MessageError::Parse) => {
                assert!(!is_value, "serde_json accepts what we call a parse error")
            }
            _ => assert!(
                is_json,
                "we accept what serde_json calls invalid JSON: {result:?}"
            ),
        }
    }
    let msg = match result {
        Ok(msg) => msg,
        Err(MessageError::Batch) => {
            if let Ok(spans) = jsonrpc::split_batch(data) {
                for span in spans {
                    let element = data.get(span).expect("batch span in bounds");
                    let _ = jsonrpc::parse_message(element);
                }
            }
            return;
        }
        Err(MessageError::Internal(why)) => panic!("internal error: {why}"),
        Err(_) => return,
    };
    let text = core::str::from_utf8(data).expect("accepted input is UTF-8");
    let span_text = |span: &core::ops::Range<usize>| {
        text.get(span.clone())
            .expect("span in bounds, on char boundaries")
    };
    let check_token = |raw: &jsonrpc::RawId<'_>, span: &core::ops::Range<usize>| {
        assert_eq!(
            span_text(span).as_bytes(),
            raw.as_bytes(),
            "span holds the RawId"
        );
        let id = jsonrpc::Id::from_raw(raw.as_bytes()).expect("RawId is a valid Id");
        assert_eq!(id, raw.to_owned());
    };
    match (&msg.id, &msg.id_span) {
        (Some(raw), Some(span)) => check_token(raw, span),
        (None, Some(span)) => {
            assert_eq!((msg.kind, span_text(span)), (Kind::ErrorResponse, "null"))
        }
        (None, None) => assert_eq!(msg.kind, Kind::Notification),
        (Some(_), None) => panic!("id without span"),
    }
    for (raw, span) in msg.progress_token.iter().chain(&msg.cancelled_id) {
        check_token(raw, span);
    }
    if let Some(span) = &msg.result_span {
        assert_eq!(msg.kind, Kind::Response);
        assert!(!shallow || serde_json::from_str::<serde::de::IgnoredAny>(span_text(span)).is_ok());
    }
    assert_eq!(
        msg.method.is_some(),
        matches!(msg.kind, Kind::Request | Kind::Notification)
    );
    if let Ok(serde_json::Value::Object(object)) = serde_json::from_slice::<serde_json::Value>(data)
    {
        assert_eq!(
            object.get("method").and_then(|m| m.as_str()),
            msg.method.as_deref(),
            "method as serde_json reads it"
        );
    }
    // Splicing a new id in keeps the message's shape.
    if let (Some(span), Some(_)) = (msg.id_span.clone(), msg.id) {
        let mut out = Vec::new();
        jsonrpc::splice(&mut out, data, &[(span, b"\"gw-0\"")]).expect("span valid for splice");
        let again = jsonrpc::parse_message(&out).expect("spliced message parses");
        assert_eq!(
            (again.kind, again.method.as_deref()),
            (msg.kind, msg.method.as_deref())
        );
        assert_eq!(again.id.map(|raw| raw.as_bytes()), Some(&b"\"gw-0\""[..]));
    }
}
