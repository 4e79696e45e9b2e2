//! The runtime: one thread, one smol `LocalExecutor`.
//!
//! A gateway's work is moving bytes between sockets and pipes; one thread
//! does that at tens of thousands of messages per second, and keeps the
//! routing state free of locks (`Rc<RefCell<..>>`), which is easier to audit.
//! The child process and the load client get the other cores.

use std::future::Future;

use smol::{LocalExecutor, Task};

thread_local! {
    static EXECUTOR: LocalExecutor<'static> = const { LocalExecutor::new() };
}

/// Spawns a task on this thread's executor. Drop the `Task` to cancel it,
/// or `.detach()` it to let it run to completion on its own.
pub(crate) fn spawn<F>(future: F) -> Task<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    EXECUTOR.with(|executor| executor.spawn(future))
}

/// Runs `future` to completion, running spawned tasks meanwhile.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    EXECUTOR.with(|executor| smol::block_on(executor.run(future)))
}

/// Runs `future` inside `span` (entered while it is polled). Unlike `tracing::Instrument`, the
/// span is not entered to drop the future: tasks still pending when the process exits are
/// dropped with the executor during thread-local destruction, where entering a span (the
/// registry's per-thread span stack) would panic.
pub(crate) async fn in_span<F: Future>(span: tracing::Span, future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| {
        let _entered = span.enter();
        future.as_mut().poll(cx)
    })
    .await
}

/// 128 bits from the OS CSPRNG (session ids, tokens). Aborts the process if
/// the OS has no randomness to give: a predictable id or token would be a
/// security hole.
pub(crate) fn random_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    if let Err(err) = getrandom::fill(&mut bytes) {
        tracing::error!("the OS random number generator failed: {err}");
        std::process::abort();
    }
    bytes
}

/// Appends `bytes` to `out` as lowercase hex.
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        for nibble in [byte >> 4, byte & 0x0f] {
            let digit = DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0');
            out.push(char::from(digit));
        }
    }
}
