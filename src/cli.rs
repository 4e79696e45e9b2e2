//! Command line: supergateway's flags, parsed with argh and validated into one [`Config`].
//!
//! The flags, their camelCase names and their defaults are those of the Node supergateway
//! 4.0.0 (ARCHITECTURE.md, "Command line"), plus a few of ours (`--host`, `--childPerSession`,
//! `--keepAlive`, `--maxBodyBytes`, `--maxSessions`, `--requestTimeout`).
//!
//! argh cannot parse everything yargs accepts, so [`parse`] first rewrites argv into a
//! canonical form, then hands that to argh, then validates the values:
//!
//! - `--flag=value` is split at the first `=`; `--flag value` takes the next argument as the
//!   value unless that argument looks like a flag (`--x` or `-x` with `x` a letter), in
//!   which case the flag is missing its value.
//! - Kebab-case spellings (`--output-transport`) are accepted as yargs does; argh itself only
//!   knows the kebab names (its long names must be lowercase), and the help text is rewritten
//!   back to the camelCase names.
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
//! [`Config::warnings`] (the Node version ignores them silently).

use std::ffi::OsString;
use std::fmt;
use std::process::ExitCode;
use std::time::Duration;

use argh::FromArgs;
use supergateway_proto::http::{parse_header_line, HeaderName, HeaderValue};

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
    /// `--healthEndpoint` paths, each starting with `/`.
    pub(crate) health_endpoints: Vec<String>,
    /// `--runtimePrompt`.
    pub(crate) runtime_prompt: bool,
    /// `--runtimeAdminPort`.
    pub(crate) runtime_admin_port: Option<u16>,
    /// `--runtimeAdminToken`, else the `SUPERGATEWAY_ADMIN_TOKEN` environment variable
    /// (which keeps it out of `ps`): the admin API then needs `Authorization: Bearer TOKEN`.
    pub(crate) runtime_admin_token: Option<String>,
    /// `--childPerSession` (ours): one child per connection/request instead of a shared one.
    pub(crate) child_per_session: bool,
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
    /// `--maxSessions` (ours), default 1024; at least 1.
    pub(crate) max_sessions: usize,
    /// `--requestTimeout MS` (ours), default 60 s; `None` when 0.
    pub(crate) request_timeout: Option<Duration>,
    /// Flags given that have no effect in this mode, one sentence each, for main to log.
    pub(crate) warnings: Vec<String>,
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
                Some(admin_token(ADMIN_TOKEN_ENV, token).map_err(Exit::usage)?);
        }
    }
    Ok(config)
}

/// Parses argv (without argv[0]) into a Config, or the outcome to print: help/version text
/// (exit 0, stdout) or an error (exit 2, one line on stderr, e.g.
/// "supergateway: unknown flag --foo (see --help)").
#[cfg(test)]
pub(crate) fn parse(args: &[String]) -> Result<Config, Exit> {
    parse_with_host_default(args, None)
}

