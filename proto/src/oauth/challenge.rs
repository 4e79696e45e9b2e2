//! `WWW-Authenticate` (RFC 9110 §11.6.1, the RFC 7235 grammar) and the
//! Bearer challenge's parameters (RFC 6750 §3, RFC 9728 §5.1).
//!
//! ```text
//! WWW-Authenticate = #challenge
//! challenge   = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//! auth-param  = token BWS "=" BWS ( token / quoted-string )
//! token68     = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//! ```
//!
//! Several challenges may share one field value and a client may get
//! several fields; the comma that separates parameters also separates
//! challenges, so after each comma we look ahead: `token BWS "="` is another
//! parameter, anything else starts the next challenge. Scheme and parameter
//! names compare case-insensitively (they are kept lowercase); a parameter
//! named twice in one challenge makes the field malformed (RFC 9110
//! §11.2: "MUST NOT appear more than once"; two `resource_metadata` would
//! leave the choice to us). Quoted strings are unescaped (`\x` is `x`).
//! Sizes are bounded by [`MAX_HEADER_BYTES`] and [`MAX_LIST_ENTRIES`].
//!
//! A driver that gets [`Err`] here treats the response as having no
//! usable challenge and falls back to well-known discovery, as it does
//! when the header is absent.

use super::{Error, MAX_HEADER_BYTES, MAX_LIST_ENTRIES};

/// One challenge: a scheme and either a token68 or parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// The auth-scheme, lowercase.
    pub scheme: String,
    /// The token68 form, if the challenge used it.
    pub token68: Option<String>,
    /// `(name, value)`: names lowercase and distinct, values unescaped.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// The value of parameter `name` (case-insensitive).
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Writes the challenge as a field value (parameters as quoted
    /// strings), the inverse of [`parse`] for one challenge.
    #[must_use]
    pub fn to_header(&self) -> String {
        let mut out = self.scheme.clone();
        if let Some(token68) = &self.token68 {
            out.push(' ');
            out.push_str(token68);
            return out;
        }
        for (i, (name, value)) in self.params.iter().enumerate() {
            out.push_str(if i == 0 { " " } else { ", " });
            out.push_str(name);
            out.push_str("=\"");
            for c in value.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        }
        out
    }
}

/// What a Bearer challenge tells an OAuth client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bearer {
    /// RFC 9728 §5.1: where the protected-resource metadata is.
    pub resource_metadata: Option<String>,
    /// RFC 6750 §3: the scopes the request needs (space-separated).
    pub scope: Option<String>,
    /// RFC 6750 §3.1: `invalid_token`, `insufficient_scope`, …
    pub error: Option<String>,
    /// Text for a developer; print it through [`super::printable`].
    pub error_description: Option<String>,
}

impl Bearer {
    /// Whether the error is `insufficient_scope` (the 403 step-up case).
    #[must_use]
    pub fn insufficient_scope(&self) -> bool {
        self.error.as_deref() == Some("insufficient_scope")
    }
}

/// Parses every challenge in `values` (the `WWW-Authenticate` field values
/// of one response, in order).
///
/// # Examples
///
/// ```
/// use supergateway_proto::oauth::challenge::parse;
///
/// let challenges = parse(&[r#"Basic realm="x", BEARER Scope="a b", error=invalid_token"#])?;
/// assert_eq!(challenges.len(), 2);
/// assert_eq!(challenges[1].scheme, "bearer");
/// assert_eq!(challenges[1].param("scope"), Some("a b"));
/// # Ok::<(), supergateway_proto::oauth::Error>(())
/// ```
pub fn parse(values: &[&str]) -> Result<Vec<Challenge>, Error> {
    let total = values
        .iter()
        .try_fold(0_usize, |sum, value| sum.checked_add(value.len()));
    if total.is_none_or(|total| total > MAX_HEADER_BYTES) {
        return Err(Error::TooLarge("WWW-Authenticate"));
    }
    let mut challenges = Vec::new();
    for value in values {
        parse_value(value, &mut challenges)?;
    }
    Ok(challenges)
}

