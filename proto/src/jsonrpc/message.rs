//! Classifying one JSON-RPC 2.0 message for routing, in one pass and without
//! building a tree: the message is relayed as the bytes it arrived as, with
//! only ids and tokens spliced in through the spans reported here.

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::Range;

use super::id::RawId;
use super::scan::{Cursor, Token, Type};
use super::MessageError;
use crate::mcp::meta;

/// What kind of JSON-RPC 2.0 message this is (JSON-RPC 2.0 §4, §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Has `method` and `id`: expects a response.
    Request,
    /// Has `method`, no `id`: expects no response.
    Notification,
    /// Has `result` (and `id`, no `method`).
    Response,
    /// Has `error` (and `id`, possibly `null`; no `method`).
    ErrorResponse,
}

/// What routing needs from one message, with byte spans into the input so
/// callers can splice new ids in without re-serialising (see
/// [`splice`](super::splice)).
///
/// Every span is inside the input and on char boundaries; a span of an id or
/// token covers exactly the JSON token (quotes included for strings).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    /// Request, notification, response or error response.
    pub kind: Kind,
    /// The id, for requests and responses. `None` for notifications and
    /// for an error response whose id is `null`.
    pub id: Option<RawId<'a>>,
    /// The span of `id`'s value; for an error response with a `null` id it
    /// covers `null`.
    pub id_span: Option<Range<usize>>,
    /// The method of a request or notification, unescaped (borrowed when the
    /// JSON string has no escapes).
    pub method: Option<Cow<'a, str>>,
    /// Request: `params._meta.progressToken`; notification
    /// `notifications/progress`: `params.progressToken`. Only a number or a
    /// string counts; a token of another type is left alone (`None`).
    pub progress_token: Option<(RawId<'a>, Range<usize>)>,
    /// Notification `notifications/cancelled`: `params.requestId` (number or
    /// string).
    pub cancelled_id: Option<(RawId<'a>, Range<usize>)>,
    /// Response: the span of the `result` value.
    pub result_span: Option<Range<usize>>,
    /// Request `initialize`: `params.protocolVersion`, if it is a string.
    pub protocol_version: Option<Cow<'a, str>>,
    /// Request: what its `params._meta` says about the 2026-07-28
    /// revision (`None` when it has no `_meta` object).
    pub meta: Option<Meta<'a>>,
    /// Request `tools/call` or `prompts/get`: `params.name`;
    /// `resources/read`: `params.uri` — when a string (what the
    /// `Mcp-Name` header must equal).
    pub target: Option<Cow<'a, str>>,
    /// Notification: `params._meta["io.modelcontextprotocol/subscriptionId"]`
    /// (number or string): the listen it belongs to.
    pub subscription_id: Option<(RawId<'a>, Range<usize>)>,
}

/// The MCP 2026-07-28 keys of a request's `params._meta` object
/// (`io.modelcontextprotocol/…`), read in the same pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta<'a> {
    /// The span of the `_meta` object (braces included).
    pub span: Range<usize>,
    /// `…/protocolVersion`: `Some(Ok(version))` for a string,
    /// `Some(Err(span))` for a value of another type.
    pub version: Option<Result<Cow<'a, str>, Range<usize>>>,
    /// `…/clientCapabilities`: the span of its value (any type).
    pub capabilities: Option<Range<usize>>,
    /// `…/logLevel`: the span of its value (any type).
    pub log_level: Option<Range<usize>>,
}

/// Parses and classifies one JSON-RPC 2.0 message.
///
/// The whole input must be one JSON value (RFC 8259, UTF-8, surrounding
/// whitespace allowed, nesting ≤ 128), else `Err(MessageError::Parse)`
/// (JSON-RPC −32700). A top-level array is `Err(MessageError::Batch)`: see
/// [`split_batch`]. Valid JSON that is not a JSON-RPC 2.0 message is
/// `Err(MessageError::Invalid(why))` (−32600): not an object, `jsonrpc`
/// missing or not exactly `"2.0"`, `method` not a string, `id` not a number
/// or string (`null` is allowed only on error responses), both `result` and
/// `error`, a request or notification with `result` or `error`, a response
/// without `id`, neither `method` nor `result` nor `error`, or a duplicate
/// top-level key. A duplicate of a nested key this function reads
/// (`params._meta`, `params._meta.progressToken`, `params.progressToken`,
/// `params.requestId`, `params.protocolVersion`) is also `Invalid` when the
/// message's kind and method make that key matter: a peer that reads the last
/// duplicate must never see a different id than the one we routed on.
///
/// No allocation for typical messages: strings are borrowed unless escaped,
/// and only messages with unknown top-level keys build a set to find
/// duplicates among them.
///
/// # Examples
///
/// ```
/// use supergateway_proto::jsonrpc::{parse_message, Kind};
///
/// let input = br#"{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"_meta":{"progressToken":7}}}"#;
/// let msg = parse_message(input)?;
/// assert_eq!(msg.kind, Kind::Request);
/// assert_eq!(msg.id.unwrap().as_bytes(), b"\"a\"");
/// assert_eq!(&input[msg.id_span.unwrap()], b"\"a\"");
/// assert_eq!(msg.method.as_deref(), Some("tools/call"));
/// let (token, span) = msg.progress_token.unwrap();
/// assert_eq!((token.as_bytes(), &input[span]), (&b"7"[..], &b"7"[..]));
/// # Ok::<(), supergateway_proto::jsonrpc::MessageError>(())
/// ```
pub fn parse_message(input: &[u8]) -> Result<Message<'_>, MessageError> {
    // PROTOCOL.md 1.1.1: messages MUST be UTF-8. Validating up front also
    // makes every span a valid `str` range.
    let text = core::str::from_utf8(input).map_err(|_| MessageError::Parse)?;
    let mut cursor = Cursor::new(text);
    cursor.skip_ws();
    if cursor.peek() != Some(b'{') {
        let token = cursor.skip_value(0)?;
        expect_end(&mut cursor)?;
        return Err(match token.ty {
            Type::Array => MessageError::Batch,
            _ => MessageError::Invalid("not an object"),
        });
    }
    let mut envelope = Envelope::default();
    cursor.object(1, |cursor, key| envelope.member(cursor, key))?;
    expect_end(&mut cursor)?;
    envelope.finish(&cursor, input)
}

