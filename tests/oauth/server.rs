//! An in-tree OAuth 2.1 authorization server and protected MCP server for the end-to-end tests
//! of the reverse bridges' OAuth client (design/oauth-client.md c.2). Std threads and a
//! `TcpListener` on 127.0.0.1, one port for both roles. Include it with
//! `#[path = "oauth/server.rs"] mod oauth_server;`; its own tests are `tests/oauth_server.rs`.
//!
//! # Routes (BASE = `http://127.0.0.1:PORT`; P = an authorization server's path prefix)
//!
//! One listener hosts the MCP server and one or more authorization servers, each under its
//! prefix (`Config::prefixes`, default `[""]`: one AS at the root; issuer `BASE` + P). The
//! PRM names the AS `Config::current` (switchable: authorization-server migration).
//!
//! - `GET /.well-known/oauth-protected-resource/mcp` (or `…-resource` at the root with
//!   `prm_at_root`): `{"resource": BASE/mcp, "authorization_servers": [issuer],
//!   "scopes_supported"?: prm_scopes}`.
//! - `POST /mcp` (the protected resource). No `Authorization: Bearer` → 401 with
//!   `WWW-Authenticate: Bearer resource_metadata="BASE/.well-known/…"[, scope="challenge_scope"]`;
//!   an unknown, expired (its `expires_in` passed, or `expire_access_tokens`) or foreign token
//!   (issued by an AS other than the current one, or for another `resource`) → 401 with
//!   `error="invalid_token"` added; `tools/call` without `Config::call_scope` among the token's
//!   scopes → 403 `Bearer error="insufficient_scope", scope="CALL_SCOPE", resource_metadata=…`.
//!   Then a tiny legacy MCP server: `initialize` (echoes the version), `ping`, `tools/list`
//!   (`whoami`), `tools/call whoami` → text `scopes=SCOPES`; notifications → 202;
//!   `server/discover` and anything else → -32601 (a handshake-era server). `GET /mcp` → 405.
//! - `GET /.well-known/oauth-authorization-server` + P: RFC 8414 metadata (`issuer` =
//!   `metadata_issuer` when set, for mismatch tests), endpoints under P, `scopes_supported`
//!   (`as_scopes`), `token_endpoint_auth_methods_supported` (`auth_methods`),
//!   `code_challenge_methods_supported: ["S256"]`, `grant_types_supported`,
//!   `authorization_response_iss_parameter_supported` (`iss_supported`, omitted when `None`),
//!   `client_id_metadata_document_supported` when `cimd`, `registration_endpoint` when `dcr`,
//!   `device_authorization_endpoint`.
//! - `POST P/register` (RFC 7591, JSON): needs `redirect_uris` (non-empty, for clients that
//!   ask for `authorization_code`); answers 201 with `client_id` `client-N`, a `client_secret`
//!   unless the method is `none`, and `token_endpoint_auth_method`: the requested one when this
//!   AS supports it, else its first. Records `application_type`.
//! - `GET P/authorize`: needs `response_type=code`, a known `client_id` (registered here,
//!   pre-registered in `Config::clients`, or an `https://` CIMD URL when `cimd`), a
//!   `redirect_uri` (one of the client's, any for CIMD), `code_challenge` with
//!   `code_challenge_method=S256`, and `resource`; approves at once (no person): `302` to
//!   `redirect_uri?code=C&state=S&iss=ISS` (`iss` per `Config::iss`). Bad requests → 400
//!   text (a bad redirect URI is never redirected to); `deny` → redirect with
//!   `error=access_denied`.
//! - `POST P/token` (form): client authentication as registered — `client_secret_basic`
//!   (Basic header, RFC 6749 §2.3.1 form-decoded id and secret), `client_secret_post`, or
//!   `none` (`client_id` only) — else 401 `invalid_client`. Grants:
//!   `authorization_code` (one use; same client and `redirect_uri`; PKCE S256 of
//!   `code_verifier` equals the challenge; `resource` equals the authorize one) →
//!   access + refresh token; `refresh_token` (known, not revoked, same client, same
//!   `resource`; rotated when `rotate_refresh`: the old one is revoked) → new access token;
//!   `client_credentials` (confidential clients) → access token, no refresh token;
//!   `urn:ietf:params:oauth:grant-type:device_code` → `authorization_pending` for the first
//!   `device_pending_polls` polls, then tokens. `revoke_refresh_tokens()` makes every refresh
//!   token `invalid_grant`. Tokens last `Config::expires_in` seconds.
//! - `POST P/device_authorization` (RFC 8628): `{device_code, user_code, verification_uri,
//!   verification_uri_complete, expires_in: 600, interval: device_interval}`.
//! - `GET /_test/counts`: the counters as JSON (for a test that runs this out of process).
//!
//! Every token, code, secret and device code issued is remembered (`TestAs::secrets`) so a
//! test can assert none of them reached a log.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How the authorization redirect carries `iss` (RFC 9207).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Iss {
    /// The issuer, exactly.
    Correct,
    /// No `iss` parameter.
    Omit,
    /// `https://evil.example.com`.
    Wrong,
    /// The issuer with a trailing `/` (equal only after normalisation).
    Normalized,
}

