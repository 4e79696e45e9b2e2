//! Command line: supergateway's flags, scanned and validated into one [`Config`].
//!
//! The flags, their camelCase names and their defaults are those of the Node supergateway
//! 4.0.0 (ARCHITECTURE.md, "Command line"), plus a few of ours (`--host`, `--childPerSession`,
//! `--keepAlive`, `--maxBodyBytes`, `--maxSessions`, `--requestTimeout`, ...).
//!
//! - `flags.rs`: the flag table, the one place each flag's name, value placeholder, default,
//!   modes, help line and group are written.
//! - `parse.rs`: the scanner, argv into strings per flag, with the spellings yargs accepts.
//! - `validate.rs`: the strings into a [`Config`], defaults from the table.
//! - `help.rs`: `--help`, rendered from the table.
//!
//! The spellings accepted:
//!
//! - `--flag=value` is split at the first `=`; `--flag value` takes the next argument as the
//!   value unless that argument looks like a flag (`--x` or `-x` with `x` a letter), in
//!   which case the flag is missing its value.
//! - Kebab-case spellings (`--output-transport`) are accepted as yargs does.
//! - Booleans (`--stateful`, `--runtimePrompt`, `--childPerSession`) accept `--flag`,
//!   `--flag=true|false`, `--flag true|false` and `--no-flag`; the last one given wins.
//! - `--cors` takes zero or more values: `--cors` alone (or `--cors "*"`) allows any origin,
//!   `--cors A B` and `--cors A --cors B` both give two origins.
//! - A single-valued flag given twice is an error (yargs would silently turn it into an
//!   array); so are unknown flags and positional arguments.
//! - `--help`/`-h` and `--version` win over everything else on the line.
//!
//! Errors are one line on stderr starting with `supergateway: `, with exit code 2.
//! Flags that have no effect in the selected mode are accepted and reported in
//! [`Config::warnings`] (the Node version ignores them silently), in table order.

mod auth;
mod flags;
mod help;
mod oauth;
mod parse;
mod servers;
mod validate;
pub(crate) use servers::{Served, ServersFile};
pub(crate) use validate::{is_env_name, MAX_ENV_NAME_BYTES};

use std::ffi::OsString;
use std::fmt;
use std::process::ExitCode;
use std::time::Duration;

use supergateway_proto::http::{HeaderName, HeaderValue};

use crate::telemetry::{LogFormat, LogLevel};

/// Where the gateway reads MCP messages from.
#[derive(Clone)]
pub(crate) enum Input {
    /// Remote legacy-SSE server: the URL of its GET event stream.
    Sse(String),
    /// Shell command (`sh -c`) of a child MCP server speaking newline-delimited JSON-RPC.
    Stdio(String),
    /// Remote Streamable HTTP server: its MCP endpoint URL.
    StreamableHttp(String),
    /// `--config`: the servers of an `mcpServers` file, disabled ones
    /// included; [`Config::servers`] has the enabled ones ready to serve.
    Servers(ServersFile),
}

/// The transport the gateway offers (`--outputTransport`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    /// Legacy SSE: a GET event stream plus a POST message endpoint.
    Sse,
    /// Local stdin/stdout.
    Stdio,
    /// Streamable HTTP: one MCP endpoint (POST, GET, DELETE).
    StreamableHttp,
    /// WebSocket.
    Ws,
}

/// Which browser origins may call the HTTP endpoints (`--cors`).
#[derive(Clone, Debug)]
pub(crate) enum Cors {
    /// Any origin (`--cors` without a value, or `--cors "*"`).
    Any,
    /// No CORS headers at all (no `--cors`).
    Off,
    /// Only these origins.
    Origins(Vec<CorsOrigin>),
}

