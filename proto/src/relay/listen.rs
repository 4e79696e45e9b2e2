//! `subscriptions/listen` (MCP 2026-07-28, basic/patterns/subscriptions.mdx;
//! design/2026-07-28.md c.4): the long-lived request on which a modern
//! client receives the change notifications it opted into, each tagged
//! with the listen's id.
//!
//! - A 2026-07-28 child serves listens itself: the request travels like any
//!   other, and the `subscriptionId` the child tags its notifications (and
//!   its final result) with — the gateway id — is replaced by the client's
//!   id, as response ids are.
//! - For a handshake-era child the relay serves them: it acknowledges the
//!   part of the filter the child's capabilities can honour, subscribes to
//!   the child's resources (`resources/subscribe`, counted across listens),
//!   and fans the child's list-changed and resource-updated notifications
//!   out to the listens that asked for them. When the child exits, each
//!   listen gets the graceful final result.

use std::collections::HashMap;

use super::*;
use crate::jsonrpc::{
    array_elements, member_string, object_members, string_token, Member, ValueKind,
};
use crate::mcp::meta;

/// A listen the relay serves for a handshake-era child.
pub(super) struct Listen {
    /// The listen's id as the client wrote it: the `subscriptionId`.
    client_id: Id,
    tools: bool,
    prompts: bool,
    resources: bool,
    /// Resource URIs it subscribed to.
    uris: Vec<Box<str>>,
}

/// What a listen asks for, and what the child can give.
#[derive(Default)]
struct Filter {
    tools: bool,
    prompts: bool,
    resources: bool,
    uris: Vec<Box<str>>,
}

/// Most resource URIs one listen may subscribe to.
const MAX_URIS: usize = 256;

impl Relay {
    /// Serves a modern `subscriptions/listen` for a handshake-era child:
    /// acknowledges it and keeps it open (the client is owed its answer
    /// until the child exits or the stream closes).
    pub(super) fn open_listen(&mut self, key: SessionKey, bytes: &[u8], id: &Id) {
        let Init::Done(init) = &self.init else {
            self.answer_error(
                key,
                id,
                codes::INTERNAL_ERROR,
                "the MCP server failed to initialize",
            );
            return;
        };
        let wanted = match requested_filter(bytes) {
            Ok(filter) => filter,
            Err(why) => {
                self.answer_error(key, id, codes::INVALID_PARAMS, why);
                return;
            }
        };
        let honoured = Filter {
            tools: wanted.tools && capability(init, "tools", "listChanged"),
            prompts: wanted.prompts && capability(init, "prompts", "listChanged"),
            resources: wanted.resources && capability(init, "resources", "listChanged"),
            uris: if capability(init, "resources", "subscribe") {
                wanted.uris
            } else {
                Vec::new()
            },
        };
        if self
            .sessions
            .get(&key)
            .is_some_and(|session| session.listen.is_some())
        {
            let why = "this connection already has a subscriptions/listen open";
            self.answer_error(key, id, codes::INVALID_REQUEST, why);
            return;
        }
        let mut ack = Vec::with_capacity(256);
        ack.extend_from_slice(
            b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/subscriptions/acknowledged\",\"params\":{\"_meta\":{",
        );
        encode_string(&mut ack, meta::SUBSCRIPTION_ID);
        ack.push(b':');
        ack.extend_from_slice(id.as_bytes());
        ack.extend_from_slice(b"},\"notifications\":{");
        let mut first = true;
        let mut member = |ack: &mut Vec<u8>, text: &[u8]| {
            if !std::mem::replace(&mut first, false) {
                ack.push(b',');
            }
            ack.extend_from_slice(text);
        };
        if honoured.tools {
            member(&mut ack, b"\"toolsListChanged\":true");
        }
        if honoured.prompts {
            member(&mut ack, b"\"promptsListChanged\":true");
        }
        if honoured.resources {
            member(&mut ack, b"\"resourcesListChanged\":true");
        }
        if !honoured.uris.is_empty() {
            member(&mut ack, b"\"resourceSubscriptions\":[");
            for (i, uri) in honoured.uris.iter().enumerate() {
                if i > 0 {
                    ack.push(b',');
                }
                encode_string(&mut ack, uri);
            }
            ack.push(b']');
        }
        ack.extend_from_slice(b"}}}");
        for uri in &honoured.uris {
            self.count_uri(uri, true);
        }
        // A listen carried over a restart has its acknowledgement already.
        let carried = self
            .sessions
            .get_mut(&key)
            .is_some_and(|session| std::mem::take(&mut session.relisten));
        if let Some(session) = self.sessions.get_mut(&key) {
            session.owed = session.owed.saturating_add(1);
            session.listen = Some(Box::new(Listen {
                client_id: id.clone(),
                tools: honoured.tools,
                prompts: honoured.prompts,
                resources: honoured.resources,
                uris: honoured.uris,
            }));
        }
        if !carried {
            self.push_own(key, Frame::other(ack));
        }
    }

