//! Path confinement: every directory and file the executor creates from user input (a
//! workspace `subPath`, a claim name, ConfigMap/Secret `items[].path`, a volume's name or
//! `subPath`) stays under the directory it belongs to, whatever validation let through.
//!
//! Paths are read as Kubernetes reads them (kubernetes `pkg/apis/core/validation`
//! `validateLocalDescendingPath`): relative, `/`-separated, no `..` element. On top of the
//! lexical check, directories are walked one component at a time without following a
//! symlink blindly: a symlink met on the way (a PVC's contents are written by earlier steps)
//! is resolved and accepted only when it stays under the root; files are created with
//! `O_NOFOLLOW`, so a planted symlink is never written through.
//!
//! Residual race, documented in ARCHITECTURE.md: a process running concurrently in the same
//! tree (a sidecar, another TaskRun sharing a PVC) can swap a checked directory for a
//! symlink between the check and its use (a bind mount, a file creation in it).

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

/// A path that would leave its root, or could not be created inside it.
#[derive(Debug, thiserror::Error)]
pub enum Escape {
    #[error("{path:?}: must be a relative path")]
    Absolute { path: String },
    #[error("{path:?}: must not contain '..'")]
    Backstep { path: String },
    #[error("{path:?}: must not contain a NUL byte")]
    Nul { path: String },
    #[error("{path:?}: must be a single path element")]
    NotAName { path: String },
    #[error("{path:?}: symlink {link} leads outside {root}")]
    Symlink {
        path: String,
        link: String,
        root: String,
    },
    #[error("{path:?}: {at} is not a directory")]
    NotADirectory { path: String, at: String },
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
}

fn io_at(p: &Path) -> impl FnOnce(io::Error) -> Escape + '_ {
    move |source| Escape::Io {
        path: p.display().to_string(),
        source,
    }
}

/// The elements of a relative path, after the lexical checks: absolute paths, `..`
/// elements and NUL bytes are refused; empty and `.` elements are dropped (`a//./b` is
/// `a/b`). Percent-encoded or backslashed forms (`%2e%2e`, `..\..`) are ordinary names on
/// Linux and stay names.
pub fn relative_elements(rel: &str) -> Result<Vec<&str>, Escape> {
    if rel.contains('\0') {
        return Err(Escape::Nul { path: rel.into() });
    }
    if rel.starts_with('/') {
        return Err(Escape::Absolute { path: rel.into() });
    }
    let mut out = Vec::new();
    for e in rel.split('/') {
        match e {
            "" | "." => {}
            ".." => return Err(Escape::Backstep { path: rel.into() }),
            e => out.push(e),
        }
    }
    Ok(out)
}

/// `name` when it is one path element (a claim, volume, step or run name): not empty, no
/// `/`, not `.` or `..`.
pub fn check_name(name: &str) -> Result<&str, Escape> {
    match relative_elements(name)?.as_slice() {
        [one] if *one == name => Ok(name),
        _ => Err(Escape::NotAName { path: name.into() }),
    }
}

/// `base/name` for a name that must be one path element (see [`check_name`]).
pub fn join_name(base: &Path, name: &str) -> Result<PathBuf, Escape> {
    Ok(base.join(check_name(name)?))
}

/// `base` joined with the lexically checked `rel`, without touching the file system.
pub fn join_relative(base: &Path, rel: &str) -> Result<PathBuf, Escape> {
    let mut p = base.to_path_buf();
    for e in relative_elements(rel)? {
        p.push(e);
    }
    Ok(p)
}

/// Creates (as needed) the directory `rel` under `root` and returns its path with every
/// symlink resolved. `root` itself is created when missing (it is built by the executor
/// from checked names). Each element is created or inspected in turn: an existing symlink
/// is followed only when its target stays under `root`; anything but a directory stops
/// the walk. `mode` applies to the directories created.
pub fn dir_within(root: &Path, rel: &str, mode: u32) -> Result<PathBuf, Escape> {
    let elems = relative_elements(rel)?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(root)
        .map_err(io_at(root))?;
    let root_real = fs::canonicalize(root).map_err(io_at(root))?;
    let mut cur = root_real.clone();
    for e in elems {
        let next = cur.join(e);
        match fs::symlink_metadata(&next) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs::canonicalize(&next).map_err(io_at(&next))?;
                if !target.starts_with(&root_real) {
                    return Err(Escape::Symlink {
                        path: rel.into(),
                        link: next.display().to_string(),
                        root: root_real.display().to_string(),
                    });
                }
                if !target.is_dir() {
                    return Err(Escape::NotADirectory {
                        path: rel.into(),
                        at: next.display().to_string(),
                    });
                }
                cur = target;
            }
            Ok(m) if m.is_dir() => cur = next,
            Ok(_) => {
                return Err(Escape::NotADirectory {
                    path: rel.into(),
                    at: next.display().to_string(),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                match fs::DirBuilder::new().mode(mode).create(&next) {
                    Ok(()) => {}
                    // created meanwhile: look again on the next call; a directory is fine
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        let m = fs::symlink_metadata(&next).map_err(io_at(&next))?;
                        if !m.is_dir() {
                            return Err(Escape::NotADirectory {
                                path: rel.into(),
                                at: next.display().to_string(),
                            });
                        }
                    }
                    Err(e) => return Err(io_at(&next)(e)),
                }
                cur = next;
            }
            Err(e) => return Err(io_at(&next)(e)),
        }
    }
    Ok(cur)
}

