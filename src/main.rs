//! supergateway: run MCP stdio servers over SSE, WebSocket and Streamable
//! HTTP, and remote MCP servers as local stdio servers.
//!
//! `main` parses the command line, sets up logging, and runs the selected
//! mode on a single-threaded smol executor until the child exits or a
//! signal (SIGINT, SIGTERM, SIGHUP) asks for shutdown.
#![forbid(unsafe_code)]

mod auth;
mod auth_env;
mod child;
mod cli;
mod env_policy;
mod gateway;
mod http;
mod metrics;
mod oauth;
mod reaper;
mod relay_settings;
mod rt;
mod runtime;
mod seal;
mod telemetry;

use std::process::ExitCode;
use std::rc::Rc;

use crate::cli::{Config, Input, Output};

fn main() -> ExitCode {
    let config = match cli::from_env() {
        Ok(config) => config,
        Err(exit) => return exit.print(),
    };
    let exporter = telemetry::init(
        config.log_level,
        config.log_format,
        config.output == Output::Stdio,
    );
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    tracing::debug!(?config, "configuration");
    // Served by the network modes only (`Front`, `--metricsPort`). What
    // no server is known for is counted under `default` (one server) or
    // `*` (`--config`).
    if config.metrics_endpoint.is_some() && config.output != Output::Stdio {
        let process = if config.servers.is_empty() {
            "default"
        } else {
            "*"
        };
        metrics::enable(process, relay_settings::transport(config.output));
    }
    let code = rt::block_on(async {
        let exporting = exporter.map(telemetry::Exporter::start);
        let code = run(Rc::new(config)).await;
        if let Some(exporting) = exporting {
            exporting.shutdown().await;
        }
        code
    });
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Runs the configured mode; returns the process exit code.
async fn run(config: Rc<Config>) -> i32 {
    reaper::start();
    // Before any relay settings are made: they share it.
    relay_settings::set_process_budget(config.max_buffered_bytes);
    // One instance per process: every server's session ids carry its id.
    gateway::session_id::configure(config.instance_id.as_deref());
    let runtime = runtime::Runtime::new(&config);
    // The admin API and the terminal prompt run while these are kept
    // (with `--config`, `gateway::servers` starts them over its servers).
    let single = !matches!(config.input, Input::Servers(_));
    let runtimes = runtime::Runtimes::One(Rc::clone(&runtime));
    let _runtime_tasks = match single
        .then(|| runtime::start(&config, gateway::server_options(&config), runtimes))
        .transpose()
    {
        Ok(tasks) => tasks,
        Err(why) => {
            tracing::error!("{why}");
            eprintln!("supergateway: {why}");
            return 1;
        }
    };
    // The metrics listener serves while this is kept.
    let _metrics_task =
        match gateway::metrics_port::start(&config, gateway::server_options(&config)) {
            Ok(task) => task,
            Err(why) => {
                tracing::error!("{why}");
                eprintln!("supergateway: {why}");
                return 1;
            }
        };
    let headers = runtime.live_headers();
    match (&config.input, config.output) {
        (Input::Servers(_), _) => gateway::servers::run(&config, &runtime).await,
        (Input::Stdio(_), Output::Sse) => {
            let shared = (!config.child_per_session).then_some(gateway::link::Clients::Separate);
            gateway::run_stdio(&config, &runtime, shared, |shared| {
                Rc::new(gateway::stdio_sse::StdioSse::new(&config, &runtime, shared))
            })
            .await
        }
        (Input::Stdio(_), Output::Ws) => {
            let shared = (!config.child_per_session).then_some(gateway::link::Clients::Separate);
            gateway::run_stdio(&config, &runtime, shared, |shared| {
                Rc::new(gateway::stdio_ws::StdioWs::new(&config, &runtime, shared))
            })
            .await
        }
        (Input::Stdio(_), Output::StreamableHttp) => {
            let shared_child = !config.stateful && !config.child_per_session;
            let shared = shared_child.then_some(gateway::link::Clients::Anonymous);
            gateway::run_stdio(&config, &runtime, shared, |shared| {
                gateway::stdio_streamable::StdioStreamable::new(&config, &runtime, shared)
            })
            .await
        }
        (Input::Sse(url), Output::Stdio) => {
            gateway::sse_stdio::run(
                &config,
                url,
                &headers,
                gateway::local::Stdin::new(),
                Vec::new(),
                None,
            )
            .await
        }
        (Input::StreamableHttp(url), Output::Stdio) => {
            gateway::streamable_stdio::run(&config, url, &headers).await
        }
        (input, output) => {
            let input = match input {
                Input::Stdio(_) => "stdio",
                Input::Sse(_) => "sse",
                Input::StreamableHttp(_) => "streamableHttp",
                Input::Servers(_) => "config",
            };
            eprintln!("supergateway: {input} → {output:?} is not a supported mode");
            2
        }
    }
}
