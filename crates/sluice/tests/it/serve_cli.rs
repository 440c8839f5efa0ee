//! The CLI against a running `sluice serve` (the real binary both sides): apply, get,
//! delete, pipeline start --showlog, pipelinerun list/describe/logs/cancel/delete --keep,
//! taskrun list/logs, task list; `--keep-runs`; `/metrics` scraped after a failed and a
//! successful run and fed to `promtool test rules` with seed-shaped alert rules.
//!
//! Output shapes pinned from tektoncd/cli: `pkg/cmd/pipelinerun/list.go` (NAME STARTED
//! DURATION STATUS), `pkg/formatted/k8s.go` (`Condition`), `pkg/formatted/time.go`,
//! `pkg/pipelinerun/description/description.go` (sections), `pkg/cmd/pipeline/start.go`
//! ("PipelineRun started: NAME"), `pkg/cmd/pipelinerun/cancel.go` ("PipelineRun cancelled:
//! NAME"), `pkg/cmd/pipelinerun/delete.go` ("PipelineRuns deleted: ..."); kubectl's
//! `apply` and `delete` action lines.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::apiserver_kubectl::temp_dir;
use crate::common::repo_root;
use crate::serve_kubectl::{Proc, need_kubectl};

const PIPELINE: &str = r#"
apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: build
spec:
  params:
    - name: app
      default: demo
  tasks:
    - name: compile
      taskRef:
        name: echo
      params:
        - name: text
          value: compiling $(params.app)
    - name: check
      runAfter: [compile]
      params:
        - name: app
          value: $(params.app)
      taskSpec:
        params:
          - name: app
        steps:
          - name: verify
            image: alpine
            script: |
              echo "checking $(params.app)"
              [ "$(params.app)" != bad ]
"#;

const TASK: &str = r#"
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: echo
spec:
  description: Prints its text
  params:
    - name: text
  steps:
    - name: say
      image: alpine
      script: echo "$(params.text)"
"#;

const SLOW: &str = r#"
apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: slow
spec:
  tasks:
    - name: wait
      taskSpec:
        steps:
          - name: sleep
            image: alpine
            script: sleep 60
"#;

