//! JSON text as Go's `encoding/json.Marshal` writes it for decoded JSON (`interface{}` values):
//! object keys sorted, `<`, `>`, `&`, U+2028 and U+2029 escaped, `\b` and `\f` short (Go
//! 1.22+), other control characters as `\u00XX`, numbers as `float64`
//! prints them. Triggers bindings and `marshalJSON` hand out this text, and kustomize hashes
//! generated ConfigMaps/Secrets over it, so both match upstream's.

use std::fmt::Write;

use serde_json::Value;

/// `json.Marshal(v)` of a value decoded from JSON.
pub fn marshal(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v);
    out
}

/// A string as a JSON string literal, Go-escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_str(&mut out, s);
    out
}

fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else {
                out.push_str(&format_float(n.as_f64().unwrap_or(0.0)));
            }
        }
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, k);
                out.push(':');
                write_value(out, &m[k]);
            }
            out.push('}');
        }
    }
}

/// `strconv.FormatFloat(f, 'f' or 'e', -1, 64)` as `encoding/json` picks between them.
pub fn format_float(f: f64) -> String {
    if !f.is_finite() {
        return "null".to_owned();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Rust: "1e-7" / "1.5e21"; Go: "1e-07" / "1.5e+21".
        let s = format!("{f:e}");
        if let Some((mant, exp)) = s.split_once('e') {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            let digits = if digits.len() < 2 {
                format!("0{digits}")
            } else {
                digits.to_owned()
            };
            return format!("{mant}e{sign}{digits}");
        }
        return s;
    }
    if f.fract() == 0.0 && abs < 1e21 {
        return format!("{f:.0}");
    }
    format!("{f}")
}

fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Go 1.22+ (`encoding/json` encodeState.string): `\b` and `\f` get their short
            // escapes, as kubectl v1.32 and Helm v4 are built with
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Go: json.Marshal(map[string]interface{}{"b":1.0,"a":"<x>"}) == {"a":"\u003cx\u003e","b":1}
    #[test]
    fn go_shapes() {
        assert_eq!(
            marshal(&json!({"b": 1.0, "a": "<x>\n", "c": [true, null, 1.5]})),
            r#"{"a":"\u003cx\u003e\n","b":1,"c":[true,null,1.5]}"#
        );
        assert_eq!(format_float(1e-7), "1e-07");
        assert_eq!(format_float(1.5e21), "1.5e+21");
        assert_eq!(format_float(100.0), "100");
        assert_eq!(format_float(0.25), "0.25");
    }
}
