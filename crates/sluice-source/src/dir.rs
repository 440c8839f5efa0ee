//! A local directory as a [`SourceTree`] (the I/O edge used until git lands, and by tests).

use std::path::{Path, PathBuf};

use crate::{Entry, SourceTree};

/// A directory on disk. Every path is resolved (symlinks followed) and must stay inside the
/// root: a link leading out of the tree reads as missing.
#[derive(Debug, Clone)]
pub struct DirTree {
    root: PathBuf,
}

impl DirTree {
    /// `root` must exist; it is canonicalized once.
    pub fn new(root: &Path) -> std::io::Result<DirTree> {
        Ok(DirTree {
            root: std::fs::canonicalize(root)?,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn resolve(&self, path: &str) -> Option<PathBuf> {
        let mut p = self.root.clone();
        for c in path.split('/').filter(|c| !c.is_empty() && *c != ".") {
            if c == ".." {
                return None;
            }
            p.push(c);
        }
        let real = std::fs::canonicalize(&p).ok()?;
        real.starts_with(&self.root).then_some(real)
    }

    /// A fingerprint of every file's path, size and modification time: changes when the
    /// tree does (the local stand-in for a commit id).
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        let mut stack = vec![String::new()];
        let mut files = 0usize;
        while let Some(d) = stack.pop() {
            for e in self.list_dir(&d).unwrap_or_default() {
                let p = if d.is_empty() {
                    e.name.clone()
                } else {
                    format!("{d}/{}", e.name)
                };
                if e.is_dir {
                    if e.name != ".git" {
                        stack.push(p);
                    }
                    continue;
                }
                files += 1;
                if files > 100_000 {
                    break;
                }
                if let Some(real) = self.resolve(&p)
                    && let Ok(m) = std::fs::metadata(&real)
                {
                    let mtime = m
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map(|d| d.as_nanos())
                        .unwrap_or(0);
                    h.update(p.as_bytes());
                    h.update(m.len().to_le_bytes());
                    h.update(mtime.to_le_bytes());
                }
            }
        }
        let d = h.finalize();
        d.iter().take(20).map(|b| format!("{b:02x}")).collect()
    }
}

impl SourceTree for DirTree {
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        let p = self.resolve(path)?;
        let meta = std::fs::metadata(&p).ok()?;
        if !meta.is_file() {
            return None;
        }
        let f = std::fs::File::open(&p).ok()?;
        sluice_kustomize::fs::read_capped(f, sluice_core::MAX_FILE_BYTES, Some(meta.len())).ok()
    }

    fn list_dir(&self, path: &str) -> Option<Vec<Entry>> {
        let p = self.resolve(path)?;
        let rd = std::fs::read_dir(&p).ok()?;
        let mut out = Vec::new();
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let child = p.join(&name);
            // links are what they point to, and only inside the tree
            let Ok(real) = std::fs::canonicalize(&child) else {
                continue;
            };
            if !real.starts_with(&self.root) {
                continue;
            }
            out.push(Entry {
                name,
                is_dir: real.is_dir(),
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_inside_the_root() {
        let base = std::env::temp_dir().join(format!("sluice-source-dir-{}", std::process::id()));
        let root = base.join("repo");
        std::fs::create_dir_all(root.join("app")).expect("mkdir");
        std::fs::write(base.join("secret.txt"), "s").expect("write");
        std::fs::write(root.join("app/a.yaml"), "a: 1").expect("write");
        #[cfg(unix)]
        std::os::unix::fs::symlink(base.join("secret.txt"), root.join("app/leak.yaml"))
            .expect("symlink");
        let t = DirTree::new(&root).expect("tree");
        assert_eq!(t.read("app/a.yaml").as_deref(), Some(&b"a: 1"[..]));
        assert_eq!(t.read("../secret.txt"), None);
        assert_eq!(t.read("app/leak.yaml"), None);
        let names: Vec<String> = t
            .list_dir("app")
            .expect("dir")
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, vec!["a.yaml"]);
        let f1 = t.fingerprint();
        std::fs::write(root.join("app/b.yaml"), "b: 1").expect("write");
        assert_ne!(f1, t.fingerprint());
        let _ = std::fs::remove_dir_all(&base);
    }
}

/// A tree without files (the tree of a source whose chart comes from a Helm repository).
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyTree;

impl SourceTree for EmptyTree {
    fn read(&self, _path: &str) -> Option<Vec<u8>> {
        None
    }
    fn list_dir(&self, path: &str) -> Option<Vec<crate::Entry>> {
        path.is_empty().then(Vec::new)
    }
}
