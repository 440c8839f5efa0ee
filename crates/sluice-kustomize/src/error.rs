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
    /// The directory to build cannot be read.
    #[error("{}: {source}", path.display())]
    Root {
        path: PathBuf,
        source: std::io::Error,
    },
    /// `path:line:col: what` (the position and the words come from the loader).
    #[error("{}:{source}", path.display())]
    Yaml {
        path: PathBuf,
        source: sluice_core::LoadError,
    },
    /// A kustomization with no field set (kustomize's `ErrEmptyKustomization`); the
    /// directory is kept for wrapping messages.
    #[error("kustomization.yaml is empty")]
    Empty(PathBuf),
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
    #[error("{}: not UTF-8 text", .0.display())]
    NotText(PathBuf),
    #[error("{0}")]
    Other(String),
    #[error("{what} is not supported by sluice: {detail}")]
    Unsupported { what: String, detail: String },
}

impl Error {
    pub fn other(msg: impl Into<String>) -> Error {
        Error::Other(msg.into())
    }

    /// Whether the build failed because something could not be read: the directory to
    /// build, or a file for another reason than not existing (permission denied, not a
    /// regular file, over the size limit, not UTF-8). A file the kustomization names that
    /// does not exist is a mistake in what the files say, like the other build errors. The
    /// CLI exits 2 for these, 1 for the others.
    pub fn is_io(&self) -> bool {
        match self {
            Error::Root { .. } | Error::NotText(_) => true,
            Error::Read { source, .. } => source.kind() != std::io::ErrorKind::NotFound,
            _ => false,
        }
    }
}