    /// A session with a listen is going away: its resource subscriptions
    /// are given back.
    pub(super) fn end_listen(&mut self, listen: Option<Box<Listen>>) {
        if let Some(listen) = listen {
            for uri in &listen.uris {
                self.count_uri(uri, false);
            }
        }
    }

    /// A replacement child has been initialised: it is subscribed to every
    /// resource the open listens follow (they stay open across restarts).
    pub(super) fn resubscribe(&mut self) {
        let uris: Vec<Box<str>> = self.uri_counts.keys().cloned().collect();
        for uri in uris {
            self.subscribe_line("resources/subscribe", &uri);
        }
    }

    /// Counts a listen's use of `uri`; the child is subscribed on the first
    /// and unsubscribed after the last (the answers are not routed: the
    /// ids are reserved).
    fn count_uri(&mut self, uri: &str, add: bool) {
        let count = self.uri_counts.entry(uri.into()).or_insert(0);
        let method = if add {
            *count = count.saturating_add(1);
            (*count == 1).then_some("resources/subscribe")
        } else {
            *count = count.saturating_sub(1);
            (*count == 0).then_some("resources/unsubscribe")
        };
        if self.uri_counts.get(uri) == Some(&0) {
            self.uri_counts.remove(uri);
        }
        if let Some(method) = method {
            self.subscribe_line(method, uri);
        }
    }

    fn subscribe_line(&mut self, method: &str, uri: &str) {
        {
            let gateway_id = self.mux.reserve_id();
            let mut line = Vec::with_capacity(uri.len().saturating_add(96));
            line.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
            line.extend_from_slice(write_u64(gateway_id, &mut [0; 20]));
            line.extend_from_slice(b",\"method\":");
            encode_string(&mut line, method);
            line.extend_from_slice(b",\"params\":{\"uri\":");
            encode_string(&mut line, uri);
            line.extend_from_slice(b"}}\n");
            self.queue_to_child(None, line);
        }
    }

    /// Fans a handshake-era child's change notification out to the listens
    /// that asked for it, tagged with each listen's id.
    pub(super) fn fan_out(&mut self, line: &[u8], method: &str) {
        let uri = (method == "notifications/resources/updated")
            .then(|| notification_uri(line))
            .flatten();
        let targets: Vec<(SessionKey, Id)> = self
            .sessions
            .iter()
            .filter(|(_, session)| !session.closing)
            .filter_map(|(key, session)| {
                let listen = session.listen.as_ref()?;
                let wanted = match method {
                    "notifications/tools/list_changed" => listen.tools,
                    "notifications/prompts/list_changed" => listen.prompts,
                    "notifications/resources/list_changed" => listen.resources,
                    "notifications/resources/updated" => uri
                        .as_deref()
                        .is_some_and(|uri| listen.uris.iter().any(|u| &**u == uri)),
                    _ => false,
                };
                wanted.then(|| (*key, listen.client_id.clone()))
            })
            .collect();
        for (key, id) in targets {
            if let Some(frame) = tagged(line, method, id.as_bytes()) {
                self.push_child_message(key, Frame::other(frame), false);
            }
        }
    }

    /// The child exited: every listen the relay serves gets the graceful
    /// final result (subscriptions.mdx §Graceful Closure).
    pub(super) fn close_listens(&mut self) {
        let keys: Vec<SessionKey> = self
            .sessions
            .iter()
            .filter(|(_, session)| session.listen.is_some())
            .map(|(key, _)| *key)
            .collect();
        for key in keys {
            let Some(listen) = self
                .sessions
                .get_mut(&key)
                .and_then(|session| session.listen.take())
            else {
                continue;
            };
            self.settle_owed(key);
            self.push_own(
                key,
                Frame::response(final_result(listen.client_id.as_bytes())),
            );
        }
        self.uri_counts.clear();
    }

