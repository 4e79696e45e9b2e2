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
