//! `mcpServers` config harness (`mcp_config`).

// Fuzz harnesses assert properties by panicking (STYLE.md 19).
#![allow(clippy::panic, clippy::indexing_slicing)]

use crate::config::{parse_mcp_servers, Limits, Servers};

/// Fuzz target `mcp_config`: the input is a config file, parsed with small
/// limits and an environment where `A` expands to `${env:A}` and `B` to
/// nothing. Asserts that the parser never panics and:
/// - every error prints as one non-empty line starting with its path;
/// - input serde_json refuses (after a leading byte-order mark) is
///   refused;
/// - parsing is deterministic;
/// - an accepted file has at most the limit of servers, with names in
///   `[A-Za-z0-9_-]{1,64}`, all distinct, exactly as many as serde_json
///   sees keys in the server map (so no duplicate slipped through);
///   non-empty commands, no NUL, every string within the limit, and no
///   `${env:B}` left unexpanded in command, args, env values or cwd.
pub fn mcp_config(data: &[u8]) {
    let env = |name: &str| match name {
        "A" => Some("${env:A}".to_owned()),
        "B" => Some(String::new()),
        _ => None,
    };
    let limits = Limits::DEFAULT
        .max_servers(4)
        .max_args(4)
        .max_env(4)
        .max_filter_entries(4)
        .max_string_bytes(64);
    let result = parse_mcp_servers(data, &env, limits);
    assert_eq!(
        result,
        parse_mcp_servers(data, &env, limits),
        "not deterministic"
    );
    // The parser skips a leading byte-order mark; serde_json does not.
    let unmarked = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let reference = serde_json::from_slice::<serde_json::Value>(unmarked);
    match result {
        Err(error) => {
            let shown = error.to_string();
            assert!(!shown.contains('\n') && !shown.contains('\r'), "{shown:?}");
            assert!(!error.path().is_empty(), "{shown:?}");
            assert!(shown.starts_with(error.path()), "{shown:?}");
        }
        Ok(servers) => {
            let Ok(value) = reference else {
                panic!("accepted what serde_json refuses: {servers:?}");
            };
            check_accepted(&servers, &value, &limits);
        }
    }
}

fn check_accepted(servers: &Servers, value: &serde_json::Value, limits: &Limits) {
    let map = value
        .get("mcpServers")
        .or_else(|| value.get("servers"))
        .or_else(|| value.get("mcp").and_then(|mcp| mcp.get("servers")))
        .and_then(serde_json::Value::as_object);
    let Some(map) = map else {
        panic!("accepted without a server map: {value}");
    };
    assert_eq!(
        map.len(),
        servers.servers.len(),
        "a duplicate slipped through"
    );
    assert!(servers.servers.len() <= limits.max_servers);
    for (index, server) in servers.servers.iter().enumerate() {
        let name = &server.name;
        assert!((1..=64).contains(&name.len()), "{name:?}");
        assert!(name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
        assert!(
            !servers.servers[..index].iter().any(|s| s.name == *name),
            "{name:?} twice"
        );
        assert!(!server.command.is_empty());
        assert!(server.args.len() <= limits.max_args);
        assert!(server.env.len() <= limits.max_env);
        let strings = std::iter::once(&server.command)
            .chain(server.args.iter())
            .chain(server.env.iter().map(|(_, v)| v))
            .chain(server.cwd.iter());
        for text in strings {
            assert!(text.len() <= limits.max_string_bytes, "{text:?}");
            assert!(!text.contains('\0'), "{text:?}");
            assert!(!text.contains("${env:B}"), "{text:?}");
        }
        for (key, _) in &server.env {
            assert!(!key.is_empty() && !key.contains('=') && !key.contains('\0'));
        }
    }
}
