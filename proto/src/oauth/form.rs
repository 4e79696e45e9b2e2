//! `application/x-www-form-urlencoded` (the WHATWG URL standard's
//! serializer, as RFC 6749 Appendix B asks for OAuth parameters): token and
//! registration request bodies, authorization URL queries, the loopback
//! callback's query and the client id/secret inside a Basic credential
//! (RFC 6749 §2.3.1).
//!
//! Encoding keeps `A–Z a–z 0–9 - . _ ~` (RFC 3986 unreserved: the same
//! bytes in a query and a body), writes a space as `+` and every other byte
//! of the UTF-8 text as `%XX` (uppercase). Decoding takes `+` as a space and
//! `%XX` in either case, refuses a `%` not followed by two hex digits and
//! a result that is not UTF-8.

use crate::url::Url;

use super::{Error, MAX_HEADER_BYTES, MAX_LIST_ENTRIES};

/// Builds a form body or query: `name=value` pairs joined by `&`.
///
/// # Examples
///
/// ```
/// use supergateway_proto::oauth::form::Form;
///
/// let mut form = Form::new();
/// form.pair("grant_type", "authorization_code")
///     .pair("redirect_uri", "http://127.0.0.1:8/callback")
///     .pair("scope", "a b");
/// assert_eq!(
///     form.finish(),
///     "grant_type=authorization_code&redirect_uri=http%3A%2F%2F127.0.0.1%3A8%2Fcallback&scope=a+b"
/// );
/// ```
#[derive(Clone, Debug, Default)]
pub struct Form {
    /// The pairs written so far, already encoded.
    out: String,
}

impl Form {
    /// An empty form.
    #[must_use]
    pub const fn new() -> Self {
        Self { out: String::new() }
    }

    /// Appends `name=value`, both encoded.
    pub fn pair(&mut self, name: &str, value: &str) -> &mut Self {
        if !self.out.is_empty() {
            self.out.push('&');
        }
        encode(name, &mut self.out);
        self.out.push('=');
        encode(value, &mut self.out);
        self
    }

    /// The encoded pairs.
    #[must_use]
    pub fn finish(&self) -> String {
        self.out.clone()
    }
}

/// Appends the encoding of `text` to `out`.
pub fn encode(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => {
                let hi = HEX.get(usize::from(byte >> 4)).copied().unwrap_or(b'0');
                let lo = HEX.get(usize::from(byte & 0x0f)).copied().unwrap_or(b'0');
                out.push('%');
                out.push(char::from(hi));
                out.push(char::from(lo));
            }
        }
    }
}

/// Decodes one encoded name or value.
///
/// # Examples
///
/// ```
/// use supergateway_proto::oauth::form::decode;
///
/// assert_eq!(decode("a+b%2Fc%c3%a9").as_deref(), Ok("a b/cé"));
/// assert!(decode("100%").is_err());
/// ```
pub fn decode(text: &str) -> Result<String, Error> {
    const BAD: Error = Error::Malformed("percent-encoding");
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes().iter();
    while let Some(&byte) = rest.next() {
        match byte {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hi = rest.next().and_then(|&b| hex(b)).ok_or(BAD)?;
                let lo = rest.next().and_then(|&b| hex(b)).ok_or(BAD)?;
                bytes.push(hi.wrapping_shl(4) | lo);
            }
            _ => bytes.push(byte),
        }
    }
    String::from_utf8(bytes).map_err(|_| Error::Malformed("form value (not UTF-8)"))
}

/// Parses a form body or query into decoded `(name, value)` pairs, in
/// order. Empty pieces (`a=1&&b=2`) are skipped and a piece without `=` is
/// a name with an empty value, as the WHATWG parser does. At most
/// [`MAX_LIST_ENTRIES`] pairs and [`MAX_HEADER_BYTES`] bytes.
///
/// # Examples
///
/// ```
/// use supergateway_proto::oauth::form::parse;
///
/// let pairs = parse("code=x%2By&state=s+1&flag")?;
/// assert_eq!(pairs, [
///     ("code".to_owned(), "x+y".to_owned()),
///     ("state".to_owned(), "s 1".to_owned()),
///     ("flag".to_owned(), String::new()),
/// ]);
/// # Ok::<(), supergateway_proto::oauth::Error>(())
/// ```
pub fn parse(text: &str) -> Result<Vec<(String, String)>, Error> {
    if text.len() > MAX_HEADER_BYTES {
        return Err(Error::TooLarge("form"));
    }
    let mut pairs = Vec::new();
    for piece in text.split('&').filter(|piece| !piece.is_empty()) {
        if pairs.len() >= MAX_LIST_ENTRIES {
            return Err(Error::TooLarge("form (too many parameters)"));
        }
        let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
        pairs.push((decode(name)?, decode(value)?));
    }
    Ok(pairs)
}

