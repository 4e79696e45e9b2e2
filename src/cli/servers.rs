//! `--config PATH`: many stdio servers from one `mcpServers` file.
//!
//! The file is read and parsed (`proto::config`, which names the JSON path
//! of any mistake) while the command line is validated; [`derive`] then
//! turns each server into the single-server [`Config`] it would have had on
//! its own command line: the gateway-wide flags, with the server's command,
//! environment, working directory and `"supergateway"` settings over them,
//! and its routes under `/NAME`. The modes serve each one as they serve a
//! single server; `gateway::servers` routes requests to them by name.

use std::path::{Path, PathBuf};

use supergateway_proto::config::{
    self as file, parse_mcp_servers, Limits, OutputTransport, Restart, Server,
};
use supergateway_proto::mcp::filter::{Filter, Rules, MAX_PATTERNS, MAX_PATTERN_BYTES};
use supergateway_proto::relay::UpstreamMode;

use super::{Config, Input, Output};

use crate::child::RestartPolicy;

/// A `--config` file: its path (for messages) and its servers, disabled
/// ones included.
#[derive(Clone)]
pub(crate) struct ServersFile {
    pub(crate) path: String,
    pub(crate) servers: Vec<Server>,
}

/// Reads and parses the file; the one-line error names the file and the
/// JSON path.
pub(super) fn read(path: &str) -> Result<ServersFile, String> {
    let limits = Limits::DEFAULT;
    let bytes = read_bounded(Path::new(path), limits.max_file_bytes)
        .map_err(|why| format!("--config {path}: {why}"))?;
    let env = |name: &str| std::env::var(name).ok();
    let servers = parse_mcp_servers(&bytes, &env, limits)
        .map_err(|error| format!("--config {path}: {error}"))?;
    if servers.servers.iter().all(|server| server.disabled) {
        return Err(format!(
            "--config {path}: no server to serve (every one is disabled, or there are none)"
        ));
    }
    Ok(ServersFile {
        path: path.to_owned(),
        servers: servers.servers,
    })
}

/// The file, refused past `max` bytes without reading more than one byte
/// beyond them.
fn read_bounded(path: &Path, max: usize) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|err| err.to_string())?;
    let mut bytes = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    file.take(limit)
        .read_to_end(&mut bytes)
        .map_err(|err| err.to_string())?;
    if bytes.len() > max {
        return Err(format!("larger than {max} bytes"));
    }
    Ok(bytes)
}

/// One server of the file, ready to serve.
#[derive(Clone, Debug)]
pub(crate) struct Served {
    /// Its name: `[A-Za-z0-9_-]{1,64}`, the first path segment of its routes.
    pub(crate) name: String,
    /// The transports it is served over: `[Sse]`, `[Ws]`, `[Sse, Ws]` (one
    /// child for both) or `[StreamableHttp]`.
    pub(crate) outputs: Vec<Output>,
    /// Its single-server configuration: `Input::Stdio` with its command,
    /// routes under `/NAME` (`/NAME/sse`, `/NAME/message`, `/NAME/mcp`;
    /// WebSocket at [`Served::ws_path`]).
    pub(crate) config: Config,
}

impl Served {
    /// `/NAME/ws`: a server's WebSocket endpoint (the single-server mode
    /// puts it at `--messagePath`, which SSE uses here).
    pub(crate) fn ws_path(&self) -> String {
        format!("/{}/ws", self.name)
    }

    /// Each transport it is served over and the paths that transport
    /// answers.
    pub(crate) fn routes(&self) -> Vec<(Output, Vec<String>)> {
        let config = &self.config;
        self.outputs
            .iter()
            .map(|output| {
                let paths = match output {
                    Output::Sse => vec![config.sse_path.clone(), config.message_path.clone()],
                    Output::Ws => vec![self.ws_path()],
                    Output::StreamableHttp => vec![config.streamable_http_path.clone()],
                    Output::Stdio => Vec::new(),
                };
                (*output, paths)
            })
            .collect()
    }
}

/// The transports a server is served over: its `outputTransport`, else
/// `default` (the command line's).
pub(super) fn outputs_of(settings: &file::Settings, default: Output) -> Vec<Output> {
    if settings.output_transports.is_empty() {
        return vec![default];
    }
    settings
        .output_transports
        .iter()
        .map(|transport| match transport {
            OutputTransport::Sse => Output::Sse,
            OutputTransport::Ws => Output::Ws,
            // `OutputTransport` is non-exhaustive; a transport added to the
            // parser is a streamable one until taught otherwise here.
            OutputTransport::StreamableHttp | _ => Output::StreamableHttp,
        })
        .collect()
}

