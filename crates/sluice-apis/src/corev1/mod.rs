//! Kustomize (placeholder while being written).
use sluice_core::{FieldErrors, Object};

use crate::Context;

pub fn validate(_obj: &Object, _ctx: &Context<'_>) -> Option<FieldErrors> {
    None
}
