//! Entry points for the fuzz targets and the corpus-replay tests.

// ------------------------------------------------------------------------
// SSE and JSON-RPC harnesses (`sse_decode`, `line_decode`, `parse_message`).
// Fuzz harnesses assert properties by panicking, so the panic, indexing and
// arithmetic lints are allowed on them (STYLE.md 19); input-derived sizes are
// small (one byte) and indexes come from spans the property checks first.

/// Fuzz target `sse_decode`: the first byte sets the size limit, the rest is
/// the stream. Asserts that decoding in one piece, one byte at a time and in
/// input-derived chunks gives the same events, error, last event id and
/// retry; that `consumed ≤ len` (and `== len` when no event); that events
/// respect the limit; and that re-encoding the events and decoding them again
/// gives the same events.
#[allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
pub fn sse_decode(data: &[u8]) {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let max = usize::from(first) * 4;
    let whole = sse_run(&[input], max);
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(sse_run(&bytes, max), whole, "one byte at a time");
    let chunks = fuzz_chunks(input);
    assert_eq!(sse_run(&chunks, max), whole, "arbitrary chunks");

    // decode → encode → decode is stable (names with NUL cannot be encoded).
    let (events, error, _, _) = whole;
    if error.is_some() {
        return;
    }
    let mut wire = Vec::new();
    for event in &events {
        let (Ok(name), Ok(id)) = (
            crate::sse::SseField::new(&event.event),
            crate::sse::SseField::new(&event.id),
        ) else {
            return;
        };
        crate::sse::encode_event(&mut wire, Some(&name), Some(&id), event.data.as_bytes());
    }
    let (again, error, _, _) = sse_run(&[&wire], usize::MAX);
    assert_eq!(error, None);
    assert_eq!(again, events, "decode → encode → decode");
}

type SseOutcome = (
    Vec<crate::sse::SseEvent>,
    Option<crate::sse::SseError>,
    String,
    Option<u64>,
);

#[allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
fn sse_run(chunks: &[&[u8]], max: usize) -> SseOutcome {
    let mut parser = crate::sse::SseParser::new(max);
    let mut events = Vec::new();
    for chunk in chunks {
        let mut rest = *chunk;
        // A poll budget: every call either consumes a byte or returns an
        // event, so more calls than bytes + 1 is a hang.
        let mut budget = rest.len() + 1;
        loop {
            assert!(budget > 0, "decode loops without progress");
            budget -= 1;
            match parser.decode(rest) {
                Ok((consumed, event)) => {
                    assert!(consumed <= rest.len(), "consumed beyond input");
                    rest = &rest[consumed..];
                    let Some(event) = event else {
                        assert!(rest.is_empty(), "None must consume all input");
                        break;
                    };
                    assert!(event.data.len() < max.max(1), "event data over the limit");
                    assert!(
                        event.event.len() <= max.saturating_mul(3),
                        "event name over the limit"
                    );
                    assert!(
                        event.id.len() <= max.saturating_mul(3),
                        "event id over the limit"
                    );
                    events.push(event);
                }
                Err(error) => {
                    assert_eq!(parser.decode(b"x"), Err(crate::sse::SseError::Failed));
                    return (events, Some(error), String::new(), None);
                }
            }
        }
    }
    let last_id = parser.last_event_id().to_owned();
    (events, None, last_id, parser.retry_ms())
}

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

// ------------------------------------------------------------------------
// HTTP harnesses (`parse_head`, `chunked_decode`, `content_length`).
// Fuzz harnesses assert properties by panicking (STYLE.md 19), so the panic,
// indexing and arithmetic lints are allowed on them; indexes are bounded by
// the input length before use.

