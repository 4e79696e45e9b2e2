//! The members of one JSON object, with the byte span of each value: for
//! the few places that look inside a result or an error (translating
//! between MCP revisions) rather than routing it.

use std::borrow::Cow;
use std::ops::Range;

use super::scan::{Cursor, Type};
use super::MessageError;

/// What kind of JSON value a member holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// `{…}`
    Object,
    /// `[…]`
    Array,
    /// `"…"`
    String,
    /// A number.
    Number,
    /// `true` or `false`.
    Bool,
    /// `null`.
    Null,
}

/// One member of an object: its key (unescaped) and its value's span in the
/// input given to [`object_members`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member<'a> {
    /// The key, unescaped.
    pub key: Cow<'a, str>,
    /// The value's span (quotes and brackets included).
    pub span: Range<usize>,
    /// The value's kind.
    pub kind: ValueKind,
}

/// The members of the JSON object `input` (surrounding whitespace allowed),
/// in order. `Err(Parse)` when `input` is not one valid JSON value,
/// `Err(Invalid)` when it is not an object or repeats a key.
///
/// # Examples
///
/// ```
/// use supergateway_proto::jsonrpc::{object_members, ValueKind};
///
/// let input = br#"{"a":1,"b":{"c":[]}}"#;
/// let members = object_members(input)?;
/// assert_eq!(members.len(), 2);
/// assert_eq!((&*members[1].key, members[1].kind), ("b", ValueKind::Object));
/// assert_eq!(&input[members[1].span.clone()], br#"{"c":[]}"#);
/// # Ok::<(), supergateway_proto::jsonrpc::MessageError>(())
/// ```
pub fn object_members(input: &[u8]) -> Result<Vec<Member<'_>>, MessageError> {
    let text = core::str::from_utf8(input).map_err(|_| MessageError::Parse)?;
    let mut cursor = Cursor::new(text);
    cursor.skip_ws();
    if cursor.peek() != Some(b'{') {
        cursor.skip_value(0)?;
        return Err(MessageError::Invalid("not an object"));
    }
    let mut members: Vec<Member<'_>> = Vec::new();
    let mut duplicate = false;
    cursor.object(1, |cursor, key| {
        let token = cursor.skip_value(1)?;
        let key = cursor
            .string_value(key)
            .ok_or(MessageError::Internal("key is not a string"))?;
        duplicate |= members.iter().any(|member| member.key == key);
        let kind = match token.ty {
            Type::Object => ValueKind::Object,
            Type::Array => ValueKind::Array,
            Type::String { .. } => ValueKind::String,
            Type::Number => ValueKind::Number,
            Type::True | Type::False => ValueKind::Bool,
            Type::Null => ValueKind::Null,
        };
        members.push(Member {
            key,
            span: token.span,
            kind,
        });
        Ok(())
    })?;
    cursor.skip_ws();
    if !cursor.at_end() {
        return Err(MessageError::Parse);
    }
    if duplicate {
        return Err(MessageError::Invalid("duplicate key"));
    }
    Ok(members)
}

/// The string value of `member` in `input` (the bytes given to
/// [`object_members`]), unescaped; `None` for other kinds.
pub fn member_string<'a>(input: &'a [u8], member: &Member<'_>) -> Option<Cow<'a, str>> {
    if member.kind != ValueKind::String {
        return None;
    }
    let text = core::str::from_utf8(input).ok()?;
    let cursor = Cursor::new(text);
    let token = super::scan::Token {
        ty: Type::String {
            escaped: text.get(member.span.clone())?.contains('\\'),
        },
        span: member.span.clone(),
    };
    cursor.string_value(&token)
}

/// The value of the member `key` of the JSON object `object`, if it is of
/// `kind`.
pub fn member<'a>(object: &'a [u8], key: &str, kind: ValueKind) -> Option<&'a [u8]> {
    let found = object_members(object)
        .ok()?
        .into_iter()
        .find(|member| member.key == key && member.kind == kind)?;
    object.get(found.span)
}

