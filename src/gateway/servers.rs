//! `--config`: many stdio servers on one port, each under its own name.
//!
//! Each server is served as a single server would be (`cli::Served` has
//! its configuration, routes under `/NAME/`): its own runtime, its own
//! child (or children per session), its own handlers, front door, limits
//! and relay budget. [`Servers`] picks the server by the first path segment
//! (or the one after `/.well-known/oauth-protected-resource`), refuses a
//! body over that server's `maxBodyBytes`, and hands the request over as it
//! came; what is not under a server name (`GET /`, the gateway-wide health,
//! readiness and metrics endpoints) goes through a front door of its own.
//!
//! A server whose child exits without a restart policy is down (its
//! endpoints answer 503, its readiness 503); the others keep serving and
//! the gateway keeps running. Only a signal stops it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use serde_json::{json, Map, Value};
use supergateway_proto::http::{Method, RequestHead};
use supergateway_proto::jsonrpc::codes;

use crate::child::Child;
use crate::cli::{Config, Output, Served};
use crate::gateway::front::Front;
use crate::gateway::link::{Clients, Link};
use crate::gateway::stdio_sse::StdioSse;
use crate::gateway::stdio_streamable::StdioStreamable;
use crate::gateway::stdio_ws::StdioWs;
use crate::gateway::{listen, server_options, shut_down, start_shared, stop_signal, StdioMode};
use crate::http::response::Response;
use crate::http::server::{self, Conn, Handler, Next, Request};
use crate::http::tls::Acceptor;
use crate::rt;
use crate::runtime::{self, Runtime, Runtimes};

/// Where RFC 9728 puts protected-resource metadata; a server's documents
/// are this + its endpoint's path.
const PRM_PREFIX: &str = "/.well-known/oauth-protected-resource";

/// One transport's handler of a server.
enum Mode {
    Sse(Rc<StdioSse>),
    Ws(Rc<StdioWs>),
    Streamable(Rc<StdioStreamable>),
}

impl Mode {
    async fn handle(&self, request: Request, conn: &mut Conn) -> Next {
        match self {
            Self::Sse(handler) => Rc::clone(handler).handle(request, conn).await,
            Self::Ws(handler) => Rc::clone(handler).handle(request, conn).await,
            Self::Streamable(handler) => Rc::clone(handler).handle(request, conn).await,
        }
    }

    fn session_count(&self) -> usize {
        match self {
            Self::Sse(handler) => handler.session_count(),
            Self::Ws(handler) => handler.session_count(),
            Self::Streamable(handler) => handler.session_count(),
        }
    }

    fn children(&self) -> Vec<Child> {
        match self {
            Self::Sse(handler) => handler.children(),
            Self::Ws(handler) => handler.children(),
            Self::Streamable(handler) => handler.children(),
        }
    }
}

/// One served server.
struct Entry {
    served: Served,
    runtime: Rc<Runtime>,
    /// Its shared child's link (none with a child per session).
    shared: Option<Rc<RefCell<Link>>>,
    /// Its handlers and the paths each answers; a request under the
    /// server's name on no such path goes to the first (its 404 comes
    /// after its own front door, as on a single server).
    modes: Vec<(Vec<String>, Mode)>,
    /// `maxBodyBytes` of this server (the driver reads up to the largest
    /// of all servers').
    max_body_bytes: u64,
}

impl Entry {
    /// `ready`, `starting` (its child is being started, probed or waits
    /// out a restart's backoff) or `down` (its child exited for good).
    fn status(&self) -> &'static str {
        match &self.shared {
            None => "ready",
            Some(link) => {
                let link = link.borrow();
                if link.is_ready() {
                    "ready"
                } else if link.is_live() {
                    "starting"
                } else {
                    "down"
                }
            }
        }
    }

    fn mode_for(&self, path: &str) -> Option<&Mode> {
        self.modes
            .iter()
            .find(|(paths, _)| paths.iter().any(|p| p == path))
            .or_else(|| self.modes.first())
            .map(|(_, mode)| mode)
    }
}

