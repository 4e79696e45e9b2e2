//! The front door every stdio→network mode shares: DNS-rebinding checks
//! (Host and Origin), CORS, health endpoints, the user's `--header` values,
//! and error responses with JSON-RPC bodies.

use std::rc::Rc;

use supergateway_proto::http::{
    is_allowed_authority, is_allowed_origin, is_loopback_host, Cidr, Method, RequestHead,
};
use supergateway_proto::jsonrpc::{codes, encode_error};
use supergateway_proto::rate_limit::Refused as RateRefused;

use crate::auth::resource::{Refused, Rejection, Resource};
use crate::auth::{bearer_token, Caller, Denied, Tokens};
use crate::cli::{Config, Cors, Output};
use crate::gateway::rate::{self, Client, MessageLimit, RateLimits};
use crate::gateway::refusal::Refusal;
use crate::http::response::Response;
use crate::http::server::{Conn, Next};
use crate::metrics::{self, Counters, Reason};
use crate::runtime::Runtime;

/// See the module documentation.
pub(crate) struct Front {
    /// `--header` values and the runtime headers (defaults, or a session's).
    runtime: Rc<Runtime>,
    cors: Cors,
    /// Bound to loopback: requests must name a local Host, and an Origin must
    /// be local or allowed by `--cors` (MCP transports: servers MUST validate
    /// Origin; this blocks DNS rebinding from web pages).
    local_only: bool,
    /// `--tlsClientCa`: browsers send client certificates by themselves,
    /// so Origins are checked on every bind address.
    client_certificates: bool,
    /// `--allowedHost`: names that pass that check besides the local ones.
    allowed_hosts: Vec<String>,
    health: Vec<String>,
    /// `--metricsEndpoint`: the Prometheus exposition, behind the tokens
    /// when there are any (it tells traffic volumes and who was refused).
    metrics: Option<String>,
    /// `--readyEndpoint`: 200 while not draining and this is true (the
    /// server's shared child is ready, or every server is: `with_readiness`).
    ready: Vec<String>,
    ready_check: Rc<dyn Fn() -> bool>,
    /// `--authTokenFile`, `SUPERGATEWAY_AUTH_TOKEN`: the bearer tokens every
    /// request past the health endpoints and CORS preflights needs.
    tokens: Option<Tokens>,
    /// `--trustedProxy`: peers whose `X-Forwarded-For` names the client.
    trusted: Vec<Cidr>,
    /// `--rateLimit`: the buckets every request past authentication (and
    /// every WebSocket message) takes a token from.
    rate: Option<Rc<RateLimits>>,
    /// `--authIssuer`: OAuth access tokens pass too (with tokens, either
    /// does).
    resource: Option<Rc<Resource>>,
    /// Where refusals are counted (`None`: metrics off).
    counters: Option<Rc<Counters>>,
}

/// The MCP endpoints `config` serves (their protected-resource metadata
/// is served at `/.well-known/oauth-protected-resource` + the path). The
/// gateway-wide front door of `--config` serves none: each server's own
/// front door answers for its endpoints (`gateway::servers`).
fn endpoint_paths(config: &Config) -> Vec<String> {
    if !config.servers.is_empty() {
        return Vec::new();
    }
    match config.output {
        Output::Sse => vec![config.sse_path.clone(), config.message_path.clone()],
        Output::Ws => vec![config.message_path.clone()],
        Output::StreamableHttp => vec![config.streamable_http_path.clone()],
        Output::Stdio => Vec::new(),
    }
}

