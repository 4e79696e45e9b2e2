//! Tool, prompt and resource filtering (issue 17): which of a server's
//! tools, prompts and resources its clients may see and use.
//!
//! - Tools and prompts are named by globs: `*` matches any run of
//!   characters (none included), `?` exactly one character, everything
//!   else itself; a glob matches the whole name (anchored).
//! - Resources are named by URI prefixes (no wildcards): `file:///srv/`
//!   covers every URI that starts with it. URIs are hierarchical, so a
//!   prefix is what an operator means, and it needs no escaping for the
//!   `*` and `?` that URIs may contain.
//! - Each kind has an `allow` list (empty: everything is allowed) and a
//!   `deny` list, which wins over `allow`.
//! - A denied entry vanishes from `tools/list`, `prompts/list`,
//!   `resources/list` ([`Filter::rewrite_list`]); `tools/call`,
//!   `prompts/get` and `resources/read` naming it are
//!   answered with -32602 and the same message an absent one gets from
//!   the SDKs ("Unknown tool: NAME", [`Filter::check_request`]), so a
//!   denied tool looks like an absent one. So are `resources/subscribe`
//!   of a denied URI and `completion/complete` of a denied prompt or a
//!   hidden template ([`Filter::check_request_params`]); a
//!   `subscriptions/listen` loses its denied `resourceSubscriptions`
//!   ([`Filter::rewrite_listen`]) and `notifications/resources/updated`
//!   of a denied URI is dropped ([`Filter::passes_notification`]).
//! - A `resources/templates/list` entry is judged by the literal text of
//!   its `uriTemplate` before the first `{`: hidden when that text starts
//!   with a denied prefix (every expansion would be denied), or, with an
//!   allow list, when no allowed prefix is compatible with it (neither
//!   starts with the other). Reads are checked by exact URI anyway.
//!
//! Listings keep every byte but the dropped array elements (and the
//! commas between them): `nextCursor` and unknown members pass untouched,
//! so a page may come back shorter, even empty, which MCP allows.

use std::borrow::Cow;
use std::ops::Range;

use crate::jsonrpc::{array_elements, member_string, object_members, string_token, ValueKind};

/// Longest glob or prefix accepted, bytes.
pub const MAX_PATTERN_BYTES: usize = 512;
/// Most patterns in one list (allow or deny, per kind).
pub const MAX_PATTERNS: usize = 256;

/// Why a pattern was refused.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatternError {
    /// The pattern is empty.
    Empty,
    /// It holds a control character.
    Control,
    /// Longer than [`MAX_PATTERN_BYTES`].
    TooLong,
    /// More than [`MAX_PATTERNS`] in one list.
    TooMany,
}

impl core::fmt::Display for PatternError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Empty => "the pattern is empty",
            Self::Control => "the pattern holds a control character",
            Self::TooLong => "the pattern is longer than 512 bytes",
            Self::TooMany => "more than 256 patterns in one list",
        })
    }
}

/// A validated glob (`*` and `?` wildcards, anchored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob(Box<[char]>);

impl Glob {
    /// Parses `pattern`.
    ///
    /// # Examples
    ///
    /// ```
    /// use supergateway_proto::mcp::filter::Glob;
    ///
    /// let glob = Glob::parse("read_*")?;
    /// assert!(glob.matches("read_file"));
    /// assert!(!glob.matches("x_read_file"));
    /// # Ok::<(), supergateway_proto::mcp::filter::PatternError>(())
    /// ```
    pub fn parse(pattern: &str) -> Result<Self, PatternError> {
        check_pattern(pattern)?;
        Ok(Self(pattern.chars().collect()))
    }

