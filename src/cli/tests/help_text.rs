//! `--help` as rendered from the flag table, and README's flag table against the table.

use super::*;

/// `--help`'s flag lines: the camelCase name and the text of its "(default: …)", if any.
fn help_flags(help: &str) -> Vec<(String, Option<String>)> {
    let mut flags: Vec<(String, String)> = Vec::new();
    for line in help.lines() {
        let line = line.strip_prefix("  -h, ").map_or(line, |rest| rest);
        if let Some(rest) = line.strip_prefix("  --") {
            let name: String = rest
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            flags.push((name, rest.to_owned()));
        } else if line.starts_with("                             ") {
            // A continuation of the last flag's description.
            if let Some((_, text)) = flags.last_mut() {
                text.push(' ');
                text.push_str(line.trim());
            }
        } else if let Some(rest) = line.strip_prefix("--") {
            let name: String = rest
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            flags.push((name, rest.to_owned()));
        }
    }
    flags
        .into_iter()
        .map(|(name, text)| {
            let default = text
                .split_once("(default: ")
                .and_then(|(_, rest)| rest.rsplit_once(')'))
                .map(|(default, _)| default.to_owned());
            (name, default)
        })
        .collect()
}

#[test]
fn help_lists_every_flag_in_table_order_with_its_default() {
    let help = help::render();
    let listed = help_flags(&help);
    let expected: Vec<(String, Option<String>)> = FLAGS
        .iter()
        .map(|flag| {
            (
                flag.name.to_owned(),
                flag.default.shown().map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(listed, expected);
    assert!(help.lines().all(|line| line.chars().count() <= help::WIDTH));
    assert!(!help.ends_with('\n'));
    // Each label leaves at least two spaces before the descriptions, or
    // stands on a line of its own.
    for flag in FLAGS {
        let label = format!("{flag} {}", flag.value);
        let label = label.trim_end();
        let line = help
            .lines()
            .filter_map(|line| line.strip_prefix("  "))
            .map(|line| line.strip_prefix("-h, ").unwrap_or(line))
            .find(|line| *line == label || line.starts_with(&format!("{label} ")))
            .unwrap_or_else(|| panic!("{label} is not in --help"));
        if label.len() + 4 <= help::COLUMN {
            assert!(line.len() + 2 > help::COLUMN, "{line}");
        } else {
            assert_eq!(line, label);
        }
    }
}

#[test]
fn help_lines_as_documented() {
    let help = help::render();
    let lines: Vec<&str> = help.lines().collect();
    let after = |start: &str, count: usize| -> Vec<&str> {
        let at = lines
            .iter()
            .position(|line| line.starts_with(start))
            .unwrap_or_else(|| panic!("no line starts with {start:?}"));
        lines[at..at + count].to_vec()
    };
    let cases: &[(&str, &[&str])] = &[
        (
            "supergateway —",
            &[
                "supergateway — run an MCP stdio server over SSE, WebSocket or Streamable HTTP, or expose a",
                "remote SSE or Streamable HTTP MCP server as a local stdio server.",
                "",
                "Usage:",
            ],
        ),
        (
            "Input",
            &[
                "Input (exactly one):",
                "  --stdio CMD                shell command (sh -c) of the child MCP server",
            ],
        ),
        (
            "  --outputTransport",
            &[
                "  --outputTransport T        stdio, sse, ws or streamableHttp",
                "                             (default: sse with --stdio, stdio otherwise)",
                "",
                "Serving a stdio server (--stdio, any network output):",
                "  --port N                   listen port, 0 for any free port (default: 8000)",
                "  --host ADDR                bind address, 0.0.0.0 for containers",
                "                             (default: 127.0.0.1, or env SUPERGATEWAY_HOST)",
                "  --cors [ORIGIN...]         allowed origins: none given = any; exact origins or /regex/",
            ],
        ),
        (
            "  --keepAlive",
            &[
                "  --keepAlive MS             SSE heartbeat and WebSocket ping interval, 0 = off (default: 15000)",
                "",
                "  SSE output (--outputTransport sse, the default):",
                "  --ssePath PATH             path of the SSE event stream (default: /sse)",
            ],
        ),
        (
            "  --streamableHttpPath",
            &[
                "  --streamableHttpPath PATH  the MCP endpoint (default: /mcp)",
                "  --stateful                 sessions with Mcp-Session-Id, one child each",
            ],
        ),
        (
            "  --header",
            &[
                "  --header \"NAME: VALUE\"     outbound request header (reverse bridges) or response header",
                "                             (serving a stdio server); repeatable",
            ],
        ),
        (
            "  --logFormat",
            &[
                "  --logFormat FORMAT         text, or json for one JSON object per line (default: text)",
                "  OTEL_EXPORTER_OTLP_ENDPOINT turns on the OTLP/HTTP export of traces and logs (README: Telemetry).",
                "",
                "  --version                  print the version",
                "  -h, --help                 print this help",
                "",
                "Examples:",
            ],
        ),
    ];
    for &(start, expected) in cases {
        assert_eq!(after(start, expected.len()), expected, "{start:?}");
    }
    assert!(help.ends_with("Usage errors exit with status 2."), "{help}");
}

/// README's flag table: the camelCase name and the default column without backticks.
fn readme_flags() -> Vec<(String, String)> {
    let readme = include_str!("../../../README.md");
    let table = readme
        .split("\n## Flags\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .unwrap_or_default();
    let mut flags = Vec::new();
    for row in table.lines().filter(|line| line.starts_with("| `--")) {
        let row = row.replace("\\|", "/");
        let cells: Vec<&str> = row.split('|').collect();
        let default = cells.get(2).copied().unwrap_or_default().replace('`', "");
        // The names are the code spans of the first cell ("`--version`, `--help`").
        let first = cells.get(1).copied().unwrap_or_default();
        for names in first
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|c| c.starts_with("--"))
        {
            let name: String = names[2..]
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            flags.push((name, default.trim().to_owned()));
        }
    }
    flags
}

#[test]
fn readme_documents_the_flag_table_in_order_with_the_same_defaults() {
    let readme = readme_flags();
    let documented: Vec<&str> = readme.iter().map(|(name, _)| name.as_str()).collect();
    let table: Vec<&str> = FLAGS.iter().map(|flag| flag.name).collect();
    assert_eq!(
        documented, table,
        "README's flag table and the flag table differ"
    );
    for (flag, (_, default)) in FLAGS.iter().zip(&readme) {
        let expected = match (flag.default, flag.kind) {
            (Absent::Off, _) => "off",
            (Absent::Nothing, Kind::Help | Kind::Version) => "",
            (Absent::Nothing, _) => "—",
            (shown, _) => shown.shown().unwrap_or_default(),
        };
        assert_eq!(default, expected, "README's default of {flag}");
    }
}
