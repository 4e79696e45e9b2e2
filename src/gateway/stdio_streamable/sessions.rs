//! The stateful mode's session store (`--stateful`): each MCP session has
//! its own child and `Link`, a standalone GET stream at most, and the
//! streams that broke before they were complete, kept for `Last-Event-ID`
//! resumption. Sessions end on DELETE, on `--sessionTimeout` idleness, or
//! when the store is dropped with the handler.

use crate::gateway::{start_link, RoutedSession};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use async_io::Timer;

use crate::auth::Caller;
use crate::child::Child;
use crate::gateway::event_stream::EventStream;
use crate::gateway::link::{Clients, Link, SessionKey};
use crate::gateway::refusal::Refusal;
use crate::gateway::{session_id, Route};
use crate::rt;
use crate::runtime::Runtime;

/// Broken streams a session keeps for resumption at most.
const DETACHED_STREAMS: usize = 16;

/// The live sessions by id.
pub(super) struct Sessions {
    by_id: RefCell<HashMap<String, Rc<McpSession>>>,
    /// Where sessions' links come from and where they are registered (the
    /// admin API addresses them by id).
    runtime: Rc<Runtime>,
    /// `--maxSessions`.
    max: usize,
}

/// One stateful MCP session.
pub(super) struct McpSession {
    pub(super) id: String,
    pub(super) link: Rc<RefCell<Link>>,
    /// Who opened it (`initialize`): only they may use it.
    caller: Caller,
    /// Last request seen; idle sessions end after `--sessionTimeout`.
    last_active: Cell<Instant>,
    /// A standalone GET stream is attached to a connection now.
    pub(super) standalone_open: Cell<bool>,
    /// Streams whose connection broke before they were complete, kept for
    /// `Last-Event-ID` resumption (oldest first).
    detached: RefCell<Vec<EventStream>>,
}

impl Sessions {
    /// An empty store; with `timeout`, a task ends sessions idle that long
    /// (it stops when the store is dropped).
    pub(super) fn new(runtime: &Rc<Runtime>, max: usize, timeout: Option<Duration>) -> Rc<Self> {
        let sessions = Rc::new(Self {
            by_id: RefCell::new(HashMap::new()),
            runtime: Rc::clone(runtime),
            max,
        });
        if let Some(timeout) = timeout {
            rt::spawn(expire(Rc::downgrade(&sessions), timeout)).detach();
        }
        sessions
    }

    /// The session `id` for `caller`, marked active now: 404 if there is
    /// none, 403 if another caller opened it (its idle clock unchanged, so
    /// another caller cannot keep it alive).
    pub(super) fn get(&self, id: &str, caller: &Caller) -> Result<Rc<McpSession>, Refusal> {
        let session = self
            .by_id
            .borrow()
            .get(id)
            .cloned()
            .ok_or(Refusal::SESSION_NOT_FOUND)?;
        if !session.caller.is(caller) {
            return Err(Refusal::OTHER_CALLER);
        }
        session.last_active.set(Instant::now());
        self.runtime.touch(id);
        Ok(session)
    }

    /// Whether `id` is still live (not ended meanwhile).
    pub(super) fn contains(&self, id: &str) -> bool {
        self.by_id.borrow().contains_key(id)
    }

    /// Starts a session (an `initialize` without `Mcp-Session-Id`): a new
    /// child and link, registered with the runtime.
    pub(super) fn open(&self, caller: Caller) -> Result<Rc<McpSession>, Refusal> {
        if self.by_id.borrow().len() >= self.max {
            return Err(Refusal::TOO_MANY_SESSIONS);
        }
        let link = start_link(&self.runtime, Clients::One, &caller)?;
        let session = Rc::new(McpSession {
            id: session_id::new(),
            link: Rc::clone(&link),
            caller,
            last_active: Cell::new(Instant::now()),
            standalone_open: Cell::new(false),
            detached: RefCell::new(Vec::new()),
        });
        tracing::info!("session {} started", session.id);
        // A session's child is its own: the key is not used.
        let served = RoutedSession {
            route: Route::new(link),
            key: 0,
        };
        self.runtime
            .register(&session.id, "streamableHttp", Rc::new(served));
        self.by_id
            .borrow_mut()
            .insert(session.id.clone(), Rc::clone(&session));
        Ok(session)
    }

