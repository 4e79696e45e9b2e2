//! Bearer tokens (RFC 6750): the `Authorization` request header's value,
//! and the token files the gateway's static bearer tokens come from.
//!
//! Both produce borrowed token bytes; comparing them (in constant time) is
//! the caller's business.

use core::fmt;

/// Why an `Authorization` value is not a usable bearer credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BearerError {
    /// Another scheme (`Basic …`), or no scheme at all: no bearer token was
    /// presented (RFC 6750 §3: the 401 then carries no error code).
    NotBearer,
    /// `Bearer` with a missing or malformed token (characters outside
    /// `b64token`, trailing data): a token was presented and is invalid.
    Malformed,
}

impl fmt::Display for BearerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotBearer => "no bearer token",
            Self::Malformed => "malformed bearer token",
        })
    }
}

/// The token of an `Authorization: Bearer <token>` value (RFC 6750 §2.1):
/// the scheme in any case, one or more spaces, then a `b64token`
/// (`ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/"`, then `=` padding
/// only). Optional whitespace around the whole value was already trimmed
/// by the head parser; trailing spaces are tolerated too.
pub fn parse_bearer(value: &[u8]) -> Result<&[u8], BearerError> {
    let value = value.trim_ascii();
    let Some((scheme, rest)) = split_scheme(value) else {
        return Err(BearerError::NotBearer);
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Err(BearerError::NotBearer);
    }
    let spaces = rest.iter().take_while(|&&b| b == b' ').count();
    let token = rest.get(spaces..).unwrap_or_default();
    if is_b64token(token) {
        Ok(token)
    } else {
        Err(BearerError::Malformed)
    }
}

/// `scheme` and what follows its first space; `Bearer` alone has an empty
/// rest (a token was meant but is missing).
fn split_scheme(value: &[u8]) -> Option<(&[u8], &[u8])> {
    match value.iter().position(|&b| b == b' ') {
        Some(space) => {
            let (scheme, rest) = value.split_at_checked(space)?;
            Some((scheme, rest))
        }
        None if value.eq_ignore_ascii_case(b"bearer") => Some((value, b"")),
        None => None,
    }
}

/// RFC 6750 §2.1 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" /
/// "+" / "/" ) *"="`.
pub fn is_b64token(token: &[u8]) -> bool {
    let body_len = token
        .iter()
        .position(|&b| !is_b64token_char(b))
        .unwrap_or(token.len());
    let (body, padding) = token.split_at_checked(body_len).unwrap_or((token, b""));
    !body.is_empty() && padding.iter().all(|&b| b == b'=')
}

fn is_b64token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

/// Bounds on a token file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenFileLimits {
    /// Default 1 MiB. Unit: bytes of the whole file. Bounds the memory and
    /// the time of each re-read.
    pub file_bytes: usize,
    /// Default 10,000. Bounds the set each request is compared against.
    pub tokens: usize,
    /// Default 4 KiB. Unit: bytes per token. Bounds what one line may hold
    /// (real tokens are far shorter; a longer line is a mistake).
    pub token_bytes: usize,
}

impl TokenFileLimits {
    /// The defaults above.
    pub const DEFAULT: Self = Self {
        file_bytes: 1024 * 1024,
        tokens: 10_000,
        token_bytes: 4096,
    };
}

/// Why a token file was not accepted (nothing of it is used then).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenFileError {
    /// Larger than `file_bytes`.
    TooLarge,
    /// No token in it (only comments and blank lines, or nothing).
    Empty,
    /// More than `tokens` tokens.
    TooManyTokens,
    /// Line `line` (1-based) holds a token longer than `token_bytes`.
    TokenTooLong {
        /// 1-based.
        line: usize,
    },
    /// Line `line` (1-based) is not a `b64token` (spaces inside, control
    /// characters, non-ASCII): it could never match a request's header.
    InvalidToken {
        /// 1-based.
        line: usize,
    },
}

impl fmt::Display for TokenFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge => f.write_str("the file is too large"),
            Self::Empty => f.write_str("the file holds no token"),
            Self::TooManyTokens => f.write_str("the file holds too many tokens"),
            Self::TokenTooLong { line } => write!(f, "the token on line {line} is too long"),
            Self::InvalidToken { line } => write!(
                f,
                "line {line} is not a bearer token (letters, digits, -._~+/ then = padding)"
            ),
        }
    }
}

