//! The `mcpServers` config file: the JSON that Claude Desktop, Cursor and
//! VS Code already use to list stdio MCP servers, plus an optional
//! `"supergateway"` object per server for our own settings.
//!
//! [`parse_mcp_servers`] is pure: the caller reads the file, hands over the
//! bytes and a way to look up environment variables, and gets either every
//! server, validated and expanded, or one [`ConfigError`] naming the JSON
//! path (`mcpServers.files.args[2]`) and a one-line reason.
//!
//! # Shapes accepted at the top level
//!
//! | shape | used by |
//! | --- | --- |
//! | `{"mcpServers": {NAME: SERVER, …}}` | Claude Desktop, Cursor, Cline, Roo, Windsurf, Copilot's `.mcp.json` |
//! | `{"servers": {…}, "inputs": [...]}` | VS Code `.vscode/mcp.json` |
//! | `{"mcp": {"servers": {…}, "inputs": [...]}}` | the `mcp` object of VS Code's `settings.json` (just that object, not the whole settings file) |
//!
//! Exactly one of the three maps; any other top-level key is refused.
//! `inputs` (VS Code's prompt definitions) is accepted and ignored, since
//! every `${input:…}` use is refused (below).
//!
//! # Server keys
//!
//! Used:
//! - `command` (required, non-empty string), `args` (strings), `env`
//!   (string values; names non-empty without `=`), `cwd` (string): with
//!   `${env:NAME}` expansion (see `expand.rs`); no NUL anywhere, since none
//!   can reach `exec`.
//! - `type` / Cline's `transportType`: `"stdio"` or absent. `"http"`,
//!   `"sse"`, `"streamableHttp"`, `"streamable-http"` are remote servers.
//! - `disabled` (Cline, Roo, Cursor): the server is parsed and validated,
//!   and marked [`Server::disabled`].
//! - `supergateway`: our settings, [`Settings`].
//!
//! Accepted and ignored (they steer a client's UI, not the server process):
//! `autoApprove`, `alwaysAllow` (Cline/Roo auto-approval), `timeout`
//! (Cline's request timeout in seconds; the gateway's come from its flags),
//! `description`, `dev` (VS Code's watch-and-debug mode).
//!
//! Refused, each with its own one-line reason:
//! - `url`, `headers`, `oauth` (and a remote `type`): remote servers are not
//!   supported yet; the gateway runs stdio servers.
//! - `envFile` (VS Code, Cursor): reading a second file is I/O and the
//!   dotenv dialect varies between clients; refused now rather than read
//!   differently from the editor. Put the variables in `env`.
//! - `sandboxEnabled`, `sandbox` (VS Code): a confinement promise the
//!   gateway cannot keep; ignoring it would run the server unconfined.
//! - `disabledTools` (Roo): ignoring it would expose tools the user turned
//!   off; `supergateway.tools.deny` says the same thing.
//! - any other key: a typo we would otherwise silently ignore.
//!
//! # Names
//!
//! Server names are `[A-Za-z0-9_-]{1,64}` (they become URL path segments
//! and metric labels), unique: a JSON object with a repeated key is refused
//! wherever it appears, since `serde_json::Value` would keep only the last.
//!
//! # Bounds
//!
//! [`Limits`]: the file, the server count, args and env entries per server,
//! and each string after expansion.

mod expand;
mod json;
mod settings;

use core::fmt;

use self::json::Json;

pub use self::settings::{Filter, OutputTransport, Restart, Settings, UpstreamProtocol};

