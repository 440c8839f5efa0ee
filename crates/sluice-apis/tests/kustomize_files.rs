//! Conformance: every kustomization that `kubectl kustomize` (v5.5.0) builds in the shared
//! corpora (directories listed in shared/conformance/kustomize/*/buildable.txt, one path per
//! line relative to the corpus folder) must get no error from Sluice (warnings such as
//! kustomize's own deprecation warnings are allowed). Suite `kustomize-files-validate` of
//! `./scripts/conformance`: the files that load and have no error.

mod common;

use serde_json::Value;
use sluice_apis::{Context, ObjectSet};
use sluice_core::{Limits, Object, Severity, yaml::load_documents};

/// Kustomizations kustomize builds but Sluice reports an error for, each with the reason
/// (file suffix, reason). They count as not passed in the suite; any other error fails it.
const KNOWN: &[(&str, &str)] = &[];

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
#[ignore = "conformance: needs the upstream corpora (./scripts/conformance)"]
fn buildable_kustomizations_have_no_errors() {
    let root = common::shared().join("conformance/kustomize");
    let mut corpora: Vec<_> = std::fs::read_dir(&root)
        .expect("read corpus")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("buildable.txt").is_file())
        .collect();
    corpora.sort();
    let (mut files, mut warnings, mut failures) = (0usize, 0usize, Vec::new());
    let mut known: Vec<String> = Vec::new();
    // Of the listed directories, those whose kustomization loads and has no error (the
    // duplicate-key files the loader refuses count as not clean).
    let (mut listed, mut clean) = (0usize, 0usize);
    let mut load_problems: Vec<String> = Vec::new();
    for corpus in corpora {
        let list = std::fs::read_to_string(corpus.join("buildable.txt")).expect("read list");
        for dir in list.lines().map(str::trim).filter(|l| !l.is_empty()) {
            listed += 1;
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
            let reason = KNOWN
                .iter()
                .find(|(f, _)| file.ends_with(f))
                .map(|(_, why)| *why);
            let mut errors = 0;
            for e in sluice_apis::validate_one(&objs[0], &ctx).iter() {
                if e.severity == Severity::Warning {
                    warnings += 1;
                } else if let Some(why) = reason {
                    errors += 1;
                    known.push(format!("{}: {e} (known: {why})", file.display()));
                } else {
                    errors += 1;
                    failures.push(format!("{}: {e}", file.display()));
                }
            }
            if errors == 0 {
                clean += 1;
                if reason.is_some() {
                    failures.push(format!(
                        "{}: no error now: remove it from KNOWN",
                        file.display()
                    ));
                }
            }
        }
    }
    eprintln!(
        "kustomize: {files} kustomization files, {warnings} warnings, {} errors, {} known errors:\n{}\n{} duplicate-key files the loader refuses:\n{}",
        failures.len(),
        known.len(),
        known.join("\n"),
        load_problems.len(),
        load_problems.join("\n")
    );
    common::report("kustomize-files-validate", clean, listed);
    assert!(files > 100, "expected the corpus, found {files}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