    /// Whether `name` matches the whole glob. Linear backtracking to the
    /// last `*` only: at most len(name) × len(glob) steps.
    pub fn matches(&self, name: &str) -> bool {
        let name: Vec<char> = name.chars().collect();
        let glob = &self.0;
        let (mut g, mut n) = (0usize, 0usize);
        // Where the last `*` was, and the name position it resumes at.
        let mut star: Option<(usize, usize)> = None;
        loop {
            let here = name.get(n);
            match (glob.get(g), here) {
                (Some('*'), _) => {
                    star = Some((g, n));
                    g = g.saturating_add(1);
                    continue;
                }
                (Some('?'), Some(_)) => {
                    g = g.saturating_add(1);
                    n = n.saturating_add(1);
                    continue;
                }
                (Some(c), Some(h)) if c == h => {
                    g = g.saturating_add(1);
                    n = n.saturating_add(1);
                    continue;
                }
                (None, None) => return true,
                _ => {}
            }
            // Mismatch: let the last `*` take one more character.
            match star {
                Some((sg, sn)) if sn < name.len() => {
                    let sn = sn.saturating_add(1);
                    star = Some((sg, sn));
                    g = sg.saturating_add(1);
                    n = sn;
                }
                _ => return false,
            }
        }
    }
}

/// Which entries of one kind pass: `allow` (empty: all) minus `deny`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules<P> {
    allow: Vec<P>,
    deny: Vec<P>,
}

impl<P> Default for Rules<P> {
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            deny: Vec::new(),
        }
    }
}

impl<P> Rules<P> {
    /// No rule: everything passes.
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }
}

impl Rules<Glob> {
    /// Rules from glob strings.
    pub fn globs<S: AsRef<str>>(allow: &[S], deny: &[S]) -> Result<Self, PatternError> {
        Ok(Self {
            allow: parse_list(allow, Glob::parse)?,
            deny: parse_list(deny, Glob::parse)?,
        })
    }

    /// Whether `name` passes.
    pub fn allows(&self, name: &str) -> bool {
        (self.allow.is_empty() || self.allow.iter().any(|g| g.matches(name)))
            && !self.deny.iter().any(|g| g.matches(name))
    }
}

impl Rules<Box<str>> {
    /// Rules from URI prefixes.
    pub fn prefixes<S: AsRef<str>>(allow: &[S], deny: &[S]) -> Result<Self, PatternError> {
        let prefix = |p: &str| check_pattern(p).map(|()| Box::<str>::from(p));
        Ok(Self {
            allow: parse_list(allow, prefix)?,
            deny: parse_list(deny, prefix)?,
        })
    }

    /// Whether `uri` passes.
    pub fn allows(&self, uri: &str) -> bool {
        (self.allow.is_empty() || self.allow.iter().any(|p| uri.starts_with(&**p)))
            && !self.deny.iter().any(|p| uri.starts_with(&**p))
    }

    /// Whether a `uriTemplate` is shown (see the module doc).
    fn allows_template(&self, template: &str) -> bool {
        let literal = template.split('{').next().unwrap_or_default();
        let compatible = |p: &str| literal.starts_with(p) || p.starts_with(literal);
        (self.allow.is_empty() || self.allow.iter().any(|p| compatible(p)))
            && !self.deny.iter().any(|p| literal.starts_with(&**p))
    }
}

/// The filter of one server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Tools, by name.
    pub tools: Rules<Glob>,
    /// Prompts, by name.
    pub prompts: Rules<Glob>,
    /// Resources, by URI prefix.
    pub resources: Rules<Box<str>>,
}

/// A listing method whose result the filter rewrites.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum List {
    /// `prompts/list`: `prompts[].name`.
    Prompts,
    /// `resources/list`: `resources[].uri`.
    Resources,
    /// `resources/templates/list`: `resourceTemplates[].uriTemplate`.
    ResourceTemplates,
    /// `tools/list`: `tools[].name`.
    Tools,
}

impl List {
    /// The listing `method` is, if any.
    pub fn of(method: &str) -> Option<Self> {
        match method {
            "prompts/list" => Some(Self::Prompts),
            "resources/list" => Some(Self::Resources),
            "resources/templates/list" => Some(Self::ResourceTemplates),
            "tools/list" => Some(Self::Tools),
            _ => None,
        }
    }

    fn members(self) -> (&'static str, &'static str) {
        match self {
            Self::Prompts => ("prompts", "name"),
            Self::Resources => ("resources", "uri"),
            Self::ResourceTemplates => ("resourceTemplates", "uriTemplate"),
            Self::Tools => ("tools", "name"),
        }
    }
}

/// A listing that cannot be read (not an object, a repeated key, the
/// array not an array): it cannot be filtered, so it must not pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unreadable;

