//! `StatefulSet` (kubernetes `pkg/apis/apps/validation` `ValidateStatefulSet`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::{FieldError, FieldErrors};

use super::util::{KindNameRule, validate_object_meta};
use super::workload::{PodTemplateSpec, check_selector, non_negative, restart_policy};
use crate::meta::ObjectMeta;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatefulSet {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: StatefulSetSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatefulSetSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<PodTemplateSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_claim_templates: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    /// `OrderedReady` (default) or `Parallel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_management_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_strategy: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ready_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim_retention_policy: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ordinals: Option<Value>,
}

pub fn validate(s: &StatefulSet) -> FieldErrors {
    let mut errs = validate_object_meta(&s.metadata, KindNameRule::Subdomain);
    let sp = &s.spec;
    let mut spec = check_selector(
        sp.selector.as_ref(),
        sp.template.as_ref(),
        false,
        "empty selector is invalid for statefulset",
    );
    non_negative(sp.replicas, "replicas", &mut spec);
    non_negative(sp.min_ready_seconds, "minReadySeconds", &mut spec);
    if let Some(p) = &sp.pod_management_policy
        && p != "OrderedReady"
        && p != "Parallel"
    {
        spec.push(FieldError::new(
            "podManagementPolicy",
            format!("Unsupported value: {p:?}: supported values: \"OrderedReady\", \"Parallel\""),
        ));
    }
    if let Some(t) = &sp.template {
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
