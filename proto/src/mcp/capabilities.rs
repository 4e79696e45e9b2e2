//! `ClientCapabilities` (MCP 2026-07-28 schema) as the gateway needs it: a
//! set of bits saying which input requests a client can answer, read from
//! the `io.modelcontextprotocol/clientCapabilities` object of a request's
//! `_meta`, and written back as the `requiredCapabilities` object of a
//! -32021 `MissingRequiredClientCapability` error (design a.1, c.5).
//!
//! Presence is what counts: `"roots": {}` declares roots. The sub-objects'
//! contents (`listChanged` and the like) are not read. `elicitation: {}`
//! declares form mode (the schema example "form mode only (implicit)");
//! `elicitation: {"url": {}}` declares URL mode only. `experimental`,
//! `extensions` and unknown members are skipped (still validated as JSON).

use std::fmt;

use crate::jsonrpc::{Cursor, JsonType, Token};

/// A set of client capabilities.
///
/// # Examples
///
/// ```
/// use supergateway_proto::mcp::Capabilities;
///
/// let declared = Capabilities::parse(br#"{"sampling":{"tools":{}},"elicitation":{}}"#)?;
/// assert!(declared.contains(Capabilities::SAMPLING | Capabilities::SAMPLING_TOOLS));
/// assert!(declared.contains(Capabilities::ELICITATION_FORM));
/// assert!(!declared.contains(Capabilities::ELICITATION_URL));
///
/// let mut data = Vec::new();
/// Capabilities::ELICITATION_FORM.write_object(&mut data);
/// assert_eq!(data, br#"{"elicitation":{}}"#);
/// # Ok::<(), supergateway_proto::mcp::CapabilitiesError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Capabilities(u8);

impl Capabilities {
    /// No capability.
    pub const NONE: Self = Self(0);
    /// `roots`: the client answers `roots/list`.
    pub const ROOTS: Self = Self(1);
    /// `sampling`: the client answers `sampling/createMessage`.
    pub const SAMPLING: Self = Self(1 << 1);
    /// `sampling.tools`: … with `tools` and `toolChoice`.
    pub const SAMPLING_TOOLS: Self = Self(1 << 2);
    /// `sampling.context`: … with `includeContext` other than `"none"`.
    pub const SAMPLING_CONTEXT: Self = Self(1 << 3);
    /// `elicitation` (form mode): the client answers form `elicitation/create`.
    pub const ELICITATION_FORM: Self = Self(1 << 4);
    /// `elicitation.url`: … URL-mode `elicitation/create`.
    pub const ELICITATION_URL: Self = Self(1 << 5);

    /// Reads the bits of a `ClientCapabilities` JSON object.
    ///
    /// # Errors
    ///
    /// [`CapabilitiesError::Json`] when `object` is not one JSON value
    /// (whitespace around it allowed); [`CapabilitiesError::NotObject`] when
    /// it, or the value of `roots`, `sampling`, `sampling.tools`,
    /// `sampling.context`, `elicitation`, `elicitation.form` or
    /// `elicitation.url`, is not an object (`null` counts as absent, as the
    /// SDKs' optional fields read it); [`CapabilitiesError::Duplicate`] when
    /// one of those keys appears twice in its object (two readers could
    /// disagree on which one counts). The caller answers -32602.
    pub fn parse(object: &[u8]) -> Result<Self, CapabilitiesError> {
        let text = std::str::from_utf8(object).map_err(|_| CapabilitiesError::Json)?;
        let mut cursor = Cursor::new(text);
        cursor.skip_ws();
        if cursor.peek() != Some(b'{') {
            // Validate first so that junk is `Json`, not `NotObject`.
            cursor.skip_value(0).map_err(|_| CapabilitiesError::Json)?;
            end(&mut cursor)?;
            return Err(CapabilitiesError::NotObject);
        }
        let mut bits = Self::NONE;
        let mut seen = Self::NONE;
        let mut failure = None;
        let scanned = cursor.object(1, |cursor, key| {
            // (duplicate marker, bits the key declares itself, how to read it)
            let (marker, own, rule) = if cursor.string_is(key, "roots") {
                (Self::ROOTS, Self::ROOTS, Section::Leaf)
            } else if cursor.string_is(key, "sampling") {
                (Self::SAMPLING, Self::SAMPLING, Section::Sampling)
            } else if cursor.string_is(key, "elicitation") {
                (Self::ELICITATION_FORM, Self::NONE, Section::Elicitation)
            } else {
                return cursor.skip_value(1).map(drop);
            };
            if seen.contains(marker) {
                failure.get_or_insert(CapabilitiesError::Duplicate);
            }
            seen = seen | marker;
            match member(cursor, 2, rule) {
                Ok(Some(inner)) => bits = bits | own | inner,
                Ok(None) => {}
                Err(Some(error)) => {
                    failure.get_or_insert(error);
                }
                Err(None) => return Err(crate::jsonrpc::MessageError::Parse),
            }
            Ok(())
        });
        scanned.map_err(|_| CapabilitiesError::Json)?;
        end(&mut cursor)?;
        failure.map_or(Ok(bits), Err)
    }

