//! Build failures, worded as kustomize words them where it has a wording.

use std::path::PathBuf;

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' in directory '{}'",
        .0.display()
    )]
    NoKustomization(PathBuf),
    #[error("Found multiple kustomization files under: {}", .0.display())]
    MultipleKustomizations(PathBuf),
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: invalid YAML: {message}", path.display())]
    Yaml { path: PathBuf, message: String },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error(
        "security; file '{}' is not in or below '{}'",
        file.display(),
        root.display()
    )]
    Restricted { file: PathBuf, root: PathBuf },
    #[error("cycle detected: {} is reached again from {}", again.display(), from.display())]
    Cycle { again: PathBuf, from: PathBuf },
    #[error("{0}")]
    Other(String),
    #[error("{what} is not supported by sluice: {detail}")]
    Unsupported { what: String, detail: String },
}

impl Error {
    pub fn other(msg: impl Into<String>) -> Error {
        Error::Other(msg.into())
    }
}
