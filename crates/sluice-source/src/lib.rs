//! Argo CD Application sources rendered into Kubernetes objects, read through a tree
//! abstraction so any repository backend plugs in ([`Sources`], [`SourceTree`]): a local
//! directory now ([`dir::DirTree`]), git (sluice-git) later.
//!
//! - [`render`]: one `spec.source` (or each of `spec.sources`) into objects: plain
//!   directories (recurse, include/exclude globs, YAML/JSON; jsonnet refused), kustomize
//!   (sluice-kustomize over the tree, with the Application's `source.kustomize` overrides
//!   written into the kustomization as `kustomize edit` does, [`kustomize_edit`]) and Helm
//!   (sluice-helm: valueFiles, values, valuesObject, parameters, releaseName), `$ref` value
//!   files of multiple sources.
//! - [`tracking`]: the label/annotation that marks an object as the Application's, as
//!   Argo CD writes and reads it.
//! - [`cache`]: rendered objects per (repo, revision, path, options).
//!
//! Invariant: no I/O except through [`SourceTree`] (and `dir`, the local-directory edge);
//! paths never leave the tree (`..` and absolute paths are refused, symlinks leading out of
//! a local tree are not followed).

pub mod cache;
pub mod dir;
pub mod fs;
pub mod kustomize_edit;
pub mod render;
pub mod tracking;

use std::sync::Arc;

/// One entry of a directory of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub is_dir: bool,
}

/// A repository tree at one revision. Paths are relative to the repository root,
/// `/`-separated, without `.`/`..` components (`""` is the root).
pub trait SourceTree: Send + Sync {
    /// The bytes of a regular file (within `sluice_core::MAX_FILE_BYTES`); `None` when
    /// there is no such file (or it is not regular, or too large).
    fn read(&self, path: &str) -> Option<Vec<u8>>;
    /// The entries of a directory, sorted by name; `None` when it is not a directory.
    fn list_dir(&self, path: &str) -> Option<Vec<Entry>>;
    /// Whether `path` is a directory.
    fn is_dir(&self, path: &str) -> bool {
        self.list_dir(path).is_some()
    }
}

/// A resolved revision of a repository.
#[derive(Clone)]
pub struct Resolved {
    /// The revision the tree is at (a commit SHA for git).
    pub revision: String,
    pub tree: Arc<dyn SourceTree>,
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolved")
            .field("revision", &self.revision)
            .finish()
    }
}

/// Where Application sources come from: resolves `(repoURL, targetRevision)` to a tree.
/// The server builds one implementation (local directories today, git later).
pub trait Sources: Send + Sync {
    fn resolve(&self, repo_url: &str, target_revision: &str) -> Result<Resolved, String>;
    /// Forget what is known about `repo_url`'s refs: the next [`Sources::resolve`] asks the
    /// repository again (a push webhook, the `argocd.argoproj.io/refresh` annotation).
    fn invalidate(&self, repo_url: &str) {
        let _ = repo_url;
    }
    /// The packaged chart `chart` of the Helm chart repository `repo_url` (an HTTP(S)
    /// repository with an `index.yaml`, or OCI) at the version `target_revision` selects
    /// (an exact version or a semver constraint).
    fn chart(
        &self,
        repo_url: &str,
        chart: &str,
        target_revision: &str,
    ) -> Result<FetchedChart, String> {
        let _ = (chart, target_revision);
        Err(format!(
            "{repo_url}: Helm chart repositories are not available here"
        ))
    }
}

/// A chart downloaded from a Helm chart repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedChart {
    /// The chart version chosen (the source's revision).
    pub version: String,
    /// The `.tgz`.
    pub archive: Vec<u8>,
}

/// Why a source could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The repository or revision could not be resolved.
    #[error("{0}")]
    Repo(String),
    /// The source's spec is wrong (a field path and what is wrong).
    #[error("{path}: {message}")]
    Spec { path: String, message: String },
    /// The manifests could not be rendered.
    #[error("{0}")]
    Render(String),
}