/// Fuzz target `parse_head`: decodes `data` as a request head with the
/// default limits. Asserts that a head never claims more than `data`, that
/// the one-shot result equals feeding growing prefixes (split at a point
/// derived from the data, and in data-derived reads), and that a decoded
/// head, re-serialised, decodes to the same method, target, version,
/// headers and framing.
#[allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
pub fn parse_head(data: &[u8]) {
    use crate::http::{HeadDecoder, Limits};
    let limits = Limits::DEFAULT;
    let whole = HeadDecoder::new(limits).decode(data);
    if let Ok(Some((_, n))) = &whole {
        assert!(*n <= data.len(), "head longer than the input");
    }
    if let Err(crate::http::HttpError::Internal(why)) = whole {
        panic!("internal error: {why}");
    }

    // Growing prefixes: one data-derived split, then data-derived reads.
    let split = data
        .first()
        .map_or(0, |&b| usize::from(b) * data.len() / 255);
    let mut decoder = HeadDecoder::new(limits);
    let split_result = match decoder.decode(&data[..split]) {
        Ok(None) => decoder.decode(data),
        done => done,
    };
    assert_eq!(split_result, whole, "split at {split}");
    let mut decoder = HeadDecoder::new(limits);
    let mut len = 0;
    let mut reads = Ok(None);
    for chunk in fuzz_chunks(data) {
        len += chunk.len();
        reads = decoder.decode(&data[..len]);
        if !matches!(reads, Ok(None)) {
            break;
        }
    }
    assert_eq!(reads, whole, "data-derived reads");

    // decode → serialise → decode is stable. Line endings become CRLF, so
    // allow the head to grow.
    let Ok(Some((head, _))) = whole else {
        return;
    };
    let version = match head.version() {
        crate::http::Version::Http10 => "HTTP/1.0",
        crate::http::Version::Http11 => "HTTP/1.1",
    };
    let mut wire = format!("{} {} {version}\r\n", head.method_str(), head.target()).into_bytes();
    for (name, value) in head.headers() {
        wire.extend_from_slice(name.as_bytes());
        wire.extend_from_slice(b": ");
        wire.extend_from_slice(value);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"\r\n");
    let roomy = limits.with_head_bytes(limits.head_bytes * 2);
    let (again, n) = match HeadDecoder::new(roomy).decode(&wire) {
        Ok(Some(done)) => done,
        other => panic!("re-serialised head does not decode: {other:?}"),
    };
    assert_eq!(n, wire.len());
    assert_eq!(
        (
            again.method(),
            again.method_str(),
            again.target(),
            again.version(),
            again.body_framing()
        ),
        (
            head.method(),
            head.method_str(),
            head.target(),
            head.version(),
            head.body_framing()
        )
    );
    assert!(
        again.headers().eq(head.headers()),
        "headers differ after re-serialising"
    );
}

/// Fuzz target `chunked_decode`: the first byte sets the body limit (×16
/// bytes), the rest is a chunked body. Asserts `consumed ≤ len`, that one
/// call, a data-derived split and one byte at a time give the same payload
/// and consumed count (or error), and that a decoded payload re-encoded in
/// data-derived chunks decodes to the same payload.
#[allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
pub fn chunked_decode(data: &[u8]) {
    use crate::http::{encode_chunk, encode_last_chunk, BodyDecoder, BodyFraming, Limits};
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let max_body = u64::from(first) * 16;
    let new = || match BodyDecoder::new(BodyFraming::Chunked, max_body, &Limits::DEFAULT) {
        Ok(decoder) => decoder,
        Err(e) => panic!("chunked decoder refused: {e}"),
    };
    let whole = chunked_run(new(), input, &[input.len()]);
    if let (_, Err(crate::http::HttpError::Internal(why))) = whole {
        panic!("internal error: {why}");
    }
    let split = usize::from(first) * input.len() / 255;
    assert_eq!(
        chunked_run(new(), input, &[split, input.len()]),
        whole,
        "split at {split}"
    );
    let bytewise: Vec<usize> = (1..=input.len()).collect();
    assert_eq!(
        chunked_run(new(), input, &bytewise),
        whole,
        "one byte at a time"
    );

    // decode → encode → decode.
    let (payload, Ok((_, true))) = whole else {
        return;
    };
    let payload_len = u64::try_from(payload.len()).unwrap_or(u64::MAX);
    assert!(payload_len <= max_body, "payload over the body limit");
    let mut wire = Vec::new();
    for chunk in fuzz_chunks(&payload) {
        encode_chunk(&mut wire, chunk);
    }
    encode_last_chunk(&mut wire);
    let again = match BodyDecoder::new(BodyFraming::Chunked, payload_len, &Limits::DEFAULT) {
        Ok(decoder) => chunked_run(decoder, &wire, &[wire.len()]),
        Err(e) => panic!("chunked decoder refused: {e}"),
    };
    assert_eq!(
        again,
        (payload, Ok((wire.len(), true))),
        "decode → encode → decode"
    );
}

/// Feeds `input` to `decoder` in reads ending at `cuts` (increasing, the last
/// one `input.len()`), re-offering what was not consumed. Returns the payload
/// and either (consumed, done) or the error.
#[allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
fn chunked_run(
    mut decoder: crate::http::BodyDecoder,
    input: &[u8],
    cuts: &[usize],
) -> (Vec<u8>, Result<(usize, bool), crate::http::HttpError>) {
    let mut out = Vec::new();
    let mut consumed = 0;
    for &cut in cuts {
        if cut < consumed {
            continue;
        }
        let available = &input[consumed..cut];
        match decoder.decode(available, &mut out) {
            Ok(progress) => {
                assert!(
                    progress.consumed <= available.len(),
                    "consumed beyond input"
                );
                assert_eq!(progress.done, decoder.is_done());
                consumed += progress.consumed;
                if progress.done {
                    return (out, Ok((consumed, true)));
                }
                assert_eq!(
                    progress.consumed,
                    available.len(),
                    "stopped early without being done"
                );
            }
            Err(e) => {
                assert_eq!(
                    decoder.decode(b"0\r\n\r\n", &mut Vec::new()),
                    Err(e),
                    "failed state is terminal"
                );
                return (out, Err(e));
            }
        }
    }
    (out, Ok((consumed, false)))
}

