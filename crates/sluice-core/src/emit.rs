//! A small YAML emitter for machine output (`-o yaml`): block style, two-space indents,
//! sequences at their parent key's indent (as kubectl prints), strings quoted whenever the
//! plain form would read back as something else under the loader's (go-yaml v2) rules.
//!
//! Invariant: `load_documents(to_string(v))` gives back `v` for every JSON value `v`
//! (property-tested).

use std::fmt::Write;

use serde_json::Value;

use crate::yaml::resolve_plain;

/// Renders one value as a YAML document (no `---`), ending with a newline.
pub fn to_string(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => write_map(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => write_seq(&mut out, a, 0),
        other => {
            write_scalar(&mut out, other, 0);
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn write_map(out: &mut String, m: &serde_json::Map<String, Value>, ind: usize) {
    for (k, v) in m {
        indent(out, ind);
        write_str(out, k, ind, true);
        out.push(':');
        write_child(out, v, ind, true);
    }
}

fn write_seq(out: &mut String, a: &[Value], ind: usize) {
    for v in a {
        indent(out, ind);
        out.push('-');
        match v {
            Value::Object(m) if !m.is_empty() => {
                // first entry on the dash line, the rest aligned under it
                out.push(' ');
                let mut first = true;
                for (k, v) in m {
                    if !first {
                        indent(out, ind + 2);
                    }
                    first = false;
                    write_str(out, k, ind + 2, true);
                    out.push(':');
                    write_child(out, v, ind + 2, true);
                }
            }
            other => write_child(out, other, ind, false),
        }
    }
}

/// Writes what follows `key:` or `-`: a nested block on the next lines, or ` scalar\n`.
fn write_child(out: &mut String, v: &Value, ind: usize, in_map: bool) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            write_map(out, m, ind + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            write_seq(out, a, if in_map { ind } else { ind + 2 });
        }
        other => {
            out.push(' ');
            write_scalar(out, other, ind + 2);
            out.push('\n');
        }
    }
}

fn write_scalar(out: &mut String, v: &Value, ind: usize) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_str(out, s, ind, false),
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
    }
}

fn needs_quotes(s: &str) -> bool {
    if s.is_empty() || s.trim() != s {
        return true;
    }
    if !matches!(resolve_plain(s), Value::String(_)) {
        return true;
    }
    let first = s.as_bytes()[0];
    if b"-?:,[]{}#&*!|>'\"%@`<=".contains(&first) {
        // `-x` and `?x` are plain-safe in YAML, but quoting is harmless and simpler.
        return true;
    }
    // `...` opens a document end marker at the start of a line (go-yaml's emitter quotes
    // any scalar starting with `---` or `...`)
    if s == "<<" || s.starts_with("...") {
        return true;
    }
    s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.chars()
            .any(|c| c.is_control() || c == '\u{feff}' || c == '\u{2028}' || c == '\u{2029}')
}

fn write_str(out: &mut String, s: &str, ind: usize, is_key: bool) {
    if !is_key
        && s.contains('\n')
        && !s.starts_with([' ', '\n'])
        && !s.contains(" \n")
        && !s.ends_with([' ', '\t'])
        && s.chars().all(|c| {
            c == '\n' || !(c.is_control() || c == '\u{feff}' || c == '\u{2028}' || c == '\u{2029}')
        })
    {
        let trailing = s.len() - s.trim_end_matches('\n').len();
        let chomp = match trailing {
            0 => "-",
            1 => "",
            _ => "+",
        };
        out.push('|');
        out.push_str(chomp);
        out.push('\n');
        let body = s.strip_suffix('\n').unwrap_or(s);
        for line in body.split('\n') {
            if !line.is_empty() {
                indent(out, ind.max(2));
                out.push_str(line);
            }
            out.push('\n');
        }
        // `write_child` adds the newline after a scalar; a block already ended its last line.
        out.pop();
        return;
    }
    if needs_quotes(s) {
        // A JSON string is a valid YAML double-quoted scalar.
        let _ = write!(out, "{}", Value::String(s.to_owned()));
    } else {
        out.push_str(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{Limits, load_documents};
    use proptest::prelude::*;
    use serde_json::json;

    fn round_trip(v: &Value) -> Value {
        let text = to_string(v);
        let docs =
            load_documents(&text, &Limits::default()).unwrap_or_else(|e| panic!("{e}\n{text}"));
        docs[0].value.clone()
    }

    /// Found by `emitted_yaml_reads_back`: a key starting with `...` read back as a
    /// document end marker.
    #[test]
    fn document_markers_are_quoted() {
        for k in ["... :.", "...", "...x", "---", "--- a"] {
            let v = json!({ k: k, "l": [k] });
            assert_eq!(round_trip(&v), v, "{}", to_string(&v));
        }
    }

    #[test]
    fn prints_like_kubectl() {
        let v =
            json!({"a": {"b": [1, {"c": "yes", "d": ["x"]}], "e": {}}, "s": "l1\nl2\n", "n": null});
        let text = to_string(&v);
        assert_eq!(
            text,
            "a:\n  b:\n  - 1\n  - c: \"yes\"\n    d:\n    - x\n  e: {}\ns: |\n  l1\n  l2\n\"n\": null\n"
        );
        assert_eq!(round_trip(&v), v);
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|i| json!(i)),
            "\\PC{0,12}".prop_map(Value::String),
            "[ a-z:#\\-\\n'\"]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(("[a-z0-9 :.\\-]{1,6}", inner), 0..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn emitted_yaml_reads_back(v in arb_json()) {
            prop_assert_eq!(round_trip(&v), v);
        }
    }
}
