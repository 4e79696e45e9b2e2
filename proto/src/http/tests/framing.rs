//! Body framing: Content-Length and Transfer-Encoding rules.

use super::{get_with, head, head_err, request};
use crate::http::{BodyFraming, ContentLength, HttpError};

const NOT_DIGITS: HttpError = HttpError::BadRequest("Content-Length is not all digits");
const TOO_BIG: HttpError = HttpError::BadRequest("Content-Length does not fit in 64 bits");
const CL_TE: HttpError = HttpError::BadRequest("both Content-Length and Transfer-Encoding");
const TWO_CL: HttpError = HttpError::BadRequest("more than one Content-Length header");
const TWO_TE: HttpError = HttpError::BadRequest("more than one Transfer-Encoding header");
const TE_10: HttpError = HttpError::BadRequest("Transfer-Encoding in an HTTP/1.0 request");
const CODING: HttpError = HttpError::NotImplemented("transfer coding other than chunked");

#[test]
fn content_length_table() {
    // RFC 9110 §8.6: 1*DIGIT; strict, never str::parse (RUSTSEC-2021-0078).
    let accept: &[(&[u8], u64)] = &[
        (b"0", 0),
        (b"5", 5),
        (b"007", 7),
        (b"1234567890", 1_234_567_890),
        (b"18446744073709551615", u64::MAX),
        (b"0000000000000000000000000000001", 1),
    ];
    for &(value, n) in accept {
        assert_eq!(
            ContentLength::parse(value).map(ContentLength::get),
            Ok(n),
            "{value:?}"
        );
    }
    let reject: &[(&[u8], HttpError)] = &[
        (b"", HttpError::BadRequest("empty Content-Length")),
        (b"+5", NOT_DIGITS),
        (b"-1", NOT_DIGITS),
        (b"0x5", NOT_DIGITS),
        (b"5 ", NOT_DIGITS),
        (b" 5", NOT_DIGITS),
        (b"5 5", NOT_DIGITS),
        (b"5,5", NOT_DIGITS),
        (b"5, 5", NOT_DIGITS),
        (b"1.0", NOT_DIGITS),
        (b"1e3", NOT_DIGITS),
        (b"5\0", NOT_DIGITS),
        ("\u{663}".as_bytes(), NOT_DIGITS), // ARABIC-INDIC DIGIT THREE
        ("\u{ff15}".as_bytes(), NOT_DIGITS), // FULLWIDTH DIGIT FIVE
        (b"18446744073709551616", TOO_BIG),
        (b"99999999999999999999999", TOO_BIG),
    ];
    for &(value, expected) in reject {
        let e = ContentLength::parse(value).unwrap_err();
        assert_eq!((e, e.status()), (expected, 400), "{value:?}");
    }
}

#[test]
fn accept_framing() {
    let rows: &[(&str, &[&str], BodyFraming)] = &[
        ("GET / HTTP/1.1", &[], BodyFraming::None),
        (
            "POST / HTTP/1.1",
            &["Content-Length: 5"],
            BodyFraming::Length(5),
        ),
        (
            "POST / HTTP/1.1",
            &["content-length: 0"],
            BodyFraming::Length(0),
        ),
        (
            "POST / HTTP/1.1",
            &["Content-Length:  42  "],
            BodyFraming::Length(42),
        ),
        (
            "POST / HTTP/1.0",
            &["Content-Length: 3"],
            BodyFraming::Length(3),
        ),
        (
            "POST / HTTP/1.1",
            &["Transfer-Encoding: chunked"],
            BodyFraming::Chunked,
        ),
        (
            "POST / HTTP/1.1",
            &["transfer-encoding: CHUNKED"],
            BodyFraming::Chunked,
        ),
        (
            "POST / HTTP/1.1",
            &["Transfer-Encoding: \tchunked \t"],
            BodyFraming::Chunked,
        ),
        (
            "GET / HTTP/1.1",
            &["Transfer-Encoding: chunked"],
            BodyFraming::Chunked,
        ),
    ];
    for &(line, extra, framing) in rows {
        let h = head(&request(line, &[&["Host: a"], extra].concat()));
        assert_eq!(h.body_framing(), framing, "{line} {extra:?}");
    }
}

