//! `x-mcp-header` annotations learned from the `tools/list` results the
//! relay carries (MCP 2026-07-28, basic/transports/streamable-http.mdx
//! §Custom Headers from Tool Parameters; design d.6).
//!
//! A server that processes the body MUST check each `Mcp-Param-{Name}`
//! header of a `tools/call` against the argument it mirrors, and only the
//! tool's `inputSchema` says which arguments those are. The gateway does
//! not list tools on its own: it reads the listings its clients asked for,
//! whatever their era, so the table holds what clients were shown (and so
//! built their headers from). A tool never listed through this relay has
//! nothing to check.
//!
//! Off the hot path: a client request costs one method comparison, a child
//! answer one emptiness test, unless a `tools/list` is in flight.
//!
//! - A listing asked for without `params.cursor` (a first page) replaces
//!   the table; later pages merge into it (a tool named again replaces its
//!   entry).
//! - A tool whose annotations are invalid (§Schema Extension: a client
//!   drops it) is kept as a marker, so it is checked against nothing and
//!   reported once, not at every listing.
//! - The table survives a child restart: clients keep the listing they had
//!   and build their headers from it until they list again.

use crate::jsonrpc::{object_members, ValueKind};
use crate::mcp::x_mcp_header::{self, Invalid, Param};

use super::*;

/// Tools (annotated or invalid) the table keeps. Bounds a child that lists
/// page after page of tools.
pub(super) const MAX_TOOLS: usize = 4096;
/// Bytes of tool names, headers and paths the table keeps (plus
/// [`ENTRY_OVERHEAD`] each): 1 MiB. Bounds a child with huge names.
pub(super) const MAX_BYTES: usize = 1 << 20;
/// What one entry costs beyond its strings.
const ENTRY_OVERHEAD: usize = 64;
/// `tools/list` requests tracked at once. Past it, the entries of requests
/// no longer in flight (cancelled, their answer dropped) are pruned; if all
/// are in flight, the new one teaches nothing.
const MAX_PENDING: usize = 64;

/// The learned annotations, by tool name.
#[derive(Default)]
pub(super) struct ToolParams {
    /// `tools/list` requests at the child, by gateway id: true when it asks
    /// for a first page (no cursor).
    pending: IntMap<u64, bool>,
    tools: HashMap<Box<str>, Learned>,
    /// What the entries of `tools` cost (see [`MAX_BYTES`]).
    bytes: usize,
    /// [`Report::ToolParamsFull`] was emitted since the last first page.
    full_reported: bool,
    /// A listing could not be read and that was reported; cleared by one
    /// that could.
    bad_listing_reported: bool,
}

enum Learned {
    Params(Box<[Param]>),
    Invalid(Invalid),
}

impl ToolParams {
    /// The parameters to check for `tool`: `None` when it has none, was
    /// never listed, or its annotations are invalid.
    pub(super) fn get(&self, tool: &str) -> Option<&[Param]> {
        match self.tools.get(tool)? {
            Learned::Params(params) => Some(params),
            Learned::Invalid(_) => None,
        }
    }

    /// Learns from the `result` of a listing; returns what to report.
    pub(super) fn learn(&mut self, result: &[u8], first_page: bool) -> Vec<Report> {
        let mut reports = Vec::new();
        let listed = match x_mcp_header::list_tools(result) {
            Ok(listed) => listed,
            Err(reason) => {
                if !std::mem::replace(&mut self.bad_listing_reported, true) {
                    reports.push(Report::InvalidToolSchema { tool: None, reason });
                }
                return reports;
            }
        };
        self.bad_listing_reported = false;
        let mut previous = HashMap::new();
        if first_page {
            previous = std::mem::take(&mut self.tools);
            self.bytes = 0;
            self.full_reported = false;
        }
        for tool in listed {
            let name = tool.name.as_ref();
            let known = match self.tools.remove(name) {
                Some(entry) => {
                    self.bytes = self.bytes.saturating_sub(cost(name, &entry));
                    Some(entry)
                }
                None => previous.remove(name),
            };
            let entry = match tool.input_schema.map(x_mcp_header::annotations) {
                None => continue,
                Some(Ok(params)) if params.is_empty() => continue,
                Some(Ok(params)) => Learned::Params(params.into_boxed_slice()),
                Some(Err(reason)) => {
                    let reported = matches!(known, Some(Learned::Invalid(old)) if old == reason);
                    if !reported {
                        reports.push(Report::InvalidToolSchema {
                            tool: Some(name.into()),
                            reason,
                        });
                    }
                    Learned::Invalid(reason)
                }
            };
            let bytes = cost(name, &entry);
            if self.tools.len() >= MAX_TOOLS || self.bytes.saturating_add(bytes) > MAX_BYTES {
                if !std::mem::replace(&mut self.full_reported, true) {
                    reports.push(Report::ToolParamsFull { tools: MAX_TOOLS });
                }
                continue;
            }
            self.bytes = self.bytes.saturating_add(bytes);
            self.tools.insert(name.into(), entry);
        }
        reports
    }
}

impl Relay {
    /// Hook for a client request relayed under `gateway_id`: a `tools/list`
    /// is remembered, so that its answer is learned from.
    pub(super) fn note_tools_list(&mut self, gateway_id: u64, bytes: &[u8], message: &Message<'_>) {
        self.note_listing(gateway_id, message);
        if message.method.as_deref() != Some("tools/list") {
            return;
        }
        let table = &mut self.tool_params;
        if table.pending.len() >= MAX_PENDING {
            let mux = &self.mux;
            table.pending.retain(|id, _| mux.session_of(*id).is_some());
            if table.pending.len() >= MAX_PENDING {
                return;
            }
        }
        table.pending.insert(gateway_id, !has_cursor(bytes));
    }

    /// Hook for the child's answer to `gateway_id` (any answer, before it is
    /// routed): the result of a remembered `tools/list` is learned from.
    pub(super) fn learn_tools(&mut self, gateway_id: u64, line: &[u8], message: &Message<'_>) {
        if self.tool_params.pending.is_empty() {
            return;
        }
        let Some(first_page) = self.tool_params.pending.remove(&gateway_id) else {
            return;
        };
        let Some(result) = message.result_span.clone().and_then(|span| line.get(span)) else {
            return; // an error answer teaches nothing
        };
        for report in self.tool_params.learn(result, first_page) {
            self.report(report);
        }
    }
}

/// Whether a `tools/list` request asks for a later page: `params.cursor`
/// is present and not `null`.
fn has_cursor(request: &[u8]) -> bool {
    let Ok(members) = object_members(request) else {
        return false;
    };
    let Some(params) = members
        .iter()
        .find(|m| m.key == "params" && m.kind == ValueKind::Object)
        .and_then(|m| request.get(m.span.clone()))
    else {
        return false;
    };
    object_members(params).is_ok_and(|members| {
        members
            .iter()
            .any(|m| m.key == "cursor" && m.kind != ValueKind::Null)
    })
}

/// What keeping `entry` for tool `name` costs against [`MAX_BYTES`].
fn cost(name: &str, entry: &Learned) -> usize {
    let params = match entry {
        Learned::Params(params) => params
            .iter()
            .map(|p| {
                p.path
                    .iter()
                    .map(String::len)
                    .fold(p.header.len(), usize::saturating_add)
            })
            .fold(0, usize::saturating_add),
        Learned::Invalid(_) => 0,
    };
    name.len()
        .saturating_add(params)
        .saturating_add(ENTRY_OVERHEAD)
}
