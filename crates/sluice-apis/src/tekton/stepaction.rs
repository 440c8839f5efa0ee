//! StepAction (tekton.dev/v1beta1, also accepted as v1alpha1; tektoncd/pipeline
//! `pkg/apis/pipeline/v1beta1/stepaction_types.go`, `stepaction_validation.go`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::{FieldError, FieldErrors, FieldPath, Object};

use super::param::{ParamSpec, validate_param_specs};
use super::result::StepResult;
use super::step::{EnvVar, Step, VolumeMount};
use super::vars::{Checks, Scope, check_string};
use crate::Context;
use crate::meta::{NameRule, ObjectMeta, validate_meta};

/// `StepAction`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepAction {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: StepActionSpec,
}

/// `StepActionSpec`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepActionSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub script: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<ParamSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<StepResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
}

impl StepActionSpec {
    pub fn set_defaults(&mut self) {
        for p in &mut self.params {
            p.set_defaults();
        }
    }

    /// `StepActionSpec.Validate`. Paths relative to the spec.
    pub fn validate(&self, flags: &super::FeatureFlags) -> FieldErrors {
        let mut errs = FieldErrors::new();
        if self.image.is_empty() {
            errs.push(FieldError::missing("image"));
        }
        if !self.script.is_empty() && !self.command.is_empty() {
            errs.push(FieldError::new(
                "script",
                "script cannot be used with command",
            ));
        }
        errs.also(validate_param_specs(&self.params, flags));
        for (i, r) in self.results.iter().enumerate() {
            errs.also(r.validate().via_index(i).via_field("results"));
        }
        // Params must be declared; results via $(step.results.x.path).
        let as_step = Step {
            image: self.image.clone(),
            command: self.command.clone(),
            args: self.args.clone(),
            env: self.env.clone(),
            script: self.script.clone(),
            working_dir: self.working_dir.clone(),
            volume_mounts: self.volume_mounts.clone(),
            ..Step::default()
        };
        let scope = Scope::new(&self.params);
        let checks = Checks {
            declared_params: true,
            declared_workspaces: false,
        };
        for (rel, s, in_list) in as_step.strings() {
            errs.also(check_string(
                &FieldPath::parse(&rel),
                s,
                in_list,
                false,
                &scope,
                checks,
            ));
        }
        let names: std::collections::BTreeSet<&str> =
            self.results.iter().map(|r| r.name.as_str()).collect();
        for r in sluice_expr::tekton::references(&self.script) {
            if let sluice_expr::tekton::Var::StepResultPath { name } = r.var()
                && !names.contains(name)
            {
                errs.push(FieldError::new(
                    "script",
                    format!("non-existent variable in {:?}", self.script),
                ));
                break;
            }
        }
        errs
    }
}

/// A step's params against the StepAction's declarations: required ones provided.
pub fn check_step_params(step: &Step, sa: &StepActionSpec) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let missing: Vec<&str> = sa
        .params
        .iter()
        .filter(|p| p.default.is_none() && !step.params.iter().any(|q| q.name == p.name))
        .map(|p| p.name.as_str())
        .collect();
    if !missing.is_empty() {
        errs.push(FieldError::new(
            "params",
            format!("missing parameters: [{}]", missing.join(" ")),
        ));
    }
    errs
}

/// Decodes a StepAction (v1beta1 or v1alpha1).
pub fn stepaction_from_object(obj: &Object) -> Result<(StepAction, FieldErrors), FieldErrors> {
    crate::decode::decode(obj.value())
}

/// Validates a StepAction object.
pub fn validate_object(obj: &Object, ctx: &Context<'_>) -> FieldErrors {
    let (mut sa, mut errs) = match stepaction_from_object(obj) {
        Ok(t) => t,
        Err(e) => return e,
    };
    sa.spec.set_defaults();
    errs.also(validate_meta(&sa.metadata, NameRule::Dns1123SubdomainMax63));
    errs.also(sa.spec.validate(ctx.tekton_flags()).via_field("spec"));
    errs
}
