//! Conformance: every upstream Triggers example (tektoncd/triggers `examples/`, v1alpha1 and
//! v1beta1), each example directory validated as one set, loads and has no error.
//! Warnings are allowed (references to objects the example does not ship, alpha fields
//! without a `feature-flags-triggers` ConfigMap among the inputs). Suite `triggers-examples`
//! of `./scripts/conformance`: the example sets with no unexpected error.

mod common;

use std::path::{Path, PathBuf};

use sluice_apis::manifests::{Options, SourceFile, validate_files};
use sluice_core::Severity;

/// Errors the upstream webhook itself raises on an upstream example, as
/// `(file suffix, object, path, message)`. Each is a defect of the example, not of the
/// validator, and stays listed here (and asserted to be found) until upstream fixes it.
///
/// - `v1beta1/azurerepo/pull`: the TriggerTemplate's script uses
///   `$(tt.params.azurerepo-user-type)`, which its `spec.params` never declares;
///   tektoncd/triggers `pkg/apis/triggers/v1beta1/trigger_template_validation.go`
///   (`verifyParamDeclarations`) rejects the TriggerTemplate with exactly this message.
const KNOWN_UPSTREAM_DEFECTS: &[(&str, &str, &str, &str)] = &[(
    "v1beta1/azurerepo/pull/azurerepo-pullrequest-listener.yaml",
    "azurerepo-pr-template",
    "spec.resourcetemplates[0].spec.taskSpec.steps[0].script",
    "invalid value: undeclared param '$(tt.params.azurerepo-user-type)': '$(tt.params.azurerepo-user-type)' must be declared in spec.params",
)];

/// Example directories: every directory that holds YAML files directly.
fn example_dirs(dir: &Path, out: &mut Vec<(PathBuf, Vec<PathBuf>)>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    let mut files = Vec::new();
    for p in entries {
        if p.is_dir() {
            example_dirs(&p, out);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            files.push(p);
        }
    }
    if !files.is_empty() {
        out.push((dir.to_path_buf(), files));
    }
}

#[test]
#[ignore = "conformance: needs the upstream corpora (./scripts/conformance)"]
fn upstream_examples_validate() {
    let examples = common::shared().join("conformance/tekton/triggers-examples/examples");
    let mut dirs = Vec::new();
    example_dirs(&examples, &mut dirs);
    assert!(!dirs.is_empty(), "no examples under {}", examples.display());
    let mut clean_sets = 0;
    let (mut files_n, mut objects, mut warnings) = (0, 0, 0);
    let mut errors = Vec::new();
    let mut known_found = vec![false; KNOWN_UPSTREAM_DEFECTS.len()];
    for (dir, paths) in &dirs {
        let errors_before = errors.len();
        let files: Vec<SourceFile> = paths
            .iter()
            .map(|p| SourceFile {
                name: p.display().to_string(),
                text: std::fs::read_to_string(p).expect("readable example"),
            })
            .collect();
        let report = validate_files(&files, &Options::default());
        files_n += report.files;
        objects += report.objects;
        for f in &report.findings {
            match f.severity {
                Severity::Error => {
                    let known =
                        KNOWN_UPSTREAM_DEFECTS
                            .iter()
                            .position(|(file, name, path, msg)| {
                                f.file.ends_with(file)
                                    && f.object.as_ref().is_some_and(|o| o.name == *name)
                                    && f.path == *path
                                    && f.message == *msg
                            });
                    match known {
                        Some(i) => {
                            known_found[i] = true;
                            println!("known upstream defect: {}", f.render());
                        }
                        None => errors.push(f.render()),
                    }
                }
                Severity::Warning => {
                    warnings += 1;
                    println!("{}", f.render());
                }
            }
        }
        if report.objects == 0 {
            errors.push(format!("{}: no object loaded", dir.display()));
        }
        if errors.len() == errors_before {
            clean_sets += 1;
        }
    }
    println!(
        "triggers examples: {} sets, {files_n} files, {objects} objects, {} errors, {warnings} warnings",
        dirs.len(),
        errors.len()
    );
    common::report("triggers-examples", clean_sets, dirs.len());
    assert!(errors.is_empty(), "{errors:#?}");
    for (i, found) in known_found.iter().enumerate() {
        assert!(
            found,
            "known upstream defect no longer reported: {:?}",
            KNOWN_UPSTREAM_DEFECTS[i]
        );
    }
}