/// One `--cors` value.
#[derive(Clone, Debug)]
pub(crate) enum CorsOrigin {
    /// The `Origin` header must equal this string exactly (case-sensitive, as the `cors`
    /// npm package compares).
    Exact(String),
    /// A value written `/body/`: the `Origin` header must match `body`. Like the Node
    /// version's `new RegExp(body)`, the pattern is *unanchored*: `/example\.com/` also
    /// matches `https://example.com.evil.test`; write `/^https:\/\/example\.com$/` to pin it.
    /// The syntax is regex-lite's (Rust `regex` syntax without Unicode classes), which
    /// agrees with JavaScript for the usual origin patterns.
    Regex(regex_lite::Regex),
}

impl Cors {
    /// Whether a request with this `Origin` header value may be answered with CORS headers.
    pub(crate) fn allows(&self, origin: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Off => false,
            Self::Origins(list) => list.iter().any(|allowed| match allowed {
                CorsOrigin::Exact(exact) => exact == origin,
                CorsOrigin::Regex(regex) => regex.is_match(origin),
            }),
        }
    }
}

/// Everything the command line decides, validated.
///
/// `Debug` redacts secrets: header values (including `--oauth2Bearer`), URL credentials and
/// URL queries.
#[derive(Clone)]
pub(crate) struct Config {
    /// `--stdio`, `--sse` or `--streamableHttp`: exactly one.
    pub(crate) input: Input,
    /// `--outputTransport`; defaults to `Sse` for `--stdio`, `Stdio` otherwise. Always one of
    /// the supported pairs: stdio→sse|ws|streamableHttp, sse→stdio, streamableHttp→stdio.
    pub(crate) output: Output,
    /// `--port`, default 8000; 0 means any free port.
    pub(crate) port: u16,
    /// `--host`, default `127.0.0.1` (ours; the Node version binds all interfaces).
    pub(crate) host: String,
    /// `--baseUrl`, default empty: what the SSE `endpoint` event advertises.
    pub(crate) base_url: String,
    /// `--ssePath`, default `/sse`; starts with `/`.
    pub(crate) sse_path: String,
    /// `--messagePath`, default `/message`; starts with `/`.
    pub(crate) message_path: String,
    /// `--streamableHttpPath`, default `/mcp`; starts with `/`.
    pub(crate) streamable_http_path: String,
    /// `--stateful`: Streamable HTTP sessions, one child each.
    pub(crate) stateful: bool,
    /// `--sessionTimeout MS`, default 30 minutes; always `Some` and never zero today.
    pub(crate) session_timeout: Option<Duration>,
    /// `--protocolVersion`, default `2024-11-05`.
    pub(crate) protocol_version: String,
    /// `--header "K: V"` in order, then `Authorization: Bearer T` for `--oauth2Bearer T`.
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    /// `--logLevel`, default `Info`.
    pub(crate) log_level: LogLevel,
    /// `--logFormat`, default `Text`.
    pub(crate) log_format: LogFormat,
    /// `--cors`, default `Off`.
    pub(crate) cors: Cors,
    /// `--allowedHost` names (no port, no brackets): further Host/Origin
    /// hosts the loopback DNS-rebinding check accepts.
    pub(crate) allowed_hosts: Vec<String>,
    /// `--healthEndpoint` paths, each starting with `/`.
    pub(crate) health_endpoints: Vec<String>,
    /// `--metricsEndpoint` path, starting with `/`.
    pub(crate) metrics_endpoint: Option<String>,
    /// `--metricsPort`: the metrics on 127.0.0.1:N instead of the main port.
    pub(crate) metrics_port: Option<u16>,
    /// `--runtimePrompt`.
    pub(crate) runtime_prompt: bool,
    /// `--runtimeAdminPort`.
    pub(crate) runtime_admin_port: Option<u16>,
    /// `--runtimeAdminToken`, else the `SUPERGATEWAY_ADMIN_TOKEN` environment variable
    /// (which keeps it out of `ps`): the admin API then needs `Authorization: Bearer TOKEN`.
    pub(crate) runtime_admin_token: Option<String>,
    /// `--runtimeAllowEnv NAME,...` (ours, repeatable): environment names runtime updates may
    /// set although `env_policy` refuses them by default; exact names.
    pub(crate) runtime_allow_env: Vec<String>,
    /// `--childPerSession` (ours): one child per connection/request instead of a shared one.
    pub(crate) child_per_session: bool,
    /// `--restart` (ours), default `never`: what happens when the shared
    /// child exits by itself.
    pub(crate) restart: crate::child::RestartPolicy,
    /// `--readyEndpoint` paths (ours), each starting with `/`.
    pub(crate) ready_endpoints: Vec<String>,
    /// `--drainTimeout MS` (ours), default 5 s: how long requests in flight
    /// get to finish after SIGTERM/SIGINT.
    pub(crate) drain_timeout: Duration,
    /// `--headTimeout MS` (ours), default 10 s: the deadline for a whole
    /// request head (slowloris); must be > 0.
    pub(crate) head_timeout: Duration,
    /// `--bodyTimeout MS` (ours), default 60 s: the deadline for a whole
    /// request body (a body that stalls mid-way); must be > 0.
    pub(crate) body_timeout: Duration,
    /// `--replayBuffer N` (ours), default 256: events each stateful
    /// Streamable HTTP stream keeps for `Last-Event-ID` resumption.
    pub(crate) replay_buffer: usize,
    /// `--keepAlive MS` (ours), default 15 s; `None` when 0.
    pub(crate) keep_alive: Option<Duration>,
    /// `--maxBodyBytes` (ours), default 4 MiB; at least 1.
    pub(crate) max_body_bytes: u64,
    /// `--maxBufferedBytes` (ours), default 64 MiB: the process-wide byte
    /// budget of the relays (queued frames, held messages, lines for the
    /// child, saved ids); at least `max_session_buffered_bytes`.
    pub(crate) max_buffered_bytes: usize,
    /// `--maxSessionBytes` (ours), default 8 MiB: the same, per
    /// client session; at least 1024.
    pub(crate) max_session_buffered_bytes: usize,
    /// `--upstreamProtocol` (ours), default `auto`: the child's MCP era,
    /// or whether to ask it.
    pub(crate) upstream_protocol: supergateway_proto::relay::UpstreamMode,
    /// `--probeTimeout MS` (ours), default 10 s; at least 1 ms.
    pub(crate) probe_timeout: Duration,
    /// `--inputTimeout MS` (ours), default 300 s; at least 1 ms.
    pub(crate) input_timeout: Duration,
    /// `--maxSessions` (ours), default 1024; at least 1.
    pub(crate) max_sessions: usize,
    /// `--requestTimeout MS` (ours), default 60 s; `None` when 0.
    pub(crate) request_timeout: Option<Duration>,
    /// The `--oauth*` flags (ours): the reverse bridges' OAuth client.
    pub(crate) oauth: crate::oauth::Config,
    /// `--authTokenFile` (read once here, then watched) and the
    /// `SUPERGATEWAY_AUTH_TOKEN` environment variable: the bearer tokens the
    /// served MCP endpoints require. `None`: no authentication.
    pub(crate) auth_tokens: Option<crate::auth::Source>,
    /// `--authEnv CLAIM=VAR` (ours, repeatable): the caller's claims in the
    /// environment of its own child; names checked against the refusal list.
    pub(crate) auth_env: Vec<crate::auth_env::Mapping>,
    /// `--rateLimit N/s` or `N/m` (ours): requests per caller (or client
    /// address), burst N; `None`: no limit.
    pub(crate) rate_limit: Option<supergateway_proto::rate_limit::Rate>,
    /// `--trustedProxy CIDR` (ours, repeatable): peers whose
    /// `X-Forwarded-For` names the client.
    pub(crate) trusted_proxies: Vec<supergateway_proto::http::Cidr>,
    /// `--authIssuer` and the other `--auth*` OAuth flags: the served MCP
    /// endpoints accept the issuer's access tokens. `None`: no OAuth.
    pub(crate) auth_oauth: Option<crate::auth::resource::Settings>,
    /// `--tlsCert`, `--tlsKey`, `--tlsClientCa`, `--tlsClientAuth`: TLS (and
    /// mutual TLS) on the MCP listener, the files read and checked. `None`:
    /// plain HTTP.
    pub(crate) tls: Option<crate::http::tls::TlsConfig>,
    /// `--allowTool`/`--denyTool`, `--allowPrompt`/`--denyPrompt` (globs) and
    /// `--allowResource`/`--denyResource` (URI prefixes): what clients may see and use.
    pub(crate) filter: supergateway_proto::mcp::filter::Filter,
    /// `--instanceId ID` (ours): the prefix (`ID.`) of every session id and
    /// sealed `requestState` this instance mints, for a load balancer.
    pub(crate) instance_id: Option<String>,
    /// Flags given that have no effect in this mode, one sentence each, for main to log.
    pub(crate) warnings: Vec<String>,
    /// `--config`: each enabled server as its own configuration; empty
    /// otherwise.
    pub(crate) servers: Vec<Served>,
    /// A `--config` server's name (its routes' prefix and metric label);
    /// `None` for a single server.
    pub(crate) server_name: Option<String>,
    /// A `--config` server's `env`: set for its child under the runtime's.
    pub(crate) child_env: Vec<(String, String)>,
    /// A `--config` server's `cwd`: its child's working directory.
    pub(crate) child_cwd: Option<std::path::PathBuf>,
    /// A `--config` server's command line as the file writes it (before
    /// `${env:…}` expansion), for the logs.
    pub(crate) child_shown: Option<String>,
    /// A `--config` server with its own `maxBufferedBytes`: its relays get
    /// a budget of their own instead of sharing the process's.
    pub(crate) own_budget: bool,
}