/// [`parse`], with the bind address to use when `--host` is not given (from
/// `SUPERGATEWAY_HOST`: the container image sets it to `0.0.0.0`, so its
/// entry point stays plain `supergateway`).
fn parse_with_host_default(args: &[String], host_default: Option<String>) -> Result<Config, Exit> {
    let scan = scan(args);
    if scan.help {
        return Err(Exit {
            code: 0,
            message: help_text(),
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
    let argv: Vec<&str> = scan.argv.iter().map(String::as_str).collect();
    let raw = RawArgs::from_args(&[PROGRAM], &argv).map_err(|early| match early.status {
        Ok(()) => Exit {
            code: 0,
            message: early.output,
        },
        // Unreachable in practice: the scan only emits flags argh knows, each once.
        Err(()) => Exit::usage(format_args!(
            "{} (see --help)",
            camel_case_text(&early.output)
        )),
    })?;
    validate(raw, host_default).map_err(Exit::usage)
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
            .field("health_endpoints", &self.health_endpoints)
            .field("runtime_prompt", &self.runtime_prompt)
            .field("runtime_admin_port", &self.runtime_admin_port)
            .field(
                "runtime_admin_token",
                &self.runtime_admin_token.as_ref().map(|_| REDACTED),
            )
            .field("child_per_session", &self.child_per_session)
            .field("head_timeout", &self.head_timeout)
            .field("body_timeout", &self.body_timeout)
            .field("replay_buffer", &self.replay_buffer)
            .field("keep_alive", &self.keep_alive)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_sessions", &self.max_sessions)
            .field("request_timeout", &self.request_timeout)
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

/// The argh view of the command line, after [`scan`] made it canonical (kebab-case names,
/// values as separate arguments, booleans as bare switches, `--cors` once per value).
/// Everything is a string here; [`validate`] gives the one-line errors.
#[derive(FromArgs)]
#[argh(
    description = "Run an MCP stdio server over SSE, WebSocket or Streamable HTTP, or expose a \
                   remote SSE or Streamable HTTP MCP server as a local stdio server.",
    help_triggers("-h", "--help")
)]
struct RawArgs {
    /// shell command (sh -c) of the child MCP server
    #[argh(option, arg_name = "cmd")]
    stdio: Option<String>,
    /// remote legacy-SSE server (the URL of its GET event stream)
    #[argh(option, arg_name = "url")]
    sse: Option<String>,
    /// remote Streamable HTTP server (e.g. https://host/mcp)
    #[argh(option, long = "streamable-http", arg_name = "url")]
    streamable_http: Option<String>,
    /// stdio, sse, ws or streamableHttp (default: sse with --stdio, stdio otherwise)
    #[argh(option, arg_name = "transport")]
    output_transport: Option<String>,
    /// listen port, 0 for any free port (default: 8000)
    #[argh(option, arg_name = "n")]
    port: Option<String>,
    /// bind address, 0.0.0.0 for containers (default: env SUPERGATEWAY_HOST, else 127.0.0.1)
    #[argh(option, arg_name = "addr")]
    host: Option<String>,
    /// URL the SSE endpoint event advertises (default: relative)
    #[argh(option, arg_name = "url")]
    base_url: Option<String>,
    /// path of the SSE event stream (default: /sse)
    #[argh(option, arg_name = "path")]
    sse_path: Option<String>,
    /// POST path for SSE, upgrade path for WebSocket (default: /message)
    #[argh(option, arg_name = "path")]
    message_path: Option<String>,
    /// the Streamable HTTP endpoint (default: /mcp)
    #[argh(option, arg_name = "path")]
    streamable_http_path: Option<String>,
    /// sessions with Mcp-Session-Id (Streamable HTTP), one child each
    #[argh(switch)]
    stateful: bool,
    /// idle milliseconds before a stateful session ends (default: 1800000)
    #[argh(option, arg_name = "ms")]
    session_timeout: Option<String>,
    /// protocol version used to initialise the child in stateless mode (default: 2024-11-05)
    #[argh(option, arg_name = "version")]
    protocol_version: Option<String>,
    /// "Name: value" header for outbound requests (reverse modes) or responses; repeatable
    #[argh(option, arg_name = "header")]
    header: Vec<String>,
    /// adds the header "Authorization: Bearer <token>"
    #[argh(option, arg_name = "token")]
    oauth2_bearer: Option<String>,
    /// debug, info or none (default: info)
    #[argh(option, arg_name = "level")]
    log_level: Option<String>,
    /// text or json (one JSON object per line) (default: text)
    #[argh(option, arg_name = "format")]
    log_format: Option<String>,
    /// allowed origins: none given = any; exact origins or /regex/ (unanchored)
    #[argh(option, arg_name = "origin")]
    cors: Vec<String>,
    /// path answering GET with 200 "ok" while the child runs; repeatable
    #[argh(option, arg_name = "path")]
    health_endpoint: Vec<String>,
    /// read runtime updates as JSON lines from the terminal
    #[argh(switch)]
    runtime_prompt: bool,
    /// serve the runtime admin API on 127.0.0.1:N
    #[argh(option, arg_name = "n")]
    runtime_admin_port: Option<String>,
    /// bearer token the admin API requires (or env SUPERGATEWAY_ADMIN_TOKEN, kept out of ps)
    #[argh(option, arg_name = "token")]
    runtime_admin_token: Option<String>,
    /// one child per connection or request instead of one shared child
    #[argh(switch)]
    child_per_session: bool,
    /// SSE heartbeat and WebSocket ping interval in milliseconds, 0 = off (default: 15000)
    #[argh(option, arg_name = "ms")]
    keep_alive: Option<String>,
    /// request body limit in bytes (default: 4194304)
    #[argh(option, arg_name = "n")]
    max_body_bytes: Option<String>,
    /// deadline in milliseconds for a whole request head (default: 10000)
    #[argh(option, arg_name = "ms")]
    head_timeout: Option<String>,
    /// deadline in milliseconds for a whole request body (default: 60000)
    #[argh(option, arg_name = "ms")]
    body_timeout: Option<String>,
    /// events kept per Streamable HTTP stream for Last-Event-ID resumption, 0 = none (default: 256)
    #[argh(option, arg_name = "n")]
    replay_buffer: Option<String>,
    /// concurrent sessions or streams (default: 1024)
    #[argh(option, arg_name = "n")]
    max_sessions: Option<String>,
    /// per-request deadline in milliseconds in the reverse modes, 0 = none (default: 60000)
    #[argh(option, arg_name = "ms")]
    request_timeout: Option<String>,
}

/// How a flag takes its value(s).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Zero or more values, also repeatable (`--cors`).
    Cors,
    /// One value per occurrence, repeatable (`--header`, `--healthEndpoint`).
    Repeated,
    /// One value, at most once.
    Single,
    /// A boolean: `--x`, `--x=true|false`, `--x true|false`, `--no-x`.
    Switch,
}

/// One flag of the table: its camelCase name (the documented one), the kebab-case name argh
/// knows (yargs' `decamelize`), and its kind.
struct Flag {
    camel: &'static str,
    kebab: &'static str,
    kind: Kind,
}

const fn flag(camel: &'static str, kebab: &'static str, kind: Kind) -> Flag {
    Flag { camel, kebab, kind }
}

/// Every flag of ARCHITECTURE.md's table except `--help` and `--version`.
const FLAGS: &[Flag] = &[
    flag("stdio", "stdio", Kind::Single),
    flag("sse", "sse", Kind::Single),
    flag("streamableHttp", "streamable-http", Kind::Single),
    flag("outputTransport", "output-transport", Kind::Single),
    flag("port", "port", Kind::Single),
    flag("host", "host", Kind::Single),
    flag("baseUrl", "base-url", Kind::Single),
    flag("ssePath", "sse-path", Kind::Single),
    flag("messagePath", "message-path", Kind::Single),
    flag("streamableHttpPath", "streamable-http-path", Kind::Single),
    flag("stateful", "stateful", Kind::Switch),
    flag("sessionTimeout", "session-timeout", Kind::Single),
    flag("protocolVersion", "protocol-version", Kind::Single),
    flag("header", "header", Kind::Repeated),
    flag("oauth2Bearer", "oauth2-bearer", Kind::Single),
    flag("logLevel", "log-level", Kind::Single),
    flag("logFormat", "log-format", Kind::Single),
    flag("cors", "cors", Kind::Cors),
    flag("healthEndpoint", "health-endpoint", Kind::Repeated),
    flag("runtimePrompt", "runtime-prompt", Kind::Switch),
    flag("runtimeAdminPort", "runtime-admin-port", Kind::Single),
    flag("runtimeAdminToken", "runtime-admin-token", Kind::Single),
    flag("childPerSession", "child-per-session", Kind::Switch),
    flag("keepAlive", "keep-alive", Kind::Single),
    flag("maxBodyBytes", "max-body-bytes", Kind::Single),
    flag("headTimeout", "head-timeout", Kind::Single),
    flag("bodyTimeout", "body-timeout", Kind::Single),
    flag("replayBuffer", "replay-buffer", Kind::Single),
    flag("maxSessions", "max-sessions", Kind::Single),
    flag("requestTimeout", "request-timeout", Kind::Single),
];

/// The outcome of [`scan`].
#[derive(Default)]
struct Scan {
    /// Canonical arguments for argh.
    argv: Vec<String>,
    help: bool,
    version: bool,
    /// The first error met; scanning goes on so that a later `--help` still wins.
    error: Option<String>,
}

/// Rewrites the user's argv into what argh parses (see the module doc for the rules).
fn scan(args: &[String]) -> Scan {
    let mut out = Scan::default();
    let mut switches: Vec<(&'static str, bool)> = Vec::new();
    let mut singles: Vec<&'static str> = Vec::new();
    // The value flag whose value was the previous argument, for the "quote it" hints.
    let mut after: Option<&'static str> = None;
    let mut rest = args.iter().peekable();
    while let Some(arg) = rest.next() {
        let after_secret = after.filter(|name| {
            *name == "header" || *name == "oauth2Bearer" || *name == "runtimeAdminToken"
        });
        let hint = match after.take() {
            Some("stdio") => STDIO_QUOTE_HINT,
            _ => SEE_HELP,
        };
        if arg == "--help" || arg == "-h" {
            out.help = true;
            continue;
        }
        if arg == "--version" {
            out.version = true;
            continue;
        }
        let Some(body) = arg.strip_prefix("--") else {
            if looks_like_flag(arg) {
                fail(&mut out, format!("unknown flag {arg}{hint}"));
            } else if let Some(secret) = after_secret {
                // Most likely the rest of an unquoted credential: do not echo it.
                fail(
                    &mut out,
                    format!("unexpected argument after --{secret}{SECRET_QUOTE_HINT}"),
                );
            } else {
                fail(&mut out, format!("unexpected argument {arg:?}{hint}"));
            }
            continue;
        };
        if body.is_empty() {
            fail(&mut out, format!("unexpected argument \"--\"{hint}"));
            continue;
        }
        let (name, inline) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        if name == "help" || name == "version" {
            fail(&mut out, format!("--{name} takes no value"));
            continue;
        }
        let (flag, negated) = match lookup(name) {
            Some(flag) => (flag, false),
            None => match name.strip_prefix("no-").and_then(lookup) {
                Some(flag) if flag.kind == Kind::Switch => (flag, true),
                _ => {
                    fail(&mut out, unknown_flag(name, hint));
                    continue;
                }
            },
        };
        let dashed = format!("--{}", flag.kebab);
        match flag.kind {
            Kind::Switch => {
                let value = if negated {
                    if inline.is_some() {
                        fail(&mut out, format!("--no-{} takes no value", flag.camel));
                        continue;
                    }
                    false
                } else if let Some(value) = inline {
                    match parse_bool(value) {
                        Some(value) => value,
                        None => {
                            fail(
                                &mut out,
                                format!("--{} expects true or false, got {value:?}", flag.camel),
                            );
                            continue;
                        }
                    }
                } else if let Some(value) = rest.peek().and_then(|next| parse_bool(next)) {
                    rest.next();
                    value
                } else {
                    true
                };
                match switches.iter_mut().find(|(kebab, _)| *kebab == flag.kebab) {
                    Some(slot) => slot.1 = value,
                    None => switches.push((flag.kebab, value)),
                }
            }
            Kind::Cors => {
                let before = out.argv.len();
                if let Some(value) = inline {
                    out.argv.extend([dashed.clone(), value.to_owned()]);
                } else {
                    while let Some(value) = rest.next_if(|next| !looks_like_flag(next)) {
                        out.argv.extend([dashed.clone(), value.clone()]);
                    }
                }
                if out.argv.len() == before {
                    out.argv.extend([dashed, ANY_ORIGIN.to_owned()]);
                }
            }
            Kind::Repeated | Kind::Single => {
                if flag.kind == Kind::Single {
                    if singles.contains(&flag.kebab) {
                        fail(&mut out, format!("--{} given more than once", flag.camel));
                    }
                    singles.push(flag.kebab);
                }
                let value = match inline {
                    Some(value) => value.to_owned(),
                    None => match rest.next_if(|next| !looks_like_flag(next)) {
                        Some(value) => value.clone(),
                        None => {
                            fail(&mut out, format!("--{} needs a value", flag.camel));
                            continue;
                        }
                    },
                };
                after = Some(flag.camel);
                out.argv.extend([dashed, value]);
            }
        }
    }
    for (kebab, value) in switches {
        if value {
            out.argv.push(format!("--{kebab}"));
        }
    }
    out
}

/// Records the first error only.
fn fail(out: &mut Scan, message: String) {
    out.error.get_or_insert(message);
}

/// Finds a flag by its camelCase or kebab-case name.
fn lookup(name: &str) -> Option<&'static Flag> {
    FLAGS
        .iter()
        .find(|flag| flag.camel == name || flag.kebab == name)
}

/// "unknown flag --x", with a suggestion when only case or dashes differ.
fn unknown_flag(name: &str, hint: &str) -> String {
    let fold = |s: &str| {
        s.chars()
            .filter(|&c| c != '-')
            .collect::<String>()
            .to_ascii_lowercase()
    };
    let folded = fold(name);
    match FLAGS.iter().find(|flag| fold(flag.camel) == folded) {
        Some(flag) => format!("unknown flag --{name} (did you mean --{}?)", flag.camel),
        None => format!("unknown flag --{name}{hint}"),
    }
}

/// `--x` or `-x` with `x` a letter: a flag rather than a value (`-1` and `-` are values).
fn looks_like_flag(arg: &str) -> bool {
    let mut chars = arg.chars();
    chars.next() == Some('-')
        && chars
            .next()
            .is_some_and(|c| c == '-' || c.is_ascii_alphabetic())
}

fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// argh's help with the camelCase flag names put back.
fn help_text() -> String {
    HELP.trim_end().to_owned()
}

/// `--help`: written by hand, grouped by mode (argh lists flags in one flat block). A test
/// checks it against `FLAGS` and against README's flag table, defaults included.
const HELP: &str = include_str!("help.txt");

/// Rewrites `--kebab-names` into `--camelNames` in argh's output.
fn camel_case_text(text: &str) -> String {
    let mut flags: Vec<&Flag> = FLAGS
        .iter()
        .filter(|flag| flag.kebab != flag.camel)
        .collect();
    // Longest first, so that --streamable-http-path is not caught by --streamable-http.
    flags.sort_by_key(|flag| std::cmp::Reverse(flag.kebab.len()));
    let lines = text.split('\n').map(|line| {
        flags.iter().fold(line.to_owned(), |line, flag| {
            let kebab = format!("--{}", flag.kebab);
            let camel = format!("--{}", flag.camel);
            // An options-list entry: pad by what the name lost, so the description column
            // stays aligned.
            match line
                .strip_prefix("  ")
                .and_then(|rest| rest.strip_prefix(&kebab))
            {
                Some(after) if after.starts_with(' ') => {
                    let shorter = flag.kebab.len().saturating_sub(flag.camel.len());
                    format!("  {camel}{}{after}", " ".repeat(shorter))
                }
                _ => line.replace(&kebab, &camel),
            }
        })
    });
    lines.collect::<Vec<_>>().join("\n")
}

/// The mode as far as "which flags matter" goes.
#[derive(Clone, Copy)]
struct Mode {
    input: &'static str,
    output: Output,
    stateful: bool,
}

/// Turns argh's strings into a [`Config`], or a one-line error (without the program prefix).
fn validate(mut raw: RawArgs, host_default: Option<String>) -> Result<Config, String> {
    let mut inputs: Vec<(&'static str, Input)> = Vec::new();
    if let Some(command) = raw.stdio.take() {
        if command.trim().is_empty() || command.contains('\0') {
            return Err("--stdio needs a shell command (non-empty, without NUL)".to_owned());
        }
        inputs.push(("--stdio", Input::Stdio(command)));
    }
    if let Some(url) = raw.sse.take() {
        inputs.push(("--sse", Input::Sse(remote_url("--sse", url)?)));
    }
    if let Some(url) = raw.streamable_http.take() {
        inputs.push((
            "--streamableHttp",
            Input::StreamableHttp(remote_url("--streamableHttp", url)?),
        ));
    }
    let (input_flag, input) = match inputs.len() {
        0 => return Err("one of --stdio, --sse or --streamableHttp is required".to_owned()),
        1 => inputs
            .pop()
            .ok_or("one of --stdio, --sse or --streamableHttp is required")?,
        _ => {
            let names: Vec<&str> = inputs.iter().map(|(name, _)| *name).collect();
            return Err(format!(
                "{} cannot be combined: give exactly one of --stdio, --sse or --streamableHttp",
                names.join(" and ")
            ));
        }
    };

    let output = match raw.output_transport.as_deref() {
        None if matches!(input, Input::Stdio(_)) => Output::Sse,
        None => Output::Stdio,
        Some("sse") => Output::Sse,
        Some("stdio") => Output::Stdio,
        Some("streamableHttp") => Output::StreamableHttp,
        Some("ws") => Output::Ws,
        Some(other) => {
            return Err(format!(
                "--outputTransport must be one of stdio, sse, ws, streamableHttp (got {other:?})"
            ))
        }
    };
    let supported = match input {
        Input::Stdio(_) => output != Output::Stdio,
        Input::Sse(_) | Input::StreamableHttp(_) => output == Output::Stdio,
    };
    if !supported {
        return Err(format!(
            "{input_flag} with --outputTransport {} is not supported; the supported pairs are \
             --stdio → sse|ws|streamableHttp, --sse → stdio and --streamableHttp → stdio",
            output_name(output)
        ));
    }

    // As in Node (an object keyed by name), a later header replaces an earlier one of the
    // same name, and --oauth2Bearer replaces --header Authorization; we compare names
    // case-insensitively (RFC 9110 §5.1) and say so in a warning.
    let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::new();
    let mut replaced: Vec<String> = Vec::new();
    for line in &raw.header {
        if !line.contains(':') {
            return Err("--header must look like \"Name: value\" (no colon found)".to_owned());
        }
        if line.contains(FORBIDDEN_IN_HEADERS) {
            return Err("--header must look like \"Name: value\" without CR, LF or NUL".to_owned());
        }
        // Node trims the name too (`h.slice(0, colon).trim()`); proto wants a bare token.
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        // The value is never echoed: it is usually a credential.
        let (name, value) = parse_header_line(&format!("{}:{value}", name.trim()))
            .map_err(|error| format!("--header must look like \"Name: value\": {error}"))?;
        if name.is_connection_level() {
            return Err(format!(
                "--header {} cannot be set: supergateway frames messages itself",
                name.as_str()
            ));
        }
        replace_header(&mut headers, &mut replaced, name, value);
    }
    if let Some(token) = &raw.oauth2_bearer {
        if token.trim().is_empty() {
            return Err("--oauth2Bearer needs a non-empty token".to_owned());
        }
        if token.contains(FORBIDDEN_IN_HEADERS) {
            return Err("--oauth2Bearer is not a valid header value: CR, LF or NUL".to_owned());
        }
        let (name, value) = parse_header_line(&format!("Authorization: Bearer {token}"))
            .map_err(|error| format!("--oauth2Bearer is not a valid header value: {error}"))?;
        replace_header(&mut headers, &mut replaced, name, value);
    }

    let log_level = match raw.log_level.as_deref() {
        None | Some("info") => LogLevel::Info,
        Some("debug") => LogLevel::Debug,
        Some("none") => LogLevel::None,
        Some(other) => {
            return Err(format!(
                "--logLevel must be one of debug, info, none (got {other:?})"
            ))
        }
    };
    let log_format = match raw.log_format.as_deref() {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => {
            return Err(format!(
                "--logFormat must be one of text, json (got {other:?})"
            ))
        }
    };

    let cors = cors(&raw.cors)?;
    let mut health_endpoints = Vec::new();
    for endpoint in &raw.health_endpoint {
        health_endpoints.push(path("--healthEndpoint", Some(endpoint.clone()), "")?);
    }

    let session_timeout = millis(
        "--sessionTimeout",
        raw.session_timeout.as_deref(),
        1_800_000,
    )?;
    if session_timeout.is_zero() {
        return Err("--sessionTimeout must be greater than 0".to_owned());
    }
    let max_sessions = number("--maxSessions", raw.max_sessions.as_deref(), 1024)?;
    if max_sessions == 0 {
        return Err("--maxSessions must be at least 1".to_owned());
    }
    let max_body_bytes = number("--maxBodyBytes", raw.max_body_bytes.as_deref(), 4_194_304)?;
    if max_body_bytes == 0 {
        return Err("--maxBodyBytes must be at least 1".to_owned());
    }
    let runtime_admin_port = match raw.runtime_admin_port.as_deref() {
        Some(port) => Some(port_number("--runtimeAdminPort", port)?),
        None => None,
    };
    let runtime_admin_token = match raw.runtime_admin_token.take() {
        Some(token) => Some(admin_token("--runtimeAdminToken", token)?),
        None => None,
    };

    let mode = Mode {
        input: input_flag,
        output,
        stateful: raw.stateful,
    };
    let mut warnings = warnings(&raw, mode);
    if runtime_admin_token.is_some() && runtime_admin_port.is_none() {
        warnings.push("--runtimeAdminToken has no effect without --runtimeAdminPort".to_owned());
    }
    warnings.extend(replaced.into_iter().map(|name| {
        format!(
            "header {name} is given more than once (--header or --oauth2Bearer); the last one wins"
        )
    }));

    Ok(Config {
        input,
        output,
        port: port_number("--port", raw.port.as_deref().unwrap_or("8000"))?,
        host: host(raw.host.or(host_default))?,
        base_url: base_url(raw.base_url)?,
        sse_path: path("--ssePath", raw.sse_path, "/sse")?,
        message_path: path("--messagePath", raw.message_path, "/message")?,
        streamable_http_path: path("--streamableHttpPath", raw.streamable_http_path, "/mcp")?,
        stateful: raw.stateful,
        session_timeout: Some(session_timeout),
        protocol_version: protocol_version(raw.protocol_version)?,
        headers,
        log_level,
        log_format,
        cors,
        health_endpoints,
        runtime_prompt: raw.runtime_prompt,
        runtime_admin_port,
        runtime_admin_token,
        child_per_session: raw.child_per_session,
        head_timeout: nonzero(millis(
            "--headTimeout",
            raw.head_timeout.as_deref(),
            10_000,
        )?)
        .ok_or_else(|| "--headTimeout must be greater than 0".to_owned())?,
        body_timeout: nonzero(millis(
            "--bodyTimeout",
            raw.body_timeout.as_deref(),
            60_000,
        )?)
        .ok_or_else(|| "--bodyTimeout must be greater than 0".to_owned())?,
        replay_buffer: replay_buffer(raw.replay_buffer.as_deref())?,
        keep_alive: nonzero(millis("--keepAlive", raw.keep_alive.as_deref(), 15_000)?),
        max_body_bytes,
        max_sessions: usize::try_from(max_sessions)
            .map_err(|_| "--maxSessions is too large for this platform".to_owned())?,
        request_timeout: nonzero(millis(
            "--requestTimeout",
            raw.request_timeout.as_deref(),
            60_000,
        )?),
        warnings,
    })
}

/// An admin API token: visible ASCII without spaces (it travels in an `Authorization`
/// header), at most 4096 bytes. Errors never show it.
fn admin_token(source: &str, token: String) -> Result<String, String> {
    if token.is_empty() || token.len() > 4096 || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "{source} must be 1 to 4096 visible ASCII characters without spaces"
        ));
    }
    Ok(token)
}

