//! [`sluice_source::Sources`] over the cache: where the Application controller reads its
//! manifests. A `(repoURL, targetRevision)` resolves to a commit SHA (the revision the
//! Application reports in `status.sync.revision`) and the tree of that commit, read from the
//! mirror's object database.

use std::sync::{Arc, Mutex};

use sluice_source::{Entry, Resolved, SourceTree, Sources};

use crate::{Credentials, EntryKind, RepoCache, Tree};

type CredsFn = dyn Fn(&str) -> Credentials + Send + Sync;

/// Git repositories as Application sources, through one shared [`RepoCache`].
pub struct GitSources {
    cache: Arc<RepoCache>,
    creds: Option<Arc<CredsFn>>,
}

impl std::fmt::Debug for GitSources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitSources")
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl GitSources {
    pub fn new(cache: Arc<RepoCache>) -> Self {
        Self { cache, creds: None }
    }

    /// Credentials per repository URL (e.g. from `repocreds::RepoCredsSet::resolve`).
    pub fn with_credentials(
        mut self,
        f: impl Fn(&str) -> Credentials + Send + Sync + 'static,
    ) -> Self {
        self.creds = Some(Arc::new(f));
        self
    }

    /// The cache the sources read through (shared with the ApplicationSet git generators).
    pub fn cache(&self) -> &Arc<RepoCache> {
        &self.cache
    }
}

impl Sources for GitSources {
    fn resolve(&self, repo_url: &str, target_revision: &str) -> Result<Resolved, String> {
        let creds = self.creds.as_ref().map(|f| f(repo_url)).unwrap_or_default();
        let commit = self
            .cache
            .resolve(repo_url, target_revision, &creds)
            .map_err(|e| e.to_string())?;
        let tree = self
            .cache
            .tree(repo_url, &commit)
            .map_err(|e| e.to_string())?;
        Ok(Resolved {
            revision: commit,
            tree: Arc::new(GitTree(Mutex::new(tree))),
        })
    }

    fn invalidate(&self, repo_url: &str) {
        self.cache.invalidate(repo_url);
    }
}

/// A commit's tree as a [`SourceTree`]. [`Tree`] is one repository handle (not `Sync`): the
/// renders of one Application share it under a lock.
struct GitTree(Mutex<Tree>);

impl GitTree {
    fn tree(&self) -> std::sync::MutexGuard<'_, Tree> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl SourceTree for GitTree {
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        // a read error (a symlink leading out, a file over the size limit) reads as missing
        self.tree().read(path).ok().flatten()
    }

    fn list_dir(&self, path: &str) -> Option<Vec<Entry>> {
        let tree = self.tree();
        let entries = tree.list_dir(path).ok()??;
        let mut out: Vec<Entry> = entries
            .into_iter()
            .map(|e| {
                let is_dir = match e.kind {
                    EntryKind::Dir => true,
                    // a symlink is a directory when it leads to one inside the repository
                    EntryKind::Symlink => matches!(tree.list_dir(&e.path), Ok(Some(_))),
                    _ => false,
                };
                let name = e.path.rsplit('/').next().unwrap_or(&e.path).to_owned();
                Entry { name, is_dir }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Some(out)
    }
}