/// The dispatcher: see the module documentation.
struct Servers {
    /// The gateway-wide front door: `GET /`, health, readiness, metrics.
    front: Front,
    entries: Vec<Entry>,
    by_name: HashMap<String, usize>,
    /// Disabled servers, listed by `GET /`.
    disabled: Vec<String>,
    /// TLS on: the listing's URLs are `https`/`wss`.
    tls: bool,
    base_url: String,
}

impl Servers {
    fn entry(&self, path: &str) -> Option<&Entry> {
        let name = path.strip_prefix('/')?.split('/').next()?;
        self.by_name
            .get(name)
            .and_then(|index| self.entries.get(*index))
    }

    /// `GET /`: every server, its status and its endpoints' URLs.
    fn listing(&self, head: &RequestHead) -> Vec<u8> {
        let (base, ws_base) = if !self.base_url.is_empty() {
            let base = self.base_url.trim_end_matches('/').to_owned();
            let ws = base
                .strip_prefix("https://")
                .map(|rest| format!("wss://{rest}"))
                .or_else(|| {
                    base.strip_prefix("http://")
                        .map(|rest| format!("ws://{rest}"))
                })
                .unwrap_or_else(|| base.clone());
            (base, ws)
        } else if head.host().is_empty() {
            // HTTP/1.0 without Host: paths only.
            (String::new(), String::new())
        } else {
            // The Host the client used (checked by the front door on
            // loopback); the answer goes back to that client only.
            let (http, ws) = if self.tls {
                ("https", "wss")
            } else {
                ("http", "ws")
            };
            let host = head.host();
            (format!("{http}://{host}"), format!("{ws}://{host}"))
        };
        let mut servers =
            Vec::with_capacity(self.entries.len().saturating_add(self.disabled.len()));
        for entry in &self.entries {
            let mut endpoints = Map::new();
            for (output, paths) in entry.served.routes() {
                let names: &[&str] = match output {
                    Output::Sse => &["sse", "message"],
                    Output::Ws => &["ws"],
                    Output::StreamableHttp => &["streamableHttp"],
                    Output::Stdio => &[],
                };
                let base = if output == Output::Ws {
                    &ws_base
                } else {
                    &base
                };
                for (name, path) in names.iter().zip(paths) {
                    endpoints.insert((*name).to_owned(), format!("{base}{path}").into());
                }
            }
            servers.push(json!({
                "name": entry.served.name,
                "status": entry.status(),
                "endpoints": Value::Object(endpoints),
            }));
        }
        for name in &self.disabled {
            servers.push(json!({"name": name, "status": "disabled"}));
        }
        json!({ "servers": servers }).to_string().into_bytes()
    }
}

impl Handler for Servers {
    async fn handle(self: Rc<Self>, request: Request, conn: &mut Conn) -> Next {
        // A server's protected-resource metadata (RFC 9728, the path
        // suffixed with its endpoint's) comes from its own front door: its
        // `authScopes` are its own.
        let path = request.head.path();
        let routed = path
            .strip_prefix(PRM_PREFIX)
            .filter(|endpoint| endpoint.starts_with('/'))
            .unwrap_or(path);
        if let Some(entry) = self.entry(routed) {
            if u64::try_from(request.body.len()).unwrap_or(u64::MAX) > entry.max_body_bytes {
                crate::metrics::refused(crate::metrics::Reason::Limits);
                let head = &request.head;
                tracing::info!(
                    "refused {} {} (413): body over the server's maxBodyBytes",
                    head.method_str(),
                    head.path()
                );
                return self
                    .front
                    .error(
                        head,
                        conn,
                        413,
                        codes::SERVER_ERROR,
                        "Payload Too Large: the body is over this server's maxBodyBytes",
                    )
                    .await;
            }
            let Some(mode) = entry.mode_for(routed) else {
                return Next::Close;
            };
            let span = entry.runtime.relay_settings().span.clone();
            return rt::in_span(span, mode.handle(request, conn)).await;
        }
        let head = &request.head;
        // Liveness: the gateway runs; a server that is down shows in its
        // own health endpoint and in readiness.
        if let Err(next) = self.front.intercept(head, conn, true).await {
            return next;
        }
        if head.path() == "/" {
            if !matches!(head.method(), Method::Get | Method::Head) {
                return self.front.method_not_allowed(head, conn, "GET, HEAD").await;
            }
            let body = self.listing(head);
            let response = Response::new(200)
                .header("cache-control", b"no-store")
                .json(&body);
            return self.front.send(head, conn, response).await;
        }
        self.front
            .error(head, conn, 404, codes::SERVER_ERROR, "Not found")
            .await
    }
}

