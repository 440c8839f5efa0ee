//! Conformance: every classic Kyverno policy of kyverno/policies (shared/conformance/kyverno/
//! policies, categories without a `-cel`/`-vpol`/`-mpol`/`-gpol` suffix) is accepted by
//! Kyverno, so Sluice must report no error for any of them (warnings are allowed). Suite
//! `kyverno-policies-validate` of `./scripts/conformance`: the policies without error.

mod common;

use std::path::{Path, PathBuf};

use sluice_apis::{Context, ObjectSet};
use sluice_core::{Limits, Severity, object::load_objects};

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() {
            if !name.starts_with('.') {
                yaml_files(&p, out);
            }
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            out.push(p);
        }
    }
}

#[test]
#[ignore = "conformance: needs the upstream corpora (./scripts/conformance)"]
fn classic_policies_have_no_errors() {
    let root = common::shared().join("conformance/kyverno/policies");
    let mut files = Vec::new();
    let mut cats: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("read corpus")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cats.sort();
    for cat in cats {
        let name = cat.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if ["-cel", "-vpol", "-mpol", "-gpol"]
            .iter()
            .any(|s| name.ends_with(s))
        {
            continue;
        }
        yaml_files(&cat, &mut files);
    }
    let (mut policies, mut warnings, mut failures) = (0usize, 0usize, Vec::new());
    let mut clean = 0usize;
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read");
        let Ok(loaded) = load_objects(&f.display().to_string(), &text, &Limits::default()) else {
            continue;
        };
        let objs: Vec<_> = loaded
            .objects
            .iter()
            .map(|o| o.object.clone())
            .filter(|o| {
                o.gvk().group == "kyverno.io" && matches!(o.kind(), "ClusterPolicy" | "Policy")
            })
            .collect();
        if objs.is_empty() {
            continue;
        }
        let set = ObjectSet::new(objs.iter());
        let ctx = Context::new(&set);
        for o in &objs {
            policies += 1;
            let errs = sluice_apis::validate_one(o, &ctx);
            if errs.iter().all(|e| e.severity == Severity::Warning) {
                clean += 1;
            }
            for e in errs.iter() {
                if e.severity == Severity::Warning {
                    warnings += 1;
                } else {
                    failures.push(format!("{}: {}: {e}", f.display(), o.display_name()));
                }
            }
        }
    }
    eprintln!(
        "kyverno policies: {policies} policies in {} files, {warnings} warnings, {} errors",
        files.len(),
        failures.len()
    );
    common::report("kyverno-policies-validate", clean, policies);
    assert!(
        policies > 100,
        "expected the corpus, found {policies} policies"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
