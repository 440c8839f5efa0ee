//! Tekton Pipelines (tekton.dev/v1, and the v1beta1 forms converted to v1).

mod feature_flags;

pub use feature_flags::FeatureFlags;

use sluice_core::{FieldErrors, Object};

use crate::Context;

/// Validates `obj` when it is a tekton.dev kind; `None` otherwise.
pub fn validate(_obj: &Object, _ctx: &Context<'_>) -> Option<FieldErrors> {
    None
}
