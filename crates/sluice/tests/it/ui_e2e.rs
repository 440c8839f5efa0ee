//! The web UI of `sluice serve` in a real browser (Debian's headless Chromium, driven over
//! the DevTools protocol by tests/it/cdp.py): a run appears in the list and turns green
//! through the watch, its DAG renders (runAfter and result edges, finally apart), its step
//! log shows with ANSI colours and with HTML in the log as text, a failed run opens on the
//! failing step's log, and a bad token sees the login page and nothing else.
//! Set SLUICE_UI_SCREENSHOTS=DIR to save screenshots of the views (docs/ui-*.png).

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::apiserver_kubectl::kubectl_available;
use crate::serve_triggers::Serve;

const PIPELINE: &str = r#"
apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: ui-demo
spec:
  tasks:
    - name: fetch
      taskSpec:
        results:
          - name: sha
        steps:
          - name: clone
            image: alpine
            script: |
              printf '\033[32mgreen\033[0m <b>bold</b><script>window.pwned=1</script>\n'
              printf abc123 > $(results.sha.path)
    - name: build
      params:
        - name: sha
          value: $(tasks.fetch.results.sha)
      taskSpec:
        params:
          - name: sha
        steps:
          - name: compile
            image: alpine
            script: echo "building $(params.sha)"
  finally:
    - name: report
      taskSpec:
        steps:
          - name: notify
            image: alpine
            script: echo done
---
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: ui-ok
spec:
  pipelineRef:
    name: ui-demo
---
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: ui-fail
spec:
  pipelineSpec:
    tasks:
      - name: broken
        taskSpec:
          steps:
            - name: first
              image: alpine
              script: echo fine
            - name: second
              image: alpine
              script: |
                echo failing-step-output
                exit 3
"#;

