//! The command line's unit tests: the flag table, warnings, redaction, help and version; the
//! accept and reject tables and the `--help` and README checks are in `tests/`.

mod accept;
mod auth_flags;
mod help_text;
mod oauth;
mod reject;

use std::time::Duration;
use supergateway_proto::relay::UpstreamMode;

use super::flags::{self, Absent, Kind, FLAGS};
use super::*;

/// The comparable view of a Config used by the accept table.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Summary {
    input: (&'static str, String),
    output: Output,
    port: u16,
    host: String,
    base_url: String,
    sse_path: String,
    message_path: String,
    streamable_http_path: String,
    stateful: bool,
    session_timeout: Option<Duration>,
    protocol_version: String,
    headers: Vec<(String, String)>,
    log_level: LogLevel,
    log_format: LogFormat,
    cors: Vec<String>,
    allowed_hosts: Vec<String>,
    health_endpoints: Vec<String>,
    runtime_prompt: bool,
    runtime_admin_port: Option<u16>,
    runtime_admin_token: Option<String>,
    child_per_session: bool,
    keep_alive: Option<Duration>,
    max_body_bytes: u64,
    max_sessions: usize,
    max_buffered_bytes: usize,
    max_session_buffered_bytes: usize,
    upstream_protocol: UpstreamMode,
    probe_timeout: Duration,
    input_timeout: Duration,
    head_timeout: Duration,
    body_timeout: Duration,
    replay_buffer: usize,
    runtime_allow_env: Vec<String>,
    request_timeout: Option<Duration>,
    warnings: usize,
}

fn summary(config: &Config) -> Summary {
    let input = match &config.input {
        Input::Sse(url) => ("sse", url.clone()),
        Input::Stdio(command) => ("stdio", command.clone()),
        Input::StreamableHttp(url) => ("streamableHttp", url.clone()),
        Input::Servers(file) => (
            "config",
            file.servers
                .iter()
                .map(|server| server.name.as_str())
                .collect::<Vec<_>>()
                .join(","),
        ),
    };
    let cors = match &config.cors {
        Cors::Any => vec!["any".to_owned()],
        Cors::Off => vec![],
        Cors::Origins(list) => list
            .iter()
            .map(|origin| match origin {
                CorsOrigin::Exact(exact) => format!("exact {exact}"),
                CorsOrigin::Regex(regex) => format!("regex {}", regex.as_str()),
            })
            .collect(),
    };
    Summary {
        input,
        output: config.output,
        port: config.port,
        host: config.host.clone(),
        base_url: config.base_url.clone(),
        sse_path: config.sse_path.clone(),
        message_path: config.message_path.clone(),
        streamable_http_path: config.streamable_http_path.clone(),
        stateful: config.stateful,
        session_timeout: config.session_timeout,
        protocol_version: config.protocol_version.clone(),
        headers: config
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        log_level: config.log_level,
        log_format: config.log_format,
        cors,
        allowed_hosts: config.allowed_hosts.clone(),
        health_endpoints: config.health_endpoints.clone(),
        runtime_prompt: config.runtime_prompt,
        runtime_admin_port: config.runtime_admin_port,
        runtime_admin_token: config.runtime_admin_token.clone(),
        child_per_session: config.child_per_session,
        keep_alive: config.keep_alive,
        max_body_bytes: config.max_body_bytes,
        max_sessions: config.max_sessions,
        max_buffered_bytes: config.max_buffered_bytes,
        max_session_buffered_bytes: config.max_session_buffered_bytes,
        upstream_protocol: config.upstream_protocol,
        probe_timeout: config.probe_timeout,
        input_timeout: config.input_timeout,
        head_timeout: config.head_timeout,
        body_timeout: config.body_timeout,
        replay_buffer: config.replay_buffer,
        runtime_allow_env: config.runtime_allow_env.clone(),
        request_timeout: config.request_timeout,
        warnings: config.warnings.len(),
    }
}

