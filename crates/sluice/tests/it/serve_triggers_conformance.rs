//! Conformance of `sluice serve`'s EventListeners: each example of tektoncd/triggers
//! (../shared/conformance/tekton/triggers-examples: its YAML, the shared example Pipeline,
//! and its request from `curl_requests.json`) is applied with kubectl to a fresh server and
//! its request POSTed to `/listeners/<namespace>/<name>`; a row says whether the resources
//! its README expects (`kubectl get <kind> | grep <prefix>`) exist afterwards. Suite
//! `triggers-serve` of `./scripts/conformance` (reads `SLUICE_SHARED`). The loaders and the
//! list of deliberate deviations are the sink suite's (`triggers-sink-examples`).

#[path = "../../../sluice-triggers/tests/examples/mod.rs"]
mod examples;

use std::time::{Duration, Instant};

use examples::{DEVIATIONS, expectation, kind_matches, load, request, root, yaml_files};
use serde_json::Value;

use crate::serve_triggers::{Serve, post};

fn created(s: &Serve, exp: &Option<(String, String)>) -> bool {
    let Some((kind, prefix)) = exp else {
        // any resource labelled with an event id
        let o = s.kubectl(
            &[
                "get",
                "pipelineruns,taskruns,configmaps",
                "-A",
                "-l",
                "triggers.tekton.dev/triggers-eventid",
                "-o",
                "name",
            ],
            None,
        );
        return !String::from_utf8_lossy(&o.stdout).trim().is_empty();
    };
    let o = s.kubectl(&["get", kind, "-A", "-o", "json"], None);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    v["items"].as_array().is_some_and(|items| {
        items.iter().any(|i| {
            i["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with(prefix.as_str()))
                && kind_matches(kind, i["kind"].as_str().unwrap_or(""))
        })
    })
}

#[test]
#[ignore = "conformance: needs the upstream corpora (./scripts/conformance)"]
fn upstream_examples_create_their_resources_through_sluice_serve() {
    let root = root();
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
        let s = Serve::start("triggers-conf", &[]);
        // apply every object (one document each: one refused object does not stop the rest)
        for o in &objects {
            if let Some(ns) = o.pointer("/metadata/namespace").and_then(Value::as_str) {
                let _ = s.kubectl(&["create", "namespace", ns], None);
            }
            let _ = s.kubectl(&["apply", "-f", "-"], Some(&o.to_string()));
        }
        let (headers, body) = request(&root, req);
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("host"))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let exp = expectation(&dir);
        let mut detail = "no EventListener in the example".to_owned();
        let mut produced = false;
        for o in objects.iter().filter(|o| o["kind"] == "EventListener") {
            let ns = o
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("default");
            let name = o
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            let (code, answer) = post(
                &format!("{}/listeners/{ns}/{name}", s.plain),
                &headers,
                &body,
            );
            // the record of the delivery (its reasons), written before the answer
            let recs = s.json(&[
                "get",
                "configmaps",
                "-n",
                ns,
                "-l",
                "sluice.dev/event-record=true",
            ]);
            let why: Vec<String> = recs["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| r["data"]["eventID"] == answer["eventID"])
                .filter_map(|r| r["data"]["message"].as_str().map(str::to_owned))
                .collect();
            detail = format!("{ns}/{name}: HTTP {code}: {}", why.join("; "));
            let t0 = Instant::now();
            while code == 202 && !produced && t0.elapsed() < Duration::from_secs(2) {
                produced = created(&s, &exp);
                if !produced {
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
            if produced {
                break;
            }
        }
        let deviation = DEVIATIONS.iter().find(|(e, _)| e == example);
        let verdict = match (produced, deviation) {
            (true, None) => {
                ok += 1;
                "yes"
            }
            (false, Some((_, why))) => {
                assert!(
                    detail.contains(why),
                    "{example}: expected to fail with {why:?}, got {detail}"
                );
                deviations += 1;
                "deviation"
            }
            (true, Some(_)) => panic!("{example} now passes: drop it from DEVIATIONS"),
            (false, None) => "no",
        };
        let want = exp
            .as_ref()
            .map(|(k, p)| format!("{k} {p}*"))
            .unwrap_or_else(|| "any resource".to_owned());
        rows.push((example.clone(), want, verdict, detail));
    }
    println!(
        "\n{:<50} {:<45} {:<9} detail",
        "example", "expected", "created"
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
        "\n{ok} of {} examples create their resources through sluice serve; {deviations} differ on purpose; failing: {failing:?}",
        rows.len()
    );
    println!("CONFORMANCE triggers-serve {ok} {}", rows.len());
    assert!(
        failing.is_empty(),
        "examples that do not create their resources: {failing:?}"
    );
}
