//! Conformance: Argo CD's own ApplicationSet examples (argoproj/argo-cd
//! `applicationset/examples`, see conformance/README.md of the corpora) all load and validate
//! without errors. Warnings are allowed and counted. Suite `argocd-appset-examples` of
//! `./scripts/conformance`: the files whose errors are as expected.
//!
//! Two kinds of files are not ApplicationSet manifests and are left out by rule, not by
//! name: the sources of Helm charts (every file under a directory holding a `Chart.yaml`:
//! `Chart.yaml` has no `kind`, `templates/` is Go-templated text, not YAML), which Argo CD
//! hands to Helm and never applies as they are.
//!
//! Two example files are genuinely rejected by Argo CD; their findings are pinned in
//! [`UPSTREAM_DEFECTS`] (so a change in them fails the test) rather than ignored.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sluice_apis::manifests::{Options, SourceFile, validate_files};
use sluice_core::Severity;

/// (file, the `path: message` starts of its errors) for examples Argo CD rejects.
const UPSTREAM_DEFECTS: &[(&str, &[&str])] = &[
    // The directory's README: "examples that are not yet implemented". `filters` is no
    // field of the generators, so strict decoding (kubectl apply) rejects it.
    (
        "applicationset/examples/design-doc/proposal/filters.yaml",
        &[
            "spec.generators[0].clusters.filters: unknown field",
            "spec.generators[1].git.filters: unknown field",
        ],
    ),
    // goTemplate with missingkey=error, and the template reads `.path.path` and
    // `.path.basename` although neither list generator of the matrix produces `path`: the
    // controller fails with `map has no entry for key "path"` and generates nothing.
    (
        "applicationset/examples/matrix/list-and-list.yaml",
        &[
            "spec.template.spec.source.path: failed to execute go template: 1:3: map has no entry for key \"path\"",
            "spec.template.spec.destination.namespace: failed to execute go template: 1:3: map has no entry for key \"path\"",
        ],
    ),
];

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    if dir.join("Chart.yaml").is_file() {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
}

#[test]
#[ignore = "conformance: needs the upstream corpora (./scripts/conformance)"]
fn applicationset_examples_validate_without_errors() {
    let corpus = common::shared().join("conformance/argocd/applicationset-examples");
    let root = corpus.as_path();
    let mut paths = Vec::new();
    yaml_files(root, &mut paths);
    assert!(!paths.is_empty(), "no files under {}", root.display());
    let files: Vec<SourceFile> = paths
        .iter()
        .map(|p| SourceFile {
            name: p
                .strip_prefix(root)
                .unwrap_or(p)
                .to_string_lossy()
                .into_owned(),
            text: std::fs::read_to_string(p).expect("readable"),
        })
        .collect();
    let report = validate_files(&files, &Options::default());
    let appsets = files
        .iter()
        .filter(|f| f.text.contains("kind: ApplicationSet"))
        .count();
    println!(
        "{} files ({} with ApplicationSets), {} objects, {} skipped, {} errors, {} warnings",
        report.files,
        appsets,
        report.objects,
        report.skipped.len(),
        report.errors(),
        report.warnings()
    );
    for f in &report.findings {
        println!("{}", f.render());
    }
    let mut unexpected = Vec::new();
    let mut bad_files = BTreeSet::new();
    for f in &report.findings {
        if f.severity == Severity::Error && !UPSTREAM_DEFECTS.iter().any(|(n, _)| *n == &*f.file) {
            unexpected.push(f.render());
            bad_files.insert(f.file.to_string());
        }
    }
    let mut changed_defects = Vec::new();
    for (file, expected) in UPSTREAM_DEFECTS {
        let got: Vec<String> = report
            .findings
            .iter()
            .filter(|f| &*f.file == *file && f.severity == Severity::Error)
            .map(|f| format!("{}: {}", f.path, f.message))
            .collect();
        let same = got.len() == expected.len()
            && got
                .iter()
                .zip(expected.iter())
                .all(|(g, e)| g.starts_with(e));
        if !same {
            changed_defects.push(format!("{file}: {got:#?}"));
            bad_files.insert((*file).to_owned());
        }
    }
    common::report(
        "argocd-appset-examples",
        files.len() - bad_files.len(),
        files.len(),
    );
    assert!(changed_defects.is_empty(), "{changed_defects:#?}");
    assert!(unexpected.is_empty(), "{unexpected:#?}");
}