/// What `--stdio cmd` alone gives.
fn defaults() -> Summary {
    Summary {
        input: ("stdio", "cmd".to_owned()),
        output: Output::Sse,
        port: 8000,
        host: "127.0.0.1".to_owned(),
        base_url: String::new(),
        sse_path: "/sse".to_owned(),
        message_path: "/message".to_owned(),
        streamable_http_path: "/mcp".to_owned(),
        stateful: false,
        session_timeout: Some(Duration::from_millis(1_800_000)),
        protocol_version: "2024-11-05".to_owned(),
        headers: vec![],
        log_level: LogLevel::Info,
        log_format: LogFormat::Text,
        cors: vec![],
        allowed_hosts: vec![],
        health_endpoints: vec![],
        runtime_prompt: false,
        runtime_admin_port: None,
        runtime_admin_token: None,
        child_per_session: false,
        keep_alive: Some(Duration::from_millis(15_000)),
        max_body_bytes: 4_194_304,
        max_sessions: 1024,
        max_buffered_bytes: 67_108_864,
        max_session_buffered_bytes: 8_388_608,
        upstream_protocol: UpstreamMode::Auto,
        probe_timeout: Duration::from_millis(10_000),
        input_timeout: Duration::from_millis(300_000),
        head_timeout: Duration::from_millis(10_000),
        body_timeout: Duration::from_millis(60_000),
        replay_buffer: 256,
        runtime_allow_env: vec![],
        request_timeout: Some(Duration::from_millis(60_000)),
        warnings: 0,
    }
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|&arg| arg.to_owned()).collect()
}

fn ms(n: u64) -> Option<Duration> {
    Some(Duration::from_millis(n))
}

fn headers(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|&(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|&s| s.to_owned()).collect()
}

#[test]
fn body_timeout_default_and_value() {
    let config = parse(&args(&["--stdio", "cmd"])).unwrap();
    assert_eq!(config.body_timeout, Duration::from_secs(60));
    let config = parse(&args(&["--stdio", "cmd", "--body-timeout=500"])).unwrap();
    assert_eq!(config.body_timeout, Duration::from_millis(500));
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
}

#[test]
fn errors_never_echo_secrets() {
    let cases: &[&[&str]] = &[
        &["--stdio", "x", "--header", "X-Token: SECRET\n"],
        &["--stdio", "x", "--header", "X-Token SECRET"],
        &["--stdio", "x", "--oauth2Bearer", "SECRET\r"],
        &["--sse", "ftp://user:SECRET@h/sse"],
        &["--sse", "http://user:SECRET@h/ sse"],
        &[
            "--stdio",
            "x",
            "--header",
            "Authorization: Bearer",
            "SECRET",
        ],
        &["--stdio", "x", "--oauth2Bearer", "a", "SECRET"],
    ];
    for argv in cases {
        let exit = parse(&args(argv)).err();
        let message = exit.map(|exit| exit.message).unwrap_or_default();
        assert!(message.starts_with("supergateway: "), "{argv:?}: {message}");
        assert!(!message.contains("SECRET"), "{argv:?}: {message}");
    }
}

#[test]
fn help_and_version() {
    let help_cases: &[&[&str]] = &[
        &["--help"],
        &["-h"],
        &["--stdio", "x", "--help"],
        &["--foo", "--help"],
        &["--help", "--foo"],
        &["--version", "--help"],
    ];
    for argv in help_cases {
        let exit = parse(&args(argv))
            .err()
            .unwrap_or_else(|| panic!("{argv:?} parsed"));
        assert_eq!(exit.code, 0, "{argv:?}");
        assert_eq!(exit.message, help::render(), "{argv:?}");
    }
    let version_cases: &[&[&str]] = &[
        &["--version"],
        &["--stdio", "x", "--version"],
        &["--foo", "--version"],
    ];
    for argv in version_cases {
        let exit = parse(&args(argv))
            .err()
            .unwrap_or_else(|| panic!("{argv:?} parsed"));
        assert_eq!(
            exit,
            Exit {
                code: 0,
                message: format!("supergateway {}", env!("CARGO_PKG_VERSION"))
            },
            "{argv:?}"
        );
    }
}

