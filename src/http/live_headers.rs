//! Headers that change while the gateway runs (`--header` plus runtime
//! updates), shared by the HTTP client (outbound requests) and the modes
//! (response headers). Lives in `http`, not `runtime`, so the HTTP layer
//! imports nothing above it; `runtime` owns the updates and calls `set`.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use supergateway_proto::http::{HeaderName, HeaderValue};

/// A set of headers shared by reference (swapped whole, never edited).
pub(crate) type HeaderSet = Rc<[(HeaderName, HeaderValue)]>;

/// Headers changed at runtime, read on every request or response: one
/// snapshot swapped whole on update (readers clone an `Rc`). `Debug` shows
/// names only.
#[derive(Clone, Default)]
pub(crate) struct LiveHeaders(Rc<RefCell<HeaderSet>>);

impl LiveHeaders {
    /// The headers now.
    pub(crate) fn snapshot(&self) -> HeaderSet {
        Rc::clone(&self.0.borrow())
    }

    /// Replaces the whole set (readers holding a snapshot keep the old one).
    pub(crate) fn set(&self, headers: Vec<(HeaderName, HeaderValue)>) {
        *self.0.borrow_mut() = Rc::from(headers);
    }
}

impl fmt::Debug for LiveHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let snapshot = self.snapshot();
        f.debug_list()
            .entries(snapshot.iter().map(|(name, _)| name.as_str()))
            .finish()
    }
}