/// The first Bearer challenge in `values`, `None` if there is none.
///
/// # Examples
///
/// ```
/// use supergateway_proto::oauth::challenge::bearer;
///
/// let field = r#"Bearer resource_metadata="https://mcp.example/.well-known/oauth-protected-resource", scope="files:read""#;
/// let bearer = bearer(&[field])?.unwrap();
/// assert_eq!(bearer.scope.as_deref(), Some("files:read"));
/// assert!(!bearer.insufficient_scope());
/// # Ok::<(), supergateway_proto::oauth::Error>(())
/// ```
pub fn bearer(values: &[&str]) -> Result<Option<Bearer>, Error> {
    let challenges = parse(values)?;
    Ok(challenges
        .iter()
        .find(|challenge| challenge.scheme == "bearer")
        .map(|challenge| {
            let get = |name: &str| challenge.param(name).map(str::to_owned);
            Bearer {
                resource_metadata: get("resource_metadata"),
                scope: get("scope"),
                error: get("error"),
                error_description: get("error_description"),
            }
        }))
}

const MALFORMED: Error = Error::Malformed("WWW-Authenticate");

/// Parses the challenges of one field value into `out`.
fn parse_value(value: &str, out: &mut Vec<Challenge>) -> Result<(), Error> {
    let mut c = Cursor(value);
    loop {
        c.skip_separators();
        if c.0.is_empty() {
            return Ok(());
        }
        if out.len() >= MAX_LIST_ENTRIES {
            return Err(Error::TooLarge("WWW-Authenticate (too many challenges)"));
        }
        let scheme = c.token().ok_or(MALFORMED)?.to_ascii_lowercase();
        let mut challenge = Challenge {
            scheme,
            token68: None,
            params: Vec::new(),
        };
        let spaced = c.skip_ows();
        if !spaced || c.at_element_end() {
            // A bare scheme: the next thing must end this list element.
            if !c.at_element_end() {
                return Err(MALFORMED);
            }
            out.push(challenge);
            continue;
        }
        let mut probe = c;
        if let Some(token68) = probe.token68() {
            probe.skip_ows();
            if probe.at_element_end() {
                challenge.token68 = Some(token68.to_owned());
                out.push(challenge);
                c = probe;
                continue;
            }
        }
        parse_params(&mut c, &mut challenge.params)?;
        out.push(challenge);
    }
}

/// Parses `#auth-param` into `params`, stopping before the next challenge.
fn parse_params(c: &mut Cursor<'_>, params: &mut Vec<(String, String)>) -> Result<(), Error> {
    loop {
        let name = c.token().ok_or(MALFORMED)?.to_ascii_lowercase();
        c.skip_ows();
        if !c.eat(b'=') {
            return Err(MALFORMED);
        }
        c.skip_ows();
        let value = if c.peek() == Some(b'"') {
            c.quoted_string()?
        } else {
            c.token().ok_or(MALFORMED)?.to_owned()
        };
        if params.iter().any(|(seen, _)| *seen == name) {
            return Err(Error::Malformed("WWW-Authenticate (parameter named twice)"));
        }
        if params.len() >= MAX_LIST_ENTRIES {
            return Err(Error::TooLarge("WWW-Authenticate (too many parameters)"));
        }
        params.push((name, value));
        c.skip_ows();
        if c.0.is_empty() {
            return Ok(());
        }
        if !c.eat(b',') {
            return Err(MALFORMED);
        }
        // Another parameter of this challenge, or the next challenge?
        let mut next = *c;
        next.skip_separators();
        let mut probe = next;
        let is_param = probe.token().is_some() && {
            probe.skip_ows();
            probe.peek() == Some(b'=')
        };
        if !is_param {
            return Ok(());
        }
        *c = next;
    }
}

