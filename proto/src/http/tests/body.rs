//! Body decoding: Content-Length and chunked, limits, resumability.

use crate::http::{
    encode_chunk, encode_last_chunk, BodyDecoder, BodyFraming, BodyProgress, HttpError, Limits,
};

const BAD_SIZE: HttpError = HttpError::BadRequest("invalid chunk size");
const TOO_MANY_DIGITS: HttpError = HttpError::BadRequest("chunk size longer than 16 hex digits");
const NO_CRLF: HttpError = HttpError::BadRequest("chunk data not followed by CRLF");
const BAD_TRAILER: HttpError = HttpError::BadRequest("invalid trailer field");
const BARE_CR: HttpError = HttpError::BadRequest("bare CR in chunked body");
const BARE_CR_SIZE: HttpError = HttpError::BadRequest("bare CR in chunk-size line");
const LF_SIZE: HttpError = HttpError::BadRequest("bare LF after chunk size");
const LF_DATA: HttpError = HttpError::BadRequest("bare LF after chunk data");
const LF_BODY: HttpError = HttpError::BadRequest("bare LF in chunked body");
const WS_SIZE: HttpError = HttpError::BadRequest("whitespace after chunk size");

/// What decoding produced: the payload and either (consumed, done) or an
/// error.
type Outcome = (Vec<u8>, Result<(usize, bool), HttpError>);

fn chunked(max_body: u64, limits: &Limits) -> BodyDecoder {
    BodyDecoder::new(BodyFraming::Chunked, max_body, limits).unwrap()
}

/// Decodes `input` in one call.
fn one_shot(mut decoder: BodyDecoder, input: &[u8]) -> Outcome {
    let mut out = Vec::new();
    let result = decoder
        .decode(input, &mut out)
        .map(|p| (p.consumed, p.done));
    (out, result)
}

/// Decodes `input` in pieces ending at `cuts`, re-offering what was not
/// consumed, as a connection driver would.
fn in_pieces(
    mut decoder: BodyDecoder,
    input: &[u8],
    cuts: impl IntoIterator<Item = usize>,
) -> Outcome {
    let mut out = Vec::new();
    let mut consumed = 0;
    for cut in cuts.into_iter().chain([input.len()]) {
        if cut < consumed {
            continue;
        }
        match decoder.decode(&input[consumed..cut], &mut out) {
            Ok(BodyProgress { consumed: n, done }) => {
                assert!(n <= cut - consumed);
                consumed += n;
                if done {
                    return (out, Ok((consumed, true)));
                }
            }
            Err(e) => return (out, Err(e)),
        }
    }
    (out, Ok((consumed, false)))
}