/// Fuzz target `content_length`: `ContentLength::parse` accepts exactly the
/// non-empty all-ASCII-digit values that fit in a `u64`, with the value
/// `str::parse` gives them (used here only as the reference).
#[allow(clippy::panic)]
pub fn content_length(data: &[u8]) {
    let parsed = crate::http::ContentLength::parse(data).map(crate::http::ContentLength::get);
    let digits = !data.is_empty() && data.iter().all(u8::is_ascii_digit);
    let reference = if digits {
        core::str::from_utf8(data)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
    } else {
        None
    };
    assert_eq!(parsed.ok(), reference, "{data:?}");
    if let Err(e) = parsed {
        assert_eq!(e.status(), 400);
    }
}

// ------------------------------------------------------------------------
// Client-side harnesses (`parse_response_head`, `url_parse`).

/// Fuzz target `parse_response_head`: the first byte picks the request
/// method (`H` for HEAD, anything else GET), the rest is what a server
/// sent: a response head, then its body. Asserts that a head never claims
/// more than the input; that the one-shot result equals feeding growing
/// prefixes (a data-derived split, and data-derived reads); that a decoded
/// head, re-serialised, decodes to the same status, version, headers and
/// framing (for both methods); and that the body after it decodes to the
/// same payload and outcome (EOF included) in one piece, one byte at a time
/// and in data-derived chunks, never consuming past the input.
#[allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
pub fn parse_response_head(data: &[u8]) {
    use crate::http::{HttpError, Limits, Method, ResponseHeadDecoder};
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let method = if first == b'H' {
        Method::Head
    } else {
        Method::Get
    };
    let limits = Limits::DEFAULT;
    let whole = ResponseHeadDecoder::new(limits).decode(input);
    if let Ok(Some((_, n))) = &whole {
        assert!(*n <= input.len(), "head longer than the input");
    }
    if let Err(HttpError::Internal(why)) = whole {
        panic!("internal error: {why}");
    }

    // Growing prefixes: one data-derived split, then data-derived reads.
    let split = usize::from(first) * input.len() / 255;
    let mut decoder = ResponseHeadDecoder::new(limits);
    let split_result = match decoder.decode(&input[..split]) {
        Ok(None) => decoder.decode(input),
        done => done,
    };
    assert_eq!(split_result, whole, "split at {split}");
    let mut decoder = ResponseHeadDecoder::new(limits);
    let mut len = 0;
    let mut reads = Ok(None);
    for chunk in fuzz_chunks(input) {
        len += chunk.len();
        reads = decoder.decode(&input[..len]);
        if !matches!(reads, Ok(None)) {
            break;
        }
    }
    assert_eq!(reads, whole, "data-derived reads");

    let Ok(Some((head, n))) = whole else {
        return;
    };
    assert!((100..=999).contains(&head.status()));
    assert_eq!(head.is_informational(), head.status() < 200);

    // decode → serialise → decode is stable (line endings become CRLF, the
    // reason phrase is dropped, so allow the head to grow).
    let version = match head.version() {
        crate::http::Version::Http10 => "HTTP/1.0",
        crate::http::Version::Http11 => "HTTP/1.1",
    };
    let mut wire = format!("{version} {}\r\n", head.status()).into_bytes();
    for (name, value) in head.headers() {
        wire.extend_from_slice(name.as_bytes());
        wire.extend_from_slice(b": ");
        wire.extend_from_slice(value);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"\r\n");
    let roomy = limits.with_head_bytes(limits.head_bytes * 2);
    let (again, m) = match ResponseHeadDecoder::new(roomy).decode(&wire) {
        Ok(Some(done)) => done,
        other => panic!("re-serialised head does not decode: {other:?}"),
    };
    assert_eq!(m, wire.len());
    assert_eq!(
        (again.status(), again.version(), again.keep_alive()),
        (head.status(), head.version(), head.keep_alive())
    );
    assert!(
        again.headers().eq(head.headers()),
        "headers differ after re-serialising"
    );
    for m in [Method::Get, Method::Head, Method::Post] {
        assert_eq!(again.body_framing(m), head.body_framing(m));
    }

    // The body: one piece, one byte at a time, data-derived chunks.
    let Ok(framing) = head.body_framing(method) else {
        return;
    };
    let body = &input[n..];
    let max_body = u64::from(first) * 16;
    let whole = response_body_run(framing, max_body, &[body]);
    let bytes: Vec<&[u8]> = body.chunks(1).collect();
    assert_eq!(
        response_body_run(framing, max_body, &bytes),
        whole,
        "one byte at a time"
    );
    assert_eq!(
        response_body_run(framing, max_body, &fuzz_chunks(body)),
        whole,
        "arbitrary chunks"
    );
    if let (payload, Ok((consumed, true))) = &whole {
        assert!(*consumed <= body.len());
        if framing == crate::http::ResponseFraming::UntilClose {
            assert_eq!((payload.as_slice(), *consumed), (body, body.len()));
        }
    }
}