/// A cursor over the rest of a field value.
#[derive(Clone, Copy)]
struct Cursor<'a>(&'a str);

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.0.as_bytes().first().copied()
    }

    /// Consumes `byte` if it is next.
    fn eat(&mut self, byte: u8) -> bool {
        match self.0.strip_prefix(char::from(byte)) {
            Some(rest) if byte.is_ascii() => {
                self.0 = rest;
                true
            }
            _ => false,
        }
    }

    /// Consumes the longest prefix of bytes matching `accept` (ASCII only).
    fn take_while(&mut self, accept: impl Fn(u8) -> bool) -> &'a str {
        let len = self
            .0
            .bytes()
            .take_while(|&b| b.is_ascii() && accept(b))
            .count();
        let (taken, rest) = self.0.split_at_checked(len).unwrap_or(("", self.0));
        self.0 = rest;
        taken
    }

    /// Skips spaces and tabs; whether there were any.
    fn skip_ows(&mut self) -> bool {
        !self.take_while(|b| b == b' ' || b == b'\t').is_empty()
    }

    /// Skips whitespace and commas (empty list elements, RFC 9110 §5.6.1).
    fn skip_separators(&mut self) {
        self.take_while(|b| b == b' ' || b == b'\t' || b == b',');
    }

    /// At the end of the value or at a `,`.
    fn at_element_end(&self) -> bool {
        matches!(self.peek(), None | Some(b','))
    }

    /// RFC 9110 §5.6.2 `token`, `None` if empty.
    fn token(&mut self) -> Option<&'a str> {
        let token =
            self.take_while(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        (!token.is_empty()).then_some(token)
    }

    /// RFC 9110 §11.2 `token68`, `None` if empty.
    fn token68(&mut self) -> Option<&'a str> {
        let start = self.0;
        let body = self.take_while(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
        if body.is_empty() {
            return None;
        }
        let padding = self.take_while(|b| b == b'=');
        let len = body.len().checked_add(padding.len())?;
        start.get(..len)
    }

    /// RFC 9110 §5.6.4 `quoted-string`, unescaped.
    fn quoted_string(&mut self) -> Result<String, Error> {
        let mut chars = self.0.char_indices();
        if chars.next().map(|(_, c)| c) != Some('"') {
            return Err(MALFORMED);
        }
        let mut value = String::new();
        while let Some((at, c)) = chars.next() {
            match c {
                '"' => {
                    let end = at.checked_add(1).ok_or(MALFORMED)?;
                    self.0 = self.0.get(end..).ok_or(MALFORMED)?;
                    return Ok(value);
                }
                '\\' => match chars.next() {
                    Some((_, escaped)) if qd_char(escaped) || escaped == '"' || escaped == '\\' => {
                        value.push(escaped);
                    }
                    _ => return Err(MALFORMED),
                },
                _ if qd_char(c) => value.push(c),
                _ => return Err(MALFORMED),
            }
        }
        Err(MALFORMED)
    }
}

/// `qdtext` without the quote and backslash: HTAB, SP, VCHAR, obs-text.
fn qd_char(c: char) -> bool {
    c == '\t' || c == ' ' || (c.is_ascii_graphic() && c != '"' && c != '\\') || !c.is_ascii()
}

#[cfg(test)]
mod tests {
    use super::{bearer, parse, Bearer, Challenge};
    use crate::oauth::Error;