/// The tokens of a token file: one per line, surrounding whitespace
/// trimmed, blank lines and lines starting with `#` ignored. All or
/// nothing: one bad line refuses the file (a half-read set would lock
/// callers out, or keep a removed token, without saying so).
pub fn parse_token_file(
    text: &[u8],
    limits: TokenFileLimits,
) -> Result<Vec<&[u8]>, TokenFileError> {
    if text.len() > limits.file_bytes {
        return Err(TokenFileError::TooLarge);
    }
    let mut tokens = Vec::new();
    for (index, line) in text.split(|&b| b == b'\n').enumerate() {
        let line_number = index.saturating_add(1);
        let token = line.trim_ascii();
        if token.is_empty() || token.starts_with(b"#") {
            continue;
        }
        if token.len() > limits.token_bytes {
            return Err(TokenFileError::TokenTooLong { line: line_number });
        }
        if !is_b64token(token) {
            return Err(TokenFileError::InvalidToken { line: line_number });
        }
        if tokens.len() >= limits.tokens {
            return Err(TokenFileError::TooManyTokens);
        }
        tokens.push(token);
    }
    if tokens.is_empty() {
        return Err(TokenFileError::Empty);
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_authorization_values() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"Bearer abc", b"abc"),
            (b"bearer abc", b"abc"),
            (b"BEARER abc", b"abc"),
            (b"BeArEr abc", b"abc"),
            (b"Bearer   abc", b"abc"),
            (b"Bearer abc  ", b"abc"),
            (b"Bearer a-b.c_d~e+f/g", b"a-b.c_d~e+f/g"),
            (b"Bearer YWJj==", b"YWJj=="),
            (
                b"Bearer eyJhbGciOi.eyJzdWIi.sig",
                b"eyJhbGciOi.eyJzdWIi.sig",
            ),
        ];
        for &(value, token) in cases {
            assert_eq!(parse_bearer(value), Ok(token), "{value:?}");
        }
    }

    #[test]
    fn rejected_authorization_values() {
        let cases: &[(&[u8], BearerError)] = &[
            (b"", BearerError::NotBearer),
            (b"abc", BearerError::NotBearer),
            (b"Basic YWxhZGRpbjpvcGVuc2VzYW1l", BearerError::NotBearer),
            (b"Bearerabc", BearerError::NotBearer),
            (b"Token abc", BearerError::NotBearer),
            (b"Bearer", BearerError::Malformed),
            (b"Bearer ", BearerError::Malformed),
            (b"Bearer a b", BearerError::Malformed),
            (b"Bearer a,b", BearerError::Malformed),
            (b"Bearer =abc", BearerError::Malformed),
            (b"Bearer ab=c", BearerError::Malformed),
            (b"Bearer \"abc\"", BearerError::Malformed),
            (b"Bearer ab\xc3\xa9", BearerError::Malformed),
            (b"Bearer \tabc", BearerError::Malformed),
        ];
        for &(value, error) in cases {
            assert_eq!(parse_bearer(value), Err(error), "{value:?}");
        }
    }

    #[test]
    fn token_files() {
        let limits = TokenFileLimits::DEFAULT;
        let text = b"# team tokens\n\n  alpha  \r\nbeta==\n\t# indented comment\ngamma";
        assert_eq!(
            parse_token_file(text, limits),
            Ok(vec![&b"alpha"[..], b"beta==", b"gamma"])
        );
        let cases: &[(&[u8], TokenFileError)] = &[
            (b"", TokenFileError::Empty),
            (b"# only a comment\n\n   \n", TokenFileError::Empty),
            (
                b"alpha\ntwo words\n",
                TokenFileError::InvalidToken { line: 2 },
            ),
            (b"al\x00pha\n", TokenFileError::InvalidToken { line: 1 }),
            (b"t\xc3\xa9\n", TokenFileError::InvalidToken { line: 1 }),
        ];
        for &(text, error) in cases {
            assert_eq!(parse_token_file(text, limits), Err(error), "{text:?}");
        }
    }

    #[test]
    fn token_file_limits() {
        let limits = TokenFileLimits {
            file_bytes: 32,
            tokens: 2,
            token_bytes: 5,
        };
        assert_eq!(
            parse_token_file(b"aaaaa\nbbbbb", limits).map(|t| t.len()),
            Ok(2)
        );
        assert_eq!(
            parse_token_file(b"aaaaa\nbbbbbb", limits),
            Err(TokenFileError::TokenTooLong { line: 2 })
        );
        assert_eq!(
            parse_token_file(b"a\nb\nc", limits),
            Err(TokenFileError::TooManyTokens)
        );
        // Comments and blank lines do not count as tokens, but do count as bytes.
        assert_eq!(
            parse_token_file(b"a\n# c\n\nb", limits).map(|t| t.len()),
            Ok(2)
        );
        assert_eq!(
            parse_token_file(&[b'#'; 33], limits),
            Err(TokenFileError::TooLarge)
        );
    }
}
