//! The relay's memory accounting: the process-wide byte budget, the frames
//! queued for a session, and the frames themselves.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::ops::Deref;
use std::rc::Rc;

/// The process-wide byte budget, shared by every relay of the process (and
/// by the HTTP driver for request bodies being read): everything the
/// gateway holds on behalf of clients and children counts against it.
///
/// Cloning gives another handle on the same budget. Single-threaded (the
/// gateway runs on one thread).
#[derive(Clone, Debug)]
pub struct Budget(Rc<BudgetState>);

struct BudgetState {
    limit: usize,
    used: Cell<usize>,
    /// Set when a charge was refused; cleared once usage falls below half
    /// the limit. Makes the refusal reported once, not once per message.
    exhausted: Cell<bool>,
    /// Called after every release of bytes ([`Budget::on_release`]).
    on_release: RefCell<Option<Rc<dyn Fn()>>>,
}

impl core::fmt::Debug for BudgetState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BudgetState")
            .field("limit", &self.limit)
            .field("used", &self.used)
            .field("exhausted", &self.exhausted)
            .field("on_release", &self.on_release.borrow().is_some())
            .finish()
    }
}

impl Budget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self(Rc::new(BudgetState {
            limit,
            used: Cell::new(0),
            exhausted: Cell::new(false),
            on_release: RefCell::new(None),
        }))
    }

    /// Calls `hook` after every release of bytes from now on (`None`:
    /// none). A driver waiting for the budget to empty (the gateway's
    /// drain) is woken by it instead of polling: whatever ends a request,
    /// delivers a frame or finishes reading a body gives bytes back. The
    /// hook runs inside the relay's calls: it must only signal, not call
    /// back into a relay.
    pub fn on_release(&self, hook: Option<Rc<dyn Fn()>>) {
        *self.0.on_release.borrow_mut() = hook;
    }

    /// Charges `bytes` if they fit. On refusal, returns `Err(first)`:
    /// `first` is true for the first refusal since the budget last had room
    /// (the caller reports that one).
    pub fn try_charge(&self, bytes: usize) -> Result<(), bool> {
        let used = self.0.used.get();
        match used.checked_add(bytes) {
            Some(total) if total <= self.0.limit => {
                self.0.used.set(total);
                Ok(())
            }
            _ => Err(!self.0.exhausted.replace(true)),
        }
    }

    /// Charges `bytes` whatever the limit: for the gateway's own small
    /// error answers, whose number is bounded by the requests admitted.
    pub fn charge(&self, bytes: usize) {
        self.0.used.set(self.0.used.get().saturating_add(bytes));
    }

    /// Gives `bytes` back.
    pub fn release(&self, bytes: usize) {
        let used = self.0.used.get().saturating_sub(bytes);
        self.0.used.set(used);
        if used <= self.0.limit / 2 {
            self.0.exhausted.set(false);
        }
        if bytes > 0 {
            // Cloned out first: the hook may not find the cell borrowed.
            let hook = self.0.on_release.borrow().clone();
            if let Some(hook) = hook {
                hook();
            }
        }
    }

    /// Would `bytes` more fit now?
    pub fn has_room(&self, bytes: usize) -> bool {
        self.0
            .used
            .get()
            .checked_add(bytes)
            .is_some_and(|total| total <= self.0.limit)
    }

    /// Bytes charged now.
    pub fn used(&self) -> usize {
        self.0.used.get()
    }

    /// The limit in bytes.
    pub fn limit(&self) -> usize {
        self.0.limit
    }
}

/// One JSON-RPC message for one client, as its transport will frame it
/// (without a trailing newline).
#[derive(Debug)]
pub struct Frame {
    bytes: FrameBytes,
    /// The message answers a client request (result or error): a
    /// request-scoped stream ends after its last answer.
    pub is_response: bool,
}

#[derive(Debug)]
enum FrameBytes {
    Owned(Vec<u8>),
    /// One buffer shared by every session a notification is broadcast to;
    /// the process budget is charged once for it and released when the
    /// last holder (a queue, or a transport still writing it) drops it.
    Shared(Rc<SharedBytes>),
}

