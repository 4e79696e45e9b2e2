#![allow(clippy::arithmetic_side_effects)]

use proptest::prelude::*;
use serde_json::Value;

use super::{canonical, CanonicalError};

fn canon(input: &str) -> Result<String, CanonicalError> {
    canonical(input.as_bytes()).map(|out| String::from_utf8(out).unwrap())
}

#[test]
fn accept_table() {
    for (input, expected) in [
        ("0", "0"),
        (" \t\r\n-0 ", "-0"),
        ("1.0", "1.0"),
        ("1E+2", "1E+2"),
        ("-12.5e-3", "-12.5e-3"),
        ("true", "true"),
        ("false", "false"),
        ("null", "null"),
        (r#""""#, r#""""#),
        ("[]", "[]"),
        ("[ ]", "[]"),
        ("{}", "{}"),
        ("{ }", "{}"),
        ("[1, [2, [3, []]], {}]", "[1,[2,[3,[]]],{}]"),
        (r#"{"b":1,"a":2}"#, r#"{"a":2,"b":1}"#),
        (
            r#"{ "a" : { "d" : 1 , "c" : [ { "f":0,"e":0 } ] } }"#,
            r#"{"a":{"c":[{"e":0,"f":0}],"d":1}}"#,
        ),
        // Keys sort by unescaped bytes: "\u0062" is "b".
        (r#"{"\u0062":1,"a":2,"c":3}"#, r#"{"a":2,"b":1,"c":3}"#),
        // Byte order: uppercase before lowercase, shorter prefix first,
        // and code point order beyond ASCII ("é" U+E9 < "😀" U+1F600).
        (
            r#"{"b":0,"B":0,"ab":0,"a":0}"#,
            r#"{"B":0,"a":0,"ab":0,"b":0}"#,
        ),
        (r#"{"😀":0,"é":0,"z":0}"#, r#"{"z":0,"é":0,"😀":0}"#),
        // Minimal re-escaping.
        (r#""\/\u0041\u00e9\ud83d\ude00""#, "\"/Aé😀\""),
        (
            r#""\"\\\b\f\n\r\t\u0001\u001f\u007f""#,
            "\"\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\u{7f}\"",
        ),
        (r#""\u000A""#, r#""\n""#),
        (r#"{"\n":"x"}"#, r#"{"\n":"x"}"#),
        (r#"{"a\u0000":1,"a":2}"#, r#"{"a":2,"a\u0000":1}"#),
        // Unescaped strings are kept as written (already minimal).
        ("\"a/b é\"", "\"a/b é\""),
        // Number text is never touched.
        ("[100, 1e2, 1E2, 100.0, 0.1e3]", "[100,1e2,1E2,100.0,0.1e3]"),
        (
            "123456789012345678901234567890",
            "123456789012345678901234567890",
        ),
    ] {
        assert_eq!(canon(input).as_deref(), Ok(expected), "{input}");
        // Idempotent, and serde_json reads the same value from both.
        assert_eq!(canon(expected).as_deref(), Ok(expected), "{expected}");
        let before: Value = serde_json::from_str(input).unwrap();
        let after: Value = serde_json::from_str(expected).unwrap();
        assert_eq!(before, after, "{input}");
    }
}

#[test]
fn reject_table() {
    for (input, error) in [
        ("", CanonicalError::Json),
        (" ", CanonicalError::Json),
        ("{", CanonicalError::Json),
        ("[1,]", CanonicalError::Json),
        ("[1 2]", CanonicalError::Json),
        (r#"{"a":1,}"#, CanonicalError::Json),
        (r#"{"a" 1}"#, CanonicalError::Json),
        (r#"{a:1}"#, CanonicalError::Json),
        ("{} {}", CanonicalError::Json),
        ("1 2", CanonicalError::Json),
        ("01", CanonicalError::Json),
        ("1.", CanonicalError::Json),
        ("+1", CanonicalError::Json),
        ("NaN", CanonicalError::Json),
        ("\"\u{1}\"", CanonicalError::Json),
        (r#""\x""#, CanonicalError::Json),
        ("\u{feff}{}", CanonicalError::Json),
        ("[}", CanonicalError::Json),
        ("{]", CanonicalError::Json),
        (r#"{"a":1,"a":1}"#, CanonicalError::DuplicateKey),
        (r#"{"a":1,"\u0061":2}"#, CanonicalError::DuplicateKey),
        (
            r#"[{"x":{"b":0,"a":0,"b":1}}]"#,
            CanonicalError::DuplicateKey,
        ),
        (r#""\ud800""#, CanonicalError::LoneSurrogate),
        (r#""\udc00""#, CanonicalError::LoneSurrogate),
        (r#""\ud800\u0041""#, CanonicalError::LoneSurrogate),
        (r#""\ud800\ud800""#, CanonicalError::LoneSurrogate),
        (r#""\ude00\ud83d""#, CanonicalError::LoneSurrogate),
        (r#"{"\udfff":0}"#, CanonicalError::LoneSurrogate),
    ] {
        assert_eq!(canon(input), Err(error), "{input}");
    }
    assert_eq!(canonical(b"\"\xff\""), Err(CanonicalError::Json));
    // A later syntax error is still an error after a duplicate key.
    assert!(canonical(br#"{"a":1,"a":1"#).is_err());
}

#[test]
fn nesting_is_bounded() {
    let ok = format!("{}{}", "[".repeat(128), "]".repeat(128));
    assert_eq!(canon(&ok).unwrap(), ok);
    let deep = format!("{}{}", "[".repeat(129), "]".repeat(129));
    assert_eq!(canon(&deep), Err(CanonicalError::Json));
    let objects = format!("{}1{}", r#"{"a":"#.repeat(129), "}".repeat(129));
    assert_eq!(canon(&objects), Err(CanonicalError::Json));
    // Deep but unterminated input fails without recursion.
    assert_eq!(canon(&"[".repeat(100_000)), Err(CanonicalError::Json));
}

/// JSON values with integer numbers (so that value equality is text
/// equality of numbers) and a small key/string alphabet (so that random
/// pairs are often equal).
fn value() -> impl Strategy<Value = Value> {
    let text = prop::sample::select(vec![
        "", "a", "b", "é", "😀", "\"", "\\", "\n", "\u{1}", "a b",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3_i64..3).prop_map(Value::from),
        text.clone().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(text.clone().prop_map(String::from), inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Writes `v` in a deliberately different spelling: keys in reverse order,
/// whitespace everywhere, every string character as a `\u` escape (surrogate
/// pairs beyond the BMP).
fn respell(v: &Value, out: &mut String) {
    match v {
        Value::Array(items) => {
            out.push_str("[ ");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(" ,\n");
                }
                respell(item, out);
            }
            out.push_str(" ]");
        }
        Value::Object(map) => {
            out.push_str("{\t");
            for (i, (key, item)) in map.iter().rev().enumerate() {
                if i > 0 {
                    out.push_str(" , ");
                }
                respell(&Value::String(key.clone()), out);
                out.push_str(" :\r\n ");
                respell(item, out);
            }
            out.push_str(" }");
        }
        Value::String(s) => {
            out.push('"');
            for unit in s.encode_utf16() {
                out.push_str(&format!("\\u{unit:04X}"));
            }
            out.push('"');
        }
        other => out.push_str(&other.to_string()),
    }
}

proptest! {
    #[test]
    fn equal_canonical_iff_equal_value(a in value(), b in value()) {
        let mut a_text = String::new();
        respell(&a, &mut a_text);
        let b_text = serde_json::to_string(&b).unwrap();
        let ca = canonical(a_text.as_bytes()).unwrap();
        let cb = canonical(b_text.as_bytes()).unwrap();
        prop_assert_eq!(ca == cb, a == b, "{} vs {}", a_text, b_text);
        // serde_json's compact output (sorted keys, minimal escapes) is
        // already canonical, and canonicalising preserves the value.
        prop_assert_eq!(&cb, b_text.as_bytes());
        let back: Value = serde_json::from_slice(&ca).unwrap();
        prop_assert_eq!(&back, &a);
        prop_assert_eq!(canonical(&ca).unwrap(), ca);
    }
}
