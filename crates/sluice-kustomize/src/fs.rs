//! The file system a build reads: the disk now, a git tree at a commit later.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sluice_core::MAX_FILE_BYTES;

/// What a build needs from a file system. Paths are absolute.
pub trait FileSystem {
    /// The bytes of a regular file: anything else (a directory, a FIFO, a device) and files
    /// over [`MAX_FILE_BYTES`] are errors, found without blocking or reading past the limit.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Whether `path` is a directory.
    fn is_dir(&self, path: &Path) -> bool;
    /// Whether `path` exists (file or directory).
    fn exists(&self, path: &Path) -> bool;
    /// `path` with symlinks resolved (the disk's `realpath`); a tree without links returns it
    /// unchanged.
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf>;
    /// The entries of a directory (name, whether a directory), sorted by name: Helm charts
    /// are read as directories (`helmCharts`). A tree that cannot list refuses.
    fn list(&self, path: &Path) -> io::Result<Vec<(String, bool)>> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{}: cannot list this directory", path.display()),
        ))
    }
}

/// The local disk.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiskFs;

impl FileSystem for DiskFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        regular_file(&std::fs::metadata(path)?)?;
        let file = std::fs::File::open(path)?;
        // checked again on the open file: the path may have changed in between
        let meta = file.metadata()?;
        regular_file(&meta)?;
        read_capped(file, MAX_FILE_BYTES, Some(meta.len()))
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
    fn list(&self, path: &Path) -> io::Result<Vec<(String, bool)>> {
        sluice_helm::FileSystem::list(&sluice_helm::DiskFs, path)
    }
}

fn regular_file(meta: &std::fs::Metadata) -> io::Result<()> {
    if meta.is_file() {
        Ok(())
    } else if meta.is_dir() {
        Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "is a directory",
        ))
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, socket or device)",
        ))
    }
}

/// Reads at most `limit` bytes from `r`; more is an error, found after reading one byte past
/// the limit (`Read::take`), never the whole stream. The buffer is sized once: by
/// `size_hint` (a regular file's length), else to the limit (address space only: pages are
/// used as bytes arrive), so memory stays within the limit whatever `r` holds; a file that
/// grows past its hint makes the buffer double, up to the limit and no further.
pub fn read_capped(r: impl Read, limit: u64, size_hint: Option<u64>) -> io::Result<Vec<u8>> {
    let too_large = || {
        io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("larger than the input limit of {}", human_bytes(limit)),
        )
    };
    if size_hint.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let cap = usize::try_from(limit).unwrap_or(usize::MAX);
    let first = size_hint.map_or(cap, |n| usize::try_from(n).unwrap_or(cap));
    let mut buf: Vec<u8> = Vec::with_capacity(first.min(cap));
    let mut r = r.take(limit.saturating_add(1));
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match r.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.len() + n > cap {
            return Err(too_large());
        }
        if buf.len() + n > buf.capacity() {
            let grown = (buf.capacity() * 2).max(buf.len() + n).min(cap);
            buf.reserve_exact(grown - buf.len());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(buf)
}

/// `64 MiB`, `512 KiB`, `100 bytes`.
pub fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
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

#[cfg(test)]
mod tests {
    use super::*;

    // Issue 18 items 10 and 11: the disk refuses what is not a regular file without
    // opening it for reading (a FIFO without a writer would block forever), and a file
    // over the limit from its size, before reading it.
    #[test]
    fn disk_reads_only_regular_files_within_the_limit() {
        let dir = std::env::temp_dir().join(format!("sluice-diskfs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("ok.yaml"), "a: 1\n").unwrap();
        assert_eq!(DiskFs.read(&dir.join("ok.yaml")).unwrap(), b"a: 1\n");
        let fifo = dir.join("fifo.yaml");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let e = DiskFs.read(&fifo).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
            assert_eq!(
                e.to_string(),
                "not a regular file (a FIFO, socket or device)"
            );
        }
        let e = DiskFs.read(&dir.join("sub")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::IsADirectory);
        let big = std::fs::File::create(dir.join("big.yaml")).unwrap();
        big.set_len(MAX_FILE_BYTES + 1).unwrap(); // sparse: nothing is written
        let e = DiskFs.read(&dir.join("big.yaml")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(e.to_string(), "larger than the input limit of 64 MiB");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(64 << 20), "64 MiB");
        assert_eq!(human_bytes(3 << 10), "3 KiB");
        assert_eq!(human_bytes(1000), "1000 bytes");
        assert_eq!(human_bytes((1 << 20) + 1), "1048577 bytes");
    }
}