#[test]
fn reject_framing() {
    let rows: &[(&str, &[&str], HttpError, u16)] = &[
        // RFC 9112 §6.3: CL and TE together (CL.TE / TE.CL smuggling): 400.
        (
            "POST / HTTP/1.1",
            &["Content-Length: 5", "Transfer-Encoding: chunked"],
            CL_TE,
            400,
        ),
        (
            "POST / HTTP/1.1",
            &["Transfer-Encoding: chunked", "Content-Length: 5"],
            CL_TE,
            400,
        ),
        (
            "POST / HTTP/1.1",
            &["Transfer-Encoding: gzip", "Content-Length: 5"],
            CL_TE,
            400,
        ),
        // Duplicate Content-Length, even identical (RUSTSEC-2021-0078): 400.
        (
            "POST / HTTP/1.1",
            &["Content-Length: 5", "Content-Length: 5"],
            TWO_CL,
            400,
        ),
        (
            "POST / HTTP/1.1",
            &["Content-Length: 5", "content-length: 6"],
            TWO_CL,
            400,
        ),
        (
            "POST / HTTP/1.1",
            &["Content-Length: 5, 5"],
            NOT_DIGITS,
            400,
        ),
        ("POST / HTTP/1.1", &["Content-Length: +5"], NOT_DIGITS, 400),
        ("POST / HTTP/1.1", &["Content-Length: -1"], NOT_DIGITS, 400),
        (
            "POST / HTTP/1.1",
            &["Content-Length: 0x10"],
            NOT_DIGITS,
            400,
        ),
        ("POST / HTTP/1.1", &["Content-Length: 1 0"], NOT_DIGITS, 400),
        (
            "POST / HTTP/1.1",
            &["Content-Length:"],
            HttpError::BadRequest("empty Content-Length"),
            400,
        ),
        (
            "POST / HTTP/1.1",
            &["Content-Length: 18446744073709551616"],
            TOO_BIG,
            400,
        ),
        // RFC 9112 §6.1: TE on HTTP/1.0 is faulty framing
        // (RUSTSEC-2026-0034): 400.
        (
            "POST / HTTP/1.0",
            &["Transfer-Encoding: chunked"],
            TE_10,
            400,
        ),
        (
            "POST / HTTP/1.0",
            &["Transfer-Encoding: chunked", "Content-Length: 5"],
            TE_10,
            400,
        ),
        // Several TE lines (RUSTSEC-2021-0020): 400.
        (
            "POST / HTTP/1.1",
            &["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"],
            TWO_TE,
            400,
        ),
        (
            "POST / HTTP/1.1",
            &["Transfer-Encoding: gzip", "Transfer-Encoding: chunked"],
            TWO_TE,
            400,
        ),
        (
            "POST / HTTP/1.1",
            &["Transfer-Encoding:"],
            HttpError::BadRequest("empty Transfer-Encoding"),
            400,
        ),
        // Codings other than exactly `chunked`: 501 (RFC 9112 §6.1).
        (
            "POST / HTTP/1.1",
            &["Transfer-Encoding: gzip, chunked"],
            CODING,
            501,
        ),
        (
            "POST / HTTP/1.1",
            &["Transfer-Encoding: chunked, chunked"],
            CODING,
            501,
        ),
        ("POST / HTTP/1.1", &["Transfer-Encoding: gzip"], CODING, 501),
        (
            "POST / HTTP/1.1",
            &["Transfer-Encoding: identity"],
            CODING,
            501,
        ),
        (
            "POST / HTTP/1.1",
            &["Transfer-Encoding: chunked;q=1"],
            CODING,
            501,
        ),
        (
            "POST / HTTP/1.1",
            &["Transfer-Encoding: \"chunked\""],
            CODING,
            501,
        ),
        (
            "POST / HTTP/1.1",
            &["Transfer-Encoding: chunke"],
            CODING,
            501,
        ),
        (
            "POST / HTTP/1.1",
            &["Transfer-Encoding: xchunked"],
            CODING,
            501,
        ),
        // Obfuscations that httparse already refuses.
        (
            "POST / HTTP/1.1",
            &["Transfer-Encoding : chunked"],
            HttpError::InvalidHeader("invalid header name"),
            400,
        ),
        (
            "POST / HTTP/1.1",
            &["Transfer-Encoding: \x0bchunked"],
            HttpError::InvalidHeader("invalid header value"),
            400,
        ),
        (
            "POST / HTTP/1.1",
            &["Transfer-Encoding: chunked", " chunked"],
            HttpError::InvalidHeader("invalid header name"),
            400,
        ),
    ];
    for &(line, extra, expected, status) in rows {
        let e = head_err(&request(line, &[&["Host: a"], extra].concat()));
        assert_eq!((e, e.status()), (expected, status), "{line} {extra:?}");
    }
    // The framing rules run on every method.
    assert_eq!(
        head_err(&get_with(&["Content-Length: 1", "Content-Length: 1"])),
        TWO_CL
    );
}
