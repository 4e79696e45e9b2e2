//! URL harness (`url_parse`).

// Fuzz harnesses assert properties by panicking, so the panic, indexing and
// arithmetic lints are allowed on them (STYLE.md 19); input-derived sizes are
// small (one byte) and indexes are bounded by the input or by spans the
// property checks first.

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
