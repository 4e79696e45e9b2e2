//! `--metricsPort`: the Prometheus exposition on a listener of its own,
//! bound to 127.0.0.1 and serving only `--metricsEndpoint` (GET or HEAD).
//! A local scraper (or a sidecar that forwards) needs no token: like the
//! runtime admin API, the listener refuses a non-local `Host` and any
//! `Origin`, so a web page cannot read it through DNS rebinding.

use std::rc::Rc;
use std::time::Duration;

use smol::Task;
use supergateway_proto::http::{is_local_authority, Method};

use crate::cli::{Config, Output};
use crate::http::response::Response;
use crate::http::server::{self, Conn, Handler, Next, Request, ServerOptions};
use crate::metrics;
use crate::rt;

/// Scrapers are few and keep one connection: a small pool.
const MAX_CONNECTIONS: usize = 16;

/// The deadline of each phase of a scrape (wait, head); no bodies.
const DEADLINE: Duration = Duration::from_secs(10);

/// Binds 127.0.0.1:`--metricsPort` and serves the metrics on a task, kept
/// as long as the returned task is. `None` without `--metricsPort`.
pub(crate) fn start(
    config: &Config,
    mut options: ServerOptions,
) -> Result<Option<Task<()>>, String> {
    let (Some(port), Some(path)) = (config.metrics_port, config.metrics_endpoint.clone()) else {
        return Ok(None);
    };
    // Network modes only (the flags warn elsewhere that they do nothing).
    if config.output == Output::Stdio {
        return Ok(None);
    }
    let listener = server::bind_quiet("127.0.0.1", port)
        .map_err(|err| format!("cannot listen on 127.0.0.1:{port} for --metricsPort: {err}"))?;
    let local = listener
        .get_ref()
        .local_addr()
        .map_err(|err| format!("--metricsPort: {err}"))?;
    tracing::info!("Prometheus metrics on http://{local}{path}");
    options.max_body_bytes = 0;
    options.max_connections = MAX_CONNECTIONS;
    options.queue_when_full = true;
    options.idle_timeout = DEADLINE;
    options.head_timeout = DEADLINE;
    options.body_timeout = DEADLINE;
    options.budget = None;
    let handler = Rc::new(Scrape { path });
    Ok(Some(rt::spawn(async move {
        let _ = server::serve(listener, Rc::new(options), handler).await;
    })))
}

struct Scrape {
    path: String,
}

impl Handler for Scrape {
    async fn handle(self: Rc<Self>, request: Request, conn: &mut Conn) -> Next {
        let head = &request.head;
        let local = head.host().is_empty() || is_local_authority(head.host());
        let body;
        let response = if !local || head.header("origin").is_some() {
            Response::new(403).text("Forbidden: a local Host and no Origin only")
        } else if head.path() != self.path {
            Response::new(404).text("not found")
        } else if !matches!(head.method(), Method::Get | Method::Head) {
            Response::new(405)
                .header("allow", b"GET, HEAD")
                .text("use GET")
        } else {
            body = metrics::render();
            Response::new(200)
                .header("content-type", b"text/plain; version=0.0.4; charset=utf-8")
                .header("cache-control", b"no-store")
                .body(&body)
        };
        let ok = response.status() == 200;
        match conn.send(&response).await {
            Ok(()) if ok => Next::KeepAlive,
            _ => Next::Close,
        }
    }
}