/// The existing file or directory `rel` under `root` with every symlink resolved, refused
/// when it resolves outside `root`; a missing one is created as a directory
/// ([`dir_within`]). Used for a volumeMount `subPath`, which may name a projected file.
pub fn path_within(root: &Path, rel: &str) -> Result<PathBuf, Escape> {
    let joined = join_relative(root, rel)?;
    if fs::symlink_metadata(&joined).is_err() {
        return dir_within(root, rel, 0o755);
    }
    let root_real = fs::canonicalize(root).map_err(io_at(root))?;
    let real = fs::canonicalize(&joined).map_err(io_at(&joined))?;
    if !real.starts_with(&root_real) {
        return Err(Escape::Symlink {
            path: rel.into(),
            link: joined.display().to_string(),
            root: root_real.display().to_string(),
        });
    }
    Ok(real)
}

/// Writes `data` to the file `rel` under `root` (directories created with `dir_mode`, the
/// file with `file_mode`), never through a symlink: the parent is resolved as
/// [`dir_within`] does and the file is opened with `O_NOFOLLOW`; an existing file is
/// replaced.
pub fn write_within(
    root: &Path,
    rel: &str,
    data: &[u8],
    dir_mode: u32,
    file_mode: u32,
) -> Result<PathBuf, Escape> {
    let elems = relative_elements(rel)?;
    let Some((name, parents)) = elems.split_last() else {
        return Err(Escape::NotAName { path: rel.into() });
    };
    let dir = dir_within(root, &parents.join("/"), dir_mode)?;
    let p = dir.join(name);
    write_nofollow(&p, data, file_mode)?;
    Ok(p)
}

/// Creates or truncates `p` without following a symlink at its last element, with `mode`
/// (also applied to an existing file).
pub fn write_nofollow(p: &Path, data: &[u8], mode: u32) -> Result<(), Escape> {
    use std::os::unix::fs::PermissionsExt;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(p)
        .map_err(io_at(p))?;
    f.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(io_at(p))?;
    f.write_all(data).map_err(io_at(p))
}

