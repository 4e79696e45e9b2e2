//! The MCP 2026-07-28 part of `relay_sequence`: relays set up with each
//! [`UpstreamMode`] and a test [`Seal`], modern requests (valid and
//! refused), `subscriptions/listen`, input round trips with `requestState`
//! tokens copied from the harness's own reads (or tampered, or made up),
//! and time.
//!
//! The first configuration byte enables it: bits 4–5 pick the mode (0: off,
//! the handshake-era harness unchanged; 1: `Legacy`; 2: `Auto`; 3:
//! `Modern`), bit 6 leaves the relay without a seal (modes 2 and 3).
//! Operation bytes are then taken modulo [`OPS`]:
//!
//! | op | operation | operand bytes |
//! | --- | --- | --- |
//! | 16 | a modern request: valid (`tools/call`, `prompts/get`, `resources/read`, `tools/list`; some with `logLevel` or a progress token), without capabilities, version `v999`, a non-string version, a bad `logLevel`, a removed method, `server/discover` | session, kind, form |
//! | 17 | `subscriptions/listen` with a filter (or a broken one) | session, filter |
//! | 18 | a retry of an interactive request: a `requestState` seen in an `InputRequiredResult`, tampered, made up, not a string or missing, the arguments changed or not, with all, some, none or malformed `inputResponses` | session, which, form, answers |
//! | 19 | time passes (1 ms to 10 s), the timer fires or not | step |
//! | 20 | every deadline passes (twice `inputTimeout`), the child reads | — |
//! | 21 | a modern request with an unsupported version from a fresh session closed at once | — |
//! | 22 | the child is replaced as a reverse bridge does when its server ended the session (`handle_child_replaced`) | — |
//! | 23 | the driver found the probe refused with a 2026-07-28 error (`handle_probe_refused`; a live child only) | — |
//! | 24 | the driver's own `tools/list` page (`handle_tool_list`): a subset of five tools (annotated string, annotated integer, invalid annotation, none, duplicate header), first page or later, or a result that is no listing | which, form |
//!
//! The child also answers the probe (op 7: a 2026-07-28 result, an error,
//! a result without 2026-07-28 or without capabilities), answers with error
//! codes 2026-07-28 changes, and sends `resources/updated`, the list
//! changes and listen-tagged notifications (op 9, kinds 6–9).
//!
//! Properties, on top of the handshake-era ones (every admitted request
//! answered exactly once, by its own id — modern ids are `"m<nonce>"`, so
//! each answer names its request):
//!
//! - a client that only spoke 2026-07-28 is never sent a request;
//! - the relay's refusals (-32602, -32022, -32601) are its own answers and
//!   the request never reaches the child; `server/discover` never does;
//! - a handshake-era child never sees `io.modelcontextprotocol/` keys, a
//!   2026-07-28 child always gets the version; no modern request reaches
//!   the child before the probe settles, nor after it failed;
//! - a result a handshake-era child gave a modern request carries
//!   `resultType` (and `ttlMs`/`cacheScope` where 2026-07-28 wants them);
//!   its error codes are ones 2026-07-28 defines;
//! - a `requestState` opens at most once (a second retry is -32602), a
//!   forged one never;
//! - once `inputTimeout` has passed with no retry, the child has an answer
//!   to each of its requests that no handshake-era client holds;
//! - listen notifications reach only the session of that listen, once,
//!   and only what it asked for; after `handle_timeout`, no deadline is
//!   left in the past;
//! - a replaced child keeps every promise a restarted one does; a refused
//!   probe fails the revision (no modern request reaches the child after
//!   it, and a late probe answer changes nothing);
//! - after a driver's listing, each tool it names has exactly the
//!   `x-mcp-header` parameters it declares (none when they are invalid), a
//!   first page forgets the tools it does not name, a later page or a
//!   result that is no listing leaves them as they were, and nothing is
//!   charged or sent.

#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use serde_json::Value;

use super::{find_number, ClientError, RelayModel, RelayOps, Seen, SessionKey};
use crate::jsonrpc::Message;
use crate::mcp::request_state::Seal;
use crate::mcp::x_mcp_header::{Param, ParamType};
use crate::relay::{Config, Relay, Report, UpstreamMode};

/// Operation kinds when the 2026-07-28 part is on (16 handshake-era ones,
/// then ops 16–24).
pub(super) const OPS: u8 = 25;

/// The one parameter a listed tool declares: property, header, type.
type Declared = Option<(&'static str, &'static str, ParamType)>;

/// The tools of op 24's listings: name, inputSchema, and the parameter
/// the relay must learn (`None`: nothing to check).
const LISTED: [(&str, &str, Declared); 5] = [
    (
        "region",
        r#"{"type":"object","properties":{"r":{"type":"string","x-mcp-header":"Region"}}}"#,
        Some(("r", "Region", ParamType::String)),
    ),
    (
        "count",
        r#"{"type":"object","properties":{"n":{"type":"integer","x-mcp-header":"N"}}}"#,
        Some(("n", "N", ParamType::Integer)),
    ),
    (
        "score",
        r#"{"type":"object","properties":{"s":{"type":"number","x-mcp-header":"Score"}}}"#,
        None,
    ),
    (
        "plain",
        r#"{"type":"object","properties":{"q":{"type":"string"}}}"#,
        None,
    ),
    (
        "twice",
        r#"{"type":"object","properties":{"a":{"type":"string","x-mcp-header":"X"},"b":{"type":"string","x-mcp-header":"x"}}}"#,
        None,
    ),
];