/// Parses an `mcpServers` config file (see the module doc for the keys).
///
/// `env` looks up a variable for `${env:NAME}`; the driver passes the
/// process environment, tests a table.
///
/// # Examples
///
/// ```
/// use supergateway_proto::config::{parse_mcp_servers, Limits};
///
/// let json = br#"{"mcpServers": {"files": {
///     "command": "npx",
///     "args": ["-y", "@modelcontextprotocol/server-filesystem", "${env:HOME}"]
/// }}}"#;
/// let env = |name: &str| (name == "HOME").then(|| "/home/ada".to_owned());
/// let servers = parse_mcp_servers(json, &env, Limits::DEFAULT).unwrap();
/// assert_eq!(servers.servers[0].name, "files");
/// assert_eq!(servers.servers[0].args[2], "/home/ada");
///
/// let error = parse_mcp_servers(br#"{"mcpServers": {"f": {}}}"#, &env, Limits::DEFAULT)
///     .unwrap_err();
/// assert_eq!(error.to_string(), "mcpServers.f: a server needs a \"command\"");
/// ```
pub fn parse_mcp_servers(
    json: &[u8],
    env: &dyn Fn(&str) -> Option<String>,
    limits: Limits,
) -> Result<Servers, ConfigError> {
    if json.len() > limits.max_file_bytes {
        return Err(ConfigError::new(
            &Path::root(),
            Reason::FileTooLarge(limits.max_file_bytes),
        ));
    }
    // Windows editors may start a UTF-8 file with a byte-order mark, which
    // RFC 8259 §8.1 lets a parser ignore.
    let json = json.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(json);
    let tree = json::parse(json)?;
    let mut path = Path::root();
    let Json::Object(top) = tree else {
        return Err(ConfigError::new(&path, Reason::Type("an object")));
    };
    let (map_name, map) = server_map(&top, &mut path)?;
    path.push_key(map_name);
    let Json::Object(entries) = map else {
        return Err(ConfigError::new(&path, Reason::Type("an object")));
    };
    if entries.len() > limits.max_servers {
        return Err(ConfigError::new(
            &path,
            Reason::TooMany("servers", limits.max_servers),
        ));
    }
    let mut servers = Vec::with_capacity(entries.len());
    for (name, entry) in entries {
        path.push_key(name);
        servers.push(server(name, entry, env, &limits, &mut path)?);
        path.pop();
    }
    Ok(Servers { servers })
}

/// Every server of a config file, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Servers {
    /// The servers, disabled ones included, in the order the file lists
    /// them.
    pub servers: Vec<Server>,
}

/// One stdio server, its strings expanded.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Server {
    /// The key in the server map: `[A-Za-z0-9_-]{1,64}`, unique.
    pub name: String,
    /// The program to run: non-empty, no NUL.
    pub command: String,
    /// Its arguments, no NUL.
    pub args: Vec<String>,
    /// The command and its arguments as the file writes them, before
    /// `${env:…}` expansion: what logs may show (an expanded value is often
    /// a token).
    pub written: Vec<String>,
    /// Variables set for the child on top of the ones it inherits, in file
    /// order. Names are non-empty without `=` or NUL.
    pub env: Vec<(String, String)>,
    /// The child's working directory, when given: non-empty, no NUL.
    pub cwd: Option<String>,
    /// `"disabled": true`: validated like the others, not to be started.
    pub disabled: bool,
    /// The `"supergateway"` object; all defaults when absent.
    pub settings: Settings,
}

/// Bounds on a config file. Each one caps memory a hostile or mistaken file
/// could make the gateway hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Bytes of the whole file. Default 1 MiB.
    pub max_file_bytes: usize,
    /// Servers in the map, disabled ones included. Default 64: each one is
    /// a child process.
    pub max_servers: usize,
    /// Entries of one server's `args`. Default 256.
    pub max_args: usize,
    /// Entries of one server's `env`. Default 256.
    pub max_env: usize,
    /// Entries of one filter list (`supergateway.tools.allow`, …).
    /// Default 1024.
    pub max_filter_entries: usize,
    /// Bytes of one string after `${env:…}` expansion. Default 64 KiB
    /// (Linux caps one `exec` argument at 128 KiB).
    pub max_string_bytes: usize,
}

impl Limits {
    /// The defaults listed on each field.
    pub const DEFAULT: Self = Self {
        max_file_bytes: 1 << 20,
        max_servers: 64,
        max_args: 256,
        max_env: 256,
        max_filter_entries: 1024,
        max_string_bytes: 64 << 10,
    };

    /// Sets [`Limits::max_file_bytes`].
    #[must_use]
    pub const fn max_file_bytes(mut self, bytes: usize) -> Self {
        self.max_file_bytes = bytes;
        self
    }

