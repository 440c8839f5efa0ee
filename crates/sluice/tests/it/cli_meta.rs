//! `sluice --version` and `sluice completion`.

use std::process::Command;

use crate::common::{repo_root, sluice};

/// `--version` names the package version and the commit the binary was built from.
#[test]
fn version_names_the_git_commit() {
    let out = sluice(&["--version"], None);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(concat!("sluice ", env!("CARGO_PKG_VERSION"), " (commit ")),
        "{text}"
    );
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(repo_root())
        .output();
    if let Ok(head) = head
        && head.status.success()
    {
        let head = String::from_utf8_lossy(&head.stdout).trim().to_owned();
        // build.rs reruns when HEAD moves, so the binary under test is built from HEAD
        assert!(
            text.contains(&format!("commit {head}")),
            "{text} (HEAD {head})"
        );
    }
}

/// Completions for bash, zsh and fish name the subcommands; bash accepts the script.
#[test]
fn completion_scripts_for_three_shells() {
    for shell in ["bash", "zsh", "fish"] {
        let out = sluice(&["completion", shell], None);
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        for sub in ["validate", "kustomize", "serve", "completion"] {
            assert!(text.contains(sub), "{shell} completion lacks {sub}");
        }
    }
    let script = String::from_utf8(sluice(&["completion", "bash"], None).stdout).expect("utf-8");
    let check = Command::new("bash")
        .args(["-c", "source /dev/stdin && complete -p sluice"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write as _;
            c.stdin
                .take()
                .expect("stdin")
                .write_all(script.as_bytes())?;
            c.wait_with_output()
        })
        .expect("bash runs");
    assert!(
        String::from_utf8_lossy(&check.stdout).contains("-F _sluice sluice"),
        "bash did not register the completion"
    );
    let bad = sluice(&["completion", "tcsh"], None);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}
