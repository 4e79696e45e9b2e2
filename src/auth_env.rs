//! `--authEnv CLAIM=VAR` (issue 16, item 4): the caller's identity in the
//! environment of the child it gets of its own (`--childPerSession`, and a
//! stateful Streamable HTTP session's child).
//!
//! Only allow-listed claims: the OAuth principal's `sub`, `client_id`,
//! `azp`, `email`, `preferred_username`, `name`, `iss` (from the verified
//! token's claims, else the principal's issuer, subject and client id), and
//! `tls_subject`, the subject of a verified client certificate. Values are
//! checked again here whatever the verifier did (printable, no control
//! characters, at most [`MAX_ENV_CLAIM_BYTES`](supergateway_proto::jwt::MAX_ENV_CLAIM_BYTES), not empty): they are someone
//! else's words going into a process environment. Names are checked at
//! start (`cli::validate`) against the runtime admin API's refusal list.
//!
//! A caller without a configured claim (or with one that fails the check)
//! gets no child: [`env_for`] fails and the session is refused (403), so a
//! child never starts without its caller's identity.

use std::fmt;

use crate::auth::Caller;

/// A claim `--authEnv` may hand to a child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    Azp,
    ClientId,
    Email,
    Iss,
    Name,
    PreferredUsername,
    Sub,
    TlsSubject,
}

/// What proves a claim: an OAuth access token or a client certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    Certificate,
    OAuth,
}

impl Claim {
    /// Every claim, in the order `--help`'s errors list them.
    pub(crate) const ALL: [Self; 8] = [
        Self::Sub,
        Self::ClientId,
        Self::Azp,
        Self::Email,
        Self::PreferredUsername,
        Self::Name,
        Self::Iss,
        Self::TlsSubject,
    ];

    /// The claim as `--authEnv` and the token spell it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Azp => "azp",
            Self::ClientId => "client_id",
            Self::Email => "email",
            Self::Iss => "iss",
            Self::Name => "name",
            Self::PreferredUsername => "preferred_username",
            Self::Sub => "sub",
            Self::TlsSubject => "tls_subject",
        }
    }

    pub(crate) fn source(self) -> Source {
        match self {
            Self::TlsSubject => Source::Certificate,
            _ => Source::OAuth,
        }
    }

    /// The 403's message when the caller lacks the claim (static: the
    /// refusal carries a `&'static str`).
    fn missing(self) -> &'static str {
        match self {
            Self::Azp => "Forbidden: the caller has no azp claim, which --authEnv passes to its MCP server",
            Self::ClientId => "Forbidden: the caller has no client_id claim, which --authEnv passes to its MCP server",
            Self::Email => "Forbidden: the caller has no email claim, which --authEnv passes to its MCP server",
            Self::Iss => "Forbidden: the caller has no iss claim, which --authEnv passes to its MCP server",
            Self::Name => "Forbidden: the caller has no name claim, which --authEnv passes to its MCP server",
            Self::PreferredUsername => "Forbidden: the caller has no preferred_username claim, which --authEnv passes to its MCP server",
            Self::Sub => "Forbidden: the caller has no sub claim, which --authEnv passes to its MCP server",
            Self::TlsSubject => "Forbidden: the caller has no client certificate subject (tls_subject), which --authEnv passes to its MCP server",
        }
    }

    /// The 403's message when the claim cannot go into an environment.
    fn unusable(self) -> &'static str {
        match self {
            Self::Azp => "Forbidden: the caller's azp claim is empty, over 256 bytes or has control characters",
            Self::ClientId => "Forbidden: the caller's client_id claim is empty, over 256 bytes or has control characters",
            Self::Email => "Forbidden: the caller's email claim is empty, over 256 bytes or has control characters",
            Self::Iss => "Forbidden: the caller's iss claim is empty, over 256 bytes or has control characters",
            Self::Name => "Forbidden: the caller's name claim is empty, over 256 bytes or has control characters",
            Self::PreferredUsername => "Forbidden: the caller's preferred_username claim is empty, over 256 bytes or has control characters",
            Self::Sub => "Forbidden: the caller's sub claim is empty, over 256 bytes or has control characters",
            Self::TlsSubject => "Forbidden: the caller's certificate subject is empty, over 256 bytes or has control characters",
        }
    }

    /// The caller's value of this claim, unchecked.
    fn value_of(self, caller: &Caller) -> Option<&str> {
        if self == Self::TlsSubject {
            return caller.certificate.as_deref();
        }
        let principal = caller.principal.as_deref()?;
        let name = self.name();
        let claimed = principal
            .claims
            .iter()
            .find(|(claim, _)| *claim == name)
            .map(|(_, value)| value.as_str());
        claimed.or(match self {
            Self::Sub => Some(principal.subject.as_str()),
            Self::Iss => Some(principal.issuer.as_str()),
            Self::ClientId => principal.client_id.as_deref(),
            _ => None,
        })
    }
}