    /// The gateway is stopping (its drain): every listen ends now with the
    /// graceful final result (subscriptions.mdx §Graceful Closure), those
    /// the relay serves and those the child does. One at the child is
    /// cancelled there and leaves the id table at once, so that it holds
    /// up no drain (a listen is never done by itself); its stream then
    /// ends after the result, as a request's does.
    pub fn end_listens(&mut self) {
        self.close_listens();
        let at_child: Vec<u64> = self.listens.keys().copied().collect();
        for gateway_id in at_child {
            self.listens.remove(&gateway_id);
            let Some((key, client_id)) = self
                .mux
                .request_of(gateway_id)
                .map(|(key, id)| (key, id.clone()))
            else {
                continue;
            };
            self.mux.handle_abandoned(gateway_id);
            self.finish_request(gateway_id, None, false);
            self.cancel_at_child(gateway_id, Some("the gateway is shutting down"));
            self.push_own(key, Frame::response(final_result(client_id.as_bytes())));
        }
        self.sync_mux_budget();
    }

    /// Before a restart: the listens open at the 2026-07-28 child leave the
    /// id table (their clients are not told the child went away), to be
    /// sent again to the replacement ([`Relay::relisten`]).
    pub(super) fn carry_listens(&mut self) -> Vec<(SessionKey, Box<[u8]>)> {
        let listens: Vec<(u64, Box<[u8]>)> = self.listens.drain().collect();
        let mut carried = Vec::with_capacity(listens.len());
        for (g, bytes) in listens {
            if let Some((session, _)) = self.mux.request_of(g) {
                self.mux.handle_abandoned(g);
                self.finish_request(g, None, false);
                carried.push((session, bytes));
            }
        }
        self.sync_mux_budget();
        carried
    }

    /// After a restart: each carried listen is sent to the new child as if
    /// its client had just sent it (held while the child is probed).
    pub(super) fn relisten(&mut self, listens: Vec<(SessionKey, Box<[u8]>)>) {
        for (key, bytes) in listens {
            match self.sessions.get_mut(&key) {
                Some(session) if !session.closing => session.relisten = true,
                _ => continue,
            }
            if let Ok(message) = parse_message(&bytes) {
                self.accept(key, &bytes, &message);
            }
        }
    }

    /// A 2026-07-28 child's notification tagged with a listen's gateway id:
    /// to that listen's session, with the client's id instead. True when
    /// it was one.
    pub(super) fn route_tagged(&mut self, line: &[u8], message: &Message<'_>) -> bool {
        let Some((raw, span)) = &message.subscription_id else {
            return false;
        };
        let Some(gateway_id) = parse_gateway_id(raw.as_bytes()) else {
            return false;
        };
        let Some((key, client_id)) = self.mux.request_of(gateway_id) else {
            return true; // a listen that has ended: nobody to tell
        };
        let client_id = client_id.clone();
        if message.method.as_deref() == Some("notifications/subscriptions/acknowledged") {
            if let Some(session) = self.sessions.get_mut(&key) {
                if std::mem::take(&mut session.relisten) {
                    return true; // the client has its acknowledgement
                }
            }
        }
        let mut frame = Vec::with_capacity(line.len().saturating_add(16));
        if splice(&mut frame, line, &[(span.clone(), client_id.as_bytes())]).is_ok() {
            self.push_child_message(key, Frame::other(frame), false);
        }
        true
    }

    /// The final result of a listen a 2026-07-28 child served: its
    /// `_meta.subscriptionId` carries the client's id too.
    pub(super) fn listen_result(
        line: &[u8],
        message: &Message<'_>,
        id_span: Range<usize>,
        client_id: &[u8],
    ) -> Option<Vec<u8>> {
        let mut replacements: Vec<(Range<usize>, &[u8])> = vec![(id_span, client_id)];
        if let Some(span) = message.result_span.clone() {
            let result = line.get(span.clone())?;
            let tag = find(result, "_meta", ValueKind::Object).and_then(|meta_member| {
                let inner = result.get(meta_member.span.clone())?;
                let id = object_members(inner)
                    .ok()?
                    .into_iter()
                    .find(|m| m.key == meta::SUBSCRIPTION_ID)?;
                let start = span
                    .start
                    .checked_add(meta_member.span.start)?
                    .checked_add(id.span.start)?;
                let end = span
                    .start
                    .checked_add(meta_member.span.start)?
                    .checked_add(id.span.end)?;
                Some(start..end)
            });
            if let Some(tag) = tag {
                replacements.push((tag, client_id));
            }
        }
        replacements.sort_by_key(|(range, _)| range.start);
        let mut frame = Vec::with_capacity(line.len().saturating_add(32));
        splice(&mut frame, line, &replacements).ok()?;
        Some(frame)
    }
}

