//! Pure string functions for the template languages users write:
//!
//! - [`tekton`]: Tekton's `$(...)` variable references: finding them, classifying them
//!   (`params`, `tasks.*.results`, `context`, `workspaces`...), and single-pass substitution,
//!   as tektoncd/pipeline `pkg/substitution` does it, within a budget of what it builds.
//!
//! - [`appset`]: ApplicationSet templates: fasttemplate `{{param}}` and Go `text/template`
//!   (`goTemplate: true`) with the Sprig/Argo CD functions.
//!
//! - [`budget`]: the evaluation budget (steps, bytes, time) the engines draw on.
//!
//! - [`cel`]: the part of CEL that Tekton `when` expressions use, with cel-go's size and
//!   recursion limits.
//!
//! - [`jmespath`]: JMESPath as Kyverno writes it in `{{ }}` variables: the parser with its
//!   size and nesting limits, the known functions, and the variable finder (the interpreter
//!   is sluice-policy's).
//!
//! Architecture invariant: no I/O, no async, no dependency on the API types.

pub mod appset;
pub mod budget;
pub mod cel;
pub mod gotmpl;
pub mod jmespath;
pub mod tekton;

/// The start of `s` for messages: at most 64 characters, `...` when cut (a 100 KB
/// expression is not echoed whole).
pub fn snippet(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}
