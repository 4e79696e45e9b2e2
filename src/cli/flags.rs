//! The flag table: for every flag its name, value placeholder, default, the modes it has an
//! effect in, its `--help` line and its `--help` group. It is the only place these are
//! written: the scanner (`parse.rs`) looks names and kinds up here, the validation
//! (`validate.rs`) takes defaults and the "has no effect" warnings from it, `--help`
//! (`help.rs`) is rendered from it, and a test checks README's flag table against it.
//!
//! [`FLAGS`] is in `--help` order, which is also README's order and the order of the
//! warnings.

use std::fmt;

/// One command line flag.
pub(super) struct Flag {
    /// The documented camelCase name, without `--`. yargs' kebab-case spelling
    /// (`output-transport`) is accepted too ([`Flag::is_called`]).
    pub(super) name: &'static str,
    /// The value's placeholder in `--help` (`N`, `PATH`); empty when it takes no value.
    pub(super) value: &'static str,
    pub(super) kind: Kind,
    /// What leaving it out means.
    pub(super) default: Absent,
    /// The modes it has an effect in; given in another one, it is accepted with a warning.
    pub(super) modes: Scope,
    pub(super) group: Group,
    /// The `--help` description; a `\n` starts a continuation line.
    pub(super) help: &'static str,
    /// Its value is usually a credential: an unexpected argument after it is not echoed.
    pub(super) secret: bool,
}

impl Flag {
    /// Whether `name` (without `--`) is this flag's camelCase or kebab-case name.
    pub(super) fn is_called(&self, name: &str) -> bool {
        name == self.name || name.chars().eq(kebab_case(self.name))
    }
}

/// `--name`, as every message spells a flag.
impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "--{}", self.name)
    }
}

/// yargs' `decamelize`: a dash before each uppercase letter, then lowercase.
pub(super) fn kebab_case(camel: &str) -> impl Iterator<Item = char> + '_ {
    camel.chars().flat_map(|c| {
        let dash = c.is_ascii_uppercase().then_some('-');
        dash.into_iter()
            .chain(std::iter::once(c.to_ascii_lowercase()))
    })
}

/// Finds a flag by its camelCase or kebab-case name (without `--`).
pub(super) fn lookup(name: &str) -> Option<&'static Flag> {
    FLAGS.iter().copied().find(|flag| flag.is_called(name))
}

/// How a flag takes its value(s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// Zero or more values per occurrence, repeatable (`--cors`); none means `*`.
    Cors,
    /// `--help` (also `-h`): print the help and exit.
    Help,
    /// One value per occurrence, repeatable (`--header`, `--healthEndpoint`).
    Repeated,
    /// One value, at most once.
    Single,
    /// A boolean: `--x`, `--x=true|false`, `--x true|false`, `--no-x`; the last one wins.
    Switch,
    /// `--version`: print the version and exit.
    Version,
}

/// What leaving a flag out means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Absent {
    /// This value, which `--help` and README describe in words (`text`).
    Described {
        value: &'static str,
        text: &'static str,
    },
    /// Nothing (README: "—"; "" for `--help` and `--version`).
    Nothing,
    /// Off: a switch, no CORS, no admin API (README: "off").
    Off,
    /// Decided from other flags by the validation (`--outputTransport`); `text` says how.
    Rule(&'static str),
    /// This value, as if it were given; `--help` shows "(default: VALUE)".
    Value(&'static str),
}

impl Absent {
    /// The value used when the flag is not given, if it has one.
    pub(super) fn value(self) -> Option<&'static str> {
        match self {
            Self::Value(value) | Self::Described { value, .. } => Some(value),
            Self::Nothing | Self::Off | Self::Rule(_) => None,
        }
    }

    /// The words of `--help`'s "(default: …)" and of README's default column.
    pub(super) fn shown(self) -> Option<&'static str> {
        match self {
            Self::Value(text) | Self::Described { text, .. } | Self::Rule(text) => Some(text),
            Self::Nothing | Self::Off => None,
        }
    }
}

/// The `--help` groups, in `--help` order rather than alphabetical (headings in `help.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Group {
    Input,
    Serving,
    SseOutput,
    StreamableOutput,
    /// Who may call the served endpoints.
    Auth,
    Reverse,
    Headers,
    /// The reverse bridges' OAuth client.
    OAuth,
    Runtime,
    Logging,
    /// `--version` and `--help`.
    Exits,
}

