use super::*;

/// What the general parser makes of a line: its members as column text.
fn general(line: &str) -> Option<Vec<(String, Option<String>)>> {
    let members = raw_members(line).ok()?;
    members
        .into_iter()
        .map(|(k, v)| Some((k.into_owned(), raw_text(v.get()).ok()?.map(Cow::into_owned))))
        .collect()
}

/// What the one-pass reader makes of it, if it vouches for it.
fn fast(line: &str) -> Option<Vec<(String, Option<String>)>> {
    let mut out = Vec::new();
    members(line, &mut out).then(|| {
        out.into_iter()
            .map(|(k, v)| (k.into_owned(), v.map(Cow::into_owned)))
            .collect()
    })
}

#[test]
fn flat_rows_are_read_as_the_general_parser_reads_them() {
    for line in [
        r#"{}"#,
        r#" { } "#,
        r#"{"a":1,"b":"x","c":null,"d":true,"e":false,"f":-0.5e+3,"g":"2024-01-01T00:00:00Z"}"#,
        r#"{"props": {"z": [1, 2, {"q": "}"}], "a": 0}, "list": [ ], "s": "[{"}"#,
        r#"{"k\u00e9y": "a\"b\\c\/d\n\u263a", "t": "tab\there"}"#,
        r#"{"a": 1, "a": 2}"#,
        r#"{"big": 123456789012345678901234567890, "e": 1E9, "z": 0}"#,
        "{\"a\":\t\"x\"\r\n}",
    ] {
        assert_eq!(fast(line), general(line), "{line}");
        assert!(
            fast(line).is_some(),
            "the one-pass reader should take {line}"
        );
    }
}

#[test]
fn lines_it_cannot_vouch_for_go_to_the_general_parser() {
    for line in [
        "",
        "[]",
        "1",
        r#"{"a": 1"#,
        r#"{"a": 1,}"#,
        r#"{"a" 1}"#,
        r#"{a: 1}"#,
        r#"{"a": 01}"#,
        r#"{"a": 1.}"#,
        r#"{"a": .5}"#,
        r#"{"a": -}"#,
        r#"{"a": 1e}"#,
        r#"{"a": tru}"#,
        r#"{"a": nul}"#,
        r#"{"a": NaN}"#,
        r#"{"a": "x\q"}"#,
        r#"{"a": "\u12"}"#,
        "{\"a\": \"tab\there\"}",
        r#"{"a": [1, 2}"#,
        r#"{"a": {"b": 1]}"#,
        r#"{"a": [1,]}"#,
        r#"{"a": 1} x"#,
        r#"{"a": 1}{"b": 2}"#,
        r#"{"a": "unterminated}"#,
    ] {
        assert_eq!(fast(line), None, "{line:?}");
    }
    // Deep nesting is left to the general parser and its limit.
    let deep = format!(r#"{{"a": {}{}}}"#, "[".repeat(100), "]".repeat(100));
    assert_eq!(fast(&deep), None);
    assert!(general(&deep).is_some());
}

const KEYS: &[&str] = &["\"a\"", "\"b\"", "\"k\\u00e9y\"", "\"\"", "\"a\\\"b\""];

const VALUES: &[&str] = &[
    "1",
    "-0",
    "12.5",
    "-1.5e-3",
    "1E9",
    "123456789012345678901234567890",
    "true",
    "false",
    "null",
    "\"x\"",
    "\"\"",
    "\"a\\\"b\\\\c\\/d\\n\\u263a\"",
    "\"é\"",
    "\"\\ud83d\\ude00\"",
    "\"\\ud800\"",
    "{}",
    "[]",
    "{\"z\": [1, {\"q\": \"}]\"}], \"n\": null}",
    "[1, \"[\", [2]]",
];

/// Bytes a mutation may put into a line.
const NOISE: &[u8] = b"{}[],:\" \\\t\n0123456789.-+eEtrufalsn\x01";

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 20000,
        failure_persistence: None,
        ..Default::default()
    })]

    /// Whatever the line (a row, then perhaps a byte replaced, inserted or
    /// removed), the one-pass reader either declines it or reads exactly
    /// what the general parser reads: it never accepts a line the general
    /// parser refuses, nor reads a value differently.
    #[test]
    fn issue15_the_one_pass_reader_agrees_with_the_general_parser(
        members in proptest::collection::vec((0..KEYS.len(), 0..VALUES.len(), 0usize..3), 0..6),
        mutation in proptest::option::of((0usize..200, 0usize..3, 0..NOISE.len())),
    ) {
        let spaces = ["", " ", " \t"];
        let inner: Vec<String> = members
            .iter()
            .map(|(k, v, s)| format!("{}{}:{}{}", spaces[*s], KEYS[*k], spaces[*s], VALUES[*v]))
            .collect();
        let mut line = format!("{{{}}}", inner.join(",")).into_bytes();
        if let Some((at, kind, noise)) = mutation {
            let at = at % (line.len() + 1);
            match kind {
                0 if at < line.len() => line[at] = NOISE[noise],
                1 => line.insert(at, NOISE[noise]),
                _ if at < line.len() => {
                    line.remove(at);
                }
                _ => {}
            }
        }
        // Lines are text: the body was checked to be UTF-8 before.
        if let Ok(line) = String::from_utf8(line) {
            let read = fast(&line);
            if mutation.is_none() {
                proptest::prop_assert!(read.is_some() || line.contains("ud800"), "{}", line);
            }
            if let Some(read) = read {
                proptest::prop_assert_eq!(Some(read), general(&line), "{}", line);
            }
        }
    }
}

#[test]
fn a_lone_surrogate_is_an_error_not_a_null() {
    let err = raw_text(r#""a\ud800b""#).unwrap_err();
    assert!(
        err.starts_with(r#"invalid JSON string "a\ud800b": "#),
        "{err}"
    );
    assert!(!err.contains(" at line "), "{err}");
    assert_eq!(
        raw_text(r#""\ud83d\ude00""#).unwrap().as_deref(),
        Some("\u{1F600}")
    );
    assert_eq!(raw_text("null").unwrap(), None);
    // The one-pass reader leaves such a line to the general one.
    let mut out = Vec::new();
    assert!(!members(r#"{"s": "\ud800"}"#, &mut out));
}
