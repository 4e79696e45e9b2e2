//! The stdio child: the MCP server the gateway runs.
//!
//! It is spawned through `/bin/sh -c` in a process group of its own, so that
//! whatever it forks can be signalled with it: no orphans, ever. Its stdout
//! is framed into lines (bounded, see `jsonrpc::LineDecoder`) and handed to
//! the caller; its stderr goes to the log; its stdin is fed by a writer task
//! that, when told input is ready, pulls every waiting line from the caller
//! (the relay) and writes them with one write per batch. The bytes stay in
//! the relay's accounting until the writer takes them.
//!
//! Shutdown follows the MCP lifecycle for stdio: close stdin, wait; SIGTERM
//! to the group, wait; SIGKILL to the group. When the child exits on its
//! own, what it left in its group is stopped the same way.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::io;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_io::Timer;
use futures_lite::{AsyncReadExt, AsyncWriteExt, FutureExt};
use smol::channel::{self, Receiver, Sender};
use supergateway_proto::jsonrpc::{Line, LineDecoder};

use crate::rt;

thread_local! {
    /// Pids of the children we spawned and have not yet seen exit: their exit
    /// status belongs to `async-process`, never to the PID 1 reaper.
    static OWN: RefCell<std::collections::HashSet<i32>> = RefCell::new(std::collections::HashSet::new());
}

/// Whether `pid` is a child this process spawned (and still waits for).
pub(crate) fn is_own(pid: i32) -> bool {
    OWN.with(|own| own.borrow().contains(&pid))
}

/// Bound on one stdout line of the child (one JSON-RPC message).
pub(crate) const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;
/// Bound on one stderr line (longer ones are logged as dropped).
const MAX_STDERR_LINE_BYTES: usize = 64 * 1024;
/// The shell that runs the `--stdio` command (POSIX puts it here).
const SHELL: &str = "/bin/sh";

/// The gateway's own credentials, read from its environment
/// (`SUPERGATEWAY_AUTH_TOKEN`: the token callers present; the admin API's
/// token). The child inherits the rest of the environment, never these: an
/// MCP server is often third-party code, and the spec forbids passing a
/// caller's credentials on.
pub(crate) const GATEWAY_SECRETS: [&str; 2] =
    ["SUPERGATEWAY_AUTH_TOKEN", "SUPERGATEWAY_ADMIN_TOKEN"];
/// After stdin is closed, how long the child gets to exit by itself.
const EXIT_GRACE: Duration = Duration::from_millis(1500);
/// After SIGTERM, how long before SIGKILL.
const TERM_GRACE: Duration = Duration::from_millis(2000);

/// What a child is started with: the shell command (the `--stdio` command
/// with any runtime `extra_cli_args` appended, quoted) and variables added
/// to the gateway's environment (runtime `env`, then `--authEnv`'s).
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct ChildSpec {
    pub(crate) command: String,
    pub(crate) env: Vec<(String, String)>,
    /// `--authEnv`: the identity of the caller whose child this is. Set
    /// when the child is first started and kept across runtime restarts
    /// (`Runtime::apply` carries it over); set after `env`, so it wins.
    pub(crate) identity: Vec<(String, String)>,
    /// The working directory (a `--config` server's `cwd`); `None`: the
    /// gateway's.
    pub(crate) cwd: Option<std::path::PathBuf>,
}

/// A running (or exited) child process. Cheap to clone: all clones share it.
#[derive(Clone)]
pub(crate) struct Child {
    inner: Rc<Inner>,
}

struct Inner {
    /// Process group id (= the pid of `sh`).
    pgid: Option<rustix::process::Pid>,
    /// Wakes the stdin writer; dropped to close stdin.
    stdin: RefCell<Option<Sender<()>>>,
    /// Exit code once exited (128 + signal for a signal death).
    exit_code: Cell<Option<i32>>,
    /// Closed (never sent on) when the child exits: any number of waiters.
    exited: Receiver<()>,
    exit_signal: RefCell<Option<Sender<()>>>,
}