/// A request refused by the filter: answer with [`Refusal::CODE`] and
/// this message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal(pub String);

impl Refusal {
    /// JSON-RPC invalid params, what an unknown tool gets.
    pub const CODE: i32 = crate::jsonrpc::codes::INVALID_PARAMS;
}

impl Filter {
    /// No rule at all: nothing to rewrite or check.
    pub fn is_empty(&self) -> bool {
        self.tools.is_empty() && self.prompts.is_empty() && self.resources.is_empty()
    }

    /// Whether the filter touches the results of `list`.
    pub fn filters(&self, list: List) -> bool {
        match list {
            List::Tools => !self.tools.is_empty(),
            List::Prompts => !self.prompts.is_empty(),
            List::Resources | List::ResourceTemplates => !self.resources.is_empty(),
        }
    }

    /// The `result` of a `list` request with denied entries removed:
    /// `Ok(None)` when nothing was removed (send `result` as it is), the
    /// new result otherwise. Entries that are not objects or lack their
    /// name are removed too (nothing says they are allowed).
    ///
    /// # Examples
    ///
    /// ```
    /// use supergateway_proto::mcp::filter::{Filter, List, Rules};
    ///
    /// let filter = Filter { tools: Rules::globs(&[] as &[&str], &["delete_*"])?, ..Filter::default() };
    /// let result = br#"{"tools":[{"name":"read"},{"name":"delete_all"}],"nextCursor":"c2"}"#;
    /// let out = filter.rewrite_list(List::Tools, result).unwrap().unwrap();
    /// assert_eq!(out, br#"{"tools":[{"name":"read"}],"nextCursor":"c2"}"#);
    /// # Ok::<(), supergateway_proto::mcp::filter::PatternError>(())
    /// ```
    pub fn rewrite_list(&self, list: List, result: &[u8]) -> Result<Option<Vec<u8>>, Unreadable> {
        if !self.filters(list) {
            return Ok(None);
        }
        let (array_key, name_key) = list.members();
        let members = object_members(result).map_err(|_| Unreadable)?;
        let Some(array) = members.iter().find(|m| m.key == array_key) else {
            return Ok(None); // nothing listed
        };
        if array.kind != ValueKind::Array {
            return Err(Unreadable);
        }
        let raw = result.get(array.span.clone()).ok_or(Unreadable)?;
        let elements = array_elements(raw).map_err(|_| Unreadable)?;
        let mut kept: Vec<Range<usize>> = Vec::with_capacity(elements.len());
        for element in &elements {
            let Some(bytes) = raw.get(element.clone()) else {
                return Err(Unreadable);
            };
            let name = entry_name(bytes, name_key);
            let pass = name.is_some_and(|name| match list {
                List::Tools => self.tools.allows(&name),
                List::Prompts => self.prompts.allows(&name),
                List::Resources => self.resources.allows(&name),
                List::ResourceTemplates => self.resources.allows_template(&name),
            });
            if pass {
                kept.push(element.clone());
            }
        }
        if kept.len() == elements.len() {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(result.len());
        out.extend_from_slice(result.get(..array.span.start).ok_or(Unreadable)?);
        out.push(b'[');
        for (i, element) in kept.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(raw.get(element.clone()).ok_or(Unreadable)?);
        }
        out.push(b']');
        out.extend_from_slice(result.get(array.span.end..).ok_or(Unreadable)?);
        Ok(Some(out))
    }

    /// The refusal for a request `method` whose target (`params.name` of
    /// `tools/call` and `prompts/get`, `params.uri` of `resources/read`,
    /// as [`crate::jsonrpc::Message::target`] reads it) is denied; `None`
    /// for every other request. A request without a readable target
    /// passes: the server answers it as malformed.
    pub fn check_request(&self, method: &str, target: Option<&str>) -> Option<Refusal> {
        let target = target?;
        let message = match method {
            "tools/call" if !self.tools.allows(target) => format!("Unknown tool: {target}"),
            "prompts/get" if !self.prompts.allows(target) => format!("Unknown prompt: {target}"),
            "resources/read" if !self.resources.allows(target) => {
                format!("Resource not found: {target}")
            }
            _ => return None,
        };
        Some(Refusal(message))
    }
}