fn cli(s: &Proc, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .arg("--data")
        .arg(&s.dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("sluice runs")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn ok(s: &Proc, args: &[&str]) -> String {
    let o = cli(s, args);
    let (out, err) = text(&o);
    assert!(o.status.success(), "sluice {args:?}: {err}\n{out}");
    out
}

fn run_names(s: &Proc) -> Vec<String> {
    ok(s, &["pipelinerun", "list", "--no-headers"])
        .lines()
        .filter(|l| !l.starts_with("No "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn promtool() -> Option<PathBuf> {
    let ok = Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some(PathBuf::from("promtool"))
    } else {
        eprintln!("promtool is not installed (scripts/deps installs Debian's prometheus): skipped");
        None
    }
}

#[test]
fn cli_against_serve_runs_lists_logs_metrics_and_retention() {
    if !need_kubectl() {
        return;
    }
    let s = Proc::start_with("serve", temp_dir("cli"), 0, &["--keep-runs", "2"]);
    let dir = s.dir.join("manifests");
    std::fs::create_dir_all(&dir).expect("test setup");
    std::fs::write(dir.join("pipeline.yaml"), PIPELINE).expect("test setup");
    std::fs::write(dir.join("task.yaml"), TASK).expect("test setup");
    std::fs::write(dir.join("notes.txt"), "not a manifest").expect("test setup");
    let d = dir.display().to_string();

    // apply a directory, then again: kubectl's action lines
    assert_eq!(
        ok(&s, &["apply", "-f", &d]),
        "pipeline.tekton.dev/build created\ntask.tekton.dev/echo created\n"
    );
    assert_eq!(
        ok(&s, &["apply", "-f", &d]),
        "pipeline.tekton.dev/build unchanged\ntask.tekton.dev/echo unchanged\n"
    );
    let tasks = ok(&s, &["task", "list"]);
    assert!(
        tasks.starts_with("NAME   DESCRIPTION       AGE\necho   Prints its text   "),
        "{tasks}"
    );

    // a successful and a failed run, followed to their ends
    let o = cli(
        &s,
        &["pipeline", "start", "build", "-p", "app=shop", "--showlog"],
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}\n{out}");
    assert!(out.starts_with("PipelineRun started: build-run-"), "{out}");
    assert!(out.contains("[compile : say] compiling shop\n"), "{out}");
    assert!(out.contains("[check : verify] checking shop\n"), "{out}");
    let o = cli(
        &s,
        &["pipeline", "start", "build", "-p", "app=bad", "--showlog"],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}\n{out}");
    assert!(out.contains("[check : verify] checking bad\n"), "{out}");
    assert!(err.contains("did not succeed"), "{err}");

    // tkn's list: newest first
    let list = ok(&s, &["pipelinerun", "list"]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    let cols: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(cols, ["NAME", "STARTED", "DURATION", "STATUS"]);
    // (both may have started within the same second: tkn's order is by start time only)
    let by_status = |st: &str| {
        lines[1..]
            .iter()
            .find(|l| l.ends_with(st))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_else(|| panic!("no {st} run in {list}"))
            .to_owned()
    };
    let (failed, good) = (by_status("   Failed"), by_status("   Succeeded"));
    assert!(lines[1].contains(" ago "), "{list}");
    let all = ok(&s, &["pr", "list", "-A"]);
    assert!(all.starts_with("NAMESPACE   NAME"), "{all}");
    assert!(all.contains(&format!("default     {failed}")), "{all}");
    assert_eq!(
        ok(&s, &["pipelinerun", "list", "nothing"]),
        "No PipelineRuns found\n"
    );

    // describe: tkn's sections, the failed step's message
    let desc = ok(&s, &["pipelinerun", "describe", &failed]);
    for want in [
        &format!("Name:           {failed}\n") as &str,
        "Pipeline Ref:   build\n",
        "\nStatus\n\nSTARTED ",
        "\nMessage\n\nTasks Completed: 2 (Failed: 1, Cancelled 0), Skipped: 0 (\"step-verify\" exited with code 1)\n",
        "\nParams\n\n NAME   VALUE\n app    bad\n",
        "\nTaskruns\n\n NAME ",
    ] {
        assert!(desc.contains(want), "missing {want:?} in\n{desc}");
    }
    let row: Vec<&str> = desc
        .lines()
        .find(|l| l.starts_with(&format!(" {failed}-check ")))
        .unwrap_or_else(|| panic!("no check TaskRun row in {desc}"))
        .split_whitespace()
        .collect();
    assert_eq!(
        (row[1], row.last().copied()),
        ("check", Some("Failed")),
        "{desc}"
    );

    // logs: all tasks, one task (-t)
    let logs = ok(&s, &["pipelinerun", "logs", &good]);
    assert_eq!(
        logs,
        "[compile : say] compiling shop\n\n[check : verify] checking shop\n\n"
    );
    let logs = ok(&s, &["pipelinerun", "logs", &good, "-t", "check"]);
    assert_eq!(logs, "[check : verify] checking shop\n\n");
    let trs = ok(&s, &["taskrun", "list"]);
    assert!(trs.starts_with("NAME "), "{trs}");
    assert_eq!(trs.lines().count(), 5, "{trs}");
    assert_eq!(
        ok(&s, &["taskrun", "logs", &format!("{good}-compile")]),
        "[compile : say] compiling shop\n\n"
    );
    let trd = ok(&s, &["taskrun", "describe", &format!("{failed}-check")]);
    assert!(
        trd.contains("\nSteps\n\n NAME     STATUS\n verify   Error\n")
            || trd.contains("\nSteps\n\n NAME     STATUS\n verify   "),
        "{trd}"
    );

    // get: the server's columns, -o name|json, -A, errors and exit codes
    let get = ok(&s, &["get", "pipelineruns"]);
    assert!(get.starts_with("NAME "), "{get}");
    assert!(get.contains("SUCCEEDED"), "{get}");
    assert_eq!(
        ok(&s, &["get", "pr", &good, "-o", "name"]),
        format!("pipelinerun.tekton.dev/{good}\n")
    );
    let wide = ok(
        &s,
        &["get", "pr", "-o", "wide", "-l", "tekton.dev/pipeline=build"],
    );
    assert_eq!(wide.lines().count(), 3, "{wide}");
    // kubectl prints `No resources found` on standard error
    let o = cli(&s, &["get", "pr", "-l", "tekton.dev/pipeline=other"]);
    assert_eq!(
        text(&o),
        (
            String::new(),
            "No resources found in default namespace.\n".into()
        )
    );
    let j: Value =
        serde_json::from_str(&ok(&s, &["get", "taskruns", "-o", "json"])).expect("test setup");
    assert_eq!(j["kind"], "List");
    assert_eq!(j["items"].as_array().map(Vec::len), Some(4));
    let y = ok(&s, &["get", "pipeline", "build", "-o", "yaml"]);
    assert!(
        y.starts_with("apiVersion: tekton.dev/v1\nkind: Pipeline\n"),
        "{y}"
    );
    assert!(ok(&s, &["get", "ns", "-A"]).contains("default"));
    let o = cli(&s, &["get", "nothing"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        text(&o).1,
        "error: the server doesn't have a resource type \"nothing\"\n"
    );
    let o = cli(&s, &["get", "pr", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o).1,
        "Error from server (NotFound): pipelineruns.tekton.dev \"nope\" not found\n"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["pr", "list", "--data", "/nonexistent-sluice"])
        .output()
        .expect("test setup");
    assert_eq!(o.status.code(), Some(2));

    // metrics after one failed and one successful run
    let metrics = s.ok(&["get", "--raw", "/metrics"], None);
    promtool_rules(&s.dir, &metrics);

    // cancel a running run
    s.ok(&["apply", "-f", "-"], Some(SLOW));
    let started = ok(&s, &["pipeline", "start", "slow"]);
    let slow = started
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("PipelineRun started: "))
        .expect("test setup")
        .to_owned();
    assert!(started.contains(&format!("sluice pipelinerun logs {slow} -f -n default")));
    wait_for("slow runs", 30, || {
        ok(&s, &["pipelinerun", "list", "slow"]).contains("Running")
    });
    assert_eq!(
        ok(&s, &["pipelinerun", "cancel", &slow]),
        format!("PipelineRun cancelled: {slow}\n")
    );
    wait_for("slow cancelled", 30, || {
        ok(&s, &["pipelinerun", "list", "slow"]).contains("Cancelled(Cancelled)")
    });
    let o = cli(&s, &["pipelinerun", "cancel", &slow]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("already finished"), "{:?}", text(&o));

    // server retention (--keep-runs 2): a third finished run of build removes the oldest
    // of the first two (they may have finished within the same second)
    let o = cli(&s, &["pipeline", "start", "build", "--showlog"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let third = text(&o)
        .0
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("PipelineRun started: "))
        .expect("test setup")
        .to_owned();
    wait_for("retention", 30, || run_names(&s).len() == 3);
    let left = run_names(&s);
    assert!(left.contains(&third) && left.contains(&slow), "{left:?}");
    let kept = if left.contains(&good) { &good } else { &failed };
    // by hand: keep 1 of build
    let del = ok(
        &s,
        &["pipelinerun", "delete", "--keep", "1", "-p", "build", "-f"],
    );
    assert_eq!(del, format!("PipelineRuns deleted: \"{kept}\"\n"));
    assert_eq!(run_names(&s).len(), 2);
    assert_eq!(
        ok(&s, &["pipelinerun", "delete", &slow]),
        format!("PipelineRuns deleted: \"{slow}\"\n")
    );
    // a deleted run's files go with it: its Pods' logs and its run directory
    let files_of = |run: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(s.dir.join("logs/default"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(&format!("{run}-")))
                    .collect()
            })
            .unwrap_or_default();
        if s.dir.join("runs/default").join(run).exists() {
            v.push(format!("runs/default/{run}"));
        }
        v
    };
    for gone in [&good, &failed, &slow] {
        wait_for("a deleted run's files", 30, || files_of(gone).is_empty());
    }
    let third_files = files_of(&third);
    assert!(
        third_files.iter().any(|f| f.ends_with("-pod"))
            && third_files.contains(&format!("runs/default/{third}")),
        "{third_files:?}"
    );

    // delete by type and name, and by manifest
    assert_eq!(
        ok(&s, &["delete", "pipeline", "slow"]),
        "pipeline.tekton.dev \"slow\" deleted\n"
    );
    let task = dir.join("task.yaml").display().to_string();
    assert_eq!(
        ok(&s, &["delete", "-f", &task]),
        "task.tekton.dev \"echo\" deleted\n"
    );
    assert_eq!(ok(&s, &["task", "list"]), "No Tasks found\n");
    let o = cli(&s, &["delete", "-f", &task]);
    assert_eq!(o.status.code(), Some(1));
}

/// `spec.groups` of the seed-shaped PrometheusRule as a Prometheus rules file (JSON is
/// YAML).
fn rules_file(rule: &Path, out: &Path) {
    let text = std::fs::read_to_string(rule).expect("test setup");
    let docs = sluice_core::yaml::load_documents(&text, &sluice_core::yaml::Limits::default())
        .expect("test setup");
    let groups = &docs[0].value["spec"]["groups"];
    assert!(groups.as_array().is_some_and(|g| !g.is_empty()));
    std::fs::write(
        out,
        serde_json::to_string_pretty(&serde_json::json!({"groups": groups})).expect("test setup"),
    )
    .expect("test setup");
}

/// The samples of `metrics` (OpenMetrics text) whose names start with `prefix`.
fn samples<'a>(metrics: &'a str, prefix: &str) -> Vec<(&'a str, &'a str)> {
    metrics
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit_once(' '))
        .collect()
}

/// promtool check rules + test rules: TektonPipelineRunFailed fires for the failed run's
/// Pipeline, the other four rules stay silent (docs: prometheus.io/docs/prometheus/latest/
/// configuration/unit_testing_rules/).
fn promtool_rules(dir: &Path, metrics: &str) {
    let Some(promtool) = promtool() else {
        return;
    };
    let rules = dir.join("rules.json");
    rules_file(
        &repo_root().join("tests/fixtures/monitoring/cicd-alerts.yaml"),
        &rules,
    );
    let o = Command::new(&promtool)
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .expect("test setup");
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(
        text(&o).0.contains("SUCCESS: 5 rules found"),
        "{:?}",
        text(&o)
    );

    // input series: what /metrics said, held for 10 minutes
    let mut series = String::new();
    let counts = samples(metrics, "tekton_pipelinerun_count{");
    assert_eq!(counts.len(), 2, "{metrics}");
    for (name, value) in counts
        .iter()
        .chain(samples(metrics, "tekton_pipelinerun_start_time").iter())
        .chain(samples(metrics, "tekton_pipelines_controller_pipelinerun_total").iter())
    {
        series.push_str(&format!(
            "      - series: '{name}'\n        values: '{value}x10'\n"
        ));
    }
    assert!(
        series.contains(
            r#"tekton_pipelinerun_count{pipeline="build",namespace="default",status="failed"}"#
        ),
        "{series}"
    );
    let test = format!(
        "rule_files:\n  - {}\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{series}    alert_rule_test:\n      - eval_time: 5m\n        alertname: TektonPipelineRunFailed\n        exp_alerts:\n          - exp_labels:\n              severity: warning\n              pipeline: build\n              namespace: default\n            exp_annotations:\n              summary: A pipeline run failed\n              description: 'default/build: a run failed'\n{}",
        rules.display(),
        [
            "TektonPipelineRunStuck",
            "ArgoCDApplicationOutOfSync",
            "ArgoCDApplicationDegraded",
            "ArgoCDSyncFailed"
        ]
        .iter()
        .map(|a| format!(
            "      - eval_time: 10m\n        alertname: {a}\n        exp_alerts: []\n"
        ))
        .collect::<String>()
    );
    let test_file = dir.join("alerts_test.yaml");
    std::fs::write(&test_file, &test).expect("test setup");
    let o = Command::new(&promtool)
        .args(["test", "rules"])
        .arg(&test_file)
        .output()
        .expect("test setup");
    assert!(o.status.success(), "{test}\n{:?}", text(&o));
    // and the alert does not fire without the failure
    let silent = test.replace("values: '1x10'", "values: '0x10'");
    std::fs::write(&test_file, &silent).expect("test setup");
    let o = Command::new(&promtool)
        .args(["test", "rules"])
        .arg(&test_file)
        .output()
        .expect("test setup");
    assert!(
        !o.status.success(),
        "with zero failures the alert must not fire"
    );
}

/// The seed's own rules, extracted from its PrometheusRule, pass `promtool check rules`.
#[test]
#[ignore = "conformance: reads the seed from SLUICE_SHARED"]
fn seed_alert_rules_pass_promtool_check() {
    let _c = crate::common::Check("seed");
    let Some(promtool) = promtool() else {
        panic!("promtool is needed (apt-get install prometheus)");
    };
    let dir = temp_dir("seed-rules");
    let rules = dir.join("rules.json");
    rules_file(
        &crate::common::shared().join("seed/manifests/monitoring/cicd-alerts.yaml"),
        &rules,
    );
    let o = Command::new(promtool)
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .expect("test setup");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(o.status.success(), "{:?}", text(&o));
}