impl Group {
    pub(super) const ALL: [Self; 11] = [
        Self::Input,
        Self::Serving,
        Self::SseOutput,
        Self::StreamableOutput,
        Self::Auth,
        Self::Reverse,
        Self::Headers,
        Self::OAuth,
        Self::Runtime,
        Self::Logging,
        Self::Exits,
    ];
}

/// The modes a flag has an effect in (README's "modes" column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Scope {
    /// Only with `--runtimeAdminPort`.
    AdminPort,
    /// Every mode.
    All,
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
    /// Any stdio→network mode, and Streamable HTTP→stdio: the modes with
    /// an upstream whose MCP era matters (a child or the remote server).
    Upstream,
}

/// The one short flag, an alias of `--help`.
pub(super) const SHORT_HELP: &str = "-h";

/// Every flag, in `--help` order.
pub(super) static FLAGS: [&Flag; 74] = [
    &STDIO,
    &SSE,
    &STREAMABLE_HTTP,
    &CONFIG,
    &OUTPUT_TRANSPORT,
    &PORT,
    &HOST,
    &CORS,
    &ALLOWED_HOST,
    &HEALTH_ENDPOINT,
    &METRICS_ENDPOINT,
    &METRICS_PORT,
    &CHILD_PER_SESSION,
    &RESTART,
    &READY_ENDPOINT,
    &DRAIN_TIMEOUT,
    &MAX_BODY_BYTES,
    &MAX_SESSIONS,
    &MAX_BUFFERED_BYTES,
    &MAX_SESSION_BYTES,
    &HEAD_TIMEOUT,
    &BODY_TIMEOUT,
    &UPSTREAM_PROTOCOL,
    &PROBE_TIMEOUT,
    &INPUT_TIMEOUT,
    &ALLOW_TOOL,
    &DENY_TOOL,
    &ALLOW_PROMPT,
    &DENY_PROMPT,
    &ALLOW_RESOURCE,
    &DENY_RESOURCE,
    &KEEP_ALIVE,
    &SSE_PATH,
    &MESSAGE_PATH,
    &BASE_URL,
    &STREAMABLE_HTTP_PATH,
    &STATEFUL,
    &SESSION_TIMEOUT,
    &REPLAY_BUFFER,
    &PROTOCOL_VERSION,
    &INSTANCE_ID,
    &AUTH_TOKEN_FILE,
    &AUTH_ISSUER,
    &AUTH_RESOURCE,
    &AUTH_SCOPES,
    &AUTH_INTROSPECTION_URL,
    &AUTH_INTROSPECTION_CLIENT_FILE,
    &AUTH_ENV,
    &RATE_LIMIT,
    &TRUSTED_PROXY,
    &TLS_CERT,
    &TLS_KEY,
    &TLS_CLIENT_CA,
    &TLS_CLIENT_AUTH,
    &REQUEST_TIMEOUT,
    &HEADER,
    &OAUTH2_BEARER,
    &OAUTH,
    &OAUTH_FLOW,
    &OAUTH_CLIENT_ID,
    &OAUTH_CLIENT_SECRET,
    &OAUTH_CLIENT_SECRET_FILE,
    &OAUTH_ISSUER,
    &OAUTH_CLIENT_METADATA_URL,
    &OAUTH_CALLBACK_PORT,
    &OAUTH_TIMEOUT,
    &RUNTIME_PROMPT,
    &RUNTIME_ADMIN_PORT,
    &RUNTIME_ADMIN_TOKEN,
    &RUNTIME_ALLOW_ENV,
    &LOG_LEVEL,
    &LOG_FORMAT,
    &VERSION,
    &HELP,
];

// Input (exactly one).

pub(super) static STDIO: Flag = Flag {
    name: "stdio",
    value: "CMD",
    kind: Kind::Single,
    default: Absent::Nothing,
    modes: Scope::All,
    group: Group::Input,
    help: "shell command (sh -c) of the child MCP server",
    secret: false,
};

