//! `Mcp-Param-{Name}` headers from `x-mcp-header` tool parameters (MCP
//! 2026-07-28, basic/transports/streamable-http.mdx §Custom Headers from
//! Tool Parameters; design d.6).
//!
//! [`annotations`] reads a tool's `inputSchema` and returns the annotated
//! parameters, or why the tool definition is invalid (§Schema Extension: a
//! client drops such a tool; the gateway then validates nothing for it).
//! [`check`] compares one parameter's value in a `tools/call`'s `arguments`
//! with the header a client sent (§Server Behavior for Custom Headers,
//! §Server Validation). [`list_tools`] finds each tool's `name` and
//! `inputSchema` in a `tools/list` result.
//!
//! Schema positions are walked as JSON Schema 2020-12 applicators: only
//! `properties` keeps the "statically reachable" chain; `items`,
//! `prefixItems`, `additionalProperties`, `patternProperties`, `allOf`,
//! `anyOf`, `oneOf`, `not`, `if`/`then`/`else`, `$defs` and the other
//! applicators are entered too, but an annotation found through them makes
//! the schema invalid. `$ref` is never followed, and instance data
//! (`default`, `const`, `enum`, `examples`) is never read as a schema.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use super::header_value;
use crate::jsonrpc::{unescape_strict, Cursor, JsonType, MessageError, Token};

/// One annotated parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// The chain of `properties` keys from the schema root to the property,
    /// which is also its path in `arguments`. Never empty.
    pub path: Vec<String>,
    /// The `x-mcp-header` value: the header is `Mcp-Param-{header}`
    /// (compared case-insensitively, as header names are).
    pub header: String,
    /// The property's declared `type`.
    pub ty: ParamType,
}

/// The primitive types an annotated property may declare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamType {
    /// `"boolean"`: the header is `true` or `false`.
    Boolean,
    /// `"integer"`: decimal; compared numerically (`42.0` matches `42`).
    Integer,
    /// `"string"`: the value itself (Base64 sentinel when not header-safe).
    String,
}

/// Why an `inputSchema` (or a `tools/list` result) is invalid.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// Two annotations name the same header (case-insensitively).
    DuplicateHeader,
    /// A key the walk reads (`x-mcp-header`, `type`, `properties`, a
    /// property name; `tools`, `name`, `inputSchema`) appears twice in one
    /// object: two readers could disagree on which one counts.
    DuplicateKey,
    /// Not UTF-8, not exactly one JSON value, a property name with a lone
    /// surrogate escape, or `tools` that is not an array.
    Json,
    /// The `x-mcp-header` value is not a string holding a non-empty RFC 9110
    /// token.
    NotToken,
    /// An annotation at the root or off the pure `properties` chain.
    Placement,
    /// An annotation on a property whose `type` is not one of `"integer"`,
    /// `"string"`, `"boolean"` (a list of types, `"number"` and a missing
    /// `type` included).
    Type,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::DuplicateHeader => "x-mcp-header values are not case-insensitively unique",
            Self::DuplicateKey => "duplicate key in a tool definition",
            Self::Json => "tool definition is not valid JSON",
            Self::NotToken => "x-mcp-header is not an RFC 9110 token",
            Self::Placement => "x-mcp-header is not reachable through properties alone",
            Self::Type => "x-mcp-header on a property that is not integer, string or boolean",
        })
    }
}

impl std::error::Error for Invalid {}

/// Why a request's header and arguments disagree. Every variant means
/// HTTP 400 with -32020 `HeaderMismatch`.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// `arguments` is not one JSON value, or repeats a key on the
    /// parameter's path (which copy would the tool read?).
    Arguments,
    /// The header and the value differ (after decoding the header), or the
    /// value is an object or array, which no header can carry.
    Differ,
    /// The header is not a valid header value (see [`header_value::decode`]).
    Malformed,
    /// The value is in the body but the header is missing.
    Missing,
    /// The header is present but the value is absent or `null`.
    Unexpected,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Arguments => "arguments are ambiguous or not valid JSON",
            Self::Differ => "header value does not match the request body",
            Self::Malformed => "header value is malformed",
            Self::Missing => "header is missing but the value is in the request body",
            Self::Unexpected => "header is present but the value is not in the request body",
        })
    }
}

