//! The seed's alerts end to end with a real Prometheus (Debian's `prometheus`): the rule
//! groups of tests/fixtures/monitoring/cicd-alerts.yaml (the seed's metric names and
//! expressions) printed by `sluice monitoring rules --for 0s`, loaded by Prometheus, which
//! scrapes `sluice serve`'s /metrics every second. On a healthy system (a successful run,
//! a Synced and Healthy Application) no alert is pending or firing; after a failed
//! PipelineRun `TektonPipelineRunFailed` fires for its Pipeline, and after the Application
//! turns Degraded `ArgoCDApplicationDegraded` fires for it (Prometheus HTTP API
//! `/api/v1/alerts`, prometheus.io/docs/prometheus/latest/querying/api/#alerts; the metric
//! shapes are Argo CD's controller/metrics/metrics.go and Tekton's docs/metrics.md).

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::apiserver_kubectl::{kubectl_available, temp_dir};
use crate::common::{repo_root, sluice};
use crate::serve_gitops::{commit, git};
use crate::serve_rollouts::{get, prometheus_available, start_prometheus_with};
use crate::serve_triggers::Serve;

const TASK: &str = "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: check\nspec:\n  params:\n  - name: ok\n  steps:\n  - name: check\n    image: alpine\n    script: |\n      #!/bin/sh\n      test \"$(params.ok)\" = yes\n";
const PIPELINE: &str = "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: build\nspec:\n  params:\n  - name: ok\n  tasks:\n  - name: check\n    params:\n    - {name: ok, value: $(params.ok)}\n    taskRef: {name: check}\n";

fn run(name: &str, ok: &str) -> String {
    format!(
        "apiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata:\n  name: {name}\nspec:\n  pipelineRef: {{name: build}}\n  params:\n  - {{name: ok, value: \"{ok}\"}}\n"
    )
}

/// The alerts Prometheus reports (pending or firing), as (alertname, state, labels).
fn alerts(port: u16) -> Vec<(String, String, Value)> {
    let Some(body) = get(port, "/api/v1/alerts") else {
        return Vec::new();
    };
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    v["data"]["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            (
                a["labels"]["alertname"].as_str().unwrap_or("").to_owned(),
                a["state"].as_str().unwrap_or("").to_owned(),
                a["labels"].clone(),
            )
        })
        .collect()
}

/// The number of series of an instant query (`/api/v1/query`).
fn series(port: u16, query: &str) -> usize {
    let q: String = query
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    get(port, &format!("/api/v1/query?query={q}"))
        .and_then(|b| serde_json::from_str::<Value>(&b).ok())
        .and_then(|v| v["data"]["result"].as_array().map(Vec::len))
        .unwrap_or(0)
}

