//! `sluice serve` end to end with the real kubectl: the binary on a free 127.0.0.1 port with
//! a temporary data directory; PipelineRuns applied with kubectl run on the local executor
//! and read back as Tekton's (tektoncd/pipeline docs/pipelineruns.md "Monitoring execution
//! status", "Cancelling a PipelineRun"; docs/taskruns.md "Monitoring execution status").

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::apiserver_kubectl::{err, kubectl_available, out, temp_dir};

pub(crate) struct Proc {
    child: Option<Child>,
    pub(crate) dir: PathBuf,
    port: u16,
    args: Vec<String>,
}

fn port_of(kubeconfig: &Path) -> Option<u16> {
    let text = std::fs::read_to_string(kubeconfig).ok()?;
    let i = text.find("https://127.0.0.1:")? + "https://127.0.0.1:".len();
    text[i..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

impl Proc {
    /// `sluice <cmd> --listen 127.0.0.1:PORT --data DIR ...`, waiting for /readyz.
    fn start(cmd: &str, dir: PathBuf, port: u16) -> Proc {
        Proc::start_with(cmd, dir, port, &[])
    }

    /// [`Proc::start`] with extra flags.
    pub(crate) fn start_with(cmd: &str, dir: PathBuf, port: u16, extra: &[&str]) -> Proc {
        let kubeconfig = dir.join("kubeconfig");
        let _ = std::fs::remove_file(&kubeconfig);
        let mut args: Vec<String> = vec![
            cmd.into(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--data".into(),
            dir.display().to_string(),
            "--pod-ready-after".into(),
            "0".into(),
        ];
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sluice starts");
        let t0 = Instant::now();
        let port = loop {
            if let Some(p) = port_of(&kubeconfig) {
                break p;
            }
            assert!(t0.elapsed() < Duration::from_secs(20), "no kubeconfig");
            std::thread::sleep(Duration::from_millis(50));
        };
        let p = Proc {
            child: Some(child),
            dir,
            port,
            args,
        };
        loop {
            if p.kubectl(&["get", "--raw", "/readyz"], None)
                .status
                .success()
            {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(20), "not ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        p
    }

    /// `https://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    pub(crate) fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Output {
        crate::common::kubectl_in(&self.dir, args, stdin)
    }

    pub(crate) fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        crate::common::kubectl_ok(&self.dir, args, stdin)
    }

    fn json(&self, args: &[&str]) -> Value {
        crate::common::kubectl_json(&self.dir, args)
    }

    /// kill -9, then the same command again on the same port and data directory.
    pub(crate) fn crash_and_restart(mut self) -> Proc {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let (cmd, dir, port) = (self.args[0].clone(), self.dir.clone(), self.port);
        self.dir = PathBuf::new();
        Proc::start(&cmd, dir, port)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn cond(v: &Value) -> (String, String, String) {
    let c = v["status"]["conditions"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["type"] == "Succeeded").cloned())
        .unwrap_or_default();
    let s = |k: &str| c[k].as_str().unwrap_or("").to_owned();
    (s("status"), s("reason"), s("message"))
}

const PIPELINE: &str = r#"
apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: build
spec:
  params:
    - name: app
      default: demo
  results:
    - name: tag
      value: $(tasks.version.results.tag)
  tasks:
    - name: version
      params:
        - name: app
          value: $(params.app)
      taskSpec:
        params:
          - name: app
        results:
          - name: tag
        steps:
          - name: compute
            image: alpine
            script: |
              echo "versioning $(params.app)"
              printf '%s-1.0' "$(params.app)" > $(results.tag.path)
    - name: compile
      runAfter: [version]
      taskSpec:
        steps:
          - name: make
            image: alpine
            script: echo compiling
    - name: publish
      params:
        - name: tag
          value: $(tasks.version.results.tag)
      runAfter: [compile]
      taskSpec:
        params:
          - name: tag
        steps:
          - name: push
            image: alpine
            script: echo "pushing $(params.tag)"
  finally:
    - name: notify
      params:
        - name: status
          value: $(tasks.status)
      taskSpec:
        params:
          - name: status
        steps:
          - name: send
            image: alpine
            script: echo "pipeline $(params.status)"
"#;

pub(crate) fn need_kubectl() -> bool {
    if kubectl_available() {
        return true;
    }
    eprintln!("kubectl is not installed (scripts/test installs it): skipped");
    false
}

#[test]
fn serve_runs_pipelineruns_that_kubectl_reads_as_tekton() {
    if !need_kubectl() {
        return;
    }
    let s = Proc::start("serve", temp_dir("e2e"), 0);
    s.ok(&["apply", "-f", "-"], Some(PIPELINE));
    s.ok(
        &["apply", "-f", "-"],
        Some(
            r#"
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: ok
spec:
  pipelineRef:
    name: build
  params:
    - name: app
      value: shop
---
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: broken
spec:
  pipelineSpec:
    tasks:
      - name: fail
        taskSpec:
          steps:
            - name: s
              image: alpine
              script: exit 7
---
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: slow
spec:
  pipelineSpec:
    tasks:
      - name: wait
        taskSpec:
          steps:
            - name: s
              image: alpine
              script: |
                echo started
                sleep 30
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  token: s3cr3t-value
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: masked
spec:
  taskSpec:
    steps:
      - name: show
        image: alpine
        env:
          - name: TOKEN
            valueFrom:
              secretKeyRef:
                name: creds
                key: token
        script: echo "token is $TOKEN"
"#,
        ),
    );
    s.ok(
        &[
            "wait",
            "--for=condition=Succeeded",
            "pipelinerun/ok",
            "--timeout=60s",
        ],
        None,
    );
    let pr = s.json(&["get", "pipelinerun", "ok"]);
    let (st, reason, msg) = cond(&pr);
    assert_eq!((st.as_str(), reason.as_str()), ("True", "Succeeded"));
    assert_eq!(
        msg,
        "Tasks Completed: 4 (Failed: 0, Cancelled 0), Skipped: 0"
    );
    assert_eq!(pr["status"]["results"][0]["name"], "tag");
    assert_eq!(pr["status"]["results"][0]["value"], "shop-1.0");
    let refs: Vec<&str> = pr["status"]["childReferences"]
        .as_array()
        .expect("childReferences")
        .iter()
        .map(|r| r["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        refs,
        ["ok-version", "ok-compile", "ok-publish", "ok-notify"]
    );
    // kubectl get taskruns shows them, Succeeded, with Pods per TaskRun
    let trs = s.json(&["get", "taskruns", "-l", "tekton.dev/pipelineRun=ok"]);
    let items = trs["items"].as_array().expect("items");
    assert_eq!(items.len(), 4);
    for tr in items {
        assert_eq!(cond(tr).1, "Succeeded", "{tr:#}");
        let pod = tr["status"]["podName"].as_str().expect("podName");
        let p = s.json(&["get", "pod", pod]);
        assert_eq!(p["status"]["phase"], "Succeeded");
    }
    let publish = s.json(&["get", "taskrun", "ok-publish"]);
    assert_eq!(publish["spec"]["params"][0]["value"], "shop-1.0");
    assert_eq!(
        publish["metadata"]["labels"]["tekton.dev/pipelineTask"],
        "publish"
    );
    let table = s.ok(&["get", "taskruns"], None);
    assert!(table.contains("ok-publish"), "{table}");
    // step logs are stored under DATA/logs
    let log = std::fs::read_to_string(s.dir.join("logs/default/ok-publish-pod/step-push.log"))
        .expect("step log");
    assert_eq!(log, "pushing shop-1.0\n");
    // ... and served by the Pod's log subresource
    assert_eq!(
        s.ok(&["logs", "ok-publish-pod", "-c", "step-push"], None),
        "pushing shop-1.0\n"
    );
    // --tail and --limit-bytes (PodLogOptions tailLines, limitBytes)
    for (flag, want) in [
        ("--tail=0", ""),
        ("--tail=1", "pushing shop-1.0\n"),
        ("--limit-bytes=4", "push"),
    ] {
        assert_eq!(
            s.ok(&["logs", "ok-publish-pod", "-c", "step-push", flag], None),
            want,
            "{flag}"
        );
    }
    // a standalone TaskRun; Secret values are masked in its log
    s.ok(
        &[
            "wait",
            "--for=condition=Succeeded",
            "taskrun/masked",
            "--timeout=60s",
        ],
        None,
    );
    assert_eq!(
        s.ok(&["logs", "masked-pod", "-c", "step-show"], None),
        "token is ***\n"
    );
    // Events of the run
    let evs = s.json(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=ok",
    ]);
    let reasons: Vec<&str> = evs["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["reason"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(reasons, ["Started", "Succeeded"]);

    // a failing task fails the run with Tekton's reason
    s.ok(
        &[
            "wait",
            "--for=condition=Succeeded=false",
            "pipelinerun/broken",
            "--timeout=60s",
        ],
        None,
    );
    let b = s.json(&["get", "pipelinerun", "broken"]);
    assert_eq!(cond(&b).1, "Failed");
    let tr = s.json(&["get", "taskrun", "broken-fail"]);
    assert_eq!(cond(&tr).2, "\"step-s\" exited with code 7");

    // cancelling a running PipelineRun
    let t0 = Instant::now();
    while s
        .kubectl(&["get", "pod", "slow-wait-pod"], None)
        .status
        .code()
        != Some(0)
    {
        assert!(t0.elapsed() < Duration::from_secs(30), "slow never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    // `kubectl logs -f` follows the running step and ends when it is cancelled
    let follower = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(s.dir.join("kubeconfig"))
        .args(["logs", "-f", "slow-wait-pod", "-c", "step-s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl logs -f");
    std::thread::sleep(Duration::from_millis(1500));
    s.ok(
        &[
            "patch",
            "pipelinerun",
            "slow",
            "--type=merge",
            "-p",
            r#"{"spec":{"status":"Cancelled"}}"#,
        ],
        None,
    );
    s.ok(
        &[
            "wait",
            "--for=condition=Succeeded=false",
            "pipelinerun/slow",
            "--timeout=20s",
        ],
        None,
    );
    let slow = s.json(&["get", "pipelinerun", "slow"]);
    assert_eq!(cond(&slow).1, "Cancelled");
    assert!(t0.elapsed() < Duration::from_secs(25));
    let tr = s.json(&["get", "taskrun", "slow-wait"]);
    assert_eq!(cond(&tr).1, "TaskRunCancelled");
    let followed = follower.wait_with_output().expect("kubectl logs -f ends");
    assert!(followed.status.success(), "{}", err(&followed));
    assert_eq!(out(&followed), "started\n");
}

#[test]
fn after_kill_9_a_pipelinerun_resumes_adopting_finished_taskruns() {
    if !need_kubectl() {
        return;
    }
    let s = Proc::start("serve", temp_dir("crash"), 0);
    s.ok(
        &["apply", "-f", "-"],
        Some(
            r#"
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: cut
spec:
  pipelineSpec:
    tasks:
      - name: first
        taskSpec:
          steps:
            - name: s
              image: alpine
              script: echo first
      - name: long
        runAfter: [first]
        retries: 1
        taskSpec:
          steps:
            - name: s
              image: alpine
              script: sleep 3
      - name: last
        runAfter: [long]
        taskSpec:
          steps:
            - name: s
              image: alpine
              script: echo last
"#,
        ),
    );
    let t0 = Instant::now();
    while s
        .kubectl(&["get", "pod", "cut-long-pod"], None)
        .status
        .code()
        != Some(0)
    {
        assert!(t0.elapsed() < Duration::from_secs(30), "long never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    let first = s.json(&["get", "taskrun", "cut-first"]);
    let first_done = first["status"]["completionTime"].clone();
    assert!(first_done.is_string());
    let s = s.crash_and_restart();
    s.ok(
        &[
            "wait",
            "--for=condition=Succeeded",
            "pipelinerun/cut",
            "--timeout=60s",
        ],
        None,
    );
    // the finished TaskRun was adopted, not run again
    let first = s.json(&["get", "taskrun", "cut-first"]);
    assert_eq!(first["status"]["completionTime"], first_done);
    // the cut-off TaskRun ended TaskRunInterrupted; its retry ran it again
    let long = s.json(&["get", "taskrun", "cut-long"]);
    assert_eq!(cond(&long).1, "Succeeded");
    assert_eq!(
        long["status"]["retriesStatus"][0]["conditions"][0]["reason"],
        "TaskRunInterrupted"
    );
    assert_eq!(long["status"]["podName"], "cut-long-pod-retry1");
    let evs = s.json(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=cut",
    ]);
    let reasons: Vec<&str> = evs["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["reason"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(reasons, ["Started", "Resumed", "Succeeded"]);
}

#[test]
fn serve_no_apiserver_runs_controllers_against_another_api_over_https() {
    if !need_kubectl() {
        return;
    }
    let api = Proc::start("apiserver", temp_dir("api"), 0);
    let data = temp_dir("ctl");
    let mut ctl = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["serve", "--no-apiserver", "--kubeconfig"])
        .arg(api.dir.join("kubeconfig"))
        .arg("--data")
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sluice serve starts");
    let kc = std::fs::read_to_string(api.dir.join("kubeconfig")).expect("kubeconfig");
    assert!(kc.contains("https://127.0.0.1:"), "{kc}");
    api.ok(
        &["apply", "-f", "-"],
        Some(
            r#"
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: remote
spec:
  pipelineSpec:
    tasks:
      - name: hello
        taskSpec:
          steps:
            - name: s
              image: alpine
              script: echo hello from afar
"#,
        ),
    );
    let o = api.kubectl(
        &[
            "wait",
            "--for=condition=Succeeded",
            "pipelinerun/remote",
            "--timeout=60s",
        ],
        None,
    );
    let _ = ctl.kill();
    let _ = ctl.wait();
    assert!(o.status.success(), "{}", err(&o));
    let tr = api.json(&["get", "taskrun", "remote-hello"]);
    assert_eq!(cond(&tr).1, "Succeeded");
    let log = std::fs::read_to_string(data.join("logs/default/remote-hello-pod/step-s.log"))
        .expect("log kept by the controllers' data dir");
    assert_eq!(log, "hello from afar\n");
    let _ = std::fs::remove_dir_all(&data);
}