pub(super) static SSE: Flag = Flag {
    name: "sse",
    value: "URL",
    kind: Kind::Single,
    default: Absent::Nothing,
    modes: Scope::All,
    group: Group::Input,
    help: "remote legacy-SSE server (the URL of its GET event stream)",
    secret: false,
};

pub(super) static STREAMABLE_HTTP: Flag = Flag {
    name: "streamableHttp",
    value: "URL",
    kind: Kind::Single,
    default: Absent::Nothing,
    modes: Scope::All,
    group: Group::Input,
    help: "remote Streamable HTTP server (e.g. https://host/mcp)",
    secret: false,
};

pub(super) static CONFIG: Flag = Flag {
    name: "config",
    value: "PATH",
    kind: Kind::Single,
    default: Absent::Nothing,
    modes: Scope::All,
    group: Group::Input,
    help: "many stdio servers from an mcpServers JSON file, each under /NAME/",
    secret: false,
};

pub(super) static OUTPUT_TRANSPORT: Flag = Flag {
    name: "outputTransport",
    value: "T",
    kind: Kind::Single,
    default: Absent::Rule("sse with --stdio, stdio otherwise"),
    modes: Scope::All,
    group: Group::Input,
    help: "stdio, sse, ws or streamableHttp",
    secret: false,
};

// Serving a stdio server.

pub(super) static PORT: Flag = Flag {
    name: "port",
    value: "N",
    kind: Kind::Single,
    default: Absent::Value("8000"),
    modes: Scope::Network,
    group: Group::Serving,
    help: "listen port, 0 for any free port",
    secret: false,
};

pub(super) static HOST: Flag = Flag {
    name: "host",
    value: "ADDR",
    kind: Kind::Single,
    default: Absent::Described {
        value: "127.0.0.1",
        text: "127.0.0.1, or env SUPERGATEWAY_HOST",
    },
    modes: Scope::Network,
    group: Group::Serving,
    help: "bind address, 0.0.0.0 for containers",
    secret: false,
};

pub(super) static CORS: Flag = Flag {
    name: "cors",
    value: "[ORIGIN...]",
    kind: Kind::Cors,
    default: Absent::Off,
    modes: Scope::Network,
    group: Group::Serving,
    help: "allowed origins: none given = any; exact origins or /regex/",
    secret: false,
};

pub(super) static ALLOWED_HOST: Flag = Flag {
    name: "allowedHost",
    value: "NAME",
    kind: Kind::Repeated,
    default: Absent::Nothing,
    modes: Scope::Network,
    group: Group::Serving,
    help: "a further Host/Origin name the loopback check accepts\n(a public name behind a proxy); repeatable",
    secret: false,
};

pub(super) static HEALTH_ENDPOINT: Flag = Flag {
    name: "healthEndpoint",
    value: "PATH",
    kind: Kind::Repeated,
    default: Absent::Nothing,
    modes: Scope::Network,
    group: Group::Serving,
    help: "GET answers 200 \"ok\" while the child runs; repeatable",
    secret: false,
};

pub(super) static METRICS_ENDPOINT: Flag = Flag {
    name: "metricsEndpoint",
    value: "PATH",
    kind: Kind::Single,
    default: Absent::Nothing,
    modes: Scope::Network,
    group: Group::Serving,
    help: "GET answers Prometheus metrics (behind the tokens, if any)",
    secret: false,
};

pub(super) static METRICS_PORT: Flag = Flag {
    name: "metricsPort",
    value: "N",
    kind: Kind::Single,
    default: Absent::Off,
    modes: Scope::Network,
    group: Group::Serving,
    help: "serve --metricsEndpoint on 127.0.0.1:N only (no token)",
    secret: false,
};

pub(super) static CHILD_PER_SESSION: Flag = Flag {
    name: "childPerSession",
    value: "",
    kind: Kind::Switch,
    default: Absent::Off,
    modes: Scope::Network,
    group: Group::Serving,
    help: "one child per connection or request instead of one shared child",
    secret: false,
};

pub(super) static RESTART: Flag = Flag {
    name: "restart",
    value: "POLICY",
    kind: Kind::Single,
    default: Absent::Value("never"),
    modes: Scope::Network,
    group: Group::Serving,
    help: "on-failure, always or never: start the shared child again\n(with backoff) when it exits, instead of exiting with its code",
    secret: false,
};