#[test]
fn flag_table_names_kinds_and_placeholders() {
    // yargs' decamelize: a dash before each uppercase letter, lowercased.
    let kebab = |name: &str| flags::kebab_case(name).collect::<String>();
    assert_eq!(kebab("streamableHttpPath"), "streamable-http-path");
    assert_eq!(kebab("oauth2Bearer"), "oauth2-bearer");
    assert_eq!(kebab("port"), "port");
    let mut spellings: Vec<String> = Vec::new();
    for flag in FLAGS {
        for spelling in [flag.name.to_owned(), kebab(flag.name)] {
            assert_eq!(
                flags::lookup(&spelling).map(|found| found.name),
                Some(flag.name),
                "--{spelling}"
            );
            if !spellings.contains(&spelling) {
                spellings.push(spelling);
            }
        }
        // A placeholder exactly when the flag takes a value; switches default to off.
        let takes_value = matches!(flag.kind, Kind::Cors | Kind::Repeated | Kind::Single);
        assert_eq!(!flag.value.is_empty(), takes_value, "{flag}");
        if flag.kind == Kind::Switch {
            assert_eq!(flag.default, Absent::Off, "{flag}");
        }
        // The kebab spelling scans into the flag's own slot.
        let mut argv = vec![format!("--{}", kebab(flag.name))];
        if takes_value {
            argv.push("v".to_owned());
        }
        let scan = parse::scan(&argv);
        assert_eq!(scan.error, None, "{argv:?}");
        match flag.kind {
            Kind::Help => assert!(scan.help && !scan.version, "{argv:?}"),
            Kind::Version => assert!(scan.version && !scan.help, "{argv:?}"),
            _ => assert!(scan.raw.given(flag), "{argv:?}"),
        }
    }
    // No spelling of one flag is a spelling of another.
    let all: usize = FLAGS
        .iter()
        .map(|flag| if kebab(flag.name) == flag.name { 1 } else { 2 })
        .sum();
    assert_eq!(spellings.len(), all);
}

#[test]
fn warnings_name_the_flag_and_the_mode() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["--stdio", "x"], &[]),
        (
            &["--stdio", "x", "--stateful", "--sessionTimeout", "5"],
            &[
                "--stateful has no effect with --stdio and --outputTransport sse (it applies to --outputTransport streamableHttp)",
                "--sessionTimeout has no effect",
            ],
        ),
        (&["--stdio", "x", "--outputTransport", "streamableHttp", "--stateful", "--sessionTimeout", "5"], &[]),
        (
            &["--stdio", "x", "--outputTransport", "streamableHttp", "--stateful", "--protocolVersion", "v", "--childPerSession"],
            &["--protocolVersion has no effect"],
        ),
        (
            &["--stdio", "x", "--outputTransport", "streamableHttp", "--protocolVersion", "v", "--childPerSession", "--keepAlive", "1"],
            &[],
        ),
        (
            &["--stdio", "x", "--outputTransport", "ws", "--ssePath", "/s", "--baseUrl", "http://h", "--messagePath", "/m", "--keepAlive", "1"],
            &["--ssePath has no effect", "--baseUrl has no effect"],
        ),
        (
            &["--stdio", "x", "--oauth2Bearer", "t"],
            &["--oauth2Bearer sets a response header when serving a stdio server and protects nothing"],
        ),
        (&["--sse", "http://h", "--oauth2Bearer", "t"], &[]),
        (
            &["--sse", "http://h", "--authTokenFile", "/nonexistent/tokens"],
            &["--authTokenFile has no effect with --sse"],
        ),
        (
            &["--stdio", "x", "--requestTimeout", "5", "--streamableHttpPath", "/m"],
            &["--streamableHttpPath has no effect", "--requestTimeout has no effect"],
        ),
        (
            &[
                "--sse", "http://h", "--port", "1", "--host", "h", "--cors", "--healthEndpoint", "/h",
                "--maxBodyBytes", "1", "--maxSessions", "1", "--childPerSession", "--messagePath", "/m",
            ],
            &[
                "--port has no effect with --sse and --outputTransport stdio",
                "--host has no effect",
                "--cors has no effect",
                "--healthEndpoint has no effect",
                "--childPerSession has no effect",
                "--maxBodyBytes has no effect",
                "--maxSessions has no effect",
                "--messagePath has no effect",
            ],
        ),
        (
            &["--streamableHttp", "http://h", "--header", "A: b", "--oauth2Bearer", "t", "--logLevel", "none", "--runtimePrompt", "--runtimeAdminPort", "1", "--requestTimeout", "1"],
            &[],
        ),
        (
            &["--stdio", "x", "--header", "A: 1", "--runtimeAdminToken", "t", "--header", "a: 2", "--stateful"],
            &[
                "--stateful has no effect",
                "--runtimeAdminToken has no effect without --runtimeAdminPort",
                "header a is given more than once (--header or --oauth2Bearer); the last one wins",
            ],
        ),
        (&["--stdio", "x", "--runtimeAdminToken", "t", "--runtimeAdminPort", "0"], &[]),
        (&["--stdio", "x", "--stateful", "--no-stateful", "--cors"], &[]),
    ];
    for (argv, expected) in cases {
        let config = parse(&args(argv)).unwrap_or_else(|exit| panic!("{argv:?}: {exit:?}"));
        assert_eq!(
            config.warnings.len(),
            expected.len(),
            "{argv:?}: {:?}",
            config.warnings
        );
        for (warning, needle) in config.warnings.iter().zip(expected.iter()) {
            assert!(warning.starts_with(needle), "{warning:?} vs {needle:?}");
        }
    }
}