/// One `--authEnv CLAIM=VAR`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mapping {
    pub(crate) claim: Claim,
    /// An environment name (`cli::is_env_name`), not on the refusal list.
    pub(crate) var: String,
}

/// Why a caller gets no child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The caller does not have this claim.
    Missing(Claim),
    /// Its value cannot go into an environment.
    Unusable(Claim),
}

impl Refused {
    /// The message of the 403's JSON-RPC error.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Self::Missing(claim) => claim.missing(),
            Self::Unusable(claim) => claim.unusable(),
        }
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// Splits `CLAIM=VAR`, the claim allow-listed; the name is the caller's to
/// check (it needs the refusal list and `--runtimeAllowEnv`).
pub(crate) fn parse(text: &str) -> Result<Mapping, String> {
    let Some((claim, var)) = text.split_once('=') else {
        return Err(format!("--authEnv must look like CLAIM=VAR (got {text:?})"));
    };
    let Some(claim) = Claim::ALL.into_iter().find(|c| c.name() == claim) else {
        let names: Vec<&str> = Claim::ALL.iter().map(|c| c.name()).collect();
        return Err(format!(
            "--authEnv claim must be one of {} (got {claim:?})",
            names.join(", ")
        ));
    };
    Ok(Mapping {
        claim,
        var: var.to_owned(),
    })
}

/// The environment `caller`'s own child gets: `VAR=value` for each mapping,
/// in order; refused when a claim is missing or unusable.
pub(crate) fn env_for(
    mappings: &[Mapping],
    caller: &Caller,
) -> Result<Vec<(String, String)>, Refused> {
    let mut env = Vec::with_capacity(mappings.len());
    for mapping in mappings {
        let value = mapping
            .claim
            .value_of(caller)
            .ok_or(Refused::Missing(mapping.claim))?;
        if !is_usable(value) {
            return Err(Refused::Unusable(mapping.claim));
        }
        env.push((mapping.var.clone(), value.to_owned()));
    }
    Ok(env)
}