/// `url` with `form` appended to its query (`?` when it has none, `&`
/// otherwise), for the authorization URL: RFC 6749 §3.1 lets the
/// authorization endpoint carry a query of its own, which must be kept.
///
/// # Examples
///
/// ```
/// use supergateway_proto::oauth::form::{append_query, Form};
/// use supergateway_proto::url::Url;
///
/// let mut form = Form::new();
/// form.pair("a", "1");
/// let plain = Url::parse("https://as.example/authorize").unwrap();
/// let tenant = Url::parse("https://as.example/authorize?tenant=x").unwrap();
/// assert_eq!(append_query(&plain, &form), "https://as.example/authorize?a=1");
/// assert_eq!(append_query(&tenant, &form), "https://as.example/authorize?tenant=x&a=1");
/// ```
#[must_use]
pub fn append_query(url: &Url, form: &Form) -> String {
    let mut out = url.to_string();
    let added = form.finish();
    if added.is_empty() {
        return out;
    }
    match url.query() {
        None => out.push('?'),
        Some("") => {}
        Some(query) if query.ends_with('&') => {}
        Some(_) => out.push('&'),
    }
    out.push_str(&added);
    out
}

/// The value of hex digit `byte`, `None` if it is not one.
fn hex(byte: u8) -> Option<u8> {
    char::from(byte)
        .to_digit(16)
        .and_then(|digit| u8::try_from(digit).ok())
}

#[cfg(test)]
mod tests {
    use super::{append_query, decode, encode, parse, Form};
    use crate::oauth::Error;
    use crate::url::Url;

    #[test]
    fn encode_table() {
        for (input, encoded) in [
            ("", ""),
            ("azAZ09-._~", "azAZ09-._~"),
            ("a b", "a+b"),
            ("a+b", "a%2Bb"),
            ("=&?#/:%", "%3D%26%3F%23%2F%3A%25"),
            ("é", "%C3%A9"),
            ("\n\0", "%0A%00"),
        ] {
            let mut out = String::new();
            encode(input, &mut out);
            assert_eq!(out, encoded, "{input:?}");
            assert_eq!(decode(&out).as_deref(), Ok(input), "{input:?}");
        }
    }

    #[test]
    fn decode_accepts() {
        for (input, decoded) in [
            ("%2b", "+"),
            ("%2B", "+"),
            ("a+b", "a b"),
            ("%20", " "),
            ("plain", "plain"),
            ("~!*'()", "~!*'()"),
        ] {
            assert_eq!(decode(input).as_deref(), Ok(decoded), "{input:?}");
        }
    }

    #[test]
    fn decode_rejects() {
        let bad = Error::Malformed("percent-encoding");
        let utf8 = Error::Malformed("form value (not UTF-8)");
        for (input, error) in [
            ("%", bad),
            ("%2", bad),
            ("%g0", bad),
            ("%0g", bad),
            ("a%", bad),
            ("%+1", bad),
            ("%ff", utf8),
            ("%C3", utf8),
        ] {
            assert_eq!(decode(input), Err(error), "{input:?}");
        }
    }

    #[test]
    fn parse_table() {
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect()
        };
        for (input, expected) in [
            ("", pairs(&[])),
            ("&&", pairs(&[])),
            ("a=1", pairs(&[("a", "1")])),
            ("a=1&a=2", pairs(&[("a", "1"), ("a", "2")])),
            ("a", pairs(&[("a", "")])),
            ("a=", pairs(&[("a", "")])),
            ("=v", pairs(&[("", "v")])),
            ("a=b=c", pairs(&[("a", "b=c")])),
            ("k%3D=v%26", pairs(&[("k=", "v&")])),
        ] {
            assert_eq!(parse(input), Ok(expected), "{input:?}");
        }
        assert_eq!(parse("a=%zz"), Err(Error::Malformed("percent-encoding")));
        assert_eq!(
            parse(&"a&".repeat(65)),
            Err(Error::TooLarge("form (too many parameters)"))
        );
        assert_eq!(parse(&"a".repeat(8193)), Err(Error::TooLarge("form")));
    }

    #[test]
    fn builder_and_query() {
        let mut form = Form::new();
        assert_eq!(form.finish(), "");
        form.pair("x y", "1&2");
        assert_eq!(form.finish(), "x+y=1%262");
        for (url, expected) in [
            ("https://as.example/a", "https://as.example/a?x+y=1%262"),
            ("https://as.example/a?", "https://as.example/a?x+y=1%262"),
            (
                "https://as.example/a?t=1",
                "https://as.example/a?t=1&x+y=1%262",
            ),
            (
                "https://as.example/a?t=1&",
                "https://as.example/a?t=1&x+y=1%262",
            ),
            (
                "https://as.example/a#frag",
                "https://as.example/a?x+y=1%262",
            ),
        ] {
            let url = Url::parse(url).unwrap();
            assert_eq!(append_query(&url, &form), expected);
        }
        let url = Url::parse("https://as.example/a?t=1").unwrap();
        assert_eq!(append_query(&url, &Form::new()), "https://as.example/a?t=1");
    }
}
