//! The `--auth*` OAuth resource-server flags (issue 16 item 2) into
//! [`crate::auth::resource::Settings`]: each URL checked, the introspection
//! client file read once, and the combinations that cannot work refused
//! here rather than at the first request.

use std::io::Read;
use std::os::unix::fs::MetadataExt;

use supergateway_proto::oauth::discovery::{authorization_server_urls, resource_metadata_url};
use supergateway_proto::oauth::token::client_secret_basic;
use supergateway_proto::oauth::Secret;
use supergateway_proto::url::Url;

use super::flags;
use super::parse::Raw;
use crate::auth::resource::{IntrospectionClient, Settings};

/// Longest `--authIntrospectionClientFile` read.
const MAX_CLIENT_FILE_BYTES: u64 = 8192;

/// The resource-server settings (`None` when no `--authIssuer`), and
/// warnings (a client file others can read).
pub(super) fn settings(raw: &Raw) -> Result<(Option<Settings>, Vec<String>), String> {
    let mut warnings = Vec::new();
    let issuer = raw.value(&flags::AUTH_ISSUER);
    let introspection_url = raw.value(&flags::AUTH_INTROSPECTION_URL);
    let client_file = raw.value(&flags::AUTH_INTROSPECTION_CLIENT_FILE);
    let Some(issuer) = issuer else {
        for (flag, given) in [
            (&flags::AUTH_RESOURCE, raw.given(&flags::AUTH_RESOURCE)),
            (&flags::AUTH_SCOPES, raw.given(&flags::AUTH_SCOPES)),
            (&flags::AUTH_INTROSPECTION_URL, introspection_url.is_some()),
            (
                &flags::AUTH_INTROSPECTION_CLIENT_FILE,
                client_file.is_some(),
            ),
        ] {
            if given {
                return Err(format!(
                    "{flag} needs --authIssuer (the authorization server clients get tokens from)"
                ));
            }
        }
        return Ok((None, warnings));
    };
    // The same rule as the OAuth client's: https, or http on loopback; no
    // query or fragment (RFC 8414 §2).
    if !(issuer.starts_with("https://") || issuer.starts_with("http://"))
        || authorization_server_urls(issuer).is_err()
    {
        return Err(format!(
            "--authIssuer must be an https URL (http only on loopback) without query or fragment (got {issuer:?})"
        ));
    }
    // The Host of a request is the caller's to choose: the resource the
    // tokens must name and the metadata URL come from here only.
    let Some(resource) = raw.value(&flags::AUTH_RESOURCE) else {
        return Err("--authIssuer needs --authResource (this server's canonical URL, the audience tokens must name)".to_owned());
    };
    let resource_ok = (resource.starts_with("https://") || resource.starts_with("http://"))
        && !resource.contains('?')
        && resource_metadata_url(resource).is_ok();
    if !resource_ok {
        return Err(format!(
            "--authResource must be an https URL (http only on loopback) without query or fragment (got {resource:?})"
        ));
    }
    let scopes = match raw.value(&flags::AUTH_SCOPES) {
        Some(list) => scopes(list)?,
        None => Vec::new(),
    };
    let introspection = match (introspection_url, client_file) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(
                "--authIntrospectionUrl needs --authIntrospectionClientFile (the gateway's client credentials)"
                    .to_owned(),
            )
        }
        (None, Some(_)) => {
            return Err("--authIntrospectionClientFile needs --authIntrospectionUrl".to_owned())
        }
        (Some(url), Some(path)) => {
            let parsed = (url.starts_with("https://") || url.starts_with("http://"))
                .then(|| resource_metadata_url(url).ok())
                .flatten()
                .ok_or_else(|| {
                    format!(
                        "--authIntrospectionUrl must be an https URL (http only on loopback) without fragment (got {url:?})"
                    )
                })?;
            // The fetcher allows plain http only for a plain-http issuer
            // (auth::resource), so refuse here what could never be asked.
            if !parsed.is_tls() && issuer.starts_with("https://") {
                return Err(
                    "--authIntrospectionUrl must be https when --authIssuer is".to_owned(),
                );
            }
            Some(client_file_credentials(parsed, path, &mut warnings)?)
        }
    };
    Ok((
        Some(Settings {
            issuer: issuer.to_owned(),
            resource: resource.to_owned(),
            scopes,
            introspection,
        }),
        warnings,
    ))
}

/// `a,b`: each scope a non-empty run of RFC 6749 §3.3 `NQCHAR`s (printable
/// ASCII but space, `"` and `\`), so that it fits a challenge's quoted
/// `scope` unescaped.
fn scopes(list: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for scope in list.split(',').map(str::trim) {
        let ok = !scope.is_empty()
            && scope
                .bytes()
                .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\');
        if !ok {
            return Err(format!(
                "--authScopes must be a comma-separated list of scopes (printable ASCII without spaces, quotes or backslashes; got {list:?})"
            ));
        }
        if !out.iter().any(|known| known == scope) {
            out.push(scope.to_owned());
        }
    }
    Ok(out)
}

/// Reads `--authIntrospectionClientFile`: the one line that is neither blank
/// nor a `#` comment, `CLIENT_ID:CLIENT_SECRET` (the secret may hold `:`).
/// Errors name the file, never its contents.
fn client_file_credentials(
    url: Url,
    path: &str,
    warnings: &mut Vec<String>,
) -> Result<IntrospectionClient, String> {
    let flag = &flags::AUTH_INTROSPECTION_CLIENT_FILE;
    let file = std::fs::File::open(path).map_err(|err| format!("{flag} {path:?}: {err}"))?;
    let meta = file
        .metadata()
        .map_err(|err| format!("{flag} {path:?}: {err}"))?;
    if !meta.is_file() {
        return Err(format!("{flag} {path:?} is not a regular file"));
    }
    if meta.mode() & 0o077 != 0 {
        warnings.push(format!(
            "{flag} {path:?} can be read by other users (chmod 600 it)"
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_CLIENT_FILE_BYTES.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|err| format!("{flag} {path:?}: {err}"))?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_CLIENT_FILE_BYTES {
        return Err(format!("{flag} {path:?} is larger than 8 KiB"));
    }
    let text = String::from_utf8(bytes).map_err(|_| format!("{flag} {path:?} is not UTF-8"))?;
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'));
    let bad = || format!("{flag} {path:?} must hold one line CLIENT_ID:CLIENT_SECRET");
    let line = lines.next().ok_or_else(bad)?;
    if lines.next().is_some() {
        return Err(bad());
    }
    let (client_id, secret) = line.split_once(':').ok_or_else(bad)?;
    let printable = |s: &str| !s.is_empty() && s.len() <= 4096 && !s.chars().any(char::is_control);
    if !printable(client_id) || !printable(secret) {
        return Err(bad());
    }
    let authorization = client_secret_basic(client_id, &Secret::new(secret.to_owned()));
    Ok(IntrospectionClient {
        url,
        client_id: client_id.to_owned(),
        authorization,
    })
}
