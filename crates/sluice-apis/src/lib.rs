//! Typed upstream APIs with upstream defaults and validation, one module per API group and
//! one file per kind (`<kind>` types, defaults and validation side by side), in the manner of
//! tektoncd/pipeline `pkg/apis/pipeline/v1`.
//!
//! [`validate`] validates every object of an [`ObjectSet`] (the files a user hands
//! `sluice validate`, or the objects of a `sluice run`): each object on its own, plus the
//! references between them (taskRef -> Task, binding/template refs, StepAction refs...).
//!
//! Architecture invariant: no I/O. Values in, findings out.

pub mod argocd;
pub mod corev1;
pub mod decode;
pub mod kustomize;
pub mod kyverno;
pub mod manifests;
pub mod meta;
pub mod rollouts;
pub mod set;
pub mod tekton;
pub mod triggers;

pub use set::{Context, Finding, ObjectSet};

/// Validates every object in `set`. Findings are ordered by object, then as found.
pub fn validate(set: &ObjectSet<'_>) -> Vec<Finding> {
    let ctx = Context::new(set);
    let mut out = Vec::new();
    for (index, obj) in set.objects().iter().enumerate() {
        let errs = validate_one(obj, &ctx);
        out.extend(errs.into_iter().map(|error| Finding {
            object: index,
            error,
        }));
    }
    out
}

/// Validates one object in the context of its set. Kinds no module knows get no findings.
pub fn validate_one(obj: &sluice_core::Object, ctx: &Context<'_>) -> sluice_core::FieldErrors {
    tekton::validate(obj, ctx)
        .or_else(|| triggers::validate(obj, ctx))
        .or_else(|| argocd::validate(obj, ctx))
        .or_else(|| rollouts::validate(obj, ctx))
        .or_else(|| kyverno::validate(obj, ctx))
        .or_else(|| kustomize::validate(obj, ctx))
        .or_else(|| corev1::validate(obj, ctx))
        .unwrap_or_default()
}