/// Starts one server: its runtime, its shared child (unless it has one
/// per session) and a handler per transport.
fn start(served: Served) -> Result<Entry, String> {
    let config = &served.config;
    let name = served.name.clone();
    let runtime = Runtime::new(config);
    let clients = match config.output {
        Output::StreamableHttp => {
            (!config.stateful && !config.child_per_session).then_some(Clients::Anonymous)
        }
        _ => (!config.child_per_session).then_some(Clients::Separate),
    };
    let shared = match clients {
        None => None,
        Some(clients) => {
            let down = name.clone();
            let on_exit = move |code| {
                if crate::gateway::is_draining() {
                    return; // stopped by the shutdown
                }
                tracing::error!(
                    "server {down}: its MCP server exited with code {code}; {down} is down \
                     (no restart policy), the other servers keep serving"
                );
            };
            let link = start_shared(&runtime, clients, config.restart, on_exit)
                .map_err(|err| format!("server {name}: cannot start its MCP server: {err}"))?;
            Some(link)
        }
    };
    let mut modes = Vec::with_capacity(served.outputs.len());
    for (output, paths) in served.routes() {
        let mode = match output {
            Output::Sse => Mode::Sse(Rc::new(StdioSse::new(config, &runtime, shared.clone()))),
            Output::Ws => {
                // The single-server WebSocket mode answers at --messagePath.
                let mut ws = config.clone();
                ws.message_path = served.ws_path();
                ws.output = Output::Ws;
                Mode::Ws(Rc::new(StdioWs::new(&ws, &runtime, shared.clone())))
            }
            Output::StreamableHttp | Output::Stdio => {
                Mode::Streamable(StdioStreamable::new(config, &runtime, shared.clone()))
            }
        };
        modes.push((paths, mode));
    }
    let max_body_bytes = config.max_body_bytes;
    Ok(Entry {
        served,
        runtime,
        shared,
        modes,
        max_body_bytes,
    })
}

