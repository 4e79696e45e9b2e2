//! The `--oauth*` flags into [`crate::oauth::Config`]: each value checked,
//! the secret file read once, and the combinations the client cannot use
//! refused here rather than at the first 401.

use std::os::unix::fs::MetadataExt;

use supergateway_proto::url::Url;

use super::flags;
use super::parse::Raw;
use super::validate::{millis, port_number};
use crate::oauth::{Config, Flow, Secret};

/// Longest secret read from `--oauthClientSecretFile`.
const MAX_SECRET_BYTES: u64 = 4096;

/// The OAuth settings, and warnings (a secret file others can read).
pub(super) fn config(raw: &Raw) -> Result<(Config, Vec<String>), String> {
    let mut warnings = Vec::new();
    let flow = match raw.value_or_default(&flags::OAUTH_FLOW) {
        "authorization_code" => Flow::AuthorizationCode,
        "device" => Flow::Device,
        "client_credentials" => Flow::ClientCredentials,
        other => {
            return Err(format!(
                "--oauthFlow must be one of authorization_code, device, client_credentials (got {other:?})"
            ))
        }
    };
    let client_id = match raw.value(&flags::OAUTH_CLIENT_ID) {
        Some(id) if id.is_empty() || id.len() > 1024 || id.chars().any(char::is_control) => {
            return Err(
                "--oauthClientId must be 1 to 1024 characters without control characters"
                    .to_owned(),
            )
        }
        Some(id) => Some(id.to_owned()),
        None => None,
    };
    let client_secret = match (
        raw.value(&flags::OAUTH_CLIENT_SECRET),
        raw.value(&flags::OAUTH_CLIENT_SECRET_FILE),
    ) {
        (Some(_), Some(_)) => {
            return Err(
                "--oauthClientSecret and --oauthClientSecretFile cannot be combined".to_owned(),
            )
        }
        (Some(secret), None) => Some(secret_value("--oauthClientSecret", secret.to_owned())?),
        (None, Some(path)) => Some(secret_file(path, &mut warnings)?),
        (None, None) => None,
    };
    if client_secret.is_some() && client_id.is_none() {
        return Err("a client secret needs --oauthClientId".to_owned());
    }
    let issuer = match raw.value(&flags::OAUTH_ISSUER) {
        Some(issuer) => {
            if client_id.is_none() {
                return Err("--oauthIssuer needs --oauthClientId".to_owned());
            }
            Some(http_url(&flags::OAUTH_ISSUER, issuer)?.to_owned())
        }
        None => None,
    };
    // A client secret goes to one authorization server only (client-registration.mdx,
    // "Authorization Server Binding"): without the issuer named here, a protected-resource
    // metadata document naming another server would receive it.
    if client_secret.is_some() && issuer.is_none() {
        return Err(
            "a client secret needs --oauthIssuer (the authorization server the client is \
             registered with: the secret is sent to no other)"
                .to_owned(),
        );
    }
    let client_metadata_url = match raw.value(&flags::OAUTH_CLIENT_METADATA_URL) {
        Some(value) => {
            let url = http_url(&flags::OAUTH_CLIENT_METADATA_URL, value)?;
            let parsed = Url::parse(url).map_err(|_| "unreachable".to_owned())?;
            if !parsed.is_tls() || parsed.path() == "/" || url.contains('#') {
                return Err(format!(
                    "--oauthClientMetadataUrl must be an https URL with a path, without a fragment (got {url:?})"
                ));
            }
            Some(url.to_owned())
        }
        None => None,
    };
    if flow == Flow::ClientCredentials && (client_id.is_none() || client_secret.is_none()) {
        return Err(
            "--oauthFlow client_credentials needs --oauthClientId and a secret \
             (--oauthClientSecretFile or --oauthClientSecret)"
                .to_owned(),
        );
    }
    let timeout = millis(&flags::OAUTH_TIMEOUT, raw)?;
    if timeout.is_zero() {
        return Err("--oauthTimeout must be greater than 0".to_owned());
    }
    let config = Config {
        forced: raw.switch(&flags::OAUTH),
        flow,
        client_id,
        client_secret,
        issuer,
        client_metadata_url,
        callback_port: port_number(
            &flags::OAUTH_CALLBACK_PORT,
            raw.value_or_default(&flags::OAUTH_CALLBACK_PORT),
        )?,
        timeout,
    };
    Ok((config, warnings))
}

/// An absolute `http`/`https` URL as the proto URL parser accepts it.
fn http_url<'a>(flag: &flags::Flag, value: &'a str) -> Result<&'a str, String> {
    let ok = (value.starts_with("https://") || value.starts_with("http://"))
        && Url::parse(value).is_ok();
    if !ok {
        return Err(format!(
            "{flag} must be an absolute http or https URL (got {value:?})"
        ));
    }
    Ok(value)
}

/// A client secret: 1 to 4096 bytes without control characters (it goes in
/// a form body or a Basic header). Errors never show it.
fn secret_value(source: &str, secret: String) -> Result<Secret, String> {
    if secret.is_empty() || secret.len() > 4096 || secret.chars().any(char::is_control) {
        return Err(format!(
            "{source} must be 1 to 4096 characters without control characters"
        ));
    }
    Ok(Secret::new(secret))
}

/// Reads `--oauthClientSecretFile` once: one trailing newline (LF or CRLF)
/// dropped; a file group or other can read gets a warning.
fn secret_file(path: &str, warnings: &mut Vec<String>) -> Result<Secret, String> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .map_err(|err| format!("--oauthClientSecretFile {path:?}: {err}"))?;
    let meta = file
        .metadata()
        .map_err(|err| format!("--oauthClientSecretFile {path:?}: {err}"))?;
    if !meta.is_file() {
        return Err(format!(
            "--oauthClientSecretFile {path:?} is not a regular file"
        ));
    }
    if meta.mode() & 0o077 != 0 {
        warnings.push(format!(
            "--oauthClientSecretFile {path:?} can be read by other users (chmod 600 it)"
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_SECRET_BYTES.saturating_add(2))
        .read_to_end(&mut bytes)
        .map_err(|err| format!("--oauthClientSecretFile {path:?}: {err}"))?;
    let mut text = String::from_utf8(bytes)
        .map_err(|_| format!("--oauthClientSecretFile {path:?} is not UTF-8"))?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    secret_value("the secret in --oauthClientSecretFile", text)
}
