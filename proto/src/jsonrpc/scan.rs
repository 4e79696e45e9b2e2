//! A validating JSON cursor (RFC 8259) over UTF-8 text.
//!
//! The message classifier reads only a handful of fields, but it must still
//! check that the whole input is one JSON text: a gateway that relays what it
//! did not fully parse must not let a peer smuggle a second value past it.
//! Everything it does not read is skipped by [`Cursor::skip_value`], which
//! validates as it goes, is iterative (a bit stack, no recursion, no
//! allocation) and caps nesting at [`MAX_DEPTH`].

use std::borrow::Cow;
use std::ops::Range;

use super::MessageError;

/// Deepest nesting of arrays and objects accepted (serde_json's default
/// recursion limit is the same order). Bounds the bit stack of
/// [`Cursor::skip_value`]; must stay ≤ 128, the width of that stack.
pub(crate) const MAX_DEPTH: usize = 128;

/// The JSON type of a scanned value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Type {
    Array,
    False,
    Null,
    Number,
    Object,
    /// `escaped`: the string contains at least one backslash escape, so its
    /// text must be decoded rather than borrowed.
    String {
        escaped: bool,
    },
    True,
}

/// One scanned value: its type and its byte span in the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) ty: Type,
    pub(crate) span: Range<usize>,
}

