//! GitOps engines as pure functions (no I/O): today the ApplicationSet generator engine
//! (`appset`: list, clusters, git directories and files, matrix, merge, post-selectors,
//! generator template overrides, fasttemplate and Go templates, `templatePatch`), the
//! `Repos` trait through which it reads Git trees (`repo`), and the GitOps lints of
//! `sluice validate` (`lint`); Argo CD's comparison of desired and live objects (`diff`)
//! and the sync plan (`sync`: phases, hooks, waves, kind order, prune).
//!
//! Architecture invariant: nothing here reads a file, a socket or a clock beyond the
//! template budget; repositories are read only through [`repo::Repos`], which the caller
//! implements (a local directory in `sluice appset generate`, gix in the server later).

pub mod appset;
pub mod depends;
pub mod diff;
pub mod lint;
pub mod repo;
pub mod repocreds;
pub mod retry;
pub mod sync;
pub mod webhook;
pub mod windows;

pub use appset::{GenerateError, Inputs, generate};
pub use repo::{RepoError, Repos};