/// Reads at most `limit` bytes of the regular file `p`, refusing a symlink or anything but
/// a regular file (a step's results directory is writable by the step).
pub fn read_regular(p: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(p)?;
    if !f.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut buf = Vec::new();
    f.take(limit).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Whether `p`, as written, stays under `root` lexically (no `..` climbing above it).
pub fn lexically_within(root: &Path, p: &Path) -> bool {
    let mut depth: Vec<Component<'_>> = Vec::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                if depth.pop().is_none() {
                    return false;
                }
            }
            Component::CurDir => {}
            c => depth.push(c),
        }
    }
    let norm: PathBuf = depth.iter().collect();
    norm.starts_with(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sluice-confine-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).expect("tmp");
        d
    }

    // kubernetes pkg/apis/core/validation validateLocalDescendingPath: absolute paths and
    // `..` elements are refused; the executor refuses them too, whatever validation said.
    #[test]
    fn lexical_forms() {
        for bad in [
            "/",
            "/etc",
            "..",
            "../..",
            "a/../..",
            "./a/../..",
            "a/..",
            "a/b/../../..",
            "x\0y",
        ] {
            assert!(relative_elements(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(relative_elements("a//./b/").expect("ok"), ["a", "b"]);
        assert_eq!(relative_elements("..a/b..").expect("ok"), ["..a", "b.."]);
        assert_eq!(relative_elements("%2e%2e/x").expect("ok"), ["%2e%2e", "x"]);
        assert!(join_name(Path::new("/r"), "a/b").is_err());
        assert!(join_name(Path::new("/r"), ".").is_err());
        assert!(join_name(Path::new("/r"), "").is_err());
        assert_eq!(
            join_name(Path::new("/r"), "c").expect("ok"),
            Path::new("/r/c")
        );
    }

    #[test]
    fn symlinks_leaving_the_root_are_refused() {
        let d = tmp("links");
        let root = d.join("root");
        fs::create_dir_all(root.join("inner/real")).expect("mk");
        std::os::unix::fs::symlink("/", root.join("up")).expect("ln");
        std::os::unix::fs::symlink(&d, root.join("parent")).expect("ln");
        std::os::unix::fs::symlink("inner/real", root.join("ok")).expect("ln");
        std::os::unix::fs::symlink("/etc/passwd", root.join("inner/pw")).expect("ln");
        assert!(matches!(
            dir_within(&root, "up", 0o755),
            Err(Escape::Symlink { .. })
        ));
        assert!(matches!(
            dir_within(&root, "parent/x", 0o755),
            Err(Escape::Symlink { .. })
        ));
        assert!(!d.join("x").exists(), "created outside the root");
        let ok = dir_within(&root, "ok/sub", 0o755).expect("inner link");
        assert!(ok.ends_with("inner/real/sub"), "{}", ok.display());
        // a file is never written through a symlink
        assert!(write_within(&root, "inner/pw", b"x", 0o755, 0o644).is_err());
        assert!(write_within(&root, "up/tmp/x", b"x", 0o755, 0o644).is_err());
        let f = write_within(&root, "a/b/c.txt", b"hi", 0o700, 0o600).expect("write");
        assert_eq!(fs::read(&f).expect("read"), b"hi");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&f).expect("meta").permissions().mode() & 0o777,
            0o600
        );
        assert!(read_regular(&root.join("inner/pw"), 10).is_err());
        let _ = fs::remove_dir_all(&d);
    }

    /// Path elements mixing the forms that escape (`..`, absolute prefixes, symlinks to
    /// `/` and to the parent) with harmless and encoded look-alikes.
    fn element() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("..".to_owned()),
            Just(".".to_owned()),
            Just(String::new()),
            Just("up".to_owned()),
            Just("parent".to_owned()),
            Just("inside".to_owned()),
            Just("%2e%2e".to_owned()),
            Just("..%2f..".to_owned()),
            Just("..\\..".to_owned()),
            Just("...".to_owned()),
            Just("\u{2025}".to_owned()),
            "[a-c.]{1,3}",
        ]
    }

    fn rel_path() -> impl Strategy<Value = String> {
        (
            prop_oneof![Just(""), Just("/"), Just("./"), Just("//")],
            prop::collection::vec(element(), 0..6),
        )
            .prop_map(|(lead, els)| format!("{lead}{}", els.join("/")))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        // Whatever the form, what is created or returned stays under the root, and the
        // lexical refusals are exactly Kubernetes' (absolute, a `..` element).
        #[test]
        fn nothing_leaves_the_root(rel in rel_path()) {
            let d = tmp("prop");
            let root = d.join("root");
            fs::create_dir_all(root.join("inside")).expect("mk");
            std::os::unix::fs::symlink("/", root.join("up")).expect("ln");
            std::os::unix::fs::symlink(&d, root.join("parent")).expect("ln");
            let k8s_refuses = rel.starts_with('/') || rel.split('/').any(|e| e == "..");
            let lexical = relative_elements(&rel);
            prop_assert_eq!(lexical.is_err(), k8s_refuses, "{:?}", rel);
            let root_real = fs::canonicalize(&root).expect("canon");
            if let Ok(p) = dir_within(&root, &rel, 0o755) {
                prop_assert!(!k8s_refuses);
                prop_assert!(p.starts_with(&root_real), "{} from {:?}", p.display(), rel);
                let real = fs::canonicalize(&p).expect("exists");
                prop_assert!(real.starts_with(&root_real));
            }
            if let Ok(p) = write_within(&root, &rel, b"x", 0o755, 0o644) {
                let real = fs::canonicalize(&p).expect("exists");
                prop_assert!(real.starts_with(&root_real), "{} from {:?}", real.display(), rel);
            }
            // nothing appeared beside the root
            let beside: Vec<_> = fs::read_dir(&d).expect("ls").flatten().map(|e| e.file_name()).collect();
            prop_assert_eq!(beside, vec![std::ffi::OsString::from("root")]);
            let _ = fs::remove_dir_all(&d);
        }
    }
}
