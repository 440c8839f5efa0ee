//! `DaemonSet` (kubernetes `pkg/apis/apps/validation` `ValidateDaemonSet`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::{FieldError, FieldErrors};

use super::util::{KindNameRule, validate_object_meta};
use super::workload::{PodTemplateSpec, check_selector, non_negative, restart_policy};
use crate::meta::ObjectMeta;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonSet {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: DaemonSetSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonSetSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<PodTemplateSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_strategy: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ready_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i64>,
}

pub fn validate(d: &DaemonSet) -> FieldErrors {
    let mut errs = validate_object_meta(&d.metadata, KindNameRule::Subdomain);
    let s = &d.spec;
    let mut spec = check_selector(
        s.selector.as_ref(),
        s.template.as_ref(),
        false,
        "empty selector is invalid for daemonset",
    );
    non_negative(s.min_ready_seconds, "minReadySeconds", &mut spec);
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
