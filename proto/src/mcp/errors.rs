//! The MCP 2026-07-28 errors that carry `data` (basic/index.mdx §Error
//! Codes; schema `UnsupportedProtocolVersionError`,
//! `MissingRequiredClientCapabilityError`), written in one place so every
//! transport sends the same bytes.

use super::{Capabilities, ENDPOINT_VERSIONS};
use crate::jsonrpc::{codes, encode_error_with_data, encode_string};

/// The message of every -32022 error (schema example text).
pub const UNSUPPORTED_VERSION_MESSAGE: &str = "Unsupported protocol version";

/// Appends the -32022 error *object* (the value of a response's `error`):
/// `{"code":-32022,"message":"Unsupported protocol version","data":{"supported":[…],"requested":"…"}}`,
/// `supported` being [`ENDPOINT_VERSIONS`] and `requested` the version the
/// client asked for, JSON-escaped. Both `data` members are required by the
/// schema; the conformance suite checks `supported` is a subset of
/// `server/discover`'s `supportedVersions`, which is the same list.
///
/// # Examples
///
/// ```
/// use supergateway_proto::mcp::errors::write_unsupported_version_error;
///
/// let mut out = Vec::new();
/// write_unsupported_version_error(&mut out, "v999.0.0");
/// assert_eq!(
///     String::from_utf8(out).unwrap(),
///     r#"{"code":-32022,"message":"Unsupported protocol version","data":{"supported":["2026-07-28","2025-11-25","2025-06-18","2025-03-26","2024-11-05"],"requested":"v999.0.0"}}"#
/// );
/// ```
pub fn write_unsupported_version_error(out: &mut Vec<u8>, requested: &str) {
    // `encode_error_with_data` writes a whole response; the error object is
    // its `error` member, so write that response shape's inner part here.
    out.extend_from_slice(b"{\"code\":-32022,\"message\":");
    encode_string(out, UNSUPPORTED_VERSION_MESSAGE);
    out.extend_from_slice(b",\"data\":");
    write_unsupported_version_data(out, requested);
    out.push(b'}');
}

/// Appends a whole -32022 response: `{"jsonrpc":"2.0","id":ID,"error":…}`
/// with the error object of [`write_unsupported_version_error`]. `id` is raw
/// JSON text, `None` for `null`.
///
/// # Examples
///
/// ```
/// use supergateway_proto::mcp::errors::encode_unsupported_version;
///
/// let mut out = Vec::new();
/// encode_unsupported_version(&mut out, Some(b"1"), "1900-01-01");
/// assert!(out.starts_with(br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32022,"#));
/// assert!(out.ends_with(br#""requested":"1900-01-01"}}}"#));
/// ```
pub fn encode_unsupported_version(out: &mut Vec<u8>, id: Option<&[u8]>, requested: &str) {
    let mut data = Vec::with_capacity(128);
    write_unsupported_version_data(&mut data, requested);
    encode_error_with_data(
        out,
        id,
        codes::UNSUPPORTED_PROTOCOL_VERSION,
        UNSUPPORTED_VERSION_MESSAGE,
        &data,
    );
}

/// Appends a whole -32021 response whose `data` is
/// `{"requiredCapabilities":<required as a ClientCapabilities object>}`.
///
/// # Examples
///
/// ```
/// use supergateway_proto::mcp::{errors::encode_missing_capability, Capabilities};
///
/// let mut out = Vec::new();
/// encode_missing_capability(
///     &mut out,
///     Some(b"1"),
///     "Server requires the elicitation capability for this request",
///     Capabilities::ELICITATION_FORM,
/// );
/// assert_eq!(
///     String::from_utf8(out).unwrap(),
///     r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32021,"message":"Server requires the elicitation capability for this request","data":{"requiredCapabilities":{"elicitation":{}}}}}"#
/// );
/// ```
pub fn encode_missing_capability(
    out: &mut Vec<u8>,
    id: Option<&[u8]>,
    message: &str,
    required: Capabilities,
) {
    let mut data = Vec::with_capacity(64);
    data.extend_from_slice(b"{\"requiredCapabilities\":");
    required.write_object(&mut data);
    data.push(b'}');
    encode_error_with_data(out, id, codes::MISSING_CLIENT_CAPABILITY, message, &data);
}

/// [`ENDPOINT_VERSIONS`] as a JSON array: `data.supported` of -32022 and
/// `supportedVersions` of the gateway's `server/discover` answers.
pub fn write_endpoint_versions(out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, version) in ENDPOINT_VERSIONS.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        encode_string(out, version);
    }
    out.push(b']');
}

/// `{"supported":[…],"requested":"…"}`.
pub fn write_unsupported_version_data(out: &mut Vec<u8>, requested: &str) {
    out.extend_from_slice(b"{\"supported\":");
    write_endpoint_versions(out);
    out.extend_from_slice(b",\"requested\":");
    encode_string(out, requested);
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::{encode_unsupported_version, write_unsupported_version_error};

    #[test]
    fn unsupported_version_shapes() {
        for requested in ["1900-01-01", "v999.0.0", "", "a\"b\\\n\u{1}é"] {
            let mut object = Vec::new();
            write_unsupported_version_error(&mut object, requested);
            let object: Value = serde_json::from_slice(&object).unwrap();
            assert_eq!(
                object,
                json!({"code": -32022, "message": "Unsupported protocol version",
                       "data": {"supported": ["2026-07-28", "2025-11-25", "2025-06-18",
                                              "2025-03-26", "2024-11-05"],
                                "requested": requested}})
            );
            let mut whole = Vec::new();
            encode_unsupported_version(&mut whole, None, requested);
            let whole: Value = serde_json::from_slice(&whole).unwrap();
            assert_eq!(
                whole,
                json!({"jsonrpc": "2.0", "id": null, "error": object})
            );
        }
        // The design's a.3 example, byte for byte apart from the list.
        let mut out = Vec::new();
        encode_unsupported_version(&mut out, Some(b"1"), "1900-01-01");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32022,"message":"Unsupported protocol version","data":{"supported":["2026-07-28","2025-11-25","2025-06-18","2025-03-26","2024-11-05"],"requested":"1900-01-01"}}}"#
        );
    }
}