    /// Sets [`Limits::max_servers`].
    #[must_use]
    pub const fn max_servers(mut self, count: usize) -> Self {
        self.max_servers = count;
        self
    }

    /// Sets [`Limits::max_args`].
    #[must_use]
    pub const fn max_args(mut self, count: usize) -> Self {
        self.max_args = count;
        self
    }

    /// Sets [`Limits::max_env`].
    #[must_use]
    pub const fn max_env(mut self, count: usize) -> Self {
        self.max_env = count;
        self
    }

    /// Sets [`Limits::max_filter_entries`].
    #[must_use]
    pub const fn max_filter_entries(mut self, count: usize) -> Self {
        self.max_filter_entries = count;
        self
    }

    /// Sets [`Limits::max_string_bytes`].
    #[must_use]
    pub const fn max_string_bytes(mut self, bytes: usize) -> Self {
        self.max_string_bytes = bytes;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why a config file was refused, and where. Displays as one line,
/// `PATH: REASON`; never shows a value (env values may be secrets), only
/// key names and variable names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    path: String,
    reason: Reason,
}

impl ConfigError {
    /// The JSON path of the offending value, `mcpServers.files.args[2]`;
    /// `(root)` for the document itself.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong there.
    pub fn reason(&self) -> &Reason {
        &self.reason
    }