fn chromium_available() -> bool {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .any(|c| {
            Command::new(c)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
}

/// Runs the driver; panics with the page's text when a step fails.
fn drive(url: &str, token: Option<&str>, steps: Vec<Value>) -> Vec<Value> {
    let driver = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/cdp.py");
    let mut child = Command::new("python3")
        .arg(driver)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let spec = json!({"url": url, "token": token, "steps": steps});
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(spec.to_string().as_bytes())
        .expect("write the steps");
    let o = child.wait_with_output().expect("the driver finishes");
    let out: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| {
        panic!(
            "driver output: {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    assert!(
        out["ok"] == true,
        "step {} failed (results {}); page text:\n{}\nexceptions: {}",
        out["failed"],
        out["results"],
        out["text"].as_str().unwrap_or(""),
        out["exceptions"]
    );
    assert_eq!(
        out["exceptions"],
        json!([]),
        "uncaught exceptions in the page"
    );
    out["results"].as_array().cloned().unwrap_or_default()
}

fn shots(name: &str) -> Vec<Value> {
    match std::env::var("SLUICE_UI_SCREENSHOTS") {
        Ok(dir) if !dir.is_empty() => vec![json!({"screenshot": format!("{dir}/ui-{name}.png")})],
        _ => Vec::new(),
    }
}

#[test]
fn runs_dag_logs_and_a_bad_token_in_chromium() {
    if !kubectl_available() || !chromium_available() {
        eprintln!("skipped: kubectl or chromium not installed");
        return;
    }
    let s = Serve::start("ui", &[]);
    let token = std::fs::read_to_string(s.dir.join("token")).expect("DATA/token");
    let token = token.trim();
    s.ok(&["apply", "-f", "-"], Some(PIPELINE));
    let base = format!("{}/", s.url);

    let mut steps = vec![
        json!({"wait": "document.querySelector('[data-run=\"default/ui-ok\"]') !== null"}),
        // the row turns green through the watch, without a reload
        json!({"wait": "(document.querySelector('[data-run=\"default/ui-ok\"] [data-status]') || {dataset: {}}).dataset.status === 'Succeeded'", "timeout": 90}),
    ];
    steps.extend(shots("runs"));
    steps.extend([
        json!({"eval": "location.hash = '#/runs/default/ui-ok'; true"}),
        json!({"wait": "document.querySelectorAll('#dag [data-task]').length === 3"}),
        json!({"wait": "[...document.querySelectorAll('#dag [data-task]')].every(n => n.dataset.status === 'Succeeded')", "timeout": 60}),
        // the result reference is an edge of its own (dashed), finally sits apart
        json!({"eval": "JSON.stringify([document.querySelectorAll('#dag .edge').length, document.querySelectorAll('#dag .edge.result').length, [...document.querySelectorAll('#dag .label')].map(l => l.textContent)])"}),
        json!({"click": "#dag [data-task=\"fetch\"]"}),
        json!({"wait": "(document.getElementById('log') || {}).textContent && document.getElementById('log').textContent.includes('<b>bold</b>')"}),
        json!({"eval": "JSON.stringify([document.querySelectorAll('#log b, #log script').length, typeof window.pwned, document.querySelector('#log .ansi-32') ? document.querySelector('#log .ansi-32').textContent : null])"}),
    ]);
    steps.extend(shots("run"));
    steps.extend([
        json!({"eval": "location.hash = '#/runs/default/ui-fail'; true"}),
        json!({"wait": "(document.querySelector('h1 [data-status]') || {dataset: {}}).dataset.status === 'Failed'", "timeout": 60}),
        json!({"click": "#dag [data-task=\"broken\"]"}),
        // the failing step is the one shown
        json!({"wait": "document.querySelector('[data-step=\"second\"][aria-pressed=\"true\"]') !== null"}),
        json!({"wait": "(document.getElementById('log') || {}).textContent && document.getElementById('log').textContent.includes('failing-step-output')"}),
        json!({"eval": format!("location.href.includes({}) || document.cookie.includes({})", json!(token), json!(token))}),
    ]);
    let r = drive(&base, Some(token), steps);
    let eval = |i: usize| r[i].as_str().unwrap_or_default().to_owned();
    let shot = shots("runs").len();
    assert_eq!(
        eval(5 + shot),
        r#"[1,1,["finally"]]"#,
        "one edge, fetch->build by a result; none to finally"
    );
    assert_eq!(
        eval(8 + shot),
        r#"[0,"undefined","green"]"#,
        "HTML in a log renders as text; ANSI colours apply"
    );
    assert_eq!(
        r[r.len() - 1],
        json!(false),
        "the token never appears in a URL or cookie"
    );

    // a wrong token: the login page with the server's refusal, no data
    let r = drive(
        &format!("{base}#/runs"),
        Some("wrong-token"),
        vec![
            json!({"wait": "document.querySelector('.login .error') !== null"}),
            json!({"eval": "JSON.stringify([document.querySelector('#runs') === null, location.hash.startsWith('#/login'), sessionStorage.getItem('sluice-token')])"}),
        ],
    );
    assert_eq!(r[1], json!(r#"[true,true,null]"#));

    // logging in with the right token from the form
    let steps = vec![
        json!({"wait": "document.getElementById('token') !== null"}),
        json!({"eval": format!("document.getElementById('token').value = {}; document.querySelector('.login form').requestSubmit(); true", json!(token))}),
        json!({"wait": "document.querySelector('[data-run=\"default/ui-fail\"]') !== null"}),
    ];
    drive(&base, None, steps);
}

/// An OutOfSync Application in the browser: its changed resource shows the side-by-side
/// diff of live and desired manifests (kept by the controller in ConfigMap
/// `sluice-diff-<app>`), clicking Sync makes it Synced (Argo CD's UI does the same
/// through `operation`, docs user-guide/sync-options.md), and its Events are listed.
#[test]
fn application_diff_and_sync_in_chromium() {
    if !kubectl_available() || !chromium_available() {
        eprintln!("skipped: kubectl or chromium not installed");
        return;
    }
    use crate::serve_gitops::{commit, git_repo};
    let repo = git_repo("ui-app-repo");
    let cm = |g: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\ndata:\n  greeting: {g}\n  keep: same\n"
        )
    };
    const WEB: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n";
    commit(
        &repo,
        &[("app/cm.yaml", &cm("hello")), ("app/web.yaml", WEB)],
        "v1",
    );
    let s = Serve::start("ui-apps", &[]);
    let token = std::fs::read_to_string(s.dir.join("token")).expect("DATA/token");
    let token = token.trim();
    let app = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: argocd}}\n---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: demo\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: file://{}\n    targetRevision: HEAD\n    path: app\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: demo\n  syncPolicy:\n    syncOptions: [CreateNamespace=true]\n",
        repo.display()
    );
    s.ok(&["apply", "-f", "-"], Some(&app));
    let get = ["get", "applications.argoproj.io", "demo", "-n", "argocd"];
    s.wait_for(&get, "OutOfSync", |v| {
        v["status"]["sync"]["status"] == "OutOfSync"
    });
    s.ok(
        &[
            "patch",
            "applications.argoproj.io",
            "demo",
            "-n",
            "argocd",
            "--type",
            "merge",
            "-p",
            r#"{"operation":{"sync":{}}}"#,
        ],
        None,
    );
    s.wait_for(&get, "Synced", |v| {
        v["status"]["sync"]["status"] == "Synced"
    });
    // the source changes: OutOfSync with a live object to compare
    commit(&repo, &[("app/cm.yaml", &cm("bonjour"))], "v2");
    s.ok(
        &[
            "annotate",
            "applications.argoproj.io",
            "demo",
            "-n",
            "argocd",
            "argocd.argoproj.io/refresh=normal",
        ],
        None,
    );
    s.wait_for(&get, "OutOfSync after the change", |v| {
        v["status"]["sync"]["status"] == "OutOfSync"
    });
    let mut steps = vec![
        json!({"eval": "location.hash = '#/apps/argocd/demo'; true"}),
        json!({"wait": "document.querySelector('[data-resource=\"ConfigMap/app-config\"] button.link') !== null"}),
        json!({"click": "[data-resource=\"ConfigMap/app-config\"] button.link"}),
        json!({"wait": "document.getElementById('resource-diff') !== null"}),
        // removed and added lines, with their signs; the unchanged line on both sides
        json!({"eval": "JSON.stringify([...document.querySelectorAll('#resource-diff tbody tr')].map(r => [...r.cells].map(c => c.textContent)).filter(c => c[1].includes('greeting') || c[3].includes('greeting') || c[1].includes('keep')))"}),
    ];
    // the owner tree: the Deployment's ReplicaSet and its Pod under it, indented
    steps.extend([
        json!({"wait": "document.querySelector('[data-resource^=\"Pod/web-\"]') !== null", "timeout": 30}),
        json!({"eval": "JSON.stringify(['Deployment/web', 'ReplicaSet/web-', 'Pod/web-'].map(k => { const e = document.querySelector(`[data-resource^=\"${k}\"] .tree-indent`); return e ? e.textContent.length : -1; }))"}),
    ]);
    let shot = shots("app-diff");
    if !shot.is_empty() {
        steps.push(
            json!({"eval": "document.getElementById('resource-diff').scrollIntoView(); true"}),
        );
    }
    steps.extend(shot);
    steps.extend([
        json!({"click": "#sync"}),
        json!({"wait": "document.querySelector('h1') && document.querySelector('h1').textContent.includes('Synced') && !document.querySelector('h1').textContent.includes('OutOfSync')", "timeout": 60}),
        // the Application's events (the controller's, as Argo CD records them)
        json!({"wait": "(document.getElementById('app-events') || {}).textContent && document.getElementById('app-events').textContent.includes('ResourceUpdated')", "timeout": 30}),
    ]);
    let r = drive(&format!("{}/", s.url), Some(token), steps);
    assert_eq!(
        r[4],
        json!(
            r#"[["-","  greeting: hello","",""],["","","+","  greeting: bonjour"],[" ","  keep: same"," ","  keep: same"]]"#
        ),
        "the diff of the changed line"
    );
    assert_eq!(
        r[6],
        json!("[0,4,8]"),
        "Deployment, its ReplicaSet and its Pod, each one level deeper"
    );
    let v = s.json(&get);
    assert_eq!(v["status"]["sync"]["status"], "Synced");
    let live = s.json(&["get", "configmap", "app-config", "-n", "demo"]);
    assert_eq!(live["data"]["greeting"], "bonjour");
    // nothing OutOfSync: the diff ConfigMap is gone
    let mut gone = false;
    for _ in 0..100 {
        if !s
            .kubectl(
                &["get", "configmap", "sluice-diff-demo", "-n", "argocd"],
                None,
            )
            .status
            .success()
        {
            gone = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(gone, "sluice-diff-demo is deleted once the app is Synced");
}

/// The EventListeners view: each trigger with its interceptors (the CEL filter as code),
/// bindings and template, and the recent deliveries with, per trigger, the PipelineRun it
/// created (a link) or the interceptor and reason that filtered it (tektoncd/triggers
/// docs/eventlisteners.md; the event record is the listener's, see serve_triggers). The
/// run the webhook created opens from its link, renders its DAG, turns green and shows
/// its log.
#[test]
fn listener_triggers_and_deliveries_in_chromium() {
    if !kubectl_available() || !chromium_available() {
        eprintln!("skipped: kubectl or chromium not installed");
        return;
    }
    let s = Serve::start("ui-listeners", &[]);
    let token = std::fs::read_to_string(s.dir.join("token")).expect("DATA/token");
    let token = token.trim();
    s.ok(&["create", "namespace", "ci"], None);
    let f = crate::common::repo_root().join("tests/fixtures/triggers");
    let path = |n: &str| f.join(n).display().to_string();
    s.ok(
        &[
            "apply",
            "-f",
            &path("pipeline.yaml"),
            "-f",
            &path("trigger.yaml"),
        ],
        None,
    );
    s.wait_for(
        &["get", "eventlistener", "gitlab-listener", "-n", "ci"],
        "EventListener address",
        |v| v["status"]["address"]["url"].is_string(),
    );
    let url = format!("{}/listeners/ci/gitlab-listener", s.plain);
    let headers = [
        ("Content-Type", "application/json"),
        ("X-Gitlab-Event", "Push Hook"),
        ("X-Gitlab-Token", "fixture-token-7f3a"),
    ];
    let mut ids = Vec::new();
    for file in ["push-main.json", "push-feature.json"] {
        let body = std::fs::read(f.join(file)).expect("payload");
        let (code, answer) = crate::serve_triggers::post(&url, &headers, &body);
        assert_eq!(code, 202, "{file}: {answer}");
        ids.push(answer["eventID"].as_str().unwrap_or("").to_owned());
    }
    let row = |id: &str| format!("[data-listener=\"ci/gitlab-listener\"] tr[data-event=\"{id}\"]");
    let steps = vec![
        json!({"eval": "location.hash = '#/listeners'; true"}),
        json!({"wait": "document.querySelector('[data-trigger=\"gitlab-push\"]') !== null"}),
        json!({"eval": "JSON.stringify([...document.querySelectorAll('[data-trigger=\"gitlab-push\"] [data-interceptor]')].map(i => i.dataset.interceptor))"}),
        json!({"eval": "document.querySelector('[data-trigger=\"gitlab-push\"] [data-interceptor=\"cel\"] code').textContent.includes(\"body.ref.startsWith('refs/heads/main')\")"}),
        json!({"eval": "document.querySelector('[data-trigger=\"gitlab-push\"]').textContent.includes('TriggerBinding gitlab-push-binding') && document.querySelector('[data-trigger=\"gitlab-push\"]').textContent.includes('TriggerTemplate gitlab-push-template')"}),
        json!({"wait": format!("document.querySelector({}) !== null && document.querySelector({}) !== null", json!(row(&ids[0])), json!(row(&ids[1]))), "timeout": 30}),
        json!({"eval": format!("JSON.stringify([document.querySelector({a}).dataset.outcome, document.querySelector({a} + ' a').getAttribute('href').startsWith('#/runs/ci/build-order-service-')])", a = json!(format!("{} [data-outcome]", row(&ids[0]))))}),
        json!({"eval": format!("JSON.stringify([document.querySelector({a}).dataset.outcome, document.querySelector({a}).textContent.includes('did not return true')])", a = json!(format!("{} [data-outcome]", row(&ids[1]))))}),
    ];
    let mut steps = steps;
    steps.extend(shots("listeners"));
    // the run the webhook created: its DAG renders, it turns green live, its log shows
    steps.extend([
        json!({"click": format!("{} a", row(&ids[0]))}),
        json!({"wait": "document.querySelectorAll('#dag [data-task]').length === 3"}),
        json!({"wait": "(document.querySelector('h1 [data-status]') || {dataset: {}}).dataset.status === 'Succeeded'", "timeout": 90}),
        json!({"click": "#dag [data-task=\"build\"]"}),
        json!({"wait": "(document.getElementById('log') || {}).textContent && document.getElementById('log').textContent.includes('build registry.local/apps/order-service:')"}),
    ]);
    let r = drive(&format!("{}/", s.url), Some(token), steps);
    assert_eq!(
        r[2],
        json!(r#"["gitlab","cel"]"#),
        "the interceptors in order"
    );
    assert_eq!(r[3], json!(true), "the CEL filter is shown");
    assert_eq!(r[4], json!(true), "binding and template are named");
    assert_eq!(
        r[6],
        json!(r#"["Created",true]"#),
        "main created a run, linked"
    );
    assert_eq!(
        r[7],
        json!(r#"["Filtered",true]"#),
        "feature/ was filtered, with the reason"
    );
}

/// Single sign-on in the browser (Argo CD's "LOG IN VIA ..."): with argocd-cm's
/// `oidc.config`, the login page offers the provider; a click goes through the provider's
/// authorization endpoint (a local issuer whose user is logged in already, its token
/// endpoint checking the PKCE verifier) and back to the page asked for, logged in as the
/// ID token's user, the token in the session and in no URL or readable cookie.
#[test]
fn single_sign_on_in_chromium() {
    use crate::apiserver_oidc::{Issuer, Key};
    use crate::serve_kubectl::Proc;
    if !kubectl_available() || !chromium_available() {
        eprintln!("skipped: kubectl or chromium not installed");
        return;
    }
    let dir = crate::apiserver_kubectl::temp_dir("ui-sso");
    let issuer = Issuer::start(&dir, Key::new("ui-1"));
    let ca = std::fs::read_to_string(&issuer.ca_file).expect("ca");
    let s = Proc::start_with("serve", dir, 0, &[]);
    s.ok(&["create", "namespace", "argocd"], None);
    let config =
        json!({"name": "Test SSO", "issuer": issuer.url, "clientID": "argo-cd", "rootCA": ca});
    let cm = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "argocd-cm", "namespace": "argocd"},
        "data": {"oidc.config": config.to_string()},
    });
    s.ok(&["apply", "-f", "-"], Some(&cm.to_string()));
    s.ok(
        &[
            "create",
            "clusterrolebinding",
            "sre-view",
            "--clusterrole=view",
            "--group=sre",
        ],
        None,
    );
    // oidc.config is read when the server starts
    let s = s.crash_and_restart();
    let base = format!("{}/", s.url());
    let steps = vec![
        json!({"wait": "document.getElementById('sso') !== null", "timeout": 30}),
        json!({"eval": "document.getElementById('sso').textContent"}),
        json!({"click": "#sso"}),
        json!({"wait": "location.hash.startsWith('#/apps') && !!sessionStorage.getItem('sluice-token')", "timeout": 30}),
        json!({"wait": "(document.getElementById('whoami') || {}).textContent && document.getElementById('whoami').textContent.includes('jane@example.com')"}),
        json!({"eval": "JSON.stringify([location.href.includes(sessionStorage.getItem('sluice-token')), document.cookie])"}),
    ];
    let r = drive(&format!("{base}#/login?next=%23%2Fapps"), None, steps);
    assert_eq!(r[1], json!("Log in via Test SSO"));
    assert_eq!(
        r[5],
        json!("[false,\"\"]"),
        "the token is in no URL or cookie"
    );
}