    /// Whether every bit of `other` is set in `self`.
    #[must_use]
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The bits of `self` that `declared` lacks: what a request needs but
    /// the client did not declare (empty when it may proceed).
    #[must_use]
    pub fn missing_from(self, declared: Self) -> Self {
        Self(self.0 & !declared.0)
    }

    /// Whether no bit is set.
    #[must_use]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Appends the `ClientCapabilities` object declaring exactly these bits,
    /// members in a fixed order (`elicitation`, `roots`, `sampling`): the
    /// `data.requiredCapabilities` of a -32021 error. A `sampling.*` bit
    /// implies `sampling`; `elicitation` form mode alone is written `{}`,
    /// as the schema's example writes it.
    pub fn write_object(self, out: &mut Vec<u8>) {
        out.push(b'{');
        let mut first = true;
        let mut open = |out: &mut Vec<u8>, name: &[u8]| {
            if !first {
                out.push(b',');
            }
            first = false;
            out.push(b'"');
            out.extend_from_slice(name);
            out.extend_from_slice(b"\":");
        };
        let form = self.contains(Self::ELICITATION_FORM);
        let url = self.contains(Self::ELICITATION_URL);
        if form || url {
            open(out, b"elicitation");
            out.extend_from_slice(match (form, url) {
                (true, false) => b"{}",
                (true, true) => br#"{"form":{},"url":{}}"#,
                _ => br#"{"url":{}}"#,
            });
        }
        if self.contains(Self::ROOTS) {
            open(out, b"roots");
            out.extend_from_slice(b"{}");
        }
        let tools = self.contains(Self::SAMPLING_TOOLS);
        let context = self.contains(Self::SAMPLING_CONTEXT);
        if self.contains(Self::SAMPLING) || tools || context {
            open(out, b"sampling");
            out.extend_from_slice(match (context, tools) {
                (false, false) => b"{}",
                (true, false) => br#"{"context":{}}"#,
                (false, true) => br#"{"tools":{}}"#,
                (true, true) => br#"{"context":{},"tools":{}}"#,
            });
        }
        out.push(b'}');
    }
}

impl std::ops::BitOr for Capabilities {
    type Output = Self;

    fn bitor(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// Why a capabilities object was refused.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapabilitiesError {
    /// A capability key appears twice in one object.
    Duplicate,
    /// Not UTF-8, or not exactly one JSON value.
    Json,
    /// The value, or a capability member's value, is not an object.
    NotObject,
}

impl fmt::Display for CapabilitiesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Duplicate => "duplicate key in clientCapabilities",
            Self::Json => "clientCapabilities is not valid JSON",
            Self::NotObject => "clientCapabilities (or one of its members) is not an object",
        })
    }
}

impl std::error::Error for CapabilitiesError {}

/// How to read one capability member's value.
#[derive(Clone, Copy)]
enum Section {
    /// `roots`, `sampling.*`, `elicitation.*`: an object, contents ignored.
    Leaf,
    /// `elicitation`: `form` and `url` inside; neither means form.
    Elicitation,
    /// `sampling`: `context` and `tools` inside.
    Sampling,
}