/// Decodes a response body from `reads` (each offered in turn, what was not
/// consumed offered again with the next), then signals EOF. Returns the
/// payload and either (consumed, done) or the error.
#[allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
fn response_body_run(
    framing: crate::http::ResponseFraming,
    max_body: u64,
    reads: &[&[u8]],
) -> (Vec<u8>, Result<(usize, bool), crate::http::HttpError>) {
    use crate::http::{BodyDecoder, Limits};
    let mut decoder = match BodyDecoder::for_response(framing, max_body, &Limits::DEFAULT) {
        Ok(decoder) => decoder,
        Err(e) => return (Vec::new(), Err(e)),
    };
    let mut out = Vec::new();
    let mut consumed = 0;
    let mut pending: Vec<u8> = Vec::new();
    for read in reads {
        pending.extend_from_slice(read);
        match decoder.decode(&pending, &mut out) {
            Ok(progress) => {
                assert!(progress.consumed <= pending.len(), "consumed beyond input");
                assert_eq!(progress.done, decoder.is_done());
                consumed += progress.consumed;
                pending.drain(..progress.consumed);
                if progress.done {
                    assert_eq!(decoder.handle_eof(), Ok(()));
                    return (out, Ok((consumed, true)));
                }
                assert!(pending.is_empty(), "stopped early without being done");
            }
            Err(e) => {
                assert_eq!(decoder.handle_eof(), Err(e), "failed state is terminal");
                return (out, Err(e));
            }
        }
    }
    match decoder.handle_eof() {
        Ok(()) => {
            assert!(decoder.is_done());
            (out, Ok((consumed, true)))
        }
        Err(e) => {
            assert_eq!(decoder.decode(b"x", &mut Vec::new()), Err(e));
            (out, Err(e))
        }
    }
}

/// Fuzz target `url_parse`: the input, if UTF-8, is a URL, optionally
/// followed by LF and a reference to resolve against it. Asserts that a
/// parsed URL prints as ASCII and parses back equal, that resolving the
/// empty reference gives it back, and that its target and authority make a
/// request head our writer accepts and our server decodes to the same
/// target and Host; that `join` never panics, gives a URL that re-parses
/// equal, and equals `parse` for absolute references.
#[allow(clippy::panic, clippy::arithmetic_side_effects)]
pub fn url_parse(data: &[u8]) {
    use crate::url::Url;
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let (base, reference) = match text.split_once('\n') {
        Some((base, reference)) => (base, Some(reference)),
        None => (text, None),
    };
    let parsed = Url::parse(base);
    let url = match parsed {
        Ok(url) => url,
        Err(e) => {
            let shown = e.to_string();
            assert!(!shown.is_empty() && !shown.contains('\n'));
            return;
        }
    };
    url_check(&url);
    let Some(reference) = reference else {
        return;
    };
    let joined = url.join(reference);
    if let Ok(joined) = &joined {
        url_check(joined);
    }
    if let Ok(absolute) = Url::parse(reference) {
        assert_eq!(joined, Ok(absolute), "join differs from parse");
    }
}

/// The properties every `Url` holds (see `url_parse`).
#[allow(clippy::panic, clippy::arithmetic_side_effects)]
fn url_check(url: &crate::url::Url) {
    use crate::http::{HeadDecoder, Limits, RequestHeadWriter};
    use crate::url::Url;
    let shown = url.to_string();
    assert!(shown.is_ascii(), "{shown:?}");
    assert_eq!(
        Url::parse(&shown).as_ref(),
        Ok(url),
        "parse → Display → parse"
    );
    assert_eq!(url.join("").as_ref(), Ok(url), "join(\"\")");
    assert!(url.target().starts_with('/') && !url.host().is_empty() && url.port() != 0);
    assert_eq!(url.is_tls(), url.scheme().is_tls());
    let path_query = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    assert_eq!(path_query, url.target());

    // What the client would send, our server reads back the same.
    let authority = url.authority();
    let mut wire = Vec::new();
    let mut head = RequestHeadWriter::new(&mut wire, "GET", url.target());
    head.header("Host", authority.as_bytes());
    if let Err(e) = head.finish() {
        panic!("RequestHeadWriter refuses {shown:?}: {e}");
    }
    let roomy = Limits::DEFAULT
        .with_head_bytes(wire.len() + 1)
        .with_target_bytes(wire.len());
    match HeadDecoder::new(roomy).decode(&wire) {
        Ok(Some((request, _))) => {
            assert_eq!(
                (request.target(), request.host()),
                (url.target(), authority.as_str())
            );
        }
        other => panic!("our server refuses {shown:?}: {other:?}"),
    }
}