fn wait(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !done() {
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn seed_alerts_fire_in_a_real_prometheus_on_a_failed_run_and_a_degraded_app() {
    if !kubectl_available() || !prometheus_available() {
        eprintln!("kubectl or prometheus is not installed (scripts/deps): skipped");
        return;
    }
    let s = Serve::start("monitoring", &["--metrics-public"]);
    let dir = temp_dir("monitoring-prom");

    // the rules, `for:` overridden so that alerts fire at once
    let fixture = repo_root().join("tests/fixtures/monitoring/cicd-alerts.yaml");
    let o = sluice(
        &[
            "monitoring",
            "rules",
            "-f",
            &fixture.display().to_string(),
            "--for",
            "0s",
        ],
        None,
    );
    assert!(o.status.success(), "{}", crate::common::stderr(&o));
    let rules = dir.join("rules.yaml");
    std::fs::write(&rules, &o.stdout).expect("test setup");
    let hostport = s
        .url
        .strip_prefix("https://")
        .expect("sluice serve speaks TLS")
        .to_owned();
    let prom = start_prometheus_with(
        &dir,
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: ['{}']\nscrape_configs:\n- job_name: sluice\n  scheme: https\n  tls_config: {{insecure_skip_verify: true}}\n  static_configs:\n  - targets: ['{hostport}']\n",
            rules.display()
        ),
    );
    let port = prom.port;
    wait("Prometheus to load the five rules", 30, || {
        get(port, "/api/v1/rules").is_some_and(|b| b.matches("\"alerting\"").count() == 5)
    });

    // a healthy system: a successful run and a Synced, Healthy Application
    s.ok(
        &["apply", "-f", "-"],
        Some(&format!("{TASK}---\n{PIPELINE}")),
    );
    s.ok(&["create", "-f", "-"], Some(&run("good", "yes")));
    let repo = temp_dir("monitoring-repo");
    git(&repo, &["init", "-q", "-b", "main"]);
    commit(
        &repo,
        &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: \"1\"\n",
        )],
        "settings",
    );
    s.ok(
        &["apply", "-f", "-"],
        Some(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: argocd}}\n---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: shop\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: file://{}\n    targetRevision: HEAD\n    path: .\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: shop\n  syncPolicy:\n    automated: {{prune: true}}\n    syncOptions: [CreateNamespace=true]\n",
            repo.display()
        )),
    );
    s.wait_for(
        &["get", "pipelinerun", "good"],
        "the good run to succeed",
        |v| v["status"]["conditions"][0]["reason"] == "Succeeded",
    );
    s.wait_for(
        &["get", "application", "shop", "-n", "argocd"],
        "the app to be Synced and Healthy",
        |v| {
            v["status"]["sync"]["status"] == "Synced"
                && v["status"]["health"]["status"] == "Healthy"
        },
    );
    wait("Prometheus to scrape the healthy app", 30, || {
        series(
            port,
            r#"argocd_app_info{name="shop",sync_status="Synced",health_status="Healthy"} == 1"#,
        ) == 1
            && series(
                port,
                r#"tekton_pipelinerun_count{status="success",pipeline="build"}"#,
            ) == 1
    });
    // a few more evaluations: nothing pending, nothing firing
    std::thread::sleep(Duration::from_secs(3));
    let quiet = alerts(port);
    assert!(quiet.is_empty(), "alerts on a healthy system: {quiet:?}");

    // a failed run
    s.ok(&["create", "-f", "-"], Some(&run("bad", "no")));
    wait("TektonPipelineRunFailed to fire", 60, || {
        alerts(port).iter().any(|(n, st, l)| {
            n == "TektonPipelineRunFailed"
                && st == "firing"
                && l["pipeline"] == "build"
                && l["namespace"] == "default"
        })
    });

    // a Degraded Application: a health check from argocd-cm says so (docs
    // operator-manual/health.md "Custom Health Checks")
    s.ok(
        &["apply", "-f", "-"],
        Some(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-cm, namespace: argocd}\ndata:\n  resource.customizations.health.ConfigMap: |\n    return {status = \"Degraded\", message = \"settings are broken\"}\n",
        ),
    );
    s.ok(
        &[
            "annotate",
            "application",
            "shop",
            "-n",
            "argocd",
            "argocd.argoproj.io/refresh=hard",
            "--overwrite",
        ],
        None,
    );
    s.wait_for(
        &["get", "application", "shop", "-n", "argocd"],
        "the app to turn Degraded",
        |v| v["status"]["health"]["status"] == "Degraded",
    );
    wait("ArgoCDApplicationDegraded to fire", 60, || {
        alerts(port).iter().any(|(n, st, l)| {
            n == "ArgoCDApplicationDegraded" && st == "firing" && l["name"] == "shop"
        })
    });
    // the app is still in sync: that alert stays silent
    let all = alerts(port);
    assert!(
        !all.iter().any(|(n, _, _)| n == "ArgoCDApplicationOutOfSync"
            || n == "ArgoCDSyncFailed"
            || n == "TektonPipelineRunStuck"),
        "{all:?}"
    );
    drop(prom);
}
