//! SSE harness (`sse_decode`).

// Fuzz harnesses assert properties by panicking, so the panic, indexing and
// arithmetic lints are allowed on them (STYLE.md 19); input-derived sizes are
// small (one byte) and indexes are bounded by the input or by spans the
// property checks first.

use super::chunks::fuzz_chunks;

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
