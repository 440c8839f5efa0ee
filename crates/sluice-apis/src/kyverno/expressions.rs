//! The JMESPath a rule holds, checked as Kyverno's webhook does before it accepts a policy:
//! every `{{ }}` variable in a string or key, every foreach `list`, every context
//! `variable.jmesPath` must parse, within the parser's size and nesting limits
//! (`sluice_expr::jmespath::MAX_EXPRESSION_LEN`, `MAX_NESTING`), and call known functions
//! with valid arities. `sluice validate`, API server admission and `sluice_policy::compile`
//! run this one check, so a policy the engine cannot run is refused where it is written.

use serde_json::Value;
use sluice_core::{FieldError, FieldErrors};
use sluice_expr::jmespath::{self, find_variables, snippet};

use super::pattern::via_key;

/// Checks the JMESPath of one rule (raw JSON); paths are relative to the rule.
pub fn check_rule_expressions(raw_rule: &Value) -> FieldErrors {
    let mut errs = check_variables(raw_rule);
    if let Some(fes) = raw_rule
        .pointer("/validate/foreach")
        .and_then(Value::as_array)
    {
        errs.also(
            check_foreach(fes)
                .via_field("foreach")
                .via_field("validate"),
        );
    }
    if let Some(ctx) = raw_rule.get("context").and_then(Value::as_array) {
        errs.also(check_context(ctx).via_field("context"));
    }
    errs
}

/// Every `{{ }}` variable in the strings and keys of `v` (variables nested in variables are
/// substituted before they are parsed, so they are checked when the rule runs).
pub fn check_variables(v: &Value) -> FieldErrors {
    let mut errs = FieldErrors::new();
    match v {
        Value::String(s) => check_string(s, &mut errs),
        Value::Object(m) => {
            for (k, x) in m {
                let mut here = FieldErrors::new();
                check_string(k, &mut here);
                here.also(check_variables(x));
                errs.also(via_key(here, k));
            }
        }
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                errs.also(check_variables(x).via_index(i));
            }
        }
        _ => {}
    }
    errs
}

fn check_string(s: &str, errs: &mut FieldErrors) {
    if !s.contains("{{") {
        return;
    }
    for r in find_variables(s) {
        if r.expr.contains("{{") {
            continue;
        }
        if let Err(e) = jmespath::compile(&r.expr) {
            errs.push(FieldError::new(
                "",
                format!("invalid variable {{{{{}}}}}: {e}", snippet(&r.expr)),
            ));
        }
    }
}

/// A JMESPath field without braces (a foreach `list` written as one `{{ }}` is a variable,
/// which [`check_variables`] checks).
fn check_expression(src: &str, field: &str, errs: &mut FieldErrors) {
    let t = src.trim();
    if t.is_empty() || t.contains("{{") {
        return;
    }
    if let Err(e) = jmespath::compile(t) {
        errs.push(FieldError::new(field, e.to_string()));
    }
}

fn check_foreach(fes: &[Value]) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (i, fe) in fes.iter().enumerate() {
        let mut here = FieldErrors::new();
        if let Some(list) = fe.get("list").and_then(Value::as_str) {
            check_expression(list, "list", &mut here);
        }
        if let Some(ctx) = fe.get("context").and_then(Value::as_array) {
            here.also(check_context(ctx).via_field("context"));
        }
        if let Some(nested) = fe.get("foreach").and_then(Value::as_array) {
            here.also(check_foreach(nested).via_field("foreach"));
        }
        errs.also(here.via_index(i));
    }
    errs
}

fn check_context(entries: &[Value]) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (i, e) in entries.iter().enumerate() {
        let mut here = FieldErrors::new();
        if let Some(jp) = e.pointer("/variable/jmesPath").and_then(Value::as_str) {
            check_expression(jp, "variable.jmesPath", &mut here);
        }
        errs.also(here.via_index(i));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn found(v: &Value) -> Vec<(String, String)> {
        check_rule_expressions(v)
            .iter()
            .map(|e| (e.path.to_string(), e.message.clone()))
            .collect()
    }

    #[test]
    fn every_expression_is_checked() {
        let rule = json!({
            "context": [{"name": "a", "variable": {"jmesPath": "nosuch(x)"}}],
            "validate": {
                "message": "{{ request.object.metadata.name }} {{ a. }}",
                "deny": {"conditions": {"all": [{"key": "{{ to_upper() }}", "operator": "Equals", "value": "x"}]}},
                "foreach": [{"list": "request.object.spec[", "foreach": [{"list": "{{ a || }}"}]}]
            }
        });
        let got = found(&rule);
        let paths: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "validate.message",
                "validate.deny.conditions.all[0].key",
                "validate.foreach[0].foreach[0].list",
                "validate.foreach[0].list",
                "context[0].variable.jmesPath",
            ],
            "{got:?}"
        );
        assert!(
            got[0]
                .1
                .starts_with("invalid variable {{a.}}: JMESPath syntax error")
        );
        assert!(got[2].1.starts_with("invalid variable {{a ||}}"));
        assert!(got[4].1.contains("Unknown function: nosuch()"));
    }

    // Issue 18: a deny key nesting JMESPath 2,000 deep is refused with its field path, and
    // the message does not echo the 22 KB expression.
    #[test]
    fn deep_variable_is_refused_with_its_path() {
        let mut e = "request.object.metadata.name".to_owned();
        for _ in 0..2000 {
            e = format!("to_string({e})");
        }
        let rule = json!({"validate": {"deny": {"conditions": {"all": [
            {"key": format!("{{{{ {e} }}}}"), "operator": "Equals", "value": "x"}]}}}});
        let got = found(&rule);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].0, "validate.deny.conditions.all[0].key");
        assert!(
            got[0].1.contains("nests deeper than 100 levels"),
            "{}",
            got[0].1
        );
        assert!(got[0].1.len() < 300, "{}", got[0].1);
    }
}
