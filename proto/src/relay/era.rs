//! Protocol eras: which revision the child speaks (the `server/discover`
//! probe), the checks a 2026-07-28 request passes before it is routed, what
//! the relay answers itself for modern clients (`server/discover`, removed
//! methods), and how a handshake-era child's answers are completed for them
//! (design/2026-07-28.md b.1–b.3, c.1, c.2).

use super::*;
use crate::jsonrpc::{encode_error_with_data, member_string, object_members, ValueKind};
use crate::mcp::errors::{write_endpoint_versions, write_unsupported_version_data};
use crate::mcp::{meta, push_own_meta, LogLevel, MODERN_VERSION, NEWEST_HANDSHAKE_VERSION};

/// Which revision the child is taken to speak (`--upstreamProtocol`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UpstreamMode {
    /// Ask with `server/discover` when the child starts: a result listing
    /// 2026-07-28 makes it modern; an error, another result or silence
    /// within the probe timeout makes it handshake-era.
    #[default]
    Auto,
    /// Handshake-era without asking: modern clients are translated.
    Legacy,
    /// 2026-07-28 without fallback: `server/discover` is still sent (its
    /// result answers clients); if it fails, modern requests get errors.
    Modern,
}

/// What the relay knows of the child's revision.
pub(super) enum ChildEra {
    /// `server/discover` is at the child under `gateway_id`; client
    /// messages are held until it answers or `deadline` passes.
    Probing { gateway_id: u64, deadline: u64 },
    /// Handshake-era (≤ 2025-11-25).
    Legacy,
    /// 2026-07-28: its `server/discover` result, as served to clients.
    Modern(Vec<u8>),
    /// `--upstreamProtocol 2026-07-28` and the child did not answer
    /// `server/discover`.
    Failed,
}

/// How a handshake-era child's answer to a modern request is completed.
#[derive(Clone, Copy, Debug)]
pub(super) struct Completion {
    /// The result must carry `ttlMs` and `cacheScope` (caching.mdx).
    cacheable: bool,
}

/// Methods 2026-07-28 removed: a modern request for one is answered
/// -32601 by the relay, never forwarded (a legacy child would answer it).
const REMOVED: [&str; 6] = [
    "initialize",
    "ping",
    "logging/setLevel",
    "resources/subscribe",
    "resources/unsubscribe",
    "notifications/initialized",
];

/// Results that must carry `ttlMs` and `cacheScope`.
const CACHEABLE: [&str; 5] = [
    "tools/list",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
];

/// A request whose `_meta` names a protocol version: a 2026-07-28 attempt.
/// `initialize` is handshake-era whatever its `_meta` says.
pub(super) fn is_modern(message: &Message<'_>) -> bool {
    message.kind == Kind::Request
        && message.method.as_deref() != Some("initialize")
        && message
            .meta
            .as_ref()
            .is_some_and(|meta| meta.version.is_some())
}

/// Why a modern request is answered by the relay instead of routed.
pub(super) struct Refused {
    code: i32,
    message: &'static str,
    /// The `data` member (JSON), if any.
    data: Option<Vec<u8>>,
}