/// A pre-registered client.
#[derive(Clone, Debug)]
pub struct Client {
    pub id: String,
    pub secret: Option<String>,
    /// `none`, `client_secret_basic` or `client_secret_post`.
    pub method: String,
    pub redirect_uris: Vec<String>,
    /// The AS prefix it belongs to.
    pub prefix: String,
}

/// What the servers do; change it at run time with [`TestAs::update`].
#[derive(Clone, Debug)]
pub struct Config {
    /// Authorization servers by path prefix (`""`: at the root).
    pub prefixes: Vec<String>,
    /// Index into `prefixes` of the AS the PRM names.
    pub current: usize,
    /// Serve the PRM at the root well-known path instead of the path-based one.
    pub prm_at_root: bool,
    /// `scopes_supported` in the PRM (omitted when `None`).
    pub prm_scopes: Option<Vec<String>>,
    /// `scope` in the 401 challenge (omitted when `None`).
    pub challenge_scope: Option<String>,
    /// The scope `tools/call` needs (403 insufficient_scope without it).
    pub call_scope: Option<String>,
    /// `scopes_supported` in the AS metadata.
    pub as_scopes: Option<Vec<String>>,
    /// `token_endpoint_auth_methods_supported`.
    pub auth_methods: Vec<String>,
    /// Advertise and serve dynamic registration.
    pub dcr: bool,
    /// Advertise `client_id_metadata_document_supported` and accept https client ids.
    pub cimd: bool,
    /// `authorization_response_iss_parameter_supported` (omitted when `None`).
    pub iss_supported: Option<bool>,
    pub iss: Iss,
    /// Overrides the metadata `issuer` (the well-known URL still derives from the prefix).
    pub metadata_issuer: Option<String>,
    /// Lifetime of access tokens.
    pub expires_in: u64,
    /// Issue refresh tokens with authorization_code and device grants.
    pub refresh_tokens: bool,
    /// A refresh revokes the refresh token it used and issues a new one.
    pub rotate_refresh: bool,
    /// Polls answered `authorization_pending` before the device grant succeeds.
    pub device_pending_polls: u32,
    /// The `interval` the device authorization answer gives.
    pub device_interval: u64,
    /// The authorization endpoint redirects with `error=access_denied`.
    pub deny: bool,
    /// Pre-registered clients.
    pub clients: Vec<Client>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            prefixes: vec![String::new()],
            current: 0,
            prm_at_root: false,
            prm_scopes: None,
            challenge_scope: None,
            call_scope: None,
            as_scopes: None,
            auth_methods: vec![
                "none".into(),
                "client_secret_basic".into(),
                "client_secret_post".into(),
            ],
            dcr: true,
            cimd: false,
            iss_supported: Some(true),
            iss: Iss::Correct,
            metadata_issuer: None,
            expires_in: 3600,
            refresh_tokens: true,
            rotate_refresh: true,
            device_pending_polls: 1,
            device_interval: 1,
            deny: false,
            clients: Vec::new(),
        }
    }
}

/// What the servers saw.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    /// Token requests by `grant_type` (failed ones included).
    pub token: HashMap<String, u32>,
    /// Token requests by `grant_type` that were answered 200.
    pub token_ok: HashMap<String, u32>,
    pub authorize: u32,
    pub register: u32,
    pub prm: u32,
    pub metadata: u32,
    pub device: u32,
    /// `POST /mcp` answered 401 / 403 / passed to the MCP server.
    pub mcp_401: u32,
    pub mcp_403: u32,
    pub mcp_ok: u32,
}