pub(super) static READY_ENDPOINT: Flag = Flag {
    name: "readyEndpoint",
    value: "PATH",
    kind: Kind::Repeated,
    default: Absent::Nothing,
    modes: Scope::Network,
    group: Group::Serving,
    help: "GET answers 200 \"ready\" while the child serves (503 while it\nrestarts or the gateway drains); repeatable",
    secret: false,
};

pub(super) static DRAIN_TIMEOUT: Flag = Flag {
    name: "drainTimeout",
    value: "MS",
    kind: Kind::Single,
    default: Absent::Value("5000"),
    modes: Scope::Network,
    group: Group::Serving,
    help: "on SIGTERM/SIGINT, how long requests in flight get to finish",
    secret: false,
};

pub(super) static MAX_BODY_BYTES: Flag = Flag {
    name: "maxBodyBytes",
    value: "N",
    kind: Kind::Single,
    default: Absent::Value("4194304"),
    modes: Scope::Network,
    group: Group::Serving,
    help: "request body limit in bytes",
    secret: false,
};

pub(super) static MAX_SESSIONS: Flag = Flag {
    name: "maxSessions",
    value: "N",
    kind: Kind::Single,
    default: Absent::Value("1024"),
    modes: Scope::Network,
    group: Group::Serving,
    help: "concurrent sessions or streams",
    secret: false,
};

pub(super) static MAX_BUFFERED_BYTES: Flag = Flag {
    name: "maxBufferedBytes",
    value: "N",
    kind: Kind::Single,
    default: Absent::Value("67108864"),
    modes: Scope::Network,
    group: Group::Serving,
    help: "bytes held for all clients together (503 beyond)",
    secret: false,
};

pub(super) static MAX_SESSION_BYTES: Flag = Flag {
    name: "maxSessionBytes",
    value: "N",
    kind: Kind::Single,
    default: Absent::Value("8388608"),
    modes: Scope::Network,
    group: Group::Serving,
    help: "bytes held for one client (503 beyond)",
    secret: false,
};

pub(super) static HEAD_TIMEOUT: Flag = Flag {
    name: "headTimeout",
    value: "MS",
    kind: Kind::Single,
    default: Absent::Value("10000"),
    modes: Scope::Network,
    group: Group::Serving,
    help: "deadline for a whole request head",
    secret: false,
};

pub(super) static BODY_TIMEOUT: Flag = Flag {
    name: "bodyTimeout",
    value: "MS",
    kind: Kind::Single,
    default: Absent::Value("60000"),
    modes: Scope::Network,
    group: Group::Serving,
    help: "deadline for a whole request body",
    secret: false,
};

pub(super) static KEEP_ALIVE: Flag = Flag {
    name: "keepAlive",
    value: "MS",
    kind: Kind::Single,
    default: Absent::Value("15000"),
    modes: Scope::Network,
    group: Group::Serving,
    help: "SSE heartbeat and WebSocket ping interval, 0 = off",
    secret: false,
};

// Filtering (issue 17): which tools, prompts and resources clients see.

pub(super) static ALLOW_TOOL: Flag = Flag {
    name: "allowTool",
    value: "GLOB",
    kind: Kind::Repeated,
    default: Absent::Nothing,
    modes: Scope::All,
    group: Group::Serving,
    help: "show and allow only the tools matching GLOB (* ?);\n\
           repeatable",
    secret: false,
};

pub(super) static DENY_TOOL: Flag = Flag {
    name: "denyTool",
    value: "GLOB",
    kind: Kind::Repeated,
    default: Absent::Nothing,
    modes: Scope::All,
    group: Group::Serving,
    help: "hide and refuse the tools matching GLOB; wins\n\
           over --allowTool; repeatable",
    secret: false,
};

pub(super) static ALLOW_PROMPT: Flag = Flag {
    name: "allowPrompt",
    value: "GLOB",
    kind: Kind::Repeated,
    default: Absent::Nothing,
    modes: Scope::All,
    group: Group::Serving,
    help: "--allowTool for prompts",
    secret: false,
};

pub(super) static DENY_PROMPT: Flag = Flag {
    name: "denyPrompt",
    value: "GLOB",
    kind: Kind::Repeated,
    default: Absent::Nothing,
    modes: Scope::All,
    group: Group::Serving,
    help: "--denyTool for prompts",
    secret: false,
};

