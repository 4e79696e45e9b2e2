//! Command lines that parse, with the Config they give.

use super::*;

#[test]
fn accept() {
    type Edit = fn(&mut Summary);
    let cases: &[(&[&str], Edit)] = &[
        // Inputs, defaults, output defaults.
        (&["--stdio", "cmd"], |_| {}),
        (&["--stdio=cmd"], |_| {}),
        (&["--stdio", "a b=c"], |s| s.input.1 = "a b=c".to_owned()),
        (&["--stdio=a=b"], |s| s.input.1 = "a=b".to_owned()),
        (&["--stdio", "-"], |s| s.input.1 = "-".to_owned()),
        (&["--sse", "https://h/sse"], |s| {
            s.input = ("sse", "https://h/sse".to_owned());
            s.output = Output::Stdio;
        }),
        (&["--sse=HTTP://h:1/sse?x=1"], |s| {
            s.input = ("sse", "HTTP://h:1/sse?x=1".to_owned());
            s.output = Output::Stdio;
        }),
        (&["--streamableHttp", "https://h/mcp"], |s| {
            s.input = ("streamableHttp", "https://h/mcp".to_owned());
            s.output = Output::Stdio;
        }),
        (
            &[
                "--streamable-http=http://h/mcp",
                "--outputTransport",
                "stdio",
            ],
            |s| {
                s.input = ("streamableHttp", "http://h/mcp".to_owned());
                s.output = Output::Stdio;
            },
        ),
        (&["--outputTransport", "sse", "--stdio", "cmd"], |_| {}),
        (&["--stdio", "cmd", "--outputTransport=ws"], |s| {
            s.output = Output::Ws
        }),
        (
            &["--stdio", "cmd", "--output-transport", "streamableHttp"],
            |s| {
                s.output = Output::StreamableHttp;
            },
        ),
        (
            &["--stdio", "cmd", "--outputTransport=streamableHttp"],
            |s| {
                s.output = Output::StreamableHttp;
            },
        ),
        // Numbers.
        (&["--stdio", "cmd", "--port", "0"], |s| s.port = 0),
        (&["--stdio", "cmd", "--port=65535"], |s| s.port = 65535),
        (&["--stdio", "cmd", "--port", "0080"], |s| s.port = 80),
        (&["--stdio", "cmd", "--host", "0.0.0.0"], |s| {
            s.host = "0.0.0.0".to_owned()
        }),
        (&["--stdio", "cmd", "--host=::"], |s| {
            s.host = "::".to_owned()
        }),
        (&["--stdio", "cmd", "--host", "localhost"], |s| {
            s.host = "localhost".to_owned()
        }),
        (
            &["--stdio", "cmd", "--baseUrl", "http://localhost:8000"],
            |s| {
                s.base_url = "http://localhost:8000".to_owned();
            },
        ),
        (&["--stdio", "cmd", "--base-url=https://x.test/base"], |s| {
            s.base_url = "https://x.test/base".to_owned();
        }),
        (&["--stdio", "cmd", "--ssePath", "/events"], |s| {
            s.sse_path = "/events".to_owned()
        }),
        (&["--stdio", "cmd", "--sse-path=/a/b"], |s| {
            s.sse_path = "/a/b".to_owned()
        }),
        (&["--stdio", "cmd", "--messagePath=/m"], |s| {
            s.message_path = "/m".to_owned()
        }),
        (&["--stdio", "cmd", "--message-path", "/"], |s| {
            s.message_path = "/".to_owned()
        }),
        (
            &[
                "--stdio",
                "cmd",
                "--outputTransport",
                "streamableHttp",
                "--streamableHttpPath",
                "/x",
            ],
            |s| {
                s.output = Output::StreamableHttp;
                s.streamable_http_path = "/x".to_owned();
            },
        ),
        (
            &[
                "--stdio",
                "cmd",
                "--outputTransport",
                "streamableHttp",
                "--streamable-http-path=/y",
            ],
            |s| {
                s.output = Output::StreamableHttp;
                s.streamable_http_path = "/y".to_owned();
            },
        ),
        // Booleans.
        (
            &[
                "--stdio",
                "cmd",
                "--outputTransport",
                "streamableHttp",
                "--stateful",
            ],
            |s| {
                s.output = Output::StreamableHttp;
                s.stateful = true;
            },
        ),
        (
            &[
                "--stdio",
                "cmd",
                "--outputTransport",
                "streamableHttp",
                "--stateful=true",
            ],
            |s| {
                s.output = Output::StreamableHttp;
                s.stateful = true;
            },
        ),
        (
            &[
                "--stdio",
                "cmd",
                "--outputTransport",
                "streamableHttp",
                "--stateful",
                "true",
            ],
            |s| {
                s.output = Output::StreamableHttp;
                s.stateful = true;
            },
        ),
        (
            &[
                "--stdio",
                "cmd",
                "--outputTransport",
                "streamableHttp",
                "--stateful=false",
            ],
            |s| {
                s.output = Output::StreamableHttp;
            },
        ),
        (
            &[
                "--stdio",
                "cmd",
                "--outputTransport",
                "streamableHttp",
                "--stateful",
                "false",
            ],
            |s| {
                s.output = Output::StreamableHttp;
            },
        ),
        (&["--stdio", "cmd", "--stateful", "--no-stateful"], |_| {}),
        (
            &[
                "--stdio",
                "cmd",
                "--no-stateful",
                "--stateful",
                "--outputTransport",
                "streamableHttp",
            ],
            |s| {
                s.output = Output::StreamableHttp;
                s.stateful = true;
            },
        ),
        (
            &[
                "--stateful",
                "--stdio",
                "cmd",
                "--outputTransport",
                "streamableHttp",
            ],
            |s| {
                s.output = Output::StreamableHttp;
                s.stateful = true;
            },
        ),
        (&["--stdio", "cmd", "--runtimePrompt"], |s| {
            s.runtime_prompt = true
        }),
        (&["--stdio", "cmd", "--runtime-prompt=true"], |s| {
            s.runtime_prompt = true
        }),
        (&["--stdio", "cmd", "--no-runtime-prompt"], |_| {}),
        (&["--stdio", "cmd", "--childPerSession"], |s| {
            s.child_per_session = true
        }),
        (&["--stdio", "cmd", "--child-per-session", "true"], |s| {
            s.child_per_session = true
        }),
        (&["--stdio", "cmd", "--no-childPerSession"], |_| {}),
        // Times and limits.
        (
            &[
                "--stdio",
                "cmd",
                "--outputTransport",
                "streamableHttp",
                "--stateful",
                "--sessionTimeout",
                "1",
            ],
            |s| {
                s.output = Output::StreamableHttp;
                s.stateful = true;
                s.session_timeout = ms(1);
            },
        ),
        (
            &[
                "--stdio",
                "cmd",
                "--outputTransport=streamableHttp",
                "--stateful",
                "--session-timeout=60000",
            ],
            |s| {
                s.output = Output::StreamableHttp;
                s.stateful = true;
                s.session_timeout = ms(60_000);
            },
        ),
        (
            &[
                "--stdio",
                "cmd",
                "--outputTransport",
                "streamableHttp",
                "--protocolVersion",
                "2025-06-18",
            ],
            |s| {
                s.output = Output::StreamableHttp;
                s.protocol_version = "2025-06-18".to_owned();
            },
        ),
        (
            &[
                "--stdio",
                "cmd",
                "--outputTransport",
                "streamableHttp",
                "--protocol-version=2025-03-26",
            ],
            |s| {
                s.output = Output::StreamableHttp;
                s.protocol_version = "2025-03-26".to_owned();
            },
        ),
        (&["--stdio", "cmd", "--keepAlive", "0"], |s| {
            s.keep_alive = None
        }),
        (&["--stdio", "cmd", "--keep-alive=250"], |s| {
            s.keep_alive = ms(250)
        }),
        (&["--stdio", "cmd", "--maxBodyBytes", "1"], |s| {
            s.max_body_bytes = 1
        }),
        (
            &["--stdio", "cmd", "--max-body-bytes=18446744073709551615"],
            |s| {
                s.max_body_bytes = u64::MAX;
            },
        ),
        (&["--stdio", "cmd", "--maxSessions", "1"], |s| {
            s.max_sessions = 1
        }),
        (
            &[
                "--stdio",
                "cmd",
                "--maxBufferedBytes",
                "4096",
                "--maxSessionBytes",
                "2048",
            ],
            |s| {
                s.max_buffered_bytes = 4096;
                s.max_session_buffered_bytes = 2048;
            },
        ),
        (
            &["--stdio", "cmd", "--headTimeout", "5", "--bodyTimeout", "7"],
            |s| {
                s.head_timeout = Duration::from_millis(5);
                s.body_timeout = Duration::from_millis(7);
            },
        ),
        (
            &[
                "--stdio",
                "cmd",
                "--runtimeAllowEnv",
                "A, B",
                "--runtimeAllowEnv",
                "C",
            ],
            |s| s.runtime_allow_env = vec!["A".to_owned(), "B".to_owned(), "C".to_owned()],
        ),
        (&["--stdio", "cmd", "--max-sessions=5000"], |s| {
            s.max_sessions = 5000
        }),
        (&["--sse", "http://h/sse", "--requestTimeout", "0"], |s| {
            s.input = ("sse", "http://h/sse".to_owned());
            s.output = Output::Stdio;
            s.request_timeout = None;
        }),
        (&["--sse", "http://h/sse", "--request-timeout=1500"], |s| {
            s.input = ("sse", "http://h/sse".to_owned());
            s.output = Output::Stdio;
            s.request_timeout = ms(1500);
        }),
        (&["--stdio", "cmd", "--runtimeAdminPort", "9000"], |s| {
            s.runtime_admin_port = Some(9000)
        }),
        (&["--stdio", "cmd", "--runtime-admin-port=0"], |s| {
            s.runtime_admin_port = Some(0)
        }),
        (
            &[
                "--stdio",
                "cmd",
                "--runtimeAdminPort",
                "1",
                "--runtimeAdminToken",
                "t0k=n",
            ],
            |s| {
                s.runtime_admin_port = Some(1);
                s.runtime_admin_token = Some("t0k=n".to_owned());
            },
        ),
        (
            &[
                "--stdio",
                "cmd",
                "--runtime-admin-port=2",
                "--runtime-admin-token=abc",
            ],
            |s| {
                s.runtime_admin_port = Some(2);
                s.runtime_admin_token = Some("abc".to_owned());
            },
        ),
        // Log level.
        (&["--stdio", "cmd", "--logLevel", "debug"], |s| {
            s.log_level = LogLevel::Debug
        }),
        (&["--stdio", "cmd", "--logLevel=none"], |s| {
            s.log_level = LogLevel::None
        }),
        (&["--stdio", "cmd", "--log-level", "info"], |_| {}),
        (&["--stdio", "cmd", "--logFormat", "json"], |s| {
            s.log_format = LogFormat::Json
        }),
        (&["--stdio", "cmd", "--log-format=text"], |_| {}),
        // Headers, in order, then the bearer token.
        (&["--stdio", "cmd", "--header", "X-A: 1"], |s| {
            s.headers = headers(&[("X-A", "1")])
        }),
        (
            &["--stdio", "cmd", "--header=X-A: a=b", "--header", "X-B:2"],
            |s| {
                s.headers = headers(&[("X-A", "a=b"), ("X-B", "2")]);
            },
        ),
        (&["--stdio", "cmd", "--header", " X-A :  v: w \t"], |s| {
            s.headers = headers(&[("X-A", "v: w")]);
        }),
        (
            &[
                "--stdio", "cmd", "--header", "X-A: 1", "--header", "X-B: 2", "--header", "x-a: 3",
            ],
            |s| {
                s.headers = headers(&[("X-B", "2"), ("x-a", "3")]);
                s.warnings = 1;
            },
        ),
        (
            &[
                "--stdio",
                "cmd",
                "--oauth2Bearer",
                "t",
                "--header",
                "authorization: Basic x",
            ],
            |s| {
                s.headers = headers(&[("Authorization", "Bearer t")]);
                // The replaced header, and --oauth2Bearer protecting nothing here.
                s.warnings = 2;
            },
        ),
        (&["--stdio", "cmd", "--header", "X-Empty:"], |s| {
            s.headers = headers(&[("X-Empty", "")])
        }),
        (
            &[
                "--sse",
                "https://h/sse",
                "--oauth2Bearer",
                "tok",
                "--header",
                "X-A: 1",
            ],
            |s| {
                s.input = ("sse", "https://h/sse".to_owned());
                s.output = Output::Stdio;
                s.headers = headers(&[("X-A", "1"), ("Authorization", "Bearer tok")]);
            },
        ),
        (&["--stdio", "cmd", "--oauth2-bearer=a=b"], |s| {
            s.headers = headers(&[("Authorization", "Bearer a=b")]);
            s.warnings = 1;
        }),
        // CORS.
        (&["--stdio", "cmd", "--cors"], |s| {
            s.cors = strings(&["any"])
        }),
        (&["--stdio", "cmd", "--cors", "--port", "1"], |s| {
            s.cors = strings(&["any"]);
            s.port = 1;
        }),
        (&["--stdio", "cmd", "--cors", "*"], |s| {
            s.cors = strings(&["any"])
        }),
        (&["--stdio", "cmd", "--cors=*"], |s| {
            s.cors = strings(&["any"])
        }),
        (&["--stdio", "cmd", "--cors", "https://a.test", "*"], |s| {
            s.cors = strings(&["any"])
        }),
        (&["--stdio", "cmd", "--cors", "https://a.test"], |s| {
            s.cors = strings(&["exact https://a.test"]);
        }),
        (
            &[
                "--stdio",
                "cmd",
                "--cors",
                "https://a.test",
                "https://b.test",
                "--port",
                "1",
            ],
            |s| {
                s.cors = strings(&["exact https://a.test", "exact https://b.test"]);
                s.port = 1;
            },
        ),
        (
            &[
                "--cors",
                "https://a.test",
                "--stdio",
                "cmd",
                "--cors=/\\.b\\.test$/",
            ],
            |s| {
                s.cors = strings(&["exact https://a.test", "regex \\.b\\.test$"]);
            },
        ),
        (&["--stdio", "cmd", "--cors", "/", "//"], |s| {
            s.cors = strings(&["exact /", "regex "])
        }),
        // Allowed hosts: brackets dropped, repeatable.
        (
            &[
                "--stdio",
                "cmd",
                "--allowedHost",
                "mcp.example.com",
                "--allowed-host=[::2]",
                "--allowedHost",
                "10.0.0.7",
            ],
            |s| {
                s.allowed_hosts = strings(&["mcp.example.com", "::2", "10.0.0.7"]);
            },
        ),
        // Health endpoints.
        (&["--stdio", "cmd", "--healthEndpoint", "/healthz"], |s| {
            s.health_endpoints = strings(&["/healthz"]);
        }),
        (
            &[
                "--stdio",
                "cmd",
                "--healthEndpoint=/a",
                "--health-endpoint",
                "/b",
            ],
            |s| {
                s.health_endpoints = strings(&["/a", "/b"]);
            },
        ),
        // Flags for another mode: accepted, with a warning.
        (&["--stdio", "cmd", "--stateful"], |s| {
            s.stateful = true;
            s.warnings = 1;
        }),
        (&["--sse", "https://h/sse", "--port", "1", "--cors"], |s| {
            s.input = ("sse", "https://h/sse".to_owned());
            s.output = Output::Stdio;
            s.port = 1;
            s.cors = strings(&["any"]);
            s.warnings = 2;
        }),
    ];
    for (argv, edit) in cases {
        let mut expected = defaults();
        edit(&mut expected);
        match parse(&args(argv)) {
            Ok(config) => assert_eq!(summary(&config), expected, "{argv:?}"),
            Err(exit) => panic!("{argv:?} rejected: {exit:?}"),
        }
    }
}