/// The body checks of a modern request, in the order the specification's
/// conformance suite pins (design b.1, rungs 2, 4, 6, 7).
pub(super) fn check_modern(bytes: &[u8], message: &Message<'_>) -> Result<(), Refused> {
    let invalid = |message| Refused {
        code: codes::INVALID_PARAMS,
        message,
        data: None,
    };
    let Some(meta) = &message.meta else {
        return Err(invalid("params._meta is required"));
    };
    let is_object = |span: &Option<Range<usize>>| {
        span.as_ref()
            .and_then(|span| bytes.get(span.start))
            .is_some_and(|first| *first == b'{')
    };
    if !is_object(&meta.capabilities) {
        return Err(invalid(
            "params._meta must carry io.modelcontextprotocol/clientCapabilities (an object)",
        ));
    }
    let Some(Ok(version)) = &meta.version else {
        return Err(invalid(
            "params._meta must carry io.modelcontextprotocol/protocolVersion (a string)",
        ));
    };
    if version != MODERN_VERSION {
        return Err(unsupported_version(version));
    }
    if let Some(span) = &meta.log_level {
        let level = bytes
            .get(span.clone())
            .and_then(|raw| raw.strip_prefix(b"\""))
            .and_then(|raw| raw.strip_suffix(b"\""))
            .and_then(|raw| core::str::from_utf8(raw).ok());
        if level.and_then(LogLevel::parse).is_none() {
            return Err(invalid(
                "io.modelcontextprotocol/logLevel is not a log level",
            ));
        }
    }
    if message
        .method
        .as_deref()
        .is_some_and(|method| REMOVED.contains(&method))
    {
        return Err(Refused {
            code: codes::METHOD_NOT_FOUND,
            message: "Method not found",
            data: None,
        });
    }
    Ok(())
}

/// The -32022 answer for a request asking for `requested`.
pub(super) fn unsupported_version(requested: &str) -> Refused {
    Refused {
        code: codes::UNSUPPORTED_PROTOCOL_VERSION,
        message: "Unsupported protocol version",
        data: Some(unsupported_version_data(requested)),
    }
}

/// `{"supported":[…],"requested":"…"}` of a -32022 error.
fn unsupported_version_data(requested: &str) -> Vec<u8> {
    let mut data = Vec::with_capacity(128);
    write_unsupported_version_data(&mut data, requested);
    data
}

impl Relay {
    // ----- the child's era ----------------------------------------------

    /// Starts serving a child that has just been spawned (call once after
    /// [`Relay::new`], and again after a restart): under
    /// [`UpstreamMode::Auto`] and [`UpstreamMode::Modern`] the child is
    /// asked `server/discover` first and client messages wait for its
    /// answer (at most the probe timeout).
    pub fn start_child(&mut self) {
        if self.exited.is_some() || self.config.upstream == UpstreamMode::Legacy {
            self.child_era = ChildEra::Legacy;
            return;
        }
        let gateway_id = self.mux.reserve_id();
        let mut line = Vec::with_capacity(320);
        line.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
        line.extend_from_slice(write_u64(gateway_id, &mut [0; 20]));
        line.extend_from_slice(b",\"method\":\"server/discover\",\"params\":{\"_meta\":{");
        push_own_meta(&mut line);
        line.extend_from_slice(b"}}}\n");
        self.child_era = ChildEra::Probing {
            gateway_id,
            deadline: self.now.saturating_add(self.config.probe_timeout_ms),
        };
        self.queue_to_child(None, line);
    }

    /// Tells the relay the time (milliseconds on any monotonic clock that
    /// starts at or after 0); call before each batch of verbs and before
    /// [`Relay::handle_timeout`].
    pub fn advance(&mut self, now_ms: u64) {
        self.now = self.now.max(now_ms);
    }

