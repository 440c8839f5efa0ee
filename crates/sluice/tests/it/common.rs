//! Helpers shared by the integration tests.

use std::io::Write;
use std::path::{Path, PathBuf};
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
    cmd.args(args).current_dir(repo_root()).env("NO_COLOR", "1");
    run(cmd, stdin)
}

/// Runs `cmd` to the end, feeding `stdin`, capturing its output.
pub fn run(mut cmd: Command, stdin: Option<&str>) -> Output {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let what = format!("{:?}", cmd.get_program());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{what} starts: {e}"));
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    child.wait_with_output().expect("the command finishes")
}

/// `kubectl` with the kubeconfig of the data directory `dir` of a running `sluice
/// apiserver`/`serve` (and a discovery cache of its own there).
pub fn kubectl_in(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut c = Command::new("kubectl");
    c.arg("--kubeconfig")
        .arg(dir.join("kubeconfig"))
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .args(args)
        .current_dir(dir);
    run(c, stdin)
}

/// [`kubectl_in`] that must succeed; its stdout.
pub fn kubectl_ok(dir: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let o = kubectl_in(dir, args, stdin);
    assert!(
        o.status.success(),
        "kubectl {args:?} failed: {}\n{}",
        stderr(&o),
        stdout(&o)
    );
    stdout(&o)
}

/// [`kubectl_ok`] with `-o json`, parsed.
pub fn kubectl_json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    serde_json::from_str(&kubectl_ok(dir, &a, None)).expect("kubectl prints JSON")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
