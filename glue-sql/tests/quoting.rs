//! Property tests of quoting against a model of Spark's lexer (the Spark round trip itself runs in
//! `xtask/oracle/quoting_roundtrip.py`): a rendered literal read back Spark's way, and a rendered relation name parsed
//! back, give the original.

use glue_sql::{Ident, RelationName, string_literal};
use proptest::prelude::*;

/// Spark's variable-substitution opener.
const SUBST: &str = "${";

fn holds_subst(parts: &[&String]) -> bool {
    parts.iter().any(|p| p.contains(SUBST))
}

/// How Spark reads a single-quoted literal: `${…}` variable substitution with no variables defined (it turns `${x}`
/// into the empty string), then Spark's unescaping ([`glue_sql::unescape`], itself checked against Spark by the
/// semantics corpus of xtask/oracle/semantics.py).
fn spark_reads(literal: &str) -> String {
    assert!(
        literal.starts_with('\'') && literal.ends_with('\'') && literal.len() >= 2,
        "{literal}"
    );
    let body = substitute(&literal[1..literal.len() - 1]);
    let mut escaped = false;
    for c in body.chars() {
        assert!(escaped || c != '\'', "unescaped quote inside {literal}");
        escaped = !escaped && c == '\\';
    }
    glue_sql::unescape(&body, '\'')
}

/// Spark's variable substitution: `${name}` (no `$`, `}` or space inside) becomes the empty string.
fn substitute(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        match after.find(['}', '$', ' ']) {
            Some(end) if end > 0 && after.as_bytes()[end] == b'}' => {
                out.push_str(&rest[..start]);
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str(&rest[..start + 2]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn nasty() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("'".to_string()),
            Just("\\".to_string()),
            Just("`".to_string()),
            Just("\"".to_string()),
            Just("${".to_string()),
            Just("}".to_string()),
            Just("$".to_string()),
            Just("\n".to_string()),
            Just("\\u0041".to_string()),
            Just("\\012".to_string()),
            any::<char>().prop_map(|c| c.to_string()),
            "[a-z0-9 ._%]{0,4}",
        ],
        0..12,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn literals_read_back_unchanged(s in nasty()) {
        prop_assert_eq!(spark_reads(&string_literal(&s)), s);
    }

    #[test]
    fn relation_names_parse_back(a in nasty(), b in nasty(), c in nasty()) {
        if let Ok(r) = RelationName::in_catalog(Some(a.as_str()), b.as_str(), c.as_str()) {
            prop_assert_eq!(RelationName::parse(&r.to_string()).unwrap(), r);
        } else {
            // Refused only when a part is empty (also once the catalog prefix is stripped) or holds `${`.
            let stripped_empty = b.len() == a.len() + 1 && b.to_lowercase() == a.to_lowercase() + ".";
            let refused = a.is_empty() || b.is_empty() || c.is_empty() || stripped_empty || holds_subst(&[&a, &b, &c]);
            prop_assert!(refused);
        }
    }

    #[test]
    fn identifiers_never_hold_substitution(s in nasty()) {
        match Ident::new(s.clone()) {
            Ok(i) => prop_assert!(!i.quoted().contains(SUBST)),
            Err(_) => prop_assert!(s.is_empty() || s.contains(SUBST)),
        }
    }
}
