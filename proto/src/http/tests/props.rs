//! Property tests: encode → decode round trips (STYLE.md item 16).

use proptest::prelude::*;

use crate::http::{encode_chunk, encode_last_chunk, BodyDecoder, BodyFraming, HeadDecoder, Limits};

/// Splits `data` at the given (unsorted, possibly repeated) offsets.
fn pieces<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c % (data.len() + 1)).collect();
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([data.len()]) {
        out.push(&data[start..cut]);
        start = cut;
    }
    out
}

proptest! {
    #[test]
    fn chunked_round_trip(
        data in proptest::collection::vec(any::<u8>(), 0..2048),
        chunk_cuts in proptest::collection::vec(any::<usize>(), 0..16),
        read_cuts in proptest::collection::vec(any::<usize>(), 0..16),
        trailing in proptest::collection::vec(any::<u8>(), 0..16),
    ) {
        let mut wire = Vec::new();
        for chunk in pieces(&data, &chunk_cuts) {
            encode_chunk(&mut wire, chunk);
        }
        encode_last_chunk(&mut wire);
        let body_len = wire.len();
        wire.extend_from_slice(&trailing);

        let mut decoder = BodyDecoder::new(BodyFraming::Chunked, data.len() as u64, &Limits::DEFAULT).unwrap();
        let mut out = Vec::new();
        let mut consumed = 0;
        for read in pieces(&wire, &read_cuts) {
            // The driver re-offers whatever was not consumed.
            let available = &wire[consumed..consumed + read.len().min(wire.len() - consumed)];
            let progress = decoder.decode(available, &mut out).unwrap();
            prop_assert!(progress.consumed <= available.len());
            consumed += progress.consumed;
            if progress.done {
                break;
            }
        }
        if !decoder.is_done() {
            let progress = decoder.decode(&wire[consumed..], &mut out).unwrap();
            consumed += progress.consumed;
        }
        prop_assert!(decoder.is_done());
        prop_assert_eq!(consumed, body_len);
        prop_assert_eq!(out, data);
    }

    #[test]
    fn chunked_byte_at_a_time(data in proptest::collection::vec(any::<u8>(), 0..256), size in 1_usize..40) {
        let mut wire = Vec::new();
        for chunk in data.chunks(size) {
            encode_chunk(&mut wire, chunk);
        }
        encode_last_chunk(&mut wire);
        let mut decoder = BodyDecoder::new(BodyFraming::Chunked, 256, &Limits::DEFAULT).unwrap();
        let mut out = Vec::new();
        for byte in wire.chunks(1) {
            prop_assert!(!decoder.is_done());
            prop_assert_eq!(decoder.decode(byte, &mut out).unwrap().consumed, 1);
        }
        prop_assert!(decoder.is_done());
        prop_assert_eq!(out, data);
    }

    #[test]
    fn head_round_trip(
        fields in proptest::collection::vec(("X-[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}", "([!-~]([ \t!-~]{0,20}[!-~])?)?"), 0..20),
        path in "/[A-Za-z0-9/._~!$&'()*+,;=:@%-]{0,40}",
        cut in any::<usize>(),
    ) {
        let mut wire = format!("POST {path} HTTP/1.1\r\nHost: example.com\r\n");
        for (name, value) in &fields {
            wire.push_str(&format!("{name}: {value}\r\n"));
        }
        wire.push_str("\r\n");
        let wire = wire.into_bytes();
        let mut decoder = HeadDecoder::new(Limits::DEFAULT);
        let cut = cut % (wire.len() + 1);
        let first = decoder.decode(&wire[..cut]).unwrap();
        let (head, n) = match first {
            Some(done) => done,
            None => decoder.decode(&wire).unwrap().unwrap(),
        };
        prop_assert_eq!(n, wire.len());
        prop_assert_eq!(head.target(), path.as_str());
        let got: Vec<(String, Vec<u8>)> = head.headers().skip(1).map(|(n, v)| (n.to_owned(), v.to_vec())).collect();
        let want: Vec<(String, Vec<u8>)> = fields.iter().map(|(n, v)| (n.clone(), v.clone().into_bytes())).collect();
        prop_assert_eq!(got, want);
    }
}

// The fuzz harnesses' properties, on proptest's inputs and on inputs built
// to reach deep into the grammar (so `cargo test` exercises them too).
proptest! {
    #[test]
    fn fuzz_parse_head(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        crate::fuzzing::parse_head(&data);
    }

    #[test]
    fn fuzz_parse_head_structured(
        line in "(GET|POST|OPTIONS|get) (/[ -~]{0,20}|\\*|http://a/[a-z]{0,5}) HTTP/1\\.[01]",
        fields in proptest::collection::vec("[A-Za-z-]{1,8}:[ \t]?[ -~\\x80-\\xff]{0,12}", 0..6),
        eol in prop_oneof![Just("\r\n"), Just("\n")],
    ) {
        let mut wire = format!("{line}{eol}Host: a{eol}");
        for field in &fields {
            wire.push_str(field);
            wire.push_str(eol);
        }
        wire.push_str(eol);
        wire.push_str("body");
        crate::fuzzing::parse_head(wire.as_bytes());
    }

    #[test]
    fn fuzz_chunked_decode(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        crate::fuzzing::chunked_decode(&data);
    }

    #[test]
    fn fuzz_chunked_decode_structured(
        limit in any::<u8>(),
        chunks in proptest::collection::vec(("[0-9a-fA-F]{1,3}", "(;[ -~]{0,6})?", "[a-z]{0,20}", prop_oneof![Just("\r\n"), Just("\n"), Just("\r")]), 0..6),
        trailers in "([A-Za-z]{1,4}: ?[ -~]{0,6}\r\n){0,2}",
    ) {
        let mut wire = vec![limit];
        for (size, ext, data, eol) in &chunks {
            wire.extend_from_slice(format!("{size}{ext}{eol}{data}{eol}").as_bytes());
        }
        wire.extend_from_slice(format!("0\r\n{trailers}\r\nnext").as_bytes());
        crate::fuzzing::chunked_decode(&wire);
    }

    #[test]
    fn fuzz_content_length(data in proptest::collection::vec(any::<u8>(), 0..24), digits in "[0-9]{0,25}") {
        crate::fuzzing::content_length(&data);
        crate::fuzzing::content_length(digits.as_bytes());
    }
}

