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
//! With `--runtimeAdminToken` (or `SUPERGATEWAY_ADMIN_TOKEN`), every request
//! needs `Authorization: Bearer TOKEN` (compared in constant time), else
//! 401. As on the main port, a request naming a non-local `Host` is 403, and
//! so is any request with an `Origin` (browsers send one; the API's clients
//! are scripts): a web page cannot reach the API through DNS rebinding.

use std::rc::Rc;

use serde_json::json;
use smol::Task;
use supergateway_proto::http::{is_local_authority, Method, RequestHead};

use crate::cli::Config;
use crate::http::response::Response;
use crate::http::server::{self, Conn, Handler, Next, Request, ServerOptions};
use crate::rt;
use crate::runtime::update::{self, constant_time_eq, Scope, MAX_BODY_BYTES};
use crate::runtime::{ok_reply, Runtime};

/// Connections the admin API serves at once at most.
const MAX_CONNECTIONS: usize = 16;

/// Binds 127.0.0.1:`port` and serves the API on a task.
pub(crate) fn start(
    config: &Config,
    mut options: ServerOptions,
    port: u16,
    runtime: Rc<Runtime>,
) -> Result<Task<()>, String> {
    let listener = server::bind_quiet("127.0.0.1", port).map_err(|err| {
        format!("cannot listen on 127.0.0.1:{port} for --runtimeAdminPort: {err}")
    })?;
    let local = listener
        .get_ref()
        .local_addr()
        .map_err(|err| format!("--runtimeAdminPort: {err}"))?;
    tracing::info!("Runtime admin API on http://{local}");
    options.max_body_bytes = u64::try_from(MAX_BODY_BYTES).unwrap_or(u64::MAX);
    options.max_connections = MAX_CONNECTIONS;
    // Its bodies are small (64 KiB) and few: the administrator is never
    // refused because clients filled the main budget.
    options.budget = None;
    let admin = Rc::new(Admin {
        runtime,
        token: config.runtime_admin_token.clone(),
    });
    Ok(rt::spawn(async move {
        let _ = server::serve(listener, Rc::new(options), admin).await;
    }))
}

struct Admin {
    runtime: Rc<Runtime>,
    token: Option<String>,
}

impl Handler for Admin {
    async fn handle(self: Rc<Self>, request: Request, conn: &mut Conn) -> Next {
        let (status, body) = self.route(&request);
        let mut response = Response::new(status).json(&body);
        if status == 401 {
            response = response.header("www-authenticate", b"Bearer");
        }
        if status == 405 {
            let allow: &[u8] = if request.head.path() == "/runtime/sessions" {
                b"GET, HEAD"
            } else {
                b"POST"
            };
            response = response.header("allow", allow);
        }
        match conn.send(&response).await {
            Ok(()) => Next::KeepAlive,
            Err(_) => Next::Close,
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
        let path = head.path();
        if path == "/runtime/sessions" {
            // HEAD gets GET's head (the driver drops the body).
            if !matches!(head.method(), Method::Get | Method::Head) {
                return (405, error("use GET"));
            }
            return (200, self.runtime.sessions_json());
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
        match self.runtime.apply(&scope, &update) {
            Ok(restart) => (200, ok_reply(restart)),
            Err(err) => {
                tracing::info!("runtime admin API: refused an update ({err:?})");
                err.reply()
            }
        }
    }

    fn authorized(&self, head: &RequestHead) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
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