/// Each enabled server of `Input::Servers` as its own [`Config`] (see the
/// module doc); empty for the other inputs. One-line errors name the
/// server's JSON path.
pub(super) fn derive(base: &Config) -> Result<Vec<Served>, String> {
    let Input::Servers(file) = &base.input else {
        return Ok(Vec::new());
    };
    file.servers
        .iter()
        .filter(|server| !server.disabled)
        .map(|server| served(base, server).map_err(|why| format!("--config {}: {why}", file.path)))
        .collect()
}

fn served(base: &Config, server: &Server) -> Result<Served, String> {
    let name = &server.name;
    let at = |key: &str| format!("mcpServers.{name}.supergateway.{key}");
    let settings = &server.settings;
    // The gateway-wide endpoints are answered before a server is chosen by
    // its name: a server may not take their first path segment.
    let gateway_wide = base
        .health_endpoints
        .iter()
        .chain(&base.ready_endpoints)
        .chain(&base.metrics_endpoint);
    for endpoint in gateway_wide {
        let first = endpoint.trim_start_matches('/').split('/').next();
        if first == Some(name.as_str()) {
            return Err(format!(
                "mcpServers.{name}: the name is taken by the gateway-wide endpoint {endpoint}; \
                 rename the server or the endpoint"
            ));
        }
    }
    let outputs = outputs_of(settings, base.output);
    if outputs.contains(&Output::StreamableHttp) && outputs.len() > 1 {
        // One child serves one kind of client: SSE and WebSocket clients
        // each get every notification, Streamable HTTP ones only their
        // answers; a relay does one or the other.
        return Err(format!(
            "{}: streamableHttp cannot be combined with sse or ws in one server (their \
             clients are routed differently); list the server twice under two names",
            at("outputTransport")
        ));
    }
    let mut config = base.clone();
    config.input = Input::Stdio(shell_command(&server.command, &server.args));
    config.child_env.clone_from(&server.env);
    config.child_shown = server
        .written
        .split_first()
        .map(|(command, args)| shell_command(command, args));
    config.child_cwd = match &server.cwd {
        Some(cwd) => {
            let path = PathBuf::from(cwd);
            if !path.is_dir() {
                return Err(format!("mcpServers.{name}.cwd: {cwd:?} is not a directory"));
            }
            Some(path)
        }
        None => None,
    };
    config.server_name = Some(name.clone());
    config.output = outputs.first().copied().unwrap_or(base.output);
    let prefix = format!("/{name}");
    config.sse_path = format!("{prefix}{}", base.sse_path);
    config.message_path = format!("{prefix}{}", base.message_path);
    config.streamable_http_path = format!("{prefix}{}", base.streamable_http_path);
    // Each server answers its own health and readiness under its prefix;
    // the gateway-wide paths answer for the whole process.
    config.health_endpoints = prefixed(&prefix, &base.health_endpoints);
    config.ready_endpoints = prefixed(&prefix, &base.ready_endpoints);
    config.metrics_endpoint = None;
    if let Some(value) = settings.child_per_session {
        config.child_per_session = value;
    }
    if let Some(value) = settings.stateful {
        config.stateful = value;
    }
    if let Some(value) = settings.upstream_protocol {
        config.upstream_protocol = match value {
            file::UpstreamProtocol::Legacy => UpstreamMode::Legacy,
            file::UpstreamProtocol::V2026_07_28 => UpstreamMode::Modern,
            _ => UpstreamMode::Auto,
        };
    }
    if let Some(value) = settings.restart {
        config.restart = match value {
            Restart::Always => RestartPolicy::Always,
            Restart::OnFailure => RestartPolicy::OnFailure,
            _ => RestartPolicy::Never,
        };
    }
    if let Some(bytes) = settings.max_body_bytes {
        config.max_body_bytes = bytes;
    }
    if let Some(count) = settings.max_sessions {
        config.max_sessions = usize::try_from(count).unwrap_or(usize::MAX);
    }
    if let Some(bytes) = settings.max_session_bytes {
        config.max_session_buffered_bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
    }
    if let Some(bytes) = settings.max_buffered_bytes {
        config.max_buffered_bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
        config.own_budget = true;
    }
    if config.max_session_buffered_bytes > config.max_buffered_bytes {
        return Err(if settings.max_buffered_bytes.is_some() {
            format!(
                "{}: must be at least maxSessionBytes ({})",
                at("maxBufferedBytes"),
                config.max_session_buffered_bytes
            )
        } else {
            format!(
                "{}: must be at most --maxBufferedBytes ({})",
                at("maxSessionBytes"),
                config.max_buffered_bytes
            )
        });
    }
    let served = Served {
        name: name.clone(),
        outputs,
        config,
    };
    // SSE's paths end in what the flags say; WebSocket's is `/NAME/ws`.
    let routes = served.routes();
    let mut seen: Vec<&String> = Vec::new();
    for path in routes.iter().flat_map(|(_, paths)| paths) {
        if seen.contains(&path) {
            return Err(format!(
                "mcpServers.{name}: two of its transports would answer {path} (--ssePath, \
                 --messagePath and /ws must differ)"
            ));
        }
        seen.push(path);
    }
    let Served {
        outputs,
        mut config,
        ..
    } = served;
    config.filter = filter(base, server)?;
    if let Some(path) = &settings.auth_token_file {
        let path = PathBuf::from(path);
        let loaded =
            crate::auth::load(&path).map_err(|why| format!("{} {why}", at("authTokenFile")))?;
        let env = base.auth_tokens.as_ref().and_then(|source| source.env);
        config.auth_tokens = Some(crate::auth::Source {
            env,
            file: Some((path, loaded)),
        });
    }
    if !settings.auth_scopes.is_empty() {
        let Some(oauth) = &mut config.auth_oauth else {
            return Err(format!("{}: needs --authIssuer", at("authScopes")));
        };
        oauth.scopes.clone_from(&settings.auth_scopes);
    }
    if !config.auth_env.is_empty() && !config.child_per_session {
        return Err(format!(
            "{}: --authEnv needs a child per session",
            at("childPerSession")
        ));
    }
    Ok(Served {
        name: name.clone(),
        outputs,
        config,
    })
}

