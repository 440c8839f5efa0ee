//! Argo CD notifications in `sluice serve` end to end, against a local receiver standing
//! in for a webhook endpoint and Slack's API (`apiURL`): argocd-notifications-cm with a
//! webhook service (template with method, path and body) and a Slack service whose token
//! comes from argocd-notifications-secret (`$slack-token`); an Application subscribed by
//! annotation to `on-sync-succeeded` (webhook) and `on-deployed` (Slack) gets one request
//! each per synced revision and no repeats (docs operator-manual/notifications:
//! subscriptions, triggers `oncePer`, services webhook and slack); a Pipeline subscribed to
//! `on-pipelinerun-failed` gets one request for its failed run and none for its good one.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::apiserver_kubectl::{kubectl_available, temp_dir};
use crate::serve_gitops::{commit, git};
use crate::serve_triggers::Serve;

/// A request the receiver got: (method, path, headers lower-cased, body).
type Got = (String, String, Vec<(String, String)>, String);

/// An HTTP server on loopback that answers 200 to everything and keeps what it got.
fn receiver() -> (u16, Arc<Mutex<Vec<Got>>>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("test setup");
    let port = l.local_addr().expect("test setup").port();
    let got: Arc<Mutex<Vec<Got>>> = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            let mut r = BufReader::new(c.try_clone().expect("test setup"));
            let mut line = String::new();
            if r.read_line(&mut line).is_err() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or("").to_owned();
            let path = parts.next().unwrap_or("").to_owned();
            let mut headers = Vec::new();
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.trim().split_once(':') {
                    let (k, v) = (k.trim().to_lowercase(), v.trim().to_owned());
                    if k == "content-length" {
                        len = v.parse().unwrap_or(0);
                    }
                    headers.push((k, v));
                }
            }
            let mut body = vec![0u8; len];
            let _ = r.read_exact(&mut body);
            keep.lock().expect("test setup").push((
                method,
                path,
                headers,
                String::from_utf8_lossy(&body).into_owned(),
            ));
            let _ =
                c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    (port, got)
}

fn count(got: &Arc<Mutex<Vec<Got>>>, f: impl Fn(&Got) -> bool) -> usize {
    got.lock()
        .expect("test setup")
        .iter()
        .filter(|g| f(g))
        .count()
}

