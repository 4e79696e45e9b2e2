//! OAuth harness (`oauth_documents`).

// Fuzz harnesses assert properties by panicking (STYLE.md 19); indexes
// are bounded by positions found in the same slice.
#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use crate::oauth::{
    authorize::Callback, challenge, discovery, form, pkce::State, registration, scope, token,
    Error, MAX_HEADER_BYTES,
};
use crate::url::Url;

/// Fuzz target `oauth_documents`: the first byte picks a parser, the rest
/// is its input. Asserts that no parser panics, that every error prints as
/// one non-empty line, and per parser:
/// - `WWW-Authenticate` (fields split on LF): each parsed challenge,
///   written back with `to_header`, parses to itself; `bearer` agrees
///   with `parse`;
/// - the callback: a verified code only comes with the exact state and
///   issuer;
/// - protected-resource metadata: an accepted `resource` matches the MCP
///   URL and every issuer gives discovery URLs;
/// - authorization-server metadata (issuer, LF, document): an accepted one
///   has exactly that issuer;
/// - token, registration and device responses: expiries are never before
///   `now`, intervals within bounds;
/// - form: encode → decode is the identity, and a built form parses back to
///   its pairs;
/// - scope: a chosen scope is a set of valid distinct tokens, and the
///   step-up of a scope with itself is itself.
pub fn oauth_documents(data: &[u8]) {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    match selector % 8 {
        0 => challenges(input),
        1 => callback(input),
        2 => protected_resource(input),
        3 => authorization_server(input),
        4 => token_response(input),
        5 => registration_and_device(input),
        6 => form_round_trip(input),
        _ => scopes(input),
    }
}

fn one_line(error: &impl core::fmt::Display) {
    let shown = error.to_string();
    assert!(!shown.is_empty() && !shown.contains('\n'), "{shown:?}");
}

fn challenges(input: &[u8]) {
    let Ok(text) = core::str::from_utf8(input) else {
        return;
    };
    let fields: Vec<&str> = text.split('\n').collect();
    let parsed = challenge::parse(&fields);
    let bearer = challenge::bearer(&fields);
    match &parsed {
        Err(e) => {
            one_line(e);
            assert_eq!(bearer.as_ref().err(), Some(e));
        }
        Ok(list) => {
            let first = list.iter().find(|c| c.scheme == "bearer");
            let bearer = bearer.unwrap_or_else(|e| panic!("bearer failed where parse did: {e}"));
            assert_eq!(bearer.is_some(), first.is_some());
            if let (Some(bearer), Some(first)) = (bearer, first) {
                assert_eq!(bearer.scope.as_deref(), first.param("scope"));
                assert_eq!(
                    bearer.resource_metadata.as_deref(),
                    first.param("resource_metadata")
                );
            }
            for challenge in list {
                assert!(challenge.scheme.bytes().all(|b| !b.is_ascii_uppercase()));
                let written = challenge.to_header();
                if written.len() > MAX_HEADER_BYTES {
                    continue;
                }
                assert_eq!(
                    challenge::parse(&[&written]).as_deref(),
                    Ok(core::slice::from_ref(challenge)),
                    "{written:?}"
                );
            }
        }
    }
}

fn callback(input: &[u8]) {
    let Ok(text) = core::str::from_utf8(input) else {
        return;
    };
    let state = State::from_random(&[3; 32]);
    let issuer = "http://localhost:4000";
    match Callback::parse(text) {
        Err(e) => one_line(&e),
        Ok(parsed) => {
            for supported in [false, true] {
                match parsed.verify(&state, issuer, supported) {
                    Err(e) => one_line(&e),
                    Ok(code) => {
                        assert!(!code.expose().is_empty());
                        let query = text.split_once('?').map_or("", |(_, q)| q);
                        let pairs = form::parse(query).unwrap_or_default();
                        let get = |name: &str| {
                            pairs
                                .iter()
                                .find(|(n, _)| n == name)
                                .map(|(_, v)| v.as_str())
                        };
                        assert_eq!(get("state"), Some(state.secret().expose()));
                        assert!(get("iss").is_none_or(|iss| iss == issuer));
                        assert!(!supported || get("iss") == Some(issuer));
                        assert!(get("error").is_none());
                    }
                }
            }
        }
    }
}

fn protected_resource(input: &[u8]) {
    let Ok(mcp) = Url::parse("http://localhost:3000/mcp") else {
        panic!("fixed URL");
    };
    match discovery::ProtectedResource::parse(input, &mcp) {
        Err(e) => one_line(&e),
        Ok(prm) => {
            assert!(discovery::resource_matches(prm.resource(), &mcp));
            assert!(!prm.authorization_servers().is_empty());
            for issuer in prm.authorization_servers() {
                let urls = discovery::authorization_server_urls(issuer)
                    .unwrap_or_else(|e| panic!("accepted issuer {issuer:?}: {e}"));
                assert!(urls.len() == 2 || urls.len() == 3);
            }
        }
    }
    let _ = discovery::protected_resource_urls(&mcp);
}

