//! Native Helm: renders a chart as `helm template` prints it (Helm v4.3's engine and
//! `action.Install` in client mode): chart loading with `.helmignore`, values coalescing with
//! dependencies (`condition`, `tags`, `alias`, `import-values`, globals), the built-in
//! objects, the Go template engine of [`sluice_expr::gotmpl`], and Helm's manifest order
//! (helm/helm `pkg/release/v1/util/kind_sorter.go`, `manifest_sorter.go`) with its
//! `# Source:` lines.
//!
//! Architecture invariant: no I/O beyond the [`fs::FileSystem`] trait; no async.

pub mod chart;
pub mod fs;
pub mod render;
pub mod repo;
pub mod schema;
pub mod strvals;
pub mod values;

pub use chart::{Chart, load_chart};
pub use fs::{DiskFs, FileSystem};
pub use render::{Capabilities, RenderOptions, render};

/// Why a chart did not render. Messages follow Helm's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Load(String),
    #[error("{0}")]
    Values(String),
    #[error("{0}")]
    Template(String),
    #[error("YAML parse error on {file}: {message}")]
    Manifest { file: String, message: String },
}