fn wait(s: &Serve, got: &Arc<Mutex<Vec<Got>>>, what: &str, mut done: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !done() {
        if t0.elapsed() > Duration::from_secs(120) {
            let events = s.kubectl(&["get", "events", "-A"], None);
            panic!(
                "timed out: {what}\nreceived: {:#?}\nevents: {}",
                got.lock().expect("test setup"),
                String::from_utf8_lossy(&events.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn notifications_are_sent_once_per_event_for_apps_and_pipelines() {
    if !kubectl_available() {
        eprintln!("skipped: kubectl not installed");
        return;
    }
    let (port, got) = receiver();
    let s = Serve::start("notify", &[]);
    s.ok(
        &["apply", "-f", "-"],
        Some(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: argocd}}\n---\napiVersion: v1\nkind: Secret\nmetadata: {{name: argocd-notifications-secret, namespace: argocd}}\nstringData:\n  slack-token: xoxb-test\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: argocd-notifications-cm, namespace: argocd}}\ndata:\n  service.webhook.receiver: |\n    url: http://127.0.0.1:{port}/hooks\n    headers:\n    - name: Content-Type\n      value: application/json\n  service.slack: |\n    token: $slack-token\n    apiURL: http://127.0.0.1:{port}/slack/\n  template.app-sync-succeeded: |\n    webhook:\n      receiver:\n        method: POST\n        path: /apps/{{{{.app.metadata.name}}}}\n        body: |\n          {{\"app\": \"{{{{.app.metadata.name}}}}\", \"revision\": \"{{{{.app.status.operationState.syncResult.revision}}}}\"}}\n"
        )),
    );
    // an Application subscribed to two triggers
    let repo = temp_dir("notify-repo");
    git(&repo, &["init", "-q", "-b", "main"]);
    let rev1 = commit(
        &repo,
        &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: \"1\"\n",
        )],
        "one",
    );
    s.ok(
        &["apply", "-f", "-"],
        Some(&format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: shop\n  namespace: argocd\n  annotations:\n    notifications.argoproj.io/subscribe.on-sync-succeeded.receiver: \"\"\n    notifications.argoproj.io/subscribe.on-deployed.slack: deploys\nspec:\n  project: default\n  source:\n    repoURL: file://{}\n    targetRevision: HEAD\n    path: .\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: shop\n  syncPolicy:\n    automated: {{prune: true}}\n    syncOptions: [CreateNamespace=true]\n",
            repo.display()
        )),
    );
    let hook = |rev: &str| {
        let rev = rev.to_owned();
        move |g: &Got| {
            g.0 == "POST"
                && g.1 == "/hooks/apps/shop"
                && g.3 == format!("{{\"app\": \"shop\", \"revision\": \"{rev}\"}}\n")
                && g.2
                    .contains(&("content-type".into(), "application/json".into()))
        }
    };
    let slack = |g: &Got| {
        g.0 == "POST"
            && g.1 == "/slack/chat.postMessage"
            && g.3
                .starts_with("channel=deploys&text=Application+shop+is+running+revision+")
            && g.2
                .contains(&("authorization".into(), "Bearer xoxb-test".into()))
    };
    wait(
        &s,
        &got,
        "the webhook and Slack notifications of the first sync",
        || count(&got, hook(&rev1)) == 1 && count(&got, slack) == 1,
    );
    let app = s.json(&["get", "application", "shop", "-n", "argocd"]);
    let notified = app["metadata"]["annotations"]["notified.notifications.argoproj.io"]
        .as_str()
        .unwrap_or("");
    assert!(
        notified.contains(&format!("{rev1}:on-sync-succeeded:[0].")),
        "{notified}"
    );
    // a refresh reconciles again: nothing is sent twice
    s.ok(
        &[
            "annotate",
            "application",
            "shop",
            "-n",
            "argocd",
            "argocd.argoproj.io/refresh=normal",
            "--overwrite",
        ],
        None,
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(count(&got, hook(&rev1)), 1);
    assert_eq!(count(&got, slack), 1);

    // a new revision: one more of each
    let rev2 = commit(
        &repo,
        &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: \"2\"\n",
        )],
        "two",
    );
    s.ok(
        &[
            "annotate",
            "application",
            "shop",
            "-n",
            "argocd",
            "argocd.argoproj.io/refresh=normal",
            "--overwrite",
        ],
        None,
    );
    wait(&s, &got, "the notifications of the second revision", || {
        count(&got, hook(&rev2)) == 1 && count(&got, slack) == 2
    });

    // a Pipeline subscribed for its failed runs
    s.ok(
        &["apply", "-f", "-"],
        Some(
            "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: check\nspec:\n  params:\n  - name: ok\n  steps:\n  - name: check\n    image: alpine\n    script: |\n      #!/bin/sh\n      test \"$(params.ok)\" = yes\n---\napiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: build\n  annotations:\n    notifications.argoproj.io/subscribe.on-pipelinerun-failed.receiver: \"\"\nspec:\n  params:\n  - name: ok\n  tasks:\n  - name: check\n    params:\n    - {name: ok, value: $(params.ok)}\n    taskRef: {name: check}\n",
        ),
    );
    for (name, ok) in [("good", "yes"), ("bad", "no")] {
        s.ok(
            &["create", "-f", "-"],
            Some(&format!(
                "apiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata:\n  name: {name}\nspec:\n  pipelineRef: {{name: build}}\n  params:\n  - {{name: ok, value: \"{ok}\"}}\n"
            )),
        );
    }
    let failed = |g: &Got| {
        g.0 == "GET" && g.1 == "/hooks" && g.3.starts_with("PipelineRun default/bad failed: ")
    };
    wait(&s, &got, "the failed run's notification", || {
        count(&got, failed) == 1
    });
    s.wait_for(
        &["get", "pipelinerun", "good"],
        "the good run to succeed",
        |v| v["status"]["conditions"][0]["reason"] == "Succeeded",
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(count(&got, failed), 1);
    assert_eq!(
        count(&got, |g| g.1 == "/hooks" && g.3.contains("default/good")),
        0
    );
}