/// The graceful final result of the listen whose client id is `id`.
fn final_result(id: &[u8]) -> Vec<u8> {
    let mut result = Vec::with_capacity(96);
    result.extend_from_slice(b"{\"resultType\":\"complete\",\"_meta\":{");
    encode_string(&mut result, meta::SUBSCRIPTION_ID);
    result.push(b':');
    result.extend_from_slice(id);
    result.extend_from_slice(b"}}");
    let mut frame = Vec::with_capacity(result.len().saturating_add(48));
    encode_result(&mut frame, id, &result);
    frame
}

/// The member `key` of the object `input`, if it has that kind.
fn find<'a>(input: &'a [u8], key: &str, kind: ValueKind) -> Option<Member<'a>> {
    object_members(input)
        .ok()?
        .into_iter()
        .find(|member| member.key == key && member.kind == kind)
}

/// `params.notifications` of a listen request.
fn requested_filter(bytes: &[u8]) -> Result<Filter, &'static str> {
    let bad = "params.notifications must be an object";
    let params = find(bytes, "params", ValueKind::Object).ok_or(bad)?;
    let params = bytes.get(params.span).ok_or(bad)?;
    let notifications = find(params, "notifications", ValueKind::Object).ok_or(bad)?;
    let raw = params.get(notifications.span).ok_or(bad)?;
    let members = object_members(raw).map_err(|_| bad)?;
    let mut filter = Filter::default();
    for member in &members {
        let flag = raw.get(member.span.clone()) == Some(b"true");
        match &*member.key {
            "toolsListChanged" => filter.tools = flag,
            "promptsListChanged" => filter.prompts = flag,
            "resourcesListChanged" => filter.resources = flag,
            "resourceSubscriptions" => {
                let bad = "resourceSubscriptions must be an array of strings";
                let list = raw.get(member.span.clone()).ok_or(bad)?;
                let elements = array_elements(list).map_err(|_| bad)?;
                if elements.len() > MAX_URIS {
                    return Err("too many resourceSubscriptions");
                }
                for span in elements {
                    let element = list.get(span).ok_or(bad)?;
                    let uri = string_token(element).ok_or(bad)?;
                    if !filter.uris.iter().any(|known| **known == *uri) {
                        filter.uris.push(uri.into());
                    }
                }
            }
            _ => {}
        }
    }
    Ok(filter)
}

/// Whether `InitializeResult.capabilities.<group>.<flag>` is `true`.
pub(super) fn capability(init: &[u8], group: &str, flag: &str) -> bool {
    (|| {
        let caps = find(init, "capabilities", ValueKind::Object)?;
        let caps = init.get(caps.span)?;
        let group = find(caps, group, ValueKind::Object)?;
        let group = caps.get(group.span)?;
        let flag = find(group, flag, ValueKind::Bool)?;
        Some(group.get(flag.span)? == b"true")
    })()
    .unwrap_or(false)
}

/// `params.uri` of a `notifications/resources/updated` line.
fn notification_uri(line: &[u8]) -> Option<String> {
    let params = find(line, "params", ValueKind::Object)?;
    let params = line.get(params.span)?;
    let uri = find(params, "uri", ValueKind::String)?;
    member_string(params, &uri).map(|uri| uri.into_owned())
}

/// `line` rebuilt with `_meta.subscriptionId` = `id` in its params.
fn tagged(line: &[u8], method: &str, id: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(line.len().saturating_add(64));
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"method\":");
    encode_string(&mut out, method);
    out.extend_from_slice(b",\"params\":{\"_meta\":{");
    encode_string(&mut out, meta::SUBSCRIPTION_ID);
    out.push(b':');
    out.extend_from_slice(id);
    out.push(b'}');
    if let Some(params) = find(line, "params", ValueKind::Object) {
        let params = line.get(params.span)?;
        let members: HashMap<_, _> = object_members(params)
            .ok()?
            .into_iter()
            .filter(|member| member.key != "_meta")
            .map(|member| (member.key.into_owned(), member.span))
            .collect();
        let mut keys: Vec<&String> = members.keys().collect();
        keys.sort();
        for key in keys {
            out.push(b',');
            encode_string(&mut out, key);
            out.push(b':');
            out.extend_from_slice(params.get(members.get(key)?.clone())?);
        }
    }
    out.extend_from_slice(b"}}");
    Some(out)
}