pub(super) static ALLOW_RESOURCE: Flag = Flag {
    name: "allowResource",
    value: "PREFIX",
    kind: Kind::Repeated,
    default: Absent::Nothing,
    modes: Scope::All,
    group: Group::Serving,
    help: "show and allow only the resources whose URI starts\n\
           with PREFIX; repeatable",
    secret: false,
};

pub(super) static DENY_RESOURCE: Flag = Flag {
    name: "denyResource",
    value: "PREFIX",
    kind: Kind::Repeated,
    default: Absent::Nothing,
    modes: Scope::All,
    group: Group::Serving,
    help: "hide and refuse resources whose URI starts with\n\
           PREFIX; wins over --allowResource; repeatable",
    secret: false,
};

// SSE output.

pub(super) static SSE_PATH: Flag = Flag {
    name: "ssePath",
    value: "PATH",
    kind: Kind::Single,
    default: Absent::Value("/sse"),
    modes: Scope::Sse,
    group: Group::SseOutput,
    help: "path of the SSE event stream",
    secret: false,
};

pub(super) static MESSAGE_PATH: Flag = Flag {
    name: "messagePath",
    value: "PATH",
    kind: Kind::Single,
    default: Absent::Value("/message"),
    modes: Scope::SseOrWs,
    group: Group::SseOutput,
    help: "POST path for SSE, upgrade path for WebSocket",
    secret: false,
};

pub(super) static BASE_URL: Flag = Flag {
    name: "baseUrl",
    value: "URL",
    kind: Kind::Single,
    default: Absent::Described {
        value: "",
        text: "relative",
    },
    modes: Scope::Sse,
    group: Group::SseOutput,
    help: "prefix of the URL the endpoint event advertises",
    secret: false,
};

// Streamable HTTP output.

pub(super) static STREAMABLE_HTTP_PATH: Flag = Flag {
    name: "streamableHttpPath",
    value: "PATH",
    kind: Kind::Single,
    default: Absent::Value("/mcp"),
    modes: Scope::Streamable,
    group: Group::StreamableOutput,
    help: "the MCP endpoint",
    secret: false,
};

pub(super) static STATEFUL: Flag = Flag {
    name: "stateful",
    value: "",
    kind: Kind::Switch,
    default: Absent::Off,
    modes: Scope::Streamable,
    group: Group::StreamableOutput,
    help: "sessions with Mcp-Session-Id, one child each",
    secret: false,
};

pub(super) static SESSION_TIMEOUT: Flag = Flag {
    name: "sessionTimeout",
    value: "MS",
    kind: Kind::Single,
    default: Absent::Value("1800000"),
    modes: Scope::Stateful,
    group: Group::StreamableOutput,
    help: "idle time before a stateful session ends",
    secret: false,
};

pub(super) static REPLAY_BUFFER: Flag = Flag {
    name: "replayBuffer",
    value: "N",
    kind: Kind::Single,
    default: Absent::Value("256"),
    modes: Scope::Stateful,
    group: Group::StreamableOutput,
    help: "events kept per stream for Last-Event-ID, 0 = none",
    secret: false,
};

pub(super) static PROTOCOL_VERSION: Flag = Flag {
    name: "protocolVersion",
    value: "V",
    kind: Kind::Single,
    default: Absent::Value("2024-11-05"),
    modes: Scope::Stateless,
    group: Group::StreamableOutput,
    help: "version used to initialise the child in stateless mode",
    secret: false,
};

pub(super) static INSTANCE_ID: Flag = Flag {
    name: "instanceId",
    value: "ID",
    kind: Kind::Single,
    default: Absent::Nothing,
    modes: Scope::Network,
    group: Group::StreamableOutput,
    help: "ID. starts every session id and requestState this instance\n\
           mints, for a load balancer to route by ([A-Za-z0-9_-]{1,32})",
    secret: false,
};

pub(super) static UPSTREAM_PROTOCOL: Flag = Flag {
    name: "upstreamProtocol",
    value: "ERA",
    kind: Kind::Single,
    default: Absent::Value("auto"),
    modes: Scope::Upstream,
    group: Group::Serving,
    help: "the child's (or --streamableHttp server's) MCP\n\
           era: auto (ask it with server/discover),\n\
           legacy or 2026-07-28",
    secret: false,
};