impl std::error::Error for Mismatch {}

/// The `x-mcp-header` parameters of a tool's `inputSchema`, ordered by path.
///
/// A schema that is not an object (`true`, say) has none.
///
/// # Errors
///
/// The first [`Invalid`] reason found: the tool definition is invalid and a
/// client excludes the tool.
///
/// # Examples
///
/// ```
/// use supergateway_proto::mcp::x_mcp_header::{annotations, Invalid, ParamType};
///
/// let schema = br#"{"type":"object","properties":{
///     "region":{"type":"string","x-mcp-header":"Region"},
///     "query":{"type":"string"}}}"#;
/// let params = annotations(schema)?;
/// assert_eq!(params.len(), 1);
/// assert_eq!((params[0].path.as_slice(), params[0].header.as_str()), (&["region".to_string()][..], "Region"));
/// assert_eq!(params[0].ty, ParamType::String);
///
/// let nested = br#"{"items":{"properties":{"r":{"type":"string","x-mcp-header":"R"}}}}"#;
/// assert_eq!(annotations(nested), Err(Invalid::Placement));
/// # Ok::<(), Invalid>(())
/// ```
pub fn annotations(input_schema: &[u8]) -> Result<Vec<Param>, Invalid> {
    let text = std::str::from_utf8(input_schema).map_err(|_| Invalid::Json)?;
    let root = whole_value(text).ok_or(Invalid::Json)?;
    let mut params: Vec<Param> = Vec::new();
    // Schema positions still to visit: (properties chain, or `None` once
    // another applicator was crossed; span of the position in `text`).
    let mut stack: Vec<(Option<Vec<String>>, Range<usize>)> = vec![(Some(Vec::new()), root)];
    while let Some((path, span)) = stack.pop() {
        let Some(position) = text.get(span.clone()) else {
            return Err(Invalid::Json);
        };
        if !position.starts_with('{') {
            // `true`/`false` schemas and junk in applicator slots hold no
            // annotation.
            continue;
        }
        let found = visit(position, span.start, path.as_deref(), &mut stack)?;
        let Some((header, ty)) = found else {
            continue;
        };
        let path = match path {
            Some(path) if !path.is_empty() => path,
            _ => return Err(Invalid::Placement),
        };
        if params
            .iter()
            .any(|p| p.header.eq_ignore_ascii_case(&header))
        {
            return Err(Invalid::DuplicateHeader);
        }
        params.push(Param { path, header, ty });
    }
    params.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(params)
}

