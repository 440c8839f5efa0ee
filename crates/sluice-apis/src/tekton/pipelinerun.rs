//! PipelineRun (tektoncd/pipeline `pipelinerun_types.go`, `pipelinerun_defaults.go`,
//! `pipelinerun_validation.go`).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::{FieldError, FieldErrors, Object};

use super::FeatureFlags;
use super::param::{Param, ParamType, ParamValue, validate_params_unique};
use super::pipeline::{PipelineSpec, PipelineTaskMetadata};
use super::refs::PipelineRef;
use super::step::parse_duration;
use super::taskrun::{TaskRunSidecarSpec, TaskRunStepSpec};
use super::workspace::{WorkspaceBinding, validate_bindings};
use crate::Context;
use crate::meta::{NameRule, ObjectMeta, validate_meta};

/// `PipelineRun`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineRun {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: PipelineRunSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

/// `TimeoutFields`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeoutFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finally: Option<String>,
}

/// `PipelineTaskRunTemplate`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineTaskRunTemplate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_account_name: String,
}

/// `PipelineTaskRunSpec`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineTaskRunSpec {
    #[serde(default)]
    pub pipeline_task_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_account_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub step_specs: Vec<TaskRunStepSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sidecar_specs: Vec<TaskRunSidecarSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<PipelineTaskMetadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_resources: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

/// `PipelineRunSpec`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineRunSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_ref: Option<PipelineRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_spec: Option<PipelineSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<Param>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<TimeoutFields>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_run_template: Option<PipelineTaskRunTemplate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workspaces: Vec<WorkspaceBinding>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub task_run_specs: Vec<PipelineTaskRunSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
}

impl PipelineRunSpec {
    /// `PipelineRunSpec.SetDefaults`: `timeouts.pipeline` from `default-timeout-minutes`,
    /// the service account from `default-service-account`, the embedded spec's defaults.
    pub fn set_defaults(&mut self, flags: &FeatureFlags) {
        let t = self.timeouts.get_or_insert_with(TimeoutFields::default);
        if t.pipeline.is_none() {
            t.pipeline = Some(flags.default_timeout());
        }
        let trt = self
            .task_run_template
            .get_or_insert_with(PipelineTaskRunTemplate::default);
        if trt.service_account_name.is_empty() {
            trt.service_account_name = flags.default_service_account.clone();
        }
        if let Some(ps) = &mut self.pipeline_spec {
            ps.set_defaults();
        }
    }

