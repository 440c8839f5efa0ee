//! Native Kustomize: `kustomize build` (v5.5.0) in process, byte-identical to
//! `kubectl kustomize`.
//!
//! - [`build::build`]: builds a kustomization directory read through a [`fs::FileSystem`].
//! - [`emit`]: the YAML text kustomize prints (go-yaml v2 after a JSON round trip).
//! - Inputs are read with go-yaml v3's scalar rules (`sluice_core::yaml::Schema::Core`), as
//!   kyaml reads them.
//!
//! Architecture invariant: no network, no async runtime, no cluster access; files are read
//! only through the `FileSystem` trait.

pub mod build;
pub mod config;
pub mod emit;
pub mod error;
pub mod fieldspec;
pub mod fs;
pub mod hash;
pub mod helm;
pub mod patch;
pub mod path;
pub mod refvar;
pub mod replacement;
pub mod resource;

pub use build::{LoadRestrictor, Options, Output, build};
pub use error::Error;
pub use fs::{DiskFs, FileSystem};