fn prefixed(prefix: &str, paths: &[String]) -> Vec<String> {
    paths.iter().map(|path| format!("{prefix}{path}")).collect()
}

/// The server's filter lists where it gives them, the gateway-wide flags'
/// where it does not (tools, prompts and resources each on their own).
fn filter(base: &Config, server: &Server) -> Result<Filter, String> {
    let settings = &server.settings;
    let name = &server.name;
    let refused = |key: &str, why| {
        format!(
            "mcpServers.{name}.supergateway.{key}: {why} (at most {MAX_PATTERNS} patterns of \
             {MAX_PATTERN_BYTES} bytes, no control characters)"
        )
    };
    let given = |list: &file::Filter| list.allow.is_some() || !list.deny.is_empty();
    // `"allow": []` lets nothing through; the rules' empty allow list
    // means "all", so it becomes a deny of everything.
    let globs = |list: &file::Filter| {
        let mut deny = list.deny.clone();
        if list.allow.as_ref().is_some_and(Vec::is_empty) {
            deny.push("*".to_owned());
        }
        Rules::globs(list.allow.as_deref().unwrap_or_default(), &deny)
    };
    let mut filter = base.filter.clone();
    if given(&settings.tools) {
        filter.tools = globs(&settings.tools).map_err(|why| refused("tools", why))?;
    }
    if given(&settings.prompts) {
        filter.prompts = globs(&settings.prompts).map_err(|why| refused("prompts", why))?;
    }
    if given(&settings.resources) {
        let list = &settings.resources;
        if list.allow.as_ref().is_some_and(Vec::is_empty) {
            return Err(format!(
                "mcpServers.{name}.supergateway.resources.allow: an empty list would hide every \
                 resource; list the URI prefixes to show, or deny them"
            ));
        }
        filter.resources = Rules::prefixes(list.allow.as_deref().unwrap_or_default(), &list.deny)
            .map_err(|why| refused("resources", why))?;
    }
    Ok(filter)
}

/// `command` and `args` as one `sh -c` command line: each word in single
/// quotes (a `'` inside becomes `'\''`), so nothing in them is expanded
/// by the shell: the file's `${env:…}` expansion is the only one.
pub(crate) fn shell_command(command: &str, args: &[String]) -> String {
    let mut line = String::with_capacity(
        command
            .len()
            .saturating_add(args.iter().map(|arg| arg.len().saturating_add(3)).sum())
            .saturating_add(2),
    );
    for (index, word) in std::iter::once(command)
        .chain(args.iter().map(String::as_str))
        .enumerate()
    {
        if index > 0 {
            line.push(' ');
        }
        line.push('\'');
        line.push_str(&word.replace('\'', r"'\''"));
        line.push('\'');
    }
    line
}

#[cfg(test)]
mod tests {
    use super::shell_command;
    use crate::child::RestartPolicy;
    use crate::cli::{parse, Config, Input, Output};