    /// `PipelineRunSpec.Validate`. Paths relative to the spec.
    pub fn validate(&self, flags: &FeatureFlags) -> FieldErrors {
        let mut errs = FieldErrors::new();
        match (&self.pipeline_ref, &self.pipeline_spec) {
            (None, None) => errs.also(FieldError::missing_one_of(
                "",
                &["pipelineRef", "pipelineSpec"],
            )),
            (Some(_), Some(_)) => errs.also(FieldError::multiple_one_of(
                "",
                &["pipelineRef", "pipelineSpec"],
            )),
            (Some(r), None) => errs.also(r.validate(flags).via_field("pipelineRef")),
            (None, Some(s)) => {
                let propagated: Vec<String> =
                    self.workspaces.iter().map(|w| w.name.clone()).collect();
                errs.also(
                    s.validate_with(flags, None, &propagated)
                        .via_field("pipelineSpec"),
                )
            }
        };
        errs.also(validate_params_unique(&self.params).via_field("params"));
        if !matches!(
            self.status.as_str(),
            "" | "Cancelled" | "CancelledRunFinally" | "StoppedRunFinally" | "PipelineRunPending"
        ) {
            errs.push(FieldError::invalid("status", format!("{}: status should be \"Cancelled\", \"CancelledRunFinally\", \"StoppedRunFinally\" or \"PipelineRunPending\"", self.status)));
        }
        if let Some(t) = &self.timeouts {
            let mut parsed = [None, None, None];
            for (k, (name, v)) in [
                ("pipeline", &t.pipeline),
                ("tasks", &t.tasks),
                ("finally", &t.finally),
            ]
            .into_iter()
            .enumerate()
            {
                if let Some(v) = v {
                    match parse_duration(v) {
                        None => {
                            errs.push(FieldError::invalid(format!("timeouts.{name}").as_str(), v))
                        }
                        Some(d) if d < 0.0 => errs.push(FieldError::invalid(
                            format!("timeouts.{name}").as_str(),
                            format!("{v} should be >= 0"),
                        )),
                        Some(d) => parsed[k] = Some(d),
                    }
                }
            }
            if let [Some(p), tasks, finally] = parsed
                && p > 0.0
            {
                if let Some(tk) = tasks
                    && (tk > p || tk == 0.0)
                {
                    errs.push(FieldError::invalid(
                        "timeouts.tasks",
                        format!(
                            "{} should be <= pipeline duration",
                            t.tasks.as_deref().unwrap_or("")
                        ),
                    ));
                }
                if let Some(f) = finally
                    && (f > p || f == 0.0)
                {
                    errs.push(FieldError::invalid(
                        "timeouts.finally",
                        format!(
                            "{} should be <= pipeline duration",
                            t.finally.as_deref().unwrap_or("")
                        ),
                    ));
                }
                if let (Some(tk), Some(f)) = (tasks, finally)
                    && tk + f > p
                {
                    errs.push(FieldError::invalid(
                        "timeouts",
                        format!(
                            "{} + {} should be <= pipeline duration",
                            t.tasks.as_deref().unwrap_or(""),
                            t.finally.as_deref().unwrap_or("")
                        ),
                    ));
                }
            }
        }
        errs.also(validate_bindings(&self.workspaces).via_field("workspaces"));
        let mut seen = BTreeSet::new();
        for (i, s) in self.task_run_specs.iter().enumerate() {
            if !seen.insert(s.pipeline_task_name.as_str()) {
                errs.push(FieldError::new(
                    format!("taskRunSpecs[{i}].pipelineTaskName").as_str(),
                    format!(
                        "pipelineTaskName {:?} appears more than once",
                        s.pipeline_task_name
                    ),
                ));
            }
            if let Some(t) = &s.timeout
                && parse_duration(t).is_none_or(|d| d < 0.0)
            {
                errs.push(FieldError::invalid(
                    format!("taskRunSpecs[{i}].timeout").as_str(),
                    t,
                ));
            }
        }
        errs
    }
}

/// A run's params and workspaces against what the Pipeline (or Task) declares.
///
/// With an embedded spec (`propagated`), params and workspaces the spec does not declare are
/// propagated into it (Tekton's propagated parameters and workspaces, docs/pipelineruns.md
/// "Propagated Parameters"), so they are not reported as unused.
pub fn check_run_against(
    params: &[Param],
    workspaces: &[WorkspaceBinding],
    decl_params: &[super::param::ParamSpec],
    decl_workspaces: &[(String, bool)],
    what: &str,
    propagated: bool,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let missing: Vec<&str> = decl_params
        .iter()
        .filter(|p| p.default.is_none() && !params.iter().any(|q| q.name == p.name))
        .map(|p| p.name.as_str())
        .collect();
    if !missing.is_empty() {
        errs.push(FieldError::new(
            "params",
            format!(
                "missing parameters: [{}] ({what} declares them without a default)",
                missing.join(" ")
            ),
        ));
    }
    for (j, p) in params.iter().enumerate() {
        let Some(d) = decl_params.iter().find(|d| d.name == p.name) else {
            if propagated {
                continue;
            }
            errs.push(FieldError::warning(
                format!("params[{j}].name").as_str(),
                format!(
                    "param {:?} is not declared by {what}; Tekton ignores it",
                    p.name
                ),
            ));
            continue;
        };
        let want = d.effective_type();
        let ok = match (&p.value, want.as_str()) {
            (ParamValue::String(_), ParamType::STRING) => true,
            (ParamValue::String(s), _) => sluice_expr::tekton::whole_reference(s).is_some(),
            (v, w) => v.type_().as_str() == w,
        };
        if !ok {
            errs.push(FieldError::new(
                format!("params[{j}].value").as_str(),
                format!("param types don't match the user-specified type: [{}] ({what} declares it {:?}, got {:?})", p.name, want.0, p.value.type_().0),
            ));
        }
    }
    for (name, optional) in decl_workspaces {
        if !optional && !workspaces.iter().any(|w| &w.name == name) {
            errs.push(FieldError::new(
                "workspaces",
                format!("{what} requires workspace with name {name:?} be provided"),
            ));
        }
    }
    for (j, w) in workspaces.iter().enumerate() {
        if !propagated && !decl_workspaces.iter().any(|(n, _)| *n == w.name) {
            errs.push(FieldError::warning(
                format!("workspaces[{j}].name").as_str(),
                format!(
                    "workspace {:?} is not declared by {what}; Tekton ignores it",
                    w.name
                ),
            ));
        }
    }
    errs
}