#[test]
fn debug_redacts_secrets() {
    let cases: &[&[&str]] = &[
        &[
            "--sse",
            "https://user:SECRET1@h.test:8443/sse?token=SECRET2#SECRET3",
            "--header",
            "Authorization: SECRET4",
            "--header",
            "X-Api-Key: SECRET5",
            "--oauth2Bearer",
            "SECRET6",
        ],
        &["--streamableHttp", "http://SECRET1@h.test/mcp?SECRET2"],
        &[
            "--streamableHttp",
            "http://h.test/mcp",
            "--runtimeAdminPort",
            "1",
            "--runtimeAdminToken",
            "SECRET7",
        ],
        &[
            "--stdio",
            "cmd",
            "--baseUrl",
            "https://u:SECRET1@h.test/x?k=SECRET2",
        ],
    ];
    for argv in cases {
        let config = parse(&args(argv)).unwrap_or_else(|exit| panic!("{argv:?}: {exit:?}"));
        let debug = format!("{config:?} {config:#?} {:?}", config.input);
        assert!(!debug.contains("SECRET"), "{debug}");
        assert!(debug.contains("h.test"), "{debug}");
    }
    let config = parse(&args(cases[0])).unwrap_or_else(|exit| panic!("{exit:?}"));
    let debug = format!("{config:?}");
    assert!(
        debug.contains("(\"Authorization\", \"<redacted>\")"),
        "{debug}"
    );
    assert!(debug.contains("(\"X-Api-Key\", \"<redacted>\")"), "{debug}");
    assert!(
        debug.contains("Sse(\"https://<redacted>@h.test:8443/sse?<redacted>\")"),
        "{debug}"
    );
}

#[test]
fn redact_url_table() {
    let cases: &[(&str, &str)] = &[
        ("", ""),
        ("https://h/sse", "https://h/sse"),
        ("https://h", "https://h"),
        ("http://u:p@h:1/x", "http://<redacted>@h:1/x"),
        ("http://u@h", "http://<redacted>@h"),
        ("http://a@b@h/p", "http://<redacted>@h/p"),
        ("http://h/p?q=1", "http://h/p?<redacted>"),
        ("http://h?q=1", "http://h?<redacted>"),
        ("http://h/p#frag", "http://h/p?<redacted>"),
        ("http://h/p/@x", "http://h/p/@x"),
        ("not a url", "<redacted>"),
        ("/relative?token=1", "<redacted>"),
    ];
    for &(url, expected) in cases {
        assert_eq!(redact_url(url), expected, "{url:?}");
    }
}

#[test]
fn cors_allows() {
    let parse_cors = |argv: &[&str]| {
        let mut full = args(&["--stdio", "x"]);
        full.extend(args(argv));
        parse(&full)
            .map(|config| config.cors)
            .unwrap_or_else(|exit| panic!("{exit:?}"))
    };
    let cases: &[(&[&str], &str, bool)] = &[
        (&[], "https://a.test", false),
        (&["--cors"], "https://a.test", true),
        (&["--cors"], "", true),
        (&["--cors", "https://a.test"], "https://a.test", true),
        (&["--cors", "https://a.test"], "https://A.test", false),
        (&["--cors", "https://a.test"], "https://a.test.evil", false),
        (
            &["--cors", "https://a.test", "https://b.test"],
            "https://b.test",
            true,
        ),
        (&["--cors", "/a\\.test$/"], "https://a.test", true),
        (&["--cors", "/a\\.test$/"], "https://b.test", false),
        // Unanchored, as `new RegExp(body).test(origin)`.
        (
            &["--cors", "/a\\.test/"],
            "https://a.test.evil.example",
            true,
        ),
        (
            &["--cors", "/^https:\\/\\/a\\.test$/"],
            "https://a.test.evil.example",
            false,
        ),
        (
            &["--cors", "/^https:\\/\\/a\\.test$/"],
            "https://a.test",
            true,
        ),
    ];
    for &(argv, origin, expected) in cases {
        assert_eq!(
            parse_cors(argv).allows(origin),
            expected,
            "{argv:?} {origin:?}"
        );
    }
}

