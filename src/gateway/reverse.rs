//! What the two reverse bridges (SSE→stdio, Streamable HTTP→stdio) share.

use std::time::Duration;

use async_signal::{Signal, Signals};
use futures_lite::StreamExt;
use supergateway_proto::jsonrpc::Id;
use supergateway_proto::url::Url;

use crate::cli::Config;
use crate::http::client::{Client, ClientOptions};
use crate::http::LiveHeaders;

/// Bound on one SSE event from the server.
pub(crate) const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// The remote URL of a reverse bridge and the HTTP client to reach it, or
/// the exit code after a one-line error (`flag` names the URL's flag).
pub(crate) fn connect(
    flag: &str,
    url: &str,
    config: &Config,
    headers: &LiveHeaders,
) -> Result<(Url, Client), i32> {
    let url = Url::parse(url).map_err(|err| {
        eprintln!("supergateway: {flag} URL: {err}");
        2
    })?;
    let client = Client::new(client_options(config, headers)).map_err(|err| {
        eprintln!("supergateway: {err}");
        1
    })?;
    Ok((url, client))
}

/// The HTTP client settings for the reverse modes: `headers` (`--header`
/// and the runtime headers) are read at each request.
fn client_options(config: &Config, headers: &LiveHeaders) -> ClientOptions {
    ClientOptions {
        headers: config.headers.clone(),
        live_headers: Some(headers.clone()),
        connect_timeout: Duration::from_secs(10),
        // The bridges bound each request with --requestTimeout themselves
        // (and answer the local client with -32001); the client's own bound
        // is a backstop behind it.
        head_timeout: config
            .request_timeout
            .map_or(Duration::from_secs(3600), |timeout| {
                timeout.saturating_add(Duration::from_secs(10))
            }),
        idle_timeout: Duration::from_secs(30),
        max_idle_per_host: 8,
        max_body_bytes: config.max_body_bytes,
    }
}

/// Resolves on SIGINT, SIGTERM or SIGHUP (never, if they cannot be
/// watched).
pub(crate) async fn wait_for_signal() {
    match Signals::new([Signal::Term, Signal::Int, Signal::Hup]) {
        Ok(mut signals) => {
            if let Some(Ok(signal)) = signals.next().await {
                tracing::info!("received {signal:?}; exiting");
                return;
            }
            std::future::pending::<()>().await;
        }
        Err(err) => {
            tracing::warn!("cannot watch signals: {err}");
            std::future::pending::<()>().await;
        }
    }
}

/// `notifications/cancelled` for request `id`, sent upstream when the
/// local client's request timed out.
pub(crate) fn cancel_notification(id: &Id) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(
        br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"#,
    );
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(br#","reason":"request timed out"}}"#);
    out
}
