//! The Triggers manifests of a seed-shaped platform, validated together with its other
//! Tekton files, have no finding: the GitLab push EventListener's binding provides every
//! param its template declares, and the interceptors are the core `gitlab` and `cel`
//! ClusterInterceptors with well-typed params. The repository's fixture
//! (tests/fixtures/platform/tekton/triggers/push-trigger.yaml) in `./scripts/test`, the
//! seed's (`manifests/tekton/triggers/gitlab-push-trigger.yaml`) in `./scripts/conformance`.

mod common;

use std::path::{Path, PathBuf};

use sluice_apis::manifests::{Options, SourceFile, validate_files};
use sluice_core::Severity;

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            out.push(p);
        }
    }
}

#[test]
fn fixture_triggers_have_no_finding() {
    triggers_have_no_finding(&common::platform().join("tekton"), "push-trigger.yaml");
}

#[test]
#[ignore = "conformance: needs the seed (./scripts/conformance)"]
fn seed_triggers_have_no_finding() {
    let _check = common::Check("seed");
    triggers_have_no_finding(
        &common::shared().join("seed/manifests/tekton"),
        "gitlab-push-trigger.yaml",
    );
}

fn triggers_have_no_finding(dir: &Path, triggers_file: &str) {
    let mut paths = Vec::new();
    yaml_files(dir, &mut paths);
    assert!(
        paths.iter().any(|p| p.ends_with(triggers_file)),
        "no {triggers_file} under {}",
        dir.display()
    );
    let files: Vec<SourceFile> = paths
        .iter()
        .map(|p| SourceFile {
            name: p.display().to_string(),
            text: std::fs::read_to_string(p).expect("readable seed file"),
        })
        .collect();
    let report = validate_files(&files, &Options::default());
    let triggers: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.file.ends_with(triggers_file))
        .collect();
    for f in &triggers {
        println!("{}", f.render());
    }
    let errors: Vec<String> = triggers
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.render())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The gitlab interceptor's Secret is defined by no file of the platform; Secrets live
    // outside the manifests, so that is not a finding.
    assert!(triggers.is_empty(), "{triggers:#?}");
}
