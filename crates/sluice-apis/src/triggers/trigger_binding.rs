//! `TriggerBinding`: params extracted from the event with `$(body...)`, `$(header...)`,
//! `$(extensions...)` JSONPath expressions.
//!
//! Upstream: tektoncd/triggers `pkg/apis/triggers/v1beta1/trigger_binding_types.go`,
//! `trigger_binding_validation.go`; evaluation in `pkg/template/event.go`.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::{FieldError, FieldErrors, FieldPath, Object};

use super::{Param, decode_object, nullable, validate_binding_value, validate_object_meta};
use crate::meta::{NameRule, ObjectMeta};

/// `triggers.tekton.dev/TriggerBinding`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerBinding {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: TriggerBindingSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

/// `TriggerBindingSpec` (shared with ClusterTriggerBinding).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerBindingSpec {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub params: Vec<Param>,
}

/// Validates a `TriggerBinding` object.
pub fn validate(obj: &Object) -> FieldErrors {
    let (t, mut errs) = match decode_object::<TriggerBinding>(obj) {
        Ok(d) => d,
        Err(e) => return e,
    };
    errs.also(validate_object_meta(
        &t.metadata,
        NameRule::Dns1123SubdomainMax63,
    ));
    errs.also(validate_spec(&t.spec).via_field("spec"));
    errs
}

/// `TriggerBindingSpec.Validate`. Paths are relative to the spec.
pub fn validate_spec(s: &TriggerBindingSpec) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if s.params.is_empty() {
        errs.push(FieldError::missing(""));
        return errs;
    }
    let mut seen = BTreeSet::new();
    for (i, p) in s.params.iter().enumerate() {
        let at = |f: &str| FieldPath::root().field("params").index(i).field(f);
        if p.name.is_empty() {
            errs.push(FieldError::missing(at("name")));
        } else if !seen.insert(p.name.as_str()) {
            // validateParams: ErrMultipleOneOf("[i].name").
            errs.push(FieldError::new(
                at("name"),
                "expected exactly one, got both",
            ));
        }
        match &p.value {
            None => errs.push(FieldError::warning(
                at("value"),
                "missing field(s): the param is bound to the empty string",
            )),
            Some(v) => {
                for mut e in validate_binding_value(v) {
                    e.path = at("value");
                    errs.push(e);
                }
            }
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(v: Value) -> Vec<String> {
        validate(&Object::new(v))
            .iter()
            .map(|e| format!("{} {}: {}", e.severity, e.path, e.message))
            .collect()
    }

    // tektoncd/triggers v1beta1/trigger_binding_validation_test.go: an empty spec is
    // "missing field(s): spec", duplicate names "expected exactly one, got both:
    // spec.params[1].name", nested "$(" "invalid value: ...: spec.params[0].value".
    #[test]
    fn upstream_cases() {
        let tb = |spec: Value| {
            json!({"apiVersion": "triggers.tekton.dev/v1beta1", "kind": "TriggerBinding",
                   "metadata": {"name": "name", "namespace": "namespace"}, "spec": spec})
        };
        assert_eq!(run(tb(json!({}))), ["error spec: missing field(s)"]);
        assert_eq!(
            run(tb(json!({"params": [
                {"name": "param1", "value": "$(body.input1)"},
                {"name": "param1", "value": "$(body.input2)"},
                {"name": "PARAM1", "value": "static"}
            ]}))),
            ["error spec.params[1].name: expected exactly one, got both"]
        );
        assert_eq!(
            run(tb(
                json!({"params": [{"name": "param1", "value": "$(body.test-$(body.param1))"}]})
            )),
            ["error spec.params[0].value: invalid value: $(body.test-$(body.param1))"]
        );
        assert_eq!(
            run(tb(
                json!({"params": [{"name": "", "value": "x"}, {"name": "b"}]})
            )),
            [
                "error spec.params[0].name: missing field(s)",
                "warning spec.params[1].value: missing field(s): the param is bound to the empty string"
            ]
        );
    }
}
