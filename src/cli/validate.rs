//! From the scanned strings to a [`Config`]: each value checked, defaults from the flag
//! table, one-line errors (without the program prefix), and a warning for each flag given
//! that the selected mode ignores.

use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use supergateway_proto::http::{parse_header_line, Cidr, HeaderName, HeaderValue};
use supergateway_proto::mcp::filter::{
    Filter, PatternError, Rules, MAX_PATTERNS, MAX_PATTERN_BYTES,
};
use supergateway_proto::rate_limit::Rate;
use supergateway_proto::relay::UpstreamMode;

use super::flags::{self, Flag, Scope};
use super::parse::{Raw, ANY_ORIGIN};
use super::{Config, Cors, CorsOrigin, Input, Output};
use crate::auth_env;
use crate::env_policy;
use crate::telemetry::{LogFormat, LogLevel};

/// Turns the scanned strings into a [`Config`], or a one-line error (without the program
/// prefix). `host_default` is the bind address when `--host` is not given.
pub(super) fn validate(raw: &Raw, host_default: Option<String>) -> Result<Config, String> {
    let mut inputs: Vec<(&'static Flag, Input)> = Vec::new();
    if let Some(command) = raw.value(&flags::STDIO) {
        if command.trim().is_empty() || command.contains('\0') {
            return Err("--stdio needs a shell command (non-empty, without NUL)".to_owned());
        }
        inputs.push((&flags::STDIO, Input::Stdio(command.to_owned())));
    }
    if let Some(url) = raw.value(&flags::SSE) {
        inputs.push((&flags::SSE, Input::Sse(remote_url(&flags::SSE, url)?)));
    }
    if let Some(url) = raw.value(&flags::STREAMABLE_HTTP) {
        let url = remote_url(&flags::STREAMABLE_HTTP, url)?;
        inputs.push((&flags::STREAMABLE_HTTP, Input::StreamableHttp(url)));
    }
    if let Some(path) = raw.value(&flags::CONFIG) {
        inputs.push((&flags::CONFIG, Input::Servers(super::servers::read(path)?)));
    }
    let (input_flag, input) = match inputs.len() {
        0 => {
            return Err(
                "one of --stdio, --sse, --streamableHttp or --config is required".to_owned(),
            )
        }
        1 => inputs
            .pop()
            .ok_or("one of --stdio, --sse, --streamableHttp or --config is required")?,
        _ => {
            let names: Vec<String> = inputs.iter().map(|(flag, _)| flag.to_string()).collect();
            return Err(format!(
                "{} cannot be combined: give exactly one of --stdio, --sse, --streamableHttp or \
                 --config",
                names.join(" and ")
            ));
        }
    };

    if matches!(input, Input::Servers(_)) && raw.switch(&flags::RUNTIME_PROMPT) {
        return Err(
            "--runtimePrompt cannot be used with --config (it changes one server); \
                    use --runtimeAdminPort and /runtime/server/NAME/..."
                .to_owned(),
        );
    }
    let output = match raw.value(&flags::OUTPUT_TRANSPORT) {
        None if serves(&input) => Output::Sse,
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
        Input::Stdio(_) | Input::Servers(_) => output != Output::Stdio,
        Input::Sse(_) | Input::StreamableHttp(_) => output == Output::Stdio,
    };
    if !supported {
        return Err(format!(
            "{input_flag} with --outputTransport {} is not supported; the supported pairs are \
             --stdio or --config → sse|ws|streamableHttp, --sse → stdio and --streamableHttp → \
             stdio",
            output_name(output)
        ));
    }

    let (headers, replaced) = headers(raw)?;

    let log_level = match raw.value_or_default(&flags::LOG_LEVEL) {
        "info" => LogLevel::Info,
        "debug" => LogLevel::Debug,
        "none" => LogLevel::None,
        other => {
            return Err(format!(
                "--logLevel must be one of debug, info, none (got {other:?})"
            ))
        }
    };
    let log_format = match raw.value_or_default(&flags::LOG_FORMAT) {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        other => {
            return Err(format!(
                "--logFormat must be one of text, json (got {other:?})"
            ))
        }
    };

    let cors = cors(raw)?;
    let allowed_hosts = raw
        .values(&flags::ALLOWED_HOST)
        .map(allowed_host)
        .collect::<Result<Vec<_>, _>>()?;
    let mut ready_endpoints = Vec::new();
    for endpoint in raw.values(&flags::READY_ENDPOINT) {
        ready_endpoints.push(path(&flags::READY_ENDPOINT, endpoint)?);
    }
    let mut health_endpoints = Vec::new();
    for endpoint in raw.values(&flags::HEALTH_ENDPOINT) {
        health_endpoints.push(path(&flags::HEALTH_ENDPOINT, endpoint)?);
    }
    let metrics_endpoint = raw
        .value(&flags::METRICS_ENDPOINT)
        .map(|endpoint| path(&flags::METRICS_ENDPOINT, endpoint))
        .transpose()?;
    let metrics_port = match raw.value(&flags::METRICS_PORT) {
        Some(port) => Some(port_number(&flags::METRICS_PORT, port)?),
        None => None,
    };
    if metrics_port.is_some() && metrics_endpoint.is_none() {
        return Err("--metricsPort needs --metricsEndpoint (the path to serve)".to_owned());
    }

    let session_timeout = millis(&flags::SESSION_TIMEOUT, raw)?;
    if session_timeout.is_zero() {
        return Err("--sessionTimeout must be greater than 0".to_owned());
    }
    let max_sessions = number(
        &flags::MAX_SESSIONS,
        raw.value_or_default(&flags::MAX_SESSIONS),
    )?;
    if max_sessions == 0 {
        return Err("--maxSessions must be at least 1".to_owned());
    }
    let max_body_bytes = number(
        &flags::MAX_BODY_BYTES,
        raw.value_or_default(&flags::MAX_BODY_BYTES),
    )?;
    if max_body_bytes == 0 {
        return Err("--maxBodyBytes must be at least 1".to_owned());
    }
    let max_buffered_bytes = number(
        &flags::MAX_BUFFERED_BYTES,
        raw.value_or_default(&flags::MAX_BUFFERED_BYTES),
    )?;
    let max_session_buffered_bytes = number(
        &flags::MAX_SESSION_BYTES,
        raw.value_or_default(&flags::MAX_SESSION_BYTES),
    )?;
    if max_session_buffered_bytes < 1024 {
        return Err("--maxSessionBytes must be at least 1024".to_owned());
    }
    if max_buffered_bytes < max_session_buffered_bytes {
        return Err("--maxBufferedBytes must be at least --maxSessionBytes".to_owned());
    }
    let runtime_admin_port = match raw.value(&flags::RUNTIME_ADMIN_PORT) {
        Some(port) => Some(port_number(&flags::RUNTIME_ADMIN_PORT, port)?),
        None => None,
    };
    let runtime_admin_token = match raw.value(&flags::RUNTIME_ADMIN_TOKEN) {
        Some(token) => Some(admin_token("--runtimeAdminToken", token.to_owned())?),
        None => None,
    };

    let mut auth_warnings = Vec::new();
    // Read only where it has an effect (a reverse mode warns instead).
    let auth_tokens = match raw.value(&flags::AUTH_TOKEN_FILE) {
        Some(path) if serves(&input) => {
            let path = std::path::PathBuf::from(path);
            let loaded =
                crate::auth::load(&path).map_err(|why| format!("--authTokenFile {why}"))?;
            if std::fs::metadata(&path).is_ok_and(|meta| meta.mode() & 0o077 != 0) {
                auth_warnings.push(format!(
                    "--authTokenFile {} can be read by other users (chmod 600 it)",
                    path.display()
                ));
            }
            Some(crate::auth::Source {
                env: None,
                file: Some((path, loaded)),
            })
        }
        _ => None,
    };

    // Like the token file: only where there are endpoints to protect.
    let auth_oauth = if serves(&input) {
        let (settings, warnings) = super::auth::settings(raw)?;
        auth_warnings.extend(warnings);
        settings
    } else {
        None
    };
    let rate_limit = match raw.value(&flags::RATE_LIMIT) {
        Some(text) => Some(Rate::parse(text).map_err(|why| {
            format!("--rateLimit must be N/s or N/m, N from 1 to 1000000: {why} (got {text:?})")
        })?),
        None => None,
    };
    let trusted_proxies = trusted_proxies(raw)?;
    let child_per_session = raw.switch(&flags::CHILD_PER_SESSION);
    let runtime_allow_env = allow_env(raw)?;
    let auth_env = auth_env(raw, child_per_session, &runtime_allow_env)?;
    // Read only where it has an effect (a reverse mode warns instead).
    let tls = if serves(&input) { tls(raw)? } else { None };

    let stateful = raw.switch(&flags::STATEFUL);
    let mode = Mode {
        input: input_flag,
        output,
        stateful,
        admin_port: raw.given(&flags::RUNTIME_ADMIN_PORT),
    };
    // With --config, a flag has an effect if it has one for any server
    // (each may choose its transport and statefulness).
    let mut modes = vec![mode];
    if let Input::Servers(file) = &input {
        modes = file
            .servers
            .iter()
            .filter(|server| !server.disabled)
            .flat_map(|server| {
                let stateful = server.settings.stateful.unwrap_or(stateful);
                super::servers::outputs_of(&server.settings, output)
                    .into_iter()
                    .map(move |output| Mode {
                        output,
                        stateful,
                        ..mode
                    })
            })
            .collect();
    }
    let mut warnings = warnings(raw, &modes);
    let (oauth, oauth_warnings) = super::oauth::config(raw)?;
    warnings.extend(oauth_warnings);
    warnings.extend(auth_warnings);
    if serves(&input) && raw.given(&flags::OAUTH2_BEARER) {
        warnings.push(
            "--oauth2Bearer sets a response header when serving a stdio server and protects \
             nothing; use --authTokenFile or SUPERGATEWAY_AUTH_TOKEN to require a token"
                .to_owned(),
        );
    }
    warnings.extend(replaced.into_iter().map(|name| {
        format!(
            "header {name} is given more than once (--header or --oauth2Bearer); the last one wins"
        )
    }));

    let host = match raw.value(&flags::HOST) {
        Some(host) => host,
        None => host_default
            .as_deref()
            .unwrap_or_else(|| raw.value_or_default(&flags::HOST)),
    };
    Ok(Config {
        input,
        output,
        port: port_number(&flags::PORT, raw.value_or_default(&flags::PORT))?,
        host: self::host(host)?,
        base_url: base_url(raw.value_or_default(&flags::BASE_URL))?,
        sse_path: path(&flags::SSE_PATH, raw.value_or_default(&flags::SSE_PATH))?,
        message_path: path(
            &flags::MESSAGE_PATH,
            raw.value_or_default(&flags::MESSAGE_PATH),
        )?,
        streamable_http_path: path(
            &flags::STREAMABLE_HTTP_PATH,
            raw.value_or_default(&flags::STREAMABLE_HTTP_PATH),
        )?,
        stateful,
        session_timeout: Some(session_timeout),
        protocol_version: protocol_version(raw.value_or_default(&flags::PROTOCOL_VERSION))?,
        headers,
        log_level,
        log_format,
        cors,
        allowed_hosts,
        health_endpoints,
        metrics_endpoint,
        metrics_port,
        runtime_prompt: raw.switch(&flags::RUNTIME_PROMPT),
        runtime_admin_port,
        runtime_admin_token,
        runtime_allow_env,
        child_per_session,
        restart: restart_policy(raw.value_or_default(&flags::RESTART))?,
        ready_endpoints,
        drain_timeout: millis(&flags::DRAIN_TIMEOUT, raw)?,
        head_timeout: nonzero(millis(&flags::HEAD_TIMEOUT, raw)?)
            .ok_or_else(|| "--headTimeout must be greater than 0".to_owned())?,
        body_timeout: nonzero(millis(&flags::BODY_TIMEOUT, raw)?)
            .ok_or_else(|| "--bodyTimeout must be greater than 0".to_owned())?,
        replay_buffer: replay_buffer(raw.value_or_default(&flags::REPLAY_BUFFER))?,
        upstream_protocol: upstream_protocol(raw.value_or_default(&flags::UPSTREAM_PROTOCOL))?,
        probe_timeout: nonzero(millis(&flags::PROBE_TIMEOUT, raw)?)
            .ok_or_else(|| "--probeTimeout must be greater than 0".to_owned())?,
        input_timeout: nonzero(millis(&flags::INPUT_TIMEOUT, raw)?)
            .ok_or_else(|| "--inputTimeout must be greater than 0".to_owned())?,
        keep_alive: nonzero(millis(&flags::KEEP_ALIVE, raw)?),
        max_body_bytes,
        max_buffered_bytes: usize::try_from(max_buffered_bytes).unwrap_or(usize::MAX),
        max_session_buffered_bytes: usize::try_from(max_session_buffered_bytes)
            .unwrap_or(usize::MAX),
        max_sessions: usize::try_from(max_sessions)
            .map_err(|_| "--maxSessions is too large for this platform".to_owned())?,
        request_timeout: nonzero(millis(&flags::REQUEST_TIMEOUT, raw)?),
        oauth,
        auth_tokens,
        auth_oauth,
        auth_env,
        rate_limit,
        trusted_proxies,
        tls,
        filter: filter(raw)?,
        instance_id: instance_id(raw)?,
        warnings,
        servers: Vec::new(),
        server_name: None,
        child_env: Vec::new(),
        child_cwd: None,
        child_shown: None,
        own_budget: false,
    })
}

/// The input is stdio servers the gateway serves over the network
/// (`--stdio`, `--config`), rather than a remote server it bridges.
pub(super) fn serves(input: &Input) -> bool {
    matches!(input, Input::Stdio(_) | Input::Servers(_))
}

/// `--instanceId`: `[A-Za-z0-9_-]{1,32}`, so that `ID.` is an unambiguous
/// prefix of the session ids and tokens (see `gateway::session_id`).
fn instance_id(raw: &Raw) -> Result<Option<String>, String> {
    let Some(id) = raw.value(&flags::INSTANCE_ID) else {
        return Ok(None);
    };
    supergateway_proto::mcp::request_state::check_instance_id(id)
        .map_err(|why| format!("--instanceId {why} (got {id:?})"))?;
    Ok(Some(id.to_owned()))
}

/// The filtering flags: globs for tools and prompts, URI prefixes for resources.
fn filter(raw: &Raw) -> Result<Filter, String> {
    let values = |flag: &Flag| raw.values(flag).collect::<Vec<&str>>();
    let refused = |allow: &Flag, deny: &Flag, why: PatternError| {
        format!("{allow} and {deny}: {why} (at most {MAX_PATTERNS} patterns of {MAX_PATTERN_BYTES} bytes, no control characters)")
    };
    let tools = Rules::globs(&values(&flags::ALLOW_TOOL), &values(&flags::DENY_TOOL))
        .map_err(|why| refused(&flags::ALLOW_TOOL, &flags::DENY_TOOL, why))?;
    let prompts = Rules::globs(&values(&flags::ALLOW_PROMPT), &values(&flags::DENY_PROMPT))
        .map_err(|why| refused(&flags::ALLOW_PROMPT, &flags::DENY_PROMPT, why))?;
    let resources = Rules::prefixes(
        &values(&flags::ALLOW_RESOURCE),
        &values(&flags::DENY_RESOURCE),
    )
    .map_err(|why| refused(&flags::ALLOW_RESOURCE, &flags::DENY_RESOURCE, why))?;
    Ok(Filter {
        tools,
        prompts,
        resources,
    })
}

/// `--trustedProxy` values, comma-separated and repeatable: each a CIDR or
/// a bare address (`/32`, `/128`).
fn trusted_proxies(raw: &Raw) -> Result<Vec<Cidr>, String> {
    let mut ranges = Vec::new();
    for value in raw.values(&flags::TRUSTED_PROXY) {
        for text in value.split(',').map(str::trim) {
            let range = Cidr::parse(text).map_err(|why| {
                format!("--trustedProxy must be an IP address or CIDR range: {why} (got {text:?})")
            })?;
            ranges.push(range);
        }
    }
    Ok(ranges)
}

/// `--authEnv CLAIM=VAR` values: allow-listed claims, names that the
/// runtime API's `env` could set too (the refusal list, `--runtimeAllowEnv`),
/// each name once; only with a child per caller and a mechanism that proves
/// the claim.
fn auth_env(
    raw: &Raw,
    child_per_session: bool,
    allowed: &[String],
) -> Result<Vec<auth_env::Mapping>, String> {
    let mut mappings: Vec<auth_env::Mapping> = Vec::new();
    for value in raw.values(&flags::AUTH_ENV) {
        let mapping = auth_env::parse(value)?;
        let var = mapping.var.as_str();
        if !is_env_name(var) {
            return Err(format!(
                "--authEnv {value}: the variable name must match [A-Za-z_][A-Za-z0-9_]*"
            ));
        }
        if let Some(why) = env_policy::refusal(var, allowed) {
            return Err(format!("--authEnv {value}: {var} {why}"));
        }
        if mappings.iter().any(|earlier| earlier.var == var) {
            return Err(format!("--authEnv sets {var} more than once"));
        }
        let sources = claim_sources(raw);
        let proved = match mapping.claim.source() {
            auth_env::Source::OAuth => sources.oauth,
            auth_env::Source::Certificate => sources.certificate,
        };
        if !proved {
            let needs = match mapping.claim.source() {
                auth_env::Source::OAuth => {
                    "an OAuth resource server (--authIssuer or --authIntrospectionUrl)"
                }
                auth_env::Source::Certificate => "client certificates (--tlsClientCa)",
            };
            return Err(format!(
                "--authEnv {value} needs {needs}: nothing else proves a caller's {}",
                mapping.claim.name()
            ));
        }
        mappings.push(mapping);
    }
    if !mappings.is_empty() && !child_per_session {
        return Err(
            "--authEnv needs --childPerSession: each caller's identity goes into a child of its own"
                .to_owned(),
        );
    }
    Ok(mappings)
}

/// Which configured mechanisms prove the claims `--authEnv` hands over.
struct ClaimSources {
    /// A verified OAuth access token (sub, email, ...).
    oauth: bool,
    /// A verified client certificate (tls_subject).
    certificate: bool,
}

/// What can supply `--authEnv` claims: the OAuth resource server
/// (`--authIssuer`, with or without introspection) and mutual TLS
/// (`--tlsClientCa`).
fn claim_sources(raw: &Raw) -> ClaimSources {
    ClaimSources {
        oauth: raw.value(&flags::AUTH_ISSUER).is_some(),
        certificate: raw.value(&flags::TLS_CLIENT_CA).is_some(),
    }
}

/// `--tlsCert` and `--tlsKey` (both or neither), `--tlsClientCa` and
/// `--tlsClientAuth` (only with a client CA): the files read and checked
/// now, so a bad one stops the start with its name.
fn tls(raw: &Raw) -> Result<Option<crate::http::tls::TlsConfig>, String> {
    use crate::http::tls::{ClientAuth, TlsFiles};
    let cert = raw.value(&flags::TLS_CERT);
    let key = raw.value(&flags::TLS_KEY);
    let client_ca = raw.value(&flags::TLS_CLIENT_CA);
    let (cert, key) = match (cert, key) {
        (Some(cert), Some(key)) => (cert, key),
        (None, None) => {
            if client_ca.is_some() {
                return Err("--tlsClientCa needs --tlsCert and --tlsKey".to_owned());
            }
            if raw.given(&flags::TLS_CLIENT_AUTH) {
                return Err("--tlsClientAuth needs --tlsClientCa".to_owned());
            }
            return Ok(None);
        }
        (Some(_), None) => return Err("--tlsCert needs --tlsKey".to_owned()),
        (None, Some(_)) => return Err("--tlsKey needs --tlsCert".to_owned()),
    };
    let auth = match raw.value_or_default(&flags::TLS_CLIENT_AUTH) {
        "required" => ClientAuth::Required,
        "optional" => ClientAuth::Optional,
        other => {
            return Err(format!(
                "--tlsClientAuth must be required or optional (got {other:?})"
            ))
        }
    };
    if client_ca.is_none() && raw.given(&flags::TLS_CLIENT_AUTH) {
        return Err("--tlsClientAuth needs --tlsClientCa".to_owned());
    }
    let files = TlsFiles {
        cert: cert.into(),
        key: key.into(),
        client_ca: client_ca.map(|ca| (ca.into(), auth)),
    };
    files.load().map(Some)
}

/// An admin API token: visible ASCII without spaces (it travels in an `Authorization`
/// header), at most 4096 bytes. Errors never show it.
pub(super) fn admin_token(source: &str, token: String) -> Result<String, String> {
    if token.is_empty() || token.len() > 4096 || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "{source} must be 1 to 4096 visible ASCII characters without spaces"
        ));
    }
    Ok(token)
}