impl Child {
    /// Spawns `command` through `sh -c`. Each non-empty stdout line is given
    /// to `on_line` as it arrives (from the reader task); after each
    /// [`Child::input_ready`], `input` is asked to append lines for stdin
    /// (false when it has none) until it has none; `on_exit` runs once with
    /// the exit code after the process has exited and its stdout has been
    /// read to the end.
    pub(crate) fn spawn(
        spec: &ChildSpec,
        on_line: impl FnMut(&[u8]) + 'static,
        input: impl FnMut(&mut Vec<u8>) -> bool + 'static,
        on_exit: impl FnOnce(i32) + 'static,
    ) -> io::Result<Self> {
        let command = spec.command.as_str();
        // By absolute path: `Command::new("sh")` looks `sh` up on the
        // child's PATH when the environment sets one, and a runtime update
        // (or the gateway's own PATH) would then choose the shell.
        let mut std_command = std::process::Command::new(SHELL);
        std_command.arg("-c").arg(shell_script(command).as_ref());
        for name in GATEWAY_SECRETS {
            std_command.env_remove(name);
        }
        std_command
            .envs(spec.env.iter().map(|(name, value)| (name, value)))
            .envs(spec.identity.iter().map(|(name, value)| (name, value)))
            .process_group(0);
        if let Some(cwd) = &spec.cwd {
            std_command.current_dir(cwd);
        }
        // The stdio settings go on the async command: its `From` conversion
        // resets them to "inherit".
        let mut process = smol::process::Command::from(std_command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let raw_pid = i32::try_from(process.id()).unwrap_or(0);
        OWN.with(|own| own.borrow_mut().insert(raw_pid));
        let pid = rustix::process::Pid::from_raw(raw_pid);
        // Names only: runtime environment values are often secrets, and
        // identities are personal data.
        let names = |env: &[(String, String)]| -> String {
            let names: Vec<&str> = env.iter().map(|(name, _)| name.as_str()).collect();
            names.join(", ")
        };
        match (spec.env.is_empty(), spec.identity.is_empty()) {
            (true, true) => tracing::info!("child started (pid {}): {}", process.id(), command),
            (false, true) => tracing::info!(
                "child started (pid {}): {} (runtime env: {})",
                process.id(),
                command,
                names(&spec.env)
            ),
            (true, false) => tracing::info!(
                "child started (pid {}): {} (caller env: {})",
                process.id(),
                command,
                names(&spec.identity)
            ),
            (false, false) => tracing::info!(
                "child started (pid {}): {} (runtime env: {}; caller env: {})",
                process.id(),
                command,
                names(&spec.env),
                names(&spec.identity)
            ),
        }

        let (stdin_tx, stdin_rx) = channel::bounded::<()>(1);
        let (exit_tx, exit_rx) = channel::bounded::<()>(1);
        let inner = Rc::new(Inner {
            pgid: pid,
            stdin: RefCell::new(Some(stdin_tx)),
            exit_code: Cell::new(None),
            exited: exit_rx,
            exit_signal: RefCell::new(Some(exit_tx)),
        });

        // The child's tasks log in the span it was started in (a
        // `--config` server's `server{name}`), wherever they are polled.
        let span = tracing::Span::current();
        if let Some(stdin) = process.stdin.take() {
            rt::spawn(rt::in_span(
                span.clone(),
                write_stdin(stdin, stdin_rx, input),
            ))
            .detach();
        }
        if let Some(stderr) = process.stderr.take() {
            rt::spawn(rt::in_span(span.clone(), forward_stderr(stderr))).detach();
        }
        let reading = process
            .stdout
            .take()
            .map(|stdout| rt::spawn(rt::in_span(span.clone(), read_stdout(stdout, on_line))));
        let weak = Rc::downgrade(&inner);
        rt::spawn(rt::in_span(span, async move {
            let code = match process.status().await {
                Ok(status) => exit_code(status),
                Err(err) => {
                    tracing::error!("waiting for the child failed: {err}");
                    1
                }
            };
            OWN.with(|own| own.borrow_mut().remove(&raw_pid));
            tracing::info!("child exited with code {code}");
            let pgid = weak.upgrade().and_then(|inner| {
                inner.exit_code.set(Some(code));
                inner.stdin.borrow_mut().take();
                inner.pgid
            });
            // Stop whatever the child left behind in its group; then its
            // stdout ends, and the last messages it wrote are delivered
            // before `on_exit` runs.
            stop_group(pgid).await;
            if let Some(reading) = reading {
                reading
                    .or(async {
                        Timer::after(TERM_GRACE).await;
                    })
                    .await;
            }
            if let Some(inner) = weak.upgrade() {
                inner.exit_signal.borrow_mut().take();
            }
            on_exit(code);
        }))
        .detach();
        Ok(Self { inner })
    }

    /// Input for stdin is waiting: the writer pulls it when it can.
    pub(crate) fn input_ready(&self) {
        if let Some(sender) = self.inner.stdin.borrow().as_ref() {
            let _ = sender.try_send(());
        }
    }

    /// The child's process id (also its process group id).
    pub(crate) fn pid(&self) -> Option<i32> {
        self.inner.pgid.map(rustix::process::Pid::as_raw_pid)
    }

    /// True until the process has exited.
    pub(crate) fn is_running(&self) -> bool {
        self.inner.exit_code.get().is_none()
    }

    /// Resolves once the process has exited.
    pub(crate) async fn exited(&self) {
        let _ = self.inner.exited.recv().await;
    }

    /// Stops the child as [`Self::shutdown`] does, on a task of its own, so
    /// the caller does not wait for it.
    pub(crate) fn stop_in_background(&self) {
        let child = self.clone();
        rt::spawn(async move { child.shutdown().await }).detach();
    }

    /// Stops the child: close stdin and give it `EXIT_GRACE` to exit, then
    /// SIGTERM its group, then SIGKILL after `TERM_GRACE`. Resolves when the
    /// process has exited.
    pub(crate) async fn shutdown(&self) {
        if !self.is_running() {
            return self.exited().await;
        }
        self.inner.stdin.borrow_mut().take();
        let exited = async {
            self.exited().await;
            true
        };
        if exited
            .or(async {
                Timer::after(EXIT_GRACE).await;
                false
            })
            .await
        {
            return;
        }
        stop_group(self.inner.pgid).await;
        self.exited().await;
    }
}

/// SIGTERM the group; SIGKILL whatever of it is still there after
/// `TERM_GRACE`.
async fn stop_group(pgid: Option<rustix::process::Pid>) {
    let Some(pgid) = pgid else { return };
    if rustix::process::kill_process_group(pgid, rustix::process::Signal::TERM).is_err() {
        return; // nothing left in the group
    }
    let deadline = Instant::now().checked_add(TERM_GRACE);
    while deadline.is_some_and(|deadline| Instant::now() < deadline) {
        Timer::after(Duration::from_millis(25)).await;
        if !group_alive(pgid) {
            return;
        }
    }
    tracing::warn!(
        "child process group {} outlived SIGTERM; sending SIGKILL",
        pgid.as_raw_nonzero()
    );
    let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
}

/// Signal 0 probes whether any process of the group still exists.
fn group_alive(pgid: rustix::process::Pid) -> bool {
    rustix::process::test_kill_process_group(pgid).is_ok()
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|signal| signal.saturating_add(128)))
        .unwrap_or(1)
}

