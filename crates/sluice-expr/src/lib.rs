//! Tekton `$(...)` variable references and substitution, and ApplicationSet templates.
