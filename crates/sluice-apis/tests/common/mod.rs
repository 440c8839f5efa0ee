//! Where the integration tests find their inputs: the repository's own fixtures, and the seed
//! and upstream corpora that `./scripts/conformance [PATH]` passes in `SLUICE_SHARED`.

#![allow(dead_code)]

use std::path::PathBuf;

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