impl Deref for Frame {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.bytes {
            FrameBytes::Owned(bytes) => bytes,
            FrameBytes::Shared(shared) => &shared.bytes,
        }
    }
}

/// A broadcast buffer and the budget its length is charged to: released
/// on drop, whoever holds it last.
#[derive(Debug)]
pub(crate) struct SharedBytes {
    bytes: Box<[u8]>,
    budget: Budget,
}

impl SharedBytes {
    /// `bytes`, already charged to `budget` by the caller.
    pub(crate) fn charged(bytes: &[u8], budget: &Budget) -> Rc<Self> {
        Rc::new(Self {
            bytes: bytes.into(),
            budget: budget.clone(),
        })
    }
}

impl Drop for SharedBytes {
    fn drop(&mut self) {
        self.budget.release(self.bytes.len());
    }
}

impl Frame {
    pub(crate) fn response(bytes: Vec<u8>) -> Self {
        Self {
            bytes: FrameBytes::Owned(bytes),
            is_response: true,
        }
    }

    pub(crate) fn other(bytes: Vec<u8>) -> Self {
        Self {
            bytes: FrameBytes::Owned(bytes),
            is_response: false,
        }
    }

    pub(crate) fn shared(bytes: &Rc<SharedBytes>) -> Self {
        Self {
            bytes: FrameBytes::Shared(Rc::clone(bytes)),
            is_response: false,
        }
    }

    /// The bytes to give back to the process budget when this frame leaves
    /// the relay: its length; nothing for a shared buffer (its last holder
    /// gives it back on drop, `SharedBytes`).
    pub(crate) fn process_share(&self) -> usize {
        match &self.bytes {
            FrameBytes::Owned(bytes) => bytes.len(),
            FrameBytes::Shared(_) => 0,
        }
    }
}

/// The frames queued for one session, and their byte count.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    frames: VecDeque<Frame>,
    bytes: usize,
}

impl Outbox {
    pub(crate) fn len(&self) -> usize {
        self.frames.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Queues `frame` (already charged to the budget by the caller).
    pub(crate) fn push(&mut self, frame: Frame) {
        self.bytes = self.bytes.saturating_add(frame.len());
        self.frames.push_back(frame);
    }

    /// Takes the next frame and gives its bytes back to `budget`.
    pub(crate) fn pop(&mut self, budget: &Budget) -> Option<Frame> {
        let frame = self.frames.pop_front()?;
        self.bytes = self.bytes.saturating_sub(frame.len());
        budget.release(frame.process_share());
        Some(frame)
    }

    /// Drops every queued frame, giving their bytes back.
    pub(crate) fn clear(&mut self, budget: &Budget) {
        while let Some(frame) = self.frames.pop_front() {
            budget.release(frame.process_share());
        }
        self.bytes = 0;
    }

    /// Takes every frame out (they stay charged: they move to another
    /// relay on the same budget).
    pub(crate) fn take(&mut self) -> VecDeque<Frame> {
        self.bytes = 0;
        std::mem::take(&mut self.frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_release_hook_is_called_on_every_release_until_taken_off() {
        let budget = Budget::new(100);
        let calls = Rc::new(Cell::new(0u32));
        let seen = Rc::clone(&calls);
        budget.on_release(Some(Rc::new(move || seen.set(seen.get() + 1))));
        budget.charge(10);
        assert_eq!(budget.try_charge(20), Ok(()));
        assert_eq!(calls.get(), 0, "charges call nothing");
        budget.release(0);
        assert_eq!(calls.get(), 0, "nothing given back");
        budget.release(5);
        budget.release(25);
        assert_eq!((calls.get(), budget.used()), (2, 0));
        // A shared buffer gives its bytes back when its last holder drops it.
        let shared = SharedBytes::charged(b"abc", &budget);
        budget.charge(3);
        drop(shared);
        assert_eq!((calls.get(), budget.used()), (3, 0));
        budget.on_release(None);
        budget.charge(1);
        budget.release(1);
        assert_eq!(calls.get(), 3);
    }
}