/// Splits `input` into chunks of 1–16 bytes, sizes taken from its own bytes.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
fn fuzz_chunks(input: &[u8]) -> Vec<&[u8]> {
    let mut chunks = Vec::new();
    let mut rest = input;
    let mut i = 0;
    while !rest.is_empty() {
        let size = (usize::from(input[i % input.len()] % 16) + 1).min(rest.len());
        let (chunk, tail) = rest.split_at(size);
        chunks.push(chunk);
        rest = tail;
        i += 1;
    }
    chunks
}

// ------------------------------------------------------------------------
// Id multiplexing (`mux_sequence`).

/// Fuzz target `mux_sequence`: drives a [`crate::mux::Mux`] with a sequence
/// of operations decoded from the input and checks every answer against a
/// plain model after each step. The first byte sets `max_in_flight` (1–8);
/// then each operation is one byte (`op % 12`) followed by the bytes it
/// needs (a missing byte reads as 0):
///
/// | op | operation | operand bytes |
/// | --- | --- | --- |
/// | 0 | a session opens (fresh key, never reused) | — |
/// | 1 | client request | session, id, token (`≥ 128`: none), initialize |
/// | 2 | child response, id the gateway issued (answered or not) | which |
/// | 3 | child response, foreign or random id | kind, value… |
/// | 4 | child progress, issued or random token | kind, which |
/// | 5 | client cancel (own session, then any session) | session, id |
/// | 6 | child request to the busiest or latest open session | id, open mask |
/// | 7 | client response to a child request (own session / any) | session, id, any |
/// | 8 | session ends | session |
/// | 9 | drain (the child is gone) | — |
/// | 10 | abandoned request | which |
/// | 11 | child cancels its request, or a reserved gateway id | id, kind |
///
/// Asserts: a routed response goes to the session that sent the request,
/// with exactly its original id and `initialize` flag; a response and a
/// progress token route only while the request is in flight, so at most once
/// for a response; nothing routes to an ended session; refusals
/// (`DuplicateId`, `TooManyInFlight`) happen exactly when the model says;
/// gateway ids and tokens are never reused; session end and drain report
/// exactly the requests the model holds; and `in_flight()` (and
/// `in_flight_for`) equals requests sent minus answered, abandoned, ended
/// and drained. Client ids and tokens come from a small pool (numbers,
/// strings, `1.0`, a heap-stored long string) so collisions are frequent.
#[allow(clippy::panic)]
pub fn mux_sequence(data: &[u8]) {
    let mut ops = MuxOps { data, at: 0 };
    let max_in_flight = usize::from(ops.byte() % 8).saturating_add(1);
    let mut state = MuxModel::new(max_in_flight);
    // A poll budget is unnecessary (each step reads at least one byte), but
    // bound the work per input all the same.
    for _ in 0..4096 {
        let Some(op) = ops.next_op() else {
            break;
        };
        state.step(op, &mut ops);
        state.check();
    }
}

/// Client ids and progress tokens: numbers and strings that collide across
/// sessions and with each other's text, plus one longer than `Id::INLINE`.
const MUX_CLIENT_IDS: [&str; 10] = [
    "0",
    "1",
    "2",
    "\"1\"",
    "\"a\"",
    "1.0",
    "-1",
    "1e3",
    "\"\\u0031\"",
    "\"a-client-id-longer-than-inline-storage\"",
];

/// Ids of the child's own requests.
const MUX_CHILD_IDS: [&str; 5] = ["0", "1", "\"s\"", "\"s2\"", "7"];

/// Raw ids no gateway ever issues (or issues only as a token, never as an id
/// while in flight): they must never route a response.
const MUX_FOREIGN_IDS: [&[u8]; 9] = [
    b"\"1\"",
    b"-1",
    b"1.0",
    b"1e0",
    b"",
    b" 1",
    b"18446744073709551616",
    b"null",
    b"0",
];

/// Reads the operation stream of `mux_sequence`.
struct MuxOps<'a> {
    data: &'a [u8],
    at: usize,
}

impl MuxOps<'_> {
    fn next_op(&mut self) -> Option<u8> {
        let op = *self.data.get(self.at)?;
        self.at = self.at.saturating_add(1);
        Some(op % 12)
    }

    /// The next byte, or 0 past the end.
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at = self.at.saturating_add(1);
        b
    }

    /// Up to `n` raw bytes (fewer at the end).
    fn take(&mut self, n: usize) -> &[u8] {
        let start = self.at.min(self.data.len());
        let end = start.saturating_add(n).min(self.data.len());
        self.at = end;
        self.data.get(start..end).unwrap_or_default()
    }

    fn pick<'p, T>(&mut self, pool: &'p [T]) -> Option<&'p T> {
        let b = usize::from(self.byte());
        pool.get(b.checked_rem(pool.len())?)
    }
}

/// What the model knows of one client request in flight.
#[derive(Clone, Debug)]
struct MuxRequest {
    session: u32,
    id: crate::jsonrpc::Id,
    token: Option<(u64, crate::jsonrpc::Id)>,
    initialize: bool,
}

