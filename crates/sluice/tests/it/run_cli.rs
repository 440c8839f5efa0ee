//! End-to-end tests of `sluice run`: the real binary runs Tekton runs on the local
//! executor. Each test cites the upstream documentation of the behaviour it pins.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use serde_json::Value;

pub(crate) fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sluice-run-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmp dir");
    d
}

pub(crate) fn run(dir: &Path, yaml: &str, extra: &[&str]) -> Output {
    let f = dir.join("run.yaml");
    std::fs::write(&f, yaml).expect("write");
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("run")
        .arg("-f")
        .arg(&f)
        .args(extra)
        .env("SLUICE_DATA_DIR", dir.join("data"))
        .env("NO_COLOR", "1")
        .output()
        .expect("sluice runs")
}

fn status_items(o: &Output) -> Vec<Value> {
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    v["items"].as_array().cloned().unwrap_or_default()
}

fn cond(item: &Value) -> (String, String, String) {
    let c = &item["status"]["conditions"][0];
    (
        c["status"].as_str().unwrap_or("").to_owned(),
        c["reason"].as_str().unwrap_or("").to_owned(),
        c["message"].as_str().unwrap_or("").to_owned(),
    )
}

const TASKRUN: &str = r#"
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {token: s3cr3t-value}
---
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: greet}
spec:
  params:
    - {name: who, default: world}
    - {name: words, type: array}
  results:
    - {name: greeting}
    - {name: list, type: array}
  workspaces:
    - {name: out}
  steps:
    - name: hello
      image: alpine
      env:
        - name: TOKEN
          valueFrom: {secretKeyRef: {name: creds, key: token}}
      args: ["$(params.words[*])"]
      script: |
        echo "token is $TOKEN"
        printf 'hello %s' "$(params.who)" > $(results.greeting.path)
        printf '["%s","%s"]' "$1" "$2" > $(results.list.path)
        echo data > $(workspaces.out.path)/file
        echo "task $(context.task.name) run $(context.taskRun.name)"
    - name: check
      image: alpine
      script: |
        #!/usr/bin/env sh
        cat $(workspaces.out.path)/file
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: greet-run}
spec:
  taskRef: {name: greet}
  params:
    - {name: words, value: [a, b]}
  workspaces:
    - {name: out, emptyDir: {}}
"#;

// docs/taskruns.md (params, workspaces, results, status), docs/variables.md
// ($(results.r.path), $(workspaces.w.path), $(context.taskRun.name)), docs/tasks.md
// "Emitting Results" (array results as JSON); Secret values are masked in logs.
#[test]
fn taskrun_with_params_results_workspaces() {
    let d = tmp("taskrun");
    let o = run(&d, TASKRUN, &["-o", "json"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("[greet/hello] token is ***"), "{err}");
    assert!(!err.contains("s3cr3t-value"), "{err}");
    assert!(
        err.contains("[greet/hello] task greet run greet-run"),
        "{err}"
    );
    assert!(err.contains("[greet/check] data"), "{err}");
    let items = status_items(&o);
    let tr = &items[0];
    assert_eq!(tr["kind"], "TaskRun");
    assert_eq!(
        cond(tr),
        (
            "True".into(),
            "Succeeded".into(),
            "All Steps have completed executing".into()
        )
    );
    let results = tr["status"]["results"].as_array().expect("results");
    assert_eq!(results[0]["name"], "greeting");
    assert_eq!(results[0]["value"], "hello world");
    assert_eq!(results[1]["value"], serde_json::json!(["a", "b"]));
    assert_eq!(tr["status"]["steps"][0]["container"], "step-hello");
    assert_eq!(tr["status"]["steps"][0]["terminated"]["exitCode"], 0);
    // the step's log is kept in the run directory
    let log = d.join("data/runs/greet-run/taskruns/greet-run/logs/step-hello.log");
    let text = std::fs::read_to_string(&log).expect("step log kept");
    assert!(text.contains("token is ***"), "{text}");
}

const PIPELINE: &str = r#"
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: emit}
spec:
  params: [{name: v}]
  results: [{name: out}]
  steps:
    - image: alpine
      script: |
        sleep 1
        printf '%s' "$(params.v)" > $(results.out.path)
