//! Zombie reaping when the gateway is PID 1 (the entry point of a container).
//!
//! A process whose parent exits is re-parented to PID 1, which must collect its
//! exit status or it stays a zombie for the container's life. The gateway's own
//! children are collected by `async-process` (each by its pid); everything else
//! that ends up ours — a server's daemonised helpers, the leftovers of a process
//! group that the child left behind — is reaped here, on every SIGCHLD.
//!
//! Reaping must never take an exit status that `async-process` waits for, so
//! this does not call `waitpid(-1)`: it lists our zombie children from `/proc`
//! and reaps only those whose pid is not one of the children we spawned
//! (`child::is_own`). Outside PID 1 nothing runs (the init of the system or of
//! the container does this job).

use async_signal::{Signal, Signals};
use futures_lite::StreamExt;
use rustix::process::{Pid, WaitOptions};

use crate::{child, rt};

/// Starts the reaper when this process is PID 1; a no-op otherwise.
pub(crate) fn start() {
    if std::process::id() != 1 {
        return;
    }
    let mut signals = match Signals::new([Signal::Child]) {
        Ok(signals) => signals,
        Err(err) => {
            tracing::warn!(
                "running as PID 1 but cannot watch SIGCHLD ({err}): orphans may stay zombies"
            );
            return;
        }
    };
    tracing::debug!("running as PID 1: reaping orphaned processes");
    rt::spawn(async move {
        while signals.next().await.is_some() {
            reap_orphans();
        }
    })
    .detach();
}

/// Reaps every zombie child of ours that we did not spawn.
fn reap_orphans() {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    let me = std::process::id();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if zombie_child_of(&stat, me) && !child::is_own(pid) {
            if let Some(pid) = Pid::from_raw(pid) {
                let _ = rustix::process::waitpid(Some(pid), WaitOptions::NOHANG);
            }
        }
    }
}

/// Whether a `/proc/PID/stat` line is that of a zombie whose parent is `parent`.
/// The command name (field 2) is in parentheses and may contain anything, so
/// the fields are read after its last `)`: ` state ppid …`.
fn zombie_child_of(stat: &str, parent: u32) -> bool {
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return false;
    };
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next();
    let ppid = fields.next().and_then(|ppid| ppid.parse::<u32>().ok());
    state == Some("Z") && ppid == Some(parent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_are_read_after_the_command_name() {
        let cases: &[(&str, bool)] = &[
            ("42 (sleep) Z 1 42 42 0 -1", true),
            ("42 (sleep) S 1 42 42 0 -1", false),
            ("42 (sleep) Z 7 42 42 0 -1", false),
            ("42 (a) Z 7 (b) Z 1 42", true),
            ("42 (odd) name) Z 1 42", true),
            ("42 (x) Z", false),
            ("42 (x) Z notanumber", false),
            ("garbage", false),
            ("", false),
        ];
        for &(stat, zombie) in cases {
            assert_eq!(zombie_child_of(stat, 1), zombie, "{stat:?}");
        }
    }
}
