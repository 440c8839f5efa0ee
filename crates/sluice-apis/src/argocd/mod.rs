//! Argo CD (argoproj.io/v1alpha1): `Application`, `ApplicationSet`, `AppProject`, one file
//! per kind with its types, defaults and validation.

pub mod application;
pub mod applicationset;
pub mod appproject;

pub use application::{Application, ApplicationSpec};
pub use applicationset::{ApplicationSet, unused_generator_params};
pub use appproject::AppProject;

use sluice_core::{FieldErrors, Object};

use crate::Context;

/// The API group of Argo CD and Argo Rollouts kinds.
pub const GROUP: &str = "argoproj.io";

/// Validates `obj` when it is an Argo CD kind; `None` otherwise.
pub fn validate(obj: &Object, ctx: &Context<'_>) -> Option<FieldErrors> {
    if obj.gvk().group != GROUP {
        return None;
    }
    match obj.kind() {
        "Application" => Some(application::validate(obj, ctx)),
        "ApplicationSet" => Some(applicationset::validate(obj, ctx)),
        "AppProject" => Some(appproject::validate(obj, ctx)),
        _ => None,
    }
}