    /// A config file in a fresh temporary directory, removed on drop.
    struct File {
        dir: std::path::PathBuf,
        path: String,
    }

    impl Drop for File {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn file(json: &str) -> File {
        let dir = std::env::temp_dir().join(format!(
            "sg-config-{}-{}",
            std::process::id(),
            crate::rt::random_bytes()[0..6]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("mcp.json");
        std::fs::write(&path, json).unwrap();
        let path = path.to_str().unwrap().to_owned();
        File { dir, path }
    }

    fn run(json: &str, extra: &[&str]) -> Result<Config, String> {
        let file = file(json);
        let mut args = vec!["--config".to_owned(), file.path.clone()];
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        parse(&args).map_err(|exit| {
            assert_eq!(exit.code, 2, "{}", exit.message);
            exit.message
        })
    }

    #[test]
    fn each_server_gets_its_own_configuration_under_its_name() {
        let json = r#"{"mcpServers": {
            "files": {"command": "npx", "args": ["-y", "server files"], "env": {"A": "1"},
                      "cwd": "/"},
            "mail": {"command": "mail-mcp", "supergateway": {
                "outputTransport": ["sse", "ws"], "restart": "on-failure",
                "maxBodyBytes": 1000, "maxBufferedBytes": 2000000, "maxSessionBytes": 1024,
                "tools": {"allow": ["read_*"], "deny": ["read_secret"]}}},
            "web": {"command": "web", "supergateway": {"outputTransport": "streamableHttp",
                "stateful": true}},
            "old": {"command": "old", "disabled": true}
        }}"#;
        let config = run(
            json,
            &["--healthEndpoint", "/healthz", "--readyEndpoint", "/ready"],
        )
        .unwrap();
        assert!(matches!(&config.input, Input::Servers(file) if file.servers.len() == 4));
        let names: Vec<&str> = config.servers.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["files", "mail", "web"]);
        let [files, mail, web] = &config.servers[..] else {
            panic!("three servers")
        };
        assert!(
            matches!(&files.config.input, Input::Stdio(cmd) if cmd == "'npx' '-y' 'server files'")
        );
        assert_eq!(files.outputs, [Output::Sse]);
        assert_eq!(files.config.sse_path, "/files/sse");
        assert_eq!(files.config.message_path, "/files/message");
        assert_eq!(files.config.health_endpoints, ["/files/healthz"]);
        assert_eq!(files.config.ready_endpoints, ["/files/ready"]);
        assert_eq!(files.config.child_env, [("A".to_owned(), "1".to_owned())]);
        assert_eq!(
            files.config.child_cwd.as_deref(),
            Some(std::path::Path::new("/"))
        );
        assert_eq!(files.config.restart, RestartPolicy::Never);
        assert!(!files.config.own_budget);
        assert_eq!(files.config.server_name.as_deref(), Some("files"));

        assert_eq!(mail.outputs, [Output::Sse, Output::Ws]);
        assert_eq!(mail.ws_path(), "/mail/ws");
        assert_eq!(mail.config.restart, RestartPolicy::OnFailure);
        assert_eq!(mail.config.max_body_bytes, 1000);
        assert_eq!(mail.config.max_buffered_bytes, 2_000_000);
        assert_eq!(mail.config.max_session_buffered_bytes, 1024);
        assert!(mail.config.own_budget);
        assert!(mail.config.filter.tools.allows("read_mail"));
        assert!(!mail.config.filter.tools.allows("read_secret"));
        assert!(!mail.config.filter.tools.allows("send_mail"));

        assert_eq!(web.outputs, [Output::StreamableHttp]);
        assert!(web.config.stateful);
        assert_eq!(web.config.streamable_http_path, "/web/mcp");
        // The gateway-wide flags stay the top level's.
        assert_eq!(config.health_endpoints, ["/healthz"]);
    }