impl Front {
    pub(crate) fn new(config: &Config, runtime: &Rc<Runtime>) -> Self {
        Self {
            runtime: Rc::clone(runtime),
            cors: config.cors.clone(),
            local_only: is_loopback_host(&config.host),
            client_certificates: config
                .tls
                .as_ref()
                .is_some_and(|tls| tls.files.client_ca.is_some()),
            allowed_hosts: config.allowed_hosts.clone(),
            health: config.health_endpoints.clone(),
            // With `--metricsPort` the metrics are served there only.
            metrics: config
                .metrics_endpoint
                .clone()
                .filter(|_| config.metrics_port.is_none()),
            ready: config.ready_endpoints.clone(),
            counters: crate::relay_settings::counters_for(config),
            ready_check: {
                let runtime = Rc::clone(runtime);
                Rc::new(move || runtime.is_ready())
            },
            tokens: config.auth_tokens.as_ref().map(Tokens::new),
            trusted: config.trusted_proxies.clone(),
            rate: config
                .rate_limit
                .map(|rate| RateLimits::for_server(config.server_name.as_deref(), rate)),
            resource: config.auth_oauth.as_ref().map(|settings| {
                let paths = endpoint_paths(config);
                let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
                Resource::new(settings, &paths)
            }),
        }
    }

    /// The metrics of the server and transport this front door is for.
    pub(crate) fn counters(&self) -> Option<Rc<Counters>> {
        self.counters.clone()
    }

    /// Counts a refusal in the metrics of the server this front door is
    /// for.
    pub(crate) fn count_refused(&self, reason: Reason) {
        if let Some(counters) = &self.counters {
            counters.refused(reason);
        }
    }

    /// Readiness from `check` instead of the runtime's shared child.
    pub(crate) fn with_readiness(mut self, check: Rc<dyn Fn() -> bool>) -> Self {
        self.ready_check = check;
        self
    }

    /// Handles what comes before a mode's routes: the Host/Origin check, CORS
    /// preflight, health endpoints and authentication. `Ok(caller)` when the
    /// mode is to answer, `Err(next)` when the request has been answered here.
    pub(crate) async fn intercept(
        &self,
        head: &RequestHead,
        conn: &mut Conn,
        healthy: bool,
    ) -> Result<Caller, Next> {
        if let Err(why) = self.check_origin(head) {
            self.count_refused(Reason::Origin);
            tracing::warn!("refused {} {} (403): {why}", head.method_str(), head.path());
            return Err(self.error(head, conn, 403, codes::SERVER_ERROR, why).await);
        }
        if let Err(why) = one_session_id(head) {
            self.count_refused(Reason::Limits);
            tracing::info!("refused {} {} (400): {why}", head.method_str(), head.path());
            return Err(self.error(head, conn, 400, codes::SERVER_ERROR, why).await);
        }
        // Preflights carry no credentials (Fetch standard), so they cannot
        // be asked for them; they reveal nothing but the CORS policy.
        if head.method() == Method::Options
            && head.header("access-control-request-method").is_some()
        {
            return Err(self.preflight(head, conn).await);
        }
        // HEAD gets GET's head (the driver drops the body).
        if matches!(head.method(), Method::Get | Method::Head)
            && self.health.iter().any(|path| path == head.path())
        {
            let response = if healthy {
                Response::new(200).text("ok")
            } else {
                Response::new(503).text("unhealthy")
            };
            return Err(self.send(head, conn, response).await);
        }
        // Readiness, open like health: a load balancer asks it.
        if matches!(head.method(), Method::Get | Method::Head)
            && self.ready.iter().any(|path| path == head.path())
        {
            let response = if !crate::gateway::is_draining() && (self.ready_check)() {
                Response::new(200).text("ready")
            } else {
                Response::new(503).text("not ready")
            };
            return Err(self.send(head, conn, response).await);
        }
        if let Some(resource) = &self.resource {
            // RFC 9728: open, so that a client without a token learns
            // where to get one.
            if matches!(head.method(), Method::Get | Method::Head) {
                if let Some(document) = resource.metadata(head.path()) {
                    let response = Response::new(200).json(document);
                    return Err(self.send(head, conn, response).await);
                }
            }
        }
        let mut caller = self.authenticate(head, conn).await?;
        // Scrapes come after authentication but take no rate-limit token:
        // a scraper polls on its own schedule and must not be throttled
        // by, or throttle, the clients it measures.
        if matches!(head.method(), Method::Get | Method::Head)
            && self.metrics.as_deref() == Some(head.path())
        {
            let body = metrics::render();
            let response = Response::new(200)
                .header("content-type", b"text/plain; version=0.0.4; charset=utf-8")
                .header("cache-control", b"no-store")
                .body(&body);
            return Err(self.send(head, conn, response).await);
        }
        // Mutual TLS: the verified client certificate's subject, so a
        // session opened with one certificate refuses another (403).
        caller.certificate = conn.certificate().cloned();
        // Counted once authenticated: a caller is who it proved to be.
        // Refused authentications took from the address's bucket already
        // (`slow_down`).
        if let Some(rate) = &self.rate {
            let client = self.client(head, conn);
            if let Err(refused) = rate.check(rate::key_of(&caller, client.address)) {
                return Err(self.too_many_requests(head, conn, client, refused).await);
            }
        }
        Ok(caller)
    }

