//! HTTP harnesses: server side (`parse_head`, `chunked_decode`,
//! `content_length`) and client side (`parse_response_head`).

// Fuzz harnesses assert properties by panicking, so the panic, indexing and
// arithmetic lints are allowed on them (STYLE.md 19); input-derived sizes are
// small (one byte) and indexes are bounded by the input or by spans the
// property checks first.

use super::chunks::fuzz_chunks;

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
    let (payload, Ok((consumed, true))) = whole else {
        return;
    };
    // Whatever was accepted is a strict RFC 9112 §7.1 chunked body: CRLF
    // only, nothing between the size and `;` or CRLF.
    assert_eq!(
        strict_chunked(&input[..consumed]),
        Some(payload.clone()),
        "accepted a body the strict grammar refuses"
    );
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

/// The payload of `body` if it is exactly one strict chunked body (RFC 9112
/// §7.1: hex size, optional `;` extension without CR or LF, CRLF, data,
/// CRLF; trailer lines without CR or LF, each ending in CRLF; a final
/// CRLF), else `None`. A second, deliberately simple reading of the grammar
/// for `chunked_decode` to agree with; limits are not checked.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
fn strict_chunked(body: &[u8]) -> Option<Vec<u8>> {
    // The line at `at` (without CR or LF inside) and where the next starts.
    let line = |at: usize| -> Option<(&[u8], usize)> {
        let rest = body.get(at..)?;
        let end = rest.windows(2).position(|w| w == b"\r\n")?;
        let line = &rest[..end];
        (!line.contains(&b'\r') && !line.contains(&b'\n')).then_some((line, at + end + 2))
    };
    let mut payload = Vec::new();
    let mut at = 0;
    loop {
        let (size_line, next) = line(at)?;
        let digits = size_line
            .iter()
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        if digits == 0 || digits > 16 {
            return None;
        }
        if !(digits == size_line.len() || size_line[digits] == b';') {
            return None;
        }
        let size =
            usize::from_str_radix(std::str::from_utf8(&size_line[..digits]).ok()?, 16).ok()?;
        at = next;
        if size == 0 {
            break;
        }
        let data = body.get(at..at.checked_add(size)?)?;
        payload.extend_from_slice(data);
        at += size;
        if body.get(at..at + 2)? != b"\r\n" {
            return None;
        }
        at += 2;
    }
    loop {
        let (trailer, next) = line(at)?;
        at = next;
        if trailer.is_empty() {
            return (at == body.len()).then_some(payload);
        }
    }
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
