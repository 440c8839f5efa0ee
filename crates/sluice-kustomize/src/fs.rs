//! The file system a build reads: the disk now, a git tree at a commit later.

use std::io;
use std::path::{Path, PathBuf};

/// What a build needs from a file system. Paths are absolute.
pub trait FileSystem {
    /// The bytes of a regular file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Whether `path` is a directory.
    fn is_dir(&self, path: &Path) -> bool;
    /// Whether `path` exists (file or directory).
    fn exists(&self, path: &Path) -> bool;
    /// `path` with symlinks resolved (the disk's `realpath`); a tree without links returns it
    /// unchanged.
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf>;
}

/// The local disk.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiskFs;

impl FileSystem for DiskFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }
    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::canonicalize(path)
    }
}

/// Lexically cleans `p` (removes `.` and resolves `..`), as Go's `filepath.Clean`.
pub fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}