/// `--runtimeAllowEnv` values, comma-separated and repeatable: each an environment name
/// (`[A-Za-z_][A-Za-z0-9_]*`, as runtime updates accept).
fn allow_env(raw: &Raw) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for value in raw.values(&flags::RUNTIME_ALLOW_ENV) {
        for name in value
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            if !is_env_name(name) {
                return Err(
                    "--runtimeAllowEnv takes environment names ([A-Za-z_][A-Za-z0-9_]*), comma-separated"
                        .to_owned(),
                );
            }
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// `--header` lines in order, then `--oauth2Bearer`'s; with the names given more than once.
///
/// As in Node (an object keyed by name), a later header replaces an earlier one of the same
/// name, and --oauth2Bearer replaces --header Authorization; we compare names
/// case-insensitively (RFC 9110 §5.1) and say so in a warning.
fn headers(raw: &Raw) -> Result<(Headers, Vec<String>), String> {
    let mut headers: Headers = Vec::new();
    let mut replaced: Vec<String> = Vec::new();
    for line in raw.values(&flags::HEADER) {
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
        if let Some(why) = name.reserved() {
            return Err(format!("--header {} cannot be set: {why}", name.as_str()));
        }
        replace_header(&mut headers, &mut replaced, name, value);
    }
    if let Some(token) = raw.value(&flags::OAUTH2_BEARER) {
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
    Ok((headers, replaced))
}

/// Headers in the order they are sent.
type Headers = Vec<(HeaderName, HeaderValue)>;

/// Appends a header, dropping an earlier one of the same name (recorded in `replaced`).
fn replace_header(
    headers: &mut Headers,
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
fn remote_url(flag: &Flag, url: &str) -> Result<String, String> {
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
    Ok(url.to_owned())
}

/// Paths start with '/' and hold visible ASCII without '?' and '#'.
fn path(flag: &Flag, value: &str) -> Result<String, String> {
    let visible = value
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#');
    if !value.starts_with('/') || !visible {
        return Err(format!(
            "{flag} must be a path starting with '/' without spaces, '?' or '#' (got {value:?})"
        ));
    }
    Ok(value.to_owned())
}

fn host(value: &str) -> Result<String, String> {
    let valid = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:[]%".contains(&b));
    if !valid {
        return Err(format!(
            "--host must be an IP address or host name (got {value:?})"
        ));
    }
    Ok(value.to_owned())
}

/// `--allowedHost`: a host name or IP address as `Host` and `Origin` carry
/// it, without scheme, port or path (brackets around an IPv6 literal are
/// dropped: the check compares hosts without them). Any port is accepted
/// with it.
fn allowed_host(value: &str) -> Result<String, String> {
    let bare = value
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(value);
    let name = !bare.is_empty()
        && bare
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if name || bare.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok(bare.to_owned());
    }
    Err(format!(
        "--allowedHost must be a host name or IP address, without scheme, port or path (got {value:?})"
    ))
}

fn base_url(value: &str) -> Result<String, String> {
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("--baseUrl must not contain spaces or control characters".to_owned());
    }
    Ok(value.to_owned())
}

fn restart_policy(value: &str) -> Result<crate::child::RestartPolicy, String> {
    use crate::child::RestartPolicy;
    match value {
        "never" => Ok(RestartPolicy::Never),
        "on-failure" => Ok(RestartPolicy::OnFailure),
        "always" => Ok(RestartPolicy::Always),
        _ => Err(format!(
            "--restart must be on-failure, always or never (got {value:?})"
        )),
    }
}

fn upstream_protocol(value: &str) -> Result<UpstreamMode, String> {
    match value {
        "auto" => Ok(UpstreamMode::Auto),
        "legacy" => Ok(UpstreamMode::Legacy),
        "2026-07-28" => Ok(UpstreamMode::Modern),
        _ => Err(format!(
            "--upstreamProtocol must be auto, legacy or 2026-07-28 (got {value:?})"
        )),
    }
}

fn protocol_version(value: &str) -> Result<String, String> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "--protocolVersion must be visible ASCII, like 2024-11-05 (got {value:?})"
        ));
    }
    Ok(value.to_owned())
}