/// The model `mux_sequence` checks the table against.
struct MuxModel {
    mux: crate::mux::Mux<u32>,
    max_in_flight: usize,
    /// Sessions opened and not ended, in opening order.
    live: Vec<u32>,
    /// Sessions that ended: nothing may route to them again.
    ended: std::collections::HashSet<u32>,
    next_session: u32,
    /// Gateway id → the request in flight.
    pending: std::collections::HashMap<u64, MuxRequest>,
    /// Every gateway id and token ever handed out, in order.
    issued_ids: Vec<u64>,
    issued_tokens: Vec<u64>,
    /// Child request id → the session asked.
    child_requests: std::collections::HashMap<crate::jsonrpc::Id, u32>,
    /// Per live session: (requests in flight, sequence of latest activity).
    activity: std::collections::HashMap<u32, (usize, u64)>,
    sequence: u64,
    /// Requests accepted, and those answered, abandoned, ended or drained:
    /// `in_flight()` must equal `sent - gone`.
    sent: usize,
    gone: usize,
}

#[allow(
    clippy::panic,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
impl MuxModel {
    fn new(max_in_flight: usize) -> Self {
        Self {
            mux: crate::mux::Mux::new(max_in_flight),
            max_in_flight,
            live: Vec::new(),
            ended: std::collections::HashSet::new(),
            next_session: 0,
            pending: std::collections::HashMap::new(),
            issued_ids: Vec::new(),
            issued_tokens: Vec::new(),
            child_requests: std::collections::HashMap::new(),
            activity: std::collections::HashMap::new(),
            sequence: 0,
            sent: 0,
            gone: 0,
        }
    }

    fn id(text: &str) -> crate::jsonrpc::Id {
        crate::jsonrpc::Id::from_raw(text.as_bytes()).expect("pool ids are valid JSON tokens")
    }

    fn step(&mut self, op: u8, ops: &mut MuxOps<'_>) {
        match op {
            0 => self.open(),
            1 => {
                let Some(&session) = ops.pick(&self.live) else {
                    return;
                };
                let id = Self::id(ops.pick(&MUX_CLIENT_IDS).expect("non-empty pool"));
                let token_byte = ops.byte();
                let token = (token_byte < 128).then(|| {
                    Self::id(MUX_CLIENT_IDS[usize::from(token_byte) % MUX_CLIENT_IDS.len()])
                });
                let initialize = ops.byte() % 8 == 0;
                self.request(session, id, token, initialize);
            }
            2 => {
                let Some(&gateway_id) = ops.pick(&self.issued_ids) else {
                    return;
                };
                self.respond(crate::mux::write_u64(gateway_id, &mut [0; 20]));
            }
            3 => {
                let kind = ops.byte();
                match kind % 4 {
                    0 => {
                        let raw = ops.pick(&MUX_FOREIGN_IDS).copied().unwrap_or_default();
                        self.respond(raw);
                    }
                    1 => {
                        // A token value is never an id in flight.
                        let Some(&token) = ops.pick(&self.issued_tokens) else {
                            return;
                        };
                        self.respond(crate::mux::write_u64(token, &mut [0; 20]));
                    }
                    2 => {
                        let mut value = [0u8; 8];
                        for (dst, src) in value.iter_mut().zip(ops.take(8)) {
                            *dst = *src;
                        }
                        let value = u64::from_le_bytes(value) >> (kind / 4 % 64);
                        self.respond(crate::mux::write_u64(value, &mut [0; 20]));
                    }
                    _ => {
                        let len = usize::from(ops.byte() % 24);
                        let raw = ops.take(len).to_vec();
                        self.respond(&raw);
                    }
                }
            }
            4 => {
                let kind = ops.byte();
                let raw: Vec<u8> = if kind % 2 == 0 {
                    let Some(&token) = ops.pick(&self.issued_tokens) else {
                        return;
                    };
                    crate::mux::write_u64(token, &mut [0; 20]).to_vec()
                } else if kind % 4 == 1 {
                    let Some(&id) = ops.pick(&self.issued_ids) else {
                        return;
                    };
                    crate::mux::write_u64(id, &mut [0; 20]).to_vec()
                } else {
                    let len = usize::from(ops.byte() % 24);
                    ops.take(len).to_vec()
                };
                self.progress(&raw);
            }
            5 => {
                let Some(&session) = ops.pick(&self.live) else {
                    return;
                };
                let id = Self::id(ops.pick(&MUX_CLIENT_IDS).expect("non-empty pool"));
                self.cancel(session, &id);
            }
            6 => {
                let id = Self::id(ops.pick(&MUX_CHILD_IDS).expect("non-empty pool"));
                let mask = ops.byte();
                self.child_request(id, mask);
            }
            7 => {
                let Some(&session) = ops.pick(&self.live) else {
                    return;
                };
                let id = Self::id(ops.pick(&MUX_CHILD_IDS).expect("non-empty pool"));
                let any = ops.byte() % 4 == 0;
                self.client_response(session, &id, any);
            }
            8 => {
                let Some(&session) = ops.pick(&self.live) else {
                    return;
                };
                self.end(session);
            }
            9 => self.drain(),
            10 => {
                let Some(&gateway_id) = ops.pick(&self.issued_ids) else {
                    return;
                };
                self.mux.handle_abandoned(gateway_id);
                if let Some(request) = self.pending.remove(&gateway_id) {
                    self.gone += 1;
                    let activity = self
                        .activity
                        .get_mut(&request.session)
                        .expect("live session");
                    activity.0 -= 1;
                }
            }
            _ => {
                let id = Self::id(ops.pick(&MUX_CHILD_IDS).expect("non-empty pool"));
                if ops.byte() % 2 == 0 {
                    assert_eq!(
                        self.mux.handle_child_cancel(&id),
                        self.child_requests.remove(&id),
                        "child cancel"
                    );
                } else {
                    let reserved = self.mux.reserve_id();
                    self.fresh(reserved);
                    self.issued_ids.push(reserved);
                }
            }
        }
    }