pub(super) static PROBE_TIMEOUT: Flag = Flag {
    name: "probeTimeout",
    value: "MS",
    kind: Kind::Single,
    default: Absent::Value("10000"),
    modes: Scope::Upstream,
    group: Group::Serving,
    help: "wait for the upstream's server/discover answer",
    secret: false,
};

pub(super) static INPUT_TIMEOUT: Flag = Flag {
    name: "inputTimeout",
    value: "MS",
    kind: Kind::Single,
    default: Absent::Value("300000"),
    modes: Scope::Upstream,
    group: Group::Serving,
    help: "wait for a 2026-07-28 client's retry with input",
    secret: false,
};

// Reverse bridges.

pub(super) static REQUEST_TIMEOUT: Flag = Flag {
    name: "requestTimeout",
    value: "MS",
    kind: Kind::Single,
    default: Absent::Value("60000"),
    modes: Scope::Reverse,
    group: Group::Reverse,
    help: "per-request deadline, 0 = none",
    secret: false,
};

// Authentication of the served endpoints (issue 16).

pub(super) static AUTH_TOKEN_FILE: Flag = Flag {
    name: "authTokenFile",
    value: "PATH",
    kind: Kind::Single,
    default: Absent::Nothing,
    modes: Scope::Network,
    group: Group::Auth,
    help: "bearer tokens the MCP endpoints require, one per line (# comments);\n\
           re-read when it changes",
    secret: false,
};

pub(super) static AUTH_ISSUER: Flag = Flag {
    name: "authIssuer",
    value: "URL",
    kind: Kind::Single,
    default: Absent::Nothing,
    modes: Scope::Network,
    group: Group::Auth,
    help: "OAuth: the authorization server whose JWT access tokens the MCP\n\
           endpoints accept (keys from its metadata's jwks_uri)",
    secret: false,
};

pub(super) static AUTH_RESOURCE: Flag = Flag {
    name: "authResource",
    value: "URL",
    kind: Kind::Single,
    default: Absent::Nothing,
    modes: Scope::Network,
    group: Group::Auth,
    help: "OAuth: this server's canonical URL, the audience tokens must name\n\
           (needed with --authIssuer)",
    secret: false,
};

pub(super) static AUTH_SCOPES: Flag = Flag {
    name: "authScopes",
    value: "A,B",
    kind: Kind::Single,
    default: Absent::Nothing,
    modes: Scope::Network,
    group: Group::Auth,
    help: "OAuth: scopes every token must hold",
    secret: false,
};

pub(super) static AUTH_INTROSPECTION_URL: Flag = Flag {
    name: "authIntrospectionUrl",
    value: "URL",
    kind: Kind::Single,
    default: Absent::Nothing,
    modes: Scope::Network,
    group: Group::Auth,
    help: "OAuth: check every token at this RFC 7662 endpoint instead of as a JWT",
    secret: false,
};

pub(super) static AUTH_INTROSPECTION_CLIENT_FILE: Flag = Flag {
    name: "authIntrospectionClientFile",
    value: "PATH",
    kind: Kind::Single,
    default: Absent::Nothing,
    modes: Scope::Network,
    group: Group::Auth,
    help: "the gateway's credentials for it: one line CLIENT_ID:CLIENT_SECRET\n\
           (# comments), read at start",
    secret: false,
};

pub(super) static AUTH_ENV: Flag = Flag {
    name: "authEnv",
    value: "CLAIM=VAR",
    kind: Kind::Repeated,
    default: Absent::Nothing,
    modes: Scope::Network,
    group: Group::Auth,
    help: "with --childPerSession: the caller's claim (sub, email, ...,\n\
           tls_subject) in its child's environment as VAR; repeatable",
    secret: false,
};

pub(super) static RATE_LIMIT: Flag = Flag {
    name: "rateLimit",
    value: "N/s",
    kind: Kind::Single,
    default: Absent::Off,
    modes: Scope::Network,
    group: Group::Auth,
    help: "requests per second (or N/m per minute) per caller, burst N;\n\
           per client address without authentication (429 beyond)",
    secret: false,
};

