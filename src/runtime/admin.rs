//! The runtime admin API (`--runtimeAdminPort`): the in-tree HTTP server on
//! 127.0.0.1 only (whatever `--host` says), with the main port's limits and
//! a 64 KiB body.
//!
//! | request | answer |
//! | --- | --- |
//! | `POST /runtime/defaults` | `{"status":"ok","restart":bool}` |
//! | `POST /runtime/session/{id}` | the same; 404 for an unknown session |
//! | `GET /runtime/sessions` | the defaults and the live sessions |
//!
//! With `--config`, each server has these under `/runtime/server/NAME`
//! (`POST /runtime/server/files/defaults`, …): an update changes that
//! server's children only. The unprefixed paths are then 404.
//!
//! Every request needs `Authorization: Bearer TOKEN` (compared in constant
//! time), else 401: the token of `--runtimeAdminToken` (or
//! `SUPERGATEWAY_ADMIN_TOKEN`), or else one generated at start and written
//! to a file only this user can read (`token_file`). As on the main port, a
//! request naming a non-local `Host` is 403, and so is any request with an
//! `Origin` (browsers send one; the API's clients are scripts): a web page
//! cannot reach the API through DNS rebinding.
//!
//! It cannot be locked out by idle or slow connections: each phase of a
//! request (waiting for it, its head, its body) has a short deadline
//! ([`DEADLINE`]), a refused request (401, 403) closes its connection, and
//! when all [`MAX_CONNECTIONS`] slots are taken new connections wait in the
//! listen queue, in arrival order, for a slot instead of being refused: an
//! administrator who connects behind N idle sockets is served once they
//! time out, within about `DEADLINE × ⌈N / MAX_CONNECTIONS⌉`.

use std::rc::Rc;
use std::time::Duration;

use serde_json::json;
use smol::Task;
use supergateway_proto::http::{is_local_authority, Method, RequestHead};

use crate::cli::Config;
use crate::http::response::Response;
use crate::http::server::{self, Conn, Handler, Next, Request, ServerOptions};
use crate::rt;
use crate::runtime::token_file::TokenFile;
use supergateway_proto::secrets::constant_time_eq;

use crate::runtime::update::{self, Scope, MAX_BODY_BYTES};
use crate::runtime::{ok_reply, Runtime};

/// Connections the admin API serves at once at most (more wait for a slot).
const MAX_CONNECTIONS: usize = 64;

/// The deadline of each phase of an admin request: a new or kept-alive
/// connection's wait for it, its head, its body (64 KiB at most, from a
/// local script). Short, so that idle sockets free their slots quickly.
const DEADLINE: Duration = Duration::from_secs(3);

/// Binds 127.0.0.1:`port` and serves the API on a task. Also returns the
/// generated token's file when no token was configured: the API runs while
/// the task is kept, and the file is removed when it is dropped.
pub(crate) fn start(
    config: &Config,
    mut options: ServerOptions,
    port: u16,
    runtimes: Runtimes,
) -> Result<(Task<()>, Option<TokenFile>), String> {
    let listener = server::bind_quiet("127.0.0.1", port).map_err(|err| {
        format!("cannot listen on 127.0.0.1:{port} for --runtimeAdminPort: {err}")
    })?;
    let local = listener
        .get_ref()
        .local_addr()
        .map_err(|err| format!("--runtimeAdminPort: {err}"))?;
    let (token, file) = match &config.runtime_admin_token {
        Some(token) => (token.clone(), None),
        None => {
            let (token, file) = TokenFile::create()
                .map_err(|err| format!("--runtimeAdminPort: cannot store a token: {err}"))?;
            (token, Some(file))
        }
    };
    tracing::info!("Runtime admin API on http://{local}");
    if let Some(file) = &file {
        tracing::info!(
            "runtime admin API token (generated, readable by this user only) in {}; send it as Authorization: Bearer",
            file.path().display()
        );
    }
    options.max_body_bytes = u64::try_from(MAX_BODY_BYTES).unwrap_or(u64::MAX);
    options.max_connections = MAX_CONNECTIONS;
    options.queue_when_full = true;
    options.idle_timeout = DEADLINE;
    options.head_timeout = DEADLINE;
    options.body_timeout = DEADLINE;
    // Its bodies are small (64 KiB) and few: the administrator is never
    // refused because clients filled the main budget.
    options.budget = None;
    let admin = Rc::new(Admin { runtimes, token });
    let task = rt::spawn(async move {
        let _ = server::serve(listener, Rc::new(options), admin).await;
    });
    Ok((task, file))
}