    fn open(&mut self) {
        let session = self.next_session;
        self.next_session += 1;
        self.mux.handle_session_open(session);
        self.live.push(session);
        self.sequence += 1;
        self.activity.insert(session, (0, self.sequence));
    }

    fn request(
        &mut self,
        session: u32,
        id: crate::jsonrpc::Id,
        token: Option<crate::jsonrpc::Id>,
        initialize: bool,
    ) {
        use crate::mux::MuxError;
        let result = self
            .mux
            .handle_client_request(session, id.clone(), token.clone(), initialize);
        let duplicate = self
            .pending
            .values()
            .any(|r| r.session == session && r.id == id);
        if duplicate {
            assert_eq!(result, Err(MuxError::DuplicateId));
            return;
        }
        if self.pending.len() >= self.max_in_flight {
            assert_eq!(result, Err(MuxError::TooManyInFlight));
            return;
        }
        let out = match result {
            Ok(out) => out,
            Err(e) => panic!("request refused: {e}"),
        };
        self.fresh(out.id);
        self.issued_ids.push(out.id);
        assert_eq!(out.progress_token.is_some(), token.is_some());
        let token = out.progress_token.zip(token);
        if let Some((gateway_token, _)) = &token {
            self.fresh(*gateway_token);
            assert_ne!(*gateway_token, out.id);
            self.issued_tokens.push(*gateway_token);
        }
        self.pending.insert(
            out.id,
            MuxRequest {
                session,
                id,
                token,
                initialize,
            },
        );
        self.sent += 1;
        self.sequence += 1;
        let activity = self.activity.get_mut(&session).expect("live session");
        activity.0 += 1;
        activity.1 = self.sequence;
    }

    /// A gateway id or token must never have been handed out before.
    fn fresh(&self, value: u64) {
        assert_ne!(value, 0, "gateway ids start at 1");
        assert!(
            !self.issued_ids.contains(&value) && !self.issued_tokens.contains(&value),
            "gateway id or token {value} reused"
        );
    }

    /// The gateway id a raw JSON id stands for: the plain decimal the gateway
    /// wrote (at most 20 digits, fitting a `u64`), else none.
    fn ours(raw: &[u8]) -> Option<u64> {
        if raw.is_empty() || raw.len() > 20 || !raw.iter().all(u8::is_ascii_digit) {
            return None;
        }
        core::str::from_utf8(raw).ok()?.parse().ok()
    }

    fn respond(&mut self, raw: &[u8]) {
        let routed = self.mux.handle_child_response(raw);
        let expected = Self::ours(raw).and_then(|g| Some((g, self.pending.remove(&g)?)));
        match (routed, expected) {
            (None, None) => {}
            (Some(routed), Some((gateway_id, request))) => {
                assert!(
                    !self.ended.contains(&routed.session),
                    "routed to an ended session"
                );
                assert_eq!(
                    (routed.session, &routed.id, routed.initialize),
                    (request.session, &request.id, request.initialize),
                    "response {gateway_id} routed to the wrong request"
                );
                self.gone += 1;
                let activity = self
                    .activity
                    .get_mut(&request.session)
                    .expect("live session");
                activity.0 -= 1;
            }
            (routed, expected) => panic!(
                "response {:?}: routed {routed:?}, model {expected:?}",
                String::from_utf8_lossy(raw)
            ),
        }
    }

    fn progress(&mut self, raw: &[u8]) {
        let routed = self
            .mux
            .handle_child_progress(raw)
            .map(|(session, token)| (session, token.clone()));
        let expected = Self::ours(raw).and_then(|g| {
            self.pending.values().find_map(|r| match &r.token {
                Some((token, client)) if *token == g => Some((r.session, client.clone())),
                _ => None,
            })
        });
        if let Some((session, _)) = &routed {
            assert!(
                !self.ended.contains(session),
                "progress to an ended session"
            );
        }
        assert_eq!(
            routed,
            expected,
            "progress {:?}",
            String::from_utf8_lossy(raw)
        );
    }

