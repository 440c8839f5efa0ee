//! Helpers shared by the integration tests.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The seed-shaped platform written for the tests (`tests/fixtures/platform`).
pub fn platform() -> PathBuf {
    repo_root().join("tests/fixtures/platform")
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

/// Runs the real `sluice` binary with `args`, feeding `stdin`.
pub fn sluice(args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
    cmd.args(args)
        .current_dir(repo_root())
        .env("NO_COLOR", "1")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("sluice starts");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    child.wait_with_output().expect("sluice finishes")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
