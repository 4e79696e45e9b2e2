//! Runtime args injection: change the child's arguments, environment and
//! the outbound/response headers while the gateway runs.
//!
//! - `update`: the payload parser and validator, shell quoting, the token
//!   comparison.
//! - `admin`: the HTTP admin API on 127.0.0.1 (`--runtimeAdminPort`).
//! - `prompt`: JSON lines from the controlling terminal (`--runtimePrompt`).
//!
//! [`Runtime`] is the registry both front-ends apply updates to: the global
//! defaults, the live sessions of the forward modes (registered by the
//! modes, with their overrides), and the links to restart. Single-threaded
//! (`Rc<RefCell<..>>`), borrowed only in synchronous sections.

pub(crate) mod admin;
pub(crate) mod prompt;
pub(crate) mod served;
pub(crate) mod token_file;
pub(crate) mod update;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use smol::Task;
use supergateway_proto::http::{HeaderName, HeaderValue};

use crate::auth::Caller;
use crate::auth_env;
use crate::child::ChildSpec;
use crate::cli::{Config, Input};
use crate::http::server::ServerOptions;
use crate::http::{HeaderSet, LiveHeaders};
use crate::relay_settings::RelaySettings;

pub(crate) use self::admin::Runtimes;
pub(crate) use self::served::{ServedChild, ServedSession};

pub(crate) use self::update::{FieldError, Overrides, Scope};

/// Why an update was refused.
#[derive(Debug)]
pub(crate) enum UpdateError {
    /// 400: a field is wrong (nothing applied).
    Field(FieldError),
    /// 404: no live session has this id.
    UnknownSession,
    /// 500: a new child could not be started.
    Spawn(String),
    /// 409: the shared child exited for good (no restart policy), so there
    /// is nothing to restart with the new settings.
    Down,
}

impl UpdateError {
    /// The HTTP status and JSON body of the refusal.
    pub(crate) fn reply(&self) -> (u16, Vec<u8>) {
        match self {
            Self::Field(err) => (400, err.to_json()),
            Self::UnknownSession => (
                404,
                json!({"status": "error", "field": "session_id", "error": "session_id: no live session has this id"})
                    .to_string()
                    .into_bytes(),
            ),
            Self::Spawn(why) => (
                500,
                json!({"status": "error", "error": format!("could not start the MCP server: {why}")})
                    .to_string()
                    .into_bytes(),
            ),
            Self::Down => (
                409,
                json!({"status": "error", "error": "the MCP server is down (it exited and has no restart policy); nothing was changed"})
                    .to_string()
                    .into_bytes(),
            ),
        }
    }
}

/// The reply to an accepted update.
pub(crate) fn ok_reply(restart: bool) -> Vec<u8> {
    json!({"status": "ok", "restart": restart})
        .to_string()
        .into_bytes()
}

/// A live session of a forward mode, as the registry knows it.
struct Entry {
    transport: &'static str,
    created: SystemTime,
    last_active: Cell<SystemTime>,
    session: Rc<dyn ServedSession>,
    overrides: Overrides,
}

/// See the module documentation.
pub(crate) struct Runtime {
    /// The `--stdio` command; `None` in the reverse modes (no child).
    base_command: Option<String>,
    defaults: RefCell<Overrides>,
    sessions: RefCell<BTreeMap<String, Entry>>,
    /// The shared child, in the modes that have one.
    shared: RefCell<Option<Rc<dyn ServedChild>>>,
    /// `--header` values and the default runtime headers merged (runtime
    /// wins by name): what every response (forward) or request (reverse)
    /// carries.
    headers: LiveHeaders,
    /// The sessions with a headers override: their merged headers.
    session_headers: RefCell<HashMap<String, HeaderSet>>,
    /// `--header`/`--oauth2Bearer`, the base the runtime headers go over.
    configured: Vec<(HeaderName, HeaderValue)>,
    /// `--runtimeAllowEnv`: names `env_policy` would refuse that updates
    /// may set.
    allow_env: Vec<String>,
    /// `--authEnv`: what of a caller's identity its own child gets.
    auth_env: Vec<auth_env::Mapping>,
    /// A `--config` server's `env`, under the runtime's.
    base_env: Vec<(String, String)>,
    /// A `--config` server's `cwd`.
    cwd: Option<std::path::PathBuf>,
    /// A `--config` server's command as its file writes it, for the logs.
    base_shown: Option<String>,
    /// What this server's relays are made with.
    relay: Rc<RelaySettings>,
}