    fn ch(scheme: &str, params: &[(&str, &str)]) -> Challenge {
        Challenge {
            scheme: scheme.to_owned(),
            token68: None,
            params: params
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn accepts() {
        let t68 = |scheme: &str, token: &str| Challenge {
            token68: Some(token.to_owned()),
            ..ch(scheme, &[])
        };
        let cases: Vec<(&str, Vec<Challenge>)> = vec![
            ("Bearer", vec![ch("bearer", &[])]),
            ("Bearer   ", vec![ch("bearer", &[])]),
            ("Bearer realm=x", vec![ch("bearer", &[("realm", "x")])]),
            (
                r#"Bearer realm="a \"q\" \\ b", Scope = "s1 s2""#,
                vec![ch(
                    "bearer",
                    &[("realm", r#"a "q" \ b"#), ("scope", "s1 s2")],
                )],
            ),
            (
                r#"Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple""#,
                vec![
                    ch(
                        "newauth",
                        &[
                            ("realm", "apps"),
                            ("type", "1"),
                            ("title", r#"Login to "apps""#),
                        ],
                    ),
                    ch("basic", &[("realm", "simple")]),
                ],
            ),
            ("Basic, Bearer", vec![ch("basic", &[]), ch("bearer", &[])]),
            (", ,Bearer,,", vec![ch("bearer", &[])]),
            ("Negotiate abc+/==", vec![t68("negotiate", "abc+/==")]),
            ("Bearer a=", vec![t68("bearer", "a=")]),
            ("Bearer a= b", vec![ch("bearer", &[("a", "b")])]),
            (
                "Negotiate abc, Bearer a=b",
                vec![t68("negotiate", "abc"), ch("bearer", &[("a", "b")])],
            ),
            (
                "Bearer a=b, Negotiate abc=",
                vec![ch("bearer", &[("a", "b")]), t68("negotiate", "abc=")],
            ),
            ("Bearer a=\"\"", vec![ch("bearer", &[("a", "")])]),
            ("Bearer a=\"é\"", vec![ch("bearer", &[("a", "é")])]),
            ("Bearer\ta=1", vec![ch("bearer", &[("a", "1")])]),
            ("", vec![]),
        ];
        for (input, expected) in cases {
            assert_eq!(parse(&[input]), Ok(expected), "{input:?}");
        }
    }

    #[test]
    fn rejects() {
        let twice = Error::Malformed("WWW-Authenticate (parameter named twice)");
        let bad = Error::Malformed("WWW-Authenticate");
        for (input, error) in [
            ("=x", bad),
            ("Bearer a=b=", bad),
            ("Bearer a=1 b=2", bad),
            ("Bearer a=\"open", bad),
            ("Bearer a=\"bad\\", bad),
            ("Bearer a=\"ctl\x01\"", bad),
            ("Bearer a=1, A=2", twice),
            ("Bearer\"x\"", bad),
            ("Bearer a=1,, =2", bad),
            ("Bearer a=b c", bad),
            ("Bearer a=@", bad),
        ] {
            assert_eq!(parse(&[input]), Err(error), "{input:?}");
        }
        let long = format!("Bearer a=\"{}\"", "x".repeat(8192));
        assert_eq!(parse(&[&long]), Err(Error::TooLarge("WWW-Authenticate")));
        let many = "B, ".repeat(65);
        assert_eq!(
            parse(&[&many]),
            Err(Error::TooLarge("WWW-Authenticate (too many challenges)"))
        );
    }

    #[test]
    fn bearer_fields() {
        let fields = [
            "Basic realm=\"r\"",
            r#"bearer error="insufficient_scope", scope="files:write", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource", error_description="File write permission required""#,
        ];
        let found = bearer(&fields).unwrap().unwrap();
        assert_eq!(
            found,
            Bearer {
                resource_metadata: Some(
                    "https://mcp.example.com/.well-known/oauth-protected-resource".to_owned()
                ),
                scope: Some("files:write".to_owned()),
                error: Some("insufficient_scope".to_owned()),
                error_description: Some("File write permission required".to_owned()),
            }
        );
        assert!(found.insufficient_scope());
        assert_eq!(bearer(&["Basic realm=x"]), Ok(None));
        assert_eq!(bearer(&[]), Ok(None));
    }

    #[test]
    fn to_header_round_trips() {
        let original = ch("bearer", &[("scope", "a \"b\" \\c"), ("x", "")]);
        let text = original.to_header();
        assert_eq!(text, r#"bearer scope="a \"b\" \\c", x="""#);
        assert_eq!(parse(&[&text]), Ok(vec![original]));
    }
}