impl Counts {
    pub fn token(&self, grant: &str) -> u32 {
        self.token.get(grant).copied().unwrap_or(0)
    }
    pub fn token_ok(&self, grant: &str) -> u32 {
        self.token_ok.get(grant).copied().unwrap_or(0)
    }
}

/// A registration request as received.
#[derive(Clone, Debug)]
pub struct Registration {
    pub prefix: String,
    pub body: Value,
}

/// An authorization request as received (its query, decoded).
#[derive(Clone, Debug)]
pub struct Authorization {
    pub prefix: String,
    pub query: HashMap<String, String>,
}

/// A token request as received (form body decoded, plus the Basic client id if any).
#[derive(Clone, Debug)]
pub struct TokenRequest {
    pub prefix: String,
    pub form: HashMap<String, String>,
    pub basic_client: Option<String>,
}

/// The running servers. Dropping it stops accepting (connections already open finish).
pub struct TestAs {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
}

struct Shared {
    config: Config,
    counts: Counts,
    registrations: Vec<Registration>,
    authorizations: Vec<Authorization>,
    token_requests: Vec<TokenRequest>,
    clients: Vec<Client>,
    codes: HashMap<String, Code>,
    access: HashMap<String, Access>,
    refresh: HashMap<String, Refresh>,
    devices: HashMap<String, Device>,
    secrets: Vec<String>,
    next: u64,
    stopped: bool,
    /// Runs (once) before the next token endpoint answer is written.
    token_hook: Option<Box<dyn FnOnce() + Send>>,
}

struct Code {
    prefix: String,
    client: String,
    redirect_uri: String,
    challenge: String,
    scope: Option<String>,
    resource: String,
}

struct Access {
    prefix: String,
    scope: Option<String>,
    resource: Option<String>,
    expires: Instant,
}

struct Refresh {
    prefix: String,
    client: String,
    scope: Option<String>,
    resource: Option<String>,
    revoked: bool,
}

struct Device {
    prefix: String,
    client: String,
    scope: Option<String>,
    resource: Option<String>,
    polls: u32,
}

impl TestAs {
    pub fn start(config: Config) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let clients = config.clients.clone();
        let shared = Arc::new(Mutex::new(Shared {
            config,
            counts: Counts::default(),
            registrations: Vec::new(),
            authorizations: Vec::new(),
            token_requests: Vec::new(),
            clients,
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            devices: HashMap::new(),
            secrets: Vec::new(),
            next: 0,
            stopped: false,
            token_hook: None,
        }));
        let accepting = Arc::clone(&shared);
        thread::spawn(move || {
            for stream in listener.incoming() {
                if accepting.lock().unwrap().stopped {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = Arc::clone(&accepting);
                thread::spawn(move || serve(stream, addr, &shared));
            }
        });
        Self { addr, shared }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// The protected MCP endpoint (also the PRM `resource`).
    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base())
    }
    /// The issuer of the AS at `prefixes[index]`.
    pub fn issuer(&self, index: usize) -> String {
        let prefix = self.lock().config.prefixes[index].clone();
        format!("{}{prefix}", self.base())
    }
    pub fn counts(&self) -> Counts {
        self.lock().counts.clone()
    }
    pub fn registrations(&self) -> Vec<Registration> {
        self.lock().registrations.clone()
    }
    pub fn authorizations(&self) -> Vec<Authorization> {
        self.lock().authorizations.clone()
    }
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.lock().token_requests.clone()
    }
    /// Every access/refresh token, code, client secret and device code issued so far.
    pub fn secrets(&self) -> Vec<String> {
        self.lock().secrets.clone()
    }
    /// Changes the configuration for the requests that follow.
    pub fn update(&self, change: impl FnOnce(&mut Config)) {
        change(&mut self.lock().config);
    }
    /// Every access token issued so far is expired from now on.
    pub fn expire_access_tokens(&self) {
        let now = Instant::now();
        for access in self.lock().access.values_mut() {
            access.expires = now;
        }
    }
    /// Every refresh token issued so far is refused (`invalid_grant`) from now on.
    pub fn revoke_refresh_tokens(&self) {
        for refresh in self.lock().refresh.values_mut() {
            refresh.revoked = true;
        }
    }

    /// Runs `hook` on the serving thread once the next token request is
    /// handled (its effects made: a rotated refresh token is revoked) and
    /// before its answer is written.
    #[allow(dead_code)] // Not every test crate including this module uses it.
    pub fn before_next_token_answer(&self, hook: impl FnOnce() + Send + 'static) {
        self.lock().token_hook = Some(Box::new(hook));
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap()
    }
}