---
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: p}
spec:
  params: [{name: flavour, default: vanilla}]
  workspaces: [{name: shared}]
  results:
    - {name: joined, value: "$(tasks.join.results.out)"}
  tasks:
    - name: first
      taskRef: {name: emit}
      params: [{name: v, value: "1-$(params.flavour)"}]
    - name: left
      runAfter: [first]
      taskRef: {name: emit}
      params: [{name: v, value: "L"}]
    - name: right
      runAfter: [first]
      taskRef: {name: emit}
      params: [{name: v, value: "R"}]
    - name: skipped
      when: [{input: "$(params.flavour)", operator: in, values: [chocolate]}]
      taskSpec:
        steps: [{image: alpine, script: "exit 1"}]
    - name: flaky
      retries: 2
      taskSpec:
        workspaces: [{name: w}]
        steps:
          - image: alpine
            script: |
              echo "attempt $(context.task.retry-count) of $(context.pipelineTask.retries)"
              [ "$(context.task.retry-count)" = "2" ]
      workspaces: [{name: w, workspace: shared}]
    - name: join
      taskRef: {name: emit}
      params: [{name: v, value: "$(tasks.left.results.out)+$(tasks.right.results.out)+$(tasks.first.results.out)"}]
  finally:
    - name: report
      params: [{name: s, value: "$(tasks.status)"}, {name: k, value: "$(tasks.skipped.status)"}]
      taskSpec:
        params: [{name: s}, {name: k}]
        steps: [{image: alpine, script: "echo overall=$(params.s) skipped=$(params.k) run=$(context.pipelineRun.name)"}]
---
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {name: pr}
spec:
  pipelineRef: {name: p}
  workspaces: [{name: shared, emptyDir: {}}]
"#;

// docs/pipelines.md: runAfter and result references order tasks (pkg/reconciler/pipeline/dag),
// independent tasks run in parallel; when expressions skip a task ("When Expressions
// evaluated to false") without failing the run (reason Completed when tasks were skipped);
// retries re-run a failed TaskRun with $(context.task.retry-count); finally tasks see
// $(tasks.status) and $(tasks.<t>.status) ("None" for a skipped task); pipeline results.
#[test]
fn pipelinerun_dag_when_retries_finally_results() {
    let d = tmp("pipeline");
    let t = Instant::now();
    let o = run(&d, PIPELINE, &["-o", "json"]);
    let elapsed = t.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    // first (1s) then left+right in parallel (1s) then join (1s): ~3s, not 4s
    assert!(
        elapsed < 3.9,
        "took {elapsed}s: left and right did not run in parallel"
    );
    assert!(err.contains("[flaky/unnamed-0] attempt 2 of 2"), "{err}");
    assert!(
        err.contains("[report/unnamed-0] overall=Completed skipped=None run=pr"),
        "{err}"
    );
    let items = status_items(&o);
    let pr = &items[0];
    assert_eq!(
        cond(pr),
        (
            "True".into(),
            "Completed".into(),
            "Tasks Completed: 6 (Failed: 0, Cancelled 0), Skipped: 1".into()
        )
    );
    assert_eq!(pr["status"]["results"][0]["value"], "L+R+1-vanilla");
    assert_eq!(pr["status"]["skippedTasks"][0]["name"], "skipped");
    assert_eq!(
        pr["status"]["skippedTasks"][0]["reason"],
        "When Expressions evaluated to false"
    );
    let children: Vec<&str> = pr["status"]["childReferences"]
        .as_array()
        .expect("children")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(
        children.contains(&"pr-join") && children.contains(&"pr-report"),
        "{children:?}"
    );
    let flaky = items
        .iter()
        .find(|i| i["metadata"]["name"] == "pr-flaky")
        .expect("flaky TaskRun");
    assert_eq!(
        flaky["status"]["retriesStatus"].as_array().map(Vec::len),
        Some(2)
    );
}

