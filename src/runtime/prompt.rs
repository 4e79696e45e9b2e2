//! `--runtimePrompt`: runtime updates as JSON lines from the controlling
//! terminal (`/dev/tty`), never from the protocol's stdin.
//!
//! Each line is `{"scope": "defaults" | "session", "session_id"?: ..,
//! ...payload}` and is answered on the terminal with the admin API's JSON
//! reply (`{"status":"ok","restart":..}` or `{"status":"error",..}`).
//!
//! Reading a terminal blocks, so one thread owns it: it reads a line, hands
//! it to the executor over a channel, waits for the reply and writes it.
//! The executor side applies the update like the admin API does.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::rc::Rc;

use serde_json::json;
use smol::channel::{self, Receiver, Sender};
use smol::Task;

use crate::rt;
use crate::runtime::update::{parse_prompt_line, MAX_BODY_BYTES};
use crate::runtime::{ok_reply, Runtime};

/// The terminal the prompt reads.
const TTY: &str = "/dev/tty";

/// Opens the terminal and starts reading it. Fails (the gateway exits with
/// status 1) when there is no controlling terminal.
pub(crate) fn start(runtime: Rc<Runtime>) -> Result<Task<()>, String> {
    let tty = OpenOptions::new()
        .read(true)
        .write(true)
        .open(TTY)
        .map_err(|err| {
            format!(
                "--runtimePrompt needs a controlling terminal, but {TTY} cannot be opened: {err}"
            )
        })?;
    let (lines_tx, lines) = channel::bounded::<Vec<u8>>(1);
    let (replies, replies_rx) = channel::bounded::<Vec<u8>>(1);
    std::thread::Builder::new()
        .name("runtime-prompt".into())
        .spawn(move || read_terminal(tty, &lines_tx, &replies_rx))
        .map_err(|err| format!("--runtimePrompt: cannot start its thread: {err}"))?;
    tracing::info!("runtime prompt: reading JSON updates from {TTY}");
    Ok(rt::spawn(async move {
        while let Ok(line) = lines.recv().await {
            let reply = handle_line(&runtime, &line);
            if replies.send(reply).await.is_err() {
                return;
            }
        }
    }))
}

/// Applies one prompt line; returns the reply line (without its newline).
pub(crate) fn handle_line(runtime: &Runtime, line: &[u8]) -> Vec<u8> {
    let (scope, update) = match parse_prompt_line(line) {
        Ok(parsed) => parsed,
        Err(err) => {
            tracing::info!("runtime prompt: refused an update ({err})");
            return err.to_json();
        }
    };
    match runtime.apply(&scope, &update) {
        Ok(restart) => ok_reply(restart),
        Err(err) => {
            tracing::info!("runtime prompt: refused an update ({err:?})");
            err.reply().1
        }
    }
}

/// The terminal thread: line in, reply out, until the terminal closes or
/// the executor goes away.
fn read_terminal(tty: File, lines: &Sender<Vec<u8>>, replies: &Receiver<Vec<u8>>) {
    let Ok(mut out) = tty.try_clone() else {
        return;
    };
    let _ = writeln!(
        out,
        "supergateway runtime prompt: one JSON update per line, e.g. {{\"scope\":\"defaults\",\"env\":{{\"TOKEN\":\"...\"}}}}"
    );
    let mut reader = BufReader::new(tty);
    let mut line = Vec::with_capacity(1024);
    loop {
        line.clear();
        let limit = u64::try_from(MAX_BODY_BYTES)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        match (&mut reader).take(limit).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let reply = if line.last() != Some(&b'\n') && line.len() > MAX_BODY_BYTES {
            // Skip the rest of the oversize line, a bounded piece at a time.
            loop {
                line.clear();
                match (&mut reader).take(limit).read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) if line.last() == Some(&b'\n') => break,
                    Ok(_) => {}
                }
            }
            json!({"status": "error", "field": "body", "error": format!("body: over {MAX_BODY_BYTES} bytes")})
                .to_string()
                .into_bytes()
        } else {
            let text = line.trim_ascii();
            if text.is_empty() {
                continue;
            }
            if lines.send_blocking(text.to_vec()).is_err() {
                return;
            }
            match replies.recv_blocking() {
                Ok(reply) => reply,
                Err(_) => return,
            }
        };
        let mut reply = reply;
        reply.push(b'\n');
        if out.write_all(&reply).and_then(|()| out.flush()).is_err() {
            return;
        }
    }
}