    #[test]
    fn the_command_line_output_transport_is_the_default_and_flags_filters_apply() {
        let json = r#"{"mcpServers": {"a": {"command": "a"},
            "b": {"command": "b", "supergateway": {"tools": {"allow": []}}}}}"#;
        let config = run(
            json,
            &[
                "--outputTransport",
                "ws",
                "--denyTool",
                "rm",
                "--restart",
                "always",
            ],
        )
        .unwrap();
        let [a, b] = &config.servers[..] else {
            panic!("two servers")
        };
        assert_eq!(a.outputs, [Output::Ws]);
        assert_eq!(a.config.restart, RestartPolicy::Always);
        assert!(!a.config.filter.tools.allows("rm"));
        assert!(a.config.filter.tools.allows("ls"));
        // Its own list replaces the flags' (and an empty allow shows none).
        assert!(!b.config.filter.tools.allows("ls"));
    }

    #[test]
    fn a_flag_warns_only_when_no_server_is_served_in_a_mode_it_applies_to() {
        let mixed = r#"{"mcpServers": {"a": {"command": "a"},
            "b": {"command": "b", "supergateway": {"outputTransport": "streamableHttp"}}}}"#;
        let config = run(mixed, &["--stateful", "--ssePath", "/events"]).unwrap();
        assert_eq!(config.warnings, Vec::<String>::new());
        let sse_only = r#"{"mcpServers": {"a": {"command": "a"}}}"#;
        let config = run(sse_only, &["--stateful"]).unwrap();
        assert_eq!(
            config.warnings,
            [
                "--stateful has no effect with --config and --outputTransport sse (it applies to \
              --outputTransport streamableHttp)"
            ]
        );
    }

    #[test]
    fn mistakes_are_one_line_errors_naming_the_json_path() {
        let cases: &[(&str, &[&str], &str)] = &[
            (
                r#"{"mcpServers": {"f": {}}}"#,
                &[],
                "mcpServers.f: a server needs a \"command\"",
            ),
            (
                r#"{"mcpServers": {"f": {"url": "https://x"}}}"#,
                &[],
                "mcpServers.f.url",
            ),
            (
                r#"{"mcpServers": {"f": {"command": "x", "supergateway": {"outputTransport": ["sse", "streamableHttp"]}}}}"#,
                &[],
                "mcpServers.f.supergateway.outputTransport: streamableHttp cannot be combined",
            ),
            (
                r#"{"mcpServers": {"f": {"command": "x", "cwd": "/no/such/dir"}}}"#,
                &[],
                "mcpServers.f.cwd: \"/no/such/dir\" is not a directory",
            ),
            (
                r#"{"mcpServers": {"f": {"command": "x", "supergateway": {"authScopes": ["a"]}}}}"#,
                &[],
                "mcpServers.f.supergateway.authScopes: needs --authIssuer",
            ),
            (
                r#"{"mcpServers": {"f": {"command": "x", "disabled": true}}}"#,
                &[],
                "no server to serve",
            ),
            (
                r#"{"mcpServers": {"f": {"command": "x"}}}"#,
                &["--runtimePrompt"],
                "--runtimePrompt cannot be used with --config",
            ),
            (
                r#"{"mcpServers": {"metrics": {"command": "x"}}}"#,
                &["--metricsEndpoint", "/metrics/prom"],
                "mcpServers.metrics: the name is taken by the gateway-wide endpoint /metrics/prom",
            ),
            (
                r#"{"mcpServers": {"ready": {"command": "x"}}}"#,
                &["--readyEndpoint", "/ready"],
                "mcpServers.ready: the name is taken",
            ),
            (
                r#"{"mcpServers": {"m": {"command": "x", "supergateway": {"outputTransport": ["sse", "ws"]}}}}"#,
                &["--messagePath", "/ws"],
                "mcpServers.m: two of its transports would answer /m/ws",
            ),
            (
                r#"{"mcpServers": {"m": {"command": "x", "supergateway": {"maxSessionBytes": 99999999999}}}}"#,
                &[],
                "mcpServers.m.supergateway.maxSessionBytes: must be at most --maxBufferedBytes",
            ),
            (
                r#"{"mcpServers": {"f": {"command": "x"}}}"#,
                &["--stdio", "x"],
                "cannot be combined",
            ),
            (
                r#"{"mcpServers": {"f": {"command": "x"}}}"#,
                &["--outputTransport", "stdio"],
                "is not supported",
            ),
        ];
        for (json, extra, wanted) in cases {
            let message = run(json, extra).map(|_| ()).unwrap_err();
            assert!(message.contains(wanted), "{json} {extra:?}: {message}");
            assert!(message.starts_with("supergateway: "), "{message}");
            assert!(!message.contains('\n'), "{message}");
        }
        let missing = parse(&["--config".to_owned(), "/no/such/file.json".to_owned()]).unwrap_err();
        assert_eq!(missing.code, 2);
        assert!(
            missing
                .message
                .starts_with("supergateway: --config /no/such/file.json: "),
            "{}",
            missing.message
        );
    }

    #[test]
    fn words_are_quoted_so_the_shell_expands_nothing() {
        assert_eq!(shell_command("npx", &[]), "'npx'");
        assert_eq!(
            shell_command("node", &["a b".into(), "$HOME".into(), "it's".into()]),
            r"'node' 'a b' '$HOME' 'it'\''s'"
        );
    }
}