/// Reads the value under the cursor per `rule`: `None` for `null` (absent),
/// else the bits its members declare (`Leaf`: none; `elicitation` with
/// neither `form` nor `url`: form). `Err(Some(_))` for a shape error (the
/// value was still consumed, so the scan goes on and a later JSON error
/// wins); `Err(None)` for invalid JSON.
fn member(
    cursor: &mut Cursor<'_>,
    depth: usize,
    rule: Section,
) -> Result<Option<Capabilities>, Option<CapabilitiesError>> {
    match cursor.peek() {
        Some(b'{') => {}
        Some(b'n') => {
            let token = cursor.skip_value(depth).map_err(|_| None)?;
            return if token.ty == JsonType::Null {
                Ok(None)
            } else {
                Err(None)
            };
        }
        _ => {
            cursor.skip_value(depth).map_err(|_| None)?;
            return Err(Some(CapabilitiesError::NotObject));
        }
    }
    let inner: [(&str, Capabilities); 2] = match rule {
        Section::Leaf => {
            cursor.skip_value(depth).map_err(|_| None)?;
            return Ok(Some(Capabilities::NONE));
        }
        Section::Sampling => [
            ("context", Capabilities::SAMPLING_CONTEXT),
            ("tools", Capabilities::SAMPLING_TOOLS),
        ],
        Section::Elicitation => [
            ("form", Capabilities::ELICITATION_FORM),
            ("url", Capabilities::ELICITATION_URL),
        ],
    };
    let mut found = Capabilities::NONE;
    let mut seen = Capabilities::NONE;
    let mut failure = None;
    cursor
        .object(depth, |cursor, key: &Token| {
            let Some(&(_, bit)) = inner.iter().find(|(name, _)| cursor.string_is(key, name)) else {
                return cursor.skip_value(depth).map(drop);
            };
            if seen.contains(bit) {
                failure.get_or_insert(CapabilitiesError::Duplicate);
            }
            seen = seen | bit;
            match member(cursor, depth.saturating_add(1), Section::Leaf) {
                Ok(Some(_)) => found = found | bit,
                Ok(None) => {}
                Err(Some(error)) => {
                    failure.get_or_insert(error);
                }
                Err(None) => return Err(crate::jsonrpc::MessageError::Parse),
            }
            Ok(())
        })
        .map_err(|_| None)?;
    if let Some(error) = failure {
        return Err(Some(error));
    }
    Ok(Some(match rule {
        // Neither mode named: form, the implicit default.
        Section::Elicitation if found.is_empty() => Capabilities::ELICITATION_FORM,
        _ => found,
    }))
}

/// Whitespace, then the end of the input.
fn end(cursor: &mut Cursor<'_>) -> Result<(), CapabilitiesError> {
    cursor.skip_ws();
    if cursor.at_end() {
        Ok(())
    } else {
        Err(CapabilitiesError::Json)
    }
}

#[cfg(test)]
mod tests {
    use super::{Capabilities as C, CapabilitiesError as E};

    fn all(bits: &[C]) -> C {
        bits.iter().fold(C::NONE, |a, &b| a | b)
    }