/// Checks one annotated parameter of a `tools/call`: `arguments` is the
/// raw `params.arguments` value (absent arguments: pass `{}`), `header` the
/// raw value of the `Mcp-Param-{param.header}` header if the request had
/// one.
///
/// The value at `param.path` is rendered as the client would have: a
/// string as is, `true`/`false`, a number as written; an `integer`
/// parameter whose header is a plain decimal (`-?[0-9]+(.[0-9]+)?`)
/// compares numerically instead, exactly (no floating point). A `null` or
/// absent value means no header.
///
/// # Errors
///
/// The [`Mismatch`]; the request is rejected.
///
/// # Examples
///
/// ```
/// use supergateway_proto::mcp::x_mcp_header::{annotations, check, Mismatch};
///
/// let schema = br#"{"properties":{"n":{"type":"integer","x-mcp-header":"N"}}}"#;
/// let n = &annotations(schema)?[0];
/// assert_eq!(check(n, br#"{"n":42}"#, Some(b"42.0")), Ok(()));
/// assert_eq!(check(n, br#"{"n":42}"#, Some(b"43")), Err(Mismatch::Differ));
/// assert_eq!(check(n, br#"{"n":42}"#, None), Err(Mismatch::Missing));
/// assert_eq!(check(n, br#"{"n":null}"#, None), Ok(()));
/// # Ok::<(), supergateway_proto::mcp::x_mcp_header::Invalid>(())
/// ```
pub fn check(param: &Param, arguments: &[u8], header: Option<&[u8]>) -> Result<(), Mismatch> {
    let text = std::str::from_utf8(arguments).map_err(|_| Mismatch::Arguments)?;
    let mut span = whole_value(text).ok_or(Mismatch::Arguments)?;
    let mut present = true;
    for key in &param.path {
        let Some(next) = member_span(text, span.clone(), key)? else {
            present = false;
            break;
        };
        span = next;
    }
    let value = text.get(span).ok_or(Mismatch::Arguments)?;
    let mut cursor = Cursor::new(value);
    let token = cursor.skip_value(0).map_err(|_| Mismatch::Arguments)?;
    match (present, token.ty, header) {
        (false, _, None) | (true, JsonType::Null, None) => return Ok(()),
        (false, _, Some(_)) | (true, JsonType::Null, Some(_)) => return Err(Mismatch::Unexpected),
        // No header can carry an object or array: a client sends none.
        (true, JsonType::Object | JsonType::Array, None) => return Ok(()),
        (true, JsonType::Object | JsonType::Array, Some(_)) => return Err(Mismatch::Differ),
        (true, _, None) => return Err(Mismatch::Missing),
        (true, _, Some(_)) => {}
    }
    let decoded =
        header_value::decode(header.unwrap_or_default()).map_err(|_| Mismatch::Malformed)?;
    let equal = match token.ty {
        JsonType::String { .. } => unescape_strict(value).is_ok_and(|body| *decoded == body),
        JsonType::True => decoded == "true",
        JsonType::False => decoded == "false",
        JsonType::Number if param.ty == ParamType::Integer && is_plain_decimal(&decoded) => {
            matches!((decimal(&decoded), decimal(value)), (Some(a), Some(b)) if a == b)
        }
        JsonType::Number => decoded == value,
        JsonType::Null | JsonType::Object | JsonType::Array => false,
    };
    if equal {
        Ok(())
    } else {
        Err(Mismatch::Differ)
    }
}

/// The value a client sends in `Mcp-Param-{header}` for `param`, given the
/// raw `params.arguments` of a `tools/call`, before it is encoded for the
/// header ([`header_value::encode`]): a string unescaped, `true`/`false`, a
/// number as written — what [`check`] accepts. `None`: no header (the value
/// is absent, `null`, an object or an array, or `arguments` is not JSON).
///
/// # Examples
///
/// ```
/// use supergateway_proto::mcp::x_mcp_header::{annotations, render};
///
/// let schema = br#"{"properties":{"r":{"type":"string","x-mcp-header":"R"}}}"#;
/// let r = &annotations(schema)?[0];
/// assert_eq!(render(r, br#"{"r":"us\u002dwest"}"#).as_deref(), Some("us-west"));
/// assert_eq!(render(r, br#"{"r":null}"#), None);
/// # Ok::<(), supergateway_proto::mcp::x_mcp_header::Invalid>(())
/// ```
#[must_use]
pub fn render(param: &Param, arguments: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(arguments).ok()?;
    let mut span = whole_value(text)?;
    for key in &param.path {
        span = member_span(text, span, key).ok()??;
    }
    let value = text.get(span)?;
    let token = Cursor::new(value).skip_value(0).ok()?;
    match token.ty {
        JsonType::String { .. } => unescape_strict(value).ok(),
        JsonType::True | JsonType::False | JsonType::Number => Some(value.to_owned()),
        JsonType::Null | JsonType::Object | JsonType::Array => None,
    }
}

/// A tool of a `tools/list` result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tool<'a> {
    /// `name`, unescaped.
    pub name: Cow<'a, str>,
    /// The raw `inputSchema` value, if the tool has one.
    pub input_schema: Option<&'a [u8]>,
}

