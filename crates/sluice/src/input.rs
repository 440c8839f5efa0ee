//! Reading what commands are given: files, directories walked for them, standard input.
//!
//! Every read stops one byte past [`MAX_FILE_BYTES`] (`Read::take`), so `/dev/zero`, an
//! endless pipe or a huge file is refused having cost at most that much memory. A path named
//! on the command line is read whatever it is (a FIFO, `/dev/stdin`, a process
//! substitution); inside a walked directory only regular files are read: anything else is
//! skipped with a warning instead of blocking (a FIFO without a writer blocks forever).

use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use anyhow::{Context as _, Result};
use sluice_core::MAX_FILE_BYTES;
use sluice_kustomize::fs::read_capped;

/// Reads `r` as UTF-8 text named `name` in messages, at most [`MAX_FILE_BYTES`]; `meta`
/// (of an open file) sizes the buffer when it is a regular file.
pub(crate) fn read_text(name: &str, r: impl Read, meta: Option<&Metadata>) -> Result<String> {
    let hint = meta.filter(|m| m.is_file()).map(Metadata::len);
    let bytes =
        read_capped(r, MAX_FILE_BYTES, hint).with_context(|| format!("{name}: cannot read"))?;
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{name}: not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// Reads a path named on the command line, whatever kind of file it is.
pub(crate) fn read_named(p: &str) -> Result<String> {
    let file = File::open(p).with_context(|| format!("{p}: cannot read"))?;
    let meta = file.metadata().ok();
    read_text(p, file, meta.as_ref())
}

/// What a file found in a walked directory is, when it is not a regular file.
fn kind(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    }
}

/// What `p` is when it exists and is neither a regular file nor a directory (after
/// symlinks): "a FIFO", "a socket"...
pub(crate) fn non_regular(p: &str) -> Option<&'static str> {
    std::fs::metadata(p)
        .ok()
        .filter(|m| !m.is_file() && !m.is_dir())
        .map(|m| kind(&m))
}

/// Reads a file found while walking a directory: `None` (after a warning on standard
/// error) when it is not a regular file. Checked before opening (opening a socket fails,
/// a device may act on it), then again on the descriptor, opened without blocking, so a
/// FIFO put in its place meanwhile cannot hang the read.
pub(crate) fn read_walked(p: &str) -> Result<Option<String>> {
    let meta = std::fs::metadata(p).with_context(|| format!("{p}: cannot read"))?;
    if !meta.is_file() {
        eprintln!("warning: {p}: {}, skipped", kind(&meta));
        return Ok(None);
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(Path::new(p))
        .with_context(|| format!("{p}: cannot read"))?;
    let meta = file
        .metadata()
        .with_context(|| format!("{p}: cannot read"))?;
    if !meta.is_file() {
        eprintln!("warning: {p}: {}, skipped", kind(&meta));
        return Ok(None);
    }
    read_text(p, file, Some(&meta)).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Issue 18 item 10: the cap is checked by reading one byte past it, whatever the size
    // of the input (an endless reader ends as soon as the limit is passed).
    #[test]
    fn reads_stop_past_the_limit() {
        let endless = std::io::repeat(b'a');
        let e = read_capped(endless, 1000, None).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::FileTooLarge);
        assert_eq!(e.to_string(), "larger than the input limit of 1000 bytes");
        let e = read_capped(std::io::repeat(b'a'), 3 << 20, None).unwrap_err();
        assert_eq!(e.to_string(), "larger than the input limit of 3 MiB");
        assert_eq!(read_capped(&b"abc"[..], 3, None).unwrap(), b"abc");
        assert!(read_capped(&b"abcd"[..], 3, None).is_err());
        assert_eq!(read_capped(&b""[..], 0, None).unwrap(), b"");
        // a size known to be over the limit is refused before reading
        assert!(read_capped(std::io::repeat(b'a'), 10, Some(11)).is_err());
        // a wrong hint (the file grew) changes nothing
        assert!(read_capped(std::io::repeat(b'a'), 10, Some(2)).is_err());
        assert_eq!(read_capped(&b"abcdef"[..], 10, Some(2)).unwrap(), b"abcdef");
    }
}