impl Runtime {
    pub(crate) fn new(config: &Config) -> Rc<Self> {
        let base_command = match &config.input {
            Input::Stdio(command) => Some(command.clone()),
            Input::Sse(_) | Input::StreamableHttp(_) | Input::Servers(_) => None,
        };
        let headers = LiveHeaders::default();
        headers.set(config.headers.clone());
        Rc::new(Self {
            base_command,
            defaults: RefCell::new(Overrides::default()),
            sessions: RefCell::new(BTreeMap::new()),
            shared: RefCell::new(None),
            headers,
            session_headers: RefCell::new(HashMap::new()),
            configured: config.headers.clone(),
            allow_env: config.runtime_allow_env.clone(),
            auth_env: config.auth_env.clone(),
            base_env: config.child_env.clone(),
            cwd: config.child_cwd.clone(),
            base_shown: config.child_shown.clone(),
            relay: RelaySettings::of(config, config.upstream_protocol),
        })
    }

    /// Readiness of this server (`--readyEndpoint`, draining aside): its
    /// shared child, if it has one, is ready.
    pub(crate) fn is_ready(&self) -> bool {
        self.shared
            .borrow()
            .as_ref()
            .is_none_or(|child| child.is_ready())
    }

    /// What the relays of this server's links are made with.
    pub(crate) fn relay_settings(&self) -> &Rc<RelaySettings> {
        &self.relay
    }

    /// What a new child is started with: the command and the defaults.
    pub(crate) fn child_spec(&self) -> ChildSpec {
        self.spec_for(None)
    }

    /// What a child of `caller`'s own is started with: the defaults, and
    /// `--authEnv`'s variables from the caller's identity; refused when
    /// the caller lacks a configured claim (no child without it).
    pub(crate) fn child_spec_for(&self, caller: &Caller) -> Result<ChildSpec, auth_env::Refused> {
        let mut spec = self.spec_for(None);
        spec.identity = auth_env::env_for(&self.auth_env, caller)?;
        Ok(spec)
    }

    /// The shared child (restarted when the defaults change).
    pub(crate) fn set_shared(&self, child: Option<Rc<dyn ServedChild>>) {
        *self.shared.borrow_mut() = child;
    }

    /// The headers every response (forward modes) or request (reverse
    /// modes) carries now: `--header` with the runtime defaults over it.
    pub(crate) fn live_headers(&self) -> LiveHeaders {
        self.headers.clone()
    }

    /// The response headers for a request of `session` (its own headers
    /// override when it has one, else the defaults).
    pub(crate) fn response_headers(&self, session: Option<&str>) -> HeaderSet {
        if let Some(session) = session {
            let own = self.session_headers.borrow();
            if let Some(headers) = own.get(session) {
                return Rc::clone(headers);
            }
        }
        self.headers.snapshot()
    }

    /// True when some session has headers of its own (responses then look
    /// up the session of each request).
    pub(crate) fn has_session_headers(&self) -> bool {
        !self.session_headers.borrow().is_empty()
    }

    /// A session opened (`id` is what clients and the admin API call it).
    pub(crate) fn register(
        &self,
        id: &str,
        transport: &'static str,
        session: Rc<dyn ServedSession>,
    ) {
        let now = SystemTime::now();
        self.sessions.borrow_mut().insert(
            id.to_owned(),
            Entry {
                transport,
                created: now,
                last_active: Cell::new(now),
                session,
                overrides: Overrides::default(),
            },
        );
    }

    /// A session ended.
    pub(crate) fn unregister(&self, id: &str) {
        self.sessions.borrow_mut().remove(id);
        self.session_headers.borrow_mut().remove(id);
    }

    /// A session was used.
    pub(crate) fn touch(&self, id: &str) {
        if let Some(entry) = self.sessions.borrow().get(id) {
            entry.last_active.set(SystemTime::now());
        }
    }

