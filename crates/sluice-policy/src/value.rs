//! Matching one resource value against one pattern value (kyverno/kyverno
//! `pkg/engine/pattern/pattern.go`, `pkg/engine/operator/operator.go`): wildcards, `!`, `>`,
//! `<`, `>=`, `<=`, `|` (or), `&` (and), ranges `a-b` and `a!-b`, quantities, durations,
//! and `null` for empty values.

use std::sync::LazyLock;

use serde_json::Value;

use crate::quantity::{cmp_f64, parse_duration, parse_quantity};
use crate::wildcard;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equal,
    NotEqual,
    More,
    Less,
    MoreEqual,
    LessEqual,
    InRange,
    NotInRange,
}

static NOT_IN_RANGE: LazyLock<Option<regex::Regex>> =
    LazyLock::new(|| regex::Regex::new(r"^(\d+(\.\d+)?)([^-]*)!-(\d+(\.\d+)?)([^-]*)$").ok());
static IN_RANGE: LazyLock<Option<regex::Regex>> =
    LazyLock::new(|| regex::Regex::new(r"^(\d+(\.\d+)?)([^-]*)-(\d+(\.\d+)?)([^-]*)$").ok());

/// `GetOperatorFromStringPattern`.
fn operator(p: &str) -> (Op, &str) {
    if p.len() < 2 {
        return (Op::Equal, p);
    }
    for (prefix, op) in [
        (">=", Op::MoreEqual),
        ("<=", Op::LessEqual),
        (">", Op::More),
        ("<", Op::Less),
        ("!", Op::NotEqual),
    ] {
        if let Some(rest) = p.strip_prefix(prefix) {
            return (op, rest.trim());
        }
    }
    if NOT_IN_RANGE.as_ref().is_some_and(|r| r.is_match(p)) {
        return (Op::NotInRange, p);
    }
    if IN_RANGE.as_ref().is_some_and(|r| r.is_match(p)) {
        return (Op::InRange, p);
    }
    (Op::Equal, p)
}

/// `pattern.Validate`: does `value` satisfy the scalar-or-map `pattern`?
pub fn matches(value: &Value, pattern: &Value) -> bool {
    match pattern {
        Value::Bool(b) => value.as_bool() == Some(*b),
        Value::Number(n) => {
            let p = n.as_f64().unwrap_or(f64::NAN);
            match value {
                Value::Number(v) => {
                    if let (Some(a), Some(b)) = (v.as_i64(), n.as_i64()) {
                        a == b
                    } else {
                        v.as_f64() == Some(p)
                    }
                }
                Value::String(s) => {
                    if n.is_i64() || n.is_u64() {
                        s.parse::<i64>().ok().map(|x| x as f64) == Some(p)
                    } else {
                        s.parse::<f64>().ok() == Some(p)
                    }
                }
                _ => false,
            }
        }
        Value::Null => match value {
            Value::Number(v) => v.as_f64() == Some(0.0),
            Value::String(s) => s.is_empty(),
            Value::Bool(b) => !b,
            Value::Null => true,
            _ => false,
        },
        Value::Object(_) => value.is_object(),
        Value::Array(_) => false,
        Value::String(p) => string_patterns(value, p),
    }
}

fn string_patterns(value: &Value, pattern: &str) -> bool {
    if value.as_str() == Some(pattern) {
        return true;
    }
    pattern.split('|').any(|alt| {
        alt.trim()
            .split('&')
            .all(|c| string_pattern(value, c.trim()))
    })
}

fn string_pattern(value: &Value, pattern: &str) -> bool {
    let (op, rest) = operator(pattern);
    match op {
        Op::InRange => {
            let mut it = pattern.splitn(2, '-');
            let (a, b) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
            string_pattern(value, &format!(">= {a}")) && string_pattern(value, &format!("<= {b}"))
        }
        Op::NotInRange => {
            let mut it = pattern.splitn(2, "!-");
            let (a, b) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
            string_pattern(value, &format!("< {a}")) || string_pattern(value, &format!("> {b}"))
        }
        _ => {
            compare_duration(value, rest, op)
                || compare_quantity(value, rest, op)
                || compare_string(value, rest, op)
        }
    }
}

fn apply(o: std::cmp::Ordering, op: Op) -> bool {
    match op {
        Op::Equal => o.is_eq(),
        Op::NotEqual => o.is_ne(),
        Op::More => o.is_gt(),
        Op::Less => o.is_lt(),
        Op::MoreEqual => o.is_ge(),
        Op::LessEqual => o.is_le(),
        Op::InRange | Op::NotInRange => false,
    }
}

fn number_string(value: &Value) -> Option<String> {
    match value {
        Value::Null => Some("0".to_owned()),
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn compare_duration(value: &Value, pattern: &str, op: Op) -> bool {
    let Some(p) = parse_duration(pattern) else {
        return false;
    };
    let Some(v) = value.as_str().and_then(parse_duration) else {
        return false;
    };
    apply(cmp_f64(v, p), op)
}

fn compare_quantity(value: &Value, pattern: &str, op: Op) -> bool {
    let Some(p) = parse_quantity(pattern) else {
        return false;
    };
    let Some(v) = number_string(value).and_then(|s| parse_quantity(&s)) else {
        return false;
    };
    apply(cmp_f64(v, p), op)
}

fn compare_string(value: &Value, pattern: &str, op: Op) -> bool {
    if !matches!(op, Op::Equal | Op::NotEqual) {
        return false;
    }
    let s = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return false,
    };
    let m = wildcard::matches(pattern, &s);
    if op == Op::NotEqual { !m } else { m }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // kyverno/kyverno pkg/engine/pattern/pattern_test.go cases.
    #[test]
    fn patterns() {
        assert!(matches(&json!("harbor.x/app"), &json!("harbor.x/*")));
        assert!(!matches(&json!("docker.io/app"), &json!("harbor.x/*")));
        assert!(matches(&json!(true), &json!(true)));
        assert!(!matches(&json!("true"), &json!(true)));
        assert!(matches(&json!(7), &json!(">5")));
        assert!(!matches(&json!(3), &json!(">5")));
        assert!(matches(&json!("2Gi"), &json!(">1Gi")));
        assert!(matches(&json!("10m"), &json!("<1h")));
        assert!(matches(&json!(80), &json!("1-100")));
        assert!(!matches(&json!(80), &json!("1!-100")));
        assert!(matches(&json!(8080), &json!("1!-100")));
        assert!(matches(&json!("b"), &json!("a | b")));
        assert!(matches(&json!(15), &json!(">10 & <20")));
        assert!(!matches(&json!("latest"), &json!("!latest")));
        assert!(matches(&json!("1.0"), &json!("!latest")));
        assert!(matches(&json!(null), &json!(null)));
        assert!(matches(&json!(""), &json!(null)));
        assert!(!matches(&json!("x"), &json!(null)));
        assert!(matches(&json!("a"), &json!("?*")));
        assert!(!matches(&json!(""), &json!("?*")));
        assert!(!matches(&json!(null), &json!("?*")));
        assert!(matches(&json!(1000), &json!(1000)));
        assert!(matches(&json!("1000"), &json!(1000)));
        // a missing value counts as 0 for quantity comparisons
        assert!(matches(&json!(null), &json!("<5")));
    }
}