/// Whose runtime the API changes.
pub(crate) enum Runtimes {
    /// The one server of a single-server command line.
    One(Rc<Runtime>),
    /// `--config`: each server's, by name.
    Named(Vec<(String, Rc<Runtime>)>),
}

impl Runtimes {
    /// The runtime `path` addresses and the path as a single server's API
    /// would see it (`/runtime/server/NAME/defaults` → `/runtime/defaults`).
    fn find<'a>(&'a self, path: &'a str) -> Option<(&'a Rc<Runtime>, std::borrow::Cow<'a, str>)> {
        match self {
            Self::One(runtime) => Some((runtime, std::borrow::Cow::Borrowed(path))),
            Self::Named(named) => {
                let rest = path.strip_prefix("/runtime/server/")?;
                let (name, rest) = rest.split_once('/')?;
                let (_, runtime) = named.iter().find(|(n, _)| n == name)?;
                Some((runtime, std::borrow::Cow::Owned(format!("/runtime/{rest}"))))
            }
        }
    }
}

struct Admin {
    runtimes: Runtimes,
    token: String,
}

impl Handler for Admin {
    async fn handle(self: Rc<Self>, request: Request, conn: &mut Conn) -> Next {
        let (status, body) = self.route(&request);
        let mut response = Response::new(status).json(&body);
        if status == 401 {
            response = response.header("www-authenticate", b"Bearer");
        }
        if status == 405 {
            let listing = self
                .runtimes
                .find(request.head.path())
                .is_some_and(|(_, path)| path == "/runtime/sessions");
            let allow: &[u8] = if listing { b"GET, HEAD" } else { b"POST" };
            response = response.header("allow", allow);
        }
        // A refused client gets no second try on the same connection: its
        // slot goes back at once.
        let refused = matches!(status, 401 | 403);
        match conn.send(&response).await {
            Ok(()) if !refused => Next::KeepAlive,
            _ => Next::Close,
        }
    }
}

impl Admin {
    fn route(&self, request: &Request) -> (u16, Vec<u8>) {
        let head = &request.head;
        if let Err(why) = check_local(head) {
            return (403, error(why));
        }
        if !self.authorized(head) {
            tracing::warn!(
                "runtime admin API: unauthorised request for {}",
                head.path()
            );
            return (401, error("missing or wrong Authorization: Bearer token"));
        }
        let Some((runtime, path)) = self.runtimes.find(head.path()) else {
            return (404, error("not found"));
        };
        let path = path.as_ref();
        if path == "/runtime/sessions" {
            // HEAD gets GET's head (the driver drops the body).
            if !matches!(head.method(), Method::Get | Method::Head) {
                return (405, error("use GET"));
            }
            return (200, runtime.sessions_json());
        }
        let scope = if path == "/runtime/defaults" {
            Scope::Defaults
        } else if let Some(id) = path.strip_prefix("/runtime/session/") {
            if id.is_empty() || id.contains('/') {
                return (404, error("not found"));
            }
            Scope::Session(id.to_owned())
        } else {
            return (404, error("not found"));
        };
        if head.method() != Method::Post {
            return (405, error("use POST"));
        }
        let update = match update::parse_payload(&request.body) {
            Ok(update) => update,
            Err(err) => {
                tracing::info!("runtime admin API: refused an update ({err})");
                return (400, err.to_json());
            }
        };
        match runtime.apply(&scope, &update) {
            Ok(restart) => (200, ok_reply(restart)),
            Err(err) => {
                tracing::info!("runtime admin API: refused an update ({err:?})");
                err.reply()
            }
        }
    }

    fn authorized(&self, head: &RequestHead) -> bool {
        let token = &self.token;
        let Some(value) = head.header("authorization") else {
            return false;
        };
        // RFC 6750 §2.1: `Bearer` (any case), one space, the token.
        let (scheme, given) = value.split_at(value.len().min(7));
        scheme.eq_ignore_ascii_case(b"bearer ") && constant_time_eq(given, token.as_bytes())
    }
}

/// The DNS-rebinding checks: a local `Host` (or none, HTTP/1.0), and no
/// `Origin` at all.
fn check_local(head: &RequestHead) -> Result<(), &'static str> {
    if !head.host().is_empty() && !is_local_authority(head.host()) {
        return Err("Forbidden: Host is not a local address");
    }
    if head.header("origin").is_some() {
        return Err("Forbidden: the admin API does not serve browsers (Origin present)");
    }
    Ok(())
}

fn error(message: &str) -> Vec<u8> {
    json!({"status": "error", "error": message})
        .to_string()
        .into_bytes()
}