/// The probe timeout the harness configures, ms.
const PROBE_MS: u64 = 1_000;
/// `--inputTimeout` as the harness configures it, ms.
const INPUT_MS: u64 = 3_000;
/// The gathering window (`Config::coalesce_ms`, left at its default), ms.
const GATHER_MS: u64 = 25;
/// Time steps: around the gathering window, the probe timeout and
/// `inputTimeout`.
const STEPS: [u64; 8] = [1, 24, 25, 26, 999, 1_000, 3_000, 10_000];

/// Capabilities a modern client declares.
const CAPS: [&str; 3] = [
    r#"{"sampling":{},"elicitation":{},"roots":{}}"#,
    "{}",
    r#"{"sampling":{}}"#,
];

/// Resource URIs of listens and of the child's `resources/updated`.
const URIS: [&str; 2] = ["file:///a", "file:///b"];

/// Error codes a legacy child may use; a modern client sees only the
/// first (unchanged), -32602 (for -32002) and -32603 (for reserved ones).
const CHILD_CODES: [i64; 3] = [-32001, -32002, -32050];

/// A keyed checksum standing in for HMAC (as in the relay's own tests).
struct TestSeal;

impl Seal for TestSeal {
    fn tag(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut hash = 0xcbf2_9ce4_8422_2325_u64;
        for byte in parts.iter().flat_map(|part| part.iter()) {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
        let mut tag = [0u8; 32];
        for chunk in tag.chunks_mut(8) {
            chunk.copy_from_slice(&hash.to_le_bytes());
            hash = hash.rotate_left(13).wrapping_mul(31);
        }
        tag
    }

    fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        self.tag(parts) == tag
    }
}

/// What the harness knows of the child's revision (mirrors the relay's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EraModel {
    /// `server/discover` is out; `id` once the child has read it.
    Probing {
        deadline: u64,
        id: Option<u64>,
    },
    Legacy,
    Modern,
    Failed,
}

/// What a listen asked for.
#[derive(Clone, Debug, Default)]
struct Filter {
    tools: bool,
    prompts: bool,
    resources: bool,
    uris: Vec<&'static str>,
}

/// A retry's `requestState`.
#[derive(Clone, Copy, Debug)]
struct Retry {
    /// The state it copied, if it copied one.
    state: Option<usize>,
    /// Tampered, made up, not a string, or the arguments changed: must
    /// never open.
    forged: bool,
}

/// A modern request the relay accepted.
struct Request {
    /// The request whose answer from the child this one may carry: itself,
    /// or for a retry the request that began the round trip.
    origin: u64,
    method: &'static str,
    name: &'static str,
    arguments: u8,
    /// The code of the relay's own refusal it must get.
    refusal: Option<i64>,
    /// The child read it: whether the harness took the child to be
    /// handshake-era then.
    legacy_child: Option<bool>,
    listen: Option<Filter>,
    retry: Option<Retry>,
}

/// A `requestState` the harness read in an `InputRequiredResult`.
struct State {
    token: String,
    origin: u64,
    name: &'static str,
    arguments: u8,
    /// `inputRequests` keys, with the cnonce of the child's request.
    keys: Vec<(String, u64)>,
    /// Retries it opened.
    opened: usize,
}

/// The 2026-07-28 state of the model.
pub(super) struct ModernModel {
    upstream: UpstreamMode,
    sealed: bool,
    now: u64,
    era: EraModel,
    requests: HashMap<u64, Request>,
    states: Vec<State>,
    /// Cnonces of child requests the child withdrew.
    withdrawn: HashSet<u64>,
    /// Gateway ids of listens a 2026-07-28 child read.
    child_listens: Vec<u64>,
    /// Bnonces of the notifications a 2026-07-28 child tagged with a
    /// listen's id itself: passed through unfiltered, even when they reach
    /// the client after a restart carried that listen to a new child.
    child_tagged: HashSet<u64>,
    /// Nonces of requests the child has answered (at least once).
    pub(super) child_answered: HashSet<u64>,
    /// The relay dropped lines for the child (its own answers to the
    /// child's requests among them). Never reset: the relay reports this
    /// once until the child reads again, and a restart does not make it
    /// report anew.
    child_not_reading: bool,
    /// Retries that opened (for the unit tests: the path was reached).
    opened: usize,
}

impl ModernModel {
    /// The 2026-07-28 part for configuration byte `b0`, if on.
    pub(super) fn configure(b0: u8) -> Option<Self> {
        let upstream = match (b0 >> 4) & 3 {
            0 => return None,
            1 => UpstreamMode::Legacy,
            2 => UpstreamMode::Auto,
            _ => UpstreamMode::Modern,
        };
        let sealed = upstream == UpstreamMode::Legacy || b0 & 0x40 == 0;
        let era = if upstream == UpstreamMode::Legacy {
            EraModel::Legacy
        } else {
            EraModel::Probing {
                deadline: PROBE_MS,
                id: None,
            }
        };
        Some(Self {
            upstream,
            sealed,
            now: 0,
            era,
            requests: HashMap::new(),
            states: Vec::new(),
            withdrawn: HashSet::new(),
            child_listens: Vec::new(),
            child_tagged: HashSet::new(),
            child_answered: HashSet::new(),
            child_not_reading: false,
            opened: 0,
        })
    }

    pub(super) fn adjust(&self, config: &mut Config) {
        config.upstream = self.upstream;
        config.probe_timeout_ms = PROBE_MS;
        config.input_timeout_ms = INPUT_MS;
    }

    pub(super) fn start(&self, relay: &mut Relay) {
        if self.sealed {
            relay.set_seal(Rc::new(TestSeal), *b"instance", 1);
        }
        relay.start_child();
    }

