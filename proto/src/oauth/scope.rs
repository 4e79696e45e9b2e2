//! Which `scope` to ask for (MCP 2026-07-28 "Scope Selection Strategy",
//! "Step-Up Authorization Flow", "Refresh Tokens").
//!
//! Scopes are space-separated `scope-token`s (RFC 6749 §3.3:
//! `1*( %x21 / %x23-5B / %x5D-7E )`); runs of spaces are tolerated, order is
//! kept and duplicates dropped. At most [`MAX_LIST_ENTRIES`] tokens.

use super::{Error, MAX_LIST_ENTRIES};

const OFFLINE_ACCESS: &str = "offline_access";

/// The scope of a first authorization: the challenge's `scope` when it has
/// one, else every `scopes_supported` of the protected-resource metadata,
/// else none (the parameter is omitted). `offline_access` is added when
/// the authorization server lists it (`as_scopes`) and some scope is being
/// asked for anyway: an omitted scope stays omitted, so the server's
/// default applies.
///
/// # Examples
///
/// ```
/// use supergateway_proto::oauth::scope::initial;
///
/// let prm = ["mcp:basic".to_owned()];
/// let as_scopes = ["mcp:basic".to_owned(), "offline_access".to_owned()];
/// assert_eq!(initial(Some("files:read"), Some(&prm), &[])?.as_deref(), Some("files:read"));
/// assert_eq!(initial(None, Some(&prm), &as_scopes)?.as_deref(), Some("mcp:basic offline_access"));
/// assert_eq!(initial(None, None, &as_scopes)?, None);
/// # Ok::<(), supergateway_proto::oauth::Error>(())
/// ```
pub fn initial(
    challenge: Option<&str>,
    prm_scopes: Option<&[String]>,
    as_scopes: &[String],
) -> Result<Option<String>, Error> {
    let mut set = Vec::new();
    match challenge.filter(|scope| !scope.trim_matches(' ').is_empty()) {
        Some(scope) => add_all(&mut set, scope)?,
        None => {
            for scope in prm_scopes.unwrap_or_default() {
                add_all(&mut set, scope)?;
            }
        }
    }
    finish(set, as_scopes)
}

/// The scope of a step-up authorization after a 403 `insufficient_scope`:
/// the union of what was asked before and what the challenge asks, so that
/// permissions for other operations are kept (MCP SEP-2350).
///
/// # Examples
///
/// ```
/// use supergateway_proto::oauth::scope::step_up;
///
/// assert_eq!(step_up(Some("mcp:basic"), Some("mcp:write mcp:basic"), &[])?.as_deref(), Some("mcp:basic mcp:write"));
/// assert_eq!(step_up(None, Some("mcp:write"), &[])?.as_deref(), Some("mcp:write"));
/// # Ok::<(), supergateway_proto::oauth::Error>(())
/// ```
pub fn step_up(
    previous: Option<&str>,
    challenge: Option<&str>,
    as_scopes: &[String],
) -> Result<Option<String>, Error> {
    let mut set = Vec::new();
    add_all(&mut set, previous.unwrap_or_default())?;
    add_all(&mut set, challenge.unwrap_or_default())?;
    finish(set, as_scopes)
}

/// Whether every scope of `needed` is in `granted` (both scope strings),
/// for a driver that wants to tell "the server wants more" from "the same
/// scopes again" before another step-up round.
#[must_use]
pub fn covers(granted: &str, needed: &str) -> bool {
    let granted: Vec<&str> = granted.split(' ').filter(|s| !s.is_empty()).collect();
    needed
        .split(' ')
        .filter(|s| !s.is_empty())
        .all(|scope| granted.contains(&scope))
}

/// Adds the scope tokens of `scopes` to `set`, in order, without duplicates.
fn add_all<'a>(set: &mut Vec<&'a str>, scopes: &'a str) -> Result<(), Error> {
    for scope in scopes.split(' ').filter(|scope| !scope.is_empty()) {
        if !scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
        {
            return Err(Error::Malformed("scope"));
        }
        if !set.contains(&scope) {
            if set.len() >= MAX_LIST_ENTRIES {
                return Err(Error::TooLarge("scope"));
            }
            set.push(scope);
        }
    }
    Ok(())
}

/// `set` joined by spaces, with `offline_access` when `as_scopes` offers
/// it; `None` for an empty set.
fn finish(mut set: Vec<&str>, as_scopes: &[String]) -> Result<Option<String>, Error> {
    if set.is_empty() {
        return Ok(None);
    }
    if as_scopes.iter().any(|scope| scope == OFFLINE_ACCESS) {
        add_all(&mut set, OFFLINE_ACCESS)?;
    }
    Ok(Some(set.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::{covers, initial, step_up};
    use crate::oauth::Error;

    fn owned(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn initial_table() {
        let offline = owned(&["x", "offline_access"]);
        // (challenge scope, PRM scopes_supported, AS scopes_supported, chosen)
        type Case<'a> = (
            Option<&'a str>,
            Option<Vec<String>>,
            Vec<String>,
            Option<&'a str>,
        );
        let cases: Vec<Case<'_>> = vec![
            (Some("a b"), Some(owned(&["c"])), vec![], Some("a b")),
            (Some("  a   a b "), None, vec![], Some("a b")),
            (Some(""), Some(owned(&["c", "d"])), vec![], Some("c d")),
            (None, Some(owned(&["c", "d"])), vec![], Some("c d")),
            (None, Some(owned(&["c d", "d"])), vec![], Some("c d")),
            (None, Some(vec![]), vec![], None),
            (None, None, vec![], None),
            (None, None, offline.clone(), None),
            (Some("a"), None, offline.clone(), Some("a offline_access")),
            (
                Some("offline_access a"),
                None,
                offline,
                Some("offline_access a"),
            ),
        ];
        for (challenge, prm, as_scopes, expected) in cases {
            assert_eq!(
                initial(challenge, prm.as_deref(), &as_scopes),
                Ok(expected.map(str::to_owned)),
                "{challenge:?} {prm:?}"
            );
        }
    }

    #[test]
    fn rejects() {
        for bad in ["a\"b", "a\\b", "a\tb", "é", "a\nb"] {
            assert_eq!(
                initial(Some(bad), None, &[]),
                Err(Error::Malformed("scope"))
            );
        }
        let many: Vec<String> = (0..65).map(|i| format!("s{i}")).collect();
        assert_eq!(
            initial(None, Some(&many), &[]),
            Err(Error::TooLarge("scope"))
        );
    }

    #[test]
    fn step_up_table() {
        for (previous, challenge, expected) in [
            (
                Some("mcp:basic"),
                Some("mcp:write"),
                Some("mcp:basic mcp:write"),
            ),
            (Some("a b"), Some("b a"), Some("a b")),
            (None, None, None),
            (Some("a"), None, Some("a")),
        ] {
            assert_eq!(
                step_up(previous, challenge, &[]),
                Ok(expected.map(str::to_owned)),
                "{previous:?} {challenge:?}"
            );
        }
        assert_eq!(
            step_up(Some("a"), Some("b"), &["offline_access".to_owned()]),
            Ok(Some("a b offline_access".to_owned()))
        );
    }

    #[test]
    fn covers_table() {
        assert!(covers("a b c", "c a"));
        assert!(covers("a", ""));
        assert!(!covers("a b", "a d"));
    }
}
