//! Sluice's object model: the pieces every other crate stands on.
//!
//! - [`yaml`]: multi-document YAML/JSON loading into a spanned [`yaml::Node`] tree and a
//!   `serde_json::Value`, with hard limits (alias expansion, nesting depth, document size).
//! - [`object`]: the unstructured [`Object`], [`Gvk`] and [`ResourceKey`].
//! - [`field`]: field paths and collected validation errors (Tekton/knative `FieldError` style).
//! - [`selector`]: label selectors (string form, matchLabels/matchExpressions) and field selectors.
//! - [`names`]: Kubernetes name and label validation (DNS-1123, qualified names).
//!
//! Architecture invariant: this crate does no I/O beyond what the caller hands it (strings),
//! uses no async runtime, and depends on no other Sluice crate.

pub mod civil;
pub mod duration;
pub mod emit;
pub mod field;
pub mod gojson;
pub mod json;
pub mod names;
pub mod object;
pub mod selector;
pub mod yaml;

pub use field::{FieldError, FieldErrors, FieldPath, InnerError, PathSeg, Severity};
pub use object::{Gvk, LoadedObject, Object, ResourceKey};
pub use yaml::{Limits, LoadError, MAX_FILE_BYTES, Node, Pos};