/// Splits a JSON array (a JSON-RPC batch, revision 2025-03-26 only) into
/// the byte ranges of its elements, for [`parse_message`] one by one.
///
/// `Err(Parse)` for invalid JSON, `Err(Invalid)` for a value that is not an
/// array or an empty array (JSON-RPC 2.0 §6).
///
/// # Examples
///
/// ```
/// use supergateway_proto::jsonrpc::split_batch;
///
/// let input = br#" [ {"a":1} , 2 ] "#;
/// let spans = split_batch(input)?;
/// assert_eq!(spans, [3..10, 13..14]);
/// # Ok::<(), supergateway_proto::jsonrpc::MessageError>(())
/// ```
pub fn split_batch(input: &[u8]) -> Result<Vec<Range<usize>>, MessageError> {
    let text = core::str::from_utf8(input).map_err(|_| MessageError::Parse)?;
    let mut cursor = Cursor::new(text);
    cursor.skip_ws();
    if cursor.peek() != Some(b'[') {
        cursor.skip_value(0)?;
        expect_end(&mut cursor)?;
        return Err(MessageError::Invalid("not an array"));
    }
    let spans = cursor.array_spans(1)?;
    expect_end(&mut cursor)?;
    if spans.is_empty() {
        return Err(MessageError::Invalid("empty batch"));
    }
    Ok(spans)
}

/// Only whitespace may follow the value (RFC 8259 §2).
fn expect_end(cursor: &mut Cursor<'_>) -> Result<(), MessageError> {
    cursor.skip_ws();
    if cursor.at_end() {
        Ok(())
    } else {
        Err(MessageError::Parse)
    }
}

/// The top-level members seen so far. A field is `Some` once its key has
/// been seen; a second occurrence sets `duplicate`.
#[derive(Default)]
struct Envelope<'a> {
    /// `Some(true)` when `jsonrpc` is the string `"2.0"`.
    jsonrpc: Option<bool>,
    id: Option<Token>,
    method: Option<Token>,
    params: Option<Params>,
    result: Option<Range<usize>>,
    error: Option<Range<usize>>,
    /// A top-level key occurred twice.
    duplicate: bool,
    /// Unknown top-level keys, to detect their duplicates. Created only when
    /// the message has an unknown key.
    others: Option<HashSet<Cow<'a, str>>>,
    /// A key of the envelope, of `params` or of `params._meta` equals a
    /// routing key under case folding without being that key.
    case_variant: bool,
}