    fn new(path: &Path, reason: Reason) -> Self {
        Self {
            path: path.render(),
            reason,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// The reason half of a [`ConfigError`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// Nested deeper than any config needs.
    Depth,
    /// `disabledTools`: use `supergateway.tools.deny`.
    DisabledTools,
    /// An object repeats this key.
    Duplicate,
    /// A VS Code variable only the editor can resolve (`${workspaceFolder}`,
    /// `${config:…}`).
    EditorVariable(&'static str),
    /// An empty string where a value is needed.
    Empty,
    /// An env name with `=` in it.
    EnvName,
    /// `envFile` is not supported.
    EnvFile,
    /// The file is over [`Limits::max_file_bytes`].
    FileTooLarge(usize),
    /// `${input:…}`: a VS Code prompt.
    Input,
    /// "Impossible" state; a bug here, not in the file.
    Internal(&'static str),
    /// Not JSON, at this 1-based line and column.
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// A server without `command`.
    MissingCommand,
    /// None of `mcpServers`, `servers`, `mcp.servers`.
    MissingServers,
    /// A server name outside `[A-Za-z0-9_-]{1,64}`.
    Name,
    /// A string with a NUL byte.
    Nul,
    /// A remote server (`url`, `headers`, `oauth`, or a remote `type`).
    Remote,
    /// `sandbox`/`sandboxEnabled`.
    Sandbox,
    /// More than one of `mcpServers`, `servers`, `mcp`.
    TwoServerMaps,
    /// A string longer than [`Limits::max_string_bytes`] after expansion.
    TooLong(usize),
    /// More entries than the limit allows: what, and the limit.
    TooMany(&'static str, usize),
    /// The file ends in the middle of a value.
    Truncated,
    /// The wrong JSON type; holds what it must be.
    Type(&'static str),
    /// A key no client defines.
    UnknownKey,
    /// A value outside a fixed set; holds the set.
    UnknownValue(&'static str),
    /// `${env:NAME}` names an unset variable.
    Unset(String),
    /// `${env:…}` with a name outside `[A-Za-z_][A-Za-z0-9_]*`.
    VariableName,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Depth => f.write_str("nested too deeply"),
            Self::DisabledTools => {
                f.write_str("\"disabledTools\" is not supported; use supergateway.tools.deny")
            }
            Self::Duplicate => f.write_str("duplicate key"),
            Self::EditorVariable(name) => write!(
                f,
                "${{{name}}} is a VS Code variable only the editor can resolve; use ${{env:NAME}}"
            ),
            Self::Empty => f.write_str("must not be empty"),
            Self::EnvName => f.write_str("an environment variable name must not contain '='"),
            Self::EnvFile => f.write_str(
                "\"envFile\" is not supported; put the variables in \"env\" (with ${env:NAME})",
            ),
            Self::FileTooLarge(max) => write!(f, "the file is larger than {max} bytes"),
            Self::Input => f.write_str(
                "${input:...} prompts need VS Code; use ${env:NAME} and set the variable",
            ),
            Self::Internal(what) => write!(f, "internal error: {what}"),
            Self::Json { line, column } => {
                write!(f, "not valid JSON at line {line} column {column}")
            }
            Self::MissingCommand => f.write_str("a server needs a \"command\""),
            Self::MissingServers => {
                f.write_str("no \"mcpServers\", \"servers\" or \"mcp\": {\"servers\"} object")
            }
            Self::Name => f.write_str("a server name must match [A-Za-z0-9_-]{1,64}"),
            Self::Nul => f.write_str("must not contain a NUL character"),
            Self::Remote => f.write_str(
                "remote servers (url) are not supported yet; only stdio servers with a \"command\"",
            ),
            Self::Sandbox => f.write_str(
                "VS Code's sandbox is not supported; remove it or confine the gateway itself",
            ),
            Self::TwoServerMaps => {
                f.write_str("only one of \"mcpServers\", \"servers\" and \"mcp\" may be given")
            }
            Self::TooLong(max) => write!(f, "longer than {max} bytes"),
            Self::TooMany(what, max) => write!(f, "more than {max} {what}"),
            Self::Truncated => f.write_str("the JSON ends too early"),
            Self::Type(what) => write!(f, "must be {what}"),
            Self::UnknownKey => f.write_str("unknown key"),
            Self::UnknownValue(set) => write!(f, "must be one of {set}"),
            Self::Unset(name) => write!(f, "${{env:{name}}} is not set"),
            Self::VariableName => {
                f.write_str("${env:NAME} needs a name matching [A-Za-z_][A-Za-z0-9_]*")
            }
        }
    }
}

/// Keys of a server object, by what we do with them (module doc).
const IGNORED_KEYS: [&str; 5] = [
    "autoApprove",
    "alwaysAllow",
    "timeout",
    "description",
    "dev",
];

/// The server map: `mcpServers`, `servers` or `mcp.servers`. `path` ends at
/// the root on success.
fn server_map<'a>(
    top: &'a [(String, Json)],
    path: &mut Path,
) -> Result<(&'static str, &'a Json), ConfigError> {
    let mut found: Option<(&'static str, &'a Json)> = None;
    for (key, value) in top {
        path.push_key(key);
        let here = match key.as_str() {
            "mcpServers" => Some(("mcpServers", value)),
            "servers" => Some(("servers", value)),
            "inputs" => {
                inputs(value, path)?;
                None
            }
            "mcp" => Some(("mcp.servers", vscode_settings(value, path)?)),
            _ => return Err(ConfigError::new(path, Reason::UnknownKey)),
        };
        if let Some(here) = here {
            if found.is_some() {
                return Err(ConfigError::new(path, Reason::TwoServerMaps));
            }
            found = Some(here);
        }
        path.pop();
    }
    found.ok_or_else(|| ConfigError::new(path, Reason::MissingServers))
}

/// VS Code's `"mcp": {"servers": …, "inputs": …}`: the servers.
fn vscode_settings<'a>(value: &'a Json, path: &mut Path) -> Result<&'a Json, ConfigError> {
    let Json::Object(members) = value else {
        return Err(ConfigError::new(path, Reason::Type("an object")));
    };
    let mut servers = None;
    for (key, value) in members {
        path.push_key(key);
        match key.as_str() {
            "servers" => servers = Some(value),
            "inputs" => inputs(value, path)?,
            _ => return Err(ConfigError::new(path, Reason::UnknownKey)),
        }
        path.pop();
    }
    servers.ok_or_else(|| ConfigError::new(path, Reason::MissingServers))
}

/// `inputs`: VS Code's prompt definitions, unused (every `${input:…}` is
/// refused) but checked to be the array VS Code defines.
fn inputs(value: &Json, path: &Path) -> Result<(), ConfigError> {
    match value {
        Json::Array(_) => Ok(()),
        _ => Err(ConfigError::new(path, Reason::Type("an array"))),
    }
}

fn server(
    name: &str,
    entry: &Json,
    env: &dyn Fn(&str) -> Option<String>,
    limits: &Limits,
    path: &mut Path,
) -> Result<Server, ConfigError> {
    if !is_server_name(name) {
        return Err(ConfigError::new(path, Reason::Name));
    }
    let Json::Object(members) = entry else {
        return Err(ConfigError::new(path, Reason::Type("an object")));
    };
    // Remote servers first: a `url` entry has no `command`, and "remote
    // servers are not supported" is the useful message for it.
    for (key, value) in members {
        let remote = match key.as_str() {
            "url" | "headers" | "oauth" => true,
            "type" | "transportType" => !matches!(value, Json::String(t) if t == "stdio"),
            _ => false,
        };
        if remote {
            path.push_key(key);
            let reason = match value {
                Json::String(t) if key.starts_with('t') && !is_remote_type(t) => {
                    Reason::UnknownValue("\"stdio\"")
                }
                Json::String(_) => Reason::Remote,
                _ if key.starts_with('t') => Reason::Type("a string"),
                _ => Reason::Remote,
            };
            return Err(ConfigError::new(path, reason));
        }
    }
    let mut server = Server {
        name: name.to_owned(),
        command: String::new(),
        args: Vec::new(),
        written: Vec::new(),
        env: Vec::new(),
        cwd: None,
        disabled: false,
        settings: Settings::default(),
    };
    let mut command = false;
    let mut written_args: Vec<String> = Vec::new();
    for (key, value) in members {
        path.push_key(key);
        match key.as_str() {
            "command" => {
                server.command = expanded(value, env, limits, path)?;
                if server.command.is_empty() {
                    return Err(ConfigError::new(path, Reason::Empty));
                }
                command = true;
            }
            "args" => {
                server.args = args(value, env, limits, path)?;
                if let Json::Array(items) = value {
                    written_args = items
                        .iter()
                        .filter_map(|item| match item {
                            Json::String(text) => Some(text.clone()),
                            _ => None,
                        })
                        .collect();
                }
            }
            "env" => server.env = env_map(value, env, limits, path)?,
            "cwd" => {
                let cwd = expanded(value, env, limits, path)?;
                if cwd.is_empty() {
                    return Err(ConfigError::new(path, Reason::Empty));
                }
                server.cwd = Some(cwd);
            }
            "disabled" => server.disabled = boolean(value, path)?,
            "supergateway" => server.settings = settings::parse(value, limits, path)?,
            // Checked above.
            "type" | "transportType" => {}
            "envFile" => return Err(ConfigError::new(path, Reason::EnvFile)),
            "sandbox" | "sandboxEnabled" => return Err(ConfigError::new(path, Reason::Sandbox)),
            "disabledTools" => return Err(ConfigError::new(path, Reason::DisabledTools)),
            other if IGNORED_KEYS.contains(&other) => {}
            _ => return Err(ConfigError::new(path, Reason::UnknownKey)),
        }
        path.pop();
    }
    if !command {
        return Err(ConfigError::new(path, Reason::MissingCommand));
    }
    let written_command = members
        .iter()
        .find_map(|(key, value)| match (key.as_str(), value) {
            ("command", Json::String(text)) => Some(text.clone()),
            _ => None,
        })
        .unwrap_or_default();
    server.written = std::iter::once(written_command)
        .chain(written_args)
        .collect();
    Ok(server)
}

fn is_remote_type(kind: &str) -> bool {
    matches!(kind, "http" | "sse" | "streamableHttp" | "streamable-http")
}

/// `[A-Za-z0-9_-]{1,64}`.
fn is_server_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn args(
    value: &Json,
    env: &dyn Fn(&str) -> Option<String>,
    limits: &Limits,
    path: &mut Path,
) -> Result<Vec<String>, ConfigError> {
    let Json::Array(items) = value else {
        return Err(ConfigError::new(path, Reason::Type("an array of strings")));
    };
    if items.len() > limits.max_args {
        return Err(ConfigError::new(
            path,
            Reason::TooMany("arguments", limits.max_args),
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        path.push_index(index);
        out.push(expanded(item, env, limits, path)?);
        path.pop();
    }
    Ok(out)
}

fn env_map(
    value: &Json,
    env: &dyn Fn(&str) -> Option<String>,
    limits: &Limits,
    path: &mut Path,
) -> Result<Vec<(String, String)>, ConfigError> {
    let Json::Object(members) = value else {
        return Err(ConfigError::new(path, Reason::Type("an object of strings")));
    };
    if members.len() > limits.max_env {
        return Err(ConfigError::new(
            path,
            Reason::TooMany("variables", limits.max_env),
        ));
    }
    let mut out = Vec::with_capacity(members.len());
    for (name, item) in members {
        path.push_key(name);
        if name.is_empty() {
            return Err(ConfigError::new(path, Reason::Empty));
        }
        if name.contains('=') {
            return Err(ConfigError::new(path, Reason::EnvName));
        }
        if name.contains('\0') {
            return Err(ConfigError::new(path, Reason::Nul));
        }
        if name.len() > limits.max_string_bytes {
            return Err(ConfigError::new(
                path,
                Reason::TooLong(limits.max_string_bytes),
            ));
        }
        out.push((name.clone(), expanded(item, env, limits, path)?));
        path.pop();
    }
    Ok(out)
}

/// A string value, `${env:…}` expanded, without NUL.
fn expanded(
    value: &Json,
    env: &dyn Fn(&str) -> Option<String>,
    limits: &Limits,
    path: &Path,
) -> Result<String, ConfigError> {
    let Json::String(text) = value else {
        return Err(ConfigError::new(path, Reason::Type("a string")));
    };
    let out = expand::expand(text, env, path, limits.max_string_bytes)?;
    if out.contains('\0') {
        return Err(ConfigError::new(path, Reason::Nul));
    }
    Ok(out)
}

fn boolean(value: &Json, path: &Path) -> Result<bool, ConfigError> {
    match value {
        Json::Bool(flag) => Ok(*flag),
        _ => Err(ConfigError::new(path, Reason::Type("true or false"))),
    }
}

/// A JSON path under construction: `mcpServers.files.args[2]`.
#[derive(Debug)]
struct Path {
    segments: Vec<Segment>,
}

#[derive(Debug)]
enum Segment {
    Key(String),
    Index(usize),
}

/// Longest key shown in a path; longer ones are cut (a path is one line
/// of an error, not a dump of the file).
const MAX_SHOWN_KEY: usize = 64;

impl Path {
    fn root() -> Self {
        Self {
            segments: Vec::new(),
        }
    }

    fn push_key(&mut self, key: &str) {
        self.segments.push(Segment::Key(key.to_owned()));
    }

    fn push_index(&mut self, index: usize) {
        self.segments.push(Segment::Index(index));
    }

    fn pop(&mut self) {
        self.segments.pop();
    }

    /// Plain keys as `.key`, others JSON-quoted in brackets (`["a b"]`), so
    /// a key with a newline or a quote stays on one line.
    fn render(&self) -> String {
        let mut out = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Key(key) if is_plain_key(key) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(key);
                }
                Segment::Key(key) => {
                    let mut end = key.len().min(MAX_SHOWN_KEY);
                    while !key.is_char_boundary(end) {
                        end = end.saturating_sub(1);
                    }
                    let shown = key.get(..end).unwrap_or_default();
                    let quoted =
                        serde_json::to_string(shown).unwrap_or_else(|_| String::from("\"?\""));
                    out.push('[');
                    out.push_str(&quoted);
                    if end < key.len() {
                        out.push_str("...");
                    }
                    out.push(']');
                }
                Segment::Index(index) => {
                    out.push('[');
                    out.push_str(&index.to_string());
                    out.push(']');
                }
            }
        }
        if out.is_empty() {
            out.push_str("(root)");
        }
        out
    }
}

/// A key shown bare in a path: a non-empty run of `[A-Za-z0-9_-]`, at most
/// [`MAX_SHOWN_KEY`] bytes.
fn is_plain_key(key: &str) -> bool {
    (1..=MAX_SHOWN_KEY).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests;