/// Appends a header, dropping an earlier one of the same name (recorded in `replaced`).
fn replace_header(
    headers: &mut Vec<(HeaderName, HeaderValue)>,
    replaced: &mut Vec<String>,
    name: HeaderName,
    value: HeaderValue,
) {
    let before = headers.len();
    headers.retain(|(old, _)| !old.as_str().eq_ignore_ascii_case(name.as_str()));
    if headers.len() != before
        && !replaced
            .iter()
            .any(|r| r.eq_ignore_ascii_case(name.as_str()))
    {
        replaced.push(name.as_str().to_owned());
    }
    headers.push((name, value));
}

fn output_name(output: Output) -> &'static str {
    match output {
        Output::Sse => "sse",
        Output::Stdio => "stdio",
        Output::StreamableHttp => "streamableHttp",
        Output::Ws => "ws",
    }
}

/// `--sse`/`--streamableHttp`: an http(s) URL without spaces or controls; the full parse
/// happens when connecting. The URL is not echoed in errors (it may carry credentials).
fn remote_url(flag: &str, url: String) -> Result<String, String> {
    let has_scheme = ["http://", "https://"].iter().any(|scheme| {
        url.get(..scheme.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(scheme))
    });
    if !has_scheme {
        return Err(format!("{flag} must be an http:// or https:// URL"));
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!(
            "{flag} URL must not contain spaces or control characters"
        ));
    }
    Ok(url)
}

/// Paths start with '/' and hold visible ASCII without '?' and '#'.
fn path(flag: &str, value: Option<String>, default: &str) -> Result<String, String> {
    let value = value.unwrap_or_else(|| default.to_owned());
    let visible = value
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#');
    if !value.starts_with('/') || !visible {
        return Err(format!(
            "{flag} must be a path starting with '/' without spaces, '?' or '#' (got {value:?})"
        ));
    }
    Ok(value)
}

fn host(value: Option<String>) -> Result<String, String> {
    let value = value.unwrap_or_else(|| DEFAULT_HOST.to_owned());
    let valid = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:[]%".contains(&b));
    if !valid {
        return Err(format!(
            "--host must be an IP address or host name (got {value:?})"
        ));
    }
    Ok(value)
}

fn base_url(value: Option<String>) -> Result<String, String> {
    let value = value.unwrap_or_default();
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("--baseUrl must not contain spaces or control characters".to_owned());
    }
    Ok(value)
}

fn protocol_version(value: Option<String>) -> Result<String, String> {
    let value = value.unwrap_or_else(|| DEFAULT_PROTOCOL_VERSION.to_owned());
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "--protocolVersion must be visible ASCII, like 2024-11-05 (got {value:?})"
        ));
    }
    Ok(value)
}

