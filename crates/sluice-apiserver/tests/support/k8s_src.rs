//! Shared by the generator tests: where k8s-openapi's v1_32 sources are, and their files.

use std::path::{Path, PathBuf};

/// k8s-openapi's source directory of the v1_32 types, from the registry cargo unpacked it to.
pub fn k8s_openapi_src() -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))?;
    let registry = home.join("registry").join("src");
    for idx in std::fs::read_dir(&registry).ok()?.flatten() {
        let dir = idx
            .path()
            .join("k8s-openapi-0.25.0")
            .join("src")
            .join("v1_32");
        if dir.is_dir() {
            return Some(dir);
        }
    }
    None
}

pub fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}