/// The tools of a `tools/list` result (the raw `result` value): each
/// element of `tools` that is an object with a string `name`, in order.
/// Other elements are skipped; a result without `tools` has none.
///
/// # Errors
///
/// [`Invalid::Json`] when `result` is not one JSON value or `tools` is not
/// an array; [`Invalid::DuplicateKey`] when `tools`, or a tool's `name` or
/// `inputSchema`, appears twice in its object, or a key of the result has
/// an unpaired surrogate escape (it could alias `tools`).
///
/// # Examples
///
/// ```
/// use supergateway_proto::mcp::x_mcp_header::list_tools;
///
/// let result = br#"{"tools":[{"name":"a","inputSchema":{"type":"object"}},{"name":"b"}],"ttlMs":0}"#;
/// let tools = list_tools(result)?;
/// assert_eq!(tools[0].name, "a");
/// assert_eq!(tools[0].input_schema, Some(&br#"{"type":"object"}"#[..]));
/// assert_eq!((tools[1].name.as_ref(), tools[1].input_schema), ("b", None));
/// # Ok::<(), supergateway_proto::mcp::x_mcp_header::Invalid>(())
/// ```
pub fn list_tools(result: &[u8]) -> Result<Vec<Tool<'_>>, Invalid> {
    let text = std::str::from_utf8(result).map_err(|_| Invalid::Json)?;
    let root = whole_value(text).ok_or(Invalid::Json)?;
    let Some(tools) = member_span(text, root, "tools").map_err(|_| Invalid::DuplicateKey)? else {
        return Ok(Vec::new());
    };
    let offset = tools.start;
    let mut cursor = Cursor::new(text.get(tools).ok_or(Invalid::Json)?);
    if cursor.peek() != Some(b'[') {
        return Err(Invalid::Json);
    }
    let elements = cursor.array_spans(1).map_err(|_| Invalid::Json)?;
    let mut out = Vec::with_capacity(elements.len());
    for element in elements {
        let element = shift(element, offset).ok_or(Invalid::Json)?;
        let Some(slice) = text.get(element.clone()) else {
            return Err(Invalid::Json);
        };
        if !slice.starts_with('{') {
            continue;
        }
        let mut cursor = Cursor::new(slice);
        let mut name: Option<Option<Cow<'_, str>>> = None;
        let mut schema: Option<Range<usize>> = None;
        let mut duplicate = false;
        cursor
            .object(1, |cursor, key| {
                if cursor.string_is(key, "name") {
                    duplicate |= name.is_some();
                    let token = cursor.skip_value(1)?;
                    name = Some(cursor.string_value(&token));
                } else if cursor.string_is(key, "inputSchema") {
                    duplicate |= schema.is_some();
                    schema = Some(cursor.skip_value(1)?.span);
                } else {
                    cursor.skip_value(1)?;
                }
                Ok(())
            })
            .map_err(|_| Invalid::Json)?;
        if duplicate {
            return Err(Invalid::DuplicateKey);
        }
        let Some(Some(name)) = name else {
            continue;
        };
        let input_schema = match schema {
            Some(span) => Some(
                shift(span, element.start)
                    .and_then(|span| result.get(span))
                    .ok_or(Invalid::Json)?,
            ),
            None => None,
        };
        out.push(Tool { name, input_schema });
    }
    Ok(out)
}

// JSON Schema 2020-12 applicators other than `properties` (plus draft-07's
// `additionalItems`, `dependencies` and `definitions`), by the shape of
// their value. Crossing any of them leaves the statically reachable chain.
const SUBSCHEMA_ONE: [&str; 12] = [
    "additionalItems",
    "additionalProperties",
    "contains",
    "contentSchema",
    "else",
    "if",
    "items",
    "not",
    "propertyNames",
    "then",
    "unevaluatedItems",
    "unevaluatedProperties",
];
// `items` is also a list: draft-04–07 tuple validation.
const SUBSCHEMA_LIST: [&str; 5] = ["allOf", "anyOf", "oneOf", "prefixItems", "items"];
const SUBSCHEMA_MAP: [&str; 5] = [
    "$defs",
    "definitions",
    "dependencies",
    "dependentSchemas",
    "patternProperties",
];

