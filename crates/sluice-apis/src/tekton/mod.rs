//! Tekton Pipelines (tekton.dev/v1, and the v1beta1 forms converted to v1), modelled on
//! tektoncd/pipeline `pkg/apis/pipeline/v1`: one file per kind with its types, defaults and
//! validation, plus the shared parts (params, steps, workspaces, results, when, matrix).
//!
//! Each kind has a `<kind>_from_object` that accepts either served version and returns the
//! v1 typed value (and the unknown fields met while decoding), for the pipeline engine.

mod feature_flags;
pub mod matrix;
pub mod param;
pub mod pipeline;
pub mod pipelinerun;
pub mod refs;
pub mod result;
pub mod step;
pub mod stepaction;
pub mod task;
pub mod taskrun;
pub mod v1beta1;
pub mod vars;
pub mod when;
pub mod workspace;

pub use feature_flags::FeatureFlags;
pub use pipeline::{Pipeline, PipelineSpec, PipelineTask, pipeline_from_object};
pub use pipelinerun::{PipelineRun, PipelineRunSpec, pipelinerun_from_object};
pub use stepaction::{StepAction, StepActionSpec, stepaction_from_object};
pub use task::{Task, TaskSpec, task_from_object};
pub use taskrun::{TaskRun, TaskRunSpec, taskrun_from_object};

use serde::de::DeserializeOwned;
use sluice_core::{FieldError, FieldErrors, Object};

use crate::Context;

/// The API group.
pub const GROUP: &str = "tekton.dev";

/// An `enable-api-fields` level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ApiLevel {
    Stable,
    Beta,
    Alpha,
}

/// `config.ValidateEnabledAPIFields`: an error (at the root of the returned errors, to be
/// prefixed by the caller) when `feature` needs a higher `enable-api-fields` level.
pub fn api_fields(flags: &FeatureFlags, feature: &str, want: ApiLevel) -> FieldErrors {
    let cur = flags.api_level();
    if cur >= want {
        return FieldErrors::new();
    }
    let msg = match want {
        ApiLevel::Alpha => format!(
            "{feature} requires \"enable-api-fields\" feature gate to be \"alpha\" but it is {:?}",
            flags.enable_api_fields
        ),
        _ => format!(
            "{feature} requires \"enable-api-fields\" feature gate to be \"alpha\" or \"beta\" but it is {:?}",
            flags.enable_api_fields
        ),
    };
    FieldError::new("", msg).into()
}

/// Decodes `obj` as `T` (v1 shape). For v1beta1 objects `convert` first rewrites the value
/// into its v1 form (field renames), its findings added to the decode's.
pub(crate) fn decode_versioned<T: DeserializeOwned>(
    obj: &Object,
    kind: &str,
) -> Result<(T, FieldErrors), FieldErrors> {
    let version = obj.gvk().version;
    let (value, mut notes) = match version.as_str() {
        "v1beta1" | "v1alpha1" => v1beta1::to_v1(kind, obj.value()),
        _ => (obj.value().clone(), FieldErrors::new()),
    };
    match crate::decode::decode::<T>(&value) {
        Ok((t, unknown)) => {
            notes.also(unknown);
            Ok((t, notes))
        }
        Err(e) => {
            notes.also(e);
            Err(notes)
        }
    }
}

/// Validates `obj` when it is a tekton.dev kind; `None` otherwise.
pub fn validate(obj: &Object, ctx: &Context<'_>) -> Option<FieldErrors> {
    let gvk = obj.gvk();
    if gvk.group != GROUP {
        return None;
    }
    let version_ok = |ok: &[&str]| ok.contains(&gvk.version.as_str());
    let errs = match gvk.kind.as_str() {
        "Task" if version_ok(&["v1", "v1beta1"]) => task::validate_object(obj, ctx),
        "Pipeline" if version_ok(&["v1", "v1beta1"]) => pipeline::validate_object(obj, ctx),
        "PipelineRun" if version_ok(&["v1", "v1beta1"]) => pipelinerun::validate_object(obj, ctx),
        "TaskRun" if version_ok(&["v1", "v1beta1"]) => taskrun::validate_object(obj, ctx),
        "StepAction" if version_ok(&["v1beta1", "v1alpha1"]) => {
            stepaction::validate_object(obj, ctx)
        }
        // Other tekton.dev kinds (CustomRun, ClusterTask, ResolutionRequest...) are not
        // modelled here.
        "Task" | "Pipeline" | "PipelineRun" | "TaskRun" | "StepAction" => FieldError::new(
            "apiVersion",
            format!(
                "no matches for kind {:?} in version {:?}",
                gvk.kind,
                gvk.api_version()
            ),
        )
        .into(),
        _ => return None,
    };
    Some(errs)
}
