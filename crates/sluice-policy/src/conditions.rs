//! Condition operators of preconditions and deny rules (kyverno/kyverno
//! `pkg/engine/variables/operator/*.go`, `pkg/engine/variables/evaluate.go`).

use serde_json::Value;
use sluice_apis::kyverno::rule::Condition;

use crate::jmespath::Scope;
use crate::quantity::{cmp_f64, parse_duration, parse_quantity};
use crate::vars::{Resolve, VarError, substitute};
use crate::wildcard;

/// A condition block: `{any, all}` or the deprecated plain list (all must hold).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Conditions {
    pub any: Option<Vec<Condition>>,
    pub all: Option<Vec<Condition>>,
}

impl Conditions {
    /// Reads `{any, all}` or a list. Malformed blocks are refused when policies load.
    pub fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Null => Ok(Conditions::default()),
            Value::Array(_) => {
                let all: Vec<Condition> =
                    serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
                Ok(Conditions {
                    any: None,
                    all: Some(all),
                })
            }
            Value::Object(m) => {
                let get = |k: &str| -> Result<Option<Vec<Condition>>, String> {
                    match m.get(k) {
                        None | Some(Value::Null) => Ok(None),
                        Some(x) => serde_json::from_value(x.clone())
                            .map(Some)
                            .map_err(|e| e.to_string()),
                    }
                };
                Ok(Conditions {
                    any: get("any")?,
                    all: get("all")?,
                })
            }
            _ => Err("expected a list of conditions or an object with any/all".to_owned()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.any.as_ref().is_none_or(Vec::is_empty) && self.all.as_ref().is_none_or(Vec::is_empty)
    }
}

/// The outcome of a condition block: whether it holds, and the message of the first
/// condition that decided it (Kyverno reports the failing condition's `message`).
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub holds: bool,
    pub message: String,
}

/// `EvaluateAnyAllConditions`: every `all` condition and at least one `any` condition.
pub fn evaluate(c: &Conditions, scope: &Scope<'_>, mode: Resolve) -> Result<Verdict, VarError> {
    let mut message = String::new();
    if let Some(any) = &c.any
        && !any.is_empty()
    {
        let mut one = false;
        for cond in any {
            if evaluate_one(cond, scope, mode)? {
                one = true;
                break;
            } else if message.is_empty() {
                message = cond.message.clone();
            }
        }
        if !one {
            return Ok(Verdict {
                holds: false,
                message,
            });
        }
    }
    if let Some(all) = &c.all {
        for cond in all {
            if !evaluate_one(cond, scope, mode)? {
                return Ok(Verdict {
                    holds: false,
                    message: cond.message.clone(),
                });
            }
        }
    }
    Ok(Verdict {
        holds: true,
        message: String::new(),
    })
}

/// Evaluates one condition after substituting its key and value.
pub fn evaluate_one(c: &Condition, scope: &Scope<'_>, mode: Resolve) -> Result<bool, VarError> {
    let key = substitute(c.key.as_ref().unwrap_or(&Value::Null), scope, mode)?;
    let value = substitute(c.value.as_ref().unwrap_or(&Value::Null), scope, mode)?;
    Ok(apply(&c.operator, &key, &value))
}