    /// Applies one update, validated already (only semantic checks remain,
    /// made before anything changes). Returns whether a child restarted.
    pub(crate) fn apply(&self, scope: &Scope, update: &Overrides) -> Result<bool, UpdateError> {
        if update.touches_child() && self.base_command.is_none() {
            let field = if update.extra_cli_args.is_some() {
                "extra_cli_args"
            } else {
                "env"
            };
            return Err(UpdateError::Field(FieldError {
                field: field.to_owned(),
                message: "the reverse modes run no child; only headers apply".to_owned(),
            }));
        }
        // Names that would let the caller run code in the child (or choose
        // the code it fetches) need the operator's `--runtimeAllowEnv`.
        for name in update.env.iter().flat_map(BTreeMap::keys) {
            if let Some(why) = crate::env_policy::refusal(name, &self.allow_env) {
                return Err(UpdateError::Field(FieldError {
                    field: format!("env.{name}"),
                    message: why,
                }));
            }
        }
        match scope {
            Scope::Defaults => self.apply_defaults(update),
            Scope::Session(id) => self.apply_session(id, update),
        }
    }

    fn apply_defaults(&self, update: &Overrides) -> Result<bool, UpdateError> {
        let down = self
            .shared
            .borrow()
            .as_ref()
            .is_some_and(|child| !child.is_live());
        if down && update.touches_child() {
            return Err(UpdateError::Down);
        }
        self.defaults.borrow_mut().apply(update);
        tracing::info!(
            "runtime update of the defaults: {} (now {})",
            update.describe(),
            self.defaults.borrow().describe()
        );
        if update.headers.is_some() {
            self.refresh_headers();
        }
        if !update.touches_child() {
            return Ok(false);
        }
        let mut restarted = false;
        let shared = self.shared.borrow().clone();
        if let Some(child) = &shared {
            let spec = self.child_spec();
            if child.spec() != spec {
                tracing::info!("restarting the shared MCP server (runtime defaults changed)");
                child
                    .restart(&spec)
                    .map_err(|err| UpdateError::Spawn(err.to_string()))?;
                restarted = true;
            }
        }
        // Children of single sessions, with the new defaults under their
        // own overrides.
        let own: Vec<(String, Rc<dyn ServedChild>, ChildSpec)> = self
            .sessions
            .borrow()
            .iter()
            .filter_map(|(id, entry)| {
                let child = entry.session.child();
                let is_shared = shared.as_ref().is_some_and(|s| s.is(&*child));
                let spec = self.spec_for(Some(&entry.overrides));
                let spec = keep_identity(spec, &child.spec());
                (!is_shared && child.spec() != spec).then(|| (id.clone(), child, spec))
            })
            .collect();
        for (id, child, spec) in own {
            tracing::info!("restarting session {id}'s MCP server (runtime defaults changed)");
            child
                .restart(&spec)
                .map_err(|err| UpdateError::Spawn(err.to_string()))?;
            restarted = true;
        }
        Ok(restarted)
    }

    fn apply_session(&self, id: &str, update: &Overrides) -> Result<bool, UpdateError> {
        let (session, overrides) = {
            let sessions = self.sessions.borrow();
            let entry = sessions.get(id).ok_or(UpdateError::UnknownSession)?;
            let mut overrides = entry.overrides.clone();
            overrides.apply(update);
            (Rc::clone(&entry.session), overrides)
        };
        tracing::info!(
            "runtime update of session {id}: {} (now {})",
            update.describe(),
            overrides.describe()
        );
        if let Some(entry) = self.sessions.borrow_mut().get_mut(id) {
            entry.overrides = overrides.clone();
        }
        if update.headers.is_some() {
            self.refresh_session_headers(id, &overrides);
        }
        if !update.touches_child() {
            return Ok(false);
        }
        let child = session.child();
        let spec = keep_identity(self.spec_for(Some(&overrides)), &child.spec());
        if child.spec() == spec {
            return Ok(false);
        }
        let shared = self.shared.borrow().clone();
        if shared.is_some_and(|shared| shared.is(&*child)) {
            // The session leaves the shared child for one of its own,
            // initialised as the shared one was; its stream stays open.
            tracing::info!("session {id} gets an MCP server of its own (runtime override)");
            let moved = session
                .move_to_own_child(&spec)
                .map_err(|err| UpdateError::Spawn(err.to_string()))?;
            // Not moved: the session ended meanwhile (a client too slow).
            return Ok(moved);
        }
        tracing::info!("restarting session {id}'s MCP server (runtime override)");
        child
            .restart(&spec)
            .map_err(|err| UpdateError::Spawn(err.to_string()))?;
        Ok(true)
    }