#[test]
fn usage_exit_is_one_line() {
    let exit = Exit::usage("a\nb\r\n c");
    assert_eq!(
        exit,
        Exit {
            code: 2,
            message: "supergateway: a b c".to_owned()
        }
    );
}

#[test]
fn supergateway_host_is_the_default_bind_address_and_the_flag_wins() {
    let args = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let host = |list: &[&str], default: Option<&str>| {
        parse_with_host_default(&args(list), default.map(str::to_owned)).map(|c| c.host)
    };
    assert_eq!(
        host(&["--stdio", "x"], None).ok().as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        host(&["--stdio", "x"], Some("0.0.0.0")).ok().as_deref(),
        Some("0.0.0.0")
    );
    assert_eq!(
        host(&["--stdio", "x", "--host", "::1"], Some("0.0.0.0"))
            .ok()
            .as_deref(),
        Some("::1")
    );
    assert!(host(&["--stdio", "x"], Some("a b")).is_err());
    // The reverse modes do not listen: the variable is not a flag they warn about.
    let config = parse_with_host_default(
        &args(&["--sse", "http://h/sse"]),
        Some("0.0.0.0".to_owned()),
    );
    assert!(config.is_ok_and(|config| config.warnings.is_empty()));
}

#[test]
fn rate_limit_trusted_proxy_and_auth_env_flags() {
    let parse_args = |list: &[&str]| parse(&args(list));
    let config = parse_args(&["--stdio", "x", "--rateLimit", "2/s"]).unwrap();
    assert_eq!(
        config.rate_limit.map(|rate| rate.to_string()).as_deref(),
        Some("2/s")
    );
    let config = parse_args(&["--stdio", "x", "--rate-limit=60/m"]).unwrap();
    assert_eq!(
        config.rate_limit.map(|rate| rate.to_string()).as_deref(),
        Some("60/m")
    );
    assert!(parse_args(&["--stdio", "x"]).unwrap().rate_limit.is_none());
    let config = parse_args(&[
        "--stdio",
        "x",
        "--trustedProxy",
        "127.0.0.1",
        "--trustedProxy",
        "10.0.0.0/8, fd00::/8",
    ])
    .unwrap();
    let shown: Vec<String> = config
        .trusted_proxies
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(shown, ["127.0.0.1/32", "10.0.0.0/8", "fd00::/8"]);

    for (list, error) in [
        (&["--rateLimit", "0/s"][..], "--rateLimit must be N/s or N/m, N from 1 to 1000000: N must be from 1 to 1000000 (got \"0/s\")"),
        (&["--rateLimit", "5/h"][..], "--rateLimit must be N/s or N/m, N from 1 to 1000000: expected N/s or N/m with N a whole number (got \"5/h\")"),
        (&["--rateLimit", "1000001/s"][..], "N must be from 1 to 1000000"),
        (&["--rateLimit", "1/s", "--rateLimit", "2/s"][..], "--rateLimit"),
        (&["--trustedProxy", "10.0.0.1/8"][..], "--trustedProxy must be an IP address or CIDR range: bits are set past the prefix length (write the network address) (got \"10.0.0.1/8\")"),
        (&["--trustedProxy", "proxy.local"][..], "--trustedProxy must be an IP address or CIDR range: not an IPv4 or IPv6 address"),
        (&["--trustedProxy", "10.0.0.0/8,"][..], "(got \"\")"),
        (&["--authEnv", "sub"][..], "--authEnv must look like CLAIM=VAR (got \"sub\")"),
        (&["--authEnv", "groups=G"][..], "--authEnv claim must be one of sub, client_id, azp, email, preferred_username, name, iss, tls_subject (got \"groups\")"),
        (&["--authEnv", "sub=1X"][..], "--authEnv sub=1X: the variable name must match [A-Za-z_][A-Za-z0-9_]*"),
        (&["--authEnv", "sub=LD_PRELOAD"][..], "--authEnv sub=LD_PRELOAD: LD_PRELOAD refused: it can change how the child's loader"),
        (&["--authEnv", "email=path"][..], "--authEnv email=path: path refused"),
        (&["--authEnv", "sub=MCP_USER", "--childPerSession"][..], "--authEnv sub=MCP_USER needs an OAuth resource server (--authIssuer or --authIntrospectionUrl): nothing else proves a caller's sub"),
        (&["--authEnv", "tls_subject=DN", "--childPerSession"][..], "--authEnv tls_subject=DN needs client certificates (--tlsClientCa)"),
    ] {
        let mut full = vec!["--stdio", "x"];
        full.extend_from_slice(list);
        let exit = parse_args(&full).err().unwrap_or_else(|| panic!("{list:?} parsed"));
        assert_eq!(exit.code, 2, "{list:?}");
        assert!(exit.message.contains(error), "{list:?}: {}", exit.message);
        assert!(!exit.message.contains('\n'));
    }
    // The refusal list's operator override applies to --authEnv too (then
    // the claim's source is what is missing on this branch).
    let exit = parse_args(&[
        "--stdio",
        "x",
        "--runtimeAllowEnv",
        "PATH",
        "--authEnv",
        "sub=PATH",
    ])
    .err()
    .unwrap();
    assert!(
        exit.message.contains("needs an OAuth resource server"),
        "{}",
        exit.message
    );
}