/// Writes the lines `input` gives to the child's stdin, one write per
/// batch, each time `ready` says there are some. Ends (closing stdin) when
/// `ready`'s sender is dropped (shutdown, exit) or a write fails.
async fn write_stdin(
    mut stdin: smol::process::ChildStdin,
    ready: Receiver<()>,
    mut input: impl FnMut(&mut Vec<u8>) -> bool,
) {
    let mut batch = Vec::with_capacity(64 * 1024);
    'woken: while ready.recv().await.is_ok() {
        loop {
            batch.clear();
            if !input(&mut batch) {
                break;
            }
            if let Err(err) = stdin.write_all(&batch).await {
                tracing::warn!("writing to the child's stdin failed: {err}");
                break 'woken;
            }
            if let Err(err) = stdin.flush().await {
                tracing::warn!("flushing the child's stdin failed: {err}");
                break 'woken;
            }
        }
        // Give back what a large batch grew to.
        batch.shrink_to(64 * 1024);
    }
    ready.close();
    let _ = stdin.close().await;
}

async fn read_stdout(stdout: smol::process::ChildStdout, mut on_line: impl FnMut(&[u8])) {
    read_lines(stdout, MAX_LINE_BYTES, &mut on_line, |len| {
        tracing::warn!("dropped a {len}-byte line from the child: over {MAX_LINE_BYTES} bytes");
    })
    .await;
}