impl Drop for TestAs {
    fn drop(&mut self) {
        self.lock().stopped = true;
        // Wake the accept loop so it sees `stopped`.
        let _ = TcpStream::connect(self.addr);
    }
}

/// One parsed request.
struct Request {
    method: String,
    path: String,
    query: HashMap<String, String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An answer: status, extra headers, content type, body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Answer {
    fn json(status: u16, value: &Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            content_type: "application/json",
            body: value.to_string().into_bytes(),
        }
    }
    fn text(status: u16, text: &str) -> Self {
        Self {
            status,
            headers: Vec::new(),
            content_type: "text/plain",
            body: text.as_bytes().to_vec(),
        }
    }
    fn oauth_error(status: u16, error: &str, description: &str) -> Self {
        Self::json(
            status,
            &json!({"error": error, "error_description": description}),
        )
    }
    fn redirect(location: String) -> Self {
        Self {
            status: 302,
            headers: vec![("Location".into(), location)],
            content_type: "text/plain",
            body: Vec::new(),
        }
    }
    fn with(mut self, name: &str, value: String) -> Self {
        self.headers.push((name.into(), value));
        self
    }
}

fn serve(stream: TcpStream, addr: SocketAddr, shared: &Mutex<Shared>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader) {
        let close = request
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let answer = route(&request, addr, &mut shared.lock().unwrap());
        if request.method == "POST" && request.path.ends_with("/token") {
            let hook = shared.lock().unwrap().token_hook.take();
            if let Some(hook) = hook {
                hook();
            }
        }
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n",
            answer.status,
            reason(answer.status),
            answer.content_type,
            answer.body.len()
        );
        for (name, value) in &answer.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(if close {
            "Connection: close\r\n\r\n"
        } else {
            "\r\n"
        });
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(&answer.body).is_err() {
            return;
        }
        let _ = writer.flush();
        if close {
            return;
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.trim_end().splitn(3, ' ');
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path.to_owned(), form_decode(query)),
        None => (target, HashMap::new()),
    };
    Some(Request {
        method,
        path,
        query,
        headers,
        body,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Other",
    }
}

const PRM_PATH: &str = "/.well-known/oauth-protected-resource/mcp";
const PRM_ROOT: &str = "/.well-known/oauth-protected-resource";
const AS_WELL_KNOWN: &str = "/.well-known/oauth-authorization-server";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

fn route(request: &Request, addr: SocketAddr, s: &mut Shared) -> Answer {
    let base = format!("http://{addr}");
    let path = request.path.as_str();
    let get = request.method == "GET";
    let post = request.method == "POST";
    if get && path == "/_test/counts" {
        return Answer::json(200, &counts_json(&s.counts));
    }
    let prm_path = if s.config.prm_at_root {
        PRM_ROOT
    } else {
        PRM_PATH
    };
    if get && path == prm_path {
        s.counts.prm += 1;
        let issuer = format!("{base}{}", s.config.prefixes[s.config.current]);
        let mut prm = json!({"resource": format!("{base}/mcp"), "authorization_servers": [issuer]});
        if let Some(scopes) = &s.config.prm_scopes {
            prm["scopes_supported"] = json!(scopes);
        }
        return Answer::json(200, &prm);
    }
    if path == "/mcp" {
        return if post {
            mcp(request, &base, prm_path, s)
        } else {
            Answer::text(405, "POST only").with("Allow", "POST".into())
        };
    }
    // The authorization servers, longest prefix first ("" matches everything).
    let mut prefixes = s.config.prefixes.clone();
    prefixes.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for prefix in prefixes {
        if get && path == format!("{AS_WELL_KNOWN}{prefix}") {
            s.counts.metadata += 1;
            return Answer::json(200, &metadata(&base, &prefix, &s.config));
        }
        let Some(rest) = path.strip_prefix(prefix.as_str()) else {
            continue;
        };
        match (request.method.as_str(), rest) {
            ("POST", "/register") if s.config.dcr => return register(request, &prefix, s),
            ("GET", "/authorize") => return authorize(request, &base, &prefix, s),
            ("POST", "/token") => return token(request, &base, &prefix, s),
            ("POST", "/device_authorization") => return device(request, &base, &prefix, s),
            _ => {}
        }
    }
    Answer::text(404, "not found")
}