/// Serves every server of `config.servers` until a signal asks for
/// shutdown (then drained as a single server is: readiness 503, listener
/// closed, requests in flight given `--drainTimeout`, children stopped).
pub(crate) async fn run(config: &Config, top_runtime: &Rc<Runtime>) -> i32 {
    let (mut signals, listener) = match listen(config) {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let mut entries = Vec::with_capacity(config.servers.len());
    for served in &config.servers {
        match start(served.clone()) {
            Ok(entry) => {
                tracing::info!(
                    "server {} on /{}/ ({})",
                    entry.served.name,
                    entry.served.name,
                    describe(&entry.served.outputs)
                );
                entries.push(entry);
            }
            Err(why) => return fail(&why, &entries).await,
        }
    }
    let by_name = entries
        .iter()
        .enumerate()
        .map(|(index, entry)| (entry.served.name.clone(), index))
        .collect();
    let disabled = match &config.input {
        crate::cli::Input::Servers(file) => file
            .servers
            .iter()
            .filter(|server| server.disabled)
            .map(|server| server.name.clone())
            .collect(),
        _ => Vec::new(),
    };
    let named = entries
        .iter()
        .map(|entry| (entry.served.name.clone(), Rc::clone(&entry.runtime)))
        .collect();
    // The admin API runs while this is kept.
    let _admin = match runtime::start(config, server_options(config), Runtimes::Named(named)) {
        Ok(started) => started,
        Err(why) => return fail(&why, &entries).await,
    };
    // Gateway-wide readiness: no server is starting (being started,
    // probed, or waiting out a restart's backoff). A server that is down
    // for good does not hold the others hostage: its own endpoints and
    // `/NAME/ready` answer 503, and the instance keeps taking traffic for
    // the rest.
    let links: Vec<Rc<RefCell<Link>>> = entries.iter().filter_map(|e| e.shared.clone()).collect();
    let all_ready: Rc<dyn Fn() -> bool> = Rc::new(move || {
        links.iter().all(|link| {
            let link = link.borrow();
            link.is_ready() || !link.is_live()
        })
    });
    let front = Front::new(config, top_runtime).with_readiness(all_ready);
    let tls = config.tls.as_ref().map(Acceptor::new);
    if let Some(tls) = &config.tls {
        tracing::info!("TLS on: {}", tls.files);
    }
    let handler = Rc::new(Servers {
        front,
        entries,
        by_name,
        disabled,
        tls: tls.is_some(),
        base_url: config.base_url.clone(),
    });
    let mut options = server_options(config);
    options.tls = tls.clone();
    options.max_body_bytes = handler
        .entries
        .iter()
        .map(|entry| entry.max_body_bytes)
        .max()
        .unwrap_or(config.max_body_bytes);
    options.max_connections = handler
        .entries
        .iter()
        .map(|entry| entry.served.config.max_sessions.saturating_mul(2))
        .fold(64usize, usize::saturating_add);
    let server = rt::spawn(server::serve(
        listener,
        Rc::new(options),
        Rc::clone(&handler),
    ));
    let signal = stop_signal(&mut signals, tls.as_deref()).await;
    drop(server); // stop accepting
    let shared: Vec<Rc<RefCell<Link>>> = handler
        .entries
        .iter()
        .filter_map(|entry| entry.shared.clone())
        .collect();
    shut_down(signal, &shared, config, &mut signals).await;
    let sessions: usize = handler
        .entries
        .iter()
        .flat_map(|entry| entry.modes.iter())
        .map(|(_, mode)| mode.session_count())
        .sum();
    tracing::debug!("{sessions} sessions open at shutdown");
    for entry in &handler.entries {
        stop_children(entry).await;
    }
    0
}

/// Start-up failed: says why, stops the children started so far; exit 1.
async fn fail(why: &str, started: &[Entry]) -> i32 {
    tracing::error!("{why}");
    eprintln!("supergateway: {why}");
    for entry in started {
        stop_children(entry).await;
    }
    1
}

/// Stops every child of a server (its shared one, its sessions' own).
async fn stop_children(entry: &Entry) {
    let mut children: Vec<Child> = entry
        .modes
        .iter()
        .flat_map(|(_, mode)| mode.children())
        .collect();
    // SSE and WebSocket handlers of one server share its child.
    let mut seen = std::collections::HashSet::new();
    children.retain(|child| child.pid().is_none_or(|pid| seen.insert(pid)));
    let stopping: Vec<_> = children
        .into_iter()
        .map(|child| rt::spawn(async move { child.shutdown().await }))
        .collect();
    for task in stopping {
        task.await;
    }
}

fn describe(outputs: &[Output]) -> String {
    let names: Vec<&str> = outputs
        .iter()
        .map(|output| match output {
            Output::Sse => "sse",
            Output::Ws => "ws",
            Output::StreamableHttp => "streamableHttp",
            Output::Stdio => "stdio",
        })
        .collect();
    names.join(", ")
}