    /// Who the caller is, by the configured mechanisms (a static token or an
    /// OAuth access token), or the refusal already sent.
    async fn authenticate(&self, head: &RequestHead, conn: &mut Conn) -> Result<Caller, Next> {
        if self.tokens.is_none() && self.resource.is_none() {
            return Ok(Caller::default());
        }
        let token = match bearer_token(head.header_values("authorization")) {
            Ok(token) => token,
            Err(denied) => {
                if let Some(next) = self.slow_down(head, conn).await {
                    return Err(next);
                }
                return Err(self.unauthorized(head, conn, denied).await);
            }
        };
        if let Some(digest) = self.tokens.as_ref().and_then(|tokens| tokens.check(token)) {
            return Ok(Caller {
                token: Some(digest),
                ..Caller::default()
            });
        }
        let Some(resource) = &self.resource else {
            if let Some(next) = self.slow_down(head, conn).await {
                return Err(next);
            }
            return Err(self.unauthorized(head, conn, Denied::UnknownToken).await);
        };
        match resource.authenticate(token).await {
            Ok(principal) => {
                // Fields, so JSON logs carry them as such; Debug quotes and
                // escapes what the issuer put in them. Never the token.
                tracing::debug!(
                    subject = ?principal.subject,
                    client_id = ?principal.client_id.as_deref().unwrap_or(""),
                    "request {} {} authenticated",
                    head.method_str(),
                    head.path(),
                );
                Ok(Caller {
                    principal: Some(principal),
                    ..Caller::default()
                })
            }
            Err(Rejection::Busy) => Err(self.introspection_busy(head, conn).await),
            Err(Rejection::Refused(refused)) => {
                // A bad token (401), not a missing scope (403, the caller
                // is known) nor the issuer's trouble (503).
                if matches!(&refused, Refused::Token(err) if err.status() == 401) {
                    if let Some(next) = self.slow_down(head, conn).await {
                        return Err(next);
                    }
                }
                Err(self.refused(head, conn, resource, &refused).await)
            }
        }
    }

    /// With `--rateLimit`, a refused authentication (401, or 400 for two
    /// `Authorization` headers) takes a token from the bucket of the
    /// client's address, the one unauthenticated requests would use: a
    /// client guessing tokens is slowed like any other. `Some` (a 429
    /// sent) once that bucket is empty. A caller that authenticates is
    /// counted in its own bucket only, never its address's, so others
    /// guessing from its address cannot lock it out.
    async fn slow_down(&self, head: &RequestHead, conn: &mut Conn) -> Option<Next> {
        let rate = self.rate.as_ref()?;
        let client = self.client(head, conn);
        let refused = rate
            .check(rate::key_of(&Caller::default(), client.address))
            .err()?;
        Some(self.too_many_requests(head, conn, client, refused).await)
    }