/// A cursor over JSON text.
///
/// Invariant: `pos ≤ text.len()`, and `pos` always sits on a char boundary
/// (it only ever stops next to an ASCII structural byte or at the end).
pub(crate) struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// Starts at the beginning of `text`.
    pub(crate) fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }

    /// The byte under the cursor, `None` at the end.
    /// The byte offset of the cursor.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    /// `true` when the whole input has been consumed.
    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    /// Skips JSON whitespace (RFC 8259 §2: space, tab, LF, CR).
    pub(crate) fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.bump();
        }
    }

    /// Consumes `byte` or fails with `Parse`.
    pub(crate) fn expect(&mut self, byte: u8) -> Result<(), MessageError> {
        if self.peek() == Some(byte) {
            self.bump();
            Ok(())
        } else {
            Err(MessageError::Parse)
        }
    }

    /// Consumes `byte` if it is next.
    pub(crate) fn eat(&mut self, byte: u8) -> bool {
        let hit = self.peek() == Some(byte);
        if hit {
            self.bump();
        }
        hit
    }

    /// The text of `span`, if it is in bounds and on char boundaries.
    pub(crate) fn slice(&self, span: Range<usize>) -> Option<&'a str> {
        self.text.get(span)
    }

    /// Scans one value of any type, validating it completely.
    ///
    /// `depth` is the nesting level of the container the value sits in
    /// (0 at top level); arrays and objects may nest up to [`MAX_DEPTH`].
    pub(crate) fn skip_value(&mut self, depth: usize) -> Result<Token, MessageError> {
        let start = self.pos;
        let ty = match self.peek() {
            Some(b'"') => return self.string(),
            Some(b'-' | b'0'..=b'9') => return self.number(),
            Some(b't') => self.literal(b"true", Type::True)?,
            Some(b'f') => self.literal(b"false", Type::False)?,
            Some(b'n') => self.literal(b"null", Type::Null)?,
            Some(b'{') => {
                self.skip_container(depth)?;
                Type::Object
            }
            Some(b'[') => {
                self.skip_container(depth)?;
                Type::Array
            }
            _ => return Err(MessageError::Parse),
        };
        Ok(Token {
            ty,
            span: start..self.pos,
        })
    }

    /// Iterates over the members of the object under the cursor: calls
    /// `member(cursor, key)` with the cursor on the first byte of each value;
    /// `member` must consume exactly that value. `depth` is the object's own
    /// nesting level (1 for a top-level object).
    pub(crate) fn object(
        &mut self,
        depth: usize,
        mut member: impl FnMut(&mut Self, &Token) -> Result<(), MessageError>,
    ) -> Result<(), MessageError> {
        if depth > MAX_DEPTH {
            return Err(MessageError::Parse);
        }
        self.expect(b'{')?;
        self.skip_ws();
        if self.eat(b'}') {
            return Ok(());
        }
        loop {
            let key = self.string()?;
            self.skip_ws();
            self.expect(b':')?;
            self.skip_ws();
            member(self, &key)?;
            self.skip_ws();
            if self.eat(b'}') {
                return Ok(());
            }
            self.expect(b',')?;
            self.skip_ws();
        }
    }

    /// Iterates over the elements of the array under the cursor, collecting
    /// their spans. `depth` is the array's own nesting level.
    pub(crate) fn array_spans(&mut self, depth: usize) -> Result<Vec<Range<usize>>, MessageError> {
        if depth > MAX_DEPTH {
            return Err(MessageError::Parse);
        }
        let mut spans = Vec::new();
        self.expect(b'[')?;
        self.skip_ws();
        if self.eat(b']') {
            return Ok(spans);
        }
        loop {
            spans.push(self.skip_value(depth)?.span);
            self.skip_ws();
            if self.eat(b']') {
                return Ok(spans);
            }
            self.expect(b',')?;
            self.skip_ws();
        }
    }

    /// Decodes the string token `token` (quotes included in its span).
    /// Borrows when there is no escape. A lone surrogate escape (valid JSON
    /// grammar, RFC 8259 §8.2, but not a Unicode scalar) becomes U+FFFD.
    pub(crate) fn string_value(&self, token: &Token) -> Option<Cow<'a, str>> {
        let Type::String { escaped } = token.ty else {
            return None;
        };
        let inner = self.slice(token.span.start.checked_add(1)?..token.span.end.checked_sub(1)?)?;
        if escaped {
            Some(Cow::Owned(unescape(inner)))
        } else {
            Some(Cow::Borrowed(inner))
        }
    }

    /// `true` when the string token `token` decodes to exactly `name`.
    /// Allocation-free unless the key contains escapes.
    pub(crate) fn string_is(&self, token: &Token, name: &str) -> bool {
        self.string_value(token).is_some_and(|s| s == name)
    }

    /// Scans a string (RFC 8259 §7): no raw control characters, escapes
    /// limited to `\" \\ \/ \b \f \n \r \t \uXXXX`.
    pub(crate) fn string(&mut self) -> Result<Token, MessageError> {
        let start = self.pos;
        self.expect(b'"')?;
        let mut escaped = false;
        loop {
            // Fast path: jump to the next byte that needs a decision.
            let rest = self.text.as_bytes().get(self.pos..).unwrap_or_default();
            let Some(at) = rest
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
            else {
                return Err(MessageError::Parse);
            };
            self.pos = self.pos.saturating_add(at);
            match self.peek() {
                Some(b'"') => {
                    self.bump();
                    return Ok(Token {
                        ty: Type::String { escaped },
                        span: start..self.pos,
                    });
                }
                Some(b'\\') => {
                    escaped = true;
                    self.bump();
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.bump(),
                        Some(b'u') => {
                            self.bump();
                            for _ in 0..4 {
                                if !self.peek().is_some_and(|b| b.is_ascii_hexdigit()) {
                                    return Err(MessageError::Parse);
                                }
                                self.bump();
                            }
                        }
                        _ => return Err(MessageError::Parse),
                    }
                }
                // A raw control character (U+0000–U+001F) must be escaped.
                _ => return Err(MessageError::Parse),
            }
        }
    }

    /// Scans a number (RFC 8259 §6):
    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    pub(crate) fn number(&mut self) -> Result<Token, MessageError> {
        let start = self.pos;
        self.eat(b'-');
        match self.peek() {
            Some(b'0') => self.bump(),
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(MessageError::Parse),
        }
        if self.eat(b'.') {
            self.digits1()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.bump();
            if let Some(b'+' | b'-') = self.peek() {
                self.bump();
            }
            self.digits1()?;
        }
        Ok(Token {
            ty: Type::Number,
            span: start..self.pos,
        })
    }

    fn digits1(&mut self) -> Result<(), MessageError> {
        if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
            return Err(MessageError::Parse);
        }
        self.digits();
        Ok(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.bump();
        }
    }

    fn literal(&mut self, word: &[u8], ty: Type) -> Result<Type, MessageError> {
        for &b in word {
            self.expect(b)?;
        }
        Ok(ty)
    }

    /// Skips the array or object under the cursor without recursion: `stack`
    /// holds one bit per open container (1 = object), newest in bit 0.
    fn skip_container(&mut self, depth: usize) -> Result<(), MessageError> {
        let mut stack: u128 = 0;
        let mut open: usize = 0;
        loop {
            // At the start of a value.
            let opened = match self.peek() {
                Some(b'{') => Some(true),
                Some(b'[') => Some(false),
                _ => {
                    self.skip_scalar()?;
                    None
                }
            };
            if let Some(is_object) = opened {
                open = open.checked_add(1).ok_or(MessageError::Parse)?;
                if depth.checked_add(open).is_none_or(|d| d > MAX_DEPTH) {
                    return Err(MessageError::Parse);
                }
                stack = stack.wrapping_shl(1) | u128::from(is_object);
                self.bump();
                self.skip_ws();
                let close = if is_object { b'}' } else { b']' };
                if !self.eat(close) {
                    if is_object {
                        self.member_key()?;
                    }
                    continue;
                }
                open = open.checked_sub(1).ok_or(MessageError::Parse)?;
                stack = stack.wrapping_shr(1);
            }
            // After a value: close containers until one continues with ','.
            loop {
                if open == 0 {
                    return Ok(());
                }
                self.skip_ws();
                let in_object = stack & 1 == 1;
                if self.eat(b',') {
                    self.skip_ws();
                    if in_object {
                        self.member_key()?;
                    }
                    break;
                }
                self.expect(if in_object { b'}' } else { b']' })?;
                open = open.checked_sub(1).ok_or(MessageError::Parse)?;
                stack = stack.wrapping_shr(1);
            }
        }
    }

    /// Inside `skip_container`: scans `"key" :` and the whitespace after it.
    fn member_key(&mut self) -> Result<(), MessageError> {
        self.string()?;
        self.skip_ws();
        self.expect(b':')?;
        self.skip_ws();
        Ok(())
    }

    /// A string, number or literal (containers are handled by the caller).
    fn skip_scalar(&mut self) -> Result<(), MessageError> {
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b'-' | b'0'..=b'9') => self.number().map(drop),
            Some(b't') => self.literal(b"true", Type::True).map(drop),
            Some(b'f') => self.literal(b"false", Type::False).map(drop),
            Some(b'n') => self.literal(b"null", Type::Null).map(drop),
            _ => Err(MessageError::Parse),
        }
    }

    /// Moves past one byte. `pos` never exceeds `text.len()`, which fits in
    /// `isize`, so the addition cannot saturate in practice.
    fn bump(&mut self) {
        if self.pos < self.text.len() {
            self.pos = self.pos.saturating_add(1);
        }
    }
}

