//! `--help`, rendered from the flag table: grouped by mode (argh-style help lists flags in
//! one flat block), a description column at [`COLUMN`], and each default appended to its
//! description, or on a line of its own when the line would pass [`WIDTH`] columns.

use super::flags::{Flag, Group, Kind, FLAGS, SHORT_HELP};

/// The help text, without a trailing newline.
pub(super) fn render() -> String {
    let mut out = String::from(INTRO);
    for group in Group::ALL {
        out.push('\n');
        if let Some(heading) = heading(group) {
            out.push_str(heading);
            out.push('\n');
        }
        for flag in FLAGS.iter().filter(|flag| flag.group == group) {
            push_flag(&mut out, flag);
        }
        if let Some(note) = note(group) {
            out.push_str(note);
            out.push('\n');
        }
    }
    out.push('\n');
    out.push_str(OUTRO);
    out.truncate(out.trim_end().len());
    out
}

/// The flag's lines: `  --name VALUE` padded to [`COLUMN`], then its description.
fn push_flag(out: &mut String, flag: &Flag) {
    let name = match (flag.kind, flag.value) {
        (Kind::Help, _) => format!("{SHORT_HELP}, {flag}"),
        (_, "") => flag.to_string(),
        (_, value) => format!("{flag} {value}"),
    };
    let mut lines: Vec<String> = flag.help.split('\n').map(str::to_owned).collect();
    if let Some(default) = flag.default.shown() {
        let default = format!("(default: {default})");
        match lines.last_mut() {
            Some(last) if fits(&format!("{last} {default}")) => {
                last.push(' ');
                last.push_str(&default);
            }
            _ => lines.push(default),
        }
    }
    let pad = COLUMN.saturating_sub(INDENT.len());
    // A label that would leave fewer than two spaces stands on a line of
    // its own, its description below it (`--oauthClientMetadataUrl URL`).
    let own_line = name.len().saturating_add(2) > pad;
    if own_line {
        out.push_str(&format!("{INDENT}{name}\n"));
    }
    for (index, line) in lines.iter().enumerate() {
        let label = if index == 0 && !own_line {
            name.as_str()
        } else {
            ""
        };
        out.push_str(&format!("{INDENT}{label:<pad$}{line}\n"));
    }
}

/// Whether a description line fits in [`WIDTH`] columns.
fn fits(description: &str) -> bool {
    COLUMN.saturating_add(description.chars().count()) <= WIDTH
}

fn heading(group: Group) -> Option<&'static str> {
    Some(match group {
        Group::Input => "Input (exactly one):",
        Group::Serving => "Serving a stdio server (--stdio, any network output):",
        Group::SseOutput => "  SSE output (--outputTransport sse, the default):",
        Group::StreamableOutput => "  Streamable HTTP output (--outputTransport streamableHttp):",
        Group::Auth => {
            "Authentication of the MCP endpoints (any network output; or env SUPERGATEWAY_AUTH_TOKEN):"
        }
        Group::Reverse => {
            "Reverse bridges (--sse URL or --streamableHttp URL, served on stdin/stdout):"
        }
        Group::Headers => "Headers (all modes):",
        Group::OAuth => {
            "OAuth client (reverse bridges; tokens in $XDG_CONFIG_HOME/supergateway/oauth):"
        }
        Group::Runtime => "Runtime args injection (all modes):",
        Group::Logging => "Logging (all modes):",
        Group::Exits => return None,
    })
}

/// A line after the group's flags.
fn note(group: Group) -> Option<&'static str> {
    match group {
        Group::Logging => Some(
            "  OTEL_EXPORTER_OTLP_ENDPOINT turns on the OTLP/HTTP export of traces and logs \
             (README: Telemetry).",
        ),
        _ => None,
    }
}

/// Where descriptions start (0-based column); the longest `--name VALUE` leaves two spaces.
pub(super) const COLUMN: usize = 29;
/// No help line is wider (a test checks).
pub(super) const WIDTH: usize = 100;
const INDENT: &str = "  ";

const INTRO: &str = "\
supergateway — run an MCP stdio server over SSE, WebSocket or Streamable HTTP, or expose a
remote SSE or Streamable HTTP MCP server as a local stdio server.

Usage:
  supergateway --stdio CMD [--outputTransport sse|ws|streamableHttp] [FLAGS]
  supergateway --sse URL [FLAGS]
  supergateway --streamableHttp URL [FLAGS]
";

const OUTRO: &str = "\
Examples:
  Serve a stdio server over SSE at http://127.0.0.1:8000/sse:
    supergateway --stdio \"npx -y @modelcontextprotocol/server-filesystem /tmp\"
  The same over Streamable HTTP with sessions, on all interfaces:
    supergateway --stdio \"./server\" --outputTransport streamableHttp --stateful --host 0.0.0.0
  Use a remote SSE server as a local stdio server:
    supergateway --sse https://example.com/sse --oauth2Bearer \"$TOKEN\"

Flags accept --flag value and --flag=value, and kebab-case names (--output-transport).
Booleans accept --flag, --flag=false and --no-flag. Usage errors exit with status 2.
";
