//! `Mcp-Param-{Name}` headers of a 2026-07-28 `tools/call` against its
//! arguments (streamable-http.mdx §Server Behavior for Custom Headers,
//! §Server Validation; design b.1 rung 5, d.6). Which arguments are
//! mirrored comes from the tool's `x-mcp-header` annotations, as the relay
//! learned them from the `tools/list` results it carried
//! (`Relay::param_headers`); `Mcp-Param-*` headers that name no annotated
//! parameter are ignored, as the spec asks of anyone who does not
//! recognise them.

use supergateway_proto::http::RequestHead;
use supergateway_proto::jsonrpc::{object_members, ValueKind};
use supergateway_proto::mcp::x_mcp_header::{self, Param};

/// Checks each of `params` against its header. `Err` holds what follows
/// "Header mismatch: " in the -32020 answer (it names the header, never
/// echoes a value).
pub(super) fn check(head: &RequestHead, body: &[u8], params: &[Param]) -> Result<(), String> {
    let arguments = arguments(body);
    for param in params {
        let name = format!("mcp-param-{}", param.header);
        let mut values = head.header_values(&name);
        let value = values.next();
        if values.next().is_some() {
            // Two copies: an intermediary may have read either one.
            return Err(format!("Mcp-Param-{} given twice", param.header));
        }
        x_mcp_header::check(param, arguments, value)
            .map_err(|why| format!("Mcp-Param-{}: {why}", param.header))?;
    }
    Ok(())
}

/// The raw `params.arguments` value of a request, `{}` when it has none.
/// The body parsed as a message already, so a failure here only means
/// there is nothing to read.
fn arguments(body: &[u8]) -> &[u8] {
    let member = |object: &[u8], key: &str, kind: Option<ValueKind>| -> Option<_> {
        let members = object_members(object).ok()?;
        let found = members
            .into_iter()
            .find(|m| m.key == key && kind.is_none_or(|kind| m.kind == kind))?;
        Some(found.span)
    };
    member(body, "params", Some(ValueKind::Object))
        .and_then(|span| body.get(span))
        .and_then(|params| {
            let span = member(params, "arguments", None)?;
            params.get(span)
        })
        .unwrap_or(b"{}")
}