    /// 503 with `Retry-After: 1` and a JSON-RPC error body: too many
    /// introspection requests in flight. No challenge, the token may be
    /// good.
    async fn introspection_busy(&self, head: &RequestHead, conn: &mut Conn) -> Next {
        self.count_refused(Reason::Limits);
        let why = "too many token introspections in flight";
        tracing::warn!(
            "refused {} {} from {} (503): {why}",
            head.method_str(),
            head.path(),
            self.client(head, conn)
        );
        let mut body = Vec::with_capacity(96);
        encode_error(
            &mut body,
            None,
            codes::SERVER_ERROR,
            &format!("Service Unavailable: {why}"),
        );
        let response = Response::new(503).header("retry-after", b"1").json(&body);
        self.send(head, conn, response).await
    }

    /// Where the request came from: the peer, or behind a `--trustedProxy`
    /// the address its `X-Forwarded-For` names.
    pub(crate) fn client(&self, head: &RequestHead, conn: &Conn) -> Client {
        Client::of(head, conn.peer(), &self.trusted)
    }

    /// The bucket the messages of a WebSocket opened by this request take
    /// from (the same as its requests'), with `--rateLimit`.
    pub(crate) fn message_limit(
        &self,
        head: &RequestHead,
        conn: &Conn,
        caller: &Caller,
    ) -> Option<MessageLimit> {
        let limits = self.rate.as_ref()?;
        let client = self.client(head, conn);
        Some(MessageLimit {
            limits: Rc::clone(limits),
            key: rate::key_of(caller, client.address),
        })
    }

    /// 429 with `Retry-After` (whole seconds, rounded up) and a JSON-RPC
    /// error body; logged on the first refusal of a burst only.
    async fn too_many_requests(
        &self,
        head: &RequestHead,
        conn: &mut Conn,
        client: Client,
        refused: RateRefused,
    ) -> Next {
        self.count_refused(Reason::Rate);
        let retry_after = refused.retry_after_secs();
        if refused.first {
            tracing::warn!(
                "refused {} {} from {client} (429): over --rateLimit {}; \
                 further refusals until it refills are not logged",
                head.method_str(),
                head.path(),
                self.rate
                    .as_ref()
                    .map(|rate| rate.rate().to_string())
                    .unwrap_or_default()
            );
        }
        let mut body = Vec::with_capacity(96);
        encode_error(&mut body, None, codes::SERVER_ERROR, rate::TOO_MANY);
        let retry_after = retry_after.to_string();
        let response = Response::new(429)
            .header("retry-after", retry_after.as_bytes())
            .json(&body);
        self.send(head, conn, response).await
    }

    /// 401 (400 for two `Authorization` headers) with the RFC 6750
    /// challenge and a JSON-RPC error body. The log line says why, never
    /// what was presented.
    async fn unauthorized(&self, head: &RequestHead, conn: &mut Conn, denied: Denied) -> Next {
        self.count_refused(Reason::Auth);
        let why = denied.reason();
        let status = denied.status();
        tracing::warn!(
            "refused {} {} from {} ({status}): {why}",
            head.method_str(),
            head.path(),
            self.client(head, conn)
        );
        let challenge = match &self.resource {
            // The OAuth challenge tells a client where to get a token.
            Some(resource) => {
                // The description without the status word the body has.
                let description = why.split_once(": ").map_or(why, |(_, rest)| rest);
                std::borrow::Cow::Owned(
                    resource.challenge(denied.error().map(|code| (code, description))),
                )
            }
            None => std::borrow::Cow::Borrowed(denied.challenge()),
        };
        let mut body = Vec::with_capacity(96);
        encode_error(&mut body, None, codes::SERVER_ERROR, why);
        let response = Response::new(status)
            .header("www-authenticate", &challenge)
            .json(&body);
        self.send(head, conn, response).await
    }