/// `--cors` values (a bare `--cors` was scanned as `*`).
fn cors(raw: &Raw) -> Result<Cors, String> {
    let values: Vec<&str> = raw.values(&flags::CORS).collect();
    if values.is_empty() {
        return Ok(Cors::Off);
    }
    if values.contains(&ANY_ORIGIN) {
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
            None => CorsOrigin::Exact(value.to_owned()),
        };
        origins.push(origin);
    }
    Ok(Cors::Origins(origins))
}

/// Strict decimal: ASCII digits only (no sign, no spaces, no hex), fitting in u64.
pub(super) fn number(flag: &Flag, value: &str) -> Result<u64, String> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{flag} expects a non-negative whole number (got {value:?})"
        ));
    }
    value
        .parse()
        .map_err(|_| format!("{flag} is out of range (got {value:?})"))
}

pub(super) fn port_number(flag: &Flag, value: &str) -> Result<u16, String> {
    let port = number(flag, value)?;
    u16::try_from(port)
        .map_err(|_| format!("{flag} must be a port from 0 to 65535 (got {value:?})"))
}

/// A duration flag in milliseconds, given or its default.
pub(super) fn millis(flag: &Flag, raw: &Raw) -> Result<Duration, String> {
    number(flag, raw.value_or_default(flag)).map(Duration::from_millis)
}