pub(super) static TRUSTED_PROXY: Flag = Flag {
    name: "trustedProxy",
    value: "CIDR",
    kind: Kind::Repeated,
    default: Absent::Nothing,
    modes: Scope::Network,
    group: Group::Auth,
    help: "a proxy whose X-Forwarded-For names the client address; repeatable",
    secret: false,
};

pub(super) static TLS_CERT: Flag = Flag {
    name: "tlsCert",
    value: "PATH",
    kind: Kind::Single,
    default: Absent::Nothing,
    modes: Scope::Network,
    group: Group::Auth,
    help: "serve HTTPS (and wss://): PEM certificate chain (with --tlsKey);\n\
           SIGHUP re-reads the TLS files instead of stopping",
    secret: false,
};

pub(super) static TLS_KEY: Flag = Flag {
    name: "tlsKey",
    value: "PATH",
    kind: Kind::Single,
    default: Absent::Nothing,
    modes: Scope::Network,
    group: Group::Auth,
    help: "PEM private key of --tlsCert (PKCS#8, PKCS#1 or SEC1)",
    secret: false,
};

pub(super) static TLS_CLIENT_CA: Flag = Flag {
    name: "tlsClientCa",
    value: "PATH",
    kind: Kind::Single,
    default: Absent::Nothing,
    modes: Scope::Network,
    group: Group::Auth,
    help: "mutual TLS: PEM CA certificates client certificates must chain to",
    secret: false,
};

pub(super) static TLS_CLIENT_AUTH: Flag = Flag {
    name: "tlsClientAuth",
    value: "MODE",
    kind: Kind::Single,
    default: Absent::Value("required"),
    modes: Scope::Network,
    group: Group::Auth,
    help: "with --tlsClientCa: required, or optional (no certificate = anonymous)",
    secret: false,
};

// Headers.

pub(super) static HEADER: Flag = Flag {
    name: "header",
    value: "\"NAME: VALUE\"",
    kind: Kind::Repeated,
    default: Absent::Nothing,
    modes: Scope::All,
    group: Group::Headers,
    help: "outbound request header (reverse bridges) or response header\n\
           (serving a stdio server); repeatable",
    secret: true,
};

pub(super) static OAUTH2_BEARER: Flag = Flag {
    name: "oauth2Bearer",
    value: "TOKEN",
    kind: Kind::Single,
    default: Absent::Nothing,
    modes: Scope::All,
    group: Group::Headers,
    help: "adds the header \"Authorization: Bearer TOKEN\"",
    secret: true,
};

// OAuth client (reverse bridges; design/oauth-client.md "Flags").

pub(super) static OAUTH: Flag = Flag {
    name: "oauth",
    value: "",
    kind: Kind::Switch,
    default: Absent::Off,
    modes: Scope::Reverse,
    group: Group::OAuth,
    help: "use OAuth even when an Authorization header is configured (it is\n\
           then not sent); without it OAuth starts on the first 401",
    secret: false,
};

pub(super) static OAUTH_FLOW: Flag = Flag {
    name: "oauthFlow",
    value: "FLOW",
    kind: Kind::Single,
    default: Absent::Value("authorization_code"),
    modes: Scope::Reverse,
    group: Group::OAuth,
    help: "authorization_code (browser), device or client_credentials",
    secret: false,
};

pub(super) static OAUTH_CLIENT_ID: Flag = Flag {
    name: "oauthClientId",
    value: "ID",
    kind: Kind::Single,
    default: Absent::Nothing,
    modes: Scope::Reverse,
    group: Group::OAuth,
    help: "a pre-registered client id (else registration or a metadata URL)",
    secret: false,
};

pub(super) static OAUTH_CLIENT_SECRET: Flag = Flag {
    name: "oauthClientSecret",
    value: "SECRET",
    kind: Kind::Single,
    default: Absent::Nothing,
    modes: Scope::Reverse,
    group: Group::OAuth,
    help: "its secret (visible in ps: prefer --oauthClientSecretFile)",
    secret: true,
};

pub(super) static OAUTH_CLIENT_SECRET_FILE: Flag = Flag {
    name: "oauthClientSecretFile",
    value: "PATH",
    kind: Kind::Single,
    default: Absent::Nothing,
    modes: Scope::Reverse,
    group: Group::OAuth,
    help: "a file holding its secret, read at start",
    secret: false,
};

