use super::*;

fn env(name: &str) -> Option<String> {
    let value = match name {
        "HOME" => "/home/ada",
        "TOKEN" => "s3cret",
        "EMPTY" => "",
        "NESTED" => "${env:HOME}",
        "DOLLAR" => "$$ and ${",
        _ => return None,
    };
    Some(value.to_owned())
}

fn parse(json: &str) -> Result<Servers, ConfigError> {
    parse_mcp_servers(json.as_bytes(), &env, Limits::DEFAULT)
}

fn one(json: &str) -> Server {
    let servers = parse(json).unwrap_or_else(|e| panic!("{json}: {e}"));
    assert_eq!(servers.servers.len(), 1, "{json}");
    servers.servers.into_iter().next().unwrap()
}

/// `{"mcpServers": {"s": SERVER}}`.
fn wrap(server: &str) -> String {
    format!(r#"{{"mcpServers": {{"s": {server}}}}}"#)
}

fn server(command: &str, args: &[&str], env: &[(&str, &str)], cwd: Option<&str>) -> Server {
    Server {
        name: "s".to_owned(),
        command: command.to_owned(),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        written: std::iter::once(command)
            .chain(args.iter().copied())
            .map(str::to_owned)
            .collect(),
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        cwd: cwd.map(str::to_owned),
        disabled: false,
        settings: Settings::default(),
    }
}

#[test]
fn accepts() {
    let cases: &[(&str, Server)] = &[
        (
            r#"{"mcpServers": {"s": {"command": "x"}}}"#,
            server("x", &[], &[], None),
        ),
        (
            r#"{"servers": {"s": {"type": "stdio", "command": "x"}}, "inputs": []}"#,
            server("x", &[], &[], None),
        ),
        (
            r#"{"mcp": {"servers": {"s": {"command": "x"}}, "inputs": []}}"#,
            server("x", &[], &[], None),
        ),
        (
            &wrap(r#"{"command": "x", "transportType": "stdio"}"#),
            server("x", &[], &[], None),
        ),
        (
            &wrap(
                r#"{"command": "x", "args": ["a", ""], "env": {"A": "1", "B": ""}, "cwd": "/tmp"}"#,
            ),
            server("x", &["a", ""], &[("A", "1"), ("B", "")], Some("/tmp")),
        ),
        // Ignored client keys.
        (
            &wrap(
                r#"{"command": "x", "autoApprove": ["t"], "alwaysAllow": [], "timeout": 60, "description": "d", "dev": {"watch": "*.js"}}"#,
            ),
            server("x", &[], &[], None),
        ),
        (
            &wrap(r#"{"command": "x", "args": [], "env": {}}"#),
            server("x", &[], &[], None),
        ),
        (
            &wrap(r#"{"command": "x", "disabled": false}"#),
            server("x", &[], &[], None),
        ),
        (
            &wrap(r#"{"command": "\u0078"}"#),
            server("x", &[], &[], None),
        ),
    ];
    for (json, want) in cases {
        assert_eq!(&one(json), want, "{json}");
    }
}

#[test]
fn names() {
    for name in ["a", "A-b_9", &"n".repeat(64)] {
        let json = format!(r#"{{"mcpServers": {{"{name}": {{"command": "x"}}}}}}"#);
        assert_eq!(one(&json).name, name);
    }
    let cases = [
        ("", r#"mcpServers[""]"#),
        ("a b", r#"mcpServers["a b"]"#),
        ("a.b", r#"mcpServers["a.b"]"#),
        ("é", r#"mcpServers["é"]"#),
        ("a/b", r#"mcpServers["a/b"]"#),
        ("a\\nb", r#"mcpServers["a\nb"]"#),
        (
            &"n".repeat(65),
            &format!(r#"mcpServers["{}"...]"#, "n".repeat(64)),
        ),
    ];
    for (name, path) in cases {
        let json = format!(r#"{{"mcpServers": {{"{name}": {{"command": "x"}}}}}}"#);
        let error = parse(&json).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("{path}: a server name must match [A-Za-z0-9_-]{{1,64}}"),
            "{json}"
        );
    }
}

#[test]
fn rejects() {
    let cases: &[(&str, &str)] = &[
        // Top level.
        ("", "(root): the JSON ends too early"),
        ("{\"mcpServers\": {}", "(root): the JSON ends too early"),
        ("{\"mcpServers\": {},}", "(root): not valid JSON at line 1 column 19"),
        ("{}\n{}", "(root): not valid JSON at line 2 column 1"),
        ("[]", "(root): must be an object"),
        ("{}", "(root): no \"mcpServers\", \"servers\" or \"mcp\": {\"servers\"} object"),
        (r#"{"inputs": []}"#, "(root): no \"mcpServers\", \"servers\" or \"mcp\": {\"servers\"} object"),
        (r#"{"mcpServers": {}, "servers": {}}"#, "servers: only one of \"mcpServers\", \"servers\" and \"mcp\" may be given"),
        (r#"{"mcpServers": {}, "mcp": {"servers": {}}}"#, "mcp: only one of \"mcpServers\", \"servers\" and \"mcp\" may be given"),
        (r#"{"mcpServers": {}, "mcpServers": {}}"#, "mcpServers: duplicate key"),
        (r#"{"mcpServers": {}, "other": 1}"#, "other: unknown key"),
        (r#"{"mcpServers": []}"#, "mcpServers: must be an object"),
        (r#"{"servers": {}, "inputs": {}}"#, "inputs: must be an array"),
        (r#"{"mcp": {"servers": {}, "x": 1}}"#, "mcp.x: unknown key"),
        (r#"{"mcp": {"inputs": []}}"#, "mcp: no \"mcpServers\", \"servers\" or \"mcp\": {\"servers\"} object"),
        (r#"{"mcp": []}"#, "mcp: must be an object"),
        (r#"{"mcpServers": {"s": []}}"#, "mcpServers.s: must be an object"),
        // Duplicate names and keys anywhere.
        (
            r#"{"mcpServers": {"files": {"command": "a"}, "files": {"command": "b"}}}"#,
            "mcpServers.files: duplicate key",
        ),
        (r#"{"mcpServers": {"s": {"command": "a", "command": "b"}}}"#, "mcpServers.s.command: duplicate key"),
        (r#"{"mcpServers": {"s": {"command": "a", "env": {"A": "1", "A": "2"}}}}"#, "mcpServers.s.env.A: duplicate key"),
        // Escaped spelling of the same key is the same key.
        (r#"{"mcpServers": {"s": {"command": "a"}, "\u0073": {"command": "b"}}}"#, "mcpServers.s: duplicate key"),
        // Servers.
        (r#"{"mcpServers": {"f": {}}}"#, "mcpServers.f: a server needs a \"command\""),
        (r#"{"mcpServers": {"f": {"args": ["x"]}}}"#, "mcpServers.f: a server needs a \"command\""),
        (r#"{"mcpServers": {"f": {"command": ""}}}"#, "mcpServers.f.command: must not be empty"),
        (r#"{"mcpServers": {"f": {"command": ["npx"]}}}"#, "mcpServers.f.command: must be a string"),
        (r#"{"mcpServers": {"f": {"command": "a\u0000b"}}}"#, "mcpServers.f.command: must not contain a NUL character"),
        (r#"{"mcpServers": {"f": {"command": "x", "args": "a b"}}}"#, "mcpServers.f.args: must be an array of strings"),
        (r#"{"mcpServers": {"files": {"command": "x", "args": ["a", "b", 3]}}}"#, "mcpServers.files.args[2]: must be a string"),
        (r#"{"mcpServers": {"f": {"command": "x", "args": ["\u0000"]}}}"#, "mcpServers.f.args[0]: must not contain a NUL character"),
        (r#"{"mcpServers": {"f": {"command": "x", "env": []}}}"#, "mcpServers.f.env: must be an object of strings"),
        (r#"{"mcpServers": {"f": {"command": "x", "env": {"PORT": 8080}}}}"#, "mcpServers.f.env.PORT: must be a string"),
        (r#"{"mcpServers": {"f": {"command": "x", "env": {"A": null}}}}"#, "mcpServers.f.env.A: must be a string"),
        (r#"{"mcpServers": {"f": {"command": "x", "env": {"": "1"}}}}"#, "mcpServers.f.env[\"\"]: must not be empty"),
        (r#"{"mcpServers": {"f": {"command": "x", "env": {"A=B": "1"}}}}"#, "mcpServers.f.env[\"A=B\"]: an environment variable name must not contain '='"),
        (r#"{"mcpServers": {"f": {"command": "x", "env": {"A\u0000": "1"}}}}"#, "mcpServers.f.env[\"A\\u0000\"]: must not contain a NUL character"),
        (r#"{"mcpServers": {"f": {"command": "x", "cwd": ""}}}"#, "mcpServers.f.cwd: must not be empty"),
        (r#"{"mcpServers": {"f": {"command": "x", "cwd": 1}}}"#, "mcpServers.f.cwd: must be a string"),
        (r#"{"mcpServers": {"f": {"command": "x", "disabled": "yes"}}}"#, "mcpServers.f.disabled: must be true or false"),
        (r#"{"mcpServers": {"f": {"command": "x", "comand": "y"}}}"#, "mcpServers.f.comand: unknown key"),
        // Remote servers, whatever else the entry holds.
        (r#"{"mcpServers": {"r": {"url": "https://mcp.example.com/mcp"}}}"#, "mcpServers.r.url: remote servers (url) are not supported yet; only stdio servers with a \"command\""),
        (r#"{"mcpServers": {"r": {"command": "x", "headers": {}}}}"#, "mcpServers.r.headers: remote servers (url) are not supported yet; only stdio servers with a \"command\""),
        (r#"{"servers": {"r": {"type": "http", "url": "https://x"}}}"#, "servers.r.type: remote servers (url) are not supported yet; only stdio servers with a \"command\""),
        (r#"{"servers": {"r": {"url": "https://x", "oauth": {"clientId": "c"}}}}"#, "servers.r.url: remote servers (url) are not supported yet; only stdio servers with a \"command\""),
        (r#"{"servers": {"r": {"type": "sse", "command": "x"}}}"#, "servers.r.type: remote servers (url) are not supported yet; only stdio servers with a \"command\""),
        (r#"{"servers": {"r": {"type": "pipe", "command": "x"}}}"#, "servers.r.type: must be one of \"stdio\""),
        (r#"{"servers": {"r": {"type": 1, "command": "x"}}}"#, "servers.r.type: must be a string"),
        (r#"{"mcpServers": {"r": {"transportType": "sse", "command": "x"}}}"#, "mcpServers.r.transportType: remote servers (url) are not supported yet; only stdio servers with a \"command\""),
        // Refused client keys.
        (r#"{"servers": {"s": {"command": "x", "envFile": "${workspaceFolder}/.env"}}}"#, "servers.s.envFile: \"envFile\" is not supported; put the variables in \"env\" (with ${env:NAME})"),
        (r#"{"servers": {"s": {"command": "x", "sandboxEnabled": true}}}"#, "servers.s.sandboxEnabled: VS Code's sandbox is not supported; remove it or confine the gateway itself"),
        (r#"{"servers": {"s": {"command": "x", "sandbox": {}}}}"#, "servers.s.sandbox: VS Code's sandbox is not supported; remove it or confine the gateway itself"),
        (r#"{"mcpServers": {"s": {"command": "x", "disabledTools": ["t"]}}}"#, "mcpServers.s.disabledTools: \"disabledTools\" is not supported; use supergateway.tools.deny"),
        // Depth.
        (
            r#"{"mcpServers": {"s": {"command": "x", "dev": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}}"#,
            "mcpServers.s.dev[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]: nested too deeply",
        ),
    ];
    for (json, want) in cases {
        let error = parse(json).unwrap_err();
        assert_eq!(error.to_string(), *want, "{json}");
        assert!(!error.to_string().contains('\n'));
    }
}

#[test]
fn limits() {
    let small = Limits::DEFAULT
        .max_file_bytes(200)
        .max_servers(2)
        .max_args(2)
        .max_env(1)
        .max_filter_entries(1)
        .max_string_bytes(8);
    let cases: &[(String, &str)] = &[
        (
            format!(r#"{{"mcpServers": {{}}, "inputs": ["{}"]}}"#, "x".repeat(200)),
            "(root): the file is larger than 200 bytes",
        ),
        (
            r#"{"mcpServers": {"a": {"command": "x"}, "b": {"command": "x"}, "c": {"command": "x"}}}"#.to_owned(),
            "mcpServers: more than 2 servers",
        ),
        (wrap(r#"{"command": "x", "args": ["1", "2", "3"]}"#), "mcpServers.s.args: more than 2 arguments"),
        (wrap(r#"{"command": "x", "env": {"A": "1", "B": "2"}}"#), "mcpServers.s.env: more than 1 variables"),
        (wrap(r#"{"command": "123456789"}"#), "mcpServers.s.command: longer than 8 bytes"),
        (wrap(r#"{"command": "${env:HOME}"}"#), "mcpServers.s.command: longer than 8 bytes"),
        (wrap(r#"{"command": "x", "env": {"ABCDEFGHI": ""}}"#), "mcpServers.s.env.ABCDEFGHI: longer than 8 bytes"),
        (
            wrap(r#"{"command": "x", "supergateway": {"tools": {"allow": ["a", "b"]}}}"#),
            "mcpServers.s.supergateway.tools.allow: more than 1 entries",
        ),
        (
            wrap(r#"{"command": "x", "supergateway": {"authTokenFile": "/123456789"}}"#),
            "mcpServers.s.supergateway.authTokenFile: longer than 8 bytes",
        ),
    ];
    for (json, want) in cases {
        let error = parse_mcp_servers(json.as_bytes(), &env, small).unwrap_err();
        assert_eq!(error.to_string(), *want, "{json}");
    }
    // At each limit: accepted.
    let json = r#"{"mcpServers": {"a": {"command": "12345678", "args": ["1", "2"], "env": {"A": "1"}}, "b": {"command": "x"}}}"#;
    assert!(json.len() <= 200);
    let servers = parse_mcp_servers(json.as_bytes(), &env, small).unwrap();
    assert_eq!(servers.servers.len(), 2);
    assert_eq!(Limits::default(), Limits::DEFAULT);
    assert_eq!(Limits::DEFAULT.max_file_bytes, 1 << 20);
    assert_eq!(Limits::DEFAULT.max_servers, 64);
}

#[test]
fn expansion() {
    let cases: &[(&str, &str)] = &[
        ("${env:HOME}", "/home/ada"),
        ("--root=${env:HOME}/data", "--root=/home/ada/data"),
        ("${env:HOME}${env:TOKEN}", "/home/adas3cret"),
        ("a${env:EMPTY}b", "ab"),
        // No recursive expansion: values are inserted as they are.
        ("${env:NESTED}", "${env:HOME}"),
        ("${env:DOLLAR}", "$$ and ${"),
        // Literal: no escape exists, and none is needed for these.
        ("$HOME", "$HOME"),
        ("$$", "$$"),
        ("$${env:HOME}", "$/home/ada"),
        ("${HOME}", "${HOME}"),
        ("echo ${1} ${PATH:-x}", "echo ${1} ${PATH:-x}"),
        ("${", "${"),
        ("${env:HOME", "${env:HOME"),
        ("a}${env:HOME}}", "a}/home/ada}"),
        ("${}", "${}"),
        // Inside literal `${…}` text, still expanded.
        ("${HOME:-${env:HOME}}", "${HOME:-/home/ada}"),
        ("${x${env:EMPTY}y}", "${xy}"),
        ("${${env:HOME}", "${/home/ada"),
        ("é${env:HOME}é", "é/home/adaé"),
    ];
    for (arg, want) in cases {
        let arg_json = serde_json::to_string(arg).unwrap();
        let json = wrap(&format!(
            r#"{{"command": {arg_json}, "args": [{arg_json}], "env": {{"V": {arg_json}}}, "cwd": {arg_json}}}"#
        ));
        let s = one(&json);
        assert_eq!(s.command, *want, "command {arg}");
        assert_eq!(s.args, [*want], "args {arg}");
        assert_eq!(s.env, [("V".to_owned(), (*want).to_owned())], "env {arg}");
        assert_eq!(s.cwd.as_deref(), Some(*want), "cwd {arg}");
        // What logs show: the file's words, never an expanded value.
        assert_eq!(s.written, [*arg, *arg], "written {arg}");
    }
    // Names and keys are not expanded, nor are the supergateway strings.
    let s = one(&wrap(
        r#"{"command": "x", "env": {"${env:HOME}": "v"}, "supergateway": {"authTokenFile": "${env:HOME}"}}"#,
    ));
    assert_eq!(s.env, [("${env:HOME}".to_owned(), "v".to_owned())]);
    assert_eq!(s.settings.auth_token_file.as_deref(), Some("${env:HOME}"));

    let rejects: &[(&str, &str)] = &[
        (r#"{"command": "${env:NOPE}"}"#, "mcpServers.s.command: ${env:NOPE} is not set"),
        (r#"{"command": "x", "args": ["a", "${env:HOME}", "${env:NOPE}"]}"#, "mcpServers.s.args[2]: ${env:NOPE} is not set"),
        (r#"{"command": "x", "env": {"KEY": "${env:NOPE}"}}"#, "mcpServers.s.env.KEY: ${env:NOPE} is not set"),
        (r#"{"command": "x", "cwd": "${env:NOPE}"}"#, "mcpServers.s.cwd: ${env:NOPE} is not set"),
        (r#"{"command": "${env:}"}"#, "mcpServers.s.command: ${env:NAME} needs a name matching [A-Za-z_][A-Za-z0-9_]*"),
        (r#"{"command": "${env:1A}"}"#, "mcpServers.s.command: ${env:NAME} needs a name matching [A-Za-z_][A-Za-z0-9_]*"),
        (r#"{"command": "${env:A B}"}"#, "mcpServers.s.command: ${env:NAME} needs a name matching [A-Za-z_][A-Za-z0-9_]*"),
        (r#"{"command": "x", "env": {"K": "${input:api-key}"}}"#, "mcpServers.s.env.K: ${input:...} prompts need VS Code; use ${env:NAME} and set the variable"),
        (r#"{"command": "x", "cwd": "${workspaceFolder}"}"#, "mcpServers.s.cwd: ${workspaceFolder} is a VS Code variable only the editor can resolve; use ${env:NAME}"),
        (r#"{"command": "x", "args": ["${userHome}/x"]}"#, "mcpServers.s.args[0]: ${userHome} is a VS Code variable only the editor can resolve; use ${env:NAME}"),
        (r#"{"command": "x", "args": ["${config:editor.fontSize}"]}"#, "mcpServers.s.args[0]: ${config} is a VS Code variable only the editor can resolve; use ${env:NAME}"),
        (r#"{"command": "x", "args": ["${command:pick}"]}"#, "mcpServers.s.args[0]: ${command} is a VS Code variable only the editor can resolve; use ${env:NAME}"),
        (r#"{"command": "x", "args": ["${workspaceFolder:app}"]}"#, "mcpServers.s.args[0]: ${workspaceFolder} is a VS Code variable only the editor can resolve; use ${env:NAME}"),
        (r#"{"command": "x", "args": ["${a${userHome}}"]}"#, "mcpServers.s.args[0]: ${userHome} is a VS Code variable only the editor can resolve; use ${env:NAME}"),
        (r#"{"command": "x", "args": ["${a${env:NOPE}}"]}"#, "mcpServers.s.args[0]: ${env:NOPE} is not set"),
    ];
    for (entry, want) in rejects {
        let json = wrap(entry);
        let error = parse(&json).unwrap_err();
        assert_eq!(error.to_string(), *want, "{json}");
    }
}

#[test]
fn errors_never_show_values() {
    // The secret value is in the env and in the file; neither appears.
    let json = wrap(r#"{"command": "x", "env": {"K": "hunter2 ${env:TOKEN}", "L": 5}}"#);
    let error = parse(&json).unwrap_err();
    assert_eq!(error.path(), "mcpServers.s.env.L");
    assert_eq!(*error.reason(), Reason::Type("a string"));
    assert!(!error.to_string().contains("hunter2"));
    assert!(!error.to_string().contains("s3cret"));
}

#[test]
fn disabled() {
    let json = r#"{"mcpServers": {
        "on": {"command": "a"},
        "off": {"command": "b", "disabled": true}
    }}"#;
    let servers = parse(json).unwrap();
    let flags: Vec<(&str, bool)> = servers
        .servers
        .iter()
        .map(|s| (s.name.as_str(), s.disabled))
        .collect();
    assert_eq!(flags, [("on", false), ("off", true)]);
    // A disabled server is still validated.
    let error = parse(r#"{"mcpServers": {"off": {"disabled": true}}}"#).unwrap_err();
    assert_eq!(
        error.to_string(),
        "mcpServers.off: a server needs a \"command\""
    );
    let error = parse(r#"{"mcpServers": {"off": {"disabled": true, "command": "${env:NOPE}"}}}"#)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "mcpServers.off.command: ${env:NOPE} is not set"
    );
}

#[test]
fn settings() {
    let s = one(&wrap(
        r#"{"command": "x", "supergateway": {
            "outputTransport": ["streamableHttp", "sse", "ws"],
            "childPerSession": true,
            "stateful": false,
            "upstreamProtocol": "2026-07-28",
            "tools": {"allow": ["read_file", "list_directory"], "deny": ["write_file"]},
            "prompts": {"deny": ["p"]},
            "resources": {"allow": []},
            "restart": "on-failure",
            "maxBodyBytes": 1048576,
            "maxSessions": 10,
            "maxBufferedBytes": 65536,
            "maxSessionBytes": 18446744073709551615,
            "authTokenFile": "/run/secrets/files",
            "authScopes": ["files:read", "mcp"]
        }}"#,
    ));
    let want = Settings {
        output_transports: vec![
            OutputTransport::StreamableHttp,
            OutputTransport::Sse,
            OutputTransport::Ws,
        ],
        child_per_session: Some(true),
        stateful: Some(false),
        upstream_protocol: Some(UpstreamProtocol::V2026_07_28),
        tools: Filter {
            allow: Some(vec!["read_file".to_owned(), "list_directory".to_owned()]),
            deny: vec!["write_file".to_owned()],
        },
        prompts: Filter {
            allow: None,
            deny: vec!["p".to_owned()],
        },
        resources: Filter {
            allow: Some(Vec::new()),
            deny: Vec::new(),
        },
        restart: Some(Restart::OnFailure),
        max_body_bytes: Some(1_048_576),
        max_sessions: Some(10),
        max_buffered_bytes: Some(65_536),
        max_session_bytes: Some(u64::MAX),
        auth_token_file: Some("/run/secrets/files".to_owned()),
        auth_scopes: vec!["files:read".to_owned(), "mcp".to_owned()],
    };
    assert_eq!(s.settings, want);

    let singles: &[(&str, Settings)] = &[
        (r#"{}"#, Settings::default()),
        (
            r#"{"outputTransport": "ws"}"#,
            Settings {
                output_transports: vec![OutputTransport::Ws],
                ..Settings::default()
            },
        ),
        (
            r#"{"upstreamProtocol": "auto", "restart": "always"}"#,
            Settings {
                upstream_protocol: Some(UpstreamProtocol::Auto),
                restart: Some(Restart::Always),
                ..Settings::default()
            },
        ),
        (
            r#"{"upstreamProtocol": "legacy", "restart": "never"}"#,
            Settings {
                upstream_protocol: Some(UpstreamProtocol::Legacy),
                restart: Some(Restart::Never),
                ..Settings::default()
            },
        ),
    ];
    for (object, want) in singles {
        let s = one(&wrap(&format!(
            r#"{{"command": "x", "supergateway": {object}}}"#
        )));
        assert_eq!(s.settings, *want, "{object}");
    }

    let p = "mcpServers.s.supergateway";
    let rejects: &[(&str, String)] = &[
        (r#"[]"#, format!("{p}: must be an object")),
        (r#"{"port": 8000}"#, format!("{p}.port: unknown key")),
        (
            r#"{"outputTransport": "stdio"}"#,
            format!("{p}.outputTransport: must be one of sse, ws, streamableHttp"),
        ),
        (
            r#"{"outputTransport": 1}"#,
            format!("{p}.outputTransport: must be a string or an array of strings"),
        ),
        (
            r#"{"outputTransport": []}"#,
            format!("{p}.outputTransport: must not be empty"),
        ),
        (
            r#"{"outputTransport": ["sse", "sse"]}"#,
            format!("{p}.outputTransport[1]: duplicate key"),
        ),
        (
            r#"{"outputTransport": ["sse", "SSE"]}"#,
            format!("{p}.outputTransport[1]: must be one of sse, ws, streamableHttp"),
        ),
        (
            r#"{"childPerSession": 1}"#,
            format!("{p}.childPerSession: must be true or false"),
        ),
        (
            r#"{"stateful": "true"}"#,
            format!("{p}.stateful: must be true or false"),
        ),
        (
            r#"{"upstreamProtocol": "2025-06-18"}"#,
            format!("{p}.upstreamProtocol: must be one of auto, legacy, 2026-07-28"),
        ),
        (
            r#"{"restart": "on-error"}"#,
            format!("{p}.restart: must be one of never, on-failure, always"),
        ),
        (
            r#"{"restart": ""}"#,
            format!("{p}.restart: must not be empty"),
        ),
        (r#"{"tools": []}"#, format!("{p}.tools: must be an object")),
        (
            r#"{"tools": {"allowed": []}}"#,
            format!("{p}.tools.allowed: unknown key"),
        ),
        (
            r#"{"tools": {"allow": "a"}}"#,
            format!("{p}.tools.allow: must be an array of strings"),
        ),
        (
            r#"{"prompts": {"deny": ["a", ""]}}"#,
            format!("{p}.prompts.deny[1]: must not be empty"),
        ),
        (
            r#"{"resources": {"deny": [1]}}"#,
            format!("{p}.resources.deny[0]: must be a string"),
        ),
        (
            r#"{"tools": {"deny": ["a"], "deny": ["b"]}}"#,
            format!("{p}.tools.deny: duplicate key"),
        ),
        (
            r#"{"maxBodyBytes": 0}"#,
            format!("{p}.maxBodyBytes: must be a positive integer"),
        ),
        (
            r#"{"maxBodyBytes": -1}"#,
            format!("{p}.maxBodyBytes: must be a positive integer"),
        ),
        (
            r#"{"maxSessions": 1.5}"#,
            format!("{p}.maxSessions: must be a positive integer"),
        ),
        (
            r#"{"maxBufferedBytes": 1e3}"#,
            format!("{p}.maxBufferedBytes: must be a positive integer"),
        ),
        (
            r#"{"maxSessionBytes": 18446744073709551616}"#,
            format!("{p}.maxSessionBytes: must be a positive integer"),
        ),
        (
            r#"{"maxBodyBytes": "1MiB"}"#,
            format!("{p}.maxBodyBytes: must be a positive integer"),
        ),
        (
            r#"{"authTokenFile": ""}"#,
            format!("{p}.authTokenFile: must not be empty"),
        ),
        (
            r#"{"authTokenFile": "a\u0000"}"#,
            format!("{p}.authTokenFile: must not contain a NUL character"),
        ),
        (
            r#"{"authScopes": ["a b"]}"#,
            format!("{p}.authScopes[0]: must be a scope token (RFC 6749 3.3)"),
        ),
        (
            r#"{"authScopes": ["ok", "q\""]}"#,
            format!("{p}.authScopes[1]: must be a scope token (RFC 6749 3.3)"),
        ),
        (
            r#"{"authScopes": "mcp"}"#,
            format!("{p}.authScopes: must be an array of strings"),
        ),
    ];
    for (object, want) in rejects {
        let json = wrap(&format!(r#"{{"command": "x", "supergateway": {object}}}"#));
        let error = parse(&json).unwrap_err();
        assert_eq!(error.to_string(), *want, "{object}");
    }
}

#[test]
fn byte_order_mark() {
    let json = "\u{feff}{\"mcpServers\": {\"s\": {\"command\": \"x\"}}}";
    assert_eq!(one(json).command, "x");
    // Only at the start.
    let json = "{\"mcpServers\": {\"s\": {\"command\": \"x\"}}}\u{feff}";
    assert_eq!(
        parse(json).unwrap_err().to_string(),
        "(root): not valid JSON at line 1 column 40"
    );
}

/// Inputs that would take quadratic time with a naive duplicate check or
/// `${` scan finish (this test would run for minutes otherwise).
#[test]
fn no_quadratic_inputs() {
    let keys: Vec<String> = (0..60_000).map(|i| format!(r#""k{i}": 0"#)).collect();
    let json = wrap(&format!(
        r#"{{"command": "x", "dev": {{{}}}}}"#,
        keys.join(",")
    ));
    assert!(json.len() < Limits::DEFAULT.max_file_bytes);
    assert_eq!(one(&json).command, "x");

    let arg = format!("{}}}", "${".repeat(400_000));
    let json = wrap(&format!(r#"{{"command": "x", "args": ["{arg}"]}}"#));
    let limits = Limits::DEFAULT.max_string_bytes(1 << 20);
    let servers = parse_mcp_servers(json.as_bytes(), &env, limits).unwrap();
    assert_eq!(servers.servers[0].args, [arg]);
}

/// A Claude Desktop `claude_desktop_config.json` with the reference servers.
#[test]
fn claude_desktop_sample() {
    let json = r#"{
  "mcpServers": {
    "filesystem": {
      "command": "npx",
      "args": [
        "-y",
        "@modelcontextprotocol/server-filesystem",
        "/Users/ada/Desktop",
        "/Users/ada/Downloads"
      ]
    },
    "github": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": {
        "GITHUB_PERSONAL_ACCESS_TOKEN": "<YOUR_TOKEN>"
      }
    },
    "sqlite": {
      "command": "uvx",
      "args": ["mcp-server-sqlite", "--db-path", "/Users/ada/test.db"]
    },
    "memory": {
      "command": "docker",
      "args": ["run", "-i", "-v", "claude-memory:/app/dist", "--rm", "mcp/memory"]
    }
  }
}"#;
    let servers = parse(json).unwrap();
    let names: Vec<&str> = servers.servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["filesystem", "github", "sqlite", "memory"]);
    let github = &servers.servers[1];
    assert_eq!(github.command, "npx");
    assert_eq!(github.args, ["-y", "@modelcontextprotocol/server-github"]);
    assert_eq!(
        github.env,
        [(
            "GITHUB_PERSONAL_ACCESS_TOKEN".to_owned(),
            "<YOUR_TOKEN>".to_owned()
        )]
    );
    assert_eq!(servers.servers[3].args.len(), 6);
    assert!(servers
        .servers
        .iter()
        .all(|s| !s.disabled && s.cwd.is_none()));
}

/// A Cursor `~/.cursor/mcp.json` with `${env:…}` and one of our objects.
#[test]
fn cursor_sample() {
    let json = r#"{
  "mcpServers": {
    "playwright": {
      "command": "npx",
      "args": ["-y", "@playwright/mcp@latest"]
    },
    "brave-search": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-brave-search"],
      "env": { "BRAVE_API_KEY": "${env:TOKEN}" },
      "supergateway": { "tools": { "deny": ["brave_local_search"] }, "restart": "always" }
    },
    "old": { "command": "node", "args": ["old.js"], "cwd": "${env:HOME}/old", "disabled": true }
  }
}"#;
    let servers = parse(json).unwrap();
    let brave = &servers.servers[1];
    assert_eq!(brave.name, "brave-search");
    assert_eq!(
        brave.env,
        [("BRAVE_API_KEY".to_owned(), "s3cret".to_owned())]
    );
    assert_eq!(brave.settings.tools.deny, ["brave_local_search"]);
    assert_eq!(brave.settings.restart, Some(Restart::Always));
    let old = &servers.servers[2];
    assert!(old.disabled);
    assert_eq!(old.cwd.as_deref(), Some("/home/ada/old"));
}

/// A VS Code `.vscode/mcp.json`, and the same servers in settings.json's
/// `mcp` object.
#[test]
fn vscode_sample() {
    let servers = r#"{
    "fetch": { "type": "stdio", "command": "uvx", "args": ["mcp-server-fetch"] },
    "py": {
      "type": "stdio",
      "command": "python",
      "args": ["server.py", "--port", "3000"],
      "env": { "HOME_DIR": "${env:HOME}" },
      "dev": { "watch": "src/**/*.py", "debug": { "type": "debugpy" } }
    }
  }"#;
    let inputs =
        r#"[{ "type": "promptString", "id": "k", "description": "Key", "password": true }]"#;
    let file = format!(r#"{{ "inputs": {inputs}, "servers": {servers} }}"#);
    let settings = format!(r#"{{ "mcp": {{ "inputs": {inputs}, "servers": {servers} }} }}"#);
    for json in [file, settings] {
        let parsed = parse(&json).unwrap();
        assert_eq!(parsed.servers.len(), 2);
        assert_eq!(parsed.servers[0].name, "fetch");
        assert_eq!(parsed.servers[0].args, ["mcp-server-fetch"]);
        assert_eq!(
            parsed.servers[1].env,
            [("HOME_DIR".to_owned(), "/home/ada".to_owned())]
        );
    }
    // VS Code's own example with an input prompt is refused with a pointer
    // to ${env:…}.
    let json = r#"{
  "inputs": [{ "type": "promptString", "id": "perplexity-key", "description": "Key", "password": true }],
  "servers": {
    "perplexity": {
      "type": "stdio",
      "command": "npx",
      "args": ["-y", "server-perplexity-ask"],
      "env": { "PERPLEXITY_API_KEY": "${input:perplexity-key}" }
    }
  }
}"#;
    assert_eq!(
        parse(json).unwrap_err().to_string(),
        "servers.perplexity.env.PERPLEXITY_API_KEY: ${input:...} prompts need VS Code; use ${env:NAME} and set the variable"
    );
}

/// The fuzz harness holds on the unit cases too.
#[test]
fn fuzz_harness_on_samples() {
    for json in [
        r#"{"mcpServers": {"s": {"command": "x"}}}"#,
        r#"{"mcpServers": {"s": {"command": "x"}, "s": {}}}"#,
        "{",
    ] {
        crate::fuzzing::mcp_config(json.as_bytes());
    }
}
