//! Conformance: tektoncd/triggers' examples (../shared/conformance/tekton/triggers-examples,
//! each directory's YAML and the request of `curl_requests.json`) run through the sink, with a
//! table of whether each produces the resources its README expects
//! (`kubectl get <kind> | grep <prefix>`). Suite `triggers-sink-examples` of
//! `./scripts/conformance` (`#[ignore]`d in `./scripts/test`; reads `SLUICE_SHARED`).
//!
//! Where Sluice differs on purpose the example is listed in `DEVIATIONS` with the reason, and
//! the test asserts that it still fails for exactly that reason.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sluice_triggers::{Event, EventOutcome, Headers, NoCaller, ObjectCatalog, process};

/// The corpus under `SLUICE_SHARED` (set by `./scripts/conformance`); fails loudly without it.
fn root() -> PathBuf {
    let Some(dir) = std::env::var_os("SLUICE_SHARED") else {
        panic!(
            "SLUICE_SHARED is not set: the conformance suites run with ./scripts/conformance [PATH]"
        )
    };
    PathBuf::from(dir).join("conformance/tekton/triggers-examples")
}

/// (example, what the outcome message contains): examples Sluice does not run as upstream.
const DEVIATIONS: &[(&str, &str)] = &[
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

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    out.retain(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")));
    out.sort();
    out
}

fn load(files: &[PathBuf]) -> Vec<Value> {
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
fn expectation(dir: &Path) -> Option<(String, String)> {
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

fn kind_matches(plural: &str, kind: &str) -> bool {
    let k = kind.to_ascii_lowercase();
    plural.split(',').any(|p| {
        let p = p.to_ascii_lowercase();
        p == k || p == format!("{k}s") || p.trim_end_matches('s') == k
    })
}

fn produced(out: &EventOutcome, exp: &Option<(String, String)>) -> bool {
    out.resources().any(|r| match exp {
        None => true,
        Some((kind, prefix)) => {
            let k = r.get("kind").and_then(Value::as_str).unwrap_or("");
            let name = r
                .pointer("/metadata/generateName")
                .or_else(|| r.pointer("/metadata/name"))
                .and_then(Value::as_str)
                .unwrap_or("");
            kind_matches(kind, k) && name.starts_with(prefix.as_str())
        }
    })
}

#[test]
#[ignore = "conformance: needs the upstream corpora (./scripts/conformance)"]
fn upstream_examples_produce_their_resources() {
    let root = root();
    let root = root.as_path();
    let text = std::fs::read_to_string(root.join("curl_requests.json"))
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()));
    let requests: serde_json::Map<String, Value> =
        serde_json::from_str(&text).expect("curl_requests.json is JSON");
    let shared = yaml_files(&root.join("examples"));
    let mut rows = Vec::new();
    let (mut ok, mut deviations) = (0, 0);
    for (example, req) in &requests {
        let dir = root.join(example);
        let mut files = yaml_files(&dir);
        files.extend(shared.iter().cloned());
        let objects = load(&files);
        let catalog = ObjectCatalog::new(objects.clone(), "default");
        let listeners: Vec<(String, String)> = objects
            .iter()
            .filter(|o| o["kind"] == "EventListener")
            .map(|o| {
                (
                    o.pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        .unwrap_or("default")
                        .to_owned(),
                    o.pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                )
            })
            .collect();
        let body: Vec<u8> = match req.get("body_file").and_then(Value::as_str) {
            Some(f) => std::fs::read(root.join(f)).unwrap_or_default(),
            None => req
                .get("body")
                .and_then(Value::as_str)
                .unwrap_or("")
                .as_bytes()
                .to_vec(),
        };
        let mut headers = Headers::new();
        if let Some(h) = req.get("headers").and_then(Value::as_object) {
            for (k, v) in h {
                headers.append(k, v.as_str().unwrap_or(""));
            }
        }
        // curl -d sends this content type when the request names none
        if !body.is_empty() && headers.get("Content-Type").is_none() {
            headers.append("Content-Type", "application/x-www-form-urlencoded");
        }
        let exp = expectation(&dir);
        let mut result = (
            "no".to_owned(),
            "no EventListener in the example".to_owned(),
        );
        for (ns, name) in &listeners {
            let out = process(
                &Event {
                    namespace: ns,
                    listener: name,
                    headers: &headers,
                    body: &body,
                    url: "http://localhost:8080",
                    event_id: "00000000-0000-4000-8000-000000000000",
                },
                &catalog,
                &NoCaller,
            );
            let detail = if out.triggers.is_empty() {
                format!("HTTP {} {}", out.status, out.response.error_message)
            } else {
                out.triggers
                    .iter()
                    .map(|t| format!("{}: {}", t.result.reason(), t.result.message()))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            if produced(&out, &exp) {
                result = ("yes".to_owned(), detail);
                break;
            }
            result = (
                "no".to_owned(),
                format!("{ns}/{name}: HTTP {}: {detail}", out.status),
            );
        }
        let deviation = DEVIATIONS.iter().find(|(e, _)| e == example);
        let verdict = match (result.0.as_str(), deviation) {
            ("yes", None) => {
                ok += 1;
                "yes"
            }
            ("no", Some((_, why))) => {
                assert!(
                    result.1.contains(why),
                    "{example}: expected to fail with {why:?}, got {}",
                    result.1
                );
                deviations += 1;
                "deviation"
            }
            ("yes", Some(_)) => panic!("{example} now passes: drop it from DEVIATIONS"),
            _ => "no",
        };
        let want = exp
            .as_ref()
            .map(|(k, p)| format!("{k} {p}*"))
            .unwrap_or_else(|| "any resource".to_owned());
        rows.push((example.clone(), want, verdict, result.1));
    }
    println!(
        "\n{:<50} {:<45} {:<9} detail",
        "example", "expected", "produced"
    );
    for (e, w, v, d) in &rows {
        let d: String = d.chars().take(160).collect();
        println!("{e:<50} {w:<45} {v:<9} {d}");
    }
    let failing: Vec<&str> = rows
        .iter()
        .filter(|r| r.2 == "no")
        .map(|r| r.0.as_str())
        .collect();
    println!(
        "\n{ok} of {} examples produce their resources; {deviations} differ on purpose; failing: {failing:?}",
        rows.len()
    );
    println!("CONFORMANCE triggers-sink-examples {ok} {}", rows.len());
    assert!(
        failing.is_empty(),
        "examples that do not produce their resources: {failing:?}"
    );
}
