//! Command lines refused, with a piece of their one-line error.

use super::*;

#[test]
fn reject() {
    let cases: &[(&[&str], &str)] = &[
        (
            &[],
            "one of --stdio, --sse, --streamableHttp or --config is required",
        ),
        (
            &["--port", "1"],
            "one of --stdio, --sse, --streamableHttp or --config is required",
        ),
        (&["--foo"], "unknown flag --foo (see --help)"),
        (&["--stdio", "x", "--foo=1"], "unknown flag --foo"),
        (&["--stdio", "x", "--Port", "1"], "did you mean --port?"),
        (
            &["--stdio", "x", "--outputtransport", "ws"],
            "did you mean --outputTransport?",
        ),
        (
            &["--stdio", "x", "--output_transport", "ws"],
            "unknown flag --output_transport",
        ),
        (
            &["--stdio", "npx", "-y", "server"],
            "unknown flag -y (quote the whole --stdio command",
        ),
        (
            &["--stdio", "npx", "server"],
            "unexpected argument \"server\" (quote",
        ),
        (&["--stdio", "x", "extra"], "unexpected argument \"extra\""),
        (
            &["--stdio", "x", "--header", "X-A:", "b"],
            "unexpected argument after --header (quote",
        ),
        (
            &["--stdio", "x", "--oauth2Bearer", "a", "b"],
            "unexpected argument after --oauth2Bearer",
        ),
        (&["--stdio", "x", "--", "y"], "unexpected argument \"--\""),
        (&["-p", "1"], "unknown flag -p"),
        (&["--no-port"], "unknown flag --no-port"),
        (
            &["--stdio", "x", "--sse", "http://h/sse"],
            "--stdio and --sse cannot be combined",
        ),
        (
            &[
                "--stdio",
                "x",
                "--sse",
                "http://h",
                "--streamableHttp",
                "http://h",
            ],
            "--stdio and --sse and --streamableHttp cannot be combined",
        ),
        (&["--stdio"], "--stdio needs a value"),
        (&["--stdio", "--port", "1"], "--stdio needs a value"),
        (&["--stdio", ""], "--stdio needs a shell command"),
        (&["--stdio", "  "], "--stdio needs a shell command"),
        (&["--stdio=a\0b"], "--stdio needs a shell command"),
        (&["--stdio", "x", "--port"], "--port needs a value"),
        (
            &["--stdio", "x", "--port", "abc"],
            "--port expects a non-negative whole number",
        ),
        (
            &["--stdio", "x", "--port", "70000"],
            "--port must be a port from 0 to 65535",
        ),
        (&["--stdio", "x", "--port=+1"], "--port expects"),
        (&["--stdio", "x", "--port=-1"], "--port expects"),
        (&["--stdio", "x", "--port", "-1"], "--port expects"),
        (&["--stdio", "x", "--port", " 1"], "--port expects"),
        (&["--stdio", "x", "--port", "0x10"], "--port expects"),
        (&["--stdio", "x", "--port", ""], "--port expects"),
        (&["--stdio", "x", "--port", "1.5"], "--port expects"),
        (&["--stdio", "x", "--port", "1\n2"], "--port expects"),
        (
            &["--stdio", "x", "--port", "99999999999999999999999"],
            "--port is out of range",
        ),
        (
            &["--stdio", "x", "--port", "1", "--port=2"],
            "--port given more than once",
        ),
        (
            &["--stdio", "x", "--stdio", "y"],
            "--stdio given more than once",
        ),
        (
            &["--stdio", "x", "--sessionTimeout", "0"],
            "--sessionTimeout must be greater than 0",
        ),
        (
            &["--stdio", "x", "--maxSessions", "0"],
            "--maxSessions must be at least 1",
        ),
        (
            &["--stdio", "x", "--maxSessionBytes", "1023"],
            "--maxSessionBytes must be at least 1024",
        ),
        (
            &[
                "--stdio",
                "x",
                "--maxBufferedBytes",
                "4096",
                "--maxSessionBytes",
                "8192",
            ],
            "--maxBufferedBytes must be at least --maxSessionBytes",
        ),
        (
            &["--stdio", "x", "--maxBodyBytes", "0"],
            "--maxBodyBytes must be at least 1",
        ),
        (
            &["--stdio", "x", "--bodyTimeout", "0"],
            "--bodyTimeout must be greater than 0",
        ),
        (
            &["--stdio", "x", "--bodyTimeout", "1s"],
            "--bodyTimeout expects",
        ),
        (
            &["--stdio", "x", "--keepAlive", "-5"],
            "--keepAlive expects",
        ),
        (
            &["--stdio", "x", "--requestTimeout", "1s"],
            "--requestTimeout expects",
        ),
        (
            &["--stdio", "x", "--runtimeAdminPort", "65536"],
            "--runtimeAdminPort must be a port",
        ),
        (
            &["--stdio", "x", "--metricsPort", "9100"],
            "--metricsPort needs --metricsEndpoint",
        ),
        (
            &[
                "--stdio",
                "x",
                "--metricsEndpoint",
                "/m",
                "--metricsPort",
                "65536",
            ],
            "--metricsPort must be a port",
        ),
        (
            &["--stdio", "x", "--metricsEndpoint", "metrics"],
            "--metricsEndpoint",
        ),
        (
            &["--stdio", "x", "--runtimeAdminToken", ""],
            "--runtimeAdminToken must be 1 to 4096 visible ASCII characters",
        ),
        (
            &["--stdio", "x", "--runtimeAdminToken", "a b"],
            "--runtimeAdminToken must be 1 to 4096 visible ASCII characters",
        ),
        (
            &["--stdio", "x", "--ssePath", "sse"],
            "--ssePath must be a path starting with '/'",
        ),
        (
            &["--stdio", "x", "--messagePath", ""],
            "--messagePath must be a path",
        ),
        (
            &["--stdio", "x", "--streamableHttpPath", "/a b"],
            "--streamableHttpPath must be a path",
        ),
        (
            &["--stdio", "x", "--ssePath", "/a?b"],
            "--ssePath must be a path",
        ),
        (
            &["--stdio", "x", "--allowedHost", "mcp.example.com:443"],
            "--allowedHost must be a host name or IP address",
        ),
        (
            &["--stdio", "x", "--allowedHost", "https://mcp.example.com"],
            "--allowedHost must be a host name or IP address",
        ),
        (
            &["--stdio", "x", "--allowedHost", "user@mcp.example.com"],
            "--allowedHost must be a host name or IP address",
        ),
        (
            &["--stdio", "x", "--allowedHost", "mcp.example.com/x"],
            "--allowedHost must be a host name or IP address",
        ),
        (
            &["--stdio", "x", "--allowedHost", ""],
            "--allowedHost must be a host name or IP address",
        ),
        (
            &["--stdio", "x", "--allowedHost", "a b"],
            "--allowedHost must be a host name or IP address",
        ),
        (
            &["--stdio", "x", "--allowedHost", "[::1]:80"],
            "--allowedHost must be a host name or IP address",
        ),
        (
            &["--stdio", "x", "--healthEndpoint", "health"],
            "--healthEndpoint must be a path",
        ),
        (
            &["--stdio", "x", "--logLevel", "warn"],
            "--logLevel must be one of debug, info, none",
        ),
        (
            &["--stdio", "x", "--logLevel", "DEBUG"],
            "--logLevel must be one of debug, info, none",
        ),
        (
            &["--stdio", "x", "--logFormat", "yaml"],
            "--logFormat must be one of text, json",
        ),
        (
            &["--stdio", "x", "--outputTransport", "websocket"],
            "--outputTransport must be one of",
        ),
        (
            &["--stdio", "x", "--outputTransport", "stdio"],
            "--stdio with --outputTransport stdio is not supported",
        ),
        (
            &["--sse", "http://h", "--outputTransport", "sse"],
            "--sse with --outputTransport sse is not supported",
        ),
        (
            &["--sse", "http://h", "--outputTransport", "ws"],
            "--sse with --outputTransport ws is not supported",
        ),
        (
            &[
                "--streamableHttp",
                "http://h",
                "--outputTransport",
                "streamableHttp",
            ],
            "--streamableHttp with --outputTransport streamableHttp is not supported",
        ),
        (
            &["--sse", "ftp://h/sse"],
            "--sse must be an http:// or https:// URL",
        ),
        (
            &["--sse", "h/sse"],
            "--sse must be an http:// or https:// URL",
        ),
        (
            &["--streamableHttp", "http://a b"],
            "--streamableHttp URL must not contain spaces",
        ),
        (
            &["--streamableHttp", "https"],
            "--streamableHttp must be an http:// or https:// URL",
        ),
        (
            &["--stdio", "x", "--header", "NoColon"],
            "--header must look like \"Name: value\"",
        ),
        (
            &["--stdio", "x", "--header", "X: a\r\nY: b"],
            "--header must look like",
        ),
        (
            &["--stdio", "x", "--header", "X: a\nb"],
            "--header must look like",
        ),
        (
            &["--stdio", "x", "--header", "X: a\0"],
            "--header must look like",
        ),
        (
            &["--stdio", "x", "--header", ": v"],
            "--header must look like",
        ),
        (
            &["--stdio", "x", "--header", "X A: v"],
            "--header must look like",
        ),
        (
            &["--stdio", "x", "--header", "X: \u{7}"],
            "--header must look like",
        ),
        (
            &["--stdio", "x", "--header", "Content-Length: 5"],
            "--header Content-Length cannot be set",
        ),
        (
            &["--stdio", "x", "--header", "transfer-encoding: chunked"],
            "--header transfer-encoding cannot",
        ),
        (
            &["--stdio", "x", "--header", "Host: evil.com"],
            "--header Host cannot be set: ",
        ),
        (
            &["--sse", "https://h/sse", "--header", "Host: evil.com"],
            "--header Host cannot be set: ",
        ),
        (
            &["--stdio", "x", "--header", "Set-Cookie: a=b"],
            "--header Set-Cookie cannot be set: ",
        ),
        (
            &["--sse", "https://h/sse", "--header", "Set-Cookie: a=b"],
            "--header Set-Cookie cannot be set: ",
        ),
        (
            &["--stdio", "x", "--header", "Connection: close"],
            "--header Connection cannot be set: ",
        ),
        (
            &["--sse", "https://h/sse", "--header", "Connection: close"],
            "--header Connection cannot be set: ",
        ),
        (
            &["--stdio", "x", "--header", "Keep-Alive: 5"],
            "--header Keep-Alive cannot be set: ",
        ),
        (
            &["--sse", "https://h/sse", "--header", "Keep-Alive: 5"],
            "--header Keep-Alive cannot be set: ",
        ),
        (
            &["--stdio", "x", "--header", "TE: trailers"],
            "--header TE cannot be set: ",
        ),
        (
            &["--sse", "https://h/sse", "--header", "TE: trailers"],
            "--header TE cannot be set: ",
        ),
        (
            &["--stdio", "x", "--header", "Trailer: X"],
            "--header Trailer cannot be set: ",
        ),
        (
            &["--sse", "https://h/sse", "--header", "Trailer: X"],
            "--header Trailer cannot be set: ",
        ),
        (
            &["--stdio", "x", "--header", "Upgrade: h2c"],
            "--header Upgrade cannot be set: ",
        ),
        (
            &["--sse", "https://h/sse", "--header", "Upgrade: h2c"],
            "--header Upgrade cannot be set: ",
        ),
        (
            &["--stdio", "x", "--header", "Proxy-Authorization: Basic x"],
            "--header Proxy-Authorization cannot be set: ",
        ),
        (
            &[
                "--sse",
                "https://h/sse",
                "--header",
                "Proxy-Authorization: Basic x",
            ],
            "--header Proxy-Authorization cannot be set: ",
        ),
        (
            &["--stdio", "x", "--header", "Content-Type: text/html"],
            "--header Content-Type cannot be set: ",
        ),
        (
            &[
                "--sse",
                "https://h/sse",
                "--header",
                "Content-Type: text/html",
            ],
            "--header Content-Type cannot be set: ",
        ),
        (
            &["--stdio", "x", "--header", "Mcp-Session-Id: x"],
            "--header Mcp-Session-Id cannot be set: ",
        ),
        (
            &["--sse", "https://h/sse", "--header", "Mcp-Session-Id: x"],
            "--header Mcp-Session-Id cannot be set: ",
        ),
        (
            &["--stdio", "x", "--header", "Access-Control-Allow-Origin: *"],
            "--header Access-Control-Allow-Origin cannot be set: ",
        ),
        (
            &[
                "--sse",
                "https://h/sse",
                "--header",
                "Access-Control-Allow-Origin: *",
            ],
            "--header Access-Control-Allow-Origin cannot be set: ",
        ),
        (
            &["--stdio", "x", "--oauth2Bearer", ""],
            "--oauth2Bearer needs a non-empty token",
        ),
        (
            &["--stdio", "x", "--oauth2Bearer", "a\nb"],
            "--oauth2Bearer is not a valid header value",
        ),
        (
            &["--stdio", "x", "--stateful=maybe"],
            "--stateful expects true or false",
        ),
        (
            &["--stdio", "x", "--no-stateful=true"],
            "--no-stateful takes no value",
        ),
        (&["--stdio", "x", "--help=1"], "--help takes no value"),
        (&["--stdio", "x", "--version=1"], "--version takes no value"),
        (
            &["--stdio", "x", "--cors", "/(/"],
            "--cors \"/(/\" is not a valid regular expression",
        ),
        (
            &["--stdio", "x", "--cors", ""],
            "--cors origins must not be empty",
        ),
        (
            &["--stdio", "x", "--host", ""],
            "--host must be an IP address or host name",
        ),
        (
            &["--stdio", "x", "--host", "a b"],
            "--host must be an IP address or host name",
        ),
        (
            &["--stdio", "x", "--protocolVersion", ""],
            "--protocolVersion must be visible ASCII",
        ),
        (
            &["--stdio", "x", "--baseUrl", "http://a\r\nb"],
            "--baseUrl must not contain",
        ),
    ];
    for (argv, needle) in cases {
        let exit = match parse(&args(argv)) {
            Ok(config) => panic!("{argv:?} accepted: {config:?}"),
            Err(exit) => exit,
        };
        assert_eq!(exit.code, 2, "{argv:?}: {exit:?}");
        assert!(
            exit.message.starts_with("supergateway: "),
            "{argv:?}: {exit:?}"
        );
        assert!(!exit.message.contains(['\n', '\r']), "{argv:?}: {exit:?}");
        assert!(
            exit.message.contains(needle),
            "{argv:?}: {:?} lacks {needle:?}",
            exit.message
        );
    }
}