/// Applies `op` to a substituted key and value.
pub fn apply(op: &str, key: &Value, value: &Value) -> bool {
    match op {
        // anyKeyExistsInArray & co: a value that is neither a list nor a string is an
        // invalid type, and the condition is false whatever the operator
        "In" | "AnyIn" | "AllIn" | "NotIn" | "AnyNotIn" | "AllNotIn"
            if matches!(value, Value::Null | Value::Bool(_) | Value::Object(_)) =>
        {
            false
        }
        "Equal" | "Equals" => equals(key, value),
        "NotEqual" | "NotEquals" => !equals(key, value),
        "In" => in_all(key, value),
        "NotIn" => !in_all(key, value),
        "AnyIn" => any_in(key, value),
        "AllIn" => all_in(key, value),
        "AnyNotIn" => any_not_in(key, value),
        "AllNotIn" => all_not_in(key, value),
        "GreaterThan" => numeric(key, value).is_some_and(|o| o.is_gt()),
        "GreaterThanOrEquals" => numeric(key, value).is_some_and(|o| o.is_ge()),
        "LessThan" => numeric(key, value).is_some_and(|o| o.is_lt()),
        "LessThanOrEquals" => numeric(key, value).is_some_and(|o| o.is_le()),
        "DurationGreaterThan" => durations(key, value).is_some_and(|o| o.is_gt()),
        "DurationGreaterThanOrEquals" => durations(key, value).is_some_and(|o| o.is_ge()),
        "DurationLessThan" => durations(key, value).is_some_and(|o| o.is_lt()),
        "DurationLessThanOrEquals" => durations(key, value).is_some_and(|o| o.is_le()),
        _ => false,
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `EqualHandler`.
fn equals(key: &Value, value: &Value) -> bool {
    match key {
        Value::Bool(b) => value.as_bool() == Some(*b),
        Value::Number(k) => match value {
            Value::Number(v) => k.as_f64() == v.as_f64(),
            Value::String(s) => s.parse::<f64>().ok() == k.as_f64(),
            _ => false,
        },
        Value::String(k) => {
            let Some(v) = value.as_str() else {
                return value
                    .as_f64()
                    .is_some_and(|v| k.parse::<f64>().ok() == Some(v));
            };
            if let (Some(a), Some(b)) = (parse_duration(k), parse_duration(v)) {
                return cmp_f64(a, b).is_eq();
            }
            if let (Some(a), Some(b)) = (parse_quantity(k), parse_quantity(v)) {
                return cmp_f64(a, b).is_eq();
            }
            wildcard::matches(v, k)
        }
        Value::Null => value.is_null(),
        Value::Array(_) | Value::Object(_) => crate::jmespath_eq(key, value),
    }
}

/// The value side of the set operators: a list, a JSON list in a string, or one item.
fn value_set(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(a) => a.clone(),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Array(a)) => a,
            _ => vec![value.clone()],
        },
        other => vec![other.clone()],
    }
}