fn accept_rows() -> Vec<(&'static [u8], &'static [u8], usize)> {
    vec![
        // (input, payload, consumed)
        (b"0\r\n\r\n", b"", 5),
        (b"5\r\nhello\r\n0\r\n\r\n", b"hello", 15),
        (
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
            b"hello world",
            26,
        ),
        (b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789", 20),
        (b"a\r\n0123456789\r\n0\r\n\r\n", b"0123456789", 20),
        (b"000005\r\nhello\r\n0\r\n\r\n", b"hello", 20),
        (b"0000000000000005\r\nhello\r\n0\r\n\r\n", b"hello", 30),
        (b"0000000000000000\r\n\r\n", b"", 20),
        // Extensions, ignored (RFC 9112 §7.1.1).
        (b"5;ext=1\r\nhello\r\n0\r\n\r\n", b"hello", 21),
        (b"5;ext\r\nhello\r\n0;last\r\n\r\n", b"hello", 24),
        (b"5;a=\"q d\";b\r\nhello\r\n0\r\n\r\n", b"hello", 25),
        (b"5;a = b\t\r\nhello\r\n0\r\n\r\n", b"hello", 22),
        (b"5;\xff\r\nhello\r\n0\r\n\r\n", b"hello", 17),
        // Trailers, read and ignored.
        (b"0\r\nX-T: a\r\nY:b\r\n\r\n", b"", 18),
        (b"0\r\nX: \xff\t \r\n\r\n", b"", 13),
        // Bytes after the body are never consumed.
        (b"0\r\n\r\nGET / HTTP/1.1\r\n", b"", 5),
        (b"1\r\nx\r\n0\r\n\r\n0\r\n\r\n", b"x", 11),
    ]
}

#[test]
fn accept_chunked() {
    for (input, payload, consumed) in accept_rows() {
        let outcome = one_shot(chunked(1024, &Limits::DEFAULT), input);
        assert_eq!(
            outcome,
            (payload.to_vec(), Ok((consumed, true))),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

fn reject_rows() -> Vec<(&'static [u8], u64, Limits, HttpError)> {
    let d = Limits::DEFAULT;
    vec![
        // RFC 9112 §7.1 chunk-size = 1*HEXDIG; no sign, no 0x (CVE-2023-38697).
        (b"x\r\n", 1024, d, BAD_SIZE),
        (b"+5\r\nhello\r\n", 1024, d, BAD_SIZE),
        (b"-1\r\n", 1024, d, BAD_SIZE),
        (b"0x5\r\nhello\r\n", 1024, d, BAD_SIZE),
        (b";ext\r\n", 1024, d, BAD_SIZE),
        (b" 5\r\n", 1024, d, BAD_SIZE),
        (b"\r\n", 1024, d, BAD_SIZE),
        (b"5 5\r\n", 1024, d, WS_SIZE),
        (b"5,\r\n", 1024, d, BAD_SIZE),
        // At most 16 hex digits (RUSTSEC-2021-0079).
        (b"1ffffffffffffffff\r\n", u64::MAX, d, TOO_MANY_DIGITS),
        (b"00000000000000000\r\n", u64::MAX, d, TOO_MANY_DIGITS),
        // Bare CR, and an extension ended by a bare LF.
        (b"5\rhello", 1024, d, BARE_CR_SIZE),
        (b"5;a\rb\r\n", 1024, d, BARE_CR_SIZE),
        (
            b"5;a\nhello\r\n0\r\n\r\n",
            1024,
            d,
            HttpError::BadRequest("LF in chunk extension"),
        ),
        (
            b"5;a\x00\r\nhello\r\n",
            1024,
            d,
            HttpError::BadRequest("control character in chunk extension"),
        ),
        (
            b"5;a\x7f\r\nhello\r\n",
            1024,
            d,
            HttpError::BadRequest("control character in chunk extension"),
        ),
        // CRLF only: a bare LF ends no line (RFC 9112 §7.1), and no
        // whitespace after the size, with or without an extension.
        (b"5\nhello\r\n0\r\n\r\n", 1024, d, LF_SIZE),
        (b"0\n\r\n", 1024, d, LF_SIZE),
        (b"5\r\nhello\n0\r\n\r\n", 1024, d, LF_DATA),
        (b"5\r\nhello\r\n0\r\n\n", 1024, d, LF_BODY),
        (b"0\r\nX-T: a\nY: b\r\n\r\n", 1024, d, LF_BODY),
        (b"0\r\nX-T: a\r\n\n", 1024, d, LF_BODY),
        (b"5 \r\nhello\r\n0\r\n\r\n", 1024, d, WS_SIZE),
        (b"5\t\r\nhello\r\n0\r\n\r\n", 1024, d, WS_SIZE),
        (b"5 ;ext\r\nhello\r\n0\r\n\r\n", 1024, d, WS_SIZE),
        (b"5\t;a=b\r\nhello\r\n0\r\n\r\n", 1024, d, WS_SIZE),
        (b"0 \r\n\r\n", 1024, d, WS_SIZE),
        // RFC 9112 §7.1: CRLF after chunk data is mandatory.
        (b"5\r\nhelloX\r\n0\r\n\r\n", 1024, d, NO_CRLF),
        (b"5\r\nhello0\r\n\r\n", 1024, d, NO_CRLF),
        (b"5\r\nhello\rX", 1024, d, NO_CRLF),
        // Trailers: field lines only, no obs-fold, no controls, no bare CR.
        (b"0\r\nX : a\r\n\r\n", 1024, d, BAD_TRAILER),
        (b"0\r\n a\r\n\r\n", 1024, d, BAD_TRAILER),
        (b"0\r\nX: a\r\n b\r\n\r\n", 1024, d, BAD_TRAILER),
        (b"0\r\nX: a\x00\r\n\r\n", 1024, d, BAD_TRAILER),
        (b"0\r\n:a\r\n\r\n", 1024, d, BAD_TRAILER),
        (b"0\r\nX\r\n\r\n", 1024, d, BAD_TRAILER),
        (b"0\r\nX: a\rb", 1024, d, BARE_CR),
        (b"0\r\n\rX", 1024, d, BARE_CR),
        // Body limit (413): per chunk and in total.
        (b"5\r\nhello\r\n", 4, d, HttpError::BodyTooLarge),
        (
            b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            4,
            d,
            HttpError::BodyTooLarge,
        ),
        (
            b"ffffffffffffffff\r\n",
            u64::MAX - 1,
            d,
            HttpError::BodyTooLarge,
        ),
        // Size line and trailer limits.
        (
            b"5;aaaaaaaa\r\nhello\r\n",
            1024,
            d.with_chunk_size_line(9),
            HttpError::BadRequest("chunk-size line too long"),
        ),
        (
            b"0\r\nX: 123456789\r\n\r\n",
            1024,
            d.with_trailer_bytes(8),
            HttpError::TrailersTooLarge,
        ),
        (
            b"0\r\nA: 1\r\nB: 2\r\n\r\n",
            1024,
            d.with_trailers(1),
            HttpError::TrailersTooLarge,
        ),
    ]
}

#[test]
fn reject_chunked() {
    for (input, max_body, limits, expected) in reject_rows() {
        let (_, result) = one_shot(chunked(max_body, &limits), input);
        assert_eq!(
            result,
            Err(expected),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
    // Exactly at the limits is fine.
    let d = Limits::DEFAULT;
    let fits: &[(&[u8], u64, Limits)] = &[
        (
            b"5;aaaaaaa\r\nhello\r\n0\r\n\r\n",
            1024,
            d.with_chunk_size_line(9),
        ),
        (b"3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n", 4, d),
        (b"0\r\nX: 1234\r\n\r\n", 1024, d.with_trailer_bytes(11)),
        (b"0\r\nA: 1\r\n\r\n", 1024, d.with_trailers(1)),
    ];
    for &(input, max_body, limits) in fits {
        let (_, result) = one_shot(chunked(max_body, &limits), input);
        assert_eq!(
            result,
            Ok((input.len(), true)),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn chunk_size_overflow_does_not_smuggle() {
    // RUSTSEC-2021-0079: 17 hex digits used to wrap to 3, leaving the rest
    // of the "body" to be parsed as a new request.
    let input = b"f0000000000000003\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
    let mut decoder = chunked(u64::MAX, &Limits::DEFAULT);
    let mut out = Vec::new();
    assert_eq!(decoder.decode(input, &mut out), Err(TOO_MANY_DIGITS));
    assert!(out.is_empty());
    assert!(!decoder.is_done());
    // Terminal: nothing more is ever produced.
    assert_eq!(decoder.decode(b"0\r\n\r\n", &mut out), Err(TOO_MANY_DIGITS));
    assert!(out.is_empty());
}

#[test]
fn chunk_ext_limit_is_per_body() {
    let limits = Limits::DEFAULT.with_chunk_ext_bytes(16);
    // Each extension is 8 bytes (";abcdefg"), counted over the whole body.
    let two = b"1;abcdefg\r\nx\r\n1;abcdefg\r\ny\r\n0\r\n\r\n";
    assert_eq!(
        one_shot(chunked(1024, &limits), two),
        (b"xy".to_vec(), Ok((two.len(), true)))
    );
    let three = b"1;abcdefg\r\nx\r\n1;abcdefg\r\ny\r\n1;abcdefg\r\nz\r\n0\r\n\r\n";
    assert_eq!(
        one_shot(chunked(1024, &limits), three).1,
        Err(HttpError::BadRequest("chunk extensions too large"))
    );
}

#[test]
fn length_over_limit_fails_up_front() {
    let d = Limits::DEFAULT;
    assert_eq!(
        BodyDecoder::new(BodyFraming::Length(11), 10, &d).unwrap_err(),
        HttpError::BodyTooLarge
    );
    assert_eq!(HttpError::BodyTooLarge.status(), 413);
    assert_eq!(
        BodyDecoder::new(BodyFraming::Length(u64::MAX), u64::MAX - 1, &d).unwrap_err(),
        HttpError::BodyTooLarge
    );
    assert!(BodyDecoder::new(BodyFraming::Length(10), 10, &d).is_ok());
    // A body-less request is fine whatever the limit.
    assert!(BodyDecoder::new(BodyFraming::None, 0, &d)
        .unwrap()
        .is_done());
    assert!(BodyDecoder::new(BodyFraming::Length(0), 0, &d)
        .unwrap()
        .is_done());
    assert!(BodyDecoder::new(BodyFraming::Chunked, 0, &d).is_ok());
}

#[test]
fn length_bodies() {
    let mut decoder = BodyDecoder::new(BodyFraming::Length(5), 10, &Limits::DEFAULT).unwrap();
    let mut out = Vec::new();
    assert_eq!(
        decoder.decode(b"", &mut out),
        Ok(BodyProgress {
            consumed: 0,
            done: false
        })
    );
    assert_eq!(
        decoder.decode(b"hel", &mut out),
        Ok(BodyProgress {
            consumed: 3,
            done: false
        })
    );
    assert_eq!(
        decoder.decode(b"loGET /", &mut out),
        Ok(BodyProgress {
            consumed: 2,
            done: true
        })
    );
    assert_eq!(
        decoder.decode(b"more", &mut out),
        Ok(BodyProgress {
            consumed: 0,
            done: true
        })
    );
    assert_eq!(out, b"hello");
    assert!(decoder.is_done());

    for framing in [BodyFraming::None, BodyFraming::Length(0)] {
        let mut decoder = BodyDecoder::new(framing, 10, &Limits::DEFAULT).unwrap();
        assert_eq!(
            decoder.decode(b"GET /", &mut out),
            Ok(BodyProgress {
                consumed: 0,
                done: true
            })
        );
    }
}

#[test]
fn prealloc_hint_is_capped() {
    let d = Limits::DEFAULT;
    let hint = |framing, max, limits: &Limits| {
        BodyDecoder::new(framing, max, limits)
            .unwrap()
            .prealloc_hint()
    };
    assert_eq!(hint(BodyFraming::Length(10), 100, &d), 10);
    assert_eq!(hint(BodyFraming::Length(5 << 20), 10 << 20, &d), 1 << 20);
    assert_eq!(hint(BodyFraming::Length(u64::MAX), u64::MAX, &d), 1 << 20);
    assert_eq!(
        hint(BodyFraming::Length(100), 100, &d.with_prealloc_bytes(64)),
        64
    );
    assert_eq!(hint(BodyFraming::Chunked, 100, &d), 0);
    assert_eq!(hint(BodyFraming::None, 100, &d), 0);
}

#[test]
fn split_at_every_byte() {
    let mut cases: Vec<(&[u8], u64, Limits)> = accept_rows()
        .into_iter()
        .map(|(input, _, _)| (input, 1024, Limits::DEFAULT))
        .collect();
    cases.extend(
        reject_rows()
            .into_iter()
            .map(|(input, max, limits, _)| (input, max, limits)),
    );
    for (input, max_body, limits) in cases {
        let expected = one_shot(chunked(max_body, &limits), input);
        let name = String::from_utf8_lossy(input);
        for cut in 0..=input.len() {
            assert_eq!(
                in_pieces(chunked(max_body, &limits), input, [cut]),
                expected,
                "cut {cut} of {name:?}"
            );
        }
        assert_eq!(
            in_pieces(chunked(max_body, &limits), input, 0..input.len()),
            expected,
            "bytewise {name:?}"
        );
    }
    // Content-Length bodies too.
    let input = b"hello world, and then the next request";
    let length = || BodyDecoder::new(BodyFraming::Length(11), 11, &Limits::DEFAULT).unwrap();
    let expected = one_shot(length(), input);
    assert_eq!(expected, (b"hello world".to_vec(), Ok((11, true))));
    for cut in 0..=input.len() {
        assert_eq!(in_pieces(length(), input, [cut]), expected, "cut {cut}");
    }
    assert_eq!(in_pieces(length(), input, 0..input.len()), expected);
}

#[test]
fn encoders() {
    let rows: &[(&[u8], &[u8])] = &[
        (b"", b""),
        (b"a", b"1\r\na\r\n"),
        (b"0123456789abcdef", b"10\r\n0123456789abcdef\r\n"),
        (b"\r\n0\r\n\r\n", b"7\r\n\r\n0\r\n\r\n\r\n"),
    ];
    for &(data, expected) in rows {
        let mut out = b"prefix".to_vec();
        encode_chunk(&mut out, data);
        assert_eq!(&out[6..], expected);
    }
    let mut out = vec![b'x'; 300];
    let data = out.clone();
    out.clear();
    encode_chunk(&mut out, &data);
    assert!(out.starts_with(b"12c\r\n"));
    encode_last_chunk(&mut out);
    assert!(out.ends_with(b"x\r\n0\r\n\r\n"));
}
