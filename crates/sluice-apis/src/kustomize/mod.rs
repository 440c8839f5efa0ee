//! Kustomize kustomization files: `kustomize.config.k8s.io/v1beta1` `Kustomization` and
//! `kustomize.config.k8s.io/v1alpha1` `Component`. A `kustomization.yaml` may omit
//! `apiVersion` and `kind`; callers that load one inject them before validating.

pub mod kustomization;

pub use kustomization::{
    COMPONENT_KIND, COMPONENT_VERSION, GeneratorArgs, GeneratorOptions, Image, KUSTOMIZATION_KIND,
    KUSTOMIZATION_VERSION, Kustomization, Label, Patch, Replica, Selector,
};

use sluice_core::{FieldErrors, Object};

use crate::Context;

/// The API group of kustomization files.
pub const GROUP: &str = "kustomize.config.k8s.io";

/// Validates `obj` when it is a kustomization file; `None` otherwise.
pub fn validate(obj: &Object, _ctx: &Context<'_>) -> Option<FieldErrors> {
    if obj.gvk().group != GROUP {
        return None;
    }
    Some(kustomization::validate(obj))
}
