//! The `"supergateway"` object of a server: the settings a flag would set
//! for a single-server gateway, per server. Key names are the flag names,
//! so `--maxBodyBytes 1048576` is `"maxBodyBytes": 1048576`. Strict: an
//! unknown key, a wrong type or a value outside a fixed set is an error
//! with its path. Every field is "unset" by default, so the driver can
//! tell "not given here" (use the gateway-wide flag) from a value.
//!
//! Strings here are not `${env:…}`-expanded: they name files and tool
//! names, not process arguments.

use super::json::Json;
use super::{ConfigError, Limits, Path, Reason};

/// Per-server settings from the `"supergateway"` object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Settings {
    /// `outputTransport`: a string or a non-empty list without repeats;
    /// empty when not given.
    pub output_transports: Vec<OutputTransport>,
    /// `childPerSession`.
    pub child_per_session: Option<bool>,
    /// `stateful` (Streamable HTTP sessions).
    pub stateful: Option<bool>,
    /// `upstreamProtocol`.
    pub upstream_protocol: Option<UpstreamProtocol>,
    /// `tools`: `{"allow": [...], "deny": [...]}`.
    pub tools: Filter,
    /// `prompts`, same shape.
    pub prompts: Filter,
    /// `resources`, same shape (URIs or templates).
    pub resources: Filter,
    /// `restart`: the restart policy of the child.
    pub restart: Option<Restart>,
    /// `maxBodyBytes`, a positive integer.
    pub max_body_bytes: Option<u64>,
    /// `maxSessions`, a positive integer.
    pub max_sessions: Option<u64>,
    /// `maxBufferedBytes`, a positive integer.
    pub max_buffered_bytes: Option<u64>,
    /// `maxSessionBytes`, a positive integer.
    pub max_session_bytes: Option<u64>,
    /// `authTokenFile`: this server's own bearer-token file (the driver
    /// reads it as it reads `--authTokenFile`).
    pub auth_token_file: Option<String>,
    /// `authScopes`: scope tokens a caller's token must carry for this
    /// server; empty when not given.
    pub auth_scopes: Vec<String>,
}

/// An output transport of `outputTransport` (a stdio server is served over
/// the network, so `stdio` is not one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutputTransport {
    /// `"sse"`.
    Sse,
    /// `"streamableHttp"`.
    StreamableHttp,
    /// `"ws"`.
    Ws,
}

/// `upstreamProtocol`, as the flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpstreamProtocol {
    /// `"auto"`: probe.
    Auto,
    /// `"legacy"`: the pre-2026 protocol.
    Legacy,
    /// `"2026-07-28"`.
    V2026_07_28,
}

/// `restart`: what to do when the child exits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Restart {
    /// `"always"`: restart on any exit.
    Always,
    /// `"never"`: never restart (as `--restart never`).
    Never,
    /// `"on-failure"`: restart after a non-zero exit or a signal.
    OnFailure,
}

/// A name filter: `allow` (absent: everything) then `deny`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Filter {
    /// Names let through; `None` when not given (all), `Some(empty)` for
    /// none.
    pub allow: Option<Vec<String>>,
    /// Names removed.
    pub deny: Vec<String>,
}

/// Parses the `"supergateway"` object at `path`.
pub(super) fn parse(
    value: &Json,
    limits: &Limits,
    path: &mut Path,
) -> Result<Settings, ConfigError> {
    let Json::Object(members) = value else {
        return Err(ConfigError::new(path, Reason::Type("an object")));
    };
    let mut settings = Settings::default();
    for (key, value) in members {
        path.push_key(key);
        match key.as_str() {
            "outputTransport" => settings.output_transports = transports(value, path)?,
            "childPerSession" => settings.child_per_session = Some(super::boolean(value, path)?),
            "stateful" => settings.stateful = Some(super::boolean(value, path)?),
            "upstreamProtocol" => {
                settings.upstream_protocol = Some(match string(value, limits, path)? {
                    "auto" => UpstreamProtocol::Auto,
                    "legacy" => UpstreamProtocol::Legacy,
                    "2026-07-28" => UpstreamProtocol::V2026_07_28,
                    _ => return Err(unknown(path, "auto, legacy, 2026-07-28")),
                });
            }
            "tools" => settings.tools = filter(value, limits, path)?,
            "prompts" => settings.prompts = filter(value, limits, path)?,
            "resources" => settings.resources = filter(value, limits, path)?,
            "restart" => {
                settings.restart = Some(match string(value, limits, path)? {
                    "always" => Restart::Always,
                    "never" => Restart::Never,
                    "on-failure" => Restart::OnFailure,
                    _ => return Err(unknown(path, "never, on-failure, always")),
                });
            }
            "maxBodyBytes" => settings.max_body_bytes = Some(positive(value, path)?),
            "maxSessions" => settings.max_sessions = Some(positive(value, path)?),
            "maxBufferedBytes" => settings.max_buffered_bytes = Some(positive(value, path)?),
            "maxSessionBytes" => settings.max_session_bytes = Some(positive(value, path)?),
            "authTokenFile" => {
                settings.auth_token_file = Some(string(value, limits, path)?.to_owned());
            }
            "authScopes" => settings.auth_scopes = scopes(value, limits, path)?,
            _ => return Err(ConfigError::new(path, Reason::UnknownKey)),
        }
        path.pop();
    }
    Ok(settings)
}