/// `--cors` values (argh's list; a bare `--cors` arrives as `*`).
fn cors(values: &[String]) -> Result<Cors, String> {
    if values.is_empty() {
        return Ok(Cors::Off);
    }
    if values.iter().any(|value| value == ANY_ORIGIN) {
        return Ok(Cors::Any);
    }
    let mut origins = Vec::new();
    for value in values {
        // Node: /^\/.*\/$/.test(origin) ? new RegExp(origin.slice(1, -1)) : origin
        let body = (value.len() >= 2)
            .then(|| value.strip_prefix('/').and_then(|v| v.strip_suffix('/')))
            .flatten();
        let origin = match body {
            Some(body) => CorsOrigin::Regex(regex_lite::Regex::new(body).map_err(|error| {
                format!("--cors {value:?} is not a valid regular expression: {error}")
            })?),
            None if value.is_empty() => return Err("--cors origins must not be empty".to_owned()),
            None => CorsOrigin::Exact(value.clone()),
        };
        origins.push(origin);
    }
    Ok(Cors::Origins(origins))
}

/// Strict decimal: ASCII digits only (no sign, no spaces, no hex), fitting in u64.
fn number(flag: &str, value: Option<&str>, default: u64) -> Result<u64, String> {
    let Some(value) = value else {
        return Ok(default);
    };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{flag} expects a non-negative whole number (got {value:?})"
        ));
    }
    value
        .parse()
        .map_err(|_| format!("{flag} is out of range (got {value:?})"))
}

fn port_number(flag: &str, value: &str) -> Result<u16, String> {
    let port = number(flag, Some(value), 0)?;
    u16::try_from(port)
        .map_err(|_| format!("{flag} must be a port from 0 to 65535 (got {value:?})"))
}

fn millis(flag: &str, value: Option<&str>, default: u64) -> Result<Duration, String> {
    number(flag, value, default).map(Duration::from_millis)
}

/// `--replayBuffer`: events per stream, at most 65536.
fn replay_buffer(raw: Option<&str>) -> Result<usize, String> {
    let Some(raw) = raw else { return Ok(256) };
    match raw.parse::<u32>() {
        Ok(n) if n <= 65_536 && raw.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(usize::try_from(n).unwrap_or(256))
        }
        _ => Err(format!(
            "--replayBuffer expects a number of events from 0 to 65536, got {raw:?}"
        )),
    }
}

fn nonzero(duration: Duration) -> Option<Duration> {
    (!duration.is_zero()).then_some(duration)
}

/// One sentence per given flag that the selected mode ignores.
fn warnings(raw: &RawArgs, mode: Mode) -> Vec<String> {
    use Scope::{ChildPerSession, Network, Reverse, Sse, SseOrWs, Stateful};
    use Scope::{Stateless, Streamable};
    let given = [
        (raw.port.is_some(), "--port", Network),
        (raw.host.is_some(), "--host", Network),
        (!raw.cors.is_empty(), "--cors", Network),
        (!raw.health_endpoint.is_empty(), "--healthEndpoint", Network),
        (raw.max_body_bytes.is_some(), "--maxBodyBytes", Network),
        (raw.max_sessions.is_some(), "--maxSessions", Network),
        (raw.head_timeout.is_some(), "--headTimeout", Network),
        (raw.body_timeout.is_some(), "--bodyTimeout", Network),
        (raw.replay_buffer.is_some(), "--replayBuffer", Stateful),
        (raw.base_url.is_some(), "--baseUrl", Sse),
        (raw.sse_path.is_some(), "--ssePath", Sse),
        (raw.message_path.is_some(), "--messagePath", SseOrWs),
        (
            raw.streamable_http_path.is_some(),
            "--streamableHttpPath",
            Streamable,
        ),
        (raw.stateful, "--stateful", Streamable),
        (raw.session_timeout.is_some(), "--sessionTimeout", Stateful),
        (
            raw.protocol_version.is_some(),
            "--protocolVersion",
            Stateless,
        ),
        (raw.child_per_session, "--childPerSession", ChildPerSession),
        (raw.keep_alive.is_some(), "--keepAlive", Network),
        (raw.request_timeout.is_some(), "--requestTimeout", Reverse),
    ];
    let current = format!(
        "{} and --outputTransport {}",
        mode.input,
        output_name(mode.output)
    );
    given
        .into_iter()
        .filter(|&(given, _, scope)| given && !scope.applies(mode))
        .map(|(_, name, scope)| {
            format!(
                "{name} has no effect with {current} (it applies to {})",
                scope.describe()
            )
        })
        .collect()
}

/// The modes a flag has an effect in (ARCHITECTURE.md's "modes" column).
#[derive(Clone, Copy)]
enum Scope {
    /// stdio→SSE, stdio→WS, stdio→Streamable HTTP stateless.
    ChildPerSession,
    /// Any stdio→network mode.
    Network,
    /// SSE→stdio and Streamable HTTP→stdio.
    Reverse,
    /// stdio→SSE.
    Sse,
    /// stdio→SSE and stdio→WS.
    SseOrWs,
    /// stdio→Streamable HTTP with `--stateful`.
    Stateful,
    /// stdio→Streamable HTTP without `--stateful`.
    Stateless,
    /// stdio→Streamable HTTP.
    Streamable,
}

impl Scope {
    fn applies(self, mode: Mode) -> bool {
        let network = mode.input == "--stdio";
        let (sse, ws) = (mode.output == Output::Sse, mode.output == Output::Ws);
        let streamable = mode.output == Output::StreamableHttp;
        match self {
            Self::ChildPerSession => network && !(streamable && mode.stateful),
            Self::Network => network,
            Self::Reverse => !network,
            Self::Sse => network && sse,
            Self::SseOrWs => network && (sse || ws),
            Self::Stateful => network && streamable && mode.stateful,
            Self::Stateless => network && streamable && !mode.stateful,
            Self::Streamable => network && streamable,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::ChildPerSession => {
                "--outputTransport sse, ws, or streamableHttp without --stateful"
            }
            Self::Network => "--stdio served over the network",
            Self::Reverse => "--sse and --streamableHttp",
            Self::Sse => "--outputTransport sse",
            Self::SseOrWs => "--outputTransport sse or ws",
            Self::Stateful => "--outputTransport streamableHttp with --stateful",
            Self::Stateless => "--outputTransport streamableHttp without --stateful",
            Self::Streamable => "--outputTransport streamableHttp",
        }
    }
}

const PROGRAM: &str = "supergateway";
/// Where the admin API token may come from instead of `--runtimeAdminToken`.
const ADMIN_TOKEN_ENV: &str = "SUPERGATEWAY_ADMIN_TOKEN";
/// The bind address when `--host` is not given (the container image sets it).
const HOST_ENV: &str = "SUPERGATEWAY_HOST";
const USAGE_CODE: u8 = 2;
const REDACTED: &str = "<redacted>";
const ANY_ORIGIN: &str = "*";
/// Header injection characters (STYLE.md: outbound CRLF injection), refused before proto
/// sees the line, whatever its trimming rules.
const FORBIDDEN_IN_HEADERS: [char; 3] = ['\r', '\n', '\0'];
const DEFAULT_HOST: &str = "127.0.0.1";
const DEFAULT_PROTOCOL_VERSION: &str = "2024-11-05";
const SEE_HELP: &str = " (see --help)";
const SECRET_QUOTE_HINT: &str = " (quote values that contain spaces: --header \"Name: value\")";
const STDIO_QUOTE_HINT: &str =
    " (quote the whole --stdio command: --stdio \"npx -y some-server --its-flag\")";

#[cfg(test)]
mod tests {
    use super::*;

    /// The comparable view of a Config used by the accept table.
    #[derive(Clone, Debug, PartialEq, Eq)]
    struct Summary {
        input: (&'static str, String),
        output: Output,
        port: u16,
        host: String,
        base_url: String,
        sse_path: String,
        message_path: String,
        streamable_http_path: String,
        stateful: bool,
        session_timeout: Option<Duration>,
        protocol_version: String,
        headers: Vec<(String, String)>,
        log_level: LogLevel,
        log_format: LogFormat,
        cors: Vec<String>,
        health_endpoints: Vec<String>,
        runtime_prompt: bool,
        runtime_admin_port: Option<u16>,
        runtime_admin_token: Option<String>,
        child_per_session: bool,
        keep_alive: Option<Duration>,
        max_body_bytes: u64,
        max_sessions: usize,
        request_timeout: Option<Duration>,
        warnings: usize,
    }

    fn summary(config: &Config) -> Summary {
        let input = match &config.input {
            Input::Sse(url) => ("sse", url.clone()),
            Input::Stdio(command) => ("stdio", command.clone()),
            Input::StreamableHttp(url) => ("streamableHttp", url.clone()),
        };
        let cors = match &config.cors {
            Cors::Any => vec!["any".to_owned()],
            Cors::Off => vec![],
            Cors::Origins(list) => list
                .iter()
                .map(|origin| match origin {
                    CorsOrigin::Exact(exact) => format!("exact {exact}"),
                    CorsOrigin::Regex(regex) => format!("regex {}", regex.as_str()),
                })
                .collect(),
        };
        Summary {
            input,
            output: config.output,
            port: config.port,
            host: config.host.clone(),
            base_url: config.base_url.clone(),
            sse_path: config.sse_path.clone(),
            message_path: config.message_path.clone(),
            streamable_http_path: config.streamable_http_path.clone(),
            stateful: config.stateful,
            session_timeout: config.session_timeout,
            protocol_version: config.protocol_version.clone(),
            headers: config
                .headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            log_level: config.log_level,
            log_format: config.log_format,
            cors,
            health_endpoints: config.health_endpoints.clone(),
            runtime_prompt: config.runtime_prompt,
            runtime_admin_port: config.runtime_admin_port,
            runtime_admin_token: config.runtime_admin_token.clone(),
            child_per_session: config.child_per_session,
            keep_alive: config.keep_alive,
            max_body_bytes: config.max_body_bytes,
            max_sessions: config.max_sessions,
            request_timeout: config.request_timeout,
            warnings: config.warnings.len(),
        }
    }

