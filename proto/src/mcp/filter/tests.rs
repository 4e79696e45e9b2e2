use super::*;

const NONE: &[&str] = &[];

#[test]
fn glob_table() {
    let cases: &[(&str, &str, bool)] = &[
        ("read_*", "read_file", true),
        ("read_*", "read_", true),
        ("read_*", "xread_file", false),
        ("read_*", "read", false),
        ("*", "", true),
        ("*", "anything", true),
        ("?", "a", true),
        ("?", "é", true),
        ("?", "", false),
        ("?", "ab", false),
        ("a*b*c", "abc", true),
        ("a*b*c", "axxbyyc", true),
        ("a*b*c", "axxbyy", false),
        ("a*b*c", "acb", false),
        ("*_file", "read_file", true),
        ("*_file", "read_files", false),
        ("exact", "exact", true),
        ("exact", "Exact", false),
        ("exact", "exactly", false),
        ("**a", "a", true),
        ("a?c", "abc", true),
        ("a?c", "ac", false),
        (
            "*a*a*a*a*b",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            false,
        ),
    ];
    for (glob, name, want) in cases {
        assert_eq!(
            Glob::parse(glob).unwrap().matches(name),
            *want,
            "{glob} vs {name}"
        );
    }
}

#[test]
fn patterns_refused() {
    assert_eq!(Glob::parse(""), Err(PatternError::Empty));
    assert_eq!(Glob::parse("a\nb"), Err(PatternError::Control));
    assert_eq!(
        Glob::parse(&"a".repeat(MAX_PATTERN_BYTES + 1)),
        Err(PatternError::TooLong)
    );
    assert!(Glob::parse(&"a".repeat(MAX_PATTERN_BYTES)).is_ok());
    let many = vec!["x"; MAX_PATTERNS + 1];
    assert_eq!(Rules::globs(&many, NONE), Err(PatternError::TooMany));
    assert_eq!(Rules::prefixes(NONE, &[""]), Err(PatternError::Empty));
}

#[test]
fn rules_table() {
    let rules = Rules::globs(&["read_*", "list_*"], &["read_secret*"]).unwrap();
    assert!(rules.allows("read_file"));
    assert!(rules.allows("list_dir"));
    assert!(!rules.allows("write_file"));
    assert!(!rules.allows("read_secret_key"), "deny wins over allow");
    let deny_only = Rules::globs(NONE, &["delete_*"]).unwrap();
    assert!(deny_only.allows("write_file"));
    assert!(!deny_only.allows("delete_all"));
    assert!(Rules::<Glob>::default().allows("anything"));

    let uris = Rules::prefixes(&["file:///pub/"], &["file:///pub/private/"]).unwrap();
    assert!(uris.allows("file:///pub/a.txt"));
    assert!(!uris.allows("file:///pub/private/key"));
    assert!(!uris.allows("file:///etc/passwd"));
    assert!(uris.allows_template("file:///pub/{name}"));
    assert!(
        uris.allows_template("file:///{path}"),
        "some expansions are allowed"
    );
    assert!(!uris.allows_template("file:///pub/private/{x}"));
    assert!(!uris.allows_template("db://{table}"));
}

fn tools_filter(allow: &[&str], deny: &[&str]) -> Filter {
    Filter {
        tools: Rules::globs(allow, deny).unwrap(),
        ..Filter::default()
    }
}