/// The text of the JSON string token `raw` (quotes included), unescaped;
/// `None` when `raw` is not exactly one string.
pub fn string_token(raw: &[u8]) -> Option<Cow<'_, str>> {
    let text = core::str::from_utf8(raw).ok()?;
    let mut cursor = Cursor::new(text);
    let token = cursor.string().ok()?;
    if !cursor.at_end() {
        return None;
    }
    cursor.string_value(&token)
}

/// The span of an error response's `error.code` in `line`, and its value.
pub fn error_code(line: &[u8]) -> Option<(Range<usize>, i64)> {
    let error = object_members(line)
        .ok()?
        .into_iter()
        .find(|m| m.key == "error" && m.kind == ValueKind::Object)?;
    let raw = line.get(error.span.clone())?;
    let code = object_members(raw)
        .ok()?
        .into_iter()
        .find(|m| m.key == "code" && m.kind == ValueKind::Number)?;
    let value = core::str::from_utf8(raw.get(code.span.clone())?)
        .ok()?
        .parse()
        .ok()?;
    let start = error.span.start.checked_add(code.span.start)?;
    let end = error.span.start.checked_add(code.span.end)?;
    Some((start..end, value))
}

/// The elements of the JSON array `input`, as spans into it.
pub fn array_elements(input: &[u8]) -> Result<Vec<Range<usize>>, MessageError> {
    let text = core::str::from_utf8(input).map_err(|_| MessageError::Parse)?;
    let mut cursor = Cursor::new(text);
    cursor.skip_ws();
    if cursor.peek() != Some(b'[') {
        cursor.skip_value(0)?;
        return Err(MessageError::Invalid("not an array"));
    }
    let spans = cursor.array_spans(1)?;
    cursor.skip_ws();
    if !cursor.at_end() {
        return Err(MessageError::Parse);
    }
    Ok(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_table() {
        let input = br#" { "k\u0041" : "v\n" , "n": -1.5e3, "t": true, "z": null, "a": [1,{}] } "#;
        let members = object_members(input).unwrap();
        let keys: Vec<&str> = members.iter().map(|m| &*m.key).collect();
        assert_eq!(keys, ["kA", "n", "t", "z", "a"]);
        let kinds: Vec<ValueKind> = members.iter().map(|m| m.kind).collect();
        assert_eq!(
            kinds,
            [
                ValueKind::String,
                ValueKind::Number,
                ValueKind::Bool,
                ValueKind::Null,
                ValueKind::Array
            ]
        );
        assert_eq!(member_string(input, &members[0]).as_deref(), Some("v\n"));
        assert_eq!(member_string(input, &members[1]), None);
        assert_eq!(&input[members[4].span.clone()], b"[1,{}]");
        assert_eq!(array_elements(b"[1,{}]").unwrap(), [1..2, 3..5]);
        assert_eq!(object_members(b"{}").unwrap(), []);
        assert_eq!(member(input, "a", ValueKind::Array), Some(&b"[1,{}]"[..]));
        assert_eq!(member(input, "a", ValueKind::Object), None);
        assert_eq!(string_token(br#""x\ny""#).as_deref(), Some("x\ny"));
        for bad in [&b"7"[..], b"\"x\" ", b"\"x", b""] {
            assert_eq!(string_token(bad), None, "{bad:?}");
        }
        let line = br#"{"jsonrpc":"2.0","id":1,"error":{"message":"m","code":-32002}}"#;
        let (span, code) = error_code(line).unwrap();
        assert_eq!((&line[span], code), (&b"-32002"[..], -32002));
        assert_eq!(error_code(br#"{"id":1,"result":{"code":1}}"#), None);
    }

    #[test]
    fn members_reject_table() {
        for (input, err) in [
            (&b"[]"[..], MessageError::Invalid("not an object")),
            (b"{\"a\":1,\"a\":2}", MessageError::Invalid("duplicate key")),
            (b"{\"a\":1} x", MessageError::Parse),
            (b"{\"a\":}", MessageError::Parse),
            (b"\xff", MessageError::Parse),
        ] {
            assert_eq!(object_members(input), Err(err), "{input:?}");
        }
        assert_eq!(
            array_elements(b"{}"),
            Err(MessageError::Invalid("not an array"))
        );
    }
}