fn counts_json(counts: &Counts) -> Value {
    json!({
        "token": counts.token, "token_ok": counts.token_ok, "authorize": counts.authorize,
        "register": counts.register, "prm": counts.prm, "metadata": counts.metadata,
        "device": counts.device, "mcp_401": counts.mcp_401, "mcp_403": counts.mcp_403,
        "mcp_ok": counts.mcp_ok,
    })
}

fn metadata(base: &str, prefix: &str, config: &Config) -> Value {
    let issuer = config
        .metadata_issuer
        .clone()
        .unwrap_or_else(|| format!("{base}{prefix}"));
    let mut doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}{prefix}/authorize"),
        "token_endpoint": format!("{base}{prefix}/token"),
        "device_authorization_endpoint": format!("{base}{prefix}/device_authorization"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", DEVICE_GRANT],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": config.auth_methods,
    });
    if config.dcr {
        doc["registration_endpoint"] = json!(format!("{base}{prefix}/register"));
    }
    if let Some(scopes) = &config.as_scopes {
        doc["scopes_supported"] = json!(scopes);
    }
    if let Some(supported) = config.iss_supported {
        doc["authorization_response_iss_parameter_supported"] = json!(supported);
    }
    if config.cimd {
        doc["client_id_metadata_document_supported"] = json!(true);
    }
    doc
}

fn fresh(s: &mut Shared, kind: &str) -> String {
    s.next += 1;
    let mut random = [0u8; 12];
    getrandom::fill(&mut random).unwrap();
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let value = format!("{kind}-{}-{hex}", s.next);
    s.secrets.push(value.clone());
    value
}

