//! TEMPORARY [`Sources`] until git (sluice-git) lands: a repoURL `file:///path` or a plain
//! absolute path names a local directory, read as it is now. Any targetRevision is
//! accepted; the revision reported is a fingerprint of the tree (paths, sizes, mtimes), so
//! a change to the directory reads as a new revision.

use std::path::PathBuf;
use std::sync::Arc;

use sluice_source::dir::DirTree;
use sluice_source::{Resolved, Sources};

/// Local directories as repositories, optionally confined to some roots.
#[derive(Debug, Clone, Default)]
pub struct LocalSources {
    /// When not empty, a repository must be inside one of these directories.
    pub roots: Vec<PathBuf>,
}

impl LocalSources {
    /// Roots from `SLUICE_LOCAL_REPOS` (`:`-separated); unset: any local directory.
    pub fn from_env() -> LocalSources {
        let roots = std::env::var_os("SLUICE_LOCAL_REPOS")
            .map(|v| std::env::split_paths(&v).collect())
            .unwrap_or_default();
        LocalSources { roots }
    }

    fn dir(&self, repo_url: &str) -> Result<PathBuf, String> {
        let p = match repo_url.strip_prefix("file://") {
            Some(p) => p,
            None if repo_url.starts_with('/') => repo_url,
            None => {
                return Err(format!(
                    "repository {repo_url:?} is not a local directory (file:///path); Git repositories are not supported yet"
                ));
            }
        };
        let real = std::fs::canonicalize(p).map_err(|e| format!("repository {repo_url:?}: {e}"))?;
        if !real.is_dir() {
            return Err(format!("repository {repo_url:?}: not a directory"));
        }
        if !self.roots.is_empty()
            && !self
                .roots
                .iter()
                .filter_map(|r| std::fs::canonicalize(r).ok())
                .any(|r| real.starts_with(r))
        {
            return Err(format!(
                "repository {repo_url:?} is outside the directories SLUICE_LOCAL_REPOS permits"
            ));
        }
        Ok(real)
    }
}

impl Sources for LocalSources {
    fn resolve(&self, repo_url: &str, _target_revision: &str) -> Result<Resolved, String> {
        let dir = self.dir(repo_url)?;
        let tree = DirTree::new(&dir).map_err(|e| format!("repository {repo_url:?}: {e}"))?;
        Ok(Resolved {
            revision: tree.fingerprint(),
            tree: Arc::new(tree),
        })
    }
}
