//! The file system a chart is read from.

use std::io;
use std::path::{Path, PathBuf};

/// What chart loading needs. Paths are absolute or relative to the process.
pub trait FileSystem {
    /// The bytes of a regular file (at most [`sluice_core::MAX_FILE_BYTES`]).
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// The entries of a directory: name and whether it is a directory, sorted by name.
    /// Symbolic links are reported as what they point to.
    fn list(&self, path: &Path) -> io::Result<Vec<(String, bool)>>;
    fn is_dir(&self, path: &Path) -> bool;
}

/// The local disk.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiskFs;

impl FileSystem for DiskFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        use std::io::Read as _;
        let meta = std::fs::metadata(path)?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        if meta.len() > sluice_core::MAX_FILE_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                "file too large",
            ));
        }
        let mut buf = Vec::with_capacity(meta.len() as usize);
        std::fs::File::open(path)?
            .take(sluice_core::MAX_FILE_BYTES + 1)
            .read_to_end(&mut buf)?;
        if buf.len() as u64 > sluice_core::MAX_FILE_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                "file too large",
            ));
        }
        Ok(buf)
    }
    fn list(&self, path: &Path) -> io::Result<Vec<(String, bool)>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(path)? {
            let e = e?;
            let p: PathBuf = e.path();
            out.push((e.file_name().to_string_lossy().into_owned(), p.is_dir()));
        }
        out.sort();
        Ok(out)
    }
    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }
}