    /// An OAuth token refused: 401 `invalid_token`, 403
    /// `insufficient_scope` (MCP authorization, "Scope Challenge
    /// Handling"), or 503 when the issuer could not be asked.
    async fn refused(
        &self,
        head: &RequestHead,
        conn: &mut Conn,
        resource: &Resource,
        refused: &Refused,
    ) -> Next {
        self.count_refused(Reason::Auth);
        // What was wrong, never the token's contents (proto's Display
        // promises that); the missing scopes are from our own flags.
        let (status, challenge, why) = match refused {
            Refused::Token(err) => {
                let code = if err.status() == 403 {
                    "insufficient_scope"
                } else {
                    "invalid_token"
                };
                let why = err.to_string();
                (
                    err.status(),
                    Some(resource.challenge(Some((code, &why)))),
                    why,
                )
            }
            // Not the caller's fault: no challenge, which would send a
            // client after a new token it does not need.
            Refused::Unavailable => (
                503,
                None,
                "the authorization server's keys or introspection endpoint are unavailable"
                    .to_owned(),
            ),
        };
        tracing::warn!(
            "refused {} {} from {} ({status}): {why}",
            head.method_str(),
            head.path(),
            self.client(head, conn)
        );
        let message = match status {
            403 => format!("Forbidden: {why}"),
            503 => format!("Service Unavailable: {why}"),
            _ => format!("Unauthorized: {why}"),
        };
        let mut body = Vec::with_capacity(128);
        encode_error(&mut body, None, codes::SERVER_ERROR, &message);
        let mut response = Response::new(status);
        if let Some(challenge) = &challenge {
            response = response.header("www-authenticate", challenge);
        }
        self.send(head, conn, response.json(&body)).await
    }

    /// Adds the user's headers and the CORS headers to `response`, writes it.
    pub(crate) async fn send(
        &self,
        head: &RequestHead,
        conn: &mut Conn,
        response: Response<'_>,
    ) -> Next {
        let response = self.decorate(head, response);
        match conn.send(&response).await {
            Ok(()) => Next::KeepAlive,
            Err(_) => Next::Close,
        }
    }

