//! The narrow handles through which the runtime registry acts on the
//! gateway's children and sessions, without knowing the gateway's relay
//! (`gateway` implements them; `runtime` imports nothing from `gateway`).

use std::io;
use std::rc::Rc;

use crate::child::ChildSpec;

/// A child the runtime may restart with a new spec.
pub(crate) trait ServedChild {
    /// What the child was started with.
    fn spec(&self) -> ChildSpec;
    /// Replaces the child with one started from `spec` (the gateway
    /// initialises it as the old one was; clients stay connected). On
    /// error the old child keeps serving.
    fn restart(&self, spec: &ChildSpec) -> io::Result<()>;
    /// Its process id while it runs.
    fn pid(&self) -> Option<i32>;
    /// Both handles are on the same child.
    fn is(&self, other: &dyn ServedChild) -> bool {
        self.identity() == other.identity()
    }
    /// What `is` compares: stable for the child's lifetime.
    fn identity(&self) -> usize;
    /// Readiness: it runs, is initialised, and no restart is waiting out
    /// its backoff.
    fn is_ready(&self) -> bool;
    /// It runs, or will again (a restart is waiting out its backoff);
    /// false once it exited for good.
    fn is_live(&self) -> bool;
}

/// A client session of a forward mode.
pub(crate) trait ServedSession {
    /// The child serving it now.
    fn child(&self) -> Rc<dyn ServedChild>;
    /// Moves the session from a shared child to one of its own started
    /// from `spec` (initialised as the shared one was), without ending its
    /// stream; its requests in flight are answered with an error. False
    /// when the session ended meanwhile (the new child is then stopped).
    fn move_to_own_child(&self, spec: &ChildSpec) -> io::Result<bool>;
}