    fn cancel(&mut self, session: u32, id: &crate::jsonrpc::Id) {
        let expected = self
            .pending
            .iter()
            .find(|(_, r)| r.session == session && r.id == *id)
            .map(|(g, _)| *g);
        assert_eq!(
            self.mux.handle_client_cancel(session, id),
            expected,
            "cancel"
        );
        let any = self.mux.handle_client_cancel_any(id);
        let candidates: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, r)| r.id == *id)
            .map(|(g, _)| *g)
            .collect();
        match any {
            Some(g) => assert!(candidates.contains(&g), "cancel_any names {g}, not {id:?}"),
            None => assert!(candidates.is_empty(), "cancel_any misses {id:?}"),
        }
    }

    fn child_request(&mut self, id: crate::jsonrpc::Id, mask: u8) {
        // The mask hides some live sessions, as a driver whose session is
        // closing would (bit = position in `live` mod 8).
        let open: Vec<u32> = self
            .live
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << (i % 8)) == 0)
            .map(|(_, s)| *s)
            .collect();
        let latest = |busy: bool| {
            open.iter()
                .filter_map(|s| Some((*s, *self.activity.get(s)?)))
                .filter(|(_, (in_flight, _))| !busy || *in_flight > 0)
                .max_by_key(|(_, (_, last))| *last)
                .map(|(s, _)| s)
        };
        let expected = latest(true).or_else(|| latest(false));
        assert_eq!(
            self.mux.busiest(|s| open.contains(&s)),
            latest(true),
            "busiest"
        );
        let chosen = self
            .mux
            .handle_child_request(id.clone(), |s| open.contains(&s));
        assert_eq!(chosen, expected, "child request {id:?}");
        if let Some(session) = chosen {
            self.child_requests.insert(id, session);
        }
    }

    fn client_response(&mut self, session: u32, id: &crate::jsonrpc::Id, any: bool) {
        if any {
            let expected = self.child_requests.remove(id).is_some();
            assert_eq!(
                self.mux.handle_client_response_any(id),
                expected,
                "response_any"
            );
        } else {
            let expected = self.child_requests.get(id) == Some(&session);
            if expected {
                self.child_requests.remove(id);
            }
            assert_eq!(
                self.mux.handle_client_response(session, id),
                expected,
                "client response"
            );
        }
    }

    fn end(&mut self, session: u32) {
        let mut ended = self.mux.handle_session_end(session);
        let mut cancelled: Vec<u64> = Vec::new();
        let gone: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, r)| r.session == session)
            .map(|(g, _)| *g)
            .collect();
        for g in gone {
            let request = self.pending.remove(&g).expect("listed above");
            self.gone += 1;
            if !request.initialize {
                cancelled.push(g);
            }
        }
        cancelled.sort_unstable();
        assert_eq!(ended.cancelled, cancelled, "cancelled on session end");
        let mut unanswered: Vec<crate::jsonrpc::Id> = Vec::new();
        self.child_requests.retain(|id, asked| {
            let keep = *asked != session;
            if !keep {
                unanswered.push(id.clone());
            }
            keep
        });
        let key = |id: &crate::jsonrpc::Id| id.as_bytes().to_vec();
        unanswered.sort_unstable_by_key(key);
        ended.unanswered.sort_unstable_by_key(key);
        assert_eq!(ended.unanswered, unanswered, "unanswered on session end");
        self.live.retain(|s| *s != session);
        self.activity.remove(&session);
        self.ended.insert(session);
    }

    fn drain(&mut self) {
        let drained = self.mux.drain();
        let mut expected: Vec<(u64, MuxRequest)> = self.pending.drain().collect();
        expected.sort_unstable_by_key(|(g, _)| *g);
        let expected: Vec<(u32, crate::jsonrpc::Id)> = expected
            .into_iter()
            .map(|(_, r)| (r.session, r.id))
            .collect();
        assert_eq!(drained, expected, "drain");
        self.gone += expected.len();
        self.child_requests.clear();
        for activity in self.activity.values_mut() {
            activity.0 = 0;
        }
    }

    /// The invariants that hold between any two steps.
    fn check(&self) {
        assert_eq!(self.mux.in_flight(), self.pending.len(), "in_flight");
        assert_eq!(self.mux.in_flight(), self.sent - self.gone, "sent − gone");
        for session in &self.live {
            let count = self
                .pending
                .values()
                .filter(|r| r.session == *session)
                .count();
            assert_eq!(self.mux.in_flight_for(*session), count, "in_flight_for");
            assert_eq!(self.activity.get(session).map(|a| a.0), Some(count));
        }
        for session in &self.ended {
            assert_eq!(
                self.mux.in_flight_for(*session),
                0,
                "ended session in flight"
            );
            assert!(self.pending.values().all(|r| r.session != *session));
            assert!(self.child_requests.values().all(|s| s != session));
        }
    }
}

// ------------------------------------------------------------------------
// W3C trace context (`traceparent`).

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