fn authorization_server(input: &[u8]) {
    let (issuer, body) = match input.iter().position(|&b| b == b'\n') {
        Some(at) => (&input[..at], &input[at + 1..]),
        None => (&b"http://localhost:4000"[..], input),
    };
    let Ok(issuer) = core::str::from_utf8(issuer) else {
        return;
    };
    match discovery::AuthorizationServer::parse(body, issuer) {
        Err(e) => one_line(&e),
        Ok(server) => {
            assert_eq!(server.issuer(), issuer);
            assert!(discovery::authorization_server_urls(issuer).is_ok());
            assert!(!server.token_endpoint_auth_methods_supported().is_empty());
        }
    }
    if let Err(e) = discovery::authorization_server_urls(issuer) {
        one_line(&e);
    }
}

fn token_response(input: &[u8]) {
    let Some((status, body)) = input.split_first_chunk::<2>() else {
        return;
    };
    let status = u16::from_be_bytes(*status) % 600;
    let now = 1_700_000_000;
    match token::parse_response(status, body, now) {
        Err(e) => {
            one_line(&e);
            if (200..=299).contains(&status) {
                assert!(matches!(e, token::TokenError::Invalid(_)));
            }
        }
        Ok(tokens) => {
            assert!((200..=299).contains(&status));
            assert!(tokens.expires_at.is_none_or(|at| at >= now));
            assert!(!tokens.access_token.expose().is_empty());
        }
    }
}

fn registration_and_device(input: &[u8]) {
    match registration::ClientInformation::parse(input) {
        Err(e) => one_line(&e),
        Ok(info) => assert!(!info.client_id.is_empty()),
    }
    let now = 5;
    match token::DeviceAuthorization::parse(input, now) {
        Err(e) => one_line(&e),
        Ok(device) => {
            assert!(device.expires_at >= now);
            assert!((1..=token::MAX_INTERVAL_SECONDS).contains(&device.interval));
        }
    }
}

fn form_round_trip(input: &[u8]) {
    let Ok(text) = core::str::from_utf8(input) else {
        return;
    };
    let mut encoded = String::new();
    form::encode(text, &mut encoded);
    assert!(encoded.bytes().all(|b| b.is_ascii_graphic()));
    assert_eq!(form::decode(&encoded).as_deref(), Ok(text));
    if let Err(e) = form::parse(text) {
        one_line(&e);
    }
    // Pairs split from the text survive a build → parse round trip.
    let pairs: Vec<(&str, &str)> = text
        .split('\n')
        .take(crate::oauth::MAX_LIST_ENTRIES)
        .map(|line| line.split_once('\t').unwrap_or((line, "")))
        .collect();
    let mut built = form::Form::new();
    for (name, value) in &pairs {
        built.pair(name, value);
    }
    let body = built.finish();
    if body.len() <= MAX_HEADER_BYTES {
        let parsed = form::parse(&body).unwrap_or_else(|e| panic!("{body:?}: {e}"));
        // Empty pairs (`=`) are kept; only a wholly empty piece is skipped,
        // and a pair always writes `=`.
        let expected: Vec<(String, String)> = pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(parsed, expected);
    }
}

fn scopes(input: &[u8]) {
    let Ok(text) = core::str::from_utf8(input) else {
        return;
    };
    let (challenge, rest) = text.split_once('\n').unwrap_or((text, ""));
    let prm: Vec<String> = rest.split('\n').map(str::to_owned).collect();
    let as_scopes = ["offline_access".to_owned()];
    match scope::initial(Some(challenge), Some(&prm), &as_scopes) {
        Err(e) => {
            one_line(&e);
            assert!(matches!(e, Error::Malformed(_) | Error::TooLarge(_)));
        }
        Ok(None) => {}
        Ok(Some(chosen)) => {
            let tokens: Vec<&str> = chosen.split(' ').collect();
            assert!(tokens.iter().all(|t| !t.is_empty()));
            for (i, t) in tokens.iter().enumerate() {
                assert!(!tokens[..i].contains(t), "duplicate {t:?} in {chosen:?}");
            }
            assert!(tokens.contains(&"offline_access"));
            assert_eq!(
                scope::step_up(Some(&chosen), Some(&chosen), &as_scopes),
                Ok(Some(chosen.clone()))
            );
            assert!(scope::covers(&chosen, challenge) || challenge.trim_matches(' ').is_empty());
        }
    }
}
