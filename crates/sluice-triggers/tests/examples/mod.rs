//! Loaders of tektoncd/triggers' examples (../shared/conformance/tekton/triggers-examples),
//! shared by the sink's conformance test here and the `sluice serve` one
//! (crates/sluice/tests/it/serve_triggers_conformance.rs includes this file by path).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The corpus under `SLUICE_SHARED` (set by `./scripts/conformance`); fails loudly without it.
pub fn root() -> PathBuf {
    let Some(dir) = std::env::var_os("SLUICE_SHARED") else {
        panic!(
            "SLUICE_SHARED is not set: the conformance suites run with ./scripts/conformance [PATH]"
        )
    };
    PathBuf::from(dir).join("conformance/tekton/triggers-examples")
}

/// (example, what the outcome message contains): examples Sluice does not run as upstream.
pub const DEVIATIONS: &[(&str, &str)] = &[
    // The template declares param "response" that nothing binds and that has no default;
    // upstream creates the TaskRun with the literal text "$(tt.params.response)", Sluice
    // refuses to create resources with unfilled params (issue 9 item 10).
    (
        "examples/v1beta1/slack",
        "has no value for param(s) \"response\"",
    ),
    // Lists a pull request's files through the GitHub API: Sluice makes no such calls.
    ("examples/v1beta1/github-add-changed-files-pr", "GitHub API"),
    // Checks org/repo membership through the GitHub API.
    ("examples/v1beta1/github-owners", "GitHub API"),
    // Custom resources of a Knative Service sink: the example's request goes to the
    // Service, and its interceptors are the same as the github example's; kept as a row.
];

pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    out.retain(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")));
    out.sort();
    out
}

pub fn load(files: &[PathBuf]) -> Vec<Value> {
    let mut objs = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        if let Ok(lf) =
            sluice_core::object::load_objects(&f.display().to_string(), &text, &Default::default())
        {
            objs.extend(lf.objects.into_iter().map(|o| o.object.into_value()));
        }
    }
    objs
}

/// `kubectl get <kinds> | grep <prefix>` from the README: (kind, name prefix).
pub fn expectation(dir: &Path) -> Option<(String, String)> {
    let readme = std::fs::read_to_string(dir.join("README.md")).ok()?;
    for line in readme.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("kubectl get ") {
            let mut parts = rest.split('|');
            let kind = parts.next()?.split_whitespace().next()?.to_owned();
            let prefix = parts
                .next()?
                .split_whitespace()
                .rfind(|w| *w != "grep")?
                .to_owned();
            return Some((kind, prefix));
        }
    }
    None
}

pub fn kind_matches(plural: &str, kind: &str) -> bool {
    let k = kind.to_ascii_lowercase();
    plural.split(',').any(|p| {
        let p = p.to_ascii_lowercase();
        p == k || p == format!("{k}s") || p.trim_end_matches('s') == k
    })
}

/// The headers and body of one `curl_requests.json` entry, as curl sends them (`-d` adds
/// `Content-Type: application/x-www-form-urlencoded` when the request names none).
pub fn request(root: &Path, req: &Value) -> (Vec<(String, String)>, Vec<u8>) {
    let body: Vec<u8> = match req.get("body_file").and_then(Value::as_str) {
        Some(f) => std::fs::read(root.join(f)).unwrap_or_default(),
        None => req
            .get("body")
            .and_then(Value::as_str)
            .unwrap_or("")
            .as_bytes()
            .to_vec(),
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(h) = req.get("headers").and_then(Value::as_object) {
        for (k, v) in h {
            headers.push((k.clone(), v.as_str().unwrap_or("").to_owned()));
        }
    }
    if !body.is_empty()
        && !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        headers.push((
            "Content-Type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        ));
    }
    (headers, body)
}