/// Candidates read from `params` before the method is known (keys may come
/// in any order). Which one counts is decided in [`Envelope::finish`].
#[derive(Default)]
struct Params {
    /// See [`Envelope::case_variant`].
    case_variant: bool,
    meta: bool,
    /// The span of `_meta` when it is an object.
    meta_span: Option<Range<usize>>,
    meta_progress_token: Slot,
    meta_version: Slot,
    meta_capabilities: Slot,
    meta_log_level: Slot,
    meta_subscription: Slot,
    name: Slot,
    uri: Slot,
    progress_token: Slot,
    request_id: Slot,
    protocol_version: Slot,
}

/// One nested value we may route on, and whether its key (or an enclosing
/// key) was duplicated.
#[derive(Default)]
struct Slot {
    token: Option<Token>,
    duplicate: bool,
}

impl Slot {
    fn set(&mut self, token: Token) {
        self.duplicate |= self.token.is_some();
        self.token = Some(token);
    }

    /// The value if it is a string; `Invalid` if duplicated.
    fn string<'a>(&self, cursor: &Cursor<'a>) -> Result<Option<Cow<'a, str>>, MessageError> {
        if self.duplicate {
            return Err(MessageError::Invalid("duplicate key in params"));
        }
        Ok(self
            .token
            .as_ref()
            .and_then(|token| cursor.string_value(token)))
    }

    /// The token if it is a number or string; `Invalid` if duplicated.
    fn id<'a>(&self, input: &'a [u8]) -> Result<Option<(RawId<'a>, Range<usize>)>, MessageError> {
        if self.duplicate {
            return Err(MessageError::Invalid("duplicate key in params"));
        }
        Ok(self
            .token
            .as_ref()
            .and_then(|token| scalar_id(token, input)))
    }
}

impl<'a> Envelope<'a> {
    /// Reads one top-level member; the cursor is on its value.
    fn member(&mut self, cursor: &mut Cursor<'a>, key: &Token) -> Result<(), MessageError> {
        let name = cursor
            .string_value(key)
            .ok_or(MessageError::Internal("key is not a string"))?;
        let seen = match &*name {
            "jsonrpc" => {
                let token = cursor.skip_value(1)?;
                self.jsonrpc
                    .replace(cursor.string_is(&token, "2.0"))
                    .is_some()
            }
            "id" => self.id.replace(cursor.skip_value(1)?).is_some(),
            "method" => self.method.replace(cursor.skip_value(1)?).is_some(),
            "params" => {
                let mut params = Params::default();
                if cursor.peek() == Some(b'{') {
                    params.scan(cursor)?;
                } else {
                    cursor.skip_value(1)?;
                }
                self.params.replace(params).is_some()
            }
            "result" => self.result.replace(cursor.skip_value(1)?.span).is_some(),
            "error" => self.error.replace(cursor.skip_value(1)?.span).is_some(),
            _ => {
                cursor.skip_value(1)?;
                self.case_variant |= is_case_variant(&name);
                !self.others.get_or_insert_with(HashSet::new).insert(name)
            }
        };
        self.duplicate |= seen;
        Ok(())
    }

