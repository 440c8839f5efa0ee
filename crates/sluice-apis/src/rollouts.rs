//! TODO(foundation): typed models and validation.

use sluice_core::{FieldErrors, Object};

use crate::Context;

/// Validates `obj` when this module owns its kind; `None` otherwise.
pub fn validate(_obj: &Object, _ctx: &Context<'_>) -> Option<FieldErrors> {
    None
}