    /// The child was replaced: a new probe, and the old one's lines are gone.
    /// Returns the nonces of the listens the old (2026-07-28) child served
    /// and had not ended (`unanswered`: what it read and did not answer),
    /// which the relay carries to the new one.
    pub(super) fn restarted(&mut self, unanswered: &[u64]) -> Vec<u64> {
        self.child_listens.clear();
        let mut carried = Vec::new();
        for (nonce, request) in &mut self.requests {
            if request.listen.is_some()
                && request.legacy_child == Some(false)
                && unanswered.contains(nonce)
                && !self.child_answered.contains(nonce)
            {
                request.legacy_child = None;
                carried.push(*nonce);
            }
        }
        if self.upstream != UpstreamMode::Legacy {
            self.era = EraModel::Probing {
                deadline: self.now + PROBE_MS,
                id: None,
            };
        }
        carried
    }

    /// The child answered gateway id `id`: if that was the probe, the era
    /// settles (`modern`: with a 2026-07-28 result).
    pub(super) fn probe_answered(&mut self, id: u64, modern: bool) {
        if let EraModel::Probing {
            id: Some(probe), ..
        } = self.era
        {
            if probe == id {
                self.era = self.verdict(modern);
            }
        }
    }

    fn verdict(&self, modern: bool) -> EraModel {
        match (modern, self.upstream) {
            (true, _) => EraModel::Modern,
            (false, UpstreamMode::Modern) => EraModel::Failed,
            (false, _) => EraModel::Legacy,
        }
    }

    pub(super) fn reported(&mut self, report: &Report) {
        if matches!(report, Report::ChildNotReading { .. }) {
            self.child_not_reading = true;
        }
    }

    /// The child's answer to a client's request (nonce `nonce`): a result,
    /// or an error with a code 2026-07-28 may change.
    pub(super) fn child_answer(&self, id: u64, nonce: u64, form: u8, pad: &str) -> String {
        if form & 1 == 0 {
            format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{"nonce":{nonce}{pad}}}}}"#)
        } else {
            let code = CHILD_CODES[usize::from(form / 2 % 3)];
            format!(
                r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":{code},"message":"failed","data":{{"nonce":{nonce}{pad}}}}}}}"#
            )
        }
    }
}

/// `"m<digits>"`: the nonce a modern request's id names.
pub(super) fn request_nonce(id: &[u8]) -> Option<u64> {
    let digits = id.strip_prefix(b"\"m")?.strip_suffix(b"\"")?;
    super::decimal(digits)
}

/// The requests the relay sends the child itself (no client, no nonce).
pub(super) fn relay_own(method: Option<&str>) -> bool {
    matches!(
        method,
        Some(
            "server/discover"
                | "resources/subscribe"
                | "resources/unsubscribe"
                // The listen the relay holds at a 2026-07-28 child for its
                // handshake-era clients (legacy_client.rs).
                | "subscriptions/listen"
        )
    )
}

/// The child's `InitializeResult.capabilities` (form bit 1: none).
pub(super) fn child_capabilities(form: u8) -> &'static str {
    if form & 2 == 0 {
        r#"{"tools":{"listChanged":true},"prompts":{"listChanged":true},"resources":{"listChanged":true,"subscribe":true}}"#
    } else {
        "{}"
    }
}

/// A notification's `params._meta` subscription id, as JSON text.
pub(super) fn tag_of(text: &str) -> Option<Vec<u8>> {
    let value: Value = serde_json::from_str(text).ok()?;
    let tag = value
        .get("params")?
        .get("_meta")?
        .get("io.modelcontextprotocol/subscriptionId")?;
    serde_json::to_vec(tag).ok()
}

/// A modern request's text: id `"m<nonce>"`, the nonce in `params`, then
/// `extra` params and the `_meta` members `meta`.
fn request_text(nonce: u64, method: &str, extra: &str, meta: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":"m{nonce}","method":"{method}","params":{{"nonce":{nonce}{extra},"_meta":{{{meta}}}}}}}"#
    )
}

/// Valid 2026-07-28 `_meta` members.
fn valid_meta(caps: &str) -> String {
    format!(
        r#""io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{caps}"#
    )
}