    /// Adds the user's headers and the CORS headers.
    pub(crate) fn decorate<'a>(
        &'a self,
        head: &'a RequestHead,
        response: Response<'a>,
    ) -> Response<'a> {
        // A refusal never carries a session's own headers: the request
        // naming the session may be another caller's, or a foreign page's.
        let refused = matches!(response.status(), 401 | 403 | 429);
        let session = if self.runtime.has_session_headers() && !refused {
            head.query_param("sessionId")
                .or_else(|| head.header_str("mcp-session-id").map(str::to_owned))
        } else {
            None
        };
        let headers = self.runtime.response_headers(session.as_deref());
        let mut response = response.configured(headers);
        if let Some(origin) = self.cors_origin(head) {
            response = response
                .header("access-control-allow-origin", origin)
                .header("access-control-expose-headers", self.exposed_headers())
                .header("vary", b"origin");
        }
        response
    }

    /// What browsers may read: the session id, and the bearer challenge
    /// when tokens are required (a browser client needs it to know why).
    fn exposed_headers(&self) -> &'static [u8] {
        if self.tokens.is_some() || self.resource.is_some() {
            b"mcp-session-id, www-authenticate"
        } else {
            b"mcp-session-id"
        }
    }

    /// An error response with a JSON-RPC error body (`id: null`).
    pub(crate) async fn error(
        &self,
        head: &RequestHead,
        conn: &mut Conn,
        status: u16,
        code: i32,
        message: &str,
    ) -> Next {
        let mut body = Vec::with_capacity(96);
        encode_error(&mut body, None, code, message);
        self.send(head, conn, Response::new(status).json(&body))
            .await
    }

    /// The error response a [`Refusal`] describes.
    pub(crate) async fn refuse(
        &self,
        head: &RequestHead,
        conn: &mut Conn,
        refusal: Refusal,
    ) -> Next {
        if refusal == Refusal::TOO_MANY_SESSIONS {
            self.count_refused(Reason::Limits);
        } else if refusal == Refusal::OTHER_CALLER {
            self.count_refused(Reason::Auth);
        }
        if refusal == Refusal::OTHER_CALLER {
            // Logged as the 401s are: who was refused, without either token.
            tracing::warn!(
                "refused {} {} from {} (403): the session was opened by another caller",
                head.method_str(),
                head.path(),
                self.client(head, conn)
            );
        }
        self.error(head, conn, refusal.status, refusal.code, refusal.message)
            .await
    }

    /// 405 with the methods the path allows.
    pub(crate) async fn method_not_allowed(
        &self,
        head: &RequestHead,
        conn: &mut Conn,
        allow: &str,
    ) -> Next {
        let mut body = Vec::with_capacity(96);
        encode_error(&mut body, None, codes::SERVER_ERROR, "Method not allowed");
        let response = Response::new(405)
            .header("allow", allow.as_bytes())
            .json(&body);
        self.send(head, conn, response).await
    }

    fn check_origin(&self, head: &RequestHead) -> Result<(), &'static str> {
        if self.local_only
            && !head.host().is_empty()
            && !is_allowed_authority(head.host(), &self.allowed_hosts)
        {
            // HTTP/1.0 may omit Host; browsers (the DNS-rebinding threat) never do.
            return Err("Forbidden: Host is not a local address");
        }
        // Off loopback an Origin is checked only with client certificates:
        // a browser presents one to any page that makes it connect, unlike
        // a bearer token, so a cross-site page (a WebSocket most of all,
        // which CORS does not guard) would act as the user.
        let checked = self.local_only || self.client_certificates;
        match head.header_str("origin") {
            Some(origin)
                if checked
                    && !is_allowed_origin(origin, &self.allowed_hosts)
                    && !self.cors.allows(origin) =>
            {
                Err(if self.local_only {
                    "Forbidden: Origin is not allowed"
                } else {
                    "Forbidden: Origin is not allowed (client certificates are in use)"
                })
            }
            _ => Ok(()),
        }
    }

    /// The value for `access-control-allow-origin`, if CORS applies.
    fn cors_origin<'a>(&self, head: &'a RequestHead) -> Option<&'a [u8]> {
        match &self.cors {
            Cors::Off => None,
            Cors::Any => Some(head.header("origin").unwrap_or(b"*")),
            Cors::Origins(_) => {
                let origin = head.header_str("origin")?;
                self.cors.allows(origin).then_some(origin.as_bytes())
            }
        }
    }

    async fn preflight(&self, head: &RequestHead, conn: &mut Conn) -> Next {
        if self.cors_origin(head).is_none() {
            return self
                .error(
                    head,
                    conn,
                    403,
                    codes::SERVER_ERROR,
                    "CORS is not enabled for this origin",
                )
                .await;
        }
        let allow_headers = head
            .header("access-control-request-headers")
            .unwrap_or(b"content-type, accept, authorization, mcp-session-id, mcp-protocol-version, last-event-id");
        let response = Response::new(204)
            .header(
                "access-control-allow-methods",
                b"GET, POST, DELETE, OPTIONS",
            )
            .header("access-control-allow-headers", allow_headers)
            .header("access-control-max-age", b"86400");
        self.send(head, conn, response).await
    }
}

/// At most one `Mcp-Session-Id` header and one `sessionId` query parameter:
/// with two, which session a request belongs to would depend on whether the
/// reader takes the first or the last (a proxy in front may take the other
/// one than we do), so neither is chosen.
fn one_session_id(head: &RequestHead) -> Result<(), &'static str> {
    if head.header_values("mcp-session-id").nth(1).is_some() {
        return Err("Bad Request: more than one Mcp-Session-Id header");
    }
    if head.query_param_count("sessionId") > 1 {
        return Err("Bad Request: more than one sessionId parameter");
    }
    Ok(())
}