/// `--replayBuffer`: events per stream, at most 65536.
fn replay_buffer(raw: &str) -> Result<usize, String> {
    let error =
        || format!("--replayBuffer expects a number of events from 0 to 65536, got {raw:?}");
    match raw.parse::<u32>() {
        Ok(n) if n <= 65_536 && raw.bytes().all(|b| b.is_ascii_digit()) => {
            usize::try_from(n).map_err(|_| error())
        }
        _ => Err(error()),
    }
}

fn nonzero(duration: Duration) -> Option<Duration> {
    (!duration.is_zero()).then_some(duration)
}

/// One sentence per given flag that the selected mode ignores, in table order.
fn warnings(raw: &Raw, modes: &[Mode]) -> Vec<String> {
    let Some(mode) = modes.first() else {
        return Vec::new();
    };
    let current = format!(
        "{} and --outputTransport {}",
        mode.input,
        output_name(mode.output)
    );
    flags::FLAGS
        .iter()
        .filter(|flag| raw.given(flag) && !modes.iter().any(|mode| flag.modes.applies(*mode)))
        .map(|flag| match flag.modes {
            Scope::AdminPort => format!("{flag} has no effect without --runtimeAdminPort"),
            scope => format!(
                "{flag} has no effect with {current} (it applies to {})",
                scope.describe()
            ),
        })
        .collect()
}