/// `params` naming a tool (or prompt) and its arguments.
fn call_params(name: &str, arguments: u8) -> String {
    format!(r#","name":"{name}","arguments":{{"a":{arguments}}}"#)
}

impl RelayModel {
    pub(super) fn modern_step(&mut self, op: u8, ops: &mut RelayOps<'_>) {
        match op {
            16 => self.modern_request(ops),
            17 => self.listen_request(ops),
            18 => self.retry(ops),
            19 => {
                let step = ops.byte();
                self.pass_time(STEPS[usize::from(step % 8)], step & 0x80 == 0);
            }
            20 => self.expire_everything(),
            21 => self.unsupported_on_fresh_session(),
            22 => self.replace_child(Some("the MCP server ended the session")),
            23 => self.probe_refused(),
            _ => self.tool_listing(ops),
        }
    }

    /// `handle_probe_refused`: while the probe is out, the revision fails
    /// (as a probe answered without 2026-07-28 under `Modern` does);
    /// otherwise nothing changes.
    fn probe_refused(&mut self) {
        if self.exited {
            return; // a driver reports this for a live child only
        }
        self.relay.handle_probe_refused();
        let modern = self.modern();
        if matches!(modern.era, EraModel::Probing { .. }) {
            modern.era = EraModel::Failed;
        }
    }

    /// `handle_tool_list` with a page of [`LISTED`] tools (bits 0–4 of
    /// `which`), or a result that is no listing (bit 7 of `form`); checks
    /// the table the relay keeps against it.
    fn tool_listing(&mut self, ops: &mut RelayOps<'_>) {
        let (which, form) = (ops.byte(), ops.byte());
        let first_page = form & 1 == 0;
        let before: Vec<Option<Vec<Param>>> = LISTED
            .iter()
            .map(|(name, _, _)| self.relay.param_headers(name).map(<[Param]>::to_vec))
            .collect();
        let used = self.relay.budget().used();
        let listed: Vec<usize> = (0..LISTED.len())
            .filter(|i| which & (1 << i) != 0)
            .collect();
        let result = if form & 0x80 != 0 {
            r#"{"tools":{"not":"a list"}}"#.to_owned()
        } else {
            let tools: Vec<String> = listed
                .iter()
                .map(|&i| {
                    let (name, schema, _) = LISTED[i];
                    format!(r#"{{"name":"{name}","inputSchema":{schema}}}"#)
                })
                .collect();
            let next = if form & 2 != 0 {
                r#","nextCursor":"c""#
            } else {
                ""
            };
            format!(r#"{{"tools":[{}]{next}}}"#, tools.join(","))
        };
        self.relay.handle_tool_list(result.as_bytes(), first_page);
        assert_eq!(
            self.relay.budget().used(),
            used,
            "a driver's listing charged the budget"
        );
        for (i, (name, _, expected)) in LISTED.iter().enumerate() {
            let got = self.relay.param_headers(name).map(<[Param]>::to_vec);
            let want = if form & 0x80 != 0 || (!listed.contains(&i) && !first_page) {
                before[i].clone()
            } else if listed.contains(&i) {
                expected.map(|(path, header, ty)| {
                    vec![Param {
                        path: vec![path.to_owned()],
                        header: header.to_owned(),
                        ty,
                    }]
                })
            } else {
                None
            };
            assert_eq!(
                got, want,
                "tool {name} after the listing {result} (first page: {first_page})"
            );
        }
    }

    fn modern(&mut self) -> &mut ModernModel {
        self.modern.as_mut().expect("2026-07-28 configuration")
    }

    /// Sends a modern request and records it if accepted. One with a
    /// `refusal` (and `server/discover`) the relay answers itself: it never
    /// reaches the child, and a refusal is never busy.
    fn send_modern(&mut self, key: SessionKey, nonce: u64, text: &str, request: Request) {
        let token = text.contains("\"progressToken\"").then_some("\"p\"");
        let refusal = request.refusal;
        // Only a request that passes the checks makes the session modern.
        let checked = refusal.is_none();
        let result = self.send(key, text);
        match result {
            Ok(1) => {
                let id = format!("\"m{nonce}\"");
                self.accept_request(key, nonce, &id, token);
                if refusal.is_some() || request.method == "server/discover" {
                    // Never for the child.
                    self.refused.insert(nonce);
                }
                if checked {
                    if let Some(session) = self.sessions.get_mut(&key) {
                        session.modern.get_or_insert(nonce);
                    }
                }
                self.modern().requests.insert(nonce, request);
            }
            Err(ClientError::Busy(_)) if refusal.is_none() => {
                self.refused.insert(nonce);
            }
            Err(ClientError::NoSession) => {
                self.refused.insert(nonce);
            }
            other => panic!("modern request {text}: {other:?}"),
        }
    }

    fn modern_request(&mut self, ops: &mut RelayOps<'_>) {
        let Some(key) = self.pick_session(ops) else {
            return;
        };
        let kind = ops.byte();
        let form = ops.byte();
        let nonce = self.fresh_nonce();
        let caps = CAPS[usize::from(form % 3)];
        let mut meta = valid_meta(caps);
        if form & 0x10 != 0 {
            meta.push_str(r#","io.modelcontextprotocol/logLevel":"info""#);
        }
        if form & 0x20 != 0 {
            meta.push_str(r#","progressToken":"p""#);
        }
        let name = ["t", "u"][usize::from(form >> 6 & 1)];
        let arguments = form >> 7;
        let mut request = Request {
            origin: nonce,
            method: "tools/call",
            name,
            arguments,
            refusal: None,
            legacy_child: None,
            listen: None,
            retry: None,
        };
        let (method, extra, meta) = match kind % 12 {
            0..=2 => ("tools/call", call_params(name, arguments), meta),
            3 => ("prompts/get", call_params(name, arguments), meta),
            4 => ("resources/read", format!(r#","uri":"{}""#, URIS[0]), meta),
            5 => ("tools/list", String::new(), meta),
            6 => {
                request.refusal = Some(-32602);
                (
                    "tools/call",
                    call_params(name, arguments),
                    r#""io.modelcontextprotocol/protocolVersion":"2026-07-28""#.to_owned(),
                )
            }
            7 => {
                request.refusal = Some(-32022);
                let meta = meta.replace("2026-07-28", "v999");
                ("tools/list", String::new(), meta)
            }
            8 => {
                request.refusal = Some(-32602);
                let meta = meta.replace(r#""2026-07-28""#, "20260728");
                ("tools/list", String::new(), meta)
            }
            9 => {
                request.refusal = Some(-32602);
                (
                    "tools/list",
                    String::new(),
                    format!(
                        r#"{},"io.modelcontextprotocol/logLevel":"loud""#,
                        valid_meta(caps)
                    ),
                )
            }
            10 => {
                request.refusal = Some(-32601);
                let method =
                    ["ping", "logging/setLevel", "resources/subscribe"][usize::from(form / 3 % 3)];
                (method, String::new(), meta)
            }
            _ => ("server/discover", String::new(), meta),
        };
        request.method = method;
        let text = request_text(nonce, method, &extra, &meta);
        self.send_modern(key, nonce, &text, request);
    }

    fn listen_request(&mut self, ops: &mut RelayOps<'_>) {
        let Some(key) = self.pick_session(ops) else {
            return;
        };
        let f = ops.byte();
        let nonce = self.fresh_nonce();
        let filter = Filter {
            tools: f & 1 != 0,
            prompts: f & 2 != 0,
            resources: f & 4 != 0,
            uris: match (f >> 3) % 4 {
                0 => Vec::new(),
                1 => vec![URIS[0]],
                2 => vec![URIS[1]],
                _ => URIS.to_vec(),
            },
        };
        let notifications = if f >> 5 == 7 {
            "\"x\"".to_owned()
        } else {
            let mut members = Vec::new();
            for (on, key) in [
                (filter.tools, "toolsListChanged"),
                (filter.prompts, "promptsListChanged"),
                (filter.resources, "resourcesListChanged"),
            ] {
                if on {
                    members.push(format!("\"{key}\":true"));
                }
            }
            if !filter.uris.is_empty() {
                let list: Vec<String> = filter.uris.iter().map(|u| format!("\"{u}\"")).collect();
                members.push(format!("\"resourceSubscriptions\":[{}]", list.join(",")));
            }
            format!("{{{}}}", members.join(","))
        };
        let extra = format!(r#","notifications":{notifications}"#);
        let text = request_text(nonce, "subscriptions/listen", &extra, &valid_meta(CAPS[0]));
        let request = Request {
            origin: nonce,
            method: "subscriptions/listen",
            name: "",
            arguments: 0,
            refusal: None,
            legacy_child: None,
            listen: Some(filter),
            retry: None,
        };
        self.send_modern(key, nonce, &text, request);
    }

    fn retry(&mut self, ops: &mut RelayOps<'_>) {
        let Some(key) = self.pick_session(ops) else {
            return;
        };
        let which = usize::from(ops.byte());
        let form = ops.byte();
        let answers = ops.byte();
        let nonce = self.fresh_nonce();
        let modern = self.modern();
        let copied = (!modern.states.is_empty()).then(|| which % modern.states.len());
        let (state, token, name, mut arguments, origin, keys) = match copied {
            Some(at) => {
                let state = &modern.states[at];
                (
                    Some(at),
                    format!("\"{}\"", state.token),
                    state.name,
                    state.arguments,
                    state.origin,
                    state.keys.clone(),
                )
            }
            None => (
                None,
                "\"sg1.made-up\"".to_owned(),
                "t",
                0,
                nonce,
                Vec::new(),
            ),
        };
        let mut forged = state.is_none();
        let token = match form % 5 {
            0 | 1 => token,
            2 => {
                // One symbol of the payload changed.
                forged = true;
                let mut bytes = token.into_bytes();
                let at = bytes.len() / 3;
                bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
                String::from_utf8(bytes).expect("ASCII token")
            }
            3 => {
                forged = true;
                format!("\"{}\"", "A".repeat(usize::from(form % 120)))
            }
            _ => {
                forged = true;
                "42".to_owned()
            }
        };
        if form & 0x20 != 0 {
            forged = true;
            arguments ^= 1;
        }
        let value =
            |cnonce: u64| format!(r#"{{"action":"accept","content":{{}},"cnonce":{cnonce}}}"#);
        let responses = match answers % 4 {
            0 => keys
                .iter()
                .map(|(k, c)| format!("\"{k}\":{}", value(*c)))
                .collect::<Vec<_>>()
                .join(","),
            1 => keys
                .first()
                .map(|(k, c)| format!("\"{k}\":{}", value(*c)))
                .unwrap_or_default(),
            _ => String::new(),
        };
        let responses = if answers % 4 == 3 {
            "[1]".to_owned()
        } else {
            format!("{{{responses}}}")
        };
        // Without a state, the answers are unsolicited: a fresh request.
        let fresh = form & 0x40 != 0;
        let state_member = if fresh {
            String::new()
        } else {
            format!(r#","requestState":{token}"#)
        };
        let extra = format!(
            r#"{},"inputResponses":{responses}{state_member}"#,
            call_params(name, arguments)
        );
        let text = request_text(nonce, "tools/call", &extra, &valid_meta(CAPS[0]));
        let request = Request {
            origin: if fresh { nonce } else { origin },
            method: "tools/call",
            name,
            arguments,
            refusal: None,
            legacy_child: None,
            listen: None,
            retry: (!fresh).then_some(Retry { state, forged }),
        };
        // A retry may deliver the child's final answer, kept while the
        // request was parked: a child's message, which may find the
        // client too slow.
        self.child_op = true;
        self.send_modern(key, nonce, &text, request);
    }

    /// A client whose only request is refused (-32022) and whose stream
    /// ends at once (a stateless POST): nothing may stay behind.
    fn unsupported_on_fresh_session(&mut self) {
        let before = self.sessions.len();
        self.open(false);
        if self.sessions.len() == before {
            return;
        }
        let key = self.newest_session();
        let nonce = self.fresh_nonce();
        let meta = valid_meta(CAPS[1]).replace("2026-07-28", "v999");
        let text = request_text(nonce, "tools/list", "", &meta);
        assert_eq!(self.send(key, &text), Ok(1), "refusal of {text}");
        self.close(key);
        self.refused.insert(nonce);
    }

    /// The key `open` gave last (keys are spread by a multiplier).
    fn newest_session(&self) -> SessionKey {
        (self.next_key - 1).wrapping_mul(0x9e37_79b9)
    }

    /// Time passes by `step` ms; the driver's timer fires (`fire`) or not.
    fn pass_time(&mut self, step: u64, fire: bool) {
        let modern = self.modern();
        modern.now += step;
        let now = modern.now;
        self.relay.advance(now);
        if !fire {
            return;
        }
        self.relay.handle_timeout();
        let modern = self.modern();
        if let EraModel::Probing { deadline, .. } = modern.era {
            if now >= deadline {
                modern.era = modern.verdict(false);
            }
        }
        if let Some(next) = self.relay.poll_timeout() {
            assert!(next > now, "deadline {next} left behind at {now}");
        }
    }

    /// Every deadline passes with no retry: the child must then have an
    /// answer to each of its requests no handshake-era client holds.
    fn expire_everything(&mut self) {
        self.read_child(usize::MAX, true);
        self.settle();
        for _ in 0..2 {
            self.pass_time(INPUT_MS + PROBE_MS + GATHER_MS, true);
            self.settle();
            self.read_child(usize::MAX, true);
            self.settle();
        }
        // Child requests delivered to handshake-era clients wait for them:
        // the clients read, so that the harness knows which.
        let keys: Vec<SessionKey> = self.sessions.keys().copied().collect();
        for key in keys {
            self.drain_session(key, usize::MAX);
        }
        let modern = self.modern.as_ref().expect("2026-07-28 configuration");
        if self.exited || modern.child_not_reading {
            return;
        }
        for (id, cnonce) in &self.child.own {
            assert!(
                self.delivered.contains(cnonce) || modern.withdrawn.contains(cnonce),
                "the child's request {} (cnonce {cnonce}) has no answer after inputTimeout",
                String::from_utf8_lossy(id)
            );
        }
    }

    /// The child withdrew its request `cnonce`.
    pub(super) fn withdrawn(&mut self, cnonce: u64) {
        if let Some(modern) = &mut self.modern {
            modern.withdrawn.insert(cnonce);
        }
    }

    /// What the harness checks when the child reads a request; true for the
    /// probe.
    pub(super) fn modern_child_reads(
        &mut self,
        message: &Message<'_>,
        gateway_id: u64,
        nonce: Option<u64>,
        text: &str,
    ) -> bool {
        let Some(modern) = &mut self.modern else {
            return false;
        };
        match message.method.as_deref() {
            Some("server/discover") => {
                if let EraModel::Probing { id, .. } = &mut modern.era {
                    *id = Some(gateway_id);
                }
                return true;
            }
            Some("subscriptions/listen") => modern.child_listens.push(gateway_id),
            _ => {}
        }
        let era = modern.era;
        let Some(request) = nonce.and_then(|n| modern.requests.get_mut(&n)) else {
            return false;
        };
        assert!(
            request.refusal.is_none(),
            "a request the relay refuses reached the child: {text}"
        );
        match era {
            EraModel::Legacy => assert!(
                !text.contains("io.modelcontextprotocol/"),
                "a handshake-era child got 2026-07-28 _meta keys: {text}"
            ),
            EraModel::Modern => assert!(
                text.contains(r#""io.modelcontextprotocol/protocolVersion":"2026-07-28""#),
                "a 2026-07-28 child got a request without its version: {text}"
            ),
            EraModel::Probing { .. } | EraModel::Failed => {
                panic!("a modern request reached the child in era {era:?}: {text}")
            }
        }
        request.legacy_child = Some(era == EraModel::Legacy);
        false
    }

    /// The child's answer to the relay's own request (`server/discover`,
    /// `resources/subscribe`…).
    pub(super) fn relay_own_answer(&mut self, seen: &Seen, form: u8, pad: &str) -> String {
        let id = seen.gateway_id;
        if !seen.discover {
            return format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#);
        }
        let (result, modern) = match form % 4 {
            0 => (
                format!(
                    r#"{{"supportedVersions":["2025-11-25","2026-07-28"],"capabilities":{{"tools":{{"listChanged":true}}}}{pad}}}"#
                ),
                true,
            ),
            1 => {
                if let Some(model) = &mut self.modern {
                    model.probe_answered(id, false);
                }
                return format!(
                    r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32601,"message":"Method not found"}}}}"#
                );
            }
            2 => (
                r#"{"supportedVersions":["2025-11-25"],"capabilities":{}}"#.to_owned(),
                false,
            ),
            _ => (r#"{"supportedVersions":["2026-07-28"]}"#.to_owned(), false),
        };
        if let Some(model) = &mut self.modern {
            model.probe_answered(id, modern);
        }
        format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{result}}}"#)
    }

    /// The child's 2026-07-28-era notifications (kind 0–3).
    pub(super) fn modern_notification(
        &mut self,
        kind: u8,
        which: usize,
        pad: &str,
    ) -> Option<String> {
        let bnonce = self.fresh_nonce();
        let modern = self.modern.as_mut()?;
        let (method, params) = match kind {
            0 => (
                "notifications/resources/updated",
                format!(r#""uri":"{}","bnonce":{bnonce}{pad}"#, URIS[which % 2]),
            ),
            1 => (
                "notifications/prompts/list_changed",
                format!(r#""bnonce":{bnonce}{pad}"#),
            ),
            2 => (
                "notifications/resources/list_changed",
                format!(r#""bnonce":{bnonce}{pad}"#),
            ),
            _ => {
                let listens = &modern.child_listens;
                let id = listens.get(which.checked_rem(listens.len())?)?;
                modern.child_tagged.insert(bnonce);
                (
                    "notifications/tools/list_changed",
                    format!(
                        r#""_meta":{{"io.modelcontextprotocol/subscriptionId":{id}}},"bnonce":{bnonce}{pad}"#
                    ),
                )
            }
        };
        Some(format!(
            r#"{{"jsonrpc":"2.0","method":"{method}","params":{{{params}}}}}"#
        ))
    }

    /// What the slack allows for 2026-07-28 answers: an
    /// `InputRequiredResult` carries up to 16 of the child's requests and a
    /// state, and is the relay's own answer (never refused).
    pub(super) fn modern_slack(&self) -> usize {
        let Some(modern) = &self.modern else {
            return 0;
        };
        let open = self
            .sessions
            .values()
            .flat_map(|s| s.outstanding.iter())
            .filter(|n| modern.requests.contains_key(n))
            .count();
        open * (16 * (self.longest_child_line + 96) + 600)
    }

    /// A frame answered modern request `request` on `key`.
    pub(super) fn modern_answered(&mut self, key: SessionKey, request: u64, text: &str) {
        let sent = self
            .sent
            .get(&request)
            .unwrap_or_else(|| panic!("answer to an unknown modern request: {text}"));
        assert_eq!(
            sent.session, key,
            "session {key} got another's answer: {text}"
        );
        let session = self.sessions.get_mut(&key).expect("live session");
        let at = session
            .outstanding
            .iter()
            .position(|n| *n == request)
            .unwrap_or_else(|| panic!("second answer to a request: {text}"));
        session.outstanding.remove(at);
        let value: Value =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("answer not JSON ({e}): {text}"));
        let child_nonce = find_number(text.as_bytes(), b"\"nonce\":");
        let now = self.modern().now;
        let modern = self.modern.as_mut().expect("2026-07-28 configuration");
        let req = modern.requests.get(&request).expect("recorded");
        let (origin, retry, refusal) = (req.origin, req.retry, req.refusal);
        if let Some(code) = refusal {
            assert_eq!(
                value["error"]["code"].as_i64(),
                Some(code),
                "the relay's refusal: {text}"
            );
            if code == -32022 {
                assert_eq!(value["error"]["data"]["requested"], "v999", "{text}");
            }
            return;
        }
        let opened = match child_nonce {
            Some(nonce) => {
                assert!(
                    nonce == request || nonce == origin,
                    "answer carries another request's nonce {nonce}: {text}"
                );
                let legacy = modern
                    .requests
                    .get(&nonce)
                    .and_then(|r| r.legacy_child)
                    .unwrap_or_else(|| panic!("the child answered what it never read: {text}"));
                if legacy {
                    check_completed(&value, modern.requests[&nonce].method, text);
                }
                nonce != request
            }
            None => value["result"]["resultType"] == "input_required",
        };
        if let Some(retry) = retry {
            if opened {
                assert!(!retry.forged, "a forged requestState opened: {text}");
                let state = retry.state.expect("a copied state");
                let state = &mut modern.states[state];
                state.opened += 1;
                assert_eq!(
                    state.opened, 1,
                    "requestState {} opened twice: {text}",
                    state.token
                );
                modern.opened += 1;
            }
        }
        if value["result"]["resultType"] == "input_required" {
            let (name, arguments) = (
                modern.requests[&request].name,
                modern.requests[&request].arguments,
            );
            let token = value["result"]["requestState"]
                .as_str()
                .unwrap_or_else(|| panic!("InputRequiredResult without requestState: {text}"))
                .to_owned();
            let payload = crate::mcp::request_state::dangerous_peek(&token)
                .unwrap_or_else(|e| panic!("requestState {token} does not parse ({e})"));
            assert!(
                payload.expires_ms <= now + INPUT_MS,
                "state outlives inputTimeout"
            );
            let asked = value["result"]["inputRequests"]
                .as_object()
                .unwrap_or_else(|| panic!("InputRequiredResult without inputRequests: {text}"));
            let keys = asked
                .iter()
                .map(|(k, v)| {
                    let cnonce = v["params"]["cnonce"]
                        .as_u64()
                        .unwrap_or_else(|| panic!("input request without cnonce: {text}"));
                    (k.clone(), cnonce)
                })
                .collect();
            modern.states.push(State {
                token,
                origin,
                name,
                arguments,
                keys,
                opened: 0,
            });
        }
    }

    /// A listen-tagged notification (or a listen's acknowledgement) on `key`.
    pub(super) fn listen_notified(&mut self, key: SessionKey, method: &str, text: &str) {
        let tag = tag_of(text).expect("tagged");
        let modern = self.modern.as_ref().expect("2026-07-28 configuration");
        let session = self.sessions.get(&key).expect("live session");
        let listen = session
            .outstanding
            .iter()
            .filter_map(|n| modern.requests.get(n).map(|r| (n, r)))
            .find(|(n, r)| r.listen.is_some() && format!("\"m{n}\"").into_bytes() == tag)
            .map(|(_, r)| r)
            .unwrap_or_else(|| {
                panic!("session {key} got a notification of no listen of its own: {text}")
            });
        let filter = listen.listen.clone().expect("a listen");
        let relay_served = listen.legacy_child.is_none();
        if method == "notifications/subscriptions/acknowledged" {
            assert!(
                relay_served,
                "acknowledged by the relay for a child's listen: {text}"
            );
            let value: Value = serde_json::from_str(text).expect("JSON");
            let granted = &value["params"]["notifications"];
            for (flag, wanted) in [
                ("toolsListChanged", filter.tools),
                ("promptsListChanged", filter.prompts),
                ("resourcesListChanged", filter.resources),
            ] {
                assert!(
                    wanted || granted.get(flag).is_none(),
                    "granted {flag} unasked: {text}"
                );
            }
            return;
        }
        let bnonce = find_number(text.as_bytes(), b"\"bnonce\":")
            .unwrap_or_else(|| panic!("listen notification without bnonce: {text}"));
        if relay_served && !modern.child_tagged.contains(&bnonce) {
            let wanted = match method {
                "notifications/tools/list_changed" => filter.tools,
                "notifications/prompts/list_changed" => filter.prompts,
                "notifications/resources/list_changed" => filter.resources,
                "notifications/resources/updated" => filter
                    .uris
                    .iter()
                    .any(|uri| text.contains(&format!("\"uri\":\"{uri}\""))),
                _ => false,
            };
            assert!(wanted, "listen got what it did not ask for: {text}");
        }
        let session = self.sessions.get_mut(&key).expect("live session");
        assert!(
            session.listen_notes.insert((bnonce, tag)),
            "listen notification twice: {text}"
        );
    }
}

/// A handshake-era child's answer as a modern client must see it.
fn check_completed(value: &Value, method: &str, text: &str) {
    if let Some(result) = value.get("result") {
        if let Some(result) = result.as_object() {
            assert!(
                result.contains_key("resultType"),
                "a modern client's result without resultType: {text}"
            );
            if matches!(method, "tools/list" | "resources/read") {
                assert!(
                    result.contains_key("ttlMs") && result.contains_key("cacheScope"),
                    "a cacheable result without ttlMs/cacheScope: {text}"
                );
            }
        }
    } else if let Some(code) = value["error"]["code"].as_i64() {
        assert!(
            matches!(code, -32001 | -32602 | -32603),
            "a modern client got error code {code}: {text}"
        );
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::{relay_sequence, RelayModel, RelayOps};

    /// Runs `data` like `relay_sequence`, returning the model before its
    /// final checks (which run too).
    fn run(data: &[u8]) -> usize {
        let mut ops = RelayOps { data, at: 0 };
        let mut model = RelayModel::new(&mut ops);
        while let Some(op) = ops.next_op(super::OPS) {
            model.child_op = false;
            model.step(op, &mut ops);
            model.settle();
        }
        let opened = model.modern.as_ref().map_or(0, |m| m.opened);
        model.finish();
        opened
    }

    /// Separate clients, roomy limits, a legacy child with a seal.
    const CONFIG: [u8; 5] = [0x12, 0xff, 0xff, 0xff, 0xff];

    /// A modern `tools/call`, the child initialised by the relay, its
    /// elicitation gathered into an `InputRequiredResult`; the retry opens
    /// the state once, a second retry with it does not.
    const ROUND_TRIP: [u8; 36] = [
        0, 0, // a session
        16, 0, 0, 0, // modern tools/call, full capabilities
        6, 4, // the child reads the relay's initialize
        7, 0, 0, 0, // and answers it
        6, 4, // reads notifications/initialized and the call
        8, 0, 2, 0, // asks elicitation/create
        19, 3,  // 26 ms: the gathering window closes
        11, // the client reads the InputRequiredResult
        18, 0, 0, 0, 0, // retry with every answer
        6, 4, // the child reads the answer
        7, 0, 0, 0,  // and answers the call
        11, // the client reads the final answer
        18, 0, 0, // retry again with the same state
    ];

    #[test]
    fn a_state_opens_once() {
        let data: Vec<u8> = CONFIG.iter().chain(ROUND_TRIP.iter()).copied().collect();
        assert_eq!(run(&data), 1);
        relay_sequence(&data);
    }

    #[test]
    fn a_tampered_state_does_not_open() {
        let mut data: Vec<u8> = CONFIG.iter().chain(ROUND_TRIP.iter()).copied().collect();
        // The first retry's form: one symbol changed.
        data[5 + 24] = 2;
        assert_eq!(run(&data), 0);
    }

    #[test]
    fn expired_input_answers_the_child() {
        let mut data: Vec<u8> = CONFIG
            .iter()
            .chain(ROUND_TRIP.iter().take(21))
            .copied()
            .collect();
        data.extend_from_slice(&[20, 6, 4]);
        assert_eq!(run(&data), 0);
    }

    /// The bridge's verbs: a modern call held by the probe, the probe
    /// refused (the call is answered by the relay, the revision failed),
    /// the driver's listings (first page, later page, no listing), the
    /// child replaced (probed again) and answering as a 2026-07-28 server.
    #[test]
    fn the_bridge_verbs_keep_the_promises() {
        // Separate clients, roomy limits, Auto with a seal.
        let mut data = vec![0x20, 0xff, 0xff, 0xff, 0xff];
        data.extend_from_slice(&[
            0, 0, // a session
            16, 0, 0, 0,  // modern tools/call: held while the probe is out
            23, // the probe refused over HTTP
            11, // the client reads the relay's error
            24, 0b11011, 0, // a first page: region, count, plain, twice
            24, 0b00100, 2, // a later page: score (invalid), with nextCursor
            24, 0, 0x80, // no listing
            24, 0b00001, 0,  // a new first page: region only
            22, // the server ended the session: a new child, probed
            6, 4, // the child reads the probe
            7, 0, 0, 0, // and answers it as a 2026-07-28 server
            16, 0, 0, 0, // another modern call now reaches it
            6, 4, 7, 0, 0, 0, 11, // read, answered, delivered
        ]);
        let mut ops = RelayOps { data: &data, at: 0 };
        let mut model = RelayModel::new(&mut ops);
        let mut eras = Vec::new();
        while let Some(op) = ops.next_op(super::OPS) {
            model.child_op = false;
            model.step(op, &mut ops);
            model.settle();
            eras.push(model.modern.as_ref().map(|m| m.era));
        }
        assert_eq!(eras[2], Some(super::EraModel::Failed), "{eras:?}");
        assert_eq!(
            eras.last(),
            Some(&Some(super::EraModel::Modern)),
            "{eras:?}"
        );
        assert_eq!(model.relay.param_headers("region").map(<[_]>::len), Some(1));
        assert_eq!(model.relay.param_headers("count"), None, "forgotten");
        model.finish();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn random_modern_sequences(mode in 1u8..4, seal in any::<bool>(), mut data in proptest::collection::vec(any::<u8>(), 5..800)) {
            data[0] = (data[0] & 0x0f) | (mode << 4) | if seal { 0 } else { 0x40 };
            relay_sequence(&data);
        }
    }
}