#[test]
fn exposed_port_warning() {
    let config = |list: &[&str]| parse(&args(list)).unwrap();
    let exposed = config(&["--stdio", "x", "--host", "0.0.0.0"]);
    let warning = exposed_warning(&exposed).unwrap();
    assert_eq!(
        warning,
        "--host 0.0.0.0 without authentication: anyone who can reach this port may call every \
         tool of the MCP server; protect it with --authTokenFile, SUPERGATEWAY_AUTH_TOKEN, --authIssuer or --tlsClientCa, or \
         bind 127.0.0.1"
    );
    assert!(exposed_warning(&config(&["--stdio", "x", "--host", "::"])).is_some());
    assert!(exposed_warning(&config(&["--stdio", "x", "--host", "192.0.2.1"])).is_some());
    for loopback in ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"] {
        assert_eq!(
            exposed_warning(&config(&["--stdio", "x", "--host", loopback])),
            None,
            "{loopback}"
        );
    }
    // A reverse mode serves nothing.
    assert_eq!(
        exposed_warning(&config(&["--sse", "http://h/sse", "--host", "0.0.0.0"])),
        None
    );
    // Any authentication protects it.
    let mut protected = config(&["--stdio", "x", "--host", "0.0.0.0"]);
    protected.auth_tokens = Some(crate::auth::Source {
        env: Some(crate::auth::Source::env_token("t0ken").unwrap()),
        file: None,
    });
    assert!(has_inbound_auth(&protected));
    assert_eq!(exposed_warning(&protected), None);
}

#[test]
fn the_gateways_own_secrets_are_kept_from_the_child() {
    for name in [crate::auth::TOKEN_ENV, ADMIN_TOKEN_ENV] {
        assert!(crate::child::GATEWAY_SECRETS.contains(&name), "{name}");
    }
}

#[test]
fn instance_id_is_1_to_32_of_a_z_digits_underscore_and_dash() {
    let parse_args = |list: &[&str]| parse(&args(list));
    let config = parse_args(&["--stdio", "x"]).unwrap();
    assert_eq!(config.instance_id, None);
    let config = parse_args(&["--stdio", "x", "--instanceId", "gw-0_A"]).unwrap();
    assert_eq!(config.instance_id.as_deref(), Some("gw-0_A"));
    let longest = "n".repeat(32);
    let config = parse_args(&["--stdio", "x", "--instance-id", &longest]).unwrap();
    assert_eq!(config.instance_id.as_deref(), Some(longest.as_str()));
    let too_long = "n".repeat(33);
    for (value, error) in [
        ("", "--instanceId is empty (got \"\")"),
        (
            too_long.as_str(),
            "--instanceId is longer than 32 characters",
        ),
        (
            "a.b",
            "--instanceId may hold only A-Z, a-z, 0-9, _ and - (got \"a.b\")",
        ),
        ("pod 1", "--instanceId may hold only"),
        ("é", "--instanceId may hold only"),
    ] {
        let exit = parse_args(&["--stdio", "x", "--instanceId", value])
            .err()
            .unwrap_or_else(|| panic!("{value:?} parsed"));
        assert_eq!(exit.code, 2, "{value:?}");
        assert!(exit.message.contains(error), "{value:?}: {}", exit.message);
        assert!(!exit.message.contains('\n'));
    }
}