    /// What `--stdio cmd` alone gives.
    fn defaults() -> Summary {
        Summary {
            input: ("stdio", "cmd".to_owned()),
            output: Output::Sse,
            port: 8000,
            host: "127.0.0.1".to_owned(),
            base_url: String::new(),
            sse_path: "/sse".to_owned(),
            message_path: "/message".to_owned(),
            streamable_http_path: "/mcp".to_owned(),
            stateful: false,
            session_timeout: Some(Duration::from_millis(1_800_000)),
            protocol_version: "2024-11-05".to_owned(),
            headers: vec![],
            log_level: LogLevel::Info,
            log_format: LogFormat::Text,
            cors: vec![],
            health_endpoints: vec![],
            runtime_prompt: false,
            runtime_admin_port: None,
            runtime_admin_token: None,
            child_per_session: false,
            keep_alive: Some(Duration::from_millis(15_000)),
            max_body_bytes: 4_194_304,
            max_sessions: 1024,
            request_timeout: Some(Duration::from_millis(60_000)),
            warnings: 0,
        }
    }

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|&arg| arg.to_owned()).collect()
    }

    fn ms(n: u64) -> Option<Duration> {
        Some(Duration::from_millis(n))
    }

    fn headers(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|&(n, v)| (n.to_owned(), v.to_owned()))
            .collect()
    }

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|&s| s.to_owned()).collect()
    }

    #[test]
    fn accept() {
        type Edit = fn(&mut Summary);
        let cases: &[(&[&str], Edit)] = &[
            // Inputs, defaults, output defaults.
            (&["--stdio", "cmd"], |_| {}),
            (&["--stdio=cmd"], |_| {}),
            (&["--stdio", "a b=c"], |s| s.input.1 = "a b=c".to_owned()),
            (&["--stdio=a=b"], |s| s.input.1 = "a=b".to_owned()),
            (&["--stdio", "-"], |s| s.input.1 = "-".to_owned()),
            (&["--sse", "https://h/sse"], |s| {
                s.input = ("sse", "https://h/sse".to_owned());
                s.output = Output::Stdio;
            }),
            (&["--sse=HTTP://h:1/sse?x=1"], |s| {
                s.input = ("sse", "HTTP://h:1/sse?x=1".to_owned());
                s.output = Output::Stdio;
            }),
            (&["--streamableHttp", "https://h/mcp"], |s| {
                s.input = ("streamableHttp", "https://h/mcp".to_owned());
                s.output = Output::Stdio;
            }),
            (
                &[
                    "--streamable-http=http://h/mcp",
                    "--outputTransport",
                    "stdio",
                ],
                |s| {
                    s.input = ("streamableHttp", "http://h/mcp".to_owned());
                    s.output = Output::Stdio;
                },
            ),
            (&["--outputTransport", "sse", "--stdio", "cmd"], |_| {}),
            (&["--stdio", "cmd", "--outputTransport=ws"], |s| {
                s.output = Output::Ws
            }),
            (
                &["--stdio", "cmd", "--output-transport", "streamableHttp"],
                |s| {
                    s.output = Output::StreamableHttp;
                },
            ),
            (
                &["--stdio", "cmd", "--outputTransport=streamableHttp"],
                |s| {
                    s.output = Output::StreamableHttp;
                },
            ),
            // Numbers.
            (&["--stdio", "cmd", "--port", "0"], |s| s.port = 0),
            (&["--stdio", "cmd", "--port=65535"], |s| s.port = 65535),
            (&["--stdio", "cmd", "--port", "0080"], |s| s.port = 80),
            (&["--stdio", "cmd", "--host", "0.0.0.0"], |s| {
                s.host = "0.0.0.0".to_owned()
            }),
            (&["--stdio", "cmd", "--host=::"], |s| {
                s.host = "::".to_owned()
            }),
            (&["--stdio", "cmd", "--host", "localhost"], |s| {
                s.host = "localhost".to_owned()
            }),
            (
                &["--stdio", "cmd", "--baseUrl", "http://localhost:8000"],
                |s| {
                    s.base_url = "http://localhost:8000".to_owned();
                },
            ),
            (&["--stdio", "cmd", "--base-url=https://x.test/base"], |s| {
                s.base_url = "https://x.test/base".to_owned();
            }),
            (&["--stdio", "cmd", "--ssePath", "/events"], |s| {
                s.sse_path = "/events".to_owned()
            }),
            (&["--stdio", "cmd", "--sse-path=/a/b"], |s| {
                s.sse_path = "/a/b".to_owned()
            }),
            (&["--stdio", "cmd", "--messagePath=/m"], |s| {
                s.message_path = "/m".to_owned()
            }),
            (&["--stdio", "cmd", "--message-path", "/"], |s| {
                s.message_path = "/".to_owned()
            }),
            (
                &[
                    "--stdio",
                    "cmd",
                    "--outputTransport",
                    "streamableHttp",
                    "--streamableHttpPath",
                    "/x",
                ],
                |s| {
                    s.output = Output::StreamableHttp;
                    s.streamable_http_path = "/x".to_owned();
                },
            ),
            (
                &[
                    "--stdio",
                    "cmd",
                    "--outputTransport",
                    "streamableHttp",
                    "--streamable-http-path=/y",
                ],
                |s| {
                    s.output = Output::StreamableHttp;
                    s.streamable_http_path = "/y".to_owned();
                },
            ),
            // Booleans.
            (
                &[
                    "--stdio",
                    "cmd",
                    "--outputTransport",
                    "streamableHttp",
                    "--stateful",
                ],
                |s| {
                    s.output = Output::StreamableHttp;
                    s.stateful = true;
                },
            ),
            (
                &[
                    "--stdio",
                    "cmd",
                    "--outputTransport",
                    "streamableHttp",
                    "--stateful=true",
                ],
                |s| {
                    s.output = Output::StreamableHttp;
                    s.stateful = true;
                },
            ),
            (
                &[
                    "--stdio",
                    "cmd",
                    "--outputTransport",
                    "streamableHttp",
                    "--stateful",
                    "true",
                ],
                |s| {
                    s.output = Output::StreamableHttp;
                    s.stateful = true;
                },
            ),
            (
                &[
                    "--stdio",
                    "cmd",
                    "--outputTransport",
                    "streamableHttp",
                    "--stateful=false",
                ],
                |s| {
                    s.output = Output::StreamableHttp;
                },
            ),
            (
                &[
                    "--stdio",
                    "cmd",
                    "--outputTransport",
                    "streamableHttp",
                    "--stateful",
                    "false",
                ],
                |s| {
                    s.output = Output::StreamableHttp;
                },
            ),
            (&["--stdio", "cmd", "--stateful", "--no-stateful"], |_| {}),
            (
                &[
                    "--stdio",
                    "cmd",
                    "--no-stateful",
                    "--stateful",
                    "--outputTransport",
                    "streamableHttp",
                ],
                |s| {
                    s.output = Output::StreamableHttp;
                    s.stateful = true;
                },
            ),
            (
                &[
                    "--stateful",
                    "--stdio",
                    "cmd",
                    "--outputTransport",
                    "streamableHttp",
                ],
                |s| {
                    s.output = Output::StreamableHttp;
                    s.stateful = true;
                },
            ),
            (&["--stdio", "cmd", "--runtimePrompt"], |s| {
                s.runtime_prompt = true
            }),
            (&["--stdio", "cmd", "--runtime-prompt=true"], |s| {
                s.runtime_prompt = true
            }),
            (&["--stdio", "cmd", "--no-runtime-prompt"], |_| {}),
            (&["--stdio", "cmd", "--childPerSession"], |s| {
                s.child_per_session = true
            }),
            (&["--stdio", "cmd", "--child-per-session", "true"], |s| {
                s.child_per_session = true
            }),
            (&["--stdio", "cmd", "--no-childPerSession"], |_| {}),
            // Times and limits.
            (
                &[
                    "--stdio",
                    "cmd",
                    "--outputTransport",
                    "streamableHttp",
                    "--stateful",
                    "--sessionTimeout",
                    "1",
                ],
                |s| {
                    s.output = Output::StreamableHttp;
                    s.stateful = true;
                    s.session_timeout = ms(1);
                },
            ),
            (
                &[
                    "--stdio",
                    "cmd",
                    "--outputTransport=streamableHttp",
                    "--stateful",
                    "--session-timeout=60000",
                ],
                |s| {
                    s.output = Output::StreamableHttp;
                    s.stateful = true;
                    s.session_timeout = ms(60_000);
                },
            ),
            (
                &[
                    "--stdio",
                    "cmd",
                    "--outputTransport",
                    "streamableHttp",
                    "--protocolVersion",
                    "2025-06-18",
                ],
                |s| {
                    s.output = Output::StreamableHttp;
                    s.protocol_version = "2025-06-18".to_owned();
                },
            ),
            (
                &[
                    "--stdio",
                    "cmd",
                    "--outputTransport",
                    "streamableHttp",
                    "--protocol-version=2025-03-26",
                ],
                |s| {
                    s.output = Output::StreamableHttp;
                    s.protocol_version = "2025-03-26".to_owned();
                },
            ),
            (&["--stdio", "cmd", "--keepAlive", "0"], |s| {
                s.keep_alive = None
            }),
            (&["--stdio", "cmd", "--keep-alive=250"], |s| {
                s.keep_alive = ms(250)
            }),
            (&["--stdio", "cmd", "--maxBodyBytes", "1"], |s| {
                s.max_body_bytes = 1
            }),
            (
                &["--stdio", "cmd", "--max-body-bytes=18446744073709551615"],
                |s| {
                    s.max_body_bytes = u64::MAX;
                },
            ),
            (&["--stdio", "cmd", "--maxSessions", "1"], |s| {
                s.max_sessions = 1
            }),
            (&["--stdio", "cmd", "--max-sessions=5000"], |s| {
                s.max_sessions = 5000
            }),
            (&["--sse", "http://h/sse", "--requestTimeout", "0"], |s| {
                s.input = ("sse", "http://h/sse".to_owned());
                s.output = Output::Stdio;
                s.request_timeout = None;
            }),
            (&["--sse", "http://h/sse", "--request-timeout=1500"], |s| {
                s.input = ("sse", "http://h/sse".to_owned());
                s.output = Output::Stdio;
                s.request_timeout = ms(1500);
            }),
            (&["--stdio", "cmd", "--runtimeAdminPort", "9000"], |s| {
                s.runtime_admin_port = Some(9000)
            }),
            (&["--stdio", "cmd", "--runtime-admin-port=0"], |s| {
                s.runtime_admin_port = Some(0)
            }),
            (
                &[
                    "--stdio",
                    "cmd",
                    "--runtimeAdminPort",
                    "1",
                    "--runtimeAdminToken",
                    "t0k=n",
                ],
                |s| {
                    s.runtime_admin_port = Some(1);
                    s.runtime_admin_token = Some("t0k=n".to_owned());
                },
            ),
            (
                &[
                    "--stdio",
                    "cmd",
                    "--runtime-admin-port=2",
                    "--runtime-admin-token=abc",
                ],
                |s| {
                    s.runtime_admin_port = Some(2);
                    s.runtime_admin_token = Some("abc".to_owned());
                },
            ),
            // Log level.
            (&["--stdio", "cmd", "--logLevel", "debug"], |s| {
                s.log_level = LogLevel::Debug
            }),
            (&["--stdio", "cmd", "--logLevel=none"], |s| {
                s.log_level = LogLevel::None
            }),
            (&["--stdio", "cmd", "--log-level", "info"], |_| {}),
            (&["--stdio", "cmd", "--logFormat", "json"], |s| {
                s.log_format = LogFormat::Json
            }),
            (&["--stdio", "cmd", "--log-format=text"], |_| {}),
            // Headers, in order, then the bearer token.
            (&["--stdio", "cmd", "--header", "X-A: 1"], |s| {
                s.headers = headers(&[("X-A", "1")])
            }),
            (
                &["--stdio", "cmd", "--header=X-A: a=b", "--header", "X-B:2"],
                |s| {
                    s.headers = headers(&[("X-A", "a=b"), ("X-B", "2")]);
                },
            ),
            (&["--stdio", "cmd", "--header", " X-A :  v: w \t"], |s| {
                s.headers = headers(&[("X-A", "v: w")]);
            }),
            (
                &[
                    "--stdio", "cmd", "--header", "X-A: 1", "--header", "X-B: 2", "--header",
                    "x-a: 3",
                ],
                |s| {
                    s.headers = headers(&[("X-B", "2"), ("x-a", "3")]);
                    s.warnings = 1;
                },
            ),
            (
                &[
                    "--stdio",
                    "cmd",
                    "--oauth2Bearer",
                    "t",
                    "--header",
                    "authorization: Basic x",
                ],
                |s| {
                    s.headers = headers(&[("Authorization", "Bearer t")]);
                    s.warnings = 1;
                },
            ),
            (&["--stdio", "cmd", "--header", "X-Empty:"], |s| {
                s.headers = headers(&[("X-Empty", "")])
            }),
            (
                &[
                    "--sse",
                    "https://h/sse",
                    "--oauth2Bearer",
                    "tok",
                    "--header",
                    "X-A: 1",
                ],
                |s| {
                    s.input = ("sse", "https://h/sse".to_owned());
                    s.output = Output::Stdio;
                    s.headers = headers(&[("X-A", "1"), ("Authorization", "Bearer tok")]);
                },
            ),
            (&["--stdio", "cmd", "--oauth2-bearer=a=b"], |s| {
                s.headers = headers(&[("Authorization", "Bearer a=b")]);
            }),
            // CORS.
            (&["--stdio", "cmd", "--cors"], |s| {
                s.cors = strings(&["any"])
            }),
            (&["--stdio", "cmd", "--cors", "--port", "1"], |s| {
                s.cors = strings(&["any"]);
                s.port = 1;
            }),
            (&["--stdio", "cmd", "--cors", "*"], |s| {
                s.cors = strings(&["any"])
            }),
            (&["--stdio", "cmd", "--cors=*"], |s| {
                s.cors = strings(&["any"])
            }),
            (&["--stdio", "cmd", "--cors", "https://a.test", "*"], |s| {
                s.cors = strings(&["any"])
            }),
            (&["--stdio", "cmd", "--cors", "https://a.test"], |s| {
                s.cors = strings(&["exact https://a.test"]);
            }),
            (
                &[
                    "--stdio",
                    "cmd",
                    "--cors",
                    "https://a.test",
                    "https://b.test",
                    "--port",
                    "1",
                ],
                |s| {
                    s.cors = strings(&["exact https://a.test", "exact https://b.test"]);
                    s.port = 1;
                },
            ),
            (
                &[
                    "--cors",
                    "https://a.test",
                    "--stdio",
                    "cmd",
                    "--cors=/\\.b\\.test$/",
                ],
                |s| {
                    s.cors = strings(&["exact https://a.test", "regex \\.b\\.test$"]);
                },
            ),
            (&["--stdio", "cmd", "--cors", "/", "//"], |s| {
                s.cors = strings(&["exact /", "regex "])
            }),
            // Health endpoints.
            (&["--stdio", "cmd", "--healthEndpoint", "/healthz"], |s| {
                s.health_endpoints = strings(&["/healthz"]);
            }),
            (
                &[
                    "--stdio",
                    "cmd",
                    "--healthEndpoint=/a",
                    "--health-endpoint",
                    "/b",
                ],
                |s| {
                    s.health_endpoints = strings(&["/a", "/b"]);
                },
            ),
            // Flags for another mode: accepted, with a warning.
            (&["--stdio", "cmd", "--stateful"], |s| {
                s.stateful = true;
                s.warnings = 1;
            }),
            (&["--sse", "https://h/sse", "--port", "1", "--cors"], |s| {
                s.input = ("sse", "https://h/sse".to_owned());
                s.output = Output::Stdio;
                s.port = 1;
                s.cors = strings(&["any"]);
                s.warnings = 2;
            }),
        ];
        for (argv, edit) in cases {
            let mut expected = defaults();
            edit(&mut expected);
            match parse(&args(argv)) {
                Ok(config) => assert_eq!(summary(&config), expected, "{argv:?}"),
                Err(exit) => panic!("{argv:?} rejected: {exit:?}"),
            }
        }
    }

    #[test]
    fn reject() {
        let cases: &[(&[&str], &str)] = &[
            (&[], "one of --stdio, --sse or --streamableHttp is required"),
            (
                &["--port", "1"],
                "one of --stdio, --sse or --streamableHttp is required",
            ),
            (&["--foo"], "unknown flag --foo (see --help)"),
            (&["--stdio", "x", "--foo=1"], "unknown flag --foo"),
            (&["--stdio", "x", "--Port", "1"], "did you mean --port?"),
            (
                &["--stdio", "x", "--outputtransport", "ws"],
                "did you mean --outputTransport?",
            ),
            (
                &["--stdio", "x", "--output_transport", "ws"],
                "unknown flag --output_transport",
            ),
            (
                &["--stdio", "npx", "-y", "server"],
                "unknown flag -y (quote the whole --stdio command",
            ),
            (
                &["--stdio", "npx", "server"],
                "unexpected argument \"server\" (quote",
            ),
            (&["--stdio", "x", "extra"], "unexpected argument \"extra\""),
            (
                &["--stdio", "x", "--header", "X-A:", "b"],
                "unexpected argument after --header (quote",
            ),
            (
                &["--stdio", "x", "--oauth2Bearer", "a", "b"],
                "unexpected argument after --oauth2Bearer",
            ),
            (&["--stdio", "x", "--", "y"], "unexpected argument \"--\""),
            (&["-p", "1"], "unknown flag -p"),
            (&["--no-port"], "unknown flag --no-port"),
            (
                &["--stdio", "x", "--sse", "http://h/sse"],
                "--stdio and --sse cannot be combined",
            ),
            (
                &[
                    "--stdio",
                    "x",
                    "--sse",
                    "http://h",
                    "--streamableHttp",
                    "http://h",
                ],
                "--stdio and --sse and --streamableHttp cannot be combined",
            ),
            (&["--stdio"], "--stdio needs a value"),
            (&["--stdio", "--port", "1"], "--stdio needs a value"),
            (&["--stdio", ""], "--stdio needs a shell command"),
            (&["--stdio", "  "], "--stdio needs a shell command"),
            (&["--stdio=a\0b"], "--stdio needs a shell command"),
            (&["--stdio", "x", "--port"], "--port needs a value"),
            (
                &["--stdio", "x", "--port", "abc"],
                "--port expects a non-negative whole number",
            ),
            (
                &["--stdio", "x", "--port", "70000"],
                "--port must be a port from 0 to 65535",
            ),
            (&["--stdio", "x", "--port=+1"], "--port expects"),
            (&["--stdio", "x", "--port=-1"], "--port expects"),
            (&["--stdio", "x", "--port", "-1"], "--port expects"),
            (&["--stdio", "x", "--port", " 1"], "--port expects"),
            (&["--stdio", "x", "--port", "0x10"], "--port expects"),
            (&["--stdio", "x", "--port", ""], "--port expects"),
            (&["--stdio", "x", "--port", "1.5"], "--port expects"),
            (&["--stdio", "x", "--port", "1\n2"], "--port expects"),
            (
                &["--stdio", "x", "--port", "99999999999999999999999"],
                "--port is out of range",
            ),
            (
                &["--stdio", "x", "--port", "1", "--port=2"],
                "--port given more than once",
            ),
            (
                &["--stdio", "x", "--stdio", "y"],
                "--stdio given more than once",
            ),
            (
                &["--stdio", "x", "--sessionTimeout", "0"],
                "--sessionTimeout must be greater than 0",
            ),
            (
                &["--stdio", "x", "--maxSessions", "0"],
                "--maxSessions must be at least 1",
            ),
            (
                &["--stdio", "x", "--maxBodyBytes", "0"],
                "--maxBodyBytes must be at least 1",
            ),
            (
                &["--stdio", "x", "--bodyTimeout", "0"],
                "--bodyTimeout must be greater than 0",
            ),
            (
                &["--stdio", "x", "--bodyTimeout", "1s"],
                "--bodyTimeout expects",
            ),
            (
                &["--stdio", "x", "--keepAlive", "-5"],
                "--keepAlive expects",
            ),
            (
                &["--stdio", "x", "--requestTimeout", "1s"],
                "--requestTimeout expects",
            ),
            (
                &["--stdio", "x", "--runtimeAdminPort", "65536"],
                "--runtimeAdminPort must be a port",
            ),
            (
                &["--stdio", "x", "--runtimeAdminToken", ""],
                "--runtimeAdminToken must be 1 to 4096 visible ASCII characters",
            ),
            (
                &["--stdio", "x", "--runtimeAdminToken", "a b"],
                "--runtimeAdminToken must be 1 to 4096 visible ASCII characters",
            ),
            (
                &["--stdio", "x", "--ssePath", "sse"],
                "--ssePath must be a path starting with '/'",
            ),
            (
                &["--stdio", "x", "--messagePath", ""],
                "--messagePath must be a path",
            ),
            (
                &["--stdio", "x", "--streamableHttpPath", "/a b"],
                "--streamableHttpPath must be a path",
            ),
            (
                &["--stdio", "x", "--ssePath", "/a?b"],
                "--ssePath must be a path",
            ),
            (
                &["--stdio", "x", "--healthEndpoint", "health"],
                "--healthEndpoint must be a path",
            ),
            (
                &["--stdio", "x", "--logLevel", "warn"],
                "--logLevel must be one of debug, info, none",
            ),
            (
                &["--stdio", "x", "--logLevel", "DEBUG"],
                "--logLevel must be one of debug, info, none",
            ),
            (
                &["--stdio", "x", "--logFormat", "yaml"],
                "--logFormat must be one of text, json",
            ),
            (
                &["--stdio", "x", "--outputTransport", "websocket"],
                "--outputTransport must be one of",
            ),
            (
                &["--stdio", "x", "--outputTransport", "stdio"],
                "--stdio with --outputTransport stdio is not supported",
            ),
            (
                &["--sse", "http://h", "--outputTransport", "sse"],
                "--sse with --outputTransport sse is not supported",
            ),
            (
                &["--sse", "http://h", "--outputTransport", "ws"],
                "--sse with --outputTransport ws is not supported",
            ),
            (
                &[
                    "--streamableHttp",
                    "http://h",
                    "--outputTransport",
                    "streamableHttp",
                ],
                "--streamableHttp with --outputTransport streamableHttp is not supported",
            ),
            (
                &["--sse", "ftp://h/sse"],
                "--sse must be an http:// or https:// URL",
            ),
            (
                &["--sse", "h/sse"],
                "--sse must be an http:// or https:// URL",
            ),
            (
                &["--streamableHttp", "http://a b"],
                "--streamableHttp URL must not contain spaces",
            ),
            (
                &["--streamableHttp", "https"],
                "--streamableHttp must be an http:// or https:// URL",
            ),
            (
                &["--stdio", "x", "--header", "NoColon"],
                "--header must look like \"Name: value\"",
            ),
            (
                &["--stdio", "x", "--header", "X: a\r\nY: b"],
                "--header must look like",
            ),
            (
                &["--stdio", "x", "--header", "X: a\nb"],
                "--header must look like",
            ),
            (
                &["--stdio", "x", "--header", "X: a\0"],
                "--header must look like",
            ),
            (
                &["--stdio", "x", "--header", ": v"],
                "--header must look like",
            ),
            (
                &["--stdio", "x", "--header", "X A: v"],
                "--header must look like",
            ),
            (
                &["--stdio", "x", "--header", "X: \u{7}"],
                "--header must look like",
            ),
            (
                &["--stdio", "x", "--header", "Content-Length: 5"],
                "--header Content-Length cannot be set",
            ),
            (
                &["--stdio", "x", "--header", "transfer-encoding: chunked"],
                "--header transfer-encoding cannot",
            ),
            (
                &["--stdio", "x", "--oauth2Bearer", ""],
                "--oauth2Bearer needs a non-empty token",
            ),
            (
                &["--stdio", "x", "--oauth2Bearer", "a\nb"],
                "--oauth2Bearer is not a valid header value",
            ),
            (
                &["--stdio", "x", "--stateful=maybe"],
                "--stateful expects true or false",
            ),
            (
                &["--stdio", "x", "--no-stateful=true"],
                "--no-stateful takes no value",
            ),
            (&["--stdio", "x", "--help=1"], "--help takes no value"),
            (&["--stdio", "x", "--version=1"], "--version takes no value"),
            (
                &["--stdio", "x", "--cors", "/(/"],
                "--cors \"/(/\" is not a valid regular expression",
            ),
            (
                &["--stdio", "x", "--cors", ""],
                "--cors origins must not be empty",
            ),
            (
                &["--stdio", "x", "--host", ""],
                "--host must be an IP address or host name",
            ),
            (
                &["--stdio", "x", "--host", "a b"],
                "--host must be an IP address or host name",
            ),
            (
                &["--stdio", "x", "--protocolVersion", ""],
                "--protocolVersion must be visible ASCII",
            ),
            (
                &["--stdio", "x", "--baseUrl", "http://a\r\nb"],
                "--baseUrl must not contain",
            ),
        ];
        for (argv, needle) in cases {
            let exit = match parse(&args(argv)) {
                Ok(config) => panic!("{argv:?} accepted: {config:?}"),
                Err(exit) => exit,
            };
            assert_eq!(exit.code, 2, "{argv:?}: {exit:?}");
            assert!(
                exit.message.starts_with("supergateway: "),
                "{argv:?}: {exit:?}"
            );
            assert!(!exit.message.contains(['\n', '\r']), "{argv:?}: {exit:?}");
            assert!(
                exit.message.contains(needle),
                "{argv:?}: {:?} lacks {needle:?}",
                exit.message
            );
        }
    }

    #[test]
    fn body_timeout_default_and_value() {
        let config = parse(&args(&["--stdio", "cmd"])).unwrap();
        assert_eq!(config.body_timeout, Duration::from_secs(60));
        let config = parse(&args(&["--stdio", "cmd", "--body-timeout=500"])).unwrap();
        assert_eq!(config.body_timeout, Duration::from_millis(500));
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    }

    #[test]
    fn errors_never_echo_secrets() {
        let cases: &[&[&str]] = &[
            &["--stdio", "x", "--header", "X-Token: SECRET\n"],
            &["--stdio", "x", "--header", "X-Token SECRET"],
            &["--stdio", "x", "--oauth2Bearer", "SECRET\r"],
            &["--sse", "ftp://user:SECRET@h/sse"],
            &["--sse", "http://user:SECRET@h/ sse"],
            &[
                "--stdio",
                "x",
                "--header",
                "Authorization: Bearer",
                "SECRET",
            ],
            &["--stdio", "x", "--oauth2Bearer", "a", "SECRET"],
        ];
        for argv in cases {
            let exit = parse(&args(argv)).err();
            let message = exit.map(|exit| exit.message).unwrap_or_default();
            assert!(message.starts_with("supergateway: "), "{argv:?}: {message}");
            assert!(!message.contains("SECRET"), "{argv:?}: {message}");
        }
    }

    #[test]
    fn help_and_version() {
        let help_cases: &[&[&str]] = &[
            &["--help"],
            &["-h"],
            &["--stdio", "x", "--help"],
            &["--foo", "--help"],
            &["--help", "--foo"],
            &["--version", "--help"],
        ];
        for argv in help_cases {
            let exit = parse(&args(argv))
                .err()
                .unwrap_or_else(|| panic!("{argv:?} parsed"));
            assert_eq!(exit.code, 0, "{argv:?}");
            assert_eq!(exit.message, HELP.trim_end(), "{argv:?}");
        }
        let version_cases: &[&[&str]] = &[
            &["--version"],
            &["--stdio", "x", "--version"],
            &["--foo", "--version"],
        ];
        for argv in version_cases {
            let exit = parse(&args(argv))
                .err()
                .unwrap_or_else(|| panic!("{argv:?} parsed"));
            assert_eq!(
                exit,
                Exit {
                    code: 0,
                    message: format!("supergateway {}", env!("CARGO_PKG_VERSION"))
                },
                "{argv:?}"
            );
        }
    }

    #[test]
    fn flag_table_matches_yargs_and_argh() {
        // yargs' decamelize: a dash before each uppercase letter, lowercased.
        for flag in FLAGS {
            let decamelized: String = flag
                .camel
                .chars()
                .flat_map(|c| {
                    let dash = c.is_ascii_uppercase().then_some('-');
                    dash.into_iter()
                        .chain(std::iter::once(c.to_ascii_lowercase()))
                })
                .collect();
            assert_eq!(flag.kebab, decamelized);
            let argv: Vec<String> = match flag.kind {
                Kind::Switch => vec![format!("--{}", flag.kebab)],
                _ => vec![format!("--{}", flag.kebab), "v".to_owned()],
            };
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            assert!(
                RawArgs::from_args(&[PROGRAM], &argv).is_ok(),
                "argh rejects --{}",
                flag.kebab
            );
        }
    }

    #[test]
    fn warnings_name_the_flag_and_the_mode() {
        let cases: &[(&[&str], &[&str])] = &[
            (&["--stdio", "x"], &[]),
            (
                &["--stdio", "x", "--stateful", "--sessionTimeout", "5"],
                &[
                    "--stateful has no effect with --stdio and --outputTransport sse (it applies to --outputTransport streamableHttp)",
                    "--sessionTimeout has no effect",
                ],
            ),
            (&["--stdio", "x", "--outputTransport", "streamableHttp", "--stateful", "--sessionTimeout", "5"], &[]),
            (
                &["--stdio", "x", "--outputTransport", "streamableHttp", "--stateful", "--protocolVersion", "v", "--childPerSession"],
                &["--protocolVersion has no effect", "--childPerSession has no effect"],
            ),
            (
                &["--stdio", "x", "--outputTransport", "streamableHttp", "--protocolVersion", "v", "--childPerSession", "--keepAlive", "1"],
                &[],
            ),
            (
                &["--stdio", "x", "--outputTransport", "ws", "--ssePath", "/s", "--baseUrl", "http://h", "--messagePath", "/m", "--keepAlive", "1"],
                &["--baseUrl has no effect", "--ssePath has no effect"],
            ),
            (
                &["--stdio", "x", "--requestTimeout", "5", "--streamableHttpPath", "/m"],
                &["--streamableHttpPath has no effect", "--requestTimeout has no effect"],
            ),
            (
                &[
                    "--sse", "http://h", "--port", "1", "--host", "h", "--cors", "--healthEndpoint", "/h",
                    "--maxBodyBytes", "1", "--maxSessions", "1", "--childPerSession", "--messagePath", "/m",
                ],
                &[
                    "--port has no effect with --sse and --outputTransport stdio",
                    "--host has no effect",
                    "--cors has no effect",
                    "--healthEndpoint has no effect",
                    "--maxBodyBytes has no effect",
                    "--maxSessions has no effect",
                    "--messagePath has no effect",
                    "--childPerSession has no effect",
                ],
            ),
            (
                &["--streamableHttp", "http://h", "--header", "A: b", "--oauth2Bearer", "t", "--logLevel", "none", "--runtimePrompt", "--runtimeAdminPort", "1", "--requestTimeout", "1"],
                &[],
            ),
        ];
        for (argv, expected) in cases {
            let config = parse(&args(argv)).unwrap_or_else(|exit| panic!("{argv:?}: {exit:?}"));
            assert_eq!(
                config.warnings.len(),
                expected.len(),
                "{argv:?}: {:?}",
                config.warnings
            );
            for (warning, needle) in config.warnings.iter().zip(expected.iter()) {
                assert!(warning.starts_with(needle), "{warning:?} vs {needle:?}");
            }
        }
    }

    #[test]
    fn debug_redacts_secrets() {
        let cases: &[&[&str]] = &[
            &[
                "--sse",
                "https://user:SECRET1@h.test:8443/sse?token=SECRET2#SECRET3",
                "--header",
                "Authorization: SECRET4",
                "--header",
                "X-Api-Key: SECRET5",
                "--oauth2Bearer",
                "SECRET6",
            ],
            &["--streamableHttp", "http://SECRET1@h.test/mcp?SECRET2"],
            &[
                "--streamableHttp",
                "http://h.test/mcp",
                "--runtimeAdminPort",
                "1",
                "--runtimeAdminToken",
                "SECRET7",
            ],
            &[
                "--stdio",
                "cmd",
                "--baseUrl",
                "https://u:SECRET1@h.test/x?k=SECRET2",
            ],
        ];
        for argv in cases {
            let config = parse(&args(argv)).unwrap_or_else(|exit| panic!("{argv:?}: {exit:?}"));
            let debug = format!("{config:?} {config:#?} {:?}", config.input);
            assert!(!debug.contains("SECRET"), "{debug}");
            assert!(debug.contains("h.test"), "{debug}");
        }
        let config = parse(&args(cases[0])).unwrap_or_else(|exit| panic!("{exit:?}"));
        let debug = format!("{config:?}");
        assert!(
            debug.contains("(\"Authorization\", \"<redacted>\")"),
            "{debug}"
        );
        assert!(debug.contains("(\"X-Api-Key\", \"<redacted>\")"), "{debug}");
        assert!(
            debug.contains("Sse(\"https://<redacted>@h.test:8443/sse?<redacted>\")"),
            "{debug}"
        );
    }

    #[test]
    fn redact_url_table() {
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("https://h/sse", "https://h/sse"),
            ("https://h", "https://h"),
            ("http://u:p@h:1/x", "http://<redacted>@h:1/x"),
            ("http://u@h", "http://<redacted>@h"),
            ("http://a@b@h/p", "http://<redacted>@h/p"),
            ("http://h/p?q=1", "http://h/p?<redacted>"),
            ("http://h?q=1", "http://h?<redacted>"),
            ("http://h/p#frag", "http://h/p?<redacted>"),
            ("http://h/p/@x", "http://h/p/@x"),
            ("not a url", "<redacted>"),
            ("/relative?token=1", "<redacted>"),
        ];
        for &(url, expected) in cases {
            assert_eq!(redact_url(url), expected, "{url:?}");
        }
    }

    #[test]
    fn cors_allows() {
        let parse_cors = |argv: &[&str]| {
            let mut full = args(&["--stdio", "x"]);
            full.extend(args(argv));
            parse(&full)
                .map(|config| config.cors)
                .unwrap_or_else(|exit| panic!("{exit:?}"))
        };
        let cases: &[(&[&str], &str, bool)] = &[
            (&[], "https://a.test", false),
            (&["--cors"], "https://a.test", true),
            (&["--cors"], "", true),
            (&["--cors", "https://a.test"], "https://a.test", true),
            (&["--cors", "https://a.test"], "https://A.test", false),
            (&["--cors", "https://a.test"], "https://a.test.evil", false),
            (
                &["--cors", "https://a.test", "https://b.test"],
                "https://b.test",
                true,
            ),
            (&["--cors", "/a\\.test$/"], "https://a.test", true),
            (&["--cors", "/a\\.test$/"], "https://b.test", false),
            // Unanchored, as `new RegExp(body).test(origin)`.
            (
                &["--cors", "/a\\.test/"],
                "https://a.test.evil.example",
                true,
            ),
            (
                &["--cors", "/^https:\\/\\/a\\.test$/"],
                "https://a.test.evil.example",
                false,
            ),
            (
                &["--cors", "/^https:\\/\\/a\\.test$/"],
                "https://a.test",
                true,
            ),
        ];
        for &(argv, origin, expected) in cases {
            assert_eq!(
                parse_cors(argv).allows(origin),
                expected,
                "{argv:?} {origin:?}"
            );
        }
    }

    #[test]
    fn usage_exit_is_one_line() {
        let exit = Exit::usage("a\nb\r\n c");
        assert_eq!(
            exit,
            Exit {
                code: 2,
                message: "supergateway: a b c".to_owned()
            }
        );
    }

    #[test]
    fn supergateway_host_is_the_default_bind_address_and_the_flag_wins() {
        let args = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let host = |list: &[&str], default: Option<&str>| {
            parse_with_host_default(&args(list), default.map(str::to_owned)).map(|c| c.host)
        };
        assert_eq!(
            host(&["--stdio", "x"], None).ok().as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(
            host(&["--stdio", "x"], Some("0.0.0.0")).ok().as_deref(),
            Some("0.0.0.0")
        );
        assert_eq!(
            host(&["--stdio", "x", "--host", "::1"], Some("0.0.0.0"))
                .ok()
                .as_deref(),
            Some("::1")
        );
        assert!(host(&["--stdio", "x"], Some("a b")).is_err());
        // The reverse modes do not listen: the variable is not a flag they warn about.
        let config = parse_with_host_default(
            &args(&["--sse", "http://h/sse"]),
            Some("0.0.0.0".to_owned()),
        );
        assert!(config.is_ok_and(|config| config.warnings.is_empty()));
    }

    /// `--help`'s flag lines: the camelCase name and the text of its "(default: …)", if any.
    fn help_flags() -> Vec<(String, Option<String>)> {
        let mut flags: Vec<(String, String)> = Vec::new();
        for line in HELP.lines() {
            let line = line.strip_prefix("  -h, ").map_or(line, |rest| rest);
            if let Some(rest) = line.strip_prefix("  --") {
                let name: String = rest
                    .chars()
                    .take_while(char::is_ascii_alphanumeric)
                    .collect();
                flags.push((name, rest.to_owned()));
            } else if line.starts_with("                             ") {
                // A continuation of the last flag's description.
                if let Some((_, text)) = flags.last_mut() {
                    text.push(' ');
                    text.push_str(line.trim());
                }
            } else if let Some(rest) = line.strip_prefix("--") {
                let name: String = rest
                    .chars()
                    .take_while(char::is_ascii_alphanumeric)
                    .collect();
                flags.push((name, rest.to_owned()));
            }
        }
        flags
            .into_iter()
            .map(|(name, text)| {
                let default = text
                    .split_once("(default: ")
                    .and_then(|(_, rest)| rest.rsplit_once(')'))
                    .map(|(default, _)| default.to_owned());
                (name, default)
            })
            .collect()
    }

    /// README's flag table: the camelCase name and the default column without backticks.
    fn readme_flags() -> Vec<(String, String)> {
        let readme = include_str!("../README.md");
        let table = readme
            .split("\n## Flags\n")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .unwrap_or_default();
        let mut flags = Vec::new();
        for row in table.lines().filter(|line| line.starts_with("| `--")) {
            let row = row.replace("\\|", "/");
            let cells: Vec<&str> = row.split('|').collect();
            let default = cells.get(2).copied().unwrap_or_default().replace('`', "");
            for names in row
                .split('`')
                .skip(1)
                .step_by(2)
                .take_while(|c| c.starts_with("--"))
            {
                let name: String = names[2..]
                    .chars()
                    .take_while(char::is_ascii_alphanumeric)
                    .collect();
                flags.push((name, default.trim().to_owned()));
            }
        }
        flags
    }

    #[test]
    fn help_lists_every_flag_and_readme_documents_each_with_the_same_default() {
        let help = help_flags();
        let readme = readme_flags();
        let help_names: Vec<&str> = help.iter().map(|(name, _)| name.as_str()).collect();
        for flag in FLAGS {
            assert!(
                help_names.contains(&flag.camel),
                "--{} is not in --help",
                flag.camel
            );
        }
        for (name, default) in &help {
            let Some((_, documented)) = readme.iter().find(|(flag, _)| flag == name) else {
                panic!("--{name} is in --help but not in README's flag table");
            };
            match default {
                Some(default) => assert_eq!(documented, default, "default of --{name}"),
                None => assert!(
                    ["—", "off", ""].contains(&documented.as_str()),
                    "--{name}: README says default {documented:?}, --help none"
                ),
            }
        }
        for (name, _) in &readme {
            assert!(
                help_names.contains(&name.as_str()),
                "README's --{name} is not in --help"
            );
        }
        assert!(HELP.lines().all(|line| line.chars().count() <= 100));
    }
}