    /// Ends session `id` (DELETE) for `caller`: 404 if there is none, 403
    /// if another caller opened it.
    pub(super) fn end(&self, id: &str, caller: &Caller) -> Result<(), Refusal> {
        let owned = self
            .by_id
            .borrow()
            .get(id)
            .map(|session| session.caller.is(caller));
        match owned {
            None => return Err(Refusal::SESSION_NOT_FOUND),
            Some(false) => return Err(Refusal::OTHER_CALLER),
            Some(true) => {}
        }
        let removed = self.by_id.borrow_mut().remove(id);
        let Some(session) = removed else {
            return Err(Refusal::SESSION_NOT_FOUND);
        };
        tracing::info!("session {} ended by the client", session.id);
        session.end(&self.runtime);
        Ok(())
    }

    pub(super) fn len(&self) -> usize {
        self.by_id.borrow().len()
    }

    /// Every session's children.
    pub(super) fn children(&self) -> Vec<Child> {
        self.by_id
            .borrow()
            .values()
            .flat_map(|session| session.link.borrow().children())
            .collect()
    }

    /// Ends the sessions idle for `timeout` or longer.
    fn expire_idle(&self, timeout: Duration) {
        let now = Instant::now();
        let expired: Vec<Rc<McpSession>> = self
            .by_id
            .borrow()
            .values()
            .filter(|session| now.saturating_duration_since(session.last_active.get()) >= timeout)
            .cloned()
            .collect();
        for session in expired {
            self.by_id.borrow_mut().remove(&session.id);
            tracing::info!(
                "session {} expired after {} ms idle",
                session.id,
                timeout.as_millis()
            );
            session.end(&self.runtime);
        }
    }
}

impl McpSession {
    /// Keeps a broken stream for resumption; past `DETACHED_STREAMS`, the
    /// oldest leaves the link.
    pub(super) fn detach(&self, stream: EventStream) {
        let mut detached = self.detached.borrow_mut();
        detached.push(stream);
        if detached.len() > DETACHED_STREAMS {
            let oldest = detached.remove(0);
            self.link.borrow_mut().close_session(oldest.key);
        }
    }

    /// The broken stream `key`, taken out of the resumable ones.
    pub(super) fn take_detached(&self, key: SessionKey) -> Option<EventStream> {
        let mut detached = self.detached.borrow_mut();
        let index = detached.iter().position(|stream| stream.key == key)?;
        Some(detached.remove(index))
    }

    /// Closes the broken standalone streams: a new one replaces them.
    pub(super) fn close_detached_standalone(&self) {
        let old: Vec<SessionKey> = self
            .detached
            .borrow()
            .iter()
            .filter(|stream| stream.is_standalone())
            .map(|stream| stream.key)
            .collect();
        for key in old {
            if let Some(stream) = self.take_detached(key) {
                self.link.borrow_mut().close_session(stream.key);
            }
        }
    }

    /// Ends the session: its child is stopped (which closes its streams).
    fn end(&self, runtime: &Runtime) {
        runtime.unregister(&self.id);
        self.detached.borrow_mut().clear();
        if let Some(child) = self.link.borrow().child() {
            child.stop_in_background();
        }
    }
}

/// Ends sessions idle for longer than `timeout`. An open GET stream without
/// requests counts as idle.
async fn expire(sessions: Weak<Sessions>, timeout: Duration) {
    let every = timeout
        .checked_div(4)
        .unwrap_or(timeout)
        .clamp(Duration::from_millis(50), Duration::from_secs(5));
    loop {
        Timer::after(every).await;
        let Some(sessions) = sessions.upgrade() else {
            return;
        };
        sessions.expire_idle(timeout);
    }
}