/// Scans one schema position (an object starting at `offset` of the whole
/// text): queues its subschemas on `stack` and returns its annotation, if
/// any, with the property type. `path` is the position's chain.
fn visit(
    position: &str,
    offset: usize,
    path: Option<&[String]>,
    stack: &mut Vec<(Option<Vec<String>>, Range<usize>)>,
) -> Result<Option<(String, ParamType)>, Invalid> {
    let mut cursor = Cursor::new(position);
    let mut header: Option<Token> = None;
    let mut ty: Option<Token> = None;
    let mut properties_seen = false;
    let mut failure: Option<Invalid> = None;
    let fail = |error: Invalid, failure: &mut Option<Invalid>| {
        failure.get_or_insert(error);
    };
    cursor
        .object(1, |cursor, key| {
            if cursor.string_is(key, "x-mcp-header") {
                if header.is_some() {
                    fail(Invalid::DuplicateKey, &mut failure);
                }
                header = Some(cursor.skip_value(1)?);
            } else if cursor.string_is(key, "type") {
                if ty.is_some() {
                    fail(Invalid::DuplicateKey, &mut failure);
                }
                ty = Some(cursor.skip_value(1)?);
            } else if cursor.string_is(key, "properties") {
                if properties_seen {
                    fail(Invalid::DuplicateKey, &mut failure);
                }
                properties_seen = true;
                if cursor.peek() != Some(b'{') {
                    return cursor.skip_value(1).map(drop);
                }
                let mut names: Vec<String> = Vec::new();
                cursor.object(2, |cursor, name| {
                    let sub = cursor.skip_value(2)?;
                    let Some(name) = cursor.slice(name.span.clone()) else {
                        return Err(MessageError::Parse);
                    };
                    let Ok(name) = unescape_strict(name) else {
                        fail(Invalid::Json, &mut failure);
                        return Ok(());
                    };
                    if names.contains(&name) {
                        fail(Invalid::DuplicateKey, &mut failure);
                    }
                    let chain = path.map(|p| {
                        let mut chain = p.to_vec();
                        chain.push(name.clone());
                        chain
                    });
                    names.push(name);
                    if let Some(span) = shift(sub.span, offset) {
                        stack.push((chain, span));
                    }
                    Ok(())
                })?;
            } else if SUBSCHEMA_LIST.iter().any(|k| cursor.string_is(key, k))
                && cursor.peek() == Some(b'[')
            {
                for span in cursor.array_spans(2)? {
                    if let Some(span) = shift(span, offset) {
                        stack.push((None, span));
                    }
                }
            } else if SUBSCHEMA_MAP.iter().any(|k| cursor.string_is(key, k))
                && cursor.peek() == Some(b'{')
            {
                cursor.object(2, |cursor, _| {
                    let sub = cursor.skip_value(2)?;
                    if let Some(span) = shift(sub.span, offset) {
                        stack.push((None, span));
                    }
                    Ok(())
                })?;
            } else if SUBSCHEMA_ONE.iter().any(|k| cursor.string_is(key, k))
                || SUBSCHEMA_LIST.iter().any(|k| cursor.string_is(key, k))
            {
                let sub = cursor.skip_value(1)?;
                if let Some(span) = shift(sub.span, offset) {
                    stack.push((None, span));
                }
            } else {
                cursor.skip_value(1)?;
            }
            Ok(())
        })
        .map_err(|_| Invalid::Json)?;
    if let Some(error) = failure {
        return Err(error);
    }
    let Some(header) = header else {
        return Ok(None);
    };
    // Placement first: an annotation off the chain is invalid whatever it says.
    if path.is_none_or(<[String]>::is_empty) {
        return Err(Invalid::Placement);
    }
    let header = cursor
        .string_value(&header)
        .filter(|h| !h.is_empty() && h.bytes().all(is_tchar))
        .ok_or(Invalid::NotToken)?
        .into_owned();
    let ty = ty
        .and_then(|ty| cursor.string_value(&ty))
        .and_then(|ty| match ty.as_ref() {
            "boolean" => Some(ParamType::Boolean),
            "integer" => Some(ParamType::Integer),
            "string" => Some(ParamType::String),
            _ => None,
        })
        .ok_or(Invalid::Type)?;
    Ok(Some((header, ty)))
}