/// What to print instead of running: help or version text, or a usage error.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Exit {
    /// 0 for `--help`/`--version`, 2 for usage errors.
    pub(crate) code: i32,
    /// To stdout when `code` is 0, to stderr otherwise. Errors are one line.
    pub(crate) message: String,
}

impl Exit {
    /// Prints the message where it belongs and returns the process exit code.
    pub(crate) fn print(&self) -> ExitCode {
        if self.code == 0 {
            println!("{}", self.message);
        } else {
            eprintln!("{}", self.message);
        }
        ExitCode::from(u8::try_from(self.code).unwrap_or(USAGE_CODE))
    }

    fn usage(message: impl fmt::Display) -> Self {
        // One line, whatever a value or a library error contained.
        let text = message.to_string();
        let line = text
            .split(['\r', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty());
        Self {
            code: i32::from(USAGE_CODE),
            message: format!("{PROGRAM}: {}", line.collect::<Vec<_>>().join(" ")),
        }
    }
}

/// Parses the process's own arguments (see [`parse`]).
pub(crate) fn from_env() -> Result<Config, Exit> {
    let mut args = Vec::new();
    for (position, arg) in std::env::args_os().skip(1).enumerate() {
        match OsString::into_string(arg) {
            Ok(arg) => args.push(arg),
            Err(_) => {
                let position = position.saturating_add(1);
                return Err(Exit::usage(format_args!(
                    "argument {position} is not valid UTF-8"
                )));
            }
        }
    }
    let env_host = match std::env::var_os(HOST_ENV).filter(|host| !host.is_empty()) {
        Some(host) => Some(
            host.into_string()
                .map_err(|_| Exit::usage(format_args!("{HOST_ENV} is not valid UTF-8")))?,
        ),
        None => None,
    };
    let mut config = parse_with_host_default(&args, env_host)?;
    if config.runtime_admin_token.is_none() {
        if let Some(token) = std::env::var_os(ADMIN_TOKEN_ENV).filter(|token| !token.is_empty()) {
            let token = token
                .into_string()
                .map_err(|_| Exit::usage(format_args!("{ADMIN_TOKEN_ENV} is not valid UTF-8")))?;
            config.runtime_admin_token =
                Some(validate::admin_token(ADMIN_TOKEN_ENV, token).map_err(Exit::usage)?);
        }
    }
    // Only a served stdio server has endpoints to protect.
    let env_token = std::env::var_os(crate::auth::TOKEN_ENV)
        .filter(|token| !token.is_empty() && validate::serves(&config.input));
    if let Some(token) = env_token {
        let token = token.into_string().map_err(|_| {
            Exit::usage(format_args!(
                "{} is not valid UTF-8",
                crate::auth::TOKEN_ENV
            ))
        })?;
        let digest = crate::auth::Source::env_token(&token).map_err(Exit::usage)?;
        let source = config.auth_tokens.get_or_insert(crate::auth::Source {
            env: None,
            file: None,
        });
        source.env = Some(digest);
    }
    // After SUPERGATEWAY_AUTH_TOKEN: it protects the port too.
    if let Some(warning) = exposed_warning(&config) {
        config.warnings.push(warning);
    }
    // After SUPERGATEWAY_AUTH_TOKEN: every server takes it.
    config.servers = servers::derive(&config).map_err(Exit::usage)?;
    Ok(config)
}

/// Whether anything decides who may call the served endpoints.
pub(crate) fn has_inbound_auth(config: &Config) -> bool {
    config.auth_tokens.is_some()
        || config.auth_oauth.is_some()
        || config.tls.as_ref().is_some_and(|tls| {
            matches!(
                tls.files.client_ca,
                Some((_, crate::http::tls::ClientAuth::Required))
            )
        })
}

/// The settings [`has_inbound_auth`] looks for, as the warning names them.
const PROTECTING: &str = "--authTokenFile, SUPERGATEWAY_AUTH_TOKEN, --authIssuer or --tlsClientCa";

/// A stdio server served on a non-loopback address without authentication:
/// the one line saying so (issue 16, item 6).
fn exposed_warning(config: &Config) -> Option<String> {
    let exposed = validate::serves(&config.input)
        && !supergateway_proto::http::is_loopback_host(&config.host)
        && !has_inbound_auth(config);
    exposed.then(|| {
        format!(
            "--host {} without authentication: anyone who can reach this port may call every \
             tool of the MCP server; protect it with {PROTECTING}, or bind 127.0.0.1",
            config.host
        )
    })
}

/// Parses argv (without argv[0]) into a Config, or the outcome to print: help/version text
/// (exit 0, stdout) or an error (exit 2, one line on stderr, e.g.
/// "supergateway: unknown flag --foo (see --help)").
#[cfg(test)]
pub(crate) fn parse(args: &[String]) -> Result<Config, Exit> {
    let mut config = parse_with_host_default(args, None)?;
    config.servers = servers::derive(&config).map_err(Exit::usage)?;
    Ok(config)
}

/// [`parse`], with the bind address to use when `--host` is not given (from
/// `SUPERGATEWAY_HOST`: the container image sets it to `0.0.0.0`, so its
/// entry point stays plain `supergateway`).
fn parse_with_host_default(args: &[String], host_default: Option<String>) -> Result<Config, Exit> {
    let scan = parse::scan(args);
    if scan.help {
        return Err(Exit {
            code: 0,
            message: help::render(),
        });
    }
    if scan.version {
        return Err(Exit {
            code: 0,
            message: format!("{PROGRAM} {}", env!("CARGO_PKG_VERSION")),
        });
    }
    if let Some(error) = scan.error {
        return Err(Exit::usage(error));
    }
    validate::validate(&scan.raw, host_default).map_err(Exit::usage)
}

/// Replaces secrets in a URL for logs: the userinfo (`user:pass@`) and the query and
/// fragment become `<redacted>`. Not a parser: anything it does not recognise is kept only
/// up to its scheme.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return if url.is_empty() {
            String::new()
        } else {
            REDACTED.to_owned()
        };
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at_checked(authority_end).unwrap_or((rest, ""));
    let authority = match authority.rsplit_once('@') {
        Some((_, host)) => format!("{REDACTED}@{host}"),
        None => authority.to_owned(),
    };
    let path = match tail.find(['?', '#']) {
        Some(cut) => format!("{}?{REDACTED}", tail.get(..cut).unwrap_or_default()),
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{path}")
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The command is the user's own and the Node version logs it at startup; tokens
            // belong in the child's environment, not its command line.
            Self::Stdio(command) => f.debug_tuple("Stdio").field(command).finish(),
            Self::Sse(url) => f.debug_tuple("Sse").field(&redact_url(url)).finish(),
            Self::StreamableHttp(url) => f
                .debug_tuple("StreamableHttp")
                .field(&redact_url(url))
                .finish(),
            // Names only: a server's `env` often holds its tokens.
            Self::Servers(file) => f
                .debug_list()
                .entries(file.servers.iter().map(|server| &server.name))
                .finish(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("input", &self.input)
            .field("output", &self.output)
            .field("port", &self.port)
            .field("host", &self.host)
            .field("base_url", &redact_url(&self.base_url))
            .field("sse_path", &self.sse_path)
            .field("message_path", &self.message_path)
            .field("streamable_http_path", &self.streamable_http_path)
            .field("stateful", &self.stateful)
            .field("session_timeout", &self.session_timeout)
            .field("protocol_version", &self.protocol_version)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("log_level", &self.log_level)
            .field("log_format", &self.log_format)
            .field("cors", &self.cors)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("health_endpoints", &self.health_endpoints)
            .field("metrics_endpoint", &self.metrics_endpoint)
            .field("metrics_port", &self.metrics_port)
            .field("runtime_prompt", &self.runtime_prompt)
            .field("runtime_admin_port", &self.runtime_admin_port)
            .field(
                "runtime_admin_token",
                &self.runtime_admin_token.as_ref().map(|_| REDACTED),
            )
            .field("child_per_session", &self.child_per_session)
            .field("restart", &self.restart)
            .field("ready_endpoints", &self.ready_endpoints)
            .field("drain_timeout", &self.drain_timeout)
            .field("head_timeout", &self.head_timeout)
            .field("body_timeout", &self.body_timeout)
            .field("replay_buffer", &self.replay_buffer)
            .field("keep_alive", &self.keep_alive)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_buffered_bytes", &self.max_buffered_bytes)
            .field(
                "max_session_buffered_bytes",
                &self.max_session_buffered_bytes,
            )
            .field("upstream_protocol", &self.upstream_protocol)
            .field("probe_timeout", &self.probe_timeout)
            .field("input_timeout", &self.input_timeout)
            .field("max_sessions", &self.max_sessions)
            .field("request_timeout", &self.request_timeout)
            .field("oauth", &self.oauth)
            .field("auth_tokens", &self.auth_tokens)
            .field("auth_env", &self.auth_env)
            .field("rate_limit", &self.rate_limit)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("auth_oauth", &self.auth_oauth)
            .field("tls", &self.tls)
            .field("filter", &self.filter)
            .field("server_name", &self.server_name)
            .field(
                "child_env",
                &self
                    .child_env
                    .iter()
                    .map(|(name, _)| name)
                    .collect::<Vec<_>>(),
            )
            .field("child_cwd", &self.child_cwd)
            .field("instance_id", &self.instance_id)
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// Header names with every value replaced by `<redacted>`.
struct RedactedHeaders<'a>(&'a [(HeaderName, HeaderValue)]);

impl fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| (name.as_str(), REDACTED)))
            .finish()
    }
}

const PROGRAM: &str = "supergateway";
/// Where the admin API token may come from instead of `--runtimeAdminToken`.
const ADMIN_TOKEN_ENV: &str = "SUPERGATEWAY_ADMIN_TOKEN";
/// The bind address when `--host` is not given (the container image sets it).
const HOST_ENV: &str = "SUPERGATEWAY_HOST";
const USAGE_CODE: u8 = 2;
const REDACTED: &str = "<redacted>";

#[cfg(test)]
mod tests;