fn transports(value: &Json, path: &mut Path) -> Result<Vec<OutputTransport>, ConfigError> {
    let one = |value: &Json, path: &Path| match value {
        Json::String(name) => match name.as_str() {
            "sse" => Ok(OutputTransport::Sse),
            "streamableHttp" => Ok(OutputTransport::StreamableHttp),
            "ws" => Ok(OutputTransport::Ws),
            _ => Err(unknown(path, "sse, ws, streamableHttp")),
        },
        _ => Err(ConfigError::new(
            path,
            Reason::Type("a string or an array of strings"),
        )),
    };
    let Json::Array(items) = value else {
        return Ok(vec![one(value, path)?]);
    };
    if items.is_empty() {
        return Err(ConfigError::new(path, Reason::Empty));
    }
    let mut out: Vec<OutputTransport> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        path.push_index(index);
        let transport = one(item, path)?;
        if out.contains(&transport) {
            return Err(ConfigError::new(path, Reason::Duplicate));
        }
        out.push(transport);
        path.pop();
    }
    Ok(out)
}

fn filter(value: &Json, limits: &Limits, path: &mut Path) -> Result<Filter, ConfigError> {
    let Json::Object(members) = value else {
        return Err(ConfigError::new(path, Reason::Type("an object")));
    };
    let mut filter = Filter::default();
    for (key, value) in members {
        path.push_key(key);
        match key.as_str() {
            "allow" => filter.allow = Some(names(value, limits, path)?),
            "deny" => filter.deny = names(value, limits, path)?,
            _ => return Err(ConfigError::new(path, Reason::UnknownKey)),
        }
        path.pop();
    }
    Ok(filter)
}

/// A list of non-empty strings, at most `max_filter_entries`.
fn names(value: &Json, limits: &Limits, path: &mut Path) -> Result<Vec<String>, ConfigError> {
    let Json::Array(items) = value else {
        return Err(ConfigError::new(path, Reason::Type("an array of strings")));
    };
    if items.len() > limits.max_filter_entries {
        return Err(ConfigError::new(
            path,
            Reason::TooMany("entries", limits.max_filter_entries),
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        path.push_index(index);
        out.push(string(item, limits, path)?.to_owned());
        path.pop();
    }
    Ok(out)
}

fn scopes(value: &Json, limits: &Limits, path: &mut Path) -> Result<Vec<String>, ConfigError> {
    let scopes = names(value, limits, path)?;
    for (index, scope) in scopes.iter().enumerate() {
        // RFC 6749 §3.3: scope tokens are printable ASCII without space,
        // `"` or `\`.
        let token = scope
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E));
        if !token {
            path.push_index(index);
            return Err(ConfigError::new(
                path,
                Reason::Type("a scope token (RFC 6749 3.3)"),
            ));
        }
    }
    Ok(scopes)
}

/// A non-empty string without NUL, at most `max_string_bytes`.
fn string<'a>(value: &'a Json, limits: &Limits, path: &Path) -> Result<&'a str, ConfigError> {
    let Json::String(text) = value else {
        return Err(ConfigError::new(path, Reason::Type("a string")));
    };
    if text.is_empty() {
        return Err(ConfigError::new(path, Reason::Empty));
    }
    if text.contains('\0') {
        return Err(ConfigError::new(path, Reason::Nul));
    }
    if text.len() > limits.max_string_bytes {
        return Err(ConfigError::new(
            path,
            Reason::TooLong(limits.max_string_bytes),
        ));
    }
    Ok(text)
}

fn positive(value: &Json, path: &Path) -> Result<u64, ConfigError> {
    match value {
        Json::Number(number) => match number.as_u64() {
            Some(n) if n > 0 => Ok(n),
            _ => Err(ConfigError::new(path, Reason::Type("a positive integer"))),
        },
        _ => Err(ConfigError::new(path, Reason::Type("a positive integer"))),
    }
}

fn unknown(path: &Path, set: &'static str) -> ConfigError {
    ConfigError::new(path, Reason::UnknownValue(set))
}
