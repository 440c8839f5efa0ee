//! Concurrency groups of `sluice serve` end to end (docs/serve.md "Concurrency groups"):
//! under `queue` the runs of a group run one at a time in creation order, the others
//! waiting with reason `Queued`; under `cancel-in-progress` a newer run cancels the older
//! running one, whose message names it (GitHub Actions' `concurrency` semantics:
//! docs.github.com "Control the concurrency of workflows and jobs").

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::apiserver_kubectl::kubectl_available;
use crate::serve_triggers::Serve;

const PIPELINE: &str = r#"
apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: deploy
  namespace: ci
  annotations:
    sluice.dev/concurrency-group: deploy-$(params.env)
spec:
  params:
  - name: env
    default: staging
  - name: seconds
    default: "1"
  tasks:
  - name: roll
    params:
    - {name: seconds, value: $(params.seconds)}
    taskSpec:
      params:
      - name: seconds
      steps:
      - name: roll
        image: alpine
        script: sleep $(params.seconds)
"#;

fn run(name: &str, env: &str, seconds: &str, policy: Option<&str>) -> String {
    let ann = policy
        .map(|p| format!("  annotations:\n    sluice.dev/concurrency-policy: {p}\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata:\n  name: {name}\n  namespace: ci\n{ann}spec:\n  pipelineRef: {{name: deploy}}\n  params:\n  - {{name: env, value: {env}}}\n  - {{name: seconds, value: \"{seconds}\"}}\n"
    )
}

fn runs(s: &Serve) -> Vec<Value> {
    s.json(&["get", "pipelineruns", "-n", "ci"])["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn field<'a>(v: &'a Value, name: &str) -> &'a Value {
    &v["status"][name]
}

fn cond(v: &Value) -> (String, String, String) {
    let c = &v["status"]["conditions"][0];
    let s = |k: &str| c[k].as_str().unwrap_or("").to_owned();
    (s("status"), s("reason"), s("message"))
}

#[test]
fn queue_runs_one_at_a_time_and_cancel_in_progress_cancels_the_older_run() {
    if !kubectl_available() {
        eprintln!("kubectl is not installed: skipped");
        return;
    }
    let s = Serve::start("concurrency", &[]);
    s.ok(&["create", "namespace", "ci"], None);
    s.ok(&["apply", "-f", "-"], Some(PIPELINE));
    // three runs of group deploy-staging (same second: the names order them) and one of
    // deploy-prod, which is not held back by them
    let mut all = String::new();
    for n in ["q-a", "q-b", "q-c"] {
        all.push_str(&run(n, "staging", "1", None));
        all.push_str("---\n");
    }
    all.push_str(&run("q-prod", "prod", "1", None));
    s.ok(&["create", "-f", "-"], Some(&all));
    let t0 = Instant::now();
    let mut saw_queued = false;
    let mut prod_started_while_staging_ran = false;
    loop {
        let rs = runs(&s);
        let staging: Vec<&Value> = rs
            .iter()
            .filter(|r| r["metadata"]["name"] != "q-prod")
            .collect();
        let running = staging
            .iter()
            .filter(|r| {
                field(r, "startTime").is_string() && !field(r, "completionTime").is_string()
            })
            .count();
        assert!(
            running <= 1,
            "two runs of one queue group ran at once: {rs:#?}"
        );
        for r in &staging {
            let (_, reason, message) = cond(r);
            if reason == "Queued" {
                saw_queued = true;
                assert!(
                    message.contains("concurrency group \"deploy-staging\""),
                    "{message}"
                );
            }
        }
        if running == 1
            && rs
                .iter()
                .any(|r| r["metadata"]["name"] == "q-prod" && field(r, "startTime").is_string())
        {
            prod_started_while_staging_ran = true;
        }
        if rs.len() == 4 && rs.iter().all(|r| field(r, "completionTime").is_string()) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(90),
            "runs did not end: {rs:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(saw_queued, "no run was seen Queued");
    assert!(
        prod_started_while_staging_ran,
        "another group was held back"
    );
    let rs = runs(&s);
    let get = |n: &str| {
        rs.iter()
            .find(|r| r["metadata"]["name"] == n)
            .cloned()
            .unwrap_or_default()
    };
    for n in ["q-a", "q-b", "q-c", "q-prod"] {
        assert_eq!(cond(&get(n)).1, "Succeeded", "{n}: {:#}", get(n)["status"]);
    }
    // FIFO: each started after the previous one completed
    let t = |n: &str, f: &str| get(n)["status"][f].as_str().unwrap_or("").to_owned();
    assert!(t("q-b", "startTime") >= t("q-a", "completionTime"));
    assert!(t("q-c", "startTime") >= t("q-b", "completionTime"));
    // each run carries the group it was placed in, and `sluice pipelinerun list` shows it
    for (n, g) in [
        ("q-a", "deploy-staging"),
        ("q-c", "deploy-staging"),
        ("q-prod", "deploy-prod"),
    ] {
        assert_eq!(
            get(n)["metadata"]["annotations"]["sluice.dev/concurrency-key"],
            g,
            "{n}"
        );
    }
    let kubeconfig = s.dir.join("kubeconfig");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["pipelinerun", "list", "-n", "ci", "--kubeconfig"])
        .arg(&kubeconfig)
        .output()
        .expect("sluice runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let header: Vec<&str> = text
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(header.last(), Some(&"CONCURRENCY"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("q-prod ") && l.trim_end().ends_with("deploy-prod")),
        "{text}"
    );

    // cancel-in-progress: a long run, then a newer one cancels it
    s.ok(
        &["create", "-f", "-"],
        Some(&run("c-old", "canary", "30", Some("cancel-in-progress"))),
    );
    let t0 = Instant::now();
    while !runs(&s)
        .iter()
        .any(|r| r["metadata"]["name"] == "c-old" && cond(r).1 == "Running")
    {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "c-old did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    s.ok(
        &["create", "-f", "-"],
        Some(&run("c-new", "canary", "1", Some("cancel-in-progress"))),
    );
    let t0 = Instant::now();
    loop {
        let rs = runs(&s);
        let done = |n: &str| {
            rs.iter()
                .any(|r| r["metadata"]["name"] == n && field(r, "completionTime").is_string())
        };
        if done("c-old") && done("c-new") {
            let get = |n: &str| {
                rs.iter()
                    .find(|r| r["metadata"]["name"] == n)
                    .cloned()
                    .unwrap_or_default()
            };
            let (status, reason, message) = cond(&get("c-old"));
            assert_eq!(
                (status.as_str(), reason.as_str()),
                ("False", "Cancelled"),
                "{message}"
            );
            assert!(message.contains("newer PipelineRun \"c-new\""), "{message}");
            assert_eq!(cond(&get("c-new")).1, "Succeeded");
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "cancel-in-progress: {rs:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