// docs/pipelines.md "Configuring the failure timeout" and docs/taskruns.md: a TaskRun that
// exceeds its timeout fails with reason TaskRunTimeout; the failure stops the pipeline,
// finally still runs; no process outlives the run.
#[test]
fn failure_and_timeout_stop_the_run_and_finally_runs() {
    let d = tmp("fail");
    let yaml = r#"
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {name: failing}
spec:
  pipelineSpec:
    tasks:
      - name: slow
        timeout: 1s
        taskSpec:
          steps: [{image: alpine, script: "sleep 37.25 & sleep 37.5"}]
      - name: broken
        taskSpec:
          steps:
            - name: compile
              image: alpine
              script: |
                echo "line one"
                echo "compiler says no" >&2
                exit 3
      - name: after
        runAfter: [broken]
        taskSpec:
          steps: [{image: alpine, script: "echo never"}]
    finally:
      - name: cleanup
        taskSpec:
          steps: [{image: alpine, script: "echo cleaning up"}]
"#;
    let o = run(&d, yaml, &["-o", "json"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error: task broken step compile failed with exit code 3"),
        "{err}"
    );
    assert!(err.contains("| compiler says no"), "{err}");
    assert!(err.contains("[cleanup/unnamed-0] cleaning up"), "{err}");
    assert!(!err.contains("never"), "{err}");
    let items = status_items(&o);
    let (st, reason, _) = cond(&items[0]);
    assert_eq!((st.as_str(), reason.as_str()), ("False", "Failed"));
    let slow = items
        .iter()
        .find(|i| i["metadata"]["name"] == "failing-slow")
        .expect("slow");
    assert_eq!(cond(slow).1, "TaskRunTimeout");
    assert_eq!(
        cond(slow).2,
        "TaskRun \"failing-slow\" failed to finish within \"1s\""
    );
    let broken = items
        .iter()
        .find(|i| i["metadata"]["name"] == "failing-broken")
        .expect("broken");
    assert_eq!(cond(broken).2, "\"step-compile\" exited with code 3");
    let skipped = &items[0]["status"]["skippedTasks"][0];
    assert_eq!(skipped["name"], "after");
    assert_eq!(skipped["reason"], "PipelineRun was stopping");
    let ps = Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .expect("ps");
    let ps = String::from_utf8_lossy(&ps.stdout);
    assert!(
        !ps.contains("sleep 37.25") && !ps.contains("sleep 37.5"),
        "left running:\n{ps}"
    );
}

// Bad input stops before anything runs: missing params (docs/pipelineruns.md "Specifying
// Parameters"), unknown refs, validation errors with the validator's messages.
#[test]
fn bad_input_runs_nothing() {
    let d = tmp("bad");
    let marker = d.join("ran");
    let yaml = format!(
        r#"
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {{name: needs}}
spec:
  params: [{{name: required}}]
  tasks:
    - name: t
      taskSpec:
        steps: [{{image: alpine, script: "touch {}"}}]
---
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {{name: bad}}
spec:
  pipelineRef: {{name: needs}}
"#,
        marker.display()
    );
    let o = run(&d, &yaml, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("required"), "{err}");
    assert!(err.contains("nothing was run"), "{err}");
    assert!(!marker.exists());

    let o = run(
        &d,
        "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata: {name: x}\nspec:\n  taskRef: {name: nowhere}\n",
        &[],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("Task \"nowhere\" not found"), "{err}");

    // a type mismatch is a validation error
    let o = run(
        &d,
        "apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec:\n  steps: \"nope\"\n",
        &["--task", "t"],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("validation failed"), "{err}");
}

// --pipeline with -p and -w, and a host directory workspace; -o yaml.
#[test]
fn named_pipeline_with_cli_params_and_dir_workspace() {
    let d = tmp("named");
    let ws = d.join("ws");
    std::fs::create_dir_all(&ws).expect("ws");
    let yaml = r#"
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: write}
spec:
  params: [{name: msg}, {name: items, type: array}]
  workspaces: [{name: out}]
  tasks:
    - name: w
      workspaces: [{name: out, workspace: out}]
      params: [{name: msg, value: $(params.msg)}, {name: items, value: ["$(params.items[*])"]}]
      taskSpec:
        params: [{name: msg}, {name: items, type: array}]
        workspaces: [{name: out}]
        steps:
          - image: alpine
            args: ["$(params.items[*])"]
            script: 'echo "$(params.msg) $@" > $(workspaces.out.path)/msg.txt'
"#;
    let ws_arg = format!("out={}", ws.display());
    let o = run(
        &d,
        yaml,
        &[
            "--pipeline",
            "write",
            "-p",
            "msg=hi",
            "-p",
            "items=[\"x\",\"y\"]",
            "-w",
            &ws_arg,
            "-o",
            "yaml",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(
        std::fs::read_to_string(ws.join("msg.txt")).expect("written"),
        "hi x y\n"
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("reason: Succeeded"));
}

// docs/pipelineruns.md "Gracefully cancelling a PipelineRun": with CancelledRunFinally the
// running tasks are cancelled and finally tasks still run; the run ends Cancelled. Ctrl-C
// (SIGINT) requests it; no process is left behind.
#[test]
fn ctrl_c_cancels_and_still_runs_finally() {
    let d = tmp("cancel");
    let f = d.join("run.yaml");
    std::fs::write(
        &f,
        r#"
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {name: cancelme}
spec:
  pipelineSpec:
    tasks:
      - name: long
        taskSpec:
          steps: [{image: alpine, script: "echo started; sleep 41.75"}]
    finally:
      - name: tidy
        taskSpec:
          steps: [{image: alpine, script: "echo tidy ran"}]
"#,
    )
    .expect("write");
    let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", "-o", "json", "-f"])
        .arg(&f)
        .env("SLUICE_DATA_DIR", d.join("data"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let o = child.wait_with_output().expect("finishes");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("[tidy/unnamed-0] tidy ran"), "{err}");
    let items = status_items(&o);
    assert_eq!(cond(&items[0]).1, "Cancelled");
    assert_eq!(cond(&items[0]).2, "PipelineRun \"cancelme\" was cancelled");
    let long = items
        .iter()
        .find(|i| i["metadata"]["name"] == "cancelme-long")
        .expect("long");
    assert_eq!(cond(long).1, "TaskRunCancelled");
    // pkg/reconciler/taskrun/taskrun.go "TaskRun %q was cancelled. %s" with
    // TaskRunCancelledByPipelineMsg (pkg/apis/pipeline/v1/taskrun_types.go)
    assert_eq!(
        cond(long).2,
        "TaskRun \"cancelme-long\" was cancelled. TaskRun cancelled as the PipelineRun it belongs to has been cancelled."
    );
    let ps = Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .expect("ps");
    assert!(!String::from_utf8_lossy(&ps.stdout).contains("sleep 41.75"));
}
