//! `Rollout` (argoproj/argo-rollouts `pkg/apis/rollouts/v1alpha1/types.go`): types, defaults
//! and validation (`pkg/apis/rollouts/validation/validation.go` `ValidateRollout`, and the
//! analysis part of `validation_references.go`). The Rollout controller reports these as an
//! `InvalidSpec` condition and does not progress the Rollout.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::selector::Selector;
use sluice_core::{FieldError, FieldErrors, Object};

use super::analysis::{AnalysisTemplate, int_value};
use super::parse_go_duration;
use crate::Context;
use crate::meta::{NameRule, ObjectMeta, validate_meta};

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rollout {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: RolloutSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

pub const DEFAULT_REPLICAS: i32 = 1;
pub const DEFAULT_REVISION_HISTORY_LIMIT: i32 = 10;
pub const DEFAULT_PROGRESS_DEADLINE_SECONDS: i32 = 600;
pub const DEFAULT_MAX_TRAFFIC_WEIGHT: i32 = 100;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// `metav1.LabelSelector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<Value>,
    /// `corev1.PodTemplateSpec`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_ref: Option<ObjectRef>,
    #[serde(default)]
    pub min_ready_seconds: i32,
    #[serde(default)]
    pub strategy: RolloutStrategy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i32>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub paused: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_deadline_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub progress_deadline_abort: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_at: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisRunStrategy>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scale_down: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisRunStrategy {
    #[serde(default)]
    pub successful_run_history_limit: Option<i32>,
    #[serde(default)]
    pub unsuccessful_run_history_limit: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStrategy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blue_green: Option<BlueGreenStrategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryStrategy>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlueGreenStrategy {
    #[serde(default)]
    pub active_service: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preview_service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_replica_count: Option<i32>,
    /// Defaults to true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_promotion_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_promotion_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_delay_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_delay_revision_limit: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_promotion_analysis: Option<RolloutAnalysis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anti_affinity: Option<AntiAffinity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_promotion_analysis: Option<RolloutAnalysis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_metadata: Option<PodTemplateMetadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_metadata: Option<PodTemplateMetadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_scale_down_delay_seconds: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStrategy {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub canary_service: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stable_service: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<CanaryStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_routing: Option<RolloutTrafficRouting>,
    /// intstr; defaults to 25%.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<Value>,
    /// intstr; defaults to 25%.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_surge: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<RolloutAnalysisBackground>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anti_affinity: Option<AntiAffinity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_metadata: Option<PodTemplateMetadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_metadata: Option<PodTemplateMetadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_delay_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_delay_revision_limit: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_scale_down_delay_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub dynamic_stable_scale: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ping_pong: Option<PingPongSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_pods_per_replica_set: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_progress_threshold: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PingPongSpec {
    #[serde(default)]
    pub ping_service: String,
    #[serde(default)]
    pub pong_service: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplateMetadata {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AntiAffinity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_during_scheduling_ignored_during_execution: Option<PreferredDuringScheduling>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_during_scheduling_ignored_during_execution: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreferredDuringScheduling {
    #[serde(default)]
    pub weight: i32,
}

/// `RolloutTrafficRouting`: provider settings stay as values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutTrafficRouting {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub istio: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nginx: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alb: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smi: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ambassador: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_mesh: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traefik: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apisix: Option<Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub plugins: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_routes: Vec<MangedRoutes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_traffic_weight: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MangedRoutes {
    #[serde(default)]
    pub name: String,
}

/// `CanaryStep`: exactly one action.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStep {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_weight: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<RolloutPause>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<RolloutExperimentStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<RolloutAnalysis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_canary_scale: Option<SetCanaryScale>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_header_route: Option<SetHeaderRoute>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_mirror_route: Option<SetMirrorRoute>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutPause {
    /// intstr: seconds, or a Go duration string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Value>,
}

impl RolloutPause {
    /// `DurationSeconds`: -1 when the duration does not parse; `None` for an indefinite pause.
    pub fn duration_seconds(&self) -> Option<i64> {
        match &self.duration {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(n.as_i64().unwrap_or(-1)),
            Some(Value::String(s)) => Some(match s.parse::<i64>() {
                Ok(v) => v,
                Err(_) => parse_go_duration(s).map_or(-1, |d| d as i64),
            }),
            Some(_) => Some(-1),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetCanaryScale {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub match_traffic_weight: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StringMatch {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub exact: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub regex: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetHeaderRoute {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub r#match: Vec<HeaderRoutingMatch>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeaderRoutingMatch {
    #[serde(default)]
    pub header_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_value: Option<StringMatch>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetMirrorRoute {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub r#match: Vec<RouteMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<StringMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<StringMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, StringMatch>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutExperimentStep {
    #[serde(default)]
    pub templates: Vec<RolloutExperimentTemplate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub analyses: Vec<RolloutExperimentStepAnalysisTemplateRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dry_run: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurement_retention: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis_run_metadata: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutExperimentTemplate {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub spec_ref: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<PodTemplateMetadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutExperimentStepAnalysisTemplateRef {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub template_name: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub cluster_scope: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<AnalysisRunArgument>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub required_for_completion: bool,
}

/// `RolloutAnalysis` (step, pre/post promotion).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutAnalysis {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<AnalysisTemplateRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<AnalysisRunArgument>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dry_run: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurement_retention: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis_run_metadata: Option<Value>,
}

/// `RolloutAnalysisBackground`: a `RolloutAnalysis` plus `startingStep`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutAnalysisBackground {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<AnalysisTemplateRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<AnalysisRunArgument>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dry_run: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurement_retention: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis_run_metadata: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_step: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisTemplateRef {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub template_name: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub cluster_scope: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisRunArgument {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<Value>,
}

fn int_or_percent(v: Option<&Value>, default_percent: i64) -> i64 {
    match v {
        None => default_percent,
        Some(Value::String(s)) => s
            .strip_suffix('%')
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| int_value(Some(&Value::String(s.clone())))),
        other => int_value(other),
    }
}

fn requires_canary_stable_services(c: &CanaryStrategy) -> bool {
    let Some(tr) = &c.traffic_routing else {
        return false;
    };
    (tr.alb.is_some() && c.ping_pong.is_none())
        || tr
            .istio
            .as_ref()
            .is_some_and(|i| i.get("destinationRule").is_none())
        || tr.smi.is_some()
        || tr.apisix.is_some()
        || tr.ambassador.is_some()
        || tr.nginx.is_some()
        || tr.app_mesh.is_some()
        || tr.traefik.is_some()
}

const MISSING_FIELD: &str = "Rollout has missing field";
const INVALID_STEP: &str =
    "Step must have one of the following set: experiment, setWeight, setCanaryScale or pause";
const INVALID_TRAFFIC_ROUTING: &str =
    "Canary service and Stable service must to be set to use Traffic Routing";

fn validate_anti_affinity(a: &Option<AntiAffinity>, path: &str, errs: &mut FieldErrors) {
    let Some(a) = a else { return };
    let p = &a.preferred_during_scheduling_ignored_during_execution;
    let r = &a.required_during_scheduling_ignored_during_execution;
    if p.is_some() == r.is_some() {
        errs.push(FieldError::new(
            path,
            "AntiAffinity must have exactly one strategy listed",
        ));
    }
    if let Some(p) = p
        && !(1..=100).contains(&p.weight)
    {
        errs.push(FieldError::new(
            format!("{path}.weight").as_str(),
            "AntiAffinity weight must be between 1-100",
        ));
    }
}

fn string_match_errors(m: Option<&StringMatch>, path: &str, alb: bool, errs: &mut FieldErrors) {
    let Some(m) = m else {
        errs.push(FieldError::new(
            path,
            "StringMatch value missed, match value must have one of the following: exact, regex, prefix",
        ));
        return;
    };
    if alb {
        if m.exact.is_empty() || !m.regex.is_empty() || !m.prefix.is_empty() {
            errs.push(FieldError::new(
                path,
                "SetHeaderRoute match value invalid. ALB supports 'exact' value only",
            ));
        }
        return;
    }
    let n = [&m.exact, &m.regex, &m.prefix]
        .iter()
        .filter(|s| !s.is_empty())
        .count();
    if n > 1 {
        errs.push(FieldError::new(
            path,
            "StringMatch match value must have exactly one of the following: exact, regex, prefix",
        ));
    } else if n == 0 {
        errs.push(FieldError::new(
            path,
            "StringMatch value missed, match value must have one of the following: exact, regex, prefix",
        ));
    }
}

/// `ValidateRolloutSpec`; paths start at the object root.
pub fn validate_spec(r: &Rollout) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let spec = &r.spec;
    let replicas = spec.replicas.unwrap_or(DEFAULT_REPLICAS);
    if replicas < 0 {
        errs.push(FieldError::new(
            "spec.replicas",
            "must be greater than or equal to 0",
        ));
    }
    let mut selector = None;
    if spec.workload_ref.is_none() {
        match &spec.selector {
            None => errs.push(FieldError::new(
                "spec.selector",
                format!("{MISSING_FIELD} '.spec.selector'"),
            )),
            Some(sel) => match Selector::from_label_selector(sel) {
                Ok(s) => {
                    let empty = sel
                        .get("matchLabels")
                        .and_then(Value::as_object)
                        .is_none_or(|m| m.is_empty())
                        && sel
                            .get("matchExpressions")
                            .and_then(Value::as_array)
                            .is_none_or(|a| a.is_empty());
                    if empty {
                        errs.push(FieldError::new(
                            "spec.selector",
                            "empty selector is invalid for deployment",
                        ));
                    }
                    selector = Some(s);
                }
                Err(e) => {
                    errs.also(e.via_field("selector").via_field("spec"));
                }
            },
        }
    }
    let template_empty = spec
        .template
        .as_ref()
        .is_none_or(|t| t.is_null() || t.as_object().is_some_and(|m| m.is_empty()));
    if spec.workload_ref.is_some() && !template_empty {
        errs.push(FieldError::new(
            "spec.template",
            "template must be empty for workload reference rollout",
        ));
    }
    if spec.workload_ref.is_none() {
        if let Some(sel) = &selector {
            let labels: Vec<(String, String)> = spec
                .template
                .as_ref()
                .and_then(|t| t.pointer("/metadata/labels"))
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                        .collect()
                })
                .unwrap_or_default();
            if !sel.is_empty()
                && !sel.matches_map(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            {
                // apps/validation ValidatePodTemplateSpecForReplicaSet.
                errs.push(FieldError::new(
                    "spec.template.metadata.labels",
                    "Invalid value: `selector` does not match template `labels`",
                ));
            }
        }
        if template_empty {
            errs.push(FieldError::new("spec.template", "Required value"));
        } else if spec
            .template
            .as_ref()
            .and_then(|t| t.pointer("/spec/containers"))
            .and_then(Value::as_array)
            .is_none_or(|c| c.is_empty())
        {
            errs.push(FieldError::new(
                "spec.template.spec.containers",
                "Required value",
            ));
        }
    }
    if spec.min_ready_seconds < 0 {
        errs.push(FieldError::new(
            "spec.minReadySeconds",
            "must be greater than or equal to 0",
        ));
    }
    let rhl = spec
        .revision_history_limit
        .unwrap_or(DEFAULT_REVISION_HISTORY_LIMIT);
    if rhl < 0 {
        errs.push(FieldError::new(
            "spec.revisionHistoryLimit",
            "must be greater than or equal to 0",
        ));
    }
    let pds = spec
        .progress_deadline_seconds
        .unwrap_or(DEFAULT_PROGRESS_DEADLINE_SECONDS);
    if pds < 0 {
        errs.push(FieldError::new(
            "spec.progressDeadlineSeconds",
            "must be greater than or equal to 0",
        ));
    }
    if pds <= spec.min_ready_seconds {
        errs.push(FieldError::new(
            "spec.progressDeadlineSeconds",
            "must be greater than minReadySeconds",
        ));
    }
    let st = &spec.strategy;
    match (&st.blue_green, &st.canary) {
        (None, None) => errs.push(FieldError::new(
            "spec.strategy",
            format!("{MISSING_FIELD} '.spec.strategy.canary or .spec.strategy.blueGreen'"),
        )),
        (Some(_), Some(_)) => errs.push(FieldError::new(
            "spec.strategy",
            "Multiple Strategies can not be listed",
        )),
        (Some(bg), None) => {
            let p = "spec.strategy.blueGreen";
            if bg.active_service.is_empty() {
                errs.push(FieldError::new(
                    format!("{p}.activeService").as_str(),
                    "Required value",
                ));
            } else if bg.active_service == bg.preview_service {
                errs.push(FieldError::new(
                    format!("{p}.activeService").as_str(),
                    "This rollout uses the same service for the active and preview services, but two different services are required.",
                ));
            }
            if let Some(l) = bg.scale_down_delay_revision_limit
                && rhl < l
            {
                errs.push(FieldError::new(
                        format!("{p}.scaleDownDelayRevisionLimit").as_str(),
                        "This rollout's revision history limit can not be smaller than the rollout's scale down limit",
                    ));
            }
            validate_anti_affinity(&bg.anti_affinity, &format!("{p}.antiAffinity"), &mut errs);
        }
        (None, Some(c)) => validate_canary(c, &mut errs),
    }
    errs
}

fn validate_canary(c: &CanaryStrategy, errs: &mut FieldErrors) {
    let p = "spec.strategy.canary";
    let at = |f: &str| format!("{p}.{f}");
    if int_or_percent(c.max_surge.as_ref(), 25) == 0
        && int_or_percent(c.max_unavailable.as_ref(), 25) == 0
    {
        errs.push(FieldError::new(
            at("maxSurge").as_str(),
            "MaxSurge and MaxUnavailable both can not be zero",
        ));
    }
    if !c.canary_service.is_empty() && c.canary_service == c.stable_service {
        errs.push(FieldError::new(
            at("stableService").as_str(),
            "This rollout uses the same service for the stable and canary services, but two different services are required.",
        ));
    }
    let tr = c.traffic_routing.as_ref();
    if let Some(pp) = &c.ping_pong {
        if tr.is_some_and(|t| t.alb.is_none()) {
            errs.push(FieldError::new(
                at("trafficRouting.alb").as_str(),
                "Ping-pong feature works with the ALB traffic routing only",
            ));
        }
        for (f, v) in [
            ("pingService", &pp.ping_service),
            ("pongService", &pp.pong_service),
        ] {
            if v.is_empty() {
                errs.push(FieldError::new(
                    at(&format!("pingPong.{f}")).as_str(),
                    "Ping service and Pong service must to be set to use Ping-Pong feature",
                ));
            }
        }
        if pp.ping_service == pp.pong_service {
            errs.push(FieldError::new(
                at("pingPong.pingService").as_str(),
                "This rollout uses the same service for the ping and pong services, but two different services are required.",
            ));
        }
    }
    if requires_canary_stable_services(c) {
        if c.stable_service.is_empty() {
            errs.push(FieldError::new(
                at("stableService").as_str(),
                INVALID_TRAFFIC_ROUTING,
            ));
        }
        if c.canary_service.is_empty() {
            errs.push(FieldError::new(
                at("canaryService").as_str(),
                INVALID_TRAFFIC_ROUTING,
            ));
        }
    }
    match tr {
        None => {
            if c.scale_down_delay_seconds.is_some() {
                errs.push(FieldError::new(
                    at("scaleDownDelaySeconds").as_str(),
                    "Canary scaleDownDelaySeconds can only be used with traffic routing",
                ));
            }
            if c.dynamic_stable_scale {
                errs.push(FieldError::new(
                    at("dynamicStableScale").as_str(),
                    "Canary dynamicStableScale can only be used with traffic routing",
                ));
            }
        }
        Some(t) => {
            if c.scale_down_delay_seconds.is_some() && c.dynamic_stable_scale {
                errs.push(FieldError::new(
                    at("dynamicStableScale").as_str(),
                    "Canary dynamicStableScale cannot be used with scaleDownDelaySeconds",
                ));
            }
            if t.max_traffic_weight.is_some() && t.nginx.is_none() && t.plugins.is_empty() {
                errs.push(FieldError::new(
                    at("trafficRouting.maxTrafficWeight").as_str(),
                    "Canary maxTrafficWeight in traffic routing only support in Nginx and Plugins",
                ));
            }
            if let Some(n) = &t.nginx {
                let single = n
                    .get("stableIngress")
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty());
                let multi = n
                    .get("stableIngresses")
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty());
                let msg = match (single, multi) {
                    (true, true) => Some(
                        "Either StableIngress or StableIngresses must be configured. Both are configured.",
                    ),
                    (false, false) => Some(
                        "Either StableIngress or StableIngresses must be configured. Neither are configured.",
                    ),
                    _ => None,
                };
                if let Some(m) = msg {
                    errs.push(FieldError::new(at("trafficRouting.nginx").as_str(), m));
                }
            }
        }
    }
    let max_weight = tr
        .and_then(|t| t.max_traffic_weight)
        .unwrap_or(DEFAULT_MAX_TRAFFIC_WEIGHT);
    for (i, s) in c.steps.iter().enumerate() {
        let sp = format!("{p}.steps[{i}]");
        let core = [
            s.set_weight.is_some(),
            s.pause.is_some(),
            s.experiment.is_some(),
            s.analysis.is_some(),
        ];
        if core.iter().filter(|b| **b).count() > 1 {
            errs.push(FieldError::new(sp.as_str(), INVALID_STEP));
        }
        if !core.iter().any(|b| *b)
            && s.set_canary_scale.is_none()
            && s.set_header_route.is_none()
            && s.set_mirror_route.is_none()
            && s.plugin.is_none()
        {
            errs.push(FieldError::new(sp.as_str(), INVALID_STEP));
        }
        if let Some(w) = s.set_weight
            && (w < 0 || w > max_weight)
        {
            errs.push(FieldError::new(
                format!("{sp}.setWeight").as_str(),
                format!("SetWeight needs to be between 0 and {max_weight}"),
            ));
        }
        if let Some(pause) = &s.pause
            && pause.duration_seconds().is_some_and(|d| d < 0)
        {
            errs.push(FieldError::new(
                format!("{sp}.pause.duration").as_str(),
                "Duration needs to be greater than 0",
            ));
        }
        if s.set_canary_scale.is_some() && tr.is_none() {
            errs.push(FieldError::new(
                at("trafficRouting").as_str(),
                "SetCanaryScale requires TrafficRouting to be set",
            ));
        }
        if let Some(h) = &s.set_header_route {
            let ok = tr.is_some_and(|t| {
                t.istio.is_some() || t.alb.is_some() || t.apisix.is_some() || !t.plugins.is_empty()
            });
            if !ok {
                errs.push(FieldError::new(
                    format!("{sp}.setHeaderRoute").as_str(),
                    "SetHeaderRoute requires TrafficRouting, supports Istio and ALB and Apisix",
                ));
            } else {
                let alb = tr.is_some_and(|t| t.alb.is_some());
                for (j, m) in h.r#match.iter().enumerate() {
                    string_match_errors(
                        m.header_value.as_ref(),
                        &format!("{sp}.setHeaderRoute.match[{j}]"),
                        alb,
                        errs,
                    );
                }
            }
        }
        if let Some(mr) = &s.set_mirror_route {
            if tr.is_none_or(|t| t.istio.is_none()) {
                errs.push(FieldError::new(
                    format!("{sp}.setMirrorRoute").as_str(),
                    "SetMirrorRoute requires TrafficRouting, supports Istio only",
                ));
            }
            for (j, m) in mr.r#match.iter().enumerate() {
                let mp = format!("{sp}.setMirrorRoute.match[{j}]");
                if let Some(x) = &m.method {
                    string_match_errors(Some(x), &mp, false, errs);
                }
                if let Some(x) = &m.path {
                    string_match_errors(Some(x), &mp, false, errs);
                }
            }
        }
        if let Some(t) = tr {
            let route = s
                .set_header_route
                .as_ref()
                .map(|h| ("setHeaderRoute", &h.name))
                .or(s
                    .set_mirror_route
                    .as_ref()
                    .map(|m| ("setMirrorRoute", &m.name)));
            if let Some((f, name)) = route {
                if t.managed_routes.is_empty() {
                    errs.push(FieldError::new(
                        at("trafficRouting.managedRoutes").as_str(),
                        format!(
                            "{MISSING_FIELD} 'spec.strategy.canary.trafficRouting.managedRoutes'"
                        ),
                    ));
                } else if !t.managed_routes.iter().any(|r| &r.name == name) {
                    errs.push(FieldError::new(
                        format!("{sp}.{f}").as_str(),
                        "Steps define a route that does not exist in spec.strategy.canary.trafficRouting.managedRoutes",
                    ));
                }
            }
        }
        if let Some(e) = &s.experiment {
            for (j, t) in e.templates.iter().enumerate() {
                if t.weight.is_some() {
                    let wp = format!("{sp}.experiment.templates[{j}].weight");
                    match tr {
                        None => errs.push(FieldError::new(
                            wp.as_str(),
                            "Experiment template weight cannot be set unless TrafficRouting is enabled",
                        )),
                        Some(t) if t.alb.is_none() && t.smi.is_none() && t.istio.is_none() => {
                            errs.push(FieldError::new(
                                wp.as_str(),
                                "Experiment template weight is only available for TrafficRouting with SMI, ALB, and Istio at this time",
                            ))
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    validate_anti_affinity(&c.anti_affinity, &at("antiAffinity"), errs);
}

/// Which analysis a template reference belongs to (`AnalysisTemplateType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AnalysisKind {
    Background,
    Inline,
    PrePromotion,
    PostPromotion,
}

struct Refs<'a> {
    kind: AnalysisKind,
    path: String,
    templates: &'a [AnalysisTemplateRef],
    args: &'a [AnalysisRunArgument],
}

/// The analysis references of `validation_references.go`: every template named by the
/// Rollout must exist, and the arguments without a value in the template must be passed.
fn validate_analysis_refs(r: &Rollout, obj: &Object, ctx: &Context<'_>) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let mut refs: Vec<Refs<'_>> = Vec::new();
    if let Some(c) = &r.spec.strategy.canary {
        if let Some(a) = &c.analysis {
            refs.push(Refs {
                kind: AnalysisKind::Background,
                path: "spec.strategy.canary.analysis".into(),
                templates: &a.templates,
                args: &a.args,
            });
        }
        for (i, s) in c.steps.iter().enumerate() {
            if let Some(a) = &s.analysis {
                refs.push(Refs {
                    kind: AnalysisKind::Inline,
                    path: format!("spec.strategy.canary.steps[{i}].analysis"),
                    templates: &a.templates,
                    args: &a.args,
                });
            }
        }
    }
    if let Some(bg) = &r.spec.strategy.blue_green {
        for (kind, f, a) in [
            (
                AnalysisKind::PrePromotion,
                "prePromotionAnalysis",
                &bg.pre_promotion_analysis,
            ),
            (
                AnalysisKind::PostPromotion,
                "postPromotionAnalysis",
                &bg.post_promotion_analysis,
            ),
        ] {
            if let Some(a) = a {
                refs.push(Refs {
                    kind,
                    path: format!("spec.strategy.blueGreen.{f}"),
                    templates: &a.templates,
                    args: &a.args,
                });
            }
        }
    }
    for rf in refs {
        for (j, t) in rf.templates.iter().enumerate() {
            let tp = format!("{}.templates[{j}].templateName", rf.path);
            if t.template_name.is_empty() {
                errs.push(FieldError::new(tp.as_str(), "Required value"));
                continue;
            }
            let kind = if t.cluster_scope {
                "ClusterAnalysisTemplate"
            } else {
                "AnalysisTemplate"
            };
            let ns = if t.cluster_scope {
                None
            } else {
                obj.namespace()
            };
            let Some(tobj) = ctx.set.find(super::GROUP, kind, ns, &t.template_name) else {
                errs.push(FieldError::warning(
                    tp.as_str(),
                    format!("{kind} {:?} not found among the inputs", t.template_name),
                ));
                continue;
            };
            let Ok((tmpl, _)) = crate::decode::decode::<AnalysisTemplate>(tobj.value()) else {
                continue;
            };
            let passed = |name: &str| {
                rf.args
                    .iter()
                    .any(|a| a.name == name && (a.value.is_some() || a.value_from.is_some()))
            };
            for arg in &tmpl.spec.args {
                if arg.value.is_some() || arg.value_from.is_some() || passed(&arg.name) {
                    continue;
                }
                let msg = if rf.kind == AnalysisKind::Background && rf.args.is_empty() {
                    "missing analysis arguments in rollout spec".to_owned()
                } else {
                    format!("args.{} was not resolved", arg.name)
                };
                errs.push(FieldError::new(
                    tp.as_str(),
                    format!("{kind} {}: {msg}", t.template_name),
                ));
            }
            if rf.kind != AnalysisKind::Background {
                for m in &tmpl.spec.metrics {
                    if m.effective_count().is_none() {
                        errs.push(FieldError::new(
                            tp.as_str(),
                            format!(
                                "AnalysisTemplate {} has metric {} which runs indefinitely. Invalid value for count: {}",
                                t.template_name,
                                m.name,
                                m.count.as_ref().map_or("<nil>".to_owned(), |c| c.to_string())
                            ),
                        ));
                    }
                }
            }
        }
    }
    errs
}

/// Validates a `Rollout` object.
pub fn validate(obj: &Object, ctx: &Context<'_>) -> FieldErrors {
    let (r, mut errs) = match crate::decode::decode::<Rollout>(obj.value()) {
        Ok(x) => x,
        Err(e) => return e,
    };
    errs.also(validate_meta(&r.metadata, NameRule::Dns1123Subdomain));
    errs.also(validate_spec(&r));
    errs.also(validate_analysis_refs(&r, obj, ctx));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check_with(v: Value, others: Vec<Value>) -> Vec<String> {
        let obj = Object::new(v);
        let others: Vec<Object> = others.into_iter().map(Object::new).collect();
        let set = crate::ObjectSet::new(std::iter::once(&obj).chain(others.iter()));
        let ctx = Context::new(&set);
        validate(&obj, &ctx)
            .iter()
            .map(|e| format!("{}|{}", e.path, e.message))
            .collect()
    }

    fn rollout(strategy: Value) -> Value {
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "r"},
            "spec": {"selector": {"matchLabels": {"app": "a"}},
                "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
                "strategy": strategy}})
    }

    #[test]
    fn strategy_and_steps() {
        // validation.go ValidateRolloutStrategy / ValidateRolloutStrategyCanary messages.
        assert_eq!(
            check_with(rollout(json!({})), vec![]),
            [
                "spec.strategy|Rollout has missing field '.spec.strategy.canary or .spec.strategy.blueGreen'"
            ]
        );
        assert_eq!(
            check_with(
                rollout(json!({"canary": {}, "blueGreen": {"activeService": "a"}})),
                vec![]
            ),
            ["spec.strategy|Multiple Strategies can not be listed"]
        );
        let errs = check_with(
            rollout(json!({"canary": {"steps": [
                {"setWeight": 120},
                {"setWeight": 10, "pause": {}},
                {},
                {"pause": {"duration": "5x"}},
                {"pause": {"duration": "1h"}},
                {"pause": {"duration": 30}}
            ], "trafficRouting": {"nginx": {"stableIngress": "i"}}}})),
            vec![],
        );
        assert_eq!(
            errs,
            [
                "spec.strategy.canary.stableService|Canary service and Stable service must to be set to use Traffic Routing",
                "spec.strategy.canary.canaryService|Canary service and Stable service must to be set to use Traffic Routing",
                "spec.strategy.canary.steps[0].setWeight|SetWeight needs to be between 0 and 100",
                "spec.strategy.canary.steps[1]|Step must have one of the following set: experiment, setWeight, setCanaryScale or pause",
                "spec.strategy.canary.steps[2]|Step must have one of the following set: experiment, setWeight, setCanaryScale or pause",
                "spec.strategy.canary.steps[3].pause.duration|Duration needs to be greater than 0",
            ]
        );
    }

    #[test]
    fn selector_and_bluegreen() {
        let mut r = rollout(json!({"blueGreen": {"activeService": "s", "previewService": "s"}}));
        r["spec"]["template"]["metadata"]["labels"]["app"] = json!("b");
        assert_eq!(
            check_with(r, vec![]),
            [
                "spec.template.metadata.labels|Invalid value: `selector` does not match template `labels`",
                "spec.strategy.blueGreen.activeService|This rollout uses the same service for the active and preview services, but two different services are required.",
            ]
        );
        let mut r = rollout(json!({"blueGreen": {}}));
        r["spec"].as_object_mut().unwrap().remove("selector");
        assert_eq!(
            check_with(r, vec![]),
            [
                "spec.selector|Rollout has missing field '.spec.selector'",
                "spec.strategy.blueGreen.activeService|Required value",
            ]
        );
    }

    #[test]
    fn analysis_references() {
        // validation_references.go ValidateAnalysisTemplateWithType; factory MergeArgs
        // `args.%s was not resolved`.
        let r = rollout(json!({"canary": {
            "analysis": {"templates": [{"templateName": "bg"}, {"templateName": "absent"}]},
            "steps": [{"analysis": {"templates": [{"templateName": "inline", "clusterScope": true}], "args": [{"name": "x", "value": "1"}]}}]
        }}));
        let bg = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate", "metadata": {"name": "bg"},
            "spec": {"args": [{"name": "svc"}], "metrics": [{"name": "m", "provider": {"web": {"url": "u"}}}]}});
        let inline = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "ClusterAnalysisTemplate", "metadata": {"name": "inline"},
            "spec": {"args": [{"name": "x"}, {"name": "y"}], "metrics": [{"name": "m", "interval": "1m", "provider": {"web": {"url": "u"}}}]}});
        assert_eq!(
            check_with(r, vec![bg, inline]),
            [
                "spec.strategy.canary.analysis.templates[0].templateName|AnalysisTemplate bg: missing analysis arguments in rollout spec",
                "spec.strategy.canary.analysis.templates[1].templateName|AnalysisTemplate \"absent\" not found among the inputs",
                "spec.strategy.canary.steps[0].analysis.templates[0].templateName|ClusterAnalysisTemplate inline: args.y was not resolved",
                "spec.strategy.canary.steps[0].analysis.templates[0].templateName|AnalysisTemplate inline has metric m which runs indefinitely. Invalid value for count: <nil>",
            ]
        );
    }
}