async fn forward_stderr(stderr: smol::process::ChildStderr) {
    let mut log =
        |line: &[u8]| tracing::info!(target: "child", "{}", String::from_utf8_lossy(line));
    read_lines(stderr, MAX_STDERR_LINE_BYTES, &mut log, |len| {
        tracing::info!(target: "child", "({len}-byte stderr line dropped)");
    })
    .await;
}

/// Reads `reader` to its end, giving each non-empty line (at most `max`
/// bytes) to `on_line` and the length of each longer one to `on_oversize`.
async fn read_lines(
    mut reader: impl futures_lite::AsyncRead + Unpin,
    max: usize,
    on_line: &mut impl FnMut(&[u8]),
    on_oversize: impl Fn(usize),
) {
    let mut decoder = LineDecoder::new(max);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) => {
                tracing::warn!("reading from the child failed: {err}");
                break;
            }
        };
        let mut input = buf.get(..n).unwrap_or_default();
        loop {
            let (consumed, line) = decoder.decode(input);
            match line {
                Line::Complete([]) => {}
                Line::Complete(line) => on_line(line),
                Line::Oversize { len } => on_oversize(len),
                Line::NeedMore => break,
            }
            input = input.get(consumed..).unwrap_or_default();
        }
    }
}

/// The script `sh -c` runs for `command`: `exec command` when it is one simple command, so
/// the server replaces the shell instead of running under it (one process and ~1.7 MiB of
/// memory fewer per child, and signals reach the server itself); the command unchanged
/// otherwise. `exec` keeps every expansion, quote and redirection of the command (the shell
/// still parses it); what it would break is a list, pipeline or compound command, or leading
/// variable assignments, so anything that may contain one is left alone (conservatively: a
/// control character anywhere, even quoted, counts).
fn shell_script(command: &str) -> Cow<'_, str> {
    const RESERVED: &[&str] = &[
        "!", "{", "}", "case", "do", "done", "elif", "else", "esac", "exec", "fi", "for",
        "function", "if", "in", "select", "then", "time", "until", "while",
    ];
    let control = |c: char| matches!(c, ';' | '&' | '|' | '(' | ')' | '`' | '\n' | '\r');
    let Some(first_word) = command.split_whitespace().next() else {
        return Cow::Borrowed(command);
    };
    if command.contains(control) || first_word.contains('=') || RESERVED.contains(&first_word) {
        return Cow::Borrowed(command);
    }
    Cow::Owned(format!("exec {command}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_commands_are_execed_others_left_to_the_shell() {
        let cases: &[(&str, &str)] = &[
            ("server", "exec server"),
            (
                "npx -y @scope/server-fs /tmp",
                "exec npx -y @scope/server-fs /tmp",
            ),
            (
                "uvx srv --dir ~/x \"a b\" $HOME >log",
                "exec uvx srv --dir ~/x \"a b\" $HOME >log",
            ),
            ("  srv  ", "exec   srv  "),
            ("", ""),
            ("   ", "   "),
            ("a; b", "a; b"),
            ("a && b", "a && b"),
            ("a | b", "a | b"),
            ("a & ", "a & "),
            ("srv 2>&1", "srv 2>&1"),
            ("(a)", "(a)"),
            ("echo `x`", "echo `x`"),
            ("echo $(x)", "echo $(x)"),
            ("a\nb", "a\nb"),
            ("FOO=1 srv", "FOO=1 srv"),
            ("exec srv", "exec srv"),
            ("if true", "if true"),
            ("! srv", "! srv"),
            ("{ srv", "{ srv"),
            ("echo 'a;b'", "echo 'a;b'"),
        ];
        for &(command, script) in cases {
            assert_eq!(shell_script(command), script, "{command:?}");
        }
    }
}

/// `--restart`: whether a shared child that exited by itself is started
/// again (with backoff) instead of the gateway exiting with its code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum RestartPolicy {
    /// The gateway exits with the child's code (the behaviour before
    /// `--restart` existed).
    #[default]
    Never,
    /// Restart after a non-zero exit or a signal (codes 128 + signal are
    /// non-zero too); exit 0 still ends the gateway.
    OnFailure,
    /// Restart after any exit.
    Always,
}

impl RestartPolicy {
    /// Whether a child that exited with `code` is to be started again.
    pub(crate) fn restarts(self, code: i32) -> bool {
        match self {
            Self::Never => false,
            Self::OnFailure => code != 0,
            Self::Always => true,
        }
    }
}