fn register(request: &Request, prefix: &str, s: &mut Shared) -> Answer {
    s.counts.register += 1;
    let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
        return Answer::oauth_error(400, "invalid_client_metadata", "body is not JSON");
    };
    s.registrations.push(Registration {
        prefix: prefix.to_owned(),
        body: body.clone(),
    });
    let grants: Vec<&str> = body["grant_types"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_else(|| vec!["authorization_code"]);
    let redirect_uris: Vec<String> = body["redirect_uris"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if grants.contains(&"authorization_code") && redirect_uris.is_empty() {
        return Answer::oauth_error(400, "invalid_redirect_uri", "redirect_uris is required");
    }
    let requested = body["token_endpoint_auth_method"]
        .as_str()
        .unwrap_or("client_secret_basic");
    let method = if s.config.auth_methods.iter().any(|m| m == requested) {
        requested.to_owned()
    } else {
        s.config
            .auth_methods
            .first()
            .cloned()
            .unwrap_or_else(|| "none".into())
    };
    s.next += 1;
    let id = format!("client-{}", s.next);
    let secret = (method != "none").then(|| fresh(s, "secret"));
    s.clients.push(Client {
        id: id.clone(),
        secret: secret.clone(),
        method: method.clone(),
        redirect_uris: redirect_uris.clone(),
        prefix: prefix.to_owned(),
    });
    let mut answer = json!({
        "client_id": id,
        "client_id_issued_at": 0,
        "redirect_uris": redirect_uris,
        "grant_types": grants,
        "token_endpoint_auth_method": method,
    });
    if let Some(secret) = secret {
        answer["client_secret"] = json!(secret);
        answer["client_secret_expires_at"] = json!(0);
    }
    Answer::json(201, &answer)
}

fn authorize(request: &Request, base: &str, prefix: &str, s: &mut Shared) -> Answer {
    s.counts.authorize += 1;
    let q = &request.query;
    s.authorizations.push(Authorization {
        prefix: prefix.to_owned(),
        query: q.clone(),
    });
    let param = |name: &str| q.get(name).map(String::as_str);
    let Some(client_id) = param("client_id") else {
        return Answer::text(400, "client_id is required");
    };
    let Some(redirect_uri) = param("redirect_uri") else {
        return Answer::text(400, "redirect_uri is required");
    };
    let cimd = s.config.cimd && client_id.starts_with("https://");
    let known = s
        .clients
        .iter()
        .find(|c| c.id == client_id && c.prefix == prefix)
        .map(|c| c.redirect_uris.iter().any(|u| u == redirect_uri));
    match known {
        None if !cimd => return Answer::text(400, "unknown client_id"),
        Some(false) => return Answer::text(400, "redirect_uri is not registered"),
        _ => {}
    }
    let issuer = format!("{base}{prefix}");
    let iss = s.config.iss;
    let finish = |mut params: Vec<(&str, String)>| {
        if let Some(state) = param("state") {
            params.push(("state", state.to_owned()));
        }
        match iss {
            Iss::Correct => params.push(("iss", issuer.clone())),
            Iss::Omit => {}
            Iss::Wrong => params.push(("iss", "https://evil.example.com".into())),
            Iss::Normalized => params.push(("iss", format!("{issuer}/"))),
        }
        let joiner = if redirect_uri.contains('?') { '&' } else { '?' };
        Answer::redirect(format!("{redirect_uri}{joiner}{}", form_encode(&params)))
    };
    let error = if param("response_type") != Some("code") {
        Some("unsupported_response_type")
    } else if param("code_challenge").is_none() || param("code_challenge_method") != Some("S256") {
        Some("invalid_request")
    } else if param("resource").is_none() {
        Some("invalid_target")
    } else if s.config.deny {
        Some("access_denied")
    } else {
        None
    };
    if let Some(error) = error {
        return finish(vec![("error", error.to_owned())]);
    }
    let code = fresh(s, "code");
    s.codes.insert(
        code.clone(),
        Code {
            prefix: prefix.to_owned(),
            client: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            challenge: param("code_challenge").unwrap_or_default().to_owned(),
            scope: param("scope").map(str::to_owned),
            resource: param("resource").unwrap_or_default().to_owned(),
        },
    );
    finish(vec![("code", code)])
}

/// The authenticated client of a token or device request, or the error answer.
fn client_auth(
    request: &Request,
    form: &HashMap<String, String>,
    prefix: &str,
    s: &Shared,
) -> Result<Client, Answer> {
    let basic = request
        .header("authorization")
        .and_then(|v| v.strip_prefix("Basic "))
        .map(|b64| {
            let decoded = String::from_utf8(base64_decode(b64.trim()).unwrap_or_default())
                .unwrap_or_default();
            let (id, secret) = decoded.split_once(':').unwrap_or((decoded.as_str(), ""));
            (form_unescape(id), form_unescape(secret))
        });
    let (id, secret, method) = match (&basic, form.get("client_secret")) {
        (Some((id, secret)), None) => (id.clone(), Some(secret.clone()), "client_secret_basic"),
        (None, Some(secret)) => (
            form.get("client_id").cloned().unwrap_or_default(),
            Some(secret.clone()),
            "client_secret_post",
        ),
        (None, None) => (
            form.get("client_id").cloned().unwrap_or_default(),
            None,
            "none",
        ),
        (Some(_), Some(_)) => {
            return Err(Answer::oauth_error(
                400,
                "invalid_request",
                "more than one client authentication",
            ))
        }
    };
    let unauthorized =
        || Answer::oauth_error(401, "invalid_client", "client authentication failed");
    if method == "none" && s.config.cimd && id.starts_with("https://") {
        return Ok(Client {
            id,
            secret: None,
            method: "none".into(),
            redirect_uris: Vec::new(),
            prefix: prefix.to_owned(),
        });
    }
    let client = s
        .clients
        .iter()
        .find(|c| c.id == id && c.prefix == prefix)
        .ok_or_else(unauthorized)?;
    if client.method != method || client.secret != secret {
        return Err(unauthorized());
    }
    Ok(client.clone())
}

fn token(request: &Request, base: &str, prefix: &str, s: &mut Shared) -> Answer {
    let form = form_decode(&String::from_utf8_lossy(&request.body));
    let grant = form.get("grant_type").cloned().unwrap_or_default();
    *s.counts.token.entry(grant.clone()).or_default() += 1;
    let basic_client = request
        .header("authorization")
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| String::from_utf8(base64_decode(b.trim())?).ok())
        .map(|d| form_unescape(d.split(':').next().unwrap_or_default()));
    s.token_requests.push(TokenRequest {
        prefix: prefix.to_owned(),
        form: form.clone(),
        basic_client,
    });
    let client = match client_auth(request, &form, prefix, s) {
        Ok(client) => client,
        Err(answer) => return answer,
    };
    let resource = form.get("resource").cloned();
    let expected_resource = format!("{base}/mcp");
    if resource.as_deref().is_some_and(|r| r != expected_resource) {
        return Answer::oauth_error(400, "invalid_target", "unknown resource");
    }
    let (scope, resource, refresh) = match grant.as_str() {
        "authorization_code" => {
            let Some(code) = form.get("code").and_then(|c| s.codes.remove(c)) else {
                return Answer::oauth_error(400, "invalid_grant", "unknown or used code");
            };
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            if code.prefix != prefix
                || code.client != client.id
                || form.get("redirect_uri") != Some(&code.redirect_uri)
                || s256(&verifier) != code.challenge
                || resource.as_deref() != Some(code.resource.as_str())
            {
                return Answer::oauth_error(
                    400,
                    "invalid_grant",
                    "code, client, redirect_uri, verifier or resource do not match",
                );
            }
            (code.scope, resource, s.config.refresh_tokens)
        }
        "refresh_token" => {
            let presented = form.get("refresh_token").cloned().unwrap_or_default();
            let Some(old) = s.refresh.get_mut(&presented) else {
                return Answer::oauth_error(400, "invalid_grant", "unknown refresh token");
            };
            if old.revoked
                || old.client != client.id
                || old.prefix != prefix
                || old.resource != resource
            {
                return Answer::oauth_error(
                    400,
                    "invalid_grant",
                    "refresh token revoked or not for this client/resource",
                );
            }
            let scope = form.get("scope").cloned().or_else(|| old.scope.clone());
            let rotate = s.config.rotate_refresh;
            if rotate {
                old.revoked = true;
            }
            (scope, resource, rotate)
        }
        "client_credentials" => {
            if client.secret.is_none() {
                return Answer::oauth_error(
                    400,
                    "unauthorized_client",
                    "public clients cannot use client_credentials",
                );
            }
            (form.get("scope").cloned(), resource, false)
        }
        DEVICE_GRANT => {
            let code = form.get("device_code").cloned().unwrap_or_default();
            let pending = s.config.device_pending_polls;
            let Some(device) = s.devices.get_mut(&code) else {
                return Answer::oauth_error(400, "invalid_grant", "unknown device code");
            };
            if device.client != client.id || device.prefix != prefix {
                return Answer::oauth_error(400, "invalid_grant", "device code of another client");
            }
            if device.polls < pending {
                device.polls += 1;
                return Answer::oauth_error(400, "authorization_pending", "waiting for the user");
            }
            let Some(device) = s.devices.remove(&code) else {
                return Answer::oauth_error(400, "invalid_grant", "unknown device code");
            };
            (
                device.scope,
                device.resource.or(resource),
                s.config.refresh_tokens,
            )
        }
        _ => return Answer::oauth_error(400, "unsupported_grant_type", "unknown grant_type"),
    };
    let access = fresh(s, "access");
    let expires_in = s.config.expires_in;
    s.access.insert(
        access.clone(),
        Access {
            prefix: prefix.to_owned(),
            scope: scope.clone(),
            resource: resource.clone(),
            expires: Instant::now() + Duration::from_secs(expires_in),
        },
    );
    let mut answer =
        json!({"access_token": access, "token_type": "Bearer", "expires_in": expires_in});
    if let Some(scope) = &scope {
        answer["scope"] = json!(scope);
    }
    if refresh {
        let token = fresh(s, "refresh");
        s.refresh.insert(
            token.clone(),
            Refresh {
                prefix: prefix.to_owned(),
                client: client.id.clone(),
                scope,
                resource,
                revoked: false,
            },
        );
        answer["refresh_token"] = json!(token);
    }
    *s.counts.token_ok.entry(grant).or_default() += 1;
    Answer::json(200, &answer)
}

