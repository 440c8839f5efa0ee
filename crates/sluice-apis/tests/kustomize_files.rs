//! Conformance: every kustomization that `kubectl kustomize` (v5.5.0) builds in the shared
//! corpora (directories listed in shared/conformance/kustomize/*/buildable.txt, one path per
//! line relative to the corpus folder) must get no error from Sluice (warnings such as
//! kustomize's own deprecation warnings are allowed).

use std::path::Path;

use serde_json::Value;
use sluice_apis::{Context, ObjectSet};
use sluice_core::{Limits, Object, Severity, yaml::load_documents};

const ROOT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/conformance/kustomize"
);

/// Loads a kustomization file as an object, injecting `apiVersion`/`kind` as kustomize's
/// `FixKustomization` does when they are absent.
pub fn load_kustomization(text: &str) -> Result<Object, String> {
    let docs = load_documents(text, &Limits::default()).map_err(|e| e.to_string())?;
    let doc = docs.into_iter().next().ok_or("no document")?;
    let mut v = doc.value;
    let Value::Object(m) = &mut v else {
        return Err("not a mapping".into());
    };
    let kind = m
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("Kustomization")
        .to_owned();
    m.entry("kind")
        .or_insert_with(|| Value::String(kind.clone()));
    m.entry("apiVersion").or_insert_with(|| {
        Value::String(
            if kind == "Component" {
                "kustomize.config.k8s.io/v1alpha1"
            } else {
                "kustomize.config.k8s.io/v1beta1"
            }
            .into(),
        )
    });
    Ok(Object::new(v))
}

#[test]
fn buildable_kustomizations_have_no_errors() {
    let root = Path::new(ROOT);
    if !root.is_dir() {
        eprintln!("skipping: {ROOT} not present");
        return;
    }
    let mut corpora: Vec<_> = std::fs::read_dir(root)
        .expect("read corpus")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("buildable.txt").is_file())
        .collect();
    corpora.sort();
    let (mut files, mut warnings, mut failures) = (0usize, 0usize, Vec::new());
    let mut load_problems: Vec<String> = Vec::new();
    for corpus in corpora {
        let list = std::fs::read_to_string(corpus.join("buildable.txt")).expect("read list");
        for dir in list.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let d = corpus.join(dir);
            let Some(file) = ["kustomization.yaml", "kustomization.yml", "Kustomization"]
                .iter()
                .map(|n| d.join(n))
                .find(|p| p.is_file())
            else {
                failures.push(format!("{}: no kustomization file", d.display()));
                continue;
            };
            files += 1;
            let text = std::fs::read_to_string(&file).expect("read");
            let obj = match load_kustomization(&text) {
                Ok(o) => o,
                // sluice-core's loader rejects duplicate mapping keys (as the API server's
                // strict decoding does); kustomize's YAML reader keeps the last one. That is a
                // loader policy question, not a kustomization validation one: count it apart.
                Err(e) if e.contains("duplicate key") => {
                    load_problems.push(format!("{}: {e}", file.display()));
                    continue;
                }
                Err(e) => {
                    failures.push(format!("{}: does not load: {e}", file.display()));
                    continue;
                }
            };
            let objs = [obj];
            let set = ObjectSet::new(objs.iter());
            let ctx = Context::new(&set);
            for e in sluice_apis::validate_one(&objs[0], &ctx).iter() {
                if e.severity == Severity::Warning {
                    warnings += 1;
                } else {
                    failures.push(format!("{}: {e}", file.display()));
                }
            }
        }
    }
    eprintln!(
        "kustomize: {files} kustomization files, {warnings} warnings, {} errors, {} duplicate-key files the loader refuses:\n{}",
        failures.len(),
        load_problems.len(),
        load_problems.join("\n")
    );
    assert!(files > 100, "expected the corpus, found {files}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
