//! Tekton variable substitution over typed specs (tektoncd/pipeline `pkg/substitution` and
//! `pkg/reconciler/taskrun/resources/apply.go`): one pass over every string of a spec.
//!
//! A string that is exactly one reference to an array or object (`$(params.a[*])`,
//! `$(tasks.t.results.r[*])`) inside a list is spliced into the list, and as a param `value`
//! becomes the array or object itself; every other reference is replaced in place.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sluice_apis::tekton::param::ParamValue;
use sluice_expr::budget::{Budget, Exceeded};
use sluice_expr::tekton::{
    Access, Var, parse_var, substitute_in, substitution_budget, whole_reference,
};

use crate::Error;

/// Values that references resolve to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replacements {
    /// `$(params.NAME...)`.
    pub params: HashMap<String, ParamValue>,
    /// `$(tasks.TASK.results.NAME...)`.
    pub results: HashMap<String, BTreeMap<String, ParamValue>>,
    /// Every other variable by its exact expression (`context.taskRun.name`,
    /// `workspaces.w.path`, `tasks.status`...).
    pub vars: HashMap<String, String>,
}

fn access_string(v: &ParamValue, access: &Access<'_>) -> Option<String> {
    match (v, access) {
        (ParamValue::String(s), Access::Whole) => Some(s.clone()),
        (ParamValue::Array(a), Access::Index(i)) => a.get(*i).cloned(),
        (ParamValue::Object(o), Access::Key(k)) => o.get(*k).cloned(),
        _ => None,
    }
}

fn access_value(v: &ParamValue, access: &Access<'_>) -> Option<ParamValue> {
    match (v, access) {
        (ParamValue::Array(_) | ParamValue::Object(_), Access::Star | Access::Whole) => {
            Some(v.clone())
        }
        _ => access_string(v, access).map(ParamValue::String),
    }
}

impl Replacements {
    pub fn is_empty(&self) -> bool {
        self.params.is_empty() && self.results.is_empty() && self.vars.is_empty()
    }