impl Filter {
    /// The refusal for a request whose target sits deeper in its params
    /// than [`crate::jsonrpc::Message::target`] reads: `resources/subscribe`
    /// (`params.uri`, refused like `resources/read`) and
    /// `completion/complete` (`params.ref`: a `ref/prompt`'s `name`,
    /// refused like `prompts/get`; a `ref/resource`'s `uri`, a template,
    /// refused like `resources/read` when `resources/templates/list` would
    /// hide it). `request` is the whole message. Params that cannot be
    /// read unambiguously (a repeated key) are refused too: the server
    /// might read the other copy. A missing or non-string target passes:
    /// the server answers it as malformed.
    ///
    /// # Examples
    ///
    /// ```
    /// use supergateway_proto::mcp::filter::{Filter, Rules};
    ///
    /// let filter = Filter { prompts: Rules::globs(&[] as &[&str], &["admin"])?, ..Filter::default() };
    /// let request = br#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"admin"},"argument":{"name":"a","value":""}}}"#;
    /// let refusal = filter.check_request_params("completion/complete", request).unwrap();
    /// assert_eq!(refusal.0, "Unknown prompt: admin");
    /// # Ok::<(), supergateway_proto::mcp::filter::PatternError>(())
    /// ```
    pub fn check_request_params(&self, method: &str, request: &[u8]) -> Option<Refusal> {
        let judged = match method {
            "resources/subscribe" => !self.resources.is_empty(),
            "completion/complete" => !self.prompts.is_empty() || !self.resources.is_empty(),
            _ => false,
        };
        if !judged {
            return None;
        }
        let unreadable = || Refusal("the request's params cannot be read".to_owned());
        let Ok(members) = object_members(request) else {
            return Some(unreadable());
        };
        let params = members.iter().find(|m| m.key == "params")?;
        if params.kind != ValueKind::Object {
            return None;
        }
        let params = request.get(params.span.clone())?;
        if method == "resources/subscribe" {
            let Ok(uri) = string_member(params, "uri") else {
                return Some(unreadable());
            };
            return uri
                .filter(|uri| !self.resources.allows(uri))
                .map(|uri| Refusal(format!("Resource not found: {uri}")));
        }
        let Ok(members) = object_members(params) else {
            return Some(unreadable());
        };
        let reference = members.iter().find(|m| m.key == "ref")?;
        let reference = params
            .get(reference.span.clone())
            .filter(|_| reference.kind == ValueKind::Object)?;
        let (Ok(kind), Ok(name), Ok(uri)) = (
            string_member(reference, "type"),
            string_member(reference, "name"),
            string_member(reference, "uri"),
        ) else {
            return Some(unreadable());
        };
        match kind.as_deref() {
            Some("ref/prompt") => name
                .filter(|name| !self.prompts.allows(name))
                .map(|name| Refusal(format!("Unknown prompt: {name}"))),
            Some("ref/resource") => uri
                .filter(|uri| !self.resources.allows_template(uri))
                .map(|uri| Refusal(format!("Resource not found: {uri}"))),
            _ => None,
        }
    }

