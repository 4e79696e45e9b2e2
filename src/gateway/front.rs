//! The front door every stdio→network mode shares: DNS-rebinding checks
//! (Host and Origin), CORS, health endpoints, the user's `--header` values,
//! and error responses with JSON-RPC bodies.

use std::rc::Rc;

use supergateway_proto::http::{
    is_allowed_authority, is_allowed_origin, is_loopback_host, Method, RequestHead,
};
use supergateway_proto::jsonrpc::{codes, encode_error};

use crate::auth::{Caller, Denied, Tokens};
use crate::cli::{Config, Cors};
use crate::gateway::refusal::Refusal;
use crate::http::response::Response;
use crate::http::server::{Conn, Next};
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
    /// `--allowedHost`: names that pass that check besides the local ones.
    allowed_hosts: Vec<String>,
    health: Vec<String>,
    /// `--authTokenFile`, `SUPERGATEWAY_AUTH_TOKEN`: the bearer tokens every
    /// request past the health endpoints and CORS preflights needs.
    tokens: Option<Tokens>,
}

impl Front {
    pub(crate) fn new(config: &Config, runtime: &Rc<Runtime>) -> Self {
        Self {
            runtime: Rc::clone(runtime),
            cors: config.cors.clone(),
            local_only: is_loopback_host(&config.host),
            allowed_hosts: config.allowed_hosts.clone(),
            health: config.health_endpoints.clone(),
            tokens: config.auth_tokens.as_ref().map(Tokens::new),
        }
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
            tracing::warn!("refused {} {} (403): {why}", head.method_str(), head.path());
            return Err(self.error(head, conn, 403, codes::SERVER_ERROR, why).await);
        }
        if let Err(why) = one_session_id(head) {
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
        let mut caller = match &self.tokens {
            None => Caller::default(),
            Some(tokens) => match tokens.authenticate(head.header_values("authorization")) {
                Ok(caller) => caller,
                Err(denied) => return Err(self.unauthorized(head, conn, denied).await),
            },
        };
        // Mutual TLS: the verified client certificate's subject, so a
        // session opened with one certificate refuses another (403).
        caller.certificate = conn.certificate().cloned();
        Ok(caller)
    }

    /// 401 (400 for two `Authorization` headers) with the RFC 6750
    /// challenge and a JSON-RPC error body. The log line says why, never
    /// what was presented.
    async fn unauthorized(&self, head: &RequestHead, conn: &mut Conn, denied: Denied) -> Next {
        let why = denied.reason();
        let status = denied.status();
        tracing::warn!(
            "refused {} {} from {} ({status}): {why}",
            head.method_str(),
            head.path(),
            conn.peer()
        );
        let mut body = Vec::with_capacity(96);
        encode_error(&mut body, None, codes::SERVER_ERROR, why);
        let response = Response::new(status)
            .header("www-authenticate", denied.challenge())
            .json(&body);
        self.send(head, conn, response).await
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
        let session = if self.runtime.has_session_headers() {
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
        if self.tokens.is_some() {
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
        if refusal == Refusal::OTHER_CALLER {
            // Logged as the 401s are: who was refused, without either token.
            tracing::warn!(
                "refused {} {} from {} (403): the session was opened by another caller",
                head.method_str(),
                head.path(),
                conn.peer()
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
        if !self.local_only {
            return Ok(());
        }
        // HTTP/1.0 may omit Host; browsers (the DNS-rebinding threat) never do.
        if !head.host().is_empty() && !is_allowed_authority(head.host(), &self.allowed_hosts) {
            return Err("Forbidden: Host is not a local address");
        }
        match head.header_str("origin") {
            None => Ok(()),
            Some(origin)
                if is_allowed_origin(origin, &self.allowed_hosts) || self.cors.allows(origin) =>
            {
                Ok(())
            }
            Some(_) => Err("Forbidden: Origin is not allowed"),
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
