//! Pieces shared by the workload kinds: `PodTemplateSpec` and the selector/template checks of
//! kubernetes `pkg/apis/apps/validation` (`ValidateDeploymentSpec`, `ValidateStatefulSetSpec`,
//! `ValidateDaemonSetSpec`) and `pkg/apis/batch/validation`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::{FieldError, FieldErrors, selector::Selector};

use crate::meta::ObjectMeta;

/// `PodTemplateSpec`. The Pod spec itself is not interpreted here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplateSpec {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<Value>,
}

/// Checks `selector` (required unless `optional`) against `template`: a non-empty, valid
/// selector that selects the template's labels. Paths are relative to the spec.
pub fn check_selector(
    selector: Option<&Value>,
    template: Option<&PodTemplateSpec>,
    optional: bool,
    empty_msg: &str,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let sel = match selector {
        None | Some(Value::Null) => {
            if !optional {
                errs.push(FieldError::new("selector", "Required value"));
            }
            None
        }
        Some(v) => match Selector::from_label_selector(v) {
            Ok(s) => {
                if s.is_empty() {
                    errs.push(FieldError::new("selector", empty_msg));
                    None
                } else {
                    Some(s)
                }
            }
            Err(e) => {
                errs.also(e.via_field("selector"));
                None
            }
        },
    };
    match template {
        None => errs.push(FieldError::new("template", "Required value")),
        Some(t) => {
            if let Some(s) = sel {
                let labels = t
                    .metadata
                    .labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()));
                if !s.matches_map(labels) {
                    errs.push(FieldError::new(
                        "template.metadata.labels",
                        "`selector` does not match template `labels`",
                    ));
                }
            }
            errs.also(
                crate::meta::validate_meta(
                    &ObjectMeta {
                        name: Some("template".to_owned()),
                        ..t.metadata.clone()
                    },
                    crate::meta::NameRule::Dns1123Subdomain,
                )
                .via_field("template"),
            );
            let containers = t
                .spec
                .as_ref()
                .and_then(|s| s.get("containers"))
                .and_then(Value::as_array);
            if containers.is_none_or(Vec::is_empty) {
                errs.push(FieldError::new(
                    "template.spec.containers",
                    "Required value",
                ));
            }
            if let Some(spec) = &t.spec {
                errs.also(
                    super::volume::pod_spec(spec)
                        .via_field("spec")
                        .via_field("template"),
                );
            }
        }
    }
    errs
}

/// `replicas` and friends must not be negative.
pub fn non_negative(v: Option<i64>, path: &str, errs: &mut FieldErrors) {
    if let Some(n) = v
        && n < 0
    {
        errs.push(FieldError::new(path, "must be greater than or equal to 0"));
    }
}

/// The Pod template's `restartPolicy` after defaulting (`Always`).
pub fn restart_policy(t: &PodTemplateSpec) -> &str {
    t.spec
        .as_ref()
        .and_then(|s| s.get("restartPolicy"))
        .and_then(Value::as_str)
        .unwrap_or("Always")
}
