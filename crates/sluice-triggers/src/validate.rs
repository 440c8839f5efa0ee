//! `sluice validate`'s CEL check: every expression of a cel interceptor (a `filter` or an
//! overlay's `expression`, in `ref: {name: cel}` params or a `v1alpha1` inline `cel`) parses
//! and stays within [`crate::CEL_LIMITS`]. The Triggers admission webhook does not parse CEL;
//! the cel interceptor would fail every event with `failed to parse expression`.

use serde_json::Value;
use sluice_core::{FieldError, FieldErrors, FieldPath, Object};

use crate::cel::cel_syntax;

/// The CEL findings of one object (EventListener or Trigger), with paths relative to it.
pub fn validate_cel(obj: &Object) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let v = obj.value();
    if !v
        .get("apiVersion")
        .and_then(Value::as_str)
        .is_some_and(|a| a.starts_with("triggers.tekton.dev/"))
    {
        return errs;
    }
    let spec = FieldPath::root().field("spec");
    match v.get("kind").and_then(Value::as_str) {
        Some("EventListener") => {
            for list in ["triggers", "triggerGroups"] {
                if let Some(items) = v
                    .pointer(&format!("/spec/{list}"))
                    .and_then(Value::as_array)
                {
                    for (i, t) in items.iter().enumerate() {
                        check_interceptors(
                            t.get("interceptors"),
                            spec.clone().field(list).index(i).field("interceptors"),
                            &mut errs,
                        );
                    }
                }
            }
        }
        Some("Trigger") => check_interceptors(
            v.pointer("/spec/interceptors"),
            spec.field("interceptors"),
            &mut errs,
        ),
        _ => {}
    }
    errs
}

fn check(expr: &str, path: FieldPath, errs: &mut FieldErrors) {
    if expr.is_empty() {
        return;
    }
    if let Err(e) = cel_syntax(expr) {
        errs.push(FieldError::new(
            path,
            format!("invalid CEL expression: {e} (the cel interceptor fails every event)"),
        ));
    }
}

fn check_interceptors(list: Option<&Value>, base: FieldPath, errs: &mut FieldErrors) {
    let Some(list) = list.and_then(Value::as_array) else {
        return;
    };
    for (j, ic) in list.iter().enumerate() {
        let at = base.clone().index(j);
        let ref_name = ic
            .pointer("/ref/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let ref_kind = ic
            .pointer("/ref/kind")
            .and_then(Value::as_str)
            .unwrap_or("");
        if ref_name == "cel" && (ref_kind.is_empty() || ref_kind == "ClusterInterceptor") {
            let params = ic.get("params").and_then(Value::as_array);
            for (k, p) in params.into_iter().flatten().enumerate() {
                let value_at = at.clone().field("params").index(k).field("value");
                match (p.get("name").and_then(Value::as_str), p.get("value")) {
                    (Some("filter"), Some(Value::String(f))) => check(f, value_at, errs),
                    (Some("overlays"), Some(Value::Array(os))) => {
                        for (m, o) in os.iter().enumerate() {
                            if let Some(e) = o.get("expression").and_then(Value::as_str) {
                                check(e, value_at.clone().index(m).field("expression"), errs);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        if ref_name.is_empty()
            && let Some(c) = ic.get("cel")
        {
            let cel_at = at.clone().field("cel");
            if let Some(f) = c.get("filter").and_then(Value::as_str) {
                check(f, cel_at.clone().field("filter"), errs);
            }
            if let Some(os) = c.get("overlays").and_then(Value::as_array) {
                for (m, o) in os.iter().enumerate() {
                    if let Some(e) = o.get("expression").and_then(Value::as_str) {
                        check(
                            e,
                            cel_at
                                .clone()
                                .field("overlays")
                                .index(m)
                                .field("expression"),
                            errs,
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_name_the_expression() {
        let el = Object::new(json!({
            "apiVersion": "triggers.tekton.dev/v1beta1", "kind": "EventListener",
            "metadata": {"name": "el"},
            "spec": {"triggers": [{"name": "t", "interceptors": [
                {"ref": {"name": "gitlab"}},
                {"ref": {"name": "cel"}, "params": [
                    {"name": "filter", "value": "body.ref.startsWith('refs/heads/main') ||"},
                    {"name": "overlays", "value": [
                        {"key": "ok", "expression": "body.ref.split('/')[2]"},
                        {"key": "bad", "expression": "body.(ref"}]}]}]}],
                "triggerGroups": [{"name": "g", "interceptors": [
                    {"cel": {"filter": "true", "overlays": [{"key": "k", "expression": "1 +"}]}}]}]}
        }));
        let errs = validate_cel(&el);
        let paths: Vec<String> = errs.iter().map(|e| e.path.to_string()).collect();
        assert_eq!(
            paths,
            [
                "spec.triggers[0].interceptors[1].params[0].value",
                "spec.triggers[0].interceptors[1].params[1].value[1].expression",
                "spec.triggerGroups[0].interceptors[0].cel.overlays[0].expression",
            ]
        );
        assert!(
            errs.0[0].message.starts_with("invalid CEL expression: "),
            "{}",
            errs.0[0].message
        );
        let t = Object::new(json!({
            "apiVersion": "triggers.tekton.dev/v1beta1", "kind": "Trigger", "metadata": {"name": "t"},
            "spec": {"interceptors": [{"ref": {"name": "cel"}, "params": [{"name": "filter", "value": "header.match('a', 'b')"}]}]}
        }));
        assert!(validate_cel(&t).is_empty());
        let cm = Object::new(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}),
        );
        assert!(validate_cel(&cm).is_empty());
    }
}