fn key_list(key: &Value) -> Vec<Value> {
    match key {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

/// Is one key element in the set (wildcards and `a-b` ranges in the set's strings)?
fn member(k: &Value, set: &[Value]) -> bool {
    set.iter().any(|v| match (k, v) {
        (Value::String(ks), Value::String(vs)) => {
            if wildcard::matches(vs, ks)
                || (wildcard::has_wildcard(ks) && wildcard::matches(ks, vs))
            {
                return true;
            }
            in_range(ks.parse().ok(), vs)
        }
        (Value::Number(kn), Value::String(vs)) => {
            vs.parse::<f64>().ok() == kn.as_f64() || in_range(kn.as_f64(), vs)
        }
        (Value::String(ks), Value::Number(vn)) => ks.parse::<f64>().ok() == vn.as_f64(),
        _ => crate::jmespath_eq(k, v),
    })
}

fn in_range(k: Option<f64>, range: &str) -> bool {
    let Some(k) = k else {
        return false;
    };
    if let Some((a, b)) = range.split_once("!-") {
        return match (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
            (Ok(a), Ok(b)) => k < a || k > b,
            _ => false,
        };
    }
    if let Some((a, b)) = range.split_once('-') {
        return match (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
            (Ok(a), Ok(b)) => k >= a && k <= b,
            _ => false,
        };
    }
    false
}

/// Deprecated `In`: a scalar key is in the set; a list key is wholly in the set.
fn in_all(key: &Value, value: &Value) -> bool {
    let set = value_set(value);
    key_list(key).iter().all(|k| member(k, &set))
}

fn any_in(key: &Value, value: &Value) -> bool {
    let set = value_set(value);
    key_list(key).iter().any(|k| member(k, &set))
}

fn all_in(key: &Value, value: &Value) -> bool {
    let set = value_set(value);
    let keys = key_list(key);
    !keys.is_empty() && keys.iter().all(|k| member(k, &set))
}

fn any_not_in(key: &Value, value: &Value) -> bool {
    let set = value_set(value);
    key_list(key).iter().any(|k| !member(k, &set))
}

fn all_not_in(key: &Value, value: &Value) -> bool {
    let set = value_set(value);
    key_list(key).iter().all(|k| !member(k, &set))
}

/// `NumericOperatorHandler`: numbers, then quantities, then durations, then versions.
fn numeric(key: &Value, value: &Value) -> Option<std::cmp::Ordering> {
    if let (Some(a), Some(b)) = (number(key), number(value)) {
        return Some(cmp_f64(a, b));
    }
    let (ks, vs) = (key.as_str()?, value.as_str()?);
    if let (Some(a), Some(b)) = (parse_quantity(ks), parse_quantity(vs)) {
        return Some(cmp_f64(a, b));
    }
    if let (Some(a), Some(b)) = (parse_duration(ks), parse_duration(vs)) {
        return Some(cmp_f64(a, b));
    }
    let ver = |s: &str| -> Option<Vec<u64>> {
        s.trim_start_matches('v')
            .split(['.', '-', '+'])
            .take(3)
            .map(|p| p.parse().ok())
            .collect()
    };
    Some(ver(ks)?.cmp(&ver(vs)?))
}

/// `Duration*` operators: numbers are seconds.
fn durations(key: &Value, value: &Value) -> Option<std::cmp::Ordering> {
    let d = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => parse_duration(s).or_else(|| s.parse().ok()),
        _ => None,
    };
    Some(cmp_f64(d(key)?, d(value)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // kyverno/kyverno pkg/engine/variables/evaluate_test.go.
    #[test]
    fn operators() {
        assert!(apply("Equals", &json!("1Ki"), &json!("1024")));
        assert!(apply("Equals", &json!("1h"), &json!("60m")));
        assert!(apply("Equals", &json!("nginx:1"), &json!("nginx:*")));
        assert!(apply("NotEquals", &json!("a"), &json!("b")));
        assert!(apply("Equals", &json!(1), &json!(1.0)));
        assert!(apply("AnyIn", &json!(["a", "x"]), &json!(["a", "b"])));
        assert!(!apply("AllIn", &json!(["a", "x"]), &json!(["a", "b"])));
        assert!(apply(
            "AllIn",
            &json!(["a", "b"]),
            &json!(["a*", " b", "b"])
        ));
        assert!(apply("AnyNotIn", &json!(["a", "x"]), &json!(["a", "b"])));
        // pkg/engine/variables/operator (anyKeyExistsInArray): a null value is an invalid
        // type and every In-family condition is false (policies openshift/
        // team-validate-ns-name: AnyNotIn over groups a user without groups does not have)
        assert!(!apply("AnyNotIn", &json!("team1-test"), &Value::Null));
        assert!(!apply("NotIn", &json!("a"), &Value::Null));
        assert!(!apply("In", &json!("a"), &json!({"a": 1})));
        assert!(apply("AllNotIn", &json!(["x", "y"]), &json!(["a", "b"])));
        assert!(apply("AnyIn", &json!(8080), &json!(["8000-9000"])));
        assert!(apply("In", &json!("CREATE"), &json!(["CREATE", "UPDATE"])));
        assert!(apply(
            "NotIn",
            &json!("DELETE"),
            &json!(["CREATE", "UPDATE"])
        ));
        assert!(apply("GreaterThan", &json!("2Gi"), &json!("1Gi")));
        assert!(apply("GreaterThan", &json!(3), &json!("2")));
        assert!(apply("LessThanOrEquals", &json!("1.2.3"), &json!("1.10.0")));
        assert!(apply("DurationGreaterThan", &json!("2h"), &json!("30m")));
        assert!(apply("DurationLessThan", &json!(10), &json!("1m")));
        assert!(!apply("Bogus", &json!(1), &json!(1)));
    }
}
