//! Conformance: tektoncd/triggers' examples (../shared/conformance/tekton/triggers-examples,
//! each directory's YAML and the request of `curl_requests.json`) run through the sink, with a
//! table of whether each produces the resources its README expects
//! (`kubectl get <kind> | grep <prefix>`). Suite `triggers-sink-examples` of
//! `./scripts/conformance` (`#[ignore]`d in `./scripts/test`; reads `SLUICE_SHARED`).
//!
//! Where Sluice differs on purpose the example is listed in `DEVIATIONS` with the reason, and
//! the test asserts that it still fails for exactly that reason.

mod examples;

use examples::{DEVIATIONS, expectation, kind_matches, load, root, yaml_files};
use serde_json::Value;
use sluice_triggers::{Event, EventOutcome, Headers, NoCaller, ObjectCatalog, process};

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
        let (pairs, body) = examples::request(root, req);
        let mut headers = Headers::new();
        for (k, v) in &pairs {
            headers.append(k, v.as_str());
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