    /// The JSON of `GET /runtime/sessions`.
    pub(crate) fn sessions_json(&self) -> Vec<u8> {
        let shared = self.shared.borrow().clone();
        let sessions: Vec<Value> = self
            .sessions
            .borrow()
            .iter()
            .map(|(id, entry)| {
                let child = entry.session.child();
                let own_child = !shared.as_ref().is_some_and(|s| s.is(&*child));
                let pid = child.pid();
                json!({
                    "id": id,
                    "transport": entry.transport,
                    "created_unix_ms": unix_ms(entry.created),
                    "last_active_unix_ms": unix_ms(entry.last_active.get()),
                    "child_pid": pid,
                    "own_child": own_child,
                    "overrides": entry.overrides.describe(),
                })
            })
            .collect();
        let shared_pid = shared.as_ref().and_then(|child| child.pid());
        json!({
            "defaults": self.defaults.borrow().describe(),
            "shared_child_pid": shared_pid,
            "sessions": sessions,
        })
        .to_string()
        .into_bytes()
    }

    /// The child spec for a session with `overrides` (or the defaults):
    /// arguments from the session if it set them, else the defaults';
    /// environment the defaults' with the session's over it.
    fn spec_for(&self, overrides: Option<&Overrides>) -> ChildSpec {
        let defaults = self.defaults.borrow();
        let args = overrides
            .and_then(|o| o.extra_cli_args.as_ref())
            .or(defaults.extra_cli_args.as_ref());
        let command = self.base_command.as_deref().unwrap_or_default();
        let with_args = |command: &str| match args {
            Some(args) => update::command_with_args(command, args),
            None => command.to_owned(),
        };
        let shown = self.base_shown.as_deref().map(with_args);
        let command = with_args(command);
        let mut env: BTreeMap<String, String> = self.base_env.iter().cloned().collect();
        env.extend(defaults.env.clone().unwrap_or_default());
        if let Some(own) = overrides.and_then(|o| o.env.as_ref()) {
            env.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        ChildSpec {
            command,
            env: env.into_iter().collect(),
            identity: Vec::new(),
            cwd: self.cwd.clone(),
            shown,
        }
    }

    /// `--header` values with the default runtime headers over them.
    fn merged_defaults(&self) -> Vec<(HeaderName, HeaderValue)> {
        let defaults = self.defaults.borrow();
        merge_headers(&self.configured, defaults.headers.as_deref().unwrap_or(&[]))
    }

    fn refresh_headers(&self) {
        let merged = self.merged_defaults();
        self.headers.set(merged);
        // Sessions' own headers sit on top of the defaults.
        let own: Vec<(String, Overrides)> = self
            .sessions
            .borrow()
            .iter()
            .filter(|(_, entry)| entry.overrides.headers.is_some())
            .map(|(id, entry)| (id.clone(), entry.overrides.clone()))
            .collect();
        for (id, overrides) in own {
            self.refresh_session_headers(&id, &overrides);
        }
    }

    fn refresh_session_headers(&self, id: &str, overrides: &Overrides) {
        let mut own = self.session_headers.borrow_mut();
        match &overrides.headers {
            Some(headers) => {
                let merged = merge_headers(&self.merged_defaults(), headers);
                own.insert(id.to_owned(), Rc::from(merged));
            }
            None => {
                own.remove(id);
            }
        }
    }
}

/// `base` with `over` replacing headers of the same name (any case).
fn merge_headers(
    base: &[(HeaderName, HeaderValue)],
    over: &[(HeaderName, HeaderValue)],
) -> Vec<(HeaderName, HeaderValue)> {
    let mut out: Vec<(HeaderName, HeaderValue)> = base
        .iter()
        .filter(|(name, _)| {
            !over
                .iter()
                .any(|(o, _)| o.as_str().eq_ignore_ascii_case(name.as_str()))
        })
        .cloned()
        .collect();
    out.extend(over.iter().cloned());
    out
}

/// `spec` with the caller identity of the running child's `current`:
/// a runtime update changes arguments and environment, never whose child
/// it is (and the identity's variables still win over the update's).
fn keep_identity(mut spec: ChildSpec, current: &ChildSpec) -> ChildSpec {
    spec.identity.clone_from(&current.identity);
    spec
}

fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// What [`start`] started: the admin API and prompt run, and the generated
/// admin token's file exists, while this is kept (the caller keeps it until
/// the gateway exits).
pub(crate) struct Started {
    _tasks: Vec<Task<()>>,
    _token_file: Option<token_file::TokenFile>,
}

/// Starts what `--runtimeAdminPort` and `--runtimePrompt` ask for. On
/// failure, the one-line reason (the gateway then exits with status 1).
/// `options`: the main port's connection settings, which the admin API
/// starts from.
pub(crate) fn start(
    config: &Config,
    options: ServerOptions,
    runtimes: Runtimes,
) -> Result<Started, String> {
    let mut tasks = Vec::new();
    let mut token_file = None;
    // `--runtimePrompt` is refused with `--config` (cli): one runtime.
    if let (true, Runtimes::One(runtime)) = (config.runtime_prompt, &runtimes) {
        tasks.push(prompt::start(Rc::clone(runtime))?);
    }
    if let Some(port) = config.runtime_admin_port {
        let (task, file) = admin::start(config, options, port, runtimes)?;
        tasks.push(task);
        token_file = file;
    }
    Ok(Started {
        _tasks: tasks,
        _token_file: token_file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime(args: &[&str]) -> Rc<Runtime> {
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        Runtime::new(&crate::cli::parse(&args).unwrap())
    }

    fn update(json: &str) -> Overrides {
        update::parse_payload(json.as_bytes()).unwrap()
    }

    #[test]
    fn session_overrides_merge_over_the_defaults() {
        let rt = runtime(&["--stdio", "srv --x"]);
        assert_eq!(rt.child_spec().command, "srv --x");
        let restarted = rt
            .apply(
                &Scope::Defaults,
                &update(r#"{"extra_cli_args":["a b"],"env":{"A":"1","B":"2"}}"#),
            )
            .unwrap();
        assert!(!restarted, "no child to restart");
        let spec = rt.child_spec();
        assert_eq!(spec.command, "srv --x 'a b'");
        assert_eq!(
            spec.env,
            vec![("A".into(), "1".into()), ("B".into(), "2".into())]
        );
        let own = update(r#"{"env":{"B":"session"}}"#);
        let spec = rt.spec_for(Some(&own));
        assert_eq!(spec.command, "srv --x 'a b'", "the defaults' arguments");
        assert_eq!(
            spec.env,
            vec![("A".into(), "1".into()), ("B".into(), "session".into())]
        );
        let own = update(r#"{"extra_cli_args":[]}"#);
        assert_eq!(rt.spec_for(Some(&own)).command, "srv --x");
    }

    /// A session's own child, recording what it was restarted with.
    struct OwnChild(RefCell<ChildSpec>, Cell<usize>);

    impl ServedChild for OwnChild {
        fn spec(&self) -> ChildSpec {
            self.0.borrow().clone()
        }
        fn restart(&self, spec: &ChildSpec) -> std::io::Result<()> {
            *self.0.borrow_mut() = spec.clone();
            self.1.set(self.1.get().saturating_add(1));
            Ok(())
        }
        fn pid(&self) -> Option<i32> {
            None
        }
        fn identity(&self) -> usize {
            std::ptr::from_ref(&self.1).cast::<()>() as usize
        }
        fn is_ready(&self) -> bool {
            true
        }
        fn is_live(&self) -> bool {
            true
        }
    }

    struct OwnSession(Rc<OwnChild>);

    impl ServedSession for OwnSession {
        fn child(&self) -> Rc<dyn ServedChild> {
            Rc::clone(&self.0) as Rc<dyn ServedChild>
        }
        fn move_to_own_child(&self, _: &ChildSpec) -> std::io::Result<bool> {
            Ok(false)
        }
    }

    #[test]
    fn a_callers_identity_survives_runtime_restarts() {
        let mut rt = runtime(&["--stdio", "srv"]);
        Rc::get_mut(&mut rt).unwrap().auth_env =
            vec![auth_env::parse("tls_subject=CLIENT_DN").unwrap()];
        let alice = Caller {
            certificate: Some(Rc::from("CN=alice")),
            ..Caller::default()
        };
        let spec = rt.child_spec_for(&alice).unwrap();
        assert_eq!(spec.identity, vec![("CLIENT_DN".into(), "CN=alice".into())]);
        assert_eq!(
            rt.child_spec_for(&Caller::default()).err(),
            Some(auth_env::Refused::Missing(auth_env::Claim::TlsSubject))
        );
        let child = Rc::new(OwnChild(RefCell::new(spec), Cell::new(0)));
        rt.register("s1", "ws", Rc::new(OwnSession(Rc::clone(&child))));
        // A session update restarts the child with the identity kept (and
        // still winning: it comes after the runtime env).
        let restarted = rt
            .apply(
                &Scope::Session("s1".into()),
                &update(r#"{"env":{"CLIENT_DN":"CN=mallory","A":"1"}}"#),
            )
            .unwrap();
        assert!(restarted);
        let now = child.spec();
        assert_eq!(now.identity, vec![("CLIENT_DN".into(), "CN=alice".into())]);
        assert_eq!(now.env.len(), 2);
        // A defaults update too; and an update that changes nothing
        // restarts nothing (the identity does not make specs differ).
        assert!(rt
            .apply(&Scope::Defaults, &update(r#"{"env":{"B":"2"}}"#))
            .unwrap());
        assert_eq!(child.spec().identity, now.identity);
        assert_eq!(child.1.get(), 2);
        assert!(!rt
            .apply(&Scope::Defaults, &update(r#"{"env":{"B":"2"}}"#))
            .unwrap());
        assert_eq!(child.1.get(), 2);
    }

    #[test]
    fn runtime_headers_go_over_configured_ones() {
        let rt = runtime(&["--stdio", "srv", "--header", "X-A: 1", "--header", "X-B: 2"]);
        rt.apply(
            &Scope::Defaults,
            &update(r#"{"headers":{"x-b":"3","X-C":"4"}}"#),
        )
        .unwrap();
        let headers: Vec<(String, Vec<u8>)> = rt
            .response_headers(None)
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect();
        assert_eq!(
            headers,
            vec![
                ("X-A".to_owned(), b"1".to_vec()),
                // The runtime ones in the payload's name order (byte order).
                ("X-C".to_owned(), b"4".to_vec()),
                ("x-b".to_owned(), b"3".to_vec()),
            ]
        );
        assert!(!rt.has_session_headers());
        assert!(matches!(
            rt.apply(&Scope::Session("nope".into()), &update("{}")),
            Err(UpdateError::UnknownSession)
        ));
    }

    #[test]
    fn reverse_modes_take_headers_only() {
        let rt = runtime(&["--sse", "http://127.0.0.1:1/sse"]);
        for (body, field) in [
            (
                r#"{"extra_cli_args":["x"],"headers":{"X":"y"}}"#,
                "extra_cli_args",
            ),
            (r#"{"env":{"A":"b"}}"#, "env"),
        ] {
            match rt.apply(&Scope::Defaults, &update(body)) {
                Err(UpdateError::Field(err)) => assert_eq!(err.field, field),
                other => panic!("{body}: {other:?}"),
            }
        }
        // Nothing of the refused update was applied.
        assert!(rt.live_headers().snapshot().is_empty());
        assert!(!rt
            .apply(&Scope::Defaults, &update(r#"{"headers":{"X":"y"}}"#))
            .unwrap());
        assert_eq!(rt.live_headers().snapshot().len(), 1);
    }
}
