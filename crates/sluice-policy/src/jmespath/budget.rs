//! The evaluation budget of one rule evaluation ([`sluice_expr::budget::Budget`] with the
//! limits below), what copying a JSON value costs, and the depth of values. Over any limit
//! evaluation stops with [`JmesError::Limit`], which the engine reports as the rule's
//! `error` (failing closed under Enforce); nothing aborts.

use std::time::Duration;

use serde_json::Value;
pub use sluice_expr::budget::{Budget, Limits as EvalLimits};

use super::JmesError;

/// Interpreter steps (one per syntax-tree node evaluated, plus the elements a function
/// walks) in one rule evaluation. Real rules take hundreds to a few thousand; a million is
/// well under a second.
pub const MAX_EVAL_STEPS: u64 = 1_000_000;

/// Bytes of values built (copies, function results, interpolated strings) in one rule
/// evaluation, estimated from the values' shapes. Kubernetes objects are at most 3 MiB
/// (the API server's request limit), so this holds a score of copies of the largest.
pub const MAX_EVAL_BYTES: u64 = 64 * 1024 * 1024;

/// Wall-clock time of one rule evaluation: a backstop for work the step count does not see
/// (comparing or matching large values). Kyverno's webhook times out after 10 s.
pub const MAX_EVAL_TIME: Duration = Duration::from_secs(2);

/// Nesting of a value an expression returns or a context entry holds. Loaded documents nest
/// at most 128 levels (`sluice_core::Limits`, serde_json's recursion limit); expressions
/// add at most `MAX_NESTING`.
pub const MAX_VALUE_DEPTH: usize = 256;

/// The limits of one rule evaluation.
pub const EVAL_LIMITS: EvalLimits = EvalLimits {
    max_steps: MAX_EVAL_STEPS,
    max_bytes: MAX_EVAL_BYTES,
    max_time: Some(MAX_EVAL_TIME),
};

/// A budget with [`EVAL_LIMITS`] whose clock starts now.
pub fn rule_budget() -> Budget {
    budget_with(EVAL_LIMITS)
}

/// A budget with `limits` (tests use tight ones).
pub fn budget_with(limits: EvalLimits) -> Budget {
    Budget::new("expression evaluation", limits)
}

/// Counts a copy of `v` (its estimated size) and checks its depth. The walk stops as soon as
/// the remaining budget is used up, so it costs no more than the copy it pays for.
pub fn charge_value(budget: &Budget, v: &Value) -> Result<(), JmesError> {
    let remaining = budget.bytes_left();
    match measure(v, remaining) {
        Measure::Fits(n) => Ok(budget.charge(n)?),
        Measure::TooBig => Ok(budget.charge(remaining.saturating_add(1))?),
        Measure::TooDeep => Err(too_deep()),
    }
}

fn too_deep() -> JmesError {
    JmesError::Limit(format!("value nests deeper than {MAX_VALUE_DEPTH} levels"))
}

enum Measure {
    Fits(u64),
    TooBig,
    TooDeep,
}

/// Estimated bytes of a value: a `Value` per node, string bytes, and per map entry its key
/// and the map's bookkeeping.
const ENTRY_OVERHEAD: u64 = 32;

fn measure(v: &Value, limit: u64) -> Measure {
    let node = std::mem::size_of::<Value>() as u64;
    let mut total = 0u64;
    let mut stack: Vec<(&Value, usize)> = vec![(v, 1)];
    while let Some((v, depth)) = stack.pop() {
        if depth > MAX_VALUE_DEPTH {
            return Measure::TooDeep;
        }
        total += node;
        match v {
            Value::String(s) => total += s.len() as u64,
            Value::Array(a) => stack.extend(a.iter().map(|x| (x, depth + 1))),
            Value::Object(m) => {
                for (k, x) in m {
                    total += k.len() as u64 + ENTRY_OVERHEAD;
                    stack.push((x, depth + 1));
                }
            }
            _ => {}
        }
        if total > limit {
            return Measure::TooBig;
        }
    }
    Measure::Fits(total)
}

/// Refuses a value nested deeper than [`MAX_VALUE_DEPTH`] (iteratively: any depth is safe
/// to check).
pub fn check_value_depth(v: &Value) -> Result<(), JmesError> {
    let mut stack: Vec<(&Value, usize)> = vec![(v, 1)];
    while let Some((v, depth)) = stack.pop() {
        if depth > MAX_VALUE_DEPTH {
            return Err(too_deep());
        }
        match v {
            Value::Array(a) => stack.extend(a.iter().map(|x| (x, depth + 1))),
            Value::Object(m) => stack.extend(m.values().map(|x| (x, depth + 1))),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_measured_and_depth_checked() {
        let b = budget_with(EvalLimits {
            max_steps: 10,
            max_bytes: 1000,
            max_time: None,
        });
        assert!(charge_value(&b, &json!({"a": "x"})).is_ok());
        let big = json!("x".repeat(2000));
        assert!(
            matches!(charge_value(&b, &big), Err(JmesError::Limit(m)) if m == "expression evaluation exceeded its budget of 1000 bytes of values built")
        );

        let mut deep = json!(1);
        for _ in 0..MAX_VALUE_DEPTH {
            deep = json!([deep]);
        }
        assert!(check_value_depth(&deep).is_err());
        assert!(matches!(
            charge_value(&rule_budget(), &deep),
            Err(JmesError::Limit(m)) if m.contains("nests deeper")
        ));
        assert!(check_value_depth(&deep[0]).is_ok());
    }
}