    /// A `subscriptions/listen` request (the whole message) with the
    /// denied URIs taken out of `params.notifications.resourceSubscriptions`,
    /// so that the server is never subscribed to them: `Ok(None)` when
    /// nothing was taken out. Every other byte is kept. A listen whose
    /// params cannot be read unambiguously is [`Unreadable`] (refuse it);
    /// a malformed filter that is not ambiguous (the array not an array,
    /// an element not a string) passes for the server to refuse.
    ///
    /// # Examples
    ///
    /// ```
    /// use supergateway_proto::mcp::filter::{Filter, Rules};
    ///
    /// let filter = Filter { resources: Rules::prefixes(&[] as &[&str], &["secret://"])?, ..Filter::default() };
    /// let listen = br#"{"id":1,"params":{"notifications":{"resourceSubscriptions":["secret://k","file:///a"]}}}"#;
    /// let out = filter.rewrite_listen(listen).unwrap().unwrap();
    /// assert_eq!(out, br#"{"id":1,"params":{"notifications":{"resourceSubscriptions":["file:///a"]}}}"#);
    /// # Ok::<(), supergateway_proto::mcp::filter::PatternError>(())
    /// ```
    pub fn rewrite_listen(&self, request: &[u8]) -> Result<Option<Vec<u8>>, Unreadable> {
        if self.resources.is_empty() {
            return Ok(None);
        }
        // The span of the array, found object by object.
        let mut span = 0..request.len();
        for key in ["params", "notifications", "resourceSubscriptions"] {
            let object = request.get(span.clone()).ok_or(Unreadable)?;
            let members = object_members(object).map_err(|_| Unreadable)?;
            let Some(found) = members.iter().find(|m| m.key == key) else {
                return Ok(None);
            };
            let wanted = if key == "resourceSubscriptions" {
                ValueKind::Array
            } else {
                ValueKind::Object
            };
            if found.kind != wanted {
                return Ok(None);
            }
            let start = span.start.checked_add(found.span.start).ok_or(Unreadable)?;
            let end = span.start.checked_add(found.span.end).ok_or(Unreadable)?;
            span = start..end;
        }
        let raw = request.get(span.clone()).ok_or(Unreadable)?;
        let elements = array_elements(raw).map_err(|_| Unreadable)?;
        let mut kept: Vec<&[u8]> = Vec::with_capacity(elements.len());
        for element in &elements {
            let bytes = raw.get(element.clone()).ok_or(Unreadable)?;
            let Some(uri) = string_token(bytes) else {
                return Ok(None);
            };
            if self.resources.allows(&uri) {
                kept.push(bytes);
            }
        }
        if kept.len() == elements.len() {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(request.len());
        out.extend_from_slice(request.get(..span.start).ok_or(Unreadable)?);
        out.push(b'[');
        out.extend_from_slice(&kept.join(&b","[..]));
        out.push(b']');
        out.extend_from_slice(request.get(span.end..).ok_or(Unreadable)?);
        Ok(Some(out))
    }

    /// Whether a server notification (`line`, the whole message) may reach
    /// clients: a `notifications/resources/updated` about a denied URI may
    /// not, nor one whose `params.uri` cannot be read unambiguously while
    /// resources are filtered. Every other notification may.
    pub fn passes_notification(&self, method: &str, line: &[u8]) -> bool {
        if method != "notifications/resources/updated" || self.resources.is_empty() {
            return true;
        }
        let uri = object_members(line).ok().and_then(|members| {
            let params = members
                .iter()
                .find(|m| m.key == "params" && m.kind == ValueKind::Object)?;
            string_member(line.get(params.span.clone())?, "uri").ok()?
        });
        uri.is_some_and(|uri| self.resources.allows(&uri))
    }
}

/// The string member `key` of the object `object`: `Ok(None)` when absent
/// or not a string, `Err` when `object` cannot be read (a repeated key).
fn string_member<'a>(object: &'a [u8], key: &str) -> Result<Option<Cow<'a, str>>, Unreadable> {
    let members = object_members(object).map_err(|_| Unreadable)?;
    Ok(members
        .iter()
        .find(|m| m.key == key)
        .and_then(|m| member_string(object, m)))
}

/// The string member `key` of the JSON object `object`.
fn entry_name<'a>(object: &'a [u8], key: &str) -> Option<Cow<'a, str>> {
    let members = object_members(object).ok()?;
    let found = members.iter().find(|m| m.key == key)?;
    member_string(object, found)
}

fn check_pattern(pattern: &str) -> Result<(), PatternError> {
    if pattern.is_empty() {
        return Err(PatternError::Empty);
    }
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(PatternError::TooLong);
    }
    if pattern.chars().any(char::is_control) {
        return Err(PatternError::Control);
    }
    Ok(())
}

fn parse_list<S: AsRef<str>, P>(
    patterns: &[S],
    parse: impl Fn(&str) -> Result<P, PatternError>,
) -> Result<Vec<P>, PatternError> {
    if patterns.len() > MAX_PATTERNS {
        return Err(PatternError::TooMany);
    }
    patterns.iter().map(|p| parse(p.as_ref())).collect()
}

#[cfg(test)]
mod tests;
