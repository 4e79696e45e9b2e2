use super::{annotations, check, decimal, list_tools, Invalid, Mismatch, Param, ParamType};

fn param(path: &[&str], header: &str, ty: ParamType) -> Param {
    Param {
        path: path.iter().map(|s| (*s).to_string()).collect(),
        header: header.to_string(),
        ty,
    }
}

#[test]
fn spec_example_tool() {
    // streamable-http.mdx §Schema Extension, "Example tool definition".
    let schema = br#"{
      "type": "object",
      "properties": {
        "region": {
          "type": "string",
          "description": "The region to execute the query in",
          "x-mcp-header": "Region"
        },
        "query": {
          "type": "string",
          "description": "The SQL query to execute"
        }
      },
      "required": ["region", "query"]
    }"#;
    let params = annotations(schema).unwrap();
    assert_eq!(params, [param(&["region"], "Region", ParamType::String)]);
    let arguments = br#"{"region": "us-west1", "query": "SELECT * FROM users"}"#;
    assert_eq!(check(&params[0], arguments, Some(b"us-west1")), Ok(()));
}

#[test]
fn annotations_accept_table() {
    use ParamType::{Boolean, Integer, String};
    for (schema, expected) in [
        (r#"{}"#, vec![]),
        ("true", vec![]),
        (r#"{"type":"object"}"#, vec![]),
        (r#"{"properties":{"a":{"type":"string"}}}"#, vec![]),
        (
            r#"{"properties":{"a":{"type":"integer","x-mcp-header":"A"},"b":{"type":"boolean","x-mcp-header":"b-2"}}}"#,
            vec![param(&["a"], "A", Integer), param(&["b"], "b-2", Boolean)],
        ),
        // Nested objects through `properties` only are fine.
        (
            r#"{"properties":{"o":{"type":"object","properties":{"t":{"type":"string","x-mcp-header":"Tenant"}}}}}"#,
            vec![param(&["o", "t"], "Tenant", String)],
        ),
        // Every tchar.
        (
            r#"{"properties":{"a":{"type":"string","x-mcp-header":"!#$%&'*+-.^_`|~09AZaz"}}}"#,
            vec![param(&["a"], "!#$%&'*+-.^_`|~09AZaz", String)],
        ),
        // Escaped keys and values are read unescaped.
        (
            r#"{"properties":{"\u0061":{"\u0074ype":"str\u0069ng","x-mcp-header":"\u0041"}}}"#,
            vec![param(&["a"], "A", String)],
        ),
        // Instance data is not a schema: an annotation inside is ignored.
        (
            r#"{"properties":{"a":{"type":"string","default":{"x-mcp-header":"D"},"enum":[{"x-mcp-header":"E"}],"const":{"x-mcp-header":"C"},"examples":[{"x-mcp-header":"X"}]}}}"#,
            vec![],
        ),
        // `$ref` is not followed; nothing to validate there.
        (
            r##"{"properties":{"a":{"$ref":"#/$defs/x"}},"$defs":{"x":{"type":"string"}}}"##,
            vec![],
        ),
        // Applicators without annotations are walked and harmless.
        (
            r#"{"properties":{"a":{"type":"string","x-mcp-header":"A"},"l":{"type":"array","items":{"type":"string"}}},"allOf":[{"required":["a"]}]}"#,
            vec![param(&["a"], "A", String)],
        ),
        // A property named like a keyword is still a property.
        (
            r#"{"properties":{"items":{"type":"string","x-mcp-header":"I"},"properties":{"type":"boolean","x-mcp-header":"P"}}}"#,
            vec![
                param(&["items"], "I", String),
                param(&["properties"], "P", Boolean),
            ],
        ),
    ] {
        assert_eq!(annotations(schema.as_bytes()), Ok(expected), "{schema}");
    }
}

#[test]
fn annotations_reject_table() {
    for (schema, error) in [
        ("", Invalid::Json),
        ("{", Invalid::Json),
        (r#"{"properties":{"a":{}}} x"#, Invalid::Json),
        (r#"{"properties":{"\ud800":{}}}"#, Invalid::Json),
        // Root.
        (
            r#"{"type":"string","x-mcp-header":"R"}"#,
            Invalid::Placement,
        ),
        // Off the properties chain.
        (
            r#"{"properties":{"l":{"type":"array","items":{"type":"string","x-mcp-header":"I"}}}}"#,
            Invalid::Placement,
        ),
        (
            r#"{"properties":{"l":{"type":"array","items":[{"type":"string","x-mcp-header":"I"}]}}}"#,
            Invalid::Placement,
        ),
        (
            r#"{"properties":{"l":{"prefixItems":[{"type":"string","x-mcp-header":"I"}]}}}"#,
            Invalid::Placement,
        ),
        (
            r#"{"items":{"properties":{"r":{"type":"string","x-mcp-header":"R"}}}}"#,
            Invalid::Placement,
        ),
        (
            r#"{"anyOf":[{"properties":{"r":{"type":"string","x-mcp-header":"R"}}}]}"#,
            Invalid::Placement,
        ),
        (
            r#"{"oneOf":[{"properties":{"r":{"type":"string","x-mcp-header":"R"}}}]}"#,
            Invalid::Placement,
        ),
        (
            r#"{"allOf":[{"properties":{"r":{"type":"string","x-mcp-header":"R"}}}]}"#,
            Invalid::Placement,
        ),
        (
            r#"{"not":{"properties":{"r":{"type":"string","x-mcp-header":"R"}}}}"#,
            Invalid::Placement,
        ),
        (
            r#"{"if":{"properties":{"r":{"type":"string","x-mcp-header":"R"}}}}"#,
            Invalid::Placement,
        ),
        (
            r#"{"then":{"properties":{"r":{"type":"string","x-mcp-header":"R"}}}}"#,
            Invalid::Placement,
        ),
        (
            r#"{"else":{"properties":{"r":{"type":"string","x-mcp-header":"R"}}}}"#,
            Invalid::Placement,
        ),
        (
            r#"{"$defs":{"d":{"properties":{"r":{"type":"string","x-mcp-header":"R"}}}}}"#,
            Invalid::Placement,
        ),
        (
            r#"{"definitions":{"d":{"type":"string","x-mcp-header":"R"}}}"#,
            Invalid::Placement,
        ),
        (
            r#"{"additionalProperties":{"type":"string","x-mcp-header":"R"}}"#,
            Invalid::Placement,
        ),
        (
            r#"{"patternProperties":{"^a":{"type":"string","x-mcp-header":"R"}}}"#,
            Invalid::Placement,
        ),
        (
            r#"{"properties":{"o":{"dependentSchemas":{"a":{"properties":{"r":{"type":"string","x-mcp-header":"R"}}}}}}}"#,
            Invalid::Placement,
        ),
        // Not a token.
        (
            r#"{"properties":{"a":{"type":"string","x-mcp-header":""}}}"#,
            Invalid::NotToken,
        ),
        (
            r#"{"properties":{"a":{"type":"string","x-mcp-header":"A B"}}}"#,
            Invalid::NotToken,
        ),
        (
            r#"{"properties":{"a":{"type":"string","x-mcp-header":"A:B"}}}"#,
            Invalid::NotToken,
        ),
        (
            r#"{"properties":{"a":{"type":"string","x-mcp-header":"A\r\nX: y"}}}"#,
            Invalid::NotToken,
        ),
        (
            r#"{"properties":{"a":{"type":"string","x-mcp-header":"Régión"}}}"#,
            Invalid::NotToken,
        ),
        (
            r#"{"properties":{"a":{"type":"string","x-mcp-header":"A\"B"}}}"#,
            Invalid::NotToken,
        ),
        (
            r#"{"properties":{"a":{"type":"string","x-mcp-header":7}}}"#,
            Invalid::NotToken,
        ),
        (
            r#"{"properties":{"a":{"type":"string","x-mcp-header":null}}}"#,
            Invalid::NotToken,
        ),
        // Type.
        (
            r#"{"properties":{"a":{"type":"number","x-mcp-header":"A"}}}"#,
            Invalid::Type,
        ),
        (
            r#"{"properties":{"a":{"type":"object","x-mcp-header":"A"}}}"#,
            Invalid::Type,
        ),
        (
            r#"{"properties":{"a":{"type":"array","x-mcp-header":"A"}}}"#,
            Invalid::Type,
        ),
        (
            r#"{"properties":{"a":{"type":"null","x-mcp-header":"A"}}}"#,
            Invalid::Type,
        ),
        (
            r#"{"properties":{"a":{"type":["string","null"],"x-mcp-header":"A"}}}"#,
            Invalid::Type,
        ),
        (
            r#"{"properties":{"a":{"x-mcp-header":"A"}}}"#,
            Invalid::Type,
        ),
        (
            r#"{"properties":{"a":{"type":"String","x-mcp-header":"A"}}}"#,
            Invalid::Type,
        ),
        // Case-insensitively unique.
        (
            r#"{"properties":{"a":{"type":"string","x-mcp-header":"Region"},"b":{"type":"string","x-mcp-header":"REGION"}}}"#,
            Invalid::DuplicateHeader,
        ),
        (
            r#"{"properties":{"a":{"type":"string","x-mcp-header":"R"},"o":{"properties":{"b":{"type":"string","x-mcp-header":"r"}}}}}"#,
            Invalid::DuplicateHeader,
        ),
        // Duplicate keys the walk reads.
        (
            r#"{"properties":{"a":{"type":"string","x-mcp-header":"A","x-mcp-header":"B"}}}"#,
            Invalid::DuplicateKey,
        ),
        (
            r#"{"properties":{"a":{"type":"string","type":"number","x-mcp-header":"A"}}}"#,
            Invalid::DuplicateKey,
        ),
        (
            r#"{"properties":{"a":{"type":"string"}},"properties":{}}"#,
            Invalid::DuplicateKey,
        ),
        (
            r#"{"properties":{"a":{"type":"string"},"\u0061":{"type":"string","x-mcp-header":"A"}}}"#,
            Invalid::DuplicateKey,
        ),
    ] {
        assert_eq!(annotations(schema.as_bytes()), Err(error), "{schema}");
    }
}

#[test]
fn check_table() {
    use Mismatch::{Arguments, Differ, Malformed, Missing, Unexpected};
    let s = param(&["v"], "V", ParamType::String);
    let i = param(&["v"], "V", ParamType::Integer);
    let b = param(&["v"], "V", ParamType::Boolean);
    let nested = param(&["o", "v"], "V", ParamType::String);
    type Case<'a> = (&'a Param, &'a str, Option<&'a [u8]>, Result<(), Mismatch>);
    let cases: &[Case<'_>] = &[
        // Strings, as is or through the sentinel.
        (&s, r#"{"v":"us-west1"}"#, Some(b"us-west1"), Ok(())),
        (
            &s,
            r#"{"v":"Hello, 世界"}"#,
            Some(b"=?base64?SGVsbG8sIOS4lueVjA==?="),
            Ok(()),
        ),
        (
            &s,
            r#"{"v":"us-west1"}"#,
            Some(b"=?base64?dXMtd2VzdDE=?="),
            Ok(()),
        ),
        (
            &s,
            r#"{"v":"=?base64?literal?="}"#,
            Some(b"=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="),
            Ok(()),
        ),
        (&s, r#"{"v":"\u0041"}"#, Some(b"A"), Ok(())),
        (&s, r#"{"v":""}"#, Some(b""), Ok(())),
        (&s, r#"{"v":"us-west1"}"#, Some(b"us-east1"), Err(Differ)),
        (&s, r#"{"v":"us-west1"}"#, Some(b"US-WEST1"), Err(Differ)),
        (
            &s,
            r#"{"v":"=?base64?literal?="}"#,
            Some(b"=?base64?literal?="),
            Err(Malformed),
        ),
        (&s, r#"{"v":"a"}"#, Some(b"=?base64?YQ?="), Err(Malformed)),
        (&s, r#"{"v":"a\nb"}"#, Some(b"a\nb"), Err(Malformed)),
        (
            &s,
            r#"{"v":"\ud800"}"#,
            Some(b"=?base64?77+9?="),
            Err(Differ),
        ),
        // Presence: null or absent means no header.
        (&s, r#"{"v":"x"}"#, None, Err(Missing)),
        (&s, r#"{"v":null}"#, None, Ok(())),
        (&s, r#"{}"#, None, Ok(())),
        (&s, r#"{"w":"x"}"#, None, Ok(())),
        (&s, r#"{"v":null}"#, Some(b"null"), Err(Unexpected)),
        (&s, r#"{}"#, Some(b"x"), Err(Unexpected)),
        (&s, r#"[]"#, None, Ok(())),
        (&s, r#"null"#, Some(b"x"), Err(Unexpected)),
        // Objects and arrays have no header form.
        (&s, r#"{"v":{"a":1}}"#, None, Ok(())),
        (&s, r#"{"v":[1]}"#, Some(b"[1]"), Err(Differ)),
        // Integers compare numerically from a plain decimal header.
        (&i, r#"{"v":42}"#, Some(b"42"), Ok(())),
        (&i, r#"{"v":42}"#, Some(b"42.0"), Ok(())),
        (&i, r#"{"v":42}"#, Some(b"042"), Ok(())),
        (&i, r#"{"v":42.0}"#, Some(b"42"), Ok(())),
        (&i, r#"{"v":4.2e1}"#, Some(b"42"), Ok(())),
        (&i, r#"{"v":-7}"#, Some(b"-7"), Ok(())),
        (&i, r#"{"v":0}"#, Some(b"-0"), Ok(())),
        (
            &i,
            r#"{"v":9007199254740993}"#,
            Some(b"9007199254740993"),
            Ok(()),
        ),
        (
            &i,
            r#"{"v":9007199254740993}"#,
            Some(b"9007199254740992"),
            Err(Differ),
        ),
        (&i, r#"{"v":42}"#, Some(b"42.5"), Err(Differ)),
        (&i, r#"{"v":42}"#, Some(b"-42"), Err(Differ)),
        (&i, r#"{"v":42}"#, Some(b"+42"), Err(Differ)),
        (&i, r#"{"v":42}"#, Some(b" 42"), Err(Differ)),
        (&i, r#"{"v":42}"#, Some(b"42."), Err(Differ)),
        // An exponent in the header compares as text.
        (&i, r#"{"v":42}"#, Some(b"4.2e1"), Err(Differ)),
        (&i, r#"{"v":4.2e1}"#, Some(b"4.2e1"), Ok(())),
        (
            &i,
            r#"{"v":1e999999999999999999999}"#,
            Some(b"1"),
            Err(Differ),
        ),
        (&i, r#"{"v":"42"}"#, Some(b"42"), Ok(())),
        // A number under a string type compares as written.
        (&s, r#"{"v":42}"#, Some(b"42"), Ok(())),
        (&s, r#"{"v":42}"#, Some(b"42.0"), Err(Differ)),
        // Booleans.
        (&b, r#"{"v":true}"#, Some(b"true"), Ok(())),
        (&b, r#"{"v":false}"#, Some(b"false"), Ok(())),
        (&b, r#"{"v":true}"#, Some(b"True"), Err(Differ)),
        (&b, r#"{"v":true}"#, Some(b"1"), Err(Differ)),
        (&b, r#"{"v":false}"#, None, Err(Missing)),
        // Nested paths.
        (&nested, r#"{"o":{"v":"x"}}"#, Some(b"x"), Ok(())),
        (&nested, r#"{"o":{"v":"x"}}"#, None, Err(Missing)),
        (&nested, r#"{"o":"v"}"#, None, Ok(())),
        (&nested, r#"{"o":null}"#, Some(b"x"), Err(Unexpected)),
        (&nested, r#"{"v":"x"}"#, Some(b"x"), Err(Unexpected)),
        // Ambiguous or broken arguments.
        (&s, r#"{"v":"a","v":"b"}"#, Some(b"a"), Err(Arguments)),
        (&s, r#"{"v":"a","\u0076":"b"}"#, Some(b"b"), Err(Arguments)),
        (
            &nested,
            r#"{"o":{"v":"a"},"o":{"v":"b"}}"#,
            Some(b"a"),
            Err(Arguments),
        ),
        (&s, r#"{"\udc00":1,"v":"a"}"#, Some(b"a"), Err(Arguments)),
        (&s, r#"{"v":"a"} {}"#, Some(b"a"), Err(Arguments)),
        (&s, r#"{"v":"a""#, Some(b"a"), Err(Arguments)),
        (&s, "", None, Err(Arguments)),
    ];
    for (param, arguments, header, expected) in cases {
        assert_eq!(
            check(param, arguments.as_bytes(), *header),
            *expected,
            "{:?} {arguments} {:?}",
            param.ty,
            header.map(String::from_utf8_lossy)
        );
    }
    // Duplicates off the path do not matter.
    assert_eq!(check(&s, br#"{"w":1,"w":2,"v":"a"}"#, Some(b"a")), Ok(()));
}

#[test]
fn decimal_normalises() {
    let same = ["42", "42.0", "042", "4.2e1", "4.2E+1", "420e-1", "0.42e2"];
    for text in same {
        assert_eq!(decimal(text), Some((false, b"42".to_vec(), 0)), "{text}");
    }
    assert_eq!(decimal("0"), decimal("-0.000e5"));
    assert_eq!(decimal("-1"), Some((true, b"1".to_vec(), 0)));
    assert_eq!(decimal("1200"), Some((false, b"12".to_vec(), 2)));
    assert_eq!(decimal("0.05"), Some((false, b"5".to_vec(), -2)));
    for bad in [
        "",
        "-",
        ".5",
        "1e",
        "1e+",
        "a",
        "1e1234567890123456789",
        "1.2.3",
    ] {
        assert_eq!(decimal(bad), None, "{bad}");
    }
}

#[test]
fn list_tools_table() {
    let result = br#"{"tools":[
        {"name":"a","inputSchema":{"type":"object","properties":{"r":{"type":"string","x-mcp-header":"R"}}}},
        {"name":"b\u00e9"},
        {"inputSchema":{}},
        {"name":7,"inputSchema":{}},
        "junk",
        {"name":"c","description":"x","inputSchema":true}
      ],"nextCursor":"n","ttlMs":0,"cacheScope":"public","resultType":"complete"}"#;
    let tools = list_tools(result).unwrap();
    let summary: Vec<(&str, Option<&[u8]>)> = tools
        .iter()
        .map(|t| (t.name.as_ref(), t.input_schema))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "a",
                Some(&br#"{"type":"object","properties":{"r":{"type":"string","x-mcp-header":"R"}}}"#[..])
            ),
            ("bé", None),
            ("c", Some(&b"true"[..])),
        ]
    );
    assert_eq!(
        annotations(tools[0].input_schema.unwrap()).unwrap().len(),
        1
    );
    assert_eq!(list_tools(b"{}").unwrap(), []);
    assert_eq!(list_tools(br#"{"tools":[]}"#).unwrap(), []);
    for (bad, error) in [
        (&br#"{"tools":{}}"#[..], Invalid::Json),
        (br#"{"tools":[]"#, Invalid::Json),
        (b"", Invalid::Json),
        (br#"{"tools":[],"tools":[]}"#, Invalid::DuplicateKey),
        (
            br#"{"tools":[{"name":"a","name":"b"}]}"#,
            Invalid::DuplicateKey,
        ),
        (
            br#"{"tools":[{"name":"a","inputSchema":{},"inputSchema":{}}]}"#,
            Invalid::DuplicateKey,
        ),
    ] {
        assert_eq!(
            list_tools(bad),
            Err(error),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}