    /// When [`Relay::handle_timeout`] must be called next (same clock as
    /// [`Relay::advance`]), if anything waits for time.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<u64> {
        let probe = match self.child_era {
            ChildEra::Probing { deadline, .. } => Some(deadline),
            _ => None,
        };
        match (probe, self.mrtr_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Acts on every deadline that has passed: a probe without an answer
    /// makes the child handshake-era (or failed, when forced modern).
    pub fn handle_timeout(&mut self) {
        self.mrtr_handle_timeout();
        if let ChildEra::Probing { deadline, .. } = self.child_era {
            if self.now >= deadline {
                self.report(Report::ProbeTimedOut {
                    after_ms: self.config.probe_timeout_ms,
                });
                let era = if self.config.upstream == UpstreamMode::Modern {
                    ChildEra::Failed
                } else {
                    ChildEra::Legacy
                };
                self.settle_era(era);
            }
        }
    }

    /// The child exited while it was being asked `server/discover`. True
    /// (only under [`UpstreamMode::Auto`]): the driver starts a new child
    /// and tells the relay nothing more — it is served as handshake-era
    /// without a probe, and the messages held meanwhile go to it. False: an
    /// ordinary exit ([`Relay::handle_child_exit`]); a second exit is one,
    /// since the new child is not probed.
    pub fn handle_probe_exit(&mut self, code: i32) -> bool {
        if self.exited.is_some()
            || self.probe_id().is_none()
            || self.config.upstream != UpstreamMode::Auto
        {
            return false;
        }
        self.report(Report::ProbeExited { code });
        // The probe line (and anything else for the dead child) is dropped.
        for (session, line) in std::mem::take(&mut self.to_child) {
            self.budget.release(line.len());
            if let Some(session) = session.and_then(|key| self.sessions.get_mut(&key)) {
                session.pending_bytes = session.pending_bytes.saturating_sub(line.len());
            }
        }
        self.settle_era(ChildEra::Legacy);
        true
    }

    /// The driver found the child to speak 2026-07-28 but without a
    /// `server/discover` result to serve (a reverse bridge whose server
    /// refused the probe with one of the revision's errors over HTTP:
    /// streamable-http.mdx §Backward Compatibility forbids falling back to
    /// `initialize` then). Served as a failed probe under
    /// `--upstreamProtocol 2026-07-28`; the probe's answer, if it comes
    /// later, is dropped.
    pub fn handle_probe_refused(&mut self) {
        if self.probe_id().is_some() {
            self.settle_era(ChildEra::Failed);
        }
    }

    /// Whether client messages wait (for the probe or for `initialize`).
    pub(super) fn holding(&self) -> bool {
        matches!(self.init, Init::Pending { .. })
            || matches!(self.child_era, ChildEra::Probing { .. })
    }

    /// The probe's gateway id, while it is at the child.
    pub(super) fn probe_id(&self) -> Option<u64> {
        match self.child_era {
            ChildEra::Probing { gateway_id, .. } => Some(gateway_id),
            _ => None,
        }
    }

    /// The child answered `server/discover`.
    pub(super) fn finish_probe(&mut self, line: &[u8], message: &Message<'_>) {
        let served = message
            .result_span
            .clone()
            .and_then(|span| line.get(span))
            .and_then(served_discover);
        let era = match served {
            Some(result) => ChildEra::Modern(result),
            None if self.config.upstream == UpstreamMode::Modern => ChildEra::Failed,
            None => ChildEra::Legacy,
        };
        self.settle_era(era);
    }

    fn settle_era(&mut self, era: ChildEra) {
        let report = match &era {
            ChildEra::Modern(_) => Report::ChildEra { modern: true },
            ChildEra::Legacy => Report::ChildEra { modern: false },
            _ => Report::UpstreamRefused,
        };
        self.child_era = era;
        self.report(report);
        if matches!(self.child_era, ChildEra::Legacy) {
            if std::mem::take(&mut self.replay_wanted) {
                // A client's `initialize` that reached the new child during
                // the probe initialises it: a replay on top would be a
                // second `initialize`, and would drop that one's waiters.
                // (`Done` is the old child's result: replay.)
                if !matches!(self.init, Init::Pending { .. }) {
                    self.replay_initialize();
                }
            } else if let Some(version) = self.init_wanted.take() {
                self.initialize_child(&version);
            }
        }
        self.init_wanted = None;
        self.replay_wanted = false;
        // A restarted modern child: the relay's listen for the legacy
        // clients it kept is opened again.
        self.refresh_listen();
        self.release_held();
    }

    /// A modern message arrives for a handshake-era child nobody has
    /// initialised: the relay initialises it (design b.2).
    pub(super) fn initialize_for_modern(&mut self) {
        if matches!(self.child_era, ChildEra::Legacy) && matches!(self.init, Init::Idle) {
            let version = self
                .config
                .handshake_version
                .map_or_else(|| NEWEST_HANDSHAKE_VERSION.to_owned(), |v| v.to_string());
            self.initialize_child(&version);
        }
    }

    // ----- modern requests ----------------------------------------------

    /// Answers a modern request the relay refuses.
    pub(super) fn answer_refused(&mut self, key: SessionKey, id: &[u8], refused: &Refused) {
        let mut frame = Vec::with_capacity(256);
        match &refused.data {
            Some(data) => {
                encode_error_with_data(&mut frame, Some(id), refused.code, refused.message, data)
            }
            None => encode_error(&mut frame, Some(id), refused.code, refused.message),
        }
        self.push_own(key, Frame::response(frame));
    }

    /// Routes a modern request whose checks passed: `server/discover` is
    /// answered here; anything else goes to the child (true), after the
    /// session is marked modern and, for a handshake-era child, its answer
    /// is set up to be completed.
    pub(super) fn route_modern(
        &mut self,
        key: SessionKey,
        bytes: &[u8],
        message: &Message<'_>,
    ) -> bool {
        let log_level = message
            .meta
            .as_ref()
            .and_then(|meta| meta.log_level.clone())
            .and_then(|span| bytes.get(span))
            .and_then(|raw| core::str::from_utf8(raw).ok())
            .and_then(|raw| LogLevel::parse(raw.trim_matches('"')));
        if let Some(session) = self.sessions.get_mut(&key) {
            session.modern = true;
            session.log_level = log_level;
        }
        let Some(id) = &message.id else {
            return false;
        };
        if message.method.as_deref() == Some("server/discover") {
            let answer = match &self.child_era {
                ChildEra::Modern(result) => Ok(result.clone()),
                ChildEra::Legacy => match &self.init {
                    Init::Done(init) => discover_from_initialize(init),
                    _ => Err("the MCP server failed to initialize"),
                },
                _ => Err(FAILED),
            };
            match answer {
                Ok(result) => {
                    let mut frame = Vec::with_capacity(result.len().saturating_add(48));
                    encode_result(&mut frame, id.as_bytes(), &result);
                    self.push_own(key, Frame::response(frame));
                }
                Err(why) => {
                    self.answer_error(key, &id.to_owned(), codes::INTERNAL_ERROR, why);
                }
            }
            return false;
        }
        if message.method.as_deref() == Some("subscriptions/listen")
            && matches!(self.child_era, ChildEra::Legacy)
        {
            self.open_listen(key, bytes, &id.to_owned());
            return false;
        }
        if self.mrtr_retry(key, bytes, message) {
            return false;
        }
        if matches!(self.child_era, ChildEra::Failed) {
            self.answer_error(key, &id.to_owned(), codes::INTERNAL_ERROR, FAILED);
            return false;
        }
        true
    }

    /// For a handshake-era child, the request's `_meta` object without the
    /// 2026-07-28 keys (`io.modelcontextprotocol/…`: a dual-era server that
    /// settled on the handshake era refuses requests carrying them), with
    /// `progressToken` set to `token`: the span to replace and its bytes.
    pub(super) fn legacy_meta(
        &self,
        bytes: &[u8],
        message: &Message<'_>,
        token: Option<&[u8]>,
    ) -> Option<(Range<usize>, Vec<u8>)> {
        if !matches!(self.child_era, ChildEra::Legacy) {
            return None;
        }
        let span = message.meta.as_ref()?.span.clone();
        let raw = bytes.get(span.clone())?;
        let members = object_members(raw).ok()?;
        let mut out = Vec::with_capacity(raw.len());
        out.push(b'{');
        for member in members
            .iter()
            .filter(|member| !member.key.starts_with("io.modelcontextprotocol/"))
        {
            if out.len() > 1 {
                out.push(b',');
            }
            encode_string(&mut out, &member.key);
            out.push(b':');
            match (&*member.key, token) {
                ("progressToken", Some(token)) => out.extend_from_slice(token),
                _ => out.extend_from_slice(raw.get(member.span.clone())?),
            }
        }
        out.push(b'}');
        Some((span, out))
    }

    /// How the answer to the modern request just routed as `gateway_id`
    /// must be completed (a handshake-era child only).
    pub(super) fn note_completion(&mut self, gateway_id: u64, method: &str) {
        if matches!(self.child_era, ChildEra::Legacy) && method != "subscriptions/listen" {
            self.completions.insert(
                gateway_id,
                Completion {
                    cacheable: CACHEABLE.contains(&method),
                },
            );
        }
    }

    /// The frame for a handshake-era child's answer `line` to a modern
    /// request: the client's id spliced in, `resultType` (and `ttlMs`,
    /// `cacheScope` where required) added to a result, error codes the
    /// revision changed mapped.
    pub(super) fn completed_answer(
        line: &[u8],
        message: &Message<'_>,
        id_span: Range<usize>,
        client_id: &[u8],
        completion: Completion,
    ) -> Option<Vec<u8>> {
        let mut frame = Vec::with_capacity(line.len().saturating_add(64));
        let mut inserted = Vec::new();
        let mut replacements: Vec<(Range<usize>, &[u8])> = vec![(id_span, client_id)];
        if let Some(span) = message.result_span.clone() {
            let result = line.get(span.clone())?;
            if let Ok(members) = object_members(result) {
                let has = |key: &str| members.iter().any(|member| member.key == key);
                let mut add = |text: &[u8]| {
                    if !inserted.is_empty() {
                        inserted.push(b',');
                    }
                    inserted.extend_from_slice(text);
                };
                if !has("resultType") {
                    add(b"\"resultType\":\"complete\"");
                }
                if completion.cacheable && !has("ttlMs") {
                    add(b"\"ttlMs\":0");
                }
                if completion.cacheable && !has("cacheScope") {
                    add(b"\"cacheScope\":\"private\"");
                }
                if !inserted.is_empty() && !members.is_empty() {
                    inserted.push(b',');
                }
                // Just after the object's `{` (the span starts on it).
                let at = span.start.checked_add(1)?;
                replacements.push((at..at, &inserted));
            }
        } else if let Some((span, code)) = changed_error_code(line) {
            replacements.push((span, code));
        }
        replacements.sort_by_key(|(range, _)| range.start);
        splice(&mut frame, line, &replacements).ok()?;
        Some(frame)
    }

    /// Whether a handshake-era child's `notifications/message` may go to
    /// `key`: a modern client gets log messages only for a request that
    /// opted in, at or above the level it asked for.
    pub(super) fn log_allowed(&self, key: SessionKey, line: &[u8]) -> bool {
        let Some(session) = self.sessions.get(&key) else {
            return false;
        };
        if !session.modern || !matches!(self.child_era, ChildEra::Legacy) {
            return true;
        }
        let Some(wanted) = session.log_level else {
            return false;
        };
        notification_level(line).is_some_and(|level| level >= wanted)
    }

    /// Whether the child speaks 2026-07-28.
    pub(super) fn child_is_modern(&self) -> bool {
        matches!(self.child_era, ChildEra::Modern(_))
    }

    /// Whether `key` takes notifications that belong to no request: a
    /// modern client gets those only on a listen stream.
    pub(super) fn takes_broadcasts(&self, session: &Session) -> bool {
        !(session.modern && matches!(self.child_era, ChildEra::Legacy))
    }
}

const FAILED: &str =
    "the MCP server did not answer server/discover (--upstreamProtocol 2026-07-28)";

/// A child's `server/discover` result as served to clients, if it is
/// positive evidence of a 2026-07-28 server: an object whose
/// `supportedVersions` lists 2026-07-28 and with a `capabilities` object.
/// Its `supportedVersions` is replaced by the versions the gateway serves.
fn served_discover(result: &[u8]) -> Option<Vec<u8>> {
    let members = object_members(result).ok()?;
    let versions = members
        .iter()
        .find(|member| member.key == "supportedVersions" && member.kind == ValueKind::Array)?;
    let listed = crate::jsonrpc::array_elements(result.get(versions.span.clone())?).ok()?;
    let modern = listed.iter().any(|span| {
        versions
            .span
            .start
            .checked_add(span.start)
            .zip(versions.span.start.checked_add(span.end))
            .and_then(|(start, end)| result.get(start..end))
            == Some(b"\"2026-07-28\"")
    });
    let has_capabilities = members
        .iter()
        .any(|member| member.key == "capabilities" && member.kind == ValueKind::Object);
    if !modern || !has_capabilities {
        return None;
    }
    let mut ours = Vec::with_capacity(96);
    write_endpoint_versions(&mut ours);
    let mut served = Vec::with_capacity(result.len().saturating_add(64));
    splice(&mut served, result, &[(versions.span.clone(), &ours)]).ok()?;
    Some(served)
}

/// A `server/discover` result built from a handshake-era child's
/// `InitializeResult` (design c.2).
fn discover_from_initialize(init: &[u8]) -> Result<Vec<u8>, &'static str> {
    let bad = "the MCP server's initialize result is not an object";
    let members = object_members(init).map_err(|_| bad)?;
    let value = |key: &str| {
        members
            .iter()
            .find(|member| member.key == key)
            .and_then(|member| Some((member, init.get(member.span.clone())?)))
    };
    let mut out = Vec::with_capacity(init.len().saturating_add(160));
    out.extend_from_slice(b"{\"resultType\":\"complete\",\"supportedVersions\":");
    write_endpoint_versions(&mut out);
    out.extend_from_slice(b",\"capabilities\":");
    match value("capabilities") {
        Some((member, raw)) if member.kind == ValueKind::Object => {
            // `tasks` is not a 2026-07-28 server capability.
            match object_members(raw) {
                Ok(capabilities) => {
                    out.push(b'{');
                    let mut first = true;
                    for capability in capabilities.iter().filter(|c| c.key != "tasks") {
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        encode_string(&mut out, &capability.key);
                        out.push(b':');
                        out.extend_from_slice(raw.get(capability.span.clone()).unwrap_or(b"{}"));
                    }
                    out.push(b'}');
                }
                Err(_) => out.extend_from_slice(b"{}"),
            }
        }
        _ => out.extend_from_slice(b"{}"),
    }
    if let Some((member, raw)) = value("instructions") {
        if member.kind == ValueKind::String {
            out.extend_from_slice(b",\"instructions\":");
            out.extend_from_slice(raw);
        }
    }
    if let Some((member, raw)) = value("serverInfo") {
        if member.kind == ValueKind::Object {
            out.extend_from_slice(b",\"_meta\":{");
            encode_string(&mut out, meta::SERVER_INFO);
            out.push(b':');
            out.extend_from_slice(raw);
            out.push(b'}');
        }
    }
    out.extend_from_slice(b",\"ttlMs\":0,\"cacheScope\":\"private\"}");
    Ok(out)
}

/// The span of an error response's `error.code` and what a modern client
/// must see instead, when the code is one 2026-07-28 changed or reserves.
fn changed_error_code(line: &[u8]) -> Option<(Range<usize>, &'static [u8])> {
    let (span, code) = crate::jsonrpc::error_code(line)?;
    let mapped: &'static [u8] = match code {
        // Resource not found: 2026-07-28 uses invalid params.
        -32002 => b"-32602",
        // Reserved by 2026-07-28 beyond the three codes it defines.
        -32099..=-32023 => b"-32603",
        _ => return None,
    };
    Some((span, mapped))
}

/// The `params.level` rank of a `notifications/message` line.
fn notification_level(line: &[u8]) -> Option<LogLevel> {
    let envelope = object_members(line).ok()?;
    let params = envelope
        .iter()
        .find(|member| member.key == "params" && member.kind == ValueKind::Object)?;
    let raw = line.get(params.span.clone())?;
    let members = object_members(raw).ok()?;
    let level = members.iter().find(|member| member.key == "level")?;
    LogLevel::parse(&member_string(raw, level)?)
}