    /// Applies the JSON-RPC 2.0 rules to the members seen.
    fn finish(self, cursor: &Cursor<'a>, input: &'a [u8]) -> Result<Message<'a>, MessageError> {
        if self.duplicate {
            return Err(MessageError::Invalid("duplicate key"));
        }
        if self.case_variant
            || self
                .params
                .as_ref()
                .is_some_and(|params| params.case_variant)
        {
            return Err(MessageError::Invalid(
                "a key differs from a routing key only in letter case",
            ));
        }
        match self.jsonrpc {
            Some(true) => {}
            Some(false) => return Err(MessageError::Invalid("\"jsonrpc\" is not \"2.0\"")),
            None => return Err(MessageError::Invalid("missing \"jsonrpc\"")),
        }
        let method = match &self.method {
            Some(token) => Some(
                cursor
                    .string_value(token)
                    .ok_or(MessageError::Invalid("method is not a string"))?,
            ),
            None => None,
        };
        let kind = match (
            method.is_some(),
            self.result.is_some(),
            self.error.is_some(),
        ) {
            (true, false, false) if self.id.is_some() => Kind::Request,
            (true, false, false) => Kind::Notification,
            (true, _, _) => {
                return Err(MessageError::Invalid(
                    "request or notification with result or error",
                ))
            }
            (false, true, true) => return Err(MessageError::Invalid("both result and error")),
            (false, true, false) => Kind::Response,
            (false, false, true) => Kind::ErrorResponse,
            (false, false, false) => {
                return Err(MessageError::Invalid("neither method, result nor error"))
            }
        };
        let (id, id_span) = match &self.id {
            Some(token) => match (scalar_id(token, input), token.ty) {
                (Some((raw, span)), _) => (Some(raw), Some(span)),
                (None, Type::Null) if kind == Kind::ErrorResponse => {
                    (None, Some(token.span.clone()))
                }
                (None, _) => return Err(MessageError::Invalid("id is not a number or string")),
            },
            None if kind == Kind::Notification => (None, None),
            None => return Err(MessageError::Invalid("response without id")),
        };
        let mut message = Message {
            kind,
            id,
            id_span,
            method: None,
            progress_token: None,
            cancelled_id: None,
            result_span: self.result,
            protocol_version: None,
            meta: None,
            target: None,
            subscription_id: None,
        };
        if let Some(params) = &self.params {
            match (kind, method.as_deref()) {
                (Kind::Request, Some(name)) => {
                    message.progress_token = params.meta_progress_token.id(input)?;
                    if name == "initialize" {
                        message.protocol_version = params.protocol_version(cursor)?;
                    }
                    message.meta = params.meta(cursor)?;
                    let target = match name {
                        "tools/call" | "prompts/get" => Some(&params.name),
                        "resources/read" => Some(&params.uri),
                        _ => None,
                    };
                    if let Some(slot) = target {
                        message.target = slot.string(cursor)?;
                    }
                }
                (Kind::Notification, Some("notifications/progress")) => {
                    message.progress_token = params.progress_token.id(input)?;
                }
                (Kind::Notification, Some("notifications/cancelled")) => {
                    message.cancelled_id = params.request_id.id(input)?;
                }
                (Kind::Notification, _) if params.meta_subscription.token.is_some() => {
                    message.subscription_id = params.meta_subscription.id(input)?;
                }
                _ => {}
            }
        }
        message.method = method;
        Ok(message)
    }
}

impl Params {
    /// Scans the `params` object (nesting level 2) and its `_meta` (level 3).
    fn scan(&mut self, cursor: &mut Cursor<'_>) -> Result<(), MessageError> {
        cursor.object(2, |cursor, key| {
            let name = cursor
                .string_value(key)
                .ok_or(MessageError::Internal("key is not a string"))?;
            match &*name {
                "_meta" => {
                    // A second `_meta` makes its token ambiguous too.
                    self.meta_progress_token.duplicate |= self.meta;
                    self.meta_version.duplicate |= self.meta;
                    self.meta_subscription.duplicate |= self.meta;
                    self.meta_span = None;
                    self.meta = true;
                    if cursor.peek() == Some(b'{') {
                        let start = cursor.pos();
                        let case_variant = &mut self.case_variant;
                        let (progress, version, capabilities, log_level, subscription) = (
                            &mut self.meta_progress_token,
                            &mut self.meta_version,
                            &mut self.meta_capabilities,
                            &mut self.meta_log_level,
                            &mut self.meta_subscription,
                        );
                        cursor.object(3, |cursor, key| {
                            let token = cursor.skip_value(3)?;
                            let name = cursor
                                .string_value(key)
                                .ok_or(MessageError::Internal("key is not a string"))?;
                            match &*name {
                                "progressToken" => progress.set(token),
                                meta::PROTOCOL_VERSION => version.set(token),
                                meta::CLIENT_CAPABILITIES => capabilities.set(token),
                                meta::LOG_LEVEL => log_level.set(token),
                                meta::SUBSCRIPTION_ID => subscription.set(token),
                                _ => *case_variant |= is_case_variant(&name),
                            }
                            Ok(())
                        })?;
                        self.meta_span = Some(start..cursor.pos());
                    } else {
                        cursor.skip_value(2)?;
                    }
                }
                "progressToken" => self.progress_token.set(cursor.skip_value(2)?),
                "requestId" => self.request_id.set(cursor.skip_value(2)?),
                "protocolVersion" => self.protocol_version.set(cursor.skip_value(2)?),
                "name" => self.name.set(cursor.skip_value(2)?),
                "uri" => self.uri.set(cursor.skip_value(2)?),
                _ => {
                    self.case_variant |= is_case_variant(&name);
                    cursor.skip_value(2)?;
                }
            }
            Ok(())
        })
    }