// The client-side harnesses.
proptest! {
    #[test]
    fn fuzz_parse_response_head(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        crate::fuzzing::parse_response_head(&data);
    }

    #[test]
    fn fuzz_parse_response_head_structured(
        method in prop_oneof![Just("G"), Just("H")],
        line in "HTTP/1\\.[01] [0-9]{3}( [ -~]{0,8})?",
        fields in proptest::collection::vec(prop_oneof![
            "[A-Za-z-]{1,8}:[ \t]?[ -~\\x80-\\xff]{0,12}",
            Just("Content-Length: 5".to_owned()),
            Just("Content-Length: 3".to_owned()),
            Just("Transfer-Encoding: chunked".to_owned()),
            Just("Transfer-Encoding: gzip".to_owned()),
            Just("Connection: close".to_owned()),
        ], 0..5),
        eol in prop_oneof![Just("\r\n"), Just("\n")],
        body in "([0-9a-f]{1,2}\r\n[a-z]{0,20}\r\n){0,3}(0\r\n\r\n)?[ -~]{0,10}",
    ) {
        let mut wire = format!("{method}{line}{eol}");
        for field in &fields {
            wire.push_str(field);
            wire.push_str(eol);
        }
        wire.push_str(eol);
        wire.push_str(&body);
        crate::fuzzing::parse_response_head(wire.as_bytes());
    }

    #[test]
    fn fuzz_url_parse(data in proptest::collection::vec(any::<u8>(), 0..128)) {
        crate::fuzzing::url_parse(&data);
    }

    #[test]
    fn fuzz_url_parse_structured(
        scheme in prop_oneof![4 => Just("http"), 2 => Just("HTTPS"), 1 => Just("ws"), 1 => Just("wss"), 1 => Just("ftp")],
        host in prop_oneof![
            6 => "[a-zA-Z0-9]([a-zA-Z0-9._~-]{0,10}[a-z])?",
            2 => "(25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})(\\.(25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})){3}",
            1 => "[0-9]{1,3}(\\.[0-9]{1,3}){0,4}",
            1 => Just("[::1]".to_owned()),
            1 => Just("[::ffff:1.2.3.4]".to_owned()),
            1 => Just("[fe80::1%25x]".to_owned()),
            1 => Just("u:p@h".to_owned()),
            1 => Just(String::new()),
        ],
        port in prop_oneof![4 => Just(String::new()), 4 => ":[1-9][0-9]{0,3}", 1 => ":[0-9]{0,6}"],
        path in "(/([a-z.]{0,3}|%[0-9a-fA-F]{2}|[:@!$&'()*+,;=]))*(\\?[a-z=&/?.]{0,8})?(#[a-z/?]{0,4})?",
        reference in "(//h)?(\\.{0,2}/|[a-z.]{0,3}/?|%[0-9a-fA-F]{2}){0,5}(\\?[a-z=&]{0,5})?(#[a-z]{0,3})?",
        odd_reference in "[ -~]{0,12}",
    ) {
        let base = format!("{scheme}://{host}{port}{path}");
        crate::fuzzing::url_parse(base.as_bytes());
        crate::fuzzing::url_parse(format!("{base}\n{reference}").as_bytes());
        crate::fuzzing::url_parse(format!("{base}\n{odd_reference}").as_bytes());
    }
}

#[test]
fn fuzz_harnesses_accept_the_tables() {
    for case in [
        &b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..],
        b"\nGET http://a/x?y HTTP/1.0\nContent-Length: 3\n\nabc",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
    ] {
        crate::fuzzing::parse_head(case);
    }
    for case in [
        &b"\xff5\r\nhello\r\n0\r\nX: y\r\n\r\nrest"[..],
        b"\x01f0000000000000003\r\nabc\r\n0\r\n\r\n",
        b"\x00",
        b"",
    ] {
        crate::fuzzing::chunked_decode(case);
    }
    for case in [
        &b"GHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"[..],
        b"HHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
        b"\xffHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"\x01HTTP/1.0 200 OK\r\n\r\nuntil close",
        b"GHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        b"G",
        b"",
    ] {
        crate::fuzzing::parse_response_head(case);
    }
    for case in [
        "http://h:1/sse\n/message?sessionId=abc",
        "http://h/a/sse\nmessage?x=1",
        "https://[::1]:8443/mcp\nhttps://other/x",
        "http://a/b/c/d;p?q\n../../../g",
        "http://h/\n//h:0/",
        "http://user:pass@h/",
        "",
    ] {
        crate::fuzzing::url_parse(case.as_bytes());
    }
}
