//! `Deployment` (kubernetes `pkg/apis/apps/validation` `ValidateDeployment`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::{FieldError, FieldErrors};

use super::util::{KindNameRule, validate_object_meta};
use super::workload::{PodTemplateSpec, check_selector, non_negative, restart_policy};
use crate::meta::ObjectMeta;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: DeploymentSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSpec {
    /// Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<PodTemplateSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ready_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_deadline_seconds: Option<i64>,
}

pub fn validate(d: &Deployment) -> FieldErrors {
    let mut errs = validate_object_meta(&d.metadata, KindNameRule::Subdomain);
    let s = &d.spec;
    let mut spec = check_selector(
        s.selector.as_ref(),
        s.template.as_ref(),
        false,
        "empty selector is invalid for deployment",
    );
    non_negative(s.replicas, "replicas", &mut spec);
    non_negative(s.min_ready_seconds, "minReadySeconds", &mut spec);
    non_negative(s.revision_history_limit, "revisionHistoryLimit", &mut spec);
    if let Some(t) = &s.template {
        let rp = restart_policy(t);
        if rp != "Always" {
            spec.push(FieldError::new(
                "template.spec.restartPolicy",
                format!("Unsupported value: {rp:?}: supported values: \"Always\""),
            ));
        }
    }
    errs.also(spec.via_field("spec"));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // kubernetes pkg/apis/apps/validation ValidateDeploymentSpec: selector required and must
    // select the template's labels.
    #[test]
    fn selector_matches_template() {
        let (d, _) = crate::decode::decode::<Deployment>(&json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"selector": {"matchLabels": {"app": "a"}},
                "template": {"metadata": {"labels": {"app": "b"}}, "spec": {"containers": [{"name": "c"}]}}}
        }))
        .expect("decodes");
        let got: Vec<String> = validate(&d).iter().map(|e| e.to_string()).collect();
        assert_eq!(
            got,
            ["spec.template.metadata.labels: `selector` does not match template `labels`"]
        );
        let (d, _) = crate::decode::decode::<Deployment>(&json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}
        }))
        .expect("decodes");
        let got: Vec<String> = validate(&d).iter().map(|e| e.to_string()).collect();
        assert_eq!(got, ["spec.selector: Required value"]);
    }
}
