//! Argo Rollouts (argoproj.io/v1alpha1): `Rollout`, `AnalysisTemplate`,
//! `ClusterAnalysisTemplate`, `AnalysisRun`, one file per kind with its types, defaults and
//! validation.

pub mod analysis;
pub mod rollout;

pub use analysis::{AnalysisRun, AnalysisTemplate, AnalysisTemplateSpec};
pub use rollout::Rollout;

use sluice_core::{FieldErrors, Object};

use crate::Context;

pub const GROUP: &str = "argoproj.io";

/// Validates `obj` when it is an Argo Rollouts kind; `None` otherwise.
pub fn validate(obj: &Object, ctx: &Context<'_>) -> Option<FieldErrors> {
    if obj.gvk().group != GROUP {
        return None;
    }
    match obj.kind() {
        "Rollout" => Some(rollout::validate(obj, ctx)),
        "AnalysisTemplate" | "ClusterAnalysisTemplate" => {
            Some(analysis::validate_template(obj, ctx))
        }
        "AnalysisRun" => Some(analysis::validate_run(obj, ctx)),
        _ => None,
    }
}

pub use sluice_core::duration::parse_go_duration;