    #[test]
    fn accept_table() {
        for (object, bits) in [
            ("{}", C::NONE),
            (" { } ", C::NONE),
            (r#"{"roots":{}}"#, C::ROOTS),
            (r#"{"roots":{"listChanged":true}}"#, C::ROOTS),
            (r#"{"roots":null}"#, C::NONE),
            (r#"{"sampling":{}}"#, C::SAMPLING),
            (
                r#"{"sampling":{"tools":{}}}"#,
                all(&[C::SAMPLING, C::SAMPLING_TOOLS]),
            ),
            (
                r#"{"sampling":{"context":{}}}"#,
                all(&[C::SAMPLING, C::SAMPLING_CONTEXT]),
            ),
            (
                r#"{"sampling":{"context":{},"tools":{"x":1}}}"#,
                all(&[C::SAMPLING, C::SAMPLING_CONTEXT, C::SAMPLING_TOOLS]),
            ),
            (r#"{"sampling":{"tools":null}}"#, C::SAMPLING),
            (r#"{"elicitation":{}}"#, C::ELICITATION_FORM),
            (r#"{"elicitation":{"form":{}}}"#, C::ELICITATION_FORM),
            (r#"{"elicitation":{"url":{}}}"#, C::ELICITATION_URL),
            (
                r#"{"elicitation":{"form":{},"url":{}}}"#,
                all(&[C::ELICITATION_FORM, C::ELICITATION_URL]),
            ),
            // Unknown members inside do not name a mode: still form.
            (r#"{"elicitation":{"other":{}}}"#, C::ELICITATION_FORM),
            (r#"{"elicitation":{"url":null}}"#, C::ELICITATION_FORM),
            (r#"{"elicitation":null}"#, C::NONE),
            // Escaped keys are read unescaped.
            (r#"{"\u0072oots":{}}"#, C::ROOTS),
            // Skipped: experimental, extensions, unknown, nested look-alikes.
            (
                r#"{"experimental":{"roots":{}},"extensions":{"io.x/y":{"sampling":{}}},"x":[1,{"elicitation":{}}]}"#,
                C::NONE,
            ),
            // Case matters: "Roots" is an unknown member.
            (r#"{"Roots":{}}"#, C::NONE),
            (
                r#"{"roots":{},"sampling":{"tools":{}},"elicitation":{"form":{},"url":{}}}"#,
                all(&[
                    C::ROOTS,
                    C::SAMPLING,
                    C::SAMPLING_TOOLS,
                    C::ELICITATION_FORM,
                    C::ELICITATION_URL,
                ]),
            ),
        ] {
            assert_eq!(C::parse(object.as_bytes()), Ok(bits), "{object}");
        }
    }

    #[test]
    fn reject_table() {
        for (object, error) in [
            ("", E::Json),
            ("{", E::Json),
            ("{}}", E::Json),
            ("{} {}", E::Json),
            (r#"{"roots":{}"#, E::Json),
            (r#"{"roots":}"#, E::Json),
            (r#"{"sampling":{"tools":{}}"#, E::Json),
            (r#"{"sampling":{"tools":nul}}"#, E::Json),
            (r#"{"roots":{} "x":1}"#, E::Json),
            ("\u{feff}{}", E::Json),
            ("[]", E::NotObject),
            ("null", E::NotObject),
            ("\"roots\"", E::NotObject),
            (r#"{"roots":true}"#, E::NotObject),
            (r#"{"roots":[]}"#, E::NotObject),
            (r#"{"sampling":"yes"}"#, E::NotObject),
            (r#"{"sampling":{"tools":true}}"#, E::NotObject),
            (r#"{"elicitation":{"url":1}}"#, E::NotObject),
            (r#"{"elicitation":[]}"#, E::NotObject),
            (r#"{"roots":{},"roots":{}}"#, E::Duplicate),
            (r#"{"roots":{},"\u0072oots":null}"#, E::Duplicate),
            (
                r#"{"elicitation":{},"elicitation":{"url":{}}}"#,
                E::Duplicate,
            ),
            (r#"{"sampling":{"tools":{},"tools":{}}}"#, E::Duplicate),
            (r#"{"elicitation":{"url":{},"url":null}}"#, E::Duplicate),
            // A JSON error anywhere wins over a shape error before it.
            (r#"{"roots":true,"x":}"#, E::Json),
        ] {
            assert_eq!(C::parse(object.as_bytes()), Err(error), "{object}");
        }
        assert_eq!(C::parse(b"{\"x\":\"\xff\"}"), Err(E::Json));
    }

    #[test]
    fn write_object_table() {
        for (bits, object) in [
            (C::NONE, "{}"),
            (C::ROOTS, r#"{"roots":{}}"#),
            (C::SAMPLING, r#"{"sampling":{}}"#),
            (C::SAMPLING_TOOLS, r#"{"sampling":{"tools":{}}}"#),
            (
                all(&[C::SAMPLING, C::SAMPLING_CONTEXT, C::SAMPLING_TOOLS]),
                r#"{"sampling":{"context":{},"tools":{}}}"#,
            ),
            (C::ELICITATION_FORM, r#"{"elicitation":{}}"#),
            (C::ELICITATION_URL, r#"{"elicitation":{"url":{}}}"#),
            (
                all(&[C::ELICITATION_FORM, C::ELICITATION_URL, C::ROOTS]),
                r#"{"elicitation":{"form":{},"url":{}},"roots":{}}"#,
            ),
        ] {
            let mut out = Vec::new();
            bits.write_object(&mut out);
            assert_eq!(String::from_utf8(out).unwrap(), object);
        }
    }

    #[test]
    fn write_then_parse_round_trips() {
        // Every combination where a sampling.* bit comes with sampling (the
        // writer implies it, so those are the sets that can round-trip).
        for raw in 0_u8..64 {
            let bits = C(raw);
            if (bits.contains(C::SAMPLING_TOOLS) || bits.contains(C::SAMPLING_CONTEXT))
                && !bits.contains(C::SAMPLING)
            {
                continue;
            }
            let mut out = Vec::new();
            bits.write_object(&mut out);
            assert_eq!(
                C::parse(&out),
                Ok(bits),
                "{}",
                String::from_utf8_lossy(&out)
            );
        }
        let needed = C::ELICITATION_URL | C::ROOTS;
        assert_eq!(needed.missing_from(C::ROOTS), C::ELICITATION_URL);
        assert!(needed.missing_from(needed | C::SAMPLING).is_empty());
    }
}