    /// Adds every entry of `other`, replacing entries with the same key.
    pub fn extend(&mut self, other: &Replacements) {
        self.params
            .extend(other.params.iter().map(|(k, v)| (k.clone(), v.clone())));
        for (t, rs) in &other.results {
            self.results
                .entry(t.clone())
                .or_default()
                .extend(rs.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        self.vars
            .extend(other.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    }

    fn find(&self, expr: &str) -> Option<ParamValue> {
        // `inputs.params.x` is the old spelling of `params.x` that Tekton still replaces
        // (pkg/reconciler/taskrun/resources/apply.go paramPatterns)
        let expr = expr.strip_prefix("inputs.").unwrap_or(expr);
        match parse_var(expr) {
            Var::Param { name, access } => access_value(self.params.get(name.as_ref())?, &access),
            Var::TaskResult {
                task,
                result,
                access,
            } => access_value(self.results.get(task)?.get(result)?, &access),
            _ => self.vars.get(expr).cloned().map(ParamValue::String),
        }
    }

    /// The string a reference inside a larger string resolves to.
    pub fn lookup(&self, expr: &str) -> Option<String> {
        match self.find(expr)? {
            ParamValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// Substitutes every resolvable reference in `s`, in one pass, within `budget`.
    pub fn apply_str(&self, s: &str, budget: &Budget) -> Result<String, Exceeded> {
        Ok(substitute_in(s, |e| self.lookup(e).map(Into::into), budget)?.into_owned())
    }

    /// The array or object a whole-string reference resolves to, if it is one.
    fn whole_container(&self, s: &str) -> Option<ParamValue> {
        let expr = whole_reference(s)?;
        match self.find(expr)? {
            ParamValue::String(_) => None,
            v => Some(v),
        }
    }

    /// Substitutes in every string of a JSON tree, within one substitution budget
    /// (`sluice_expr::tekton::SUBSTITUTION_LIMITS`): references that would multiply large
    /// values are an error, not an exhausted memory.
    pub fn apply_value(&self, v: &mut Value) -> Result<(), Error> {
        let budget = substitution_budget();
        self.walk(v, false, &budget).map_err(|e| {
            Error::Resolve(format!("{e} (the references copy large values too often)"))
        })
    }

    /// A whole-string reference to an array or object, counted.
    fn counted_container(&self, s: &str, budget: &Budget) -> Result<Option<ParamValue>, Exceeded> {
        let Some(c) = self.whole_container(s) else {
            return Ok(None);
        };
        budget.step()?;
        budget.charge(c.strings().iter().map(|x| x.len() as u64 + 24).sum())?;
        Ok(Some(c))
    }

    fn walk(&self, v: &mut Value, container_ok: bool, budget: &Budget) -> Result<(), Exceeded> {
        match v {
            Value::String(s) => {
                if container_ok && let Some(c) = self.counted_container(s, budget)? {
                    *v = param_to_json(&c);
                    return Ok(());
                }
                let out = self.apply_str(s, budget)?;
                if out != *s {
                    *s = out;
                }
            }
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for mut item in std::mem::take(items) {
                    if let Value::String(s) = &item
                        && let Some(c) = self.counted_container(s, budget)?
                    {
                        match c {
                            ParamValue::Array(a) => out.extend(a.into_iter().map(Value::String)),
                            other => out.push(param_to_json(&other)),
                        }
                        continue;
                    }
                    self.walk(&mut item, false, budget)?;
                    out.push(item);
                }
                *items = out;
            }
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    self.walk(x, k == "value" || k == "default", budget)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Substitutes in every string of a typed value.
    pub fn apply<T: Serialize + DeserializeOwned>(&self, t: &T) -> Result<T, Error> {
        if self.is_empty() {
            return serde_json::from_value(serde_json::to_value(t)?).map_err(Error::from);
        }
        let mut v = serde_json::to_value(t)?;
        self.apply_value(&mut v)?;
        Ok(serde_json::from_value(v)?)
    }
}

pub fn param_to_json(p: &ParamValue) -> Value {
    match p {
        ParamValue::String(s) => Value::String(s.clone()),
        ParamValue::Array(a) => Value::Array(a.iter().cloned().map(Value::String).collect()),
        ParamValue::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reps() -> Replacements {
        let mut r = Replacements::default();
        r.params
            .insert("s".into(), ParamValue::String("$(params.a[*])".into()));
        r.params
            .insert("a".into(), ParamValue::Array(vec!["x".into(), "y".into()]));
        r.params.insert(
            "o".into(),
            ParamValue::Object([("k".to_owned(), "v".to_owned())].into()),
        );
        r.vars.insert("context.taskRun.name".into(), "tr".into());
        r
    }

    // docs/variables.md: array params are spliced with `[*]` into list fields, indexed
    // with `[i]`, object keys read with `.key`; tektoncd/pipeline
    // pkg/substitution/substitution.go ApplyReplacements is single-pass.
    #[test]
    fn string_array_object_and_single_pass() {
        let r = reps();
        let mut v = json!({"args": ["-v", "$(params.a[*])", "$(params.a[1])"],
            "script": "echo $(params.s) $(params.o.k) $(context.taskRun.name) $(params.missing)"});
        r.apply_value(&mut v).expect("substitutes");
        assert_eq!(
            v,
            json!({"args": ["-v", "x", "y", "y"],
                "script": "echo $(params.a[*]) v tr $(params.missing)"})
        );
    }

    #[test]
    fn whole_reference_as_param_value_becomes_the_container() {
        let r = reps();
        let mut v = json!({"params": [{"name": "p", "value": "$(params.a[*])"},
            {"name": "q", "value": "$(params.o[*])"}]});
        r.apply_value(&mut v).expect("substitutes");
        assert_eq!(
            v,
            json!({"params": [{"name": "p", "value": ["x", "y"]},
                {"name": "q", "value": {"k": "v"}}]})
        );
    }

    // Issue 18: a large value referenced many times (in strings and as whole arrays) is an
    // error of the substitution once it would build more than MAX_SUBSTITUTION_BYTES,
    // before it is built.
    #[test]
    fn references_cannot_multiply_values_without_bound() {
        let mut r = Replacements::default();
        r.params
            .insert("big".into(), ParamValue::String("x".repeat(1 << 20)));
        r.params
            .insert("arr".into(), ParamValue::Array(vec!["y".repeat(1 << 20)]));
        for mut v in [
            json!({"script": "$(params.big)".repeat(100)}),
            json!({"args": vec!["$(params.big)"; 100]}),
            json!({"args": vec!["$(params.arr[*])"; 100]}),
        ] {
            let e = r.apply_value(&mut v).expect_err("over budget");
            assert!(
                e.to_string()
                    .starts_with("substitution exceeded its budget of 16 MiB of values built"),
                "{e}"
            );
        }
        let mut v = json!({"args": vec!["$(params.big)"; 10]});
        assert!(r.apply_value(&mut v).is_ok());
    }
}
