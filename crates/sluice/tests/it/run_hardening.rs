//! Issue 18 (hardening) through the real binary: workspace and volume paths cannot escape
//! the run (validation with Kubernetes' messages, and confinement in the executor
//! whatever validation let through); processes that leave their step's process group do
//! not outlive the step, the run, or a `kill -9` of sluice; results computed from Secrets
//! are masked; Secret files are private and removed after the TaskRun.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::sluice;
use crate::run_cli::{run, tmp};

fn bwrap_runs() -> bool {
    Command::new("bwrap")
        .args(["--ro-bind", "/", "/", "--unshare-pid", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The modes to try: plain, and --isolate where bubblewrap can run.
fn modes() -> Vec<Vec<&'static str>> {
    let mut m = vec![vec![]];
    if bwrap_runs() {
        m.push(vec!["--isolate"]);
    } else {
        println!("note: bubblewrap cannot run here; --isolate is not tried");
    }
    m
}

/// Command lines of running processes containing `needle`.
fn processes(needle: &str) -> Vec<String> {
    let ps = Command::new("ps")
        .args(["-eo", "stat=,args="])
        .output()
        .expect("ps");
    String::from_utf8_lossy(&ps.stdout)
        .lines()
        // zombies are gone already (only not yet reaped by their parent)
        .filter(|l| l.contains(needle) && !l.trim_start().starts_with('Z'))
        .map(str::to_owned)
        .collect()
}

fn wait_gone(needle: &str, within: Duration) -> Vec<String> {
    let start = Instant::now();
    loop {
        let left = processes(needle);
        if left.is_empty() || start.elapsed() > within {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

const ESCAPING: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data: {k: v}
---
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  workspaces: [{name: w}]
  volumes:
    - name: sec
      secret:
        secretName: s
        items: [{key: a, path: /etc/cron.d/x}]
  steps:
    - image: alpine
      script: "true"
      volumeMounts: [{name: sec, mountPath: /m, subPath: ..}]
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: up}
spec:
  taskRef: {name: t}
  workspaces:
    - name: w
      subPath: ../../../..
      emptyDir: {}
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: abs}
spec:
  taskRef: {name: t}
  workspaces:
    - {name: w, subPath: /etc, persistentVolumeClaim: {claimName: ../../home}}
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: items}
spec:
  taskRef: {name: t}
  workspaces:
    - name: w
      configMap:
        name: cm
        items: [{key: k, path: ../../../../tmp/owned}]
---
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: p}
spec:
  workspaces: [{name: w}]
  tasks:
    - name: a
      taskRef: {name: t}
      workspaces: [{name: w, workspace: w, subPath: ./a/../..}]
"#;

// kubernetes pkg/apis/core/validation: validateLocalDescendingPath ("must be a relative
// path", "must not contain '..'") for volumeMount subPaths, which Tekton's workspace
// subPaths become; validateKeyToPath for items[].path; a claim can only be named by a
// DNS-1123 subdomain (ValidatePersistentVolumeName). Tekton's webhook leaves these to the
// Pod's validation, so on a cluster the Pod is refused; Sluice refuses at validation.
#[test]
fn validate_reports_escaping_paths_with_kubernetes_messages() {
    let d = tmp("validate");
    let f = d.join("escaping.yaml");
    std::fs::write(&f, ESCAPING).expect("write");
    let o = sluice(&["validate", f.to_str().expect("utf-8")], None);
    let out = String::from_utf8_lossy(&o.stdout).replace(&format!("{}:", f.display()), "F:");
    assert_eq!(o.status.code(), Some(1), "{out}");
    for want in [
        "F:16:26: error: Task/t: spec.volumes[0].secret.items[0].path: Invalid value: \"/etc/cron.d/x\": must be a relative path",
        "F:20:49: error: Task/t: spec.steps[0].volumeMounts[0].subPath: Invalid value: \"..\": must not contain '..'",
        "F:29:7: error: TaskRun/up: spec.workspaces[0].subPath: Invalid value: \"../../../..\": must not contain '..'",
        "F:38:17: error: TaskRun/abs: spec.workspaces[0].subPath: Invalid value: \"/etc\": must be a relative path",
        "F:38:56: error: TaskRun/abs: spec.workspaces[0].persistentVolumeClaim.claimName: Invalid value: \"../../home\": a lowercase RFC 1123 subdomain",
        "F:49:26: error: TaskRun/items: spec.workspaces[0].configMap.items[0].path: Invalid value: \"../../../../tmp/owned\": must not contain '..'",
        "F:59:44: error: Pipeline/p: spec.tasks[0].workspaces[0].subPath: Invalid value: \"./a/../..\": must not contain '..'",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
    // and `sluice run` runs none of it
    let o = run(&d, ESCAPING, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("nothing was run"), "{err}");
    assert!(!Path::new("/tmp/owned").exists());
}

// Confinement does not rely on validation: a claim given on the command line (never
// validated) cannot name a directory outside the data dir's claims/, and a symlink planted
// in a PVC by one task cannot carry the next task's workspace (subPath) out of the claim.
#[test]
fn executor_confines_what_validation_cannot_see() {
    for mode in modes() {
        let d = tmp(&format!("confine{}", mode.len()));
        let yaml = r#"
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: w}
spec:
  workspaces: [{name: w}]
  steps: [{image: alpine, script: "echo hi > $(workspaces.w.path)/f"}]
"#;
        let mut args = vec!["--task", "w", "-w", "w=pvc=../../escaped"];
        args.extend(&mode);
        let o = run(&d, yaml, &args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains("CreateContainerConfigError): \"../../escaped\": must not contain '..'"),
            "{err}"
        );
        assert!(!d.join("escaped").exists() && !d.join("data/escaped").exists());

        let yaml = r#"
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: plant}
spec:
  workspaces: [{name: w}]
  tasks:
    - name: plant
      workspaces: [{name: w, workspace: w}]
      taskSpec:
        workspaces: [{name: w}]
        steps: [{image: alpine, script: "ln -s / $(workspaces.w.path)/up; ln -s .. $(workspaces.w.path)/parent"}]
    - name: use
      runAfter: [plant]
      workspaces: [{name: w, workspace: w, subPath: up}]
      taskSpec:
        workspaces: [{name: w}]
        steps: [{image: alpine, script: "touch $(workspaces.w.path)/owned-by-sluice-test"}]
---
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {name: plant-run}
spec:
  pipelineRef: {name: plant}
  workspaces: [{name: w, persistentVolumeClaim: {claimName: shared}}]
"#;
        let mut args = vec!["-o", "json"];
        args.extend(&mode);
        let o = run(&d, yaml, &args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        let v: Value = serde_json::from_slice(&o.stdout).expect("json");
        let used = v["items"]
            .as_array()
            .and_then(|a| a.iter().find(|i| i["metadata"]["name"] == "plant-run-use"))
            .expect("the TaskRun of `use`");
        let msg = used["status"]["conditions"][0]["message"]
            .as_str()
            .unwrap_or("");
        assert!(
            msg.contains("\"up\": symlink") && msg.contains("leads outside"),
            "{msg}"
        );
        assert!(!Path::new("/owned-by-sluice-test").exists());
    }
}

// The docs promise that no process outlives its step: processes that leave the step's
// process group (setsid, a double fork, one that also clears its environment) are killed
// when the step ends, before the next step runs.
#[test]
fn escaped_processes_die_with_their_step() {
    for mode in modes() {
        let d = tmp(&format!("escape{}", mode.len()));
        let tag = format!("6{}.{}", mode.len(), std::process::id() % 1000);
        let yaml = format!(
            r#"
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {{name: esc}}
spec:
  taskSpec:
    steps:
      - name: leave
        image: alpine
        script: |
          setsid sleep {tag}1 >/dev/null 2>&1 &
          (sleep {tag}2 >/dev/null 2>&1 &)
          env -i setsid sleep {tag}3 >/dev/null 2>&1 &
          setsid sh -c 'sleep {tag}4' &
          echo left
      - name: check
        image: alpine
        script: |
          sleep 0.2
          if ps -eo args | grep -v grep | grep -q "sleep {tag}"; then echo STILL-RUNNING; exit 1; fi
          echo all-gone
"#
        );
        let start = Instant::now();
        let o = run(&d, &yaml, &mode);
        let err = String::from_utf8_lossy(&o.stderr);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{mode:?}: {err}{out}");
        assert!(out.contains("[esc/check] all-gone"), "{out}");
        assert!(start.elapsed() < Duration::from_secs(20), "{err}");
        let left = wait_gone(&format!("sleep {tag}"), Duration::from_secs(2));
        assert!(left.is_empty(), "{mode:?} left running: {left:?}");
    }
}

// After `kill -9` of sluice the sentinel kills the live steps' process groups and every
// process carrying the run's token; under --isolate bubblewrap dies with its parent and
// its PID namespace with it. (What may remain without --isolate: a process that both left
// the group and cleared its environment; ARCHITECTURE.md, sluice-exec.)
#[test]
fn kill_9_of_sluice_leaves_no_step_process() {
    for mode in modes() {
        let d = tmp(&format!("kill9{}", mode.len()));
        let tag = format!("7{}.{}", mode.len(), std::process::id() % 1000);
        let f = d.join("run.yaml");
        std::fs::write(
            &f,
            format!(
                r#"
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {{name: k}}
spec:
  taskSpec:
    steps:
      - image: alpine
        script: |
          setsid sleep {tag}1 >/dev/null 2>&1 &
          (sleep {tag}2 >/dev/null 2>&1 &)
          echo ready
          sleep {tag}3
"#
            ),
        )
        .expect("write");
        let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["run", "-f"])
            .arg(&f)
            .args(&mode)
            .env("SLUICE_DATA_DIR", d.join("data"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let log = d.join("data/runs/k/taskruns/k/logs/step-unnamed-0.log");
        let start = Instant::now();
        while !std::fs::read_to_string(&log).is_ok_and(|l| l.contains("ready"))
            && start.elapsed() < Duration::from_secs(20)
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            processes(&format!("sleep {tag}")).len() >= 3,
            "{:?}",
            processes(&format!("sleep {tag}"))
        );
        child.kill().expect("kill -9");
        let _ = child.wait();
        let left = wait_gone(&format!("sleep {tag}"), Duration::from_secs(5));
        assert!(left.is_empty(), "{mode:?} left running: {left:?}");
    }
}

const SECRET_RESULT: &str = r#"
apiVersion: v1
kind: Secret
metadata: {name: s}
stringData: {token: hunter2-very-secret}
---
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  workspaces: [{name: s}]
  volumes: [{name: v, secret: {secretName: s}}]
  results: [{name: out}, {name: upper}]
  steps:
    - name: use
      image: alpine
      volumeMounts: [{name: v, mountPath: /secret-volume}]
      script: |
        stat -c 'mode %a' $(workspaces.s.path)/token
        printf '%s' "$(cat $(workspaces.s.path)/token)" > $(results.out.path)
        printf 'X-%s-X' "$(cat $(workspaces.s.path)/token)" > $(results.upper.path)
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: sr}
spec:
  taskRef: {name: t}
  workspaces: [{name: s, secret: {secretName: s}}]
