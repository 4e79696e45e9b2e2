//! Streamable HTTP→stdio: a remote MCP server on the Streamable HTTP
//! transport, exposed as a local stdio server (the client side of
//! PROTOCOL.md §1.4).
//!
//! The remote server takes the place of a link's child
//! (`gateway::remote`) and the local client is the link's one session
//! (`Clients::Separate`): stdin lines go to the relay, its frames to
//! stdout. So the relay's era work applies as in the forward modes
//! (design/2026-07-28.md b.3, c.3, c.7): with `--upstreamProtocol auto`
//! the server is asked `server/discover` first; a legacy local client of a
//! 2026-07-28 server is answered `initialize` from the discovery result and
//! its requests are translated, a 2026-07-28 client of a legacy server
//! finds a `server/discover` answered and its results completed.
//!
//! If the URL answers `initialize` with 400, 404 or 405 before any exchange
//! succeeded, the bridge falls back to the HTTP+SSE transport at that URL,
//! replaying the local client's lines so far. On stdin EOF or a signal the
//! legacy session is DELETEd.

use std::rc::Rc;
use std::time::Duration;

use futures_lite::FutureExt;
use smol::channel;

use crate::cli::Config;
use crate::gateway::link::{Clients, Link};
use crate::gateway::local::{Stdin, Stdout};
use crate::gateway::remote::Remote;
use crate::gateway::reverse::{
    connect, handle_stdin, open_stdio_session, upstream, wait_for_signal,
};
use crate::gateway::sse_stdio;
use crate::http::LiveHeaders;
use crate::relay_settings::RelaySettings;
use crate::rt;

/// Lines kept for an HTTP+SSE fallback, at most (a client waits for its
/// `initialize` answer, so only a few arrive before the fallback).
const MAX_KEPT_LINES: usize = 64;

/// Runs the bridge until stdin ends or a signal arrives.
pub(crate) async fn run(config: &Config, url: &str, headers: &LiveHeaders) -> i32 {
    let (parsed, client) = match connect("--streamableHttp", url, config, headers) {
        Ok(connected) => connected,
        Err(code) => return code,
    };
    let upstream = match upstream(config, &parsed, client) {
        Ok(upstream) => upstream,
        Err(code) => return code,
    };
    tracing::info!("Streamable HTTP→stdio: {}", parsed.redacted());
    let settings = RelaySettings::of(config, config.upstream_protocol);
    let (wake, woken) = channel::bounded::<()>(1);
    let link = Link::start_remote(&settings, Clients::Separate, move || {
        let _ = wake.try_send(());
    });
    link.borrow_mut().set_pauses(Rc::clone(upstream.pauses()));
    let (fall_back, fell_back) = channel::bounded::<()>(1);
    let remote = Remote::new(
        Rc::clone(&upstream),
        parsed,
        Rc::downgrade(&link),
        config.request_timeout,
        fall_back,
    );
    let writer = rt::spawn(Rc::clone(&remote).write(woken));
    let stdout = Stdout::new();
    let frames = open_stdio_session(&link, &stdout);
    let mut stdin = Stdin::new();
    let mut kept = Vec::new();
    let relay = async {
        while let Some(line) = stdin.next_line().await {
            if !remote.settled() && kept.len() < MAX_KEPT_LINES {
                kept.push(line.clone());
            }
            remote.client_active();
            handle_stdin(&link, &stdout, &line);
        }
        tracing::info!("stdin closed; exiting");
        false
    };
    let fallen = async {
        let _ = fell_back.recv().await;
        true
    };
    let signal = async {
        wait_for_signal().await;
        false
    };
    if relay.or(fallen).or(signal).await {
        drop(frames);
        drop(writer);
        drop(link);
        tracing::info!(
            "the server answered initialize like an HTTP+SSE server; using that transport"
        );
        stdout.flush(Duration::from_millis(100)).await;
        return sse_stdio::run(config, url, headers, stdin, kept, Some(upstream)).await;
    }
    remote.end_session().await;
    drop(frames);
    stdout.flush(Duration::from_secs(1)).await;
    0
}
