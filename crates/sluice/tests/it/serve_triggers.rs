//! `sluice serve`'s EventListeners end to end: the binary on free ports, the seed-shaped
//! pipeline and GitLab push trigger of tests/fixtures/triggers applied with kubectl, the
//! three pushes POSTed with curl. Upstream behaviour pinned here: the sink answers 202 with
//! `eventListener`, `namespace`, `eventListenerUID`, `eventID` (tektoncd/triggers
//! `pkg/sink/sink.go` `Response`), created resources carry the
//! `triggers.tekton.dev/eventlistener`, `trigger` and `triggers-eventid` labels
//! (`pkg/template/resource.go`), the gitlab interceptor refuses a wrong `X-Gitlab-Token`
//! (`pkg/interceptors/gitlab/gitlab.go`: "Invalid X-GitLab-Token"), and an EventListener's
//! status has `address.url` and the Ready condition (docs/eventlisteners.md "Exposing an
//! EventListener").

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::apiserver_kubectl::{kubectl_available, temp_dir};
use crate::common::repo_root;

pub(crate) struct Serve {
    child: Option<Child>,
    pub dir: PathBuf,
    /// `https://127.0.0.1:PORT` (API and listeners).
    pub url: String,
    /// `http://127.0.0.1:PORT` (listeners only).
    pub plain: String,
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Serve {
    pub(crate) fn start(tag: &str, extra: &[&str]) -> Serve {
        Serve::start_cmd("serve", tag, extra)
    }

    /// `sluice <cmd> --listen 127.0.0.1:0 --data TMP` (`serve`: also `--listeners-listen`).
    pub(crate) fn start_cmd(cmd: &str, tag: &str, extra: &[&str]) -> Serve {
        let dir = temp_dir(tag);
        let plain_port = free_port();
        let mut args: Vec<String> = vec![
            cmd.into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--data".into(),
            dir.display().to_string(),
        ];
        if cmd == "serve" {
            args.extend([
                "--listeners-listen".into(),
                format!("127.0.0.1:{plain_port}"),
            ]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sluice starts");
        let kubeconfig = dir.join("kubeconfig");
        let t0 = Instant::now();
        let url = loop {
            if let Some(u) = std::fs::read_to_string(&kubeconfig).ok().and_then(|t| {
                t.lines()
                    .find_map(|l| l.trim().strip_prefix("server: ").map(str::to_owned))
            }) {
                break u;
            }
            assert!(t0.elapsed() < Duration::from_secs(20), "no kubeconfig");
            std::thread::sleep(Duration::from_millis(50));
        };
        let s = Serve {
            child: Some(child),
            dir,
            url,
            plain: format!("http://127.0.0.1:{plain_port}"),
        };
        loop {
            if s.kubectl(&["get", "--raw", "/readyz"], None)
                .status
                .success()
            {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(20), "not ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        s
    }

    pub(crate) fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Output {
        crate::common::kubectl_in(&self.dir, args, stdin)
    }

    pub(crate) fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        crate::common::kubectl_ok(&self.dir, args, stdin)
    }

    pub(crate) fn json(&self, args: &[&str]) -> Value {
        crate::common::kubectl_json(&self.dir, args)
    }

    /// Polls `kubectl get ... -o json` until `done` holds (60 s at most).
    pub(crate) fn wait_for(
        &self,
        args: &[&str],
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let t0 = Instant::now();
        loop {
            let v = self.json(args);
            if done(&v) {
                return v;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "timed out waiting for {what}: {v:#}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `curl` a body (file or bytes) to `url` with headers: (status, body).
pub(crate) fn post(url: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Value) {
    use std::io::Write;
    let mut c = Command::new("curl");
    c.args([
        "-sk",
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
        "-X",
        "POST",
        "--data-binary",
        "@-",
    ]);
    for (k, v) in headers {
        c.arg("-H").arg(format!("{k}: {v}"));
    }
    c.arg(url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("curl runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let body = body.to_vec();
    // a large body is written while curl reads the answer (it may stop early on a 413)
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let o = child.wait_with_output().expect("curl finishes");
    let _ = writer.join();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", text.as_str()));
    let code: u16 = code.trim().parse().unwrap_or(0);
    (code, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn curl_available() -> bool {
    Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn fixtures() -> PathBuf {
    repo_root().join("tests/fixtures/triggers")
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const TOKEN: &str = "fixture-token-7f3a";

fn gitlab_headers(token: &str) -> Vec<(&str, &str)> {
    vec![
        ("Content-Type", "application/json"),
        ("X-Gitlab-Event", "Push Hook"),
        ("X-Gitlab-Token", token),
    ]
}

fn records(s: &Serve) -> Vec<Value> {
    let v = s.json(&[
        "get",
        "configmaps",
        "-n",
        "ci",
        "-l",
        "sluice.dev/event-record=true",
    ]);
    v["items"].as_array().cloned().unwrap_or_default()
}

fn record_of(s: &Serve, event_id: &str) -> Value {
    let t0 = Instant::now();
    loop {
        if let Some(r) = records(s)
            .into_iter()
            .find(|r| r["data"]["eventID"] == event_id)
        {
            let text = r["data"]["record.json"].as_str().unwrap_or("{}");
            return serde_json::from_str(text).expect("record.json is JSON");
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no record of {event_id}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn pipelineruns(s: &Serve) -> Vec<Value> {
    s.json(&["get", "pipelineruns", "-n", "ci"])["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn param<'a>(pr: &'a Value, name: &str) -> &'a str {
    pr["spec"]["params"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .and_then(|p| p["value"].as_str())
        .unwrap_or("")
}

#[test]
fn gitlab_pushes_create_two_runs_filter_feature_and_refuse_a_wrong_token() {
    if !kubectl_available() || !curl_available() {
        eprintln!("kubectl or curl is not installed: skipped");
        return;
    }
    let s = Serve::start("triggers", &[]);
    s.ok(&["create", "namespace", "ci"], None);
    let f = fixtures();
    s.ok(
        &[
            "apply",
            "-f",
            &f.join("pipeline.yaml").display().to_string(),
            "-f",
            &f.join("trigger.yaml").display().to_string(),
        ],
        None,
    );
    // the listener's status: address and Ready, as `kubectl get eventlisteners` shows them
    let el = s.wait_for(
        &["get", "eventlistener", "gitlab-listener", "-n", "ci"],
        "EventListener status",
        |v| v["status"]["address"]["url"].is_string(),
    );
    let addr = el["status"]["address"]["url"].as_str().unwrap_or("");
    assert_eq!(addr, format!("{}/listeners/ci/gitlab-listener", s.plain));
    let ready = el["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready").cloned())
        .unwrap_or_default();
    assert_eq!(ready["status"], "True");
    let table = s.ok(&["get", "eventlisteners", "-n", "ci"], None);
    assert!(table.contains(addr) && table.contains("True"), "{table}");
    let uid = el["metadata"]["uid"].as_str().unwrap_or("").to_owned();

    // a wrong token: 403 on the HTTPS port (no API token needed), nothing created
    let https = format!("{}/listeners/ci/gitlab-listener", s.url);
    let (code, body) = post(
        &https,
        &gitlab_headers("wrong"),
        &read(&f.join("push-main.json")),
    );
    assert_eq!(code, 403, "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("Invalid X-GitLab-Token")),
        "{body}"
    );
    let rejected = record_of(&s, body["eventID"].as_str().unwrap_or(""));
    assert_eq!(rejected["triggers"][0]["outcome"], "Rejected");
    assert!(pipelineruns(&s).is_empty());

    // main and release/ over plain HTTP, feature/ over HTTPS
    let plain = format!("{}/listeners/ci/gitlab-listener", s.plain);
    let mut ids = Vec::new();
    for (url, file) in [
        (&plain, "push-main.json"),
        (&plain, "push-release.json"),
        (&https, "push-feature.json"),
    ] {
        let (code, body) = post(url, &gitlab_headers(TOKEN), &read(&f.join(file)));
        assert_eq!(code, 202, "{file}: {body}");
        assert_eq!(body["eventListener"], "gitlab-listener");
        assert_eq!(body["namespace"], "ci");
        assert_eq!(body["eventListenerUID"], uid.as_str());
        assert!(body.get("errorMessage").is_none(), "{body}");
        ids.push(body["eventID"].as_str().unwrap_or("").to_owned());
    }
    let feature = record_of(&s, &ids[2]);
    assert_eq!(feature["triggers"][0]["outcome"], "Filtered", "{feature:#}");
    assert!(
        feature["triggers"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("did not return true")),
        "{feature:#}"
    );
    for id in &ids[..2] {
        let r = record_of(&s, id);
        assert_eq!(r["triggers"][0]["outcome"], "Created", "{r:#}");
        assert_eq!(r["triggers"][0]["created"][0]["kind"], "PipelineRun");
    }

    // exactly two runs, image tag = checkout_sha, project order-service, labelled
    let runs = pipelineruns(&s);
    assert_eq!(runs.len(), 2, "{runs:#?}");
    let mut tags: Vec<&str> = runs.iter().map(|r| param(r, "image-tag")).collect();
    tags.sort();
    assert_eq!(
        tags,
        [
            "3c1f0e9a7b2d4c6e8f0a1b2c3d4e5f6a7b8c9d0e",
            "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"
        ]
    );
    for r in &runs {
        let labels = &r["metadata"]["labels"];
        assert_eq!(labels["app.kubernetes.io/project"], "order-service");
        assert_eq!(param(r, "image-name"), "apps/order-service");
        assert_eq!(
            labels["triggers.tekton.dev/eventlistener"],
            "gitlab-listener"
        );
        assert_eq!(labels["triggers.tekton.dev/trigger"], "gitlab-push");
        let id = labels["triggers.tekton.dev/triggers-eventid"]
            .as_str()
            .unwrap_or("");
        assert!(ids[..2].iter().any(|i| i == id), "{labels}");
        let name = r["metadata"]["name"].as_str().unwrap_or("");
        assert!(name.starts_with("build-order-service-"), "{name}");
    }
    // both succeed
    for r in &runs {
        let name = r["metadata"]["name"].as_str().unwrap_or("").to_owned();
        s.wait_for(
            &["get", "pipelinerun", &name, "-n", "ci"],
            "the run to end",
            |v| v["status"]["completionTime"].is_string(),
        );
        let v = s.json(&["get", "pipelinerun", &name, "-n", "ci"]);
        assert_eq!(
            v["status"]["conditions"][0]["reason"], "Succeeded",
            "{name}: {:#}",
            v["status"]
        );
    }
    // /metrics counts the deliveries by listener and outcome
    let metrics = s.ok(&["get", "--raw", "/metrics"], None);
    let count = |outcome: &str| {
        metrics
            .lines()
            .find(|l| {
                l.starts_with("sluice_eventlistener_events_total{")
                    && l.contains(&format!("outcome=\"{outcome}\""))
            })
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_owned)
    };
    assert_eq!(count("created").as_deref(), Some("2"), "{metrics}");
    assert_eq!(count("filtered").as_deref(), Some("1"), "{metrics}");
    // the CLI: `sluice eventlistener list|events|describe` against this server
    let data = s.dir.display().to_string();
    let cli = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-n", "ci", "--data", &data]);
        let out = crate::common::sluice(&all, None);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let list = cli(&["eventlistener", "list"]);
    assert!(
        list.starts_with("NAME") && list.contains("/listeners/ci/"),
        "{list}"
    );
    let events = cli(&["el", "events", "gitlab-listener"]);
    assert_eq!(
        events.lines().filter(|l| l.contains("created")).count(),
        2,
        "{events}"
    );
    assert_eq!(
        events.lines().filter(|l| l.contains("filtered")).count(),
        1,
        "{events}"
    );
    let described = cli(&["eventlistener", "describe", "gitlab-listener"]);
    assert!(described.contains("Latest deliveries"), "{described}");
    // Events on the EventListener: created twice, filtered once, rejected once
    let events = s.ok(
        &[
            "get",
            "events",
            "-n",
            "ci",
            "--field-selector",
            "involvedObject.kind=EventListener",
        ],
        None,
    );
    assert_eq!(events.matches(" Created ").count(), 2, "{events}");
    assert!(
        events.contains("Filtered") && events.contains("Rejected"),
        "{events}"
    );
}

const BAD_TEMPLATE: &str = r#"
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: bad, namespace: ci}
spec:
  triggers:
  - name: needs-param
    bindings: [{name: sha, value: $(body.sha)}]
    template:
      spec:
        params: [{name: sha}, {name: missing}]
        resourcetemplates:
        - apiVersion: v1
          kind: ConfigMap
          metadata: {generateName: should-not-exist-}
          data: {sha: $(tt.params.sha), other: $(tt.params.missing)}
  - name: cel-error
    interceptors:
    - ref: {name: cel}
      params:
      - {name: filter, value: "body.nothere.deeper == 'x'"}
    bindings: [{name: sha, value: $(body.sha)}]
    template:
      spec:
        params: [{name: sha}]
        resourcetemplates:
        - apiVersion: v1
          kind: ConfigMap
          metadata: {generateName: should-not-exist-}
          data: {sha: $(tt.params.sha)}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: invalid-run, namespace: ci}
spec:
  triggers:
  - name: half
    bindings: [{name: sha, value: $(body.sha)}]
    template:
      spec:
        params: [{name: sha}]
        resourcetemplates:
        - apiVersion: v1
          kind: ConfigMap
          metadata: {name: first-of-two, namespace: ci}
          data: {sha: $(tt.params.sha)}
        - apiVersion: tekton.dev/v1
          kind: PipelineRun
          metadata: {generateName: broken-}
          spec:
            pipelineRef: {name: x}
            timeouts: {pipeline: "not-a-duration"}
"#;

#[test]
fn bad_deliveries_get_clear_errors_records_and_create_nothing() {
    if !kubectl_available() || !curl_available() {
        eprintln!("kubectl or curl is not installed: skipped");
        return;
    }
    let s = Serve::start("triggers-bad", &["--listener-max-body", "65536"]);
    s.ok(&["create", "namespace", "ci"], None);
    s.ok(&["apply", "-f", "-"], Some(BAD_TEMPLATE));
    let json = [("Content-Type", "application/json")];
    let url = |name: &str| format!("{}/listeners/ci/{name}", s.plain);

    // unknown listener: 404 with the upstream-shaped body
    let (code, body) = post(&url("nope"), &json, b"{}");
    assert_eq!(code, 404, "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("not found"))
    );
    // a path that names no listener
    let (code, _) = post(&format!("{}/listeners/ci", s.plain), &json, b"{}");
    assert_eq!(code, 404);

    // malformed payload: 400 (payload validation), recorded
    let (code, body) = post(&url("bad"), &json, b"{not json");
    assert_eq!(code, 400, "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("Invalid event body format")),
        "{body}"
    );
    let r = record_of(&s, body["eventID"].as_str().unwrap_or(""));
    assert_eq!(r["status"], 400);

    // oversized body: 413 before anything runs, recorded
    let big = format!("{{\"sha\": \"{}\"}}", "a".repeat(70_000));
    let (code, body) = post(&url("bad"), &json, big.as_bytes());
    assert_eq!(code, 413, "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("too large"))
    );
    let t0 = Instant::now();
    while !records(&s).iter().any(|r| r["data"]["status"] == "413") {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no record of the 413"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // a missing template param and a CEL runtime error: 500, each trigger's reason recorded
    let (code, body) = post(&url("bad"), &json, br#"{"sha": "abc"}"#);
    assert_eq!(code, 500, "{body}");
    let r = record_of(&s, body["eventID"].as_str().unwrap_or(""));
    let outcomes: Vec<(&str, &str)> = r["triggers"]
        .as_array()
        .map(|ts| {
            ts.iter()
                .map(|t| {
                    (
                        t["outcome"].as_str().unwrap_or(""),
                        t["reason"].as_str().unwrap_or(""),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(outcomes.len(), 2, "{r:#}");
    assert!(outcomes.iter().all(|(o, _)| *o == "Failed"), "{r:#}");
    assert!(outcomes[0].1.contains("missing"), "{r:#}");
    assert!(outcomes[1].1.contains("nothere"), "{r:#}");

    // a template that renders an invalid PipelineRun beside a valid ConfigMap: 500, and
    // neither is created
    let (code, body) = post(&url("invalid-run"), &json, br#"{"sha": "abc"}"#);
    assert_eq!(code, 500, "{body}");
    let r = record_of(&s, body["eventID"].as_str().unwrap_or(""));
    assert_eq!(r["triggers"][0]["outcome"], "Failed", "{r:#}");
    let cms = s.json(&["get", "configmaps", "-n", "ci"]);
    let names: Vec<&str> = cms["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["metadata"]["name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        !names
            .iter()
            .any(|n| *n == "first-of-two" || n.starts_with("should-not-exist")),
        "{names:?}"
    );
    assert!(pipelineruns(&s).is_empty());
}

/// The same sink against another API given by a kubeconfig (`--no-apiserver`): listeners
/// on the plain port only, lookups, creation, records and status through that API.
#[test]
fn listeners_work_against_a_separate_apiserver() {
    if !kubectl_available() || !curl_available() {
        eprintln!("kubectl or curl is not installed: skipped");
        return;
    }
    let api = Serve::start_cmd("apiserver", "triggers-api", &[]);
    let data = temp_dir("triggers-ctl");
    let port = free_port();
    let mut ctl = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["serve", "--no-apiserver", "--kubeconfig"])
        .arg(api.dir.join("kubeconfig"))
        .arg("--data")
        .arg(&data)
        .args(["--listeners-listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sluice serve starts");
    api.ok(&["create", "namespace", "ci"], None);
    let f = fixtures();
    api.ok(
        &[
            "apply",
            "-f",
            &f.join("pipeline.yaml").display().to_string(),
            "-f",
            &f.join("trigger.yaml").display().to_string(),
        ],
        None,
    );
    let url = format!("http://127.0.0.1:{port}/listeners/ci/gitlab-listener");
    let t0 = Instant::now();
    let (code, body) = loop {
        let (code, body) = post(
            &url,
            &gitlab_headers(TOKEN),
            &read(&f.join("push-main.json")),
        );
        if code != 0 {
            break (code, body);
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "listener port not up"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(code, 202, "{body}");
    let r = record_of(&api, body["eventID"].as_str().unwrap_or(""));
    assert_eq!(r["triggers"][0]["outcome"], "Created", "{r:#}");
    let runs = pipelineruns(&api);
    assert_eq!(runs.len(), 1);
    assert_eq!(
        param(&runs[0], "image-tag"),
        "3c1f0e9a7b2d4c6e8f0a1b2c3d4e5f6a7b8c9d0e"
    );
    let el = api.wait_for(
        &["get", "eventlistener", "gitlab-listener", "-n", "ci"],
        "EventListener status",
        |v| v["status"]["address"]["url"].is_string(),
    );
    assert_eq!(el["status"]["address"]["url"], url.as_str());
    let _ = ctl.kill();
    let _ = ctl.wait();
    let _ = std::fs::remove_dir_all(&data);
}