"#;

fn files_under(d: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

// Results computed from Secret values are masked as logs are (stderr summary and
// `-o json` statuses); Secret workspace and volume files are 0600 while the TaskRun runs
// and gone when it ends.
#[test]
fn secret_results_are_masked_and_secret_files_removed() {
    for mode in modes() {
        let d = tmp(&format!("secret{}", mode.len()));
        let mut args = vec!["-o", "json"];
        args.extend(&mode);
        let o = run(&d, SECRET_RESULT, &args);
        let err = String::from_utf8_lossy(&o.stderr);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{err}");
        assert!(err.contains("[t/use] mode 600"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        assert!(!out.contains("hunter2"), "{out}");
        assert!(err.contains("result out = \"***\""), "{err}");
        assert!(err.contains("result upper = \"X-***-X\""), "{err}");
        let v: Value = serde_json::from_str(&out).expect("json");
        let results = &v["items"][0]["status"]["results"];
        assert_eq!(results[0]["value"], "***", "{results}");
        let mut files = Vec::new();
        files_under(&d.join("data"), &mut files);
        for f in &files {
            let text = std::fs::read(f).unwrap_or_default();
            assert!(
                !String::from_utf8_lossy(&text).contains("hunter2"),
                "{} holds the secret",
                f.display()
            );
        }
        assert!(!d.join("data/runs/sr/taskruns/sr/ws/s").exists());
        assert!(!d.join("data/runs/sr/taskruns/sr/volumes/v").exists());
    }
}