#[test]
fn list_rewriting() {
    let filter = tools_filter(NONE, &["delete_*"]);
    // Removed entries and their commas go; the rest, cursor included,
    // keeps its bytes.
    let result = br#"{ "tools" : [ {"name":"delete_a"} , {"name":"read","x":[1,2]}, {"name":"delete_b"} ,{"name":"write"} ], "nextCursor":"abc==" }"#;
    let out = filter.rewrite_list(List::Tools, result).unwrap().unwrap();
    assert_eq!(
        out,
        br#"{ "tools" : [{"name":"read","x":[1,2]},{"name":"write"}], "nextCursor":"abc==" }"#
    );
    // A page may come back empty; its cursor still passes.
    let page = br#"{"tools":[{"name":"delete_x"}],"nextCursor":"p3"}"#;
    assert_eq!(
        filter.rewrite_list(List::Tools, page).unwrap().unwrap(),
        br#"{"tools":[],"nextCursor":"p3"}"#
    );
    // Nothing removed: the result is sent as it is.
    let clean = br#"{"tools":[{"name":"read"}],"nextCursor":"p3"}"#;
    assert_eq!(filter.rewrite_list(List::Tools, clean), Ok(None));
    // An escaped name is judged unescaped.
    let escaped = br#"{"tools":[{"name":"delete\u005fall"}]}"#;
    assert_eq!(
        filter.rewrite_list(List::Tools, escaped).unwrap().unwrap(),
        br#"{"tools":[]}"#
    );
    // Entries without a name, or not objects, are not shown.
    let odd = br#"{"tools":[1,{"title":"x"},{"name":"ok"}]}"#;
    assert_eq!(
        filter.rewrite_list(List::Tools, odd).unwrap().unwrap(),
        br#"{"tools":[{"name":"ok"}]}"#
    );
    // No rules for this kind: not even parsed.
    assert_eq!(filter.rewrite_list(List::Prompts, b"not json"), Ok(None));
    // Listings that cannot be read must not pass.
    for bad in [
        &br#"{"tools":[{"name":"delete_a"}],"tools":[]}"#[..],
        br#"{"tools":{"name":"delete_a"}}"#,
        br#"[]"#,
        br#"{"tools":[{"name":"a"}"#,
    ] {
        assert_eq!(
            filter.rewrite_list(List::Tools, bad),
            Err(Unreadable),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn list_kinds() {
    let filter = Filter {
        prompts: Rules::globs(&["greet*"], NONE).unwrap(),
        resources: Rules::prefixes(NONE, &["secret://"]).unwrap(),
        ..Filter::default()
    };
    let prompts = br#"{"prompts":[{"name":"greeting"},{"name":"other"}]}"#;
    assert_eq!(
        filter
            .rewrite_list(List::Prompts, prompts)
            .unwrap()
            .unwrap(),
        br#"{"prompts":[{"name":"greeting"}]}"#
    );
    let resources = br#"{"resources":[{"uri":"secret://k","name":"k"},{"uri":"file:///a","name":"secret://"}]}"#;
    assert_eq!(
        filter
            .rewrite_list(List::Resources, resources)
            .unwrap()
            .unwrap(),
        br#"{"resources":[{"uri":"file:///a","name":"secret://"}]}"#
    );
    let templates =
        br#"{"resourceTemplates":[{"uriTemplate":"secret://{id}"},{"uriTemplate":"file:///{p}"}]}"#;
    assert_eq!(
        filter
            .rewrite_list(List::ResourceTemplates, templates)
            .unwrap()
            .unwrap(),
        br#"{"resourceTemplates":[{"uriTemplate":"file:///{p}"}]}"#
    );
    assert_eq!(
        List::of("resources/templates/list"),
        Some(List::ResourceTemplates)
    );
    assert_eq!(List::of("tools/call"), None);
}

#[test]
fn requests_refused() {
    let filter = Filter {
        tools: Rules::globs(&["read_*"], &["read_secret"]).unwrap(),
        prompts: Rules::globs(NONE, &["admin"]).unwrap(),
        resources: Rules::prefixes(&["file:///pub/"], NONE).unwrap(),
    };
    let cases: &[(&str, Option<&str>, Option<&str>)] = &[
        ("tools/call", Some("read_file"), None),
        (
            "tools/call",
            Some("read_secret"),
            Some("Unknown tool: read_secret"),
        ),
        ("tools/call", Some("write"), Some("Unknown tool: write")),
        ("tools/call", None, None),
        ("prompts/get", Some("admin"), Some("Unknown prompt: admin")),
        ("prompts/get", Some("hello"), None),
        ("resources/read", Some("file:///pub/a"), None),
        (
            "resources/read",
            Some("file:///etc/passwd"),
            Some("Resource not found: file:///etc/passwd"),
        ),
        ("tools/list", Some("write"), None),
        ("ping", None, None),
    ];
    for (method, target, want) in cases {
        let got = filter.check_request(method, *target);
        assert_eq!(
            got.as_ref().map(|r| r.0.as_str()),
            *want,
            "{method} {target:?}"
        );
    }
    assert_eq!(Refusal::CODE, -32602);
    assert!(Filter::default().is_empty());
    assert!(!filter.is_empty());
}

#[test]
fn deeper_targets_table() {
    let filter = Filter {
        prompts: Rules::globs(NONE, &["admin"]).unwrap(),
        resources: Rules::prefixes(&["file:///pub/"], &["file:///pub/secret"]).unwrap(),
        ..Filter::default()
    };
    let request = |method: &str, params: &str| {
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}"#)
    };
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("resources/subscribe", r#"{"uri":"file:///pub/a"}"#, None),
        (
            "resources/subscribe",
            r#"{"uri":"file:///etc/x"}"#,
            Some("Resource not found: file:///etc/x"),
        ),
        (
            "resources/subscribe",
            r#"{"uri":"file:\/\/\/pub\/secret\/k"}"#,
            Some("Resource not found: file:///pub/secret/k"),
        ),
        ("resources/subscribe", r#"{"uri":7}"#, None),
        ("resources/subscribe", r#"{}"#, None),
        (
            "resources/subscribe",
            r#"{"uri":"file:///pub/a","uri":"file:///etc/x"}"#,
            Some("the request's params cannot be read"),
        ),
        (
            "completion/complete",
            r#"{"ref":{"type":"ref/prompt","name":"admin"}}"#,
            Some("Unknown prompt: admin"),
        ),
        (
            "completion/complete",
            r#"{"ref":{"type":"ref/prompt","name":"hi"}}"#,
            None,
        ),
        (
            "completion/complete",
            r#"{"ref":{"type":"ref/resource","uri":"file:///etc/{x}"}}"#,
            Some("Resource not found: file:///etc/{x}"),
        ),
        (
            "completion/complete",
            r#"{"ref":{"type":"ref/resource","uri":"file:///pub/secret/{x}"}}"#,
            Some("Resource not found: file:///pub/secret/{x}"),
        ),
        // Compatible with the allowed prefix: shown in the listing.
        (
            "completion/complete",
            r#"{"ref":{"type":"ref/resource","uri":"file:///{path}"}}"#,
            None,
        ),
        (
            "completion/complete",
            r#"{"ref":{"type":"ref/other","name":"admin"}}"#,
            None,
        ),
        (
            "completion/complete",
            r#"{"ref":{"type":"ref/prompt","name":"hi","name":"admin"}}"#,
            Some("the request's params cannot be read"),
        ),
        ("tools/call", r#"{"name":"admin"}"#, None),
    ];
    for (method, params, want) in cases {
        let got = filter.check_request_params(method, request(method, params).as_bytes());
        assert_eq!(
            got.as_ref().map(|r| r.0.as_str()),
            *want,
            "{method} {params}"
        );
    }
    // Rules for neither kind: nothing is parsed, nothing refused.
    let tools_only = tools_filter(NONE, &["x"]);
    let garbled = br#"{"params":{"uri":"a","uri":"b"}}"#;
    assert_eq!(
        tools_only.check_request_params("resources/subscribe", garbled),
        None
    );
}

#[test]
fn listens_and_updates() {
    let filter = Filter {
        resources: Rules::prefixes(NONE, &["secret://"]).unwrap(),
        ..Filter::default()
    };
    let listen = |uris: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{{"notifications":{{"toolsListChanged":true,"resourceSubscriptions":{uris}}},"_meta":{{}}}}}}"#
        )
    };
    let cases: &[(&str, Result<Option<&str>, Unreadable>)] = &[
        (r#"["file:///a"]"#, Ok(None)),
        (r#"[]"#, Ok(None)),
        (r#"["secret://k"]"#, Ok(Some("[]"))),
        (
            r#"[ "secret://k" , "file:///a","secret:\/\/j", "file:///b" ]"#,
            Ok(Some(r#"["file:///a","file:///b"]"#)),
        ),
        (r#"[1,"secret://k"]"#, Ok(None)),
        (r#""secret://k""#, Ok(None)),
    ];
    for (uris, want) in cases {
        let got = filter.rewrite_listen(listen(uris).as_bytes());
        let want = want.map(|w| w.map(|w| listen(w).into_bytes()));
        assert_eq!(got, want, "{uris}");
    }
    let ambiguous = br#"{"params":{"notifications":{"resourceSubscriptions":[],"resourceSubscriptions":["secret://k"]}}}"#;
    assert_eq!(filter.rewrite_listen(ambiguous), Err(Unreadable));
    assert_eq!(
        tools_filter(NONE, &["x"]).rewrite_listen(ambiguous),
        Ok(None)
    );

    let update = |params: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{params}}}"#
        )
    };
    let updated = "notifications/resources/updated";
    assert!(filter.passes_notification(updated, update(r#"{"uri":"file:///a"}"#).as_bytes()));
    assert!(!filter.passes_notification(updated, update(r#"{"uri":"secret://k"}"#).as_bytes()));
    assert!(!filter.passes_notification(
        updated,
        update(r#"{"uri":"a","uri":"secret://k"}"#).as_bytes()
    ));
    assert!(!filter.passes_notification(updated, update(r#"{}"#).as_bytes()));
    let listed = "notifications/resources/list_changed";
    assert!(filter.passes_notification(listed, update(r#"{"uri":"secret://k"}"#).as_bytes()));
    assert!(tools_filter(NONE, &["x"])
        .passes_notification(updated, update(r#"{"uri":"secret://k"}"#).as_bytes()));
}
