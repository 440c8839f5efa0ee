//! Kyverno policies (`kyverno.io/v1` and `kyverno.io/v2beta1` `ClusterPolicy` and `Policy`):
//! types, defaults and the checks Kyverno's admission webhook runs on a policy
//! (`pkg/validation/policy/validate.go`), plus lints for patterns that Kyverno accepts but
//! that reject more than their author meant.

pub mod expressions;
pub mod pattern;
pub mod policy;
pub mod rule;

pub use policy::{KyvernoPolicy, Spec, ValidationFailureActionOverride, WebhookConfiguration};
pub use rule::{
    AnyAllConditions, Condition, ContextEntry, Deny, ForEachValidation, MatchResources,
    ResourceDescription, ResourceFilter, Rule, Validation,
};

use sluice_core::{FieldErrors, Object};

use crate::Context;

/// The API group of Kyverno policies.
pub const GROUP: &str = "kyverno.io";

/// Validates `obj` when it is a Kyverno `ClusterPolicy`/`Policy`; `None` otherwise.
pub fn validate(obj: &Object, _ctx: &Context<'_>) -> Option<FieldErrors> {
    let gvk = obj.gvk();
    if gvk.group != GROUP || !matches!(gvk.version.as_str(), "v1" | "v2beta1") {
        return None;
    }
    match gvk.kind.as_str() {
        "ClusterPolicy" | "Policy" => Some(policy::validate(obj)),
        _ => None,
    }
}
