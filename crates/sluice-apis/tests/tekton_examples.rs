//! Conformance: every upstream example under tektoncd/pipeline `examples/v1` (copied to
//! conformance/tekton/pipeline-examples of the corpora) loads, and every one upstream runs in
//! CI (all but `no-ci/`) validates without errors. `alpha/` files run with
//! enable-api-fields=alpha, the others with the upstream default (beta). Suites
//! `tekton-examples-load` and `tekton-examples-validate` of `./scripts/conformance`.

mod common;

use std::path::{Path, PathBuf};

use sluice_apis::{Context, ObjectSet, tekton::FeatureFlags, validate_one};
use sluice_core::{Limits, Severity, object::load_objects};

fn examples() -> PathBuf {
    common::shared().join("conformance/tekton/pipeline-examples/examples/v1")
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .collect();
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
fn upstream_examples_validate() {
    let examples = examples();
    let mut files = Vec::new();
    yaml_files(&examples, &mut files);
    assert!(files.len() > 100, "examples missing: {}", files.len());
    let (mut loaded_n, mut checked, mut clean, mut warnings) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&examples).unwrap_or(f).display().to_string();
        let text = std::fs::read_to_string(f).expect("read");
        let loaded = match load_objects(&rel, &text, &Limits::default()) {
            Ok(l) if l.problems.is_empty() => l,
            other => {
                // Pinned by `upstream_examples_all_load`.
                println!("{rel}: does not load: {other:?}");
                continue;
            }
        };
        loaded_n += 1;
        if rel.contains("no-ci/") {
            continue;
        }
        let level = if rel.contains("alpha/") {
            "alpha"
        } else if rel.contains("beta/") {
            "beta"
        } else {
            // Upstream's default (`beta`): the examples outside alpha/ and beta/ run in CI
            // against a default installation.
            "beta"
        };
        let objs: Vec<_> = loaded.objects.iter().map(|o| o.object.clone()).collect();
        let set = ObjectSet::new(objs.iter());
        let mut flags = FeatureFlags::from_set(&set).with_api_fields(level);
        if level == "alpha" {
            flags.enable_param_enum = true;
            flags.enable_artifacts = true;
            flags.enable_cel_in_whenexpression = true;
            flags.enable_concise_resolver_syntax = true;
            flags.keep_pod_on_cancel = true;
        }
        let ctx = Context::new(&set).with_tekton_flags(flags);
        checked += 1;
        let mut errors = 0;
        for o in set.objects() {
            for e in validate_one(o, &ctx) {
                match e.severity {
                    Severity::Error => {
                        errors += 1;
                        failures.push(format!(
                            "{rel}: {} {}: {}",
                            o.display_name(),
                            e.path,
                            e.message
                        ));
                    }
                    Severity::Warning => warnings += 1,
                }
            }
        }
        if errors == 0 {
            clean += 1;
        }
    }
    println!(
        "tekton examples: {} files, {loaded_n} loaded, {checked} validated, {clean} clean, {warnings} warnings",
        files.len()
    );
    common::report("tekton-examples-validate", clean, checked);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every example loads, including the 12 that close a flow sequence (`args: [` ... `]`) at
/// the parent key's indentation, which go-yaml (kubectl, Tekton) accepts.
#[test]
#[ignore = "conformance: needs the upstream corpora (./scripts/conformance)"]
fn upstream_examples_all_load() {
    let mut files = Vec::new();
    yaml_files(&examples(), &mut files);
    let bad: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let text = std::fs::read_to_string(f).expect("read");
            match load_objects(&f.display().to_string(), &text, &Limits::default()) {
                Ok(l) if l.problems.is_empty() => None,
                other => Some(format!("{}: {other:?}", f.display())),
            }
        })
        .collect();
    common::report("tekton-examples-load", files.len() - bad.len(), files.len());
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
