//! TaskRun (tektoncd/pipeline `taskrun_types.go`, `taskrun_defaults.go`, `taskrun_validation.go`).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::{FieldError, FieldErrors, Object};

use super::param::{Param, validate_params_unique};
use super::pipelinerun::check_run_against;
use super::refs::TaskRef;
use super::step::parse_duration;
use super::task::TaskSpec;
use super::vars::Checks;
use super::workspace::{WorkspaceBinding, validate_bindings};
use super::{ApiLevel, FeatureFlags, api_fields};
use crate::Context;
use crate::meta::{NameRule, ObjectMeta, validate_meta};

/// `TaskRun`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRun {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: TaskRunSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

/// `TaskRunDebug`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRunDebug {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub breakpoints: Vec<String>,
}

/// `TaskRunStepSpec` (v1beta1 `stepOverrides`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRunStepSpec {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_resources: Option<Value>,
}

/// `TaskRunSidecarSpec` (v1beta1 `sidecarOverrides`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRunSidecarSpec {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_resources: Option<Value>,
}

/// `TaskRunSpec`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRunSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug: Option<TaskRunDebug>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<Param>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_account_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_ref: Option<TaskRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_spec: Option<TaskSpec>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status_message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workspaces: Vec<WorkspaceBinding>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub step_specs: Vec<TaskRunStepSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sidecar_specs: Vec<TaskRunSidecarSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_resources: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
}

impl TaskRunSpec {
    /// `TaskRunSpec.SetDefaults`: timeout from `default-timeout-minutes`, service account,
    /// taskRef kind, embedded spec defaults.
    pub fn set_defaults(&mut self, flags: &FeatureFlags) {
        if self.timeout.is_none() {
            self.timeout = Some(flags.default_timeout());
        }
        if self.service_account_name.is_empty() {
            self.service_account_name = flags.default_service_account.clone();
        }
        if let Some(r) = &mut self.task_ref
            && r.kind.is_empty()
            && r.resolver.is_empty()
        {
            r.kind = "Task".to_owned();
        }
        if let Some(s) = &mut self.task_spec {
            s.set_defaults();
        }
    }

    /// `TaskRunSpec.Validate`. Paths relative to the spec.
    pub fn validate(&self, flags: &FeatureFlags) -> FieldErrors {
        let mut errs = FieldErrors::new();
        match (&self.task_ref, &self.task_spec) {
            (None, None) => errs.also(FieldError::missing_one_of("", &["taskRef", "taskSpec"])),
            (Some(_), Some(_)) => {
                errs.also(FieldError::multiple_one_of("", &["taskRef", "taskSpec"]))
            }
            (Some(r), None) => errs.also(r.validate(flags).via_field("taskRef")),
            (None, Some(s)) => {
                let checks = Checks {
                    declared_params: false,
                    declared_workspaces: false,
                };
                errs.also(s.validate(flags, checks).via_field("taskSpec"))
            }
        };
        errs.also(validate_params_unique(&self.params).via_field("params"));
        errs.also(validate_bindings(&self.workspaces).via_field("workspaces"));
        if !matches!(self.status.as_str(), "" | "TaskRunCancelled") {
            errs.push(FieldError::invalid(
                "status",
                format!("{}: status should be \"TaskRunCancelled\"", self.status),
            ));
        }
        if let Some(t) = &self.timeout {
            match parse_duration(t) {
                None => errs.push(FieldError::invalid("timeout", t)),
                Some(d) if d < 0.0 => errs.push(FieldError::invalid(
                    "timeout",
                    format!("{t} should be >= 0"),
                )),
                _ => {}
            }
        }
        if let Some(r) = self.retries
            && r < 0
        {
            errs.push(FieldError::invalid(
                "retries",
                format!("{r} should be >= 0"),
            ));
        }
        if self.debug.is_some() {
            errs.also(api_fields(flags, "debug", ApiLevel::Alpha).via_field("debug"));
        }
        let mut seen = BTreeSet::new();
        for (i, s) in self.step_specs.iter().enumerate() {
            if s.name.is_empty() {
                errs.push(FieldError::missing(format!("stepSpecs[{i}].name").as_str()));
            } else if !seen.insert(s.name.as_str()) {
                errs.push(FieldError::new(
                    format!("stepSpecs[{i}].name").as_str(),
                    format!("must be unique: {}", s.name),
                ));
            }
        }
        let mut seen = BTreeSet::new();
        for (i, s) in self.sidecar_specs.iter().enumerate() {
            if s.name.is_empty() {
                errs.push(FieldError::missing(
                    format!("sidecarSpecs[{i}].name").as_str(),
                ));
            } else if !seen.insert(s.name.as_str()) {
                errs.push(FieldError::new(
                    format!("sidecarSpecs[{i}].name").as_str(),
                    format!("must be unique: {}", s.name),
                ));
            }
        }
        if self.compute_resources.is_some() {
            errs.also(
                api_fields(flags, "computeResources", ApiLevel::Beta).via_field("computeResources"),
            );
            if self
                .step_specs
                .iter()
                .any(|s| s.compute_resources.is_some())
            {
                errs.push(FieldError::multiple_one_of(
                    "",
                    &["stepSpecs.resources", "computeResources"],
                ));
            }
        }
        errs
    }
}

/// Decodes a TaskRun of either version as v1.
pub fn taskrun_from_object(obj: &Object) -> Result<(TaskRun, FieldErrors), FieldErrors> {
    super::decode_versioned(obj, "TaskRun")
}

/// Validates a TaskRun object.
pub fn validate_object(obj: &Object, ctx: &Context<'_>) -> FieldErrors {
    let (mut tr, mut errs) = match taskrun_from_object(obj) {
        Ok(t) => t,
        Err(e) => return e,
    };
    let flags = ctx.tekton_flags();
    tr.spec.set_defaults(flags);
    errs.also(validate_meta(&tr.metadata, NameRule::Dns1123SubdomainMax63));
    let mut spec_errs = tr.spec.validate(flags);
    let ns = obj.namespace();
    let resolved: Option<(TaskSpec, String)> = if let Some(s) = &tr.spec.task_spec {
        spec_errs
            .also(super::task::validate_volume_sources(&s.volumes, ns, ctx).via_field("taskSpec"));
        spec_errs.also(
            super::task::validate_step_refs(&s.steps, ns, ctx)
                .via_field("steps")
                .via_field("taskSpec"),
        );
        Some((s.clone(), "taskSpec".to_owned()))
    } else if let Some(r) = tr.spec.task_ref.as_ref().filter(|r| r.is_local()) {
        match ctx.set.find(super::GROUP, "Task", ns, &r.name) {
            None => {
                spec_errs.push(FieldError::warning(
                    "taskRef.name",
                    format!("Task {:?} not found among the inputs", r.name),
                ));
                None
            }
            Some(o) => super::task::task_from_object(o).ok().map(|(mut t, _)| {
                t.spec.set_defaults();
                (t.spec, format!("Task {:?}", r.name))
            }),
        }
    } else {
        None
    };
    if let Some((spec, what)) = resolved {
        let ws: Vec<(String, bool)> = spec
            .workspaces
            .iter()
            .map(|w| (w.name.clone(), w.is_optional()))
            .collect();
        spec_errs.also(check_run_against(
            &tr.spec.params,
            &tr.spec.workspaces,
            &spec.params,
            &ws,
            &what,
            tr.spec.task_spec.is_some(),
        ));
    }
    errs.also(spec_errs.via_field("spec"));
    errs
}