/// The span of the one JSON value `text` holds (whitespace around it
/// allowed), `None` if it holds anything else.
fn whole_value(text: &str) -> Option<Range<usize>> {
    let mut cursor = Cursor::new(text);
    cursor.skip_ws();
    let token = cursor.skip_value(0).ok()?;
    cursor.skip_ws();
    cursor.at_end().then_some(token.span)
}

/// The span of member `key` of the object at `span` of `text`: `Ok(None)`
/// when the value is not an object or has no such member;
/// `Err(Arguments)` when the key appears twice or a key has a lone
/// surrogate (compared strictly, so two spellings cannot alias).
fn member_span(
    text: &str,
    span: Range<usize>,
    key: &str,
) -> Result<Option<Range<usize>>, Mismatch> {
    let offset = span.start;
    let Some(object) = text.get(span).filter(|o| o.starts_with('{')) else {
        return Ok(None);
    };
    let mut cursor = Cursor::new(object);
    let mut found: Option<Range<usize>> = None;
    let mut ambiguous = false;
    cursor
        .object(1, |cursor, name| {
            let value = cursor.skip_value(1)?;
            let name = cursor.slice(name.span.clone()).ok_or(MessageError::Parse)?;
            match unescape_strict(name) {
                Ok(name) if name == key => {
                    ambiguous |= found.is_some();
                    found = shift(value.span, offset);
                }
                Ok(_) => {}
                Err(_) => ambiguous = true,
            }
            Ok(())
        })
        .map_err(|_| Mismatch::Arguments)?;
    if ambiguous {
        return Err(Mismatch::Arguments);
    }
    Ok(found)
}

/// `span` moved right by `offset`.
fn shift(span: Range<usize>, offset: usize) -> Option<Range<usize>> {
    Some(span.start.checked_add(offset)?..span.end.checked_add(offset)?)
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `-?[0-9]+(\.[0-9]+)?`: the header spellings an integer compares
/// numerically from (exponents compare as text, as in the reference SDKs).
fn is_plain_decimal(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "1"));
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    all_digits(whole) && all_digits(fraction)
}

/// A number in JSON or plain decimal syntax as (negative, significant
/// digits without leading or trailing zeros, power of ten), so that equal
/// values give equal triples (`42`, `42.0`, `4.2e1`, `420e-1`). Zero is
/// `(false, [], 0)`. `None` for anything else, or an exponent out of range.
fn decimal(text: &str) -> Option<(bool, Vec<u8>, i64)> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => (rest.get(..at)?, rest.get(at.checked_add(1)?..)?),
        None => (rest, "0"),
    };
    let exponent = exponent.strip_prefix('+').unwrap_or(exponent);
    let (exp_negative, exp_digits) = match exponent.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, exponent),
    };
    // 18 digits always fit an i64; a longer exponent is out of any range
    // an argument could mean.
    if exp_digits.is_empty()
        || exp_digits.len() > 18
        || !exp_digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut power: i64 = exp_digits.parse().ok()?;
    if exp_negative {
        power = power.checked_neg()?;
    }
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty()
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    power = power.checked_sub(i64::try_from(fraction.len()).ok()?)?;
    let mut digits: Vec<u8> = whole
        .bytes()
        .chain(fraction.bytes())
        .skip_while(|&b| b == b'0')
        .collect();
    while digits.last() == Some(&b'0') {
        digits.pop();
        power = power.checked_add(1)?;
    }
    if digits.is_empty() {
        return Some((false, digits, 0));
    }
    Some((negative, digits, power))
}

#[cfg(test)]
mod tests;
