//! The gateway as a container's PID 1 (issue 8): it reaps the orphans that are
//! re-parented to it and stops cleanly on SIGTERM. No container engine runs in
//! CI, so a PID namespace from `unshare --pid --fork --mount-proc` stands in
//! for one (root, or a kernel allowing user namespaces, is needed: both hold
//! on the CI machine; elsewhere the test says it is skipped).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use std::process::Command;

use common::{children_of, eventually, fixture, process_alive, tool_text, Gateway, SseClient};
use serde_json::json;

const UNSHARE: &[&str] = &["unshare", "--pid", "--fork", "--mount-proc"];

fn pid_namespaces_work() -> bool {
    Command::new(UNSHARE[0])
        .args(&UNSHARE[1..])
        .arg("true")
        .status()
        .is_ok_and(|status| status.success())
}

/// Children of `pid` (host pids, zombies included).
fn children(pid: i32) -> Vec<i32> {
    children_of(pid).into_iter().map(|(pid, _)| pid).collect()
}

fn command_line(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|bytes| String::from_utf8_lossy(&bytes).replace('\0', " "))
        .unwrap_or_default()
}

#[test]
fn as_pid_1_the_gateway_reaps_orphans_and_stops_on_sigterm() {
    if !pid_namespaces_work() {
        assert!(
            std::env::var_os("CI").is_none(),
            "`unshare --pid --fork --mount-proc` must work in CI"
        );
        eprintln!("skipped: no PID namespaces here (run as root)");
        return;
    }
    // Five background sleeps whose parent subshells exit at once: they are
    // re-parented to PID 1 (the gateway) before the server starts, and turn
    // into zombies 100 ms later unless PID 1 reaps them.
    let server = format!(
        "for i in 1 2 3 4 5; do (sleep 0.1 &); done; exec {}",
        fixture()
    );
    let mut gw = Gateway::start_wrapped(UNSHARE, &["--stdio", &server]);
    let gateway = *children(gw.pid())
        .first()
        .expect("unshare has forked the gateway");
    assert!(command_line(gateway).contains("supergateway"));

    let mut client = SseClient::connect(&gw);
    client.initialize();
    let answer = client.call(
        json!(1),
        "tools/call",
        json!({"name": "echo", "arguments": {"message": "pid 1"}}),
    );
    assert_eq!(tool_text(&answer), "pid 1");

    // The server answered, so the loop ran and the sleeps are the gateway's.
    // Once they have exited and been reaped, the server is its only child.
    let server_pid = children(gateway)
        .into_iter()
        .find(|&pid| command_line(pid).contains("fixture-server"))
        .expect("the server runs under the gateway");
    eventually("the orphans are reaped", || {
        children(gateway) == [server_pid]
    });

    gw.signal_pid(gateway, "TERM");
    let status = gw.wait_exit();
    assert_eq!(status.code(), Some(0), "log:\n{}", gw.log());
    assert!(!process_alive(server_pid));
    assert!(gw.log().contains("received"), "log:\n{}", gw.log());
}
