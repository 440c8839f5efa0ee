//! [`sluice_gitops::Repos`] over the cache: what the ApplicationSet git generators read.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use sluice_gitops::repo::{RepoError, Repos};

use crate::{Credentials, EntryKind, RepoCache};

type CredsFn = dyn Fn(&str) -> Credentials + Send + Sync;

/// The git generators' view of repositories: each (repoURL, revision) is resolved once per
/// `GitRepos` (so one generation sees one commit per revision) and its tree walked once.
pub struct GitRepos {
    cache: Arc<RepoCache>,
    urls: BTreeMap<String, String>,
    creds: Option<Arc<CredsFn>>,
    resolved: Mutex<HashMap<(String, String), String>>,
    walked: Mutex<HashMap<(String, String), Arc<Walked>>>,
}

#[derive(Default)]
struct Walked {
    dirs: Vec<String>,
    files: Vec<String>,
}

impl GitRepos {
    pub fn new(cache: Arc<RepoCache>) -> Self {
        Self {
            cache,
            urls: BTreeMap::new(),
            creds: None,
            resolved: Mutex::new(HashMap::new()),
            walked: Mutex::new(HashMap::new()),
        }
    }

    /// Fetch `repo_url` from `fetch_url` instead (e.g. `--repo URL=PATH`).
    pub fn with_url(mut self, repo_url: &str, fetch_url: &str) -> Self {
        self.urls.insert(repo_url.to_owned(), fetch_url.to_owned());
        self
    }

    /// Credentials per repository URL (e.g. from `repocreds::RepoCredsSet::resolve`).
    pub fn with_credentials(
        mut self,
        f: impl Fn(&str) -> Credentials + Send + Sync + 'static,
    ) -> Self {
        self.creds = Some(Arc::new(f));
        self
    }

    fn fetch_url<'a>(&'a self, url: &'a str) -> &'a str {
        self.urls.get(url).map_or(url, String::as_str)
    }

    /// The commit `revision` of `url` resolves to (once per `GitRepos`).
    pub fn commit(&self, url: &str, revision: &str) -> Result<String, RepoError> {
        let key = (url.to_owned(), revision.to_owned());
        if let Some(c) = self
            .resolved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
        {
            return Ok(c.clone());
        }
        let creds = self.creds.as_ref().map(|f| f(url)).unwrap_or_default();
        let c = self
            .cache
            .resolve(self.fetch_url(url), revision, &creds)
            .map_err(|e| RepoError(e.to_string()))?;
        self.resolved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, c.clone());
        Ok(c)
    }

    fn walked(&self, url: &str, revision: &str) -> Result<Arc<Walked>, RepoError> {
        let commit = self.commit(url, revision)?;
        let key = (url.to_owned(), commit.clone());
        if let Some(w) = self
            .walked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
        {
            return Ok(w.clone());
        }
        let tree = self
            .cache
            .tree(self.fetch_url(url), &commit)
            .map_err(|e| RepoError(e.to_string()))?;
        let mut w = Walked::default();
        for e in tree.walk("").map_err(|e| RepoError(e.to_string()))? {
            match e.kind {
                EntryKind::Dir => w.dirs.push(e.path),
                k if k.is_file() => w.files.push(e.path),
                _ => {}
            }
        }
        // the files generator lists files sorted (git ls-files order)
        w.files.sort();
        let w = Arc::new(w);
        self.walked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, w.clone());
        Ok(w)
    }
}

impl Repos for GitRepos {
    fn directories(&self, repo_url: &str, revision: &str) -> Result<Vec<String>, RepoError> {
        Ok(self.walked(repo_url, revision)?.dirs.clone())
    }

    fn files(&self, repo_url: &str, revision: &str) -> Result<Vec<String>, RepoError> {
        Ok(self.walked(repo_url, revision)?.files.clone())
    }

    fn read(&self, repo_url: &str, revision: &str, path: &str) -> Result<Vec<u8>, RepoError> {
        let commit = self.commit(repo_url, revision)?;
        let tree = self
            .cache
            .tree(self.fetch_url(repo_url), &commit)
            .map_err(|e| RepoError(e.to_string()))?;
        tree.read(path)
            .map_err(|e| RepoError(e.to_string()))?
            .ok_or_else(|| {
                RepoError(format!(
                    "repository {repo_url} at {commit}: {path}: no such file"
                ))
            })
    }
}