/// Decodes the backslash escapes of an already validated string body.
fn unescape(inner: &str) -> String {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let decoded = match chars.next() {
            Some('b') => '\u{8}',
            Some('f') => '\u{c}',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some('u') => {
                let unit = hex4(&mut chars);
                match unit {
                    Some(high @ 0xD800..=0xDBFF) => {
                        // A high surrogate pairs with an immediately following
                        // `\uDC00`–`\uDFFF` escape; anything else leaves it lone.
                        let mut ahead = chars.clone();
                        let low = match (ahead.next(), ahead.next()) {
                            (Some('\\'), Some('u')) => hex4(&mut ahead),
                            _ => None,
                        };
                        match low {
                            Some(low @ 0xDC00..=0xDFFF) => {
                                chars = ahead;
                                combine_surrogates(high, low)
                            }
                            _ => char::REPLACEMENT_CHARACTER,
                        }
                    }
                    Some(unit) => char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER),
                    None => char::REPLACEMENT_CHARACTER,
                }
            }
            // `"`, `\`, `/` stand for themselves; validation excluded others.
            Some(other) => other,
            None => char::REPLACEMENT_CHARACTER,
        };
        out.push(decoded);
    }
    out
}

/// Reads four hex digits as a UTF-16 code unit.
fn hex4(chars: &mut std::str::Chars<'_>) -> Option<u32> {
    let mut unit: u32 = 0;
    for _ in 0..4 {
        let digit = chars.next()?.to_digit(16)?;
        unit = unit.checked_mul(16)?.checked_add(digit)?;
    }
    Some(unit)
}

/// Combines a UTF-16 surrogate pair (both ranges checked by the caller).
fn combine_surrogates(high: u32, low: u32) -> char {
    let scalar = high
        .checked_sub(0xD800)
        .and_then(|h| h.checked_mul(0x400))
        .and_then(|h| h.checked_add(low.checked_sub(0xDC00)?))
        .and_then(|v| v.checked_add(0x1_0000));
    scalar
        .and_then(char::from_u32)
        .unwrap_or(char::REPLACEMENT_CHARACTER)
}