/// Decodes a PipelineRun of either version as v1.
pub fn pipelinerun_from_object(obj: &Object) -> Result<(PipelineRun, FieldErrors), FieldErrors> {
    super::decode_versioned(obj, "PipelineRun")
}

/// Validates a PipelineRun object.
pub fn validate_object(obj: &Object, ctx: &Context<'_>) -> FieldErrors {
    let (mut pr, mut errs) = match pipelinerun_from_object(obj) {
        Ok(t) => t,
        Err(e) => return e,
    };
    let flags = ctx.tekton_flags();
    pr.spec.set_defaults(flags);
    errs.also(validate_meta(&pr.metadata, NameRule::Dns1123SubdomainMax63));
    let mut spec_errs = pr.spec.validate(flags);
    let ns = obj.namespace();
    let resolved: Option<(PipelineSpec, String)> = if let Some(s) = &pr.spec.pipeline_spec {
        // Cross-object checks of the embedded spec (Tasks it references).
        let propagated: Vec<String> = pr.spec.workspaces.iter().map(|w| w.name.clone()).collect();
        let cross = s.validate_with(flags, Some((ctx, ns)), &propagated);
        let base = s.validate_with(flags, None, &propagated);
        spec_errs.also(
            cross
                .0
                .into_iter()
                .filter(|e| !base.0.contains(e))
                .map(|e| e.via_field("pipelineSpec"))
                .collect::<Vec<_>>(),
        );
        Some((s.clone(), "pipelineSpec".to_owned()))
    } else if let Some(r) = pr.spec.pipeline_ref.as_ref().filter(|r| r.is_local()) {
        match ctx.set.find(super::GROUP, "Pipeline", ns, &r.name) {
            None => {
                spec_errs.push(FieldError::warning(
                    "pipelineRef.name",
                    format!("Pipeline {:?} not found among the inputs", r.name),
                ));
                None
            }
            Some(o) => super::pipeline::pipeline_from_object(o)
                .ok()
                .map(|(mut p, _)| {
                    p.spec.set_defaults();
                    (p.spec, format!("Pipeline {:?}", r.name))
                }),
        }
    } else {
        None
    };
    if let Some((spec, what)) = resolved {
        let ws: Vec<(String, bool)> = spec
            .workspaces
            .iter()
            .map(|w| (w.name.clone(), w.optional == Some(true)))
            .collect();
        spec_errs.also(check_run_against(
            &pr.spec.params,
            &pr.spec.workspaces,
            &spec.params,
            &ws,
            &what,
            pr.spec.pipeline_spec.is_some(),
        ));
        let names: BTreeSet<&str> = spec
            .tasks
            .iter()
            .chain(spec.finally.iter())
            .map(|t| t.name.as_str())
            .collect();
        for (i, s) in pr.spec.task_run_specs.iter().enumerate() {
            if !names.contains(s.pipeline_task_name.as_str()) {
                spec_errs.push(FieldError::warning(
                    format!("taskRunSpecs[{i}].pipelineTaskName").as_str(),
                    format!("{what} has no task {:?}", s.pipeline_task_name),
                ));
            }
        }
    }
    errs.also(spec_errs.via_field("spec"));
    errs
}
