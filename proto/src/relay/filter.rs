//! Tool, prompt and resource filtering in the relay (issue 17; the rules
//! are [`crate::mcp::filter`]'s).
//!
//! - A `tools/call`, `prompts/get` or `resources/read` naming a denied
//!   target is answered here with -32602 ("Unknown tool: NAME") and never
//!   reaches the child, whatever the client's era (checked before the
//!   legacy-client translation and before 2026-07-28 routing). So are a
//!   `resources/subscribe` of a denied URI and a `completion/complete`
//!   whose `ref` is a denied prompt or a hidden resource template.
//! - A `subscriptions/listen` loses the denied URIs of its
//!   `resourceSubscriptions` before it is routed, and a
//!   `notifications/resources/updated` about a denied URI reaches nobody.
//! - The child's answer to a listing a client asked for is rewritten
//!   before anything else reads it: the era completion for modern
//!   clients, the legacy-client path, and the `x-mcp-header` learning
//!   (params.rs) all see the filtered listing, so a denied tool's
//!   annotations are never learned. A listing that cannot be read is
//!   replaced by an error answer: it cannot be shown unfiltered.
//! - With no filter set, a request costs one `Option` test and a child
//!   answer one emptiness test: no listing is parsed that was not before.

use std::rc::Rc;

use crate::mcp::filter::{Filter, List, Refusal};

use super::*;

/// What the relay keeps for filtering.
pub(super) struct Filtering {
    /// The rules; `None` when there are none.
    filter: Option<Rc<Filter>>,
    /// Listings at the child whose answers are rewritten, by gateway id.
    /// Entries of requests no longer in flight (cancelled, their answer
    /// dropped) are pruned when the table outgrows the in-flight bound.
    pending: IntMap<u64, List>,
}

impl Filtering {
    pub(super) fn new() -> Self {
        Self {
            filter: None,
            pending: int_map(),
        }
    }
}

impl Relay {
    /// Sets the rules every client of this relay is held to (`None`, or
    /// rules that filter nothing: none). Applies to requests relayed from
    /// now on.
    pub fn set_filter(&mut self, filter: Option<Rc<Filter>>) {
        self.filtering.filter = filter.filter(|filter| !filter.is_empty());
    }

    /// Hook for a client request about to be routed: true when the filter
    /// refused it and it was answered here.
    pub(super) fn refuse_filtered(
        &mut self,
        key: SessionKey,
        bytes: &[u8],
        message: &Message<'_>,
    ) -> bool {
        let Some(filter) = &self.filtering.filter else {
            return false;
        };
        let (Some(method), Some(id)) = (message.method.as_deref(), &message.id) else {
            return false;
        };
        let refusal = filter
            .check_request(method, message.target.as_deref())
            .or_else(|| filter.check_request_params(method, bytes));
        let Some(Refusal(why)) = refusal else {
            return false;
        };
        self.answer_error(key, &id.to_owned(), Refusal::CODE, &why);
        true
    }

    /// Hook for a client request about to be routed, after
    /// [`Relay::refuse_filtered`]: a `subscriptions/listen` naming denied
    /// resources, without them (`None`: route it as it is). Both eras see
    /// the same: the relay serving a handshake-era child's listens reads
    /// the rewritten filter, a 2026-07-28 child gets it. A listen that
    /// cannot be read is answered here (`Some(None)`).
    pub(super) fn filtered_listen(
        &mut self,
        key: SessionKey,
        bytes: &[u8],
        message: &Message<'_>,
    ) -> Option<Option<Vec<u8>>> {
        let filter = self.filtering.filter.as_ref()?;
        if message.method.as_deref() != Some("subscriptions/listen") {
            return None;
        }
        match filter.rewrite_listen(bytes) {
            Ok(rewritten) => rewritten.map(Some),
            Err(_) => {
                let id = message.id.as_ref()?.to_owned();
                let why = "the request's params cannot be read";
                self.answer_error(key, &id, Refusal::CODE, why);
                Some(None)
            }
        }
    }

    /// Hook for a child notification: false when the filter keeps it from
    /// every client (`notifications/resources/updated` of a denied URI,
    /// whether a listen or a `resources/subscribe` asked for it).
    pub(super) fn passes_filter(&self, line: &[u8], message: &Message<'_>) -> bool {
        let (Some(filter), Some(method)) = (&self.filtering.filter, message.method.as_deref())
        else {
            return true;
        };
        filter.passes_notification(method, line)
    }

    /// Hook for a client request relayed under `gateway_id`: a listing the
    /// filter touches is remembered, so that its answer is rewritten.
    pub(super) fn note_listing(&mut self, gateway_id: u64, message: &Message<'_>) {
        let Some(filter) = &self.filtering.filter else {
            return;
        };
        let Some(list) = message.method.as_deref().and_then(List::of) else {
            return;
        };
        if !filter.filters(list) {
            return;
        }
        let pending = &mut self.filtering.pending;
        if pending.len() >= self.config.limits.max_in_flight {
            let mux = &self.mux;
            pending.retain(|id, _| mux.session_of(*id).is_some());
        }
        pending.insert(gateway_id, list);
    }

    /// Hook for a child answer, before it is routed: the answer to a
    /// remembered listing with the denied entries removed (`None`: route
    /// `line` as it is).
    pub(super) fn filtered_answer(
        &mut self,
        line: &[u8],
        message: &Message<'_>,
    ) -> Option<Vec<u8>> {
        if self.filtering.pending.is_empty() {
            return None;
        }
        let gateway_id = parse_gateway_id(message.id.as_ref()?.as_bytes())?;
        let list = self.filtering.pending.remove(&gateway_id)?;
        let filter = self.filtering.filter.as_ref()?;
        let span = message.result_span.clone()?; // an error passes
        let result = line.get(span.clone())?;
        let mut out = Vec::with_capacity(line.len());
        match filter.rewrite_list(list, result) {
            Ok(None) => return None,
            Ok(Some(filtered)) => splice(&mut out, line, &[(span, &filtered)]).ok()?,
            Err(_) => {
                let why = "the MCP server's listing cannot be read, so it cannot be filtered";
                encode_error(
                    &mut out,
                    message.id.as_ref().map(|id| id.as_bytes()),
                    codes::INTERNAL_ERROR,
                    why,
                );
            }
        }
        Some(out)
    }

    /// A `tools/list` result the driver fetched itself, filtered (`None`:
    /// unreadable with a filter set, learn nothing).
    pub(super) fn filtered_tools<'r>(
        &self,
        result: &'r [u8],
    ) -> Option<std::borrow::Cow<'r, [u8]>> {
        let Some(filter) = &self.filtering.filter else {
            return Some(result.into());
        };
        match filter.rewrite_list(List::Tools, result) {
            Ok(None) => Some(result.into()),
            Ok(Some(filtered)) => Some(filtered.into()),
            Err(_) => None,
        }
    }
}
