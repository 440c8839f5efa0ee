//! A [`SourceTree`] seen as the file systems of sluice-kustomize and sluice-helm: the
//! repository root is `/`, and some files may be replaced in memory (the kustomization an
//! Application's overrides edit).

use std::collections::HashMap;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::SourceTree;

/// The tree at `/`, with in-memory replacements.
#[derive(Clone)]
pub struct TreeFs {
    tree: Arc<dyn SourceTree>,
    overlay: HashMap<String, Vec<u8>>,
}

impl TreeFs {
    pub fn new(tree: Arc<dyn SourceTree>) -> TreeFs {
        TreeFs {
            tree,
            overlay: HashMap::new(),
        }
    }

    /// Replaces the file at `path` (relative to the root) with `bytes`.
    pub fn replace(&mut self, path: &str, bytes: Vec<u8>) {
        self.overlay.insert(path.to_string(), bytes);
    }

    /// The tree path of an absolute path (`None`: outside the tree).
    pub fn rel(path: &Path) -> Option<String> {
        let mut parts: Vec<String> = Vec::new();
        for c in path.components() {
            match c {
                Component::RootDir | Component::CurDir => {}
                Component::ParentDir => {
                    parts.pop()?;
                }
                Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
                Component::Prefix(_) => return None,
            }
        }
        Some(parts.join("/"))
    }

    /// The absolute path of a tree path.
    pub fn abs(rel: &str) -> PathBuf {
        Path::new("/").join(rel)
    }

    fn read_rel(&self, rel: &str) -> io::Result<Vec<u8>> {
        if let Some(b) = self.overlay.get(rel) {
            return Ok(b.clone());
        }
        if self.tree.is_dir(rel) {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "is a directory",
            ));
        }
        self.tree
            .read(rel)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file or directory"))
    }

    fn exists_rel(&self, rel: &str) -> bool {
        self.overlay.contains_key(rel) || self.tree.is_dir(rel) || self.tree.read(rel).is_some()
    }
}

fn not_found() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "no such file or directory")
}

impl sluice_kustomize::FileSystem for TreeFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.read_rel(&TreeFs::rel(path).ok_or_else(not_found)?)
    }
    fn is_dir(&self, path: &Path) -> bool {
        TreeFs::rel(path).is_some_and(|r| self.tree.is_dir(&r))
    }
    fn exists(&self, path: &Path) -> bool {
        TreeFs::rel(path).is_some_and(|r| self.exists_rel(&r))
    }
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        // the tree has no links (a local tree already hides those leading out)
        let r = TreeFs::rel(path).ok_or_else(not_found)?;
        if self.exists_rel(&r) {
            Ok(TreeFs::abs(&r))
        } else {
            Err(not_found())
        }
    }
}

impl sluice_helm::FileSystem for TreeFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.read_rel(&TreeFs::rel(path).ok_or_else(not_found)?)
    }
    fn list(&self, path: &Path) -> io::Result<Vec<(String, bool)>> {
        let r = TreeFs::rel(path).ok_or_else(not_found)?;
        self.tree
            .list_dir(&r)
            .map(|es| es.into_iter().map(|e| (e.name, e.is_dir)).collect())
            .ok_or_else(not_found)
    }
    fn is_dir(&self, path: &Path) -> bool {
        TreeFs::rel(path).is_some_and(|r| self.tree.is_dir(&r))
    }
}
