//! `ClusterTriggerBinding`: a cluster-scoped TriggerBinding.
//!
//! Upstream: tektoncd/triggers `pkg/apis/triggers/v1beta1/cluster_trigger_binding_types.go`,
//! `cluster_trigger_binding_validation.go` (the TriggerBinding rules).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::{FieldErrors, Object};

use super::trigger_binding::{TriggerBindingSpec, validate_spec};
use super::{decode_object, validate_object_meta};
use crate::meta::{NameRule, ObjectMeta};

/// `triggers.tekton.dev/ClusterTriggerBinding`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterTriggerBinding {
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

/// Validates a `ClusterTriggerBinding` object.
pub fn validate(obj: &Object) -> FieldErrors {
    let (t, mut errs) = match decode_object::<ClusterTriggerBinding>(obj) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shares_binding_rules() {
        let e = validate(&Object::new(json!({
            "apiVersion": "triggers.tekton.dev/v1beta1", "kind": "ClusterTriggerBinding",
            "metadata": {"name": "c"},
            "spec": {"params": [{"name": "a", "value": "$($(body.a))"}]}
        })));
        assert_eq!(e.0[0].path.to_string(), "spec.params[0].value");
    }
}