pub(super) static OAUTH_ISSUER: Flag = Flag {
    name: "oauthIssuer",
    value: "URL",
    kind: Kind::Single,
    default: Absent::Nothing,
    modes: Scope::Reverse,
    group: Group::OAuth,
    help: "the pre-registered client's authorization server (needed with a secret)",
    secret: false,
};

pub(super) static OAUTH_CLIENT_METADATA_URL: Flag = Flag {
    name: "oauthClientMetadataUrl",
    value: "URL",
    kind: Kind::Single,
    default: Absent::Nothing,
    modes: Scope::Reverse,
    group: Group::OAuth,
    help: "https URL of a client ID metadata document, the client id where\n\
           the authorization server supports them",
    secret: false,
};

pub(super) static OAUTH_CALLBACK_PORT: Flag = Flag {
    name: "oauthCallbackPort",
    value: "PORT",
    kind: Kind::Single,
    default: Absent::Value("0"),
    modes: Scope::Reverse,
    group: Group::OAuth,
    help: "port of the 127.0.0.1 redirect listener, 0 = any free port",
    secret: false,
};

pub(super) static OAUTH_TIMEOUT: Flag = Flag {
    name: "oauthTimeout",
    value: "MS",
    kind: Kind::Single,
    default: Absent::Value("300000"),
    modes: Scope::Reverse,
    group: Group::OAuth,
    help: "time for the browser, device code or another process's lock",
    secret: false,
};

// Runtime args injection.

pub(super) static RUNTIME_PROMPT: Flag = Flag {
    name: "runtimePrompt",
    value: "",
    kind: Kind::Switch,
    default: Absent::Off,
    modes: Scope::All,
    group: Group::Runtime,
    help: "read runtime updates as JSON lines from the terminal",
    secret: false,
};

pub(super) static RUNTIME_ADMIN_PORT: Flag = Flag {
    name: "runtimeAdminPort",
    value: "N",
    kind: Kind::Single,
    default: Absent::Off,
    modes: Scope::All,
    group: Group::Runtime,
    help: "serve the runtime admin API on 127.0.0.1:N",
    secret: false,
};

pub(super) static RUNTIME_ADMIN_TOKEN: Flag = Flag {
    name: "runtimeAdminToken",
    value: "TOKEN",
    kind: Kind::Single,
    default: Absent::Nothing,
    modes: Scope::AdminPort,
    group: Group::Runtime,
    help: "bearer token the admin API requires\n\
           (or env SUPERGATEWAY_ADMIN_TOKEN, kept out of ps)",
    secret: true,
};

pub(super) static RUNTIME_ALLOW_ENV: Flag = Flag {
    name: "runtimeAllowEnv",
    value: "NAMES",
    kind: Kind::Repeated,
    default: Absent::Nothing,
    modes: Scope::All,
    group: Group::Runtime,
    help: "environment names runtime updates may set although\n\
           they can run code (LD_*, PATH, ...); repeatable",
    secret: false,
};

// Logging.

pub(super) static LOG_LEVEL: Flag = Flag {
    name: "logLevel",
    value: "LEVEL",
    kind: Kind::Single,
    default: Absent::Value("info"),
    modes: Scope::All,
    group: Group::Logging,
    help: "debug, info or none; RUST_LOG refines it",
    secret: false,
};

pub(super) static LOG_FORMAT: Flag = Flag {
    name: "logFormat",
    value: "FORMAT",
    kind: Kind::Single,
    default: Absent::Value("text"),
    modes: Scope::All,
    group: Group::Logging,
    help: "text, or json for one JSON object per line",
    secret: false,
};

// Exits.

pub(super) static VERSION: Flag = Flag {
    name: "version",
    value: "",
    kind: Kind::Version,
    default: Absent::Nothing,
    modes: Scope::All,
    group: Group::Exits,
    help: "print the version",
    secret: false,
};

pub(super) static HELP: Flag = Flag {
    name: "help",
    value: "",
    kind: Kind::Help,
    default: Absent::Nothing,
    modes: Scope::All,
    group: Group::Exits,
    help: "print this help",
    secret: false,
};