    /// The 2026-07-28 keys of `_meta`, when `_meta` is an object.
    fn meta<'a>(&self, cursor: &Cursor<'a>) -> Result<Option<Meta<'a>>, MessageError> {
        let Some(span) = self.meta_span.clone() else {
            return Ok(None);
        };
        for slot in [
            &self.meta_version,
            &self.meta_capabilities,
            &self.meta_log_level,
        ] {
            if slot.duplicate {
                return Err(MessageError::Invalid("duplicate key in params._meta"));
            }
        }
        let version = self
            .meta_version
            .token
            .as_ref()
            .map(|token| cursor.string_value(token).ok_or_else(|| token.span.clone()));
        let span_of = |slot: &Slot| slot.token.as_ref().map(|token| token.span.clone());
        Ok(Some(Meta {
            span,
            version,
            capabilities: span_of(&self.meta_capabilities),
            log_level: span_of(&self.meta_log_level),
        }))
    }

    fn protocol_version<'a>(
        &self,
        cursor: &Cursor<'a>,
    ) -> Result<Option<Cow<'a, str>>, MessageError> {
        let slot = &self.protocol_version;
        if slot.duplicate {
            return Err(MessageError::Invalid("duplicate key in params"));
        }
        Ok(slot
            .token
            .as_ref()
            .and_then(|token| cursor.string_value(token)))
    }
}

/// Every key the gateway or a peer routes on, in any object the gateway
/// reads (the envelope, `params`, `params._meta`), spelled as MCP spells it.
const ROUTING_KEYS: [&str; 15] = [
    "jsonrpc",
    "id",
    "method",
    "params",
    "result",
    "error",
    "requestId",
    "progressToken",
    "_meta",
    "name",
    "uri",
    "requestState",
    "inputResponses",
    "subscriptionId",
    "protocolVersion",
];

/// True when `key` is not one of [`ROUTING_KEYS`] but equals one of them
/// under ASCII case folding or Unicode simple case folding. A peer whose
/// JSON decoder matches keys case-insensitively (Go's `encoding/json`, as in
/// CVE-2026-27896) would read such a key as the routing key, and see a value
/// the gateway did not route on. Only two non-ASCII characters fold to ASCII
/// letters: U+017F (long s → `s`) and U+212A (Kelvin sign → `k`).
pub(crate) fn is_case_variant(key: &str) -> bool {
    const MAX: usize = 15; // the longest routing key ("protocolVersion")
    let mut folded = [0u8; MAX];
    let mut len = 0usize;
    for c in key.chars() {
        let byte = match c {
            '\u{17f}' => b's',
            '\u{212a}' => b'k',
            c if c.is_ascii() => (c as u8).to_ascii_lowercase(),
            _ => return false,
        };
        let Some(slot) = folded.get_mut(len) else {
            return false;
        };
        *slot = byte;
        len = len.saturating_add(1);
    }
    let folded = folded.get(..len).unwrap_or_default();
    ROUTING_KEYS
        .iter()
        .any(|routing| *routing != key && routing.as_bytes().eq_ignore_ascii_case(folded))
}

/// The id text of a number or string token.
fn scalar_id<'a>(token: &Token, input: &'a [u8]) -> Option<(RawId<'a>, Range<usize>)> {
    match token.ty {
        Type::Number | Type::String { .. } => {
            let raw = input.get(token.span.clone())?;
            Some((RawId::new_unchecked(raw), token.span.clone()))
        }
        _ => None,
    }
}
