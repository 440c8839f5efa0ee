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

// The nesting limit of JMESPath (sluice_expr::jmespath::MAX_NESTING) against what policies
// write: the deepest `{{ }}` variable of the corpus nests far below it.
#[test]
#[ignore = "conformance: needs the upstream corpora (./scripts/conformance)"]
fn corpus_variables_nest_far_below_the_limit() {
    use sluice_expr::jmespath::{MAX_NESTING, find_variables, parse_nesting};
    let root = common::shared().join("conformance/kyverno/policies");
    let mut files = Vec::new();
    yaml_files(&root, &mut files);
    let (mut count, mut deepest, mut at) = (0usize, 0usize, String::new());
    let mut exprs = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read");
        let Ok(lf) = load_objects(&f.to_string_lossy(), &text, &Limits::default()) else {
            continue;
        };
        for o in &lf.objects {
            strings(o.object.value(), "", &mut exprs);
        }
        for (key, s) in exprs.drain(..) {
            let mut found: Vec<String> = find_variables(&s)
                .into_iter()
                .map(|r| r.expr)
                .filter(|e| !e.contains("{{"))
                .collect();
            if (key == "jmesPath" || key == "list") && !s.contains("{{") {
                found.push(s.clone());
            }
            for e in found {
                if let Ok((_, n)) = parse_nesting(&e) {
                    count += 1;
                    if n > deepest {
                        deepest = n;
                        at = format!("{}: {e}", f.display());
                    }
                }
            }
        }
    }
    eprintln!("{count} variables, the deepest nests {deepest} levels: {at}");
    assert!(count > 200, "{count}");
    assert!(deepest * 4 <= MAX_NESTING, "{deepest}: {at}");
}

/// Every string (values and keys) under `v`, with the key it is the value of.
fn strings(v: &serde_json::Value, key: &str, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::String(s) => out.push((key.to_owned(), s.clone())),
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, key, out)),
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                out.push((String::new(), k.clone()));
                strings(x, k, out);
            }
        }
        _ => {}
    }
}