/// The mode as far as "which flags matter" goes.
#[derive(Clone, Copy)]
pub(super) struct Mode {
    /// `--stdio`, `--sse` or `--streamableHttp`.
    pub(super) input: &'static Flag,
    pub(super) output: Output,
    pub(super) stateful: bool,
    /// `--runtimeAdminPort` was given.
    pub(super) admin_port: bool,
}

impl Scope {
    pub(super) fn applies(self, mode: Mode) -> bool {
        let network = mode.input.name == flags::STDIO.name || mode.input.name == flags::CONFIG.name;
        let (sse, ws) = (mode.output == Output::Sse, mode.output == Output::Ws);
        let streamable = mode.output == Output::StreamableHttp;
        match self {
            Self::AdminPort => mode.admin_port,
            Self::All => true,
            Self::Network => network,
            Self::Reverse => !network,
            Self::Sse => network && sse,
            Self::SseOrWs => network && (sse || ws),
            Self::Stateful => network && streamable && mode.stateful,
            Self::Stateless => network && streamable && !mode.stateful,
            Self::Streamable => network && streamable,
            Self::Upstream => network || mode.input.name == flags::STREAMABLE_HTTP.name,
        }
    }

    /// Completes "it applies to …".
    pub(super) fn describe(self) -> &'static str {
        match self {
            Self::AdminPort => "--runtimeAdminPort",
            Self::All => "every mode",
            Self::Network => "--stdio served over the network",
            Self::Reverse => "--sse and --streamableHttp",
            Self::Sse => "--outputTransport sse",
            Self::SseOrWs => "--outputTransport sse or ws",
            Self::Stateful => "--outputTransport streamableHttp with --stateful",
            Self::Stateless => "--outputTransport streamableHttp without --stateful",
            Self::Streamable => "--outputTransport streamableHttp",
            Self::Upstream => "--stdio served over the network and --streamableHttp",
        }
    }
}

/// Header injection characters (STYLE.md: outbound CRLF injection), refused before proto
/// sees the line, whatever its trimming rules.
const FORBIDDEN_IN_HEADERS: [char; 3] = ['\r', '\n', '\0'];

/// Longest environment variable name accepted (`--runtimeAllowEnv`, the
/// runtime API's `env`).
pub(crate) const MAX_ENV_NAME_BYTES: usize = 256;

/// `[A-Za-z_][A-Za-z0-9_]*`, at most [`MAX_ENV_NAME_BYTES`]: the names the
/// shell and the child's environment can carry.
pub(crate) fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= MAX_ENV_NAME_BYTES
        && bytes
            .next()
            .is_some_and(|first| first == b'_' || first.is_ascii_alphabetic())
        && bytes.all(|byte| byte == b'_' || byte.is_ascii_alphanumeric())
}