/// Not empty, at most [`MAX_ENV_CLAIM_BYTES`](supergateway_proto::jwt::MAX_ENV_CLAIM_BYTES), no control character (NUL, CR,
/// LF, ESC, DEL and the C1 controls included): the rule the token verifier
/// already applies to the claims it keeps, applied again here because a
/// certificate subject comes from elsewhere.
fn is_usable(value: &str) -> bool {
    supergateway_proto::jwt::env_value(value)
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;
    use crate::auth::Principal;

    fn oauth(claims: &[(&'static str, &str)]) -> Caller {
        Caller {
            principal: Some(Rc::new(Principal {
                issuer: "https://as.example".to_owned(),
                subject: "alice-subject".to_owned(),
                client_id: Some("client-7".to_owned()),
                claims: claims.iter().map(|(n, v)| (*n, (*v).to_owned())).collect(),
            })),
            ..Caller::default()
        }
    }

    fn map(pairs: &[&str]) -> Vec<Mapping> {
        pairs.iter().map(|pair| parse(pair).unwrap()).collect()
    }

    fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
        env.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect()
    }

    #[test]
    fn accept_and_reject_mappings() {
        for (text, claim, var) in [
            ("sub=MCP_USER", Claim::Sub, "MCP_USER"),
            ("client_id=CLIENT", Claim::ClientId, "CLIENT"),
            ("azp=AZP", Claim::Azp, "AZP"),
            ("email=USER_EMAIL", Claim::Email, "USER_EMAIL"),
            (
                "preferred_username=LOGIN",
                Claim::PreferredUsername,
                "LOGIN",
            ),
            ("name=FULL_NAME", Claim::Name, "FULL_NAME"),
            ("iss=ISSUER", Claim::Iss, "ISSUER"),
            ("tls_subject=CLIENT_DN", Claim::TlsSubject, "CLIENT_DN"),
            // The name is checked by the caller (cli::validate).
            ("sub=", Claim::Sub, ""),
        ] {
            let mapping = parse(text).unwrap();
            assert_eq!(
                (mapping.claim, mapping.var.as_str()),
                (claim, var),
                "{text}"
            );
        }
        for text in [
            "sub", "", "=X", "SUB=X", "groups=X", "scope=X", "sub =X", "aud=X",
        ] {
            assert!(parse(text).is_err(), "{text:?}");
        }
        let err = parse("groups=X").unwrap_err();
        assert!(
            err.contains("sub, client_id, azp, email, preferred_username, name, iss, tls_subject"),
            "{err}"
        );
    }

    #[test]
    fn env_from_the_callers_claims() {
        let caller = oauth(&[("email", "alice@example.com"), ("name", "Alice Ä. Example")]);
        let env = env_for(
            &map(&["sub=U", "email=E", "name=N", "iss=I", "client_id=C"]),
            &caller,
        )
        .unwrap();
        assert_eq!(
            pairs(&env),
            [
                ("U", "alice-subject"),
                ("E", "alice@example.com"),
                ("N", "Alice Ä. Example"),
                ("I", "https://as.example"),
                ("C", "client-7"),
            ]
        );
        // A claim in the token wins over the principal's fields.
        let env = env_for(
            &map(&["client_id=C"]),
            &oauth(&[("client_id", "from-token")]),
        )
        .unwrap();
        assert_eq!(pairs(&env), [("C", "from-token")]);
        // No mapping, no environment, whoever calls.
        assert!(env_for(&[], &Caller::default()).unwrap().is_empty());
    }

    #[test]
    fn env_from_the_client_certificate() {
        let caller = Caller {
            certificate: Some(Rc::from("CN=alice,O=Example")),
            ..Caller::default()
        };
        let env = env_for(&map(&["tls_subject=DN"]), &caller).unwrap();
        assert_eq!(pairs(&env), [("DN", "CN=alice,O=Example")]);
        assert_eq!(
            env_for(&map(&["sub=U"]), &caller),
            Err(Refused::Missing(Claim::Sub))
        );
    }

    #[test]
    fn a_missing_claim_refuses_the_caller() {
        assert_eq!(
            env_for(&map(&["sub=U"]), &Caller::default()),
            Err(Refused::Missing(Claim::Sub))
        );
        assert_eq!(
            env_for(&map(&["sub=U", "email=E"]), &oauth(&[])),
            Err(Refused::Missing(Claim::Email))
        );
        assert_eq!(
            env_for(&map(&["tls_subject=DN"]), &oauth(&[])),
            Err(Refused::Missing(Claim::TlsSubject))
        );
        let message = Refused::Missing(Claim::Email).message();
        assert!(
            message.starts_with("Forbidden: ") && message.contains("email"),
            "{message}"
        );
        for claim in Claim::ALL {
            assert!(claim.missing().contains(claim.name()), "{claim:?}");
            assert!(Refused::Unusable(claim)
                .message()
                .starts_with("Forbidden: "));
        }
    }

    #[test]
    fn values_are_checked_again() {
        let long = "a".repeat(supergateway_proto::jwt::MAX_ENV_CLAIM_BYTES + 1);
        let fits = "é".repeat(supergateway_proto::jwt::MAX_ENV_CLAIM_BYTES / 2);
        for (value, ok) in [
            ("alice", true),
            ("Alice Example <alice@example.com>", true),
            (fits.as_str(), true),
            (long.as_str(), false),
            ("", false),
            ("a\0b", false),
            ("a\nb", false),
            ("a\rb", false),
            ("a\tb", false),
            ("a\u{1b}[31mb", false),
            ("a\u{7f}", false),
            ("a\u{85}b", false),
        ] {
            let result = env_for(&map(&["email=E"]), &oauth(&[("email", value)]));
            assert_eq!(result.is_ok(), ok, "{value:?}");
            if !ok {
                assert_eq!(result, Err(Refused::Unusable(Claim::Email)));
            }
        }
    }
}