fn device(request: &Request, base: &str, prefix: &str, s: &mut Shared) -> Answer {
    s.counts.device += 1;
    let form = form_decode(&String::from_utf8_lossy(&request.body));
    let client = match client_auth(request, &form, prefix, s) {
        Ok(client) => client,
        Err(answer) => return answer,
    };
    let code = fresh(s, "device");
    s.next += 1;
    let user_code = format!("USER-{:04}", s.next % 10_000);
    s.devices.insert(
        code.clone(),
        Device {
            prefix: prefix.to_owned(),
            client: client.id,
            scope: form.get("scope").cloned(),
            resource: form.get("resource").cloned(),
            polls: 0,
        },
    );
    Answer::json(
        200,
        &json!({
            "device_code": code,
            "user_code": user_code,
            "verification_uri": format!("{base}{prefix}/device"),
            "verification_uri_complete": format!("{base}{prefix}/device?user_code={user_code}"),
            "expires_in": 600,
            "interval": s.config.device_interval,
        }),
    )
}

fn mcp(request: &Request, base: &str, prm_path: &str, s: &mut Shared) -> Answer {
    let metadata = format!("{base}{prm_path}");
    let challenge = |error: Option<&str>, scope: Option<&str>| {
        let mut value = String::from("Bearer ");
        if let Some(error) = error {
            value.push_str(&format!("error=\"{error}\", "));
        }
        if let Some(scope) = scope {
            value.push_str(&format!("scope=\"{scope}\", "));
        }
        value.push_str(&format!("resource_metadata=\"{metadata}\""));
        value
    };
    let token = request
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let current = s.config.prefixes[s.config.current].clone();
    let resource = format!("{base}/mcp");
    let valid = token.as_ref().and_then(|t| s.access.get(t)).filter(|a| {
        a.expires > Instant::now()
            && a.prefix == current
            && a.resource.as_deref() == Some(resource.as_str())
    });
    let scope = match (&token, valid) {
        (_, Some(access)) => access.scope.clone(),
        (None, None) => {
            s.counts.mcp_401 += 1;
            let value = challenge(None, s.config.challenge_scope.as_deref());
            return Answer::oauth_error(401, "invalid_token", "no access token")
                .with("WWW-Authenticate", value);
        }
        (Some(_), None) => {
            s.counts.mcp_401 += 1;
            let value = challenge(Some("invalid_token"), s.config.challenge_scope.as_deref());
            return Answer::oauth_error(401, "invalid_token", "unknown or expired access token")
                .with("WWW-Authenticate", value);
        }
    };
    let Ok(message) = serde_json::from_slice::<Value>(&request.body) else {
        return Answer::json(
            400,
            &json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "Parse error"}}),
        );
    };
    let method = message["method"].as_str().unwrap_or_default();
    if method == "tools/call" {
        if let Some(needed) = s.config.call_scope.clone() {
            let has = scope
                .as_deref()
                .is_some_and(|granted| granted.split(' ').any(|g| g == needed));
            if !has {
                s.counts.mcp_403 += 1;
                let value = challenge(Some("insufficient_scope"), Some(&needed));
                return Answer::oauth_error(403, "insufficient_scope", "token lacks the scope")
                    .with("WWW-Authenticate", value);
            }
        }
    }
    s.counts.mcp_ok += 1;
    let Some(id) = message.get("id").cloned() else {
        return Answer::text(202, "");
    };
    let result = match method {
        "initialize" => json!({
            "protocolVersion": message["params"]["protocolVersion"].as_str().unwrap_or("2025-11-25"),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "oauth-test-server", "version": "1.0.0"},
        }),
        "ping" => json!({}),
        "tools/list" => json!({"tools": [{
            "name": "whoami",
            "description": "the scopes of the access token this request carried",
            "inputSchema": {"type": "object"},
        }]}),
        "tools/call" if message["params"]["name"] == "whoami" => json!({"content": [{
            "type": "text",
            "text": format!("scopes={}", scope.unwrap_or_default()),
        }]}),
        _ => {
            return Answer::json(
                200,
                &json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "Method not found"}}),
            )
        }
    };
    Answer::json(200, &json!({"jsonrpc": "2.0", "id": id, "result": result}))
}

/// BASE64URL(SHA-256(verifier)), unpadded (RFC 7636 §4.2).
pub fn s256(verifier: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    base64url(digest.as_ref())
}

pub fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// Standard base64 (padding optional); `None` on anything else.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes().take_while(|&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    Some(out)
}

pub fn base64(bytes: &[u8]) -> String {
    let url = base64url(bytes).replace('-', "+").replace('_', "/");
    let pad = (4 - url.len() % 4) % 4;
    format!("{url}{}", "=".repeat(pad))
}

/// `application/x-www-form-urlencoded` decoding (also used for queries).
pub fn form_decode(text: &str) -> HashMap<String, String> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (form_unescape(name), form_unescape(value))
        })
        .collect()
}

pub fn form_unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |c: u8| char::from(c).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(high), Some(low)) => {
                        out.push((high * 16 + low) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn form_encode(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", form_escape(name), form_escape(value)))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn form_escape(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
