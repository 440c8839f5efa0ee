//! Pure string functions for the template languages users write:
//!
//! - [`tekton`]: Tekton's `$(...)` variable references: finding them, classifying them
//!   (`params`, `tasks.*.results`, `context`, `workspaces`...), and single-pass substitution,
//!   as tektoncd/pipeline `pkg/substitution` does it.
//!
//! - [`appset`]: ApplicationSet templates: fasttemplate `{{param}}` and Go `text/template`
//!   (`goTemplate: true`) with the Sprig/Argo CD functions.
//!
//! - [`jmespath`]: JMESPath as Kyverno writes it in `{{ }}` variables: the parser with its
//!   size and nesting limits, the known functions, and the variable finder (the interpreter
//!   is sluice-policy's).
//!
//! Architecture invariant: no I/O, no async, no dependency on the API types.

pub mod appset;
pub mod jmespath;
pub mod tekton;
