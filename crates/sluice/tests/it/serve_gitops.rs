//! Applications in `sluice serve` read from real Git repositories (sluice-git), end to end:
//! repositories built with the `git` CLI in a temp dir, the binary on a free port, kubectl
//! and curl against it. Upstream behaviour pinned here:
//! - `status.sync.revision` is the commit SHA the targetRevision resolves to (argo-cd
//!   `util/git/client.go` `LsRemote`; docs user-guide/tracking_strategies.md: "HEAD", a
//!   branch, a tag or a commit SHA).
//! - A push webhook at `/api/webhook` refreshes the Applications of the pushed repository
//!   at once instead of at the next poll (docs operator-manual/webhook.md: "Argo CD polls
//!   Git repositories every three minutes ... To eliminate this delay from polling, the API
//!   server can be configured to receive webhook events"); with `webhook.github.secret` in
//!   argocd-secret an unsigned payload is refused.
//! - The `argocd.argoproj.io/refresh: normal|hard` annotation refreshes an Application and
//!   is "removed by application controller after app is refreshed" (docs
//!   user-guide/annotations-and-labels.md).
//! - A revision that does not resolve is a ComparisonError condition naming it.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::apiserver_kubectl::{kubectl_available, temp_dir};
use crate::serve_triggers::{Serve, post};

pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Writes `files` into the work tree of `repo` and commits them; the new HEAD SHA.
pub(crate) fn commit(repo: &Path, files: &[(&str, &str)], msg: &str) -> String {
    for (p, c) in files {
        let f = repo.join(p);
        std::fs::create_dir_all(f.parent().expect("parent")).expect("mkdir");
        std::fs::write(f, c).expect("write");
    }
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", msg]);
    git(repo, &["rev-parse", "HEAD"])
}

pub(crate) fn git_repo(tag: &str) -> std::path::PathBuf {
    let repo = temp_dir(tag);
    git(&repo, &["init", "-q", "-b", "main"]);
    repo
}

fn cm(name: &str, greeting: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  greeting: {greeting}\n"
    )
}

fn app(name: &str, repo: &Path, revision: &str, path: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: file://{}\n    targetRevision: {revision}\n    path: {path}\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: {name}\n  syncPolicy:\n    automated: {{prune: true, selfHeal: true}}\n    syncOptions: [CreateNamespace=true]\n",
        repo.display()
    )
}

/// HMAC-SHA256 of `body` with `key`, hex (`openssl dgst`, as GitHub signs deliveries).
fn hmac_sha256(key: &str, body: &[u8]) -> String {
    use std::io::Write;
    let mut c = Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", key])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl runs");
    c.stdin
        .take()
        .expect("stdin")
        .write_all(body)
        .expect("write");
    let o = c.wait_with_output().expect("openssl finishes");
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    text.rsplit(' ').next().unwrap_or("").trim().to_owned()
}

fn tools_available() -> bool {
    let ok = |c: &str| {
        Command::new(c)
            .arg(if c == "openssl" {
                "version"
            } else {
                "--version"
            })
            .output()
            .is_ok_and(|o| o.status.success())
    };
    kubectl_available() && ok("git") && ok("curl") && ok("openssl")
}

fn revision(v: &Value) -> &str {
    v["status"]["sync"]["revision"].as_str().unwrap_or("")
}

#[test]
fn git_application_syncs_head_and_refreshes_on_webhook_and_annotation() {
    if !tools_available() {
        eprintln!("skipped: kubectl, git, curl or openssl not installed");
        return;
    }
    let repo = git_repo("gitops-repo");
    let first = commit(
        &repo,
        &[
            ("app/cm.yaml", &cm("greeting", "hello")),
            ("README.md", "x\n"),
        ],
        "one",
    );
    let s = Serve::start("gitops", &[]);
    // a long poll interval: only the webhook or the annotation can refresh within the test
    s.ok(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: Namespace\nmetadata: {name: argocd}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-cm, namespace: argocd}\ndata:\n  timeout.reconciliation: 180s\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: argocd-secret, namespace: argocd}\nstringData:\n  webhook.github.secret: s3cret\n"),
    );
    s.ok(
        &["apply", "-f", "-"],
        Some(&app("web", &repo, "HEAD", "app")),
    );
    let get = ["get", "applications.argoproj.io", "web", "-n", "argocd"];
    let v = s.wait_for(&get, "web Synced at HEAD", |v| {
        v["status"]["sync"]["status"] == "Synced" && revision(v) == first
    });
    assert_eq!(
        v["status"]["operationState"]["syncResult"]["revision"],
        first.as_str()
    );
    let c = s.json(&["get", "configmap", "greeting", "-n", "web"]);
    assert_eq!(c["data"]["greeting"], "hello");

    // a new commit, then a GitHub push delivery: the app moves to it within about a second
    let second = commit(&repo, &[("app/cm.yaml", &cm("greeting", "bonjour"))], "two");
    let body = serde_json::json!({
        "ref": "refs/heads/main",
        "before": first,
        "after": second,
        "repository": {"html_url": format!("file://{}", repo.display()), "default_branch": "main"},
        "commits": [{"modified": ["app/cm.yaml"]}],
    })
    .to_string();
    let url = format!("{}/api/webhook", s.url);
    // unsigned while argocd-secret has a GitHub secret: refused
    let (code, _) = post(
        &url,
        &[
            ("X-GitHub-Event", "push"),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    );
    assert_eq!(code, 400, "an unsigned push is refused");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        revision(&s.json(&get)),
        first,
        "nothing refreshed by a refused push"
    );
    let sig = format!("sha256={}", hmac_sha256("s3cret", body.as_bytes()));
    let t0 = Instant::now();
    let (code, _) = post(
        &url,
        &[
            ("X-GitHub-Event", "push"),
            ("X-Hub-Signature-256", &sig),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    );
    assert_eq!(code, 200);
    let v = s.wait_for(&get, "web at the pushed commit", |v| {
        revision(v) == second && v["status"]["sync"]["status"] == "Synced"
    });
    let took = t0.elapsed();
    eprintln!("webhook push to Synced at the new commit: {took:?}");
    assert!(took < Duration::from_secs(3), "refresh took {took:?}");
    assert!(
        v["metadata"]["annotations"]["argocd.argoproj.io/refresh"].is_null(),
        "the refresh annotation is removed: {v:#}"
    );
    s.wait_for(
        &["get", "configmap", "greeting", "-n", "web"],
        "the new greeting applied",
        |v| v["data"]["greeting"] == "bonjour",
    );

    // another commit, no webhook: the refresh annotation picks it up and is removed
    let third = commit(&repo, &[("app/cm.yaml", &cm("greeting", "hola"))], "three");
    s.ok(
        &[
            "annotate",
            "applications.argoproj.io",
            "web",
            "-n",
            "argocd",
            "argocd.argoproj.io/refresh=hard",
        ],
        None,
    );
    let v = s.wait_for(&get, "web at the third commit", |v| {
        revision(v) == third && v["metadata"]["annotations"]["argocd.argoproj.io/refresh"].is_null()
    });
    assert_eq!(v["status"]["sync"]["status"], "Synced", "{v:#}");

    // a pinned revision (the first commit's SHA, a tag) reads that commit's tree
    git(&repo, &["tag", "v1", &first]);
    s.ok(
        &["apply", "-f", "-"],
        Some(&app("pinned", &repo, "v1", "app")),
    );
    s.wait_for(
        &["get", "applications.argoproj.io", "pinned", "-n", "argocd"],
        "pinned Synced at the tagged commit",
        |v| v["status"]["sync"]["status"] == "Synced" && revision(v) == first,
    );
    let c = s.json(&["get", "configmap", "greeting", "-n", "pinned"]);
    assert_eq!(c["data"]["greeting"], "hello");

    // a revision that does not exist: ComparisonError naming it, nothing applied
    s.ok(
        &["apply", "-f", "-"],
        Some(&app("broken", &repo, "no-such-branch", "app")),
    );
    let v = s.wait_for(
        &["get", "applications.argoproj.io", "broken", "-n", "argocd"],
        "a condition",
        |v| {
            v["status"]["conditions"]
                .as_array()
                .is_some_and(|c| !c.is_empty())
        },
    );
    let c = &v["status"]["conditions"][0];
    assert_eq!(c["type"], "ComparisonError", "{c:#}");
    let msg = c["message"].as_str().unwrap_or("");
    assert!(
        msg.contains("unable to resolve 'no-such-branch' to a commit SHA")
            && msg.contains(&repo.display().to_string()),
        "{c:#}"
    );
    assert_eq!(
        s.kubectl(&["get", "namespace", "broken"], None)
            .status
            .code(),
        Some(1),
        "nothing applied for an unresolvable revision"
    );
    let _ = std::fs::remove_dir_all(&repo);
}

/// An ApplicationSet git directories generator in `sluice serve` reads the repository
/// through the same cache as the Applications: one Application per matching directory,
/// `exclude: true` entries removed (docs operator-manual/applicationset/Generators-Git.md,
/// "Exclude directories"), owned by the ApplicationSet; a push webhook regenerates at once
/// (a new directory becomes an Application) and a removed directory's Application is
/// deleted (applicationsSync default `sync`).
#[test]
fn appset_git_directories_generate_applications_from_the_repository() {
    if !tools_available() {
        eprintln!("skipped: kubectl, git, curl or openssl not installed");
        return;
    }
    let repo = git_repo("gitops-appset");
    let first = commit(
        &repo,
        &[
            ("apps/alpha/cm.yaml", &cm("alpha", "a")),
            ("apps/beta/cm.yaml", &cm("beta", "b")),
            ("apps/skipped/cm.yaml", &cm("skipped", "s")),
            ("README.md", "x\n"),
        ],
        "one",
    );
    let s = Serve::start("gitops-appset", &[]);
    s.ok(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: Namespace\nmetadata: {name: argocd}\n"),
    );
    let set = format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata:\n  name: dirs\n  namespace: argocd\nspec:\n  generators:\n  - git:\n      repoURL: file://{repo}\n      revision: HEAD\n      directories:\n      - path: apps/*\n      - path: apps/skipped\n        exclude: true\n  template:\n    metadata:\n      name: '{{{{path.basename}}}}'\n    spec:\n      project: default\n      source:\n        repoURL: file://{repo}\n        targetRevision: HEAD\n        path: '{{{{path}}}}'\n      destination:\n        server: https://kubernetes.default.svc\n        namespace: '{{{{path.basename}}}}'\n      syncPolicy:\n        automated: {{}}\n        syncOptions: [CreateNamespace=true]\n",
        repo = repo.display()
    );
    s.ok(&["apply", "-f", "-"], Some(&set));
    let list = ["get", "applications.argoproj.io", "-n", "argocd"];
    let names = |v: &Value| -> Vec<String> {
        let mut n: Vec<String> = v["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["metadata"]["name"].as_str().map(str::to_owned))
            .collect();
        n.sort();
        n
    };
    let v = s.wait_for(&list, "alpha and beta generated", |v| {
        names(v) == ["alpha", "beta"]
    });
    for item in v["items"].as_array().into_iter().flatten() {
        let owner = &item["metadata"]["ownerReferences"][0];
        assert_eq!(owner["kind"], "ApplicationSet", "{item:#}");
        assert_eq!(owner["name"], "dirs");
    }
    s.wait_for(
        &["get", "applications.argoproj.io", "alpha", "-n", "argocd"],
        "alpha Synced at HEAD",
        |v| v["status"]["sync"]["status"] == "Synced" && revision(v) == first,
    );
    let c = s.json(&["get", "configmap", "alpha", "-n", "alpha"]);
    assert_eq!(c["data"]["greeting"], "a");

    // a new directory and a removed one, announced by a (GitLab) push webhook
    std::fs::remove_dir_all(repo.join("apps/beta")).expect("rm beta");
    let second = commit(&repo, &[("apps/gamma/cm.yaml", &cm("gamma", "g"))], "two");
    let body = serde_json::json!({
        "object_kind": "push",
        "ref": "refs/heads/main",
        "before": first,
        "after": second,
        "project": {"web_url": format!("file://{}", repo.display()), "default_branch": "main"},
        "commits": [{"added": ["apps/gamma/cm.yaml"], "removed": ["apps/beta/cm.yaml"]}],
    })
    .to_string();
    let (code, _) = post(
        &format!("{}/api/webhook", s.url),
        &[
            ("X-Gitlab-Event", "Push Hook"),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    );
    assert_eq!(code, 200);
    s.wait_for(&list, "gamma generated, beta deleted", |v| {
        names(v) == ["alpha", "gamma"]
    });
    s.wait_for(
        &["get", "applicationsets.argoproj.io", "dirs", "-n", "argocd"],
        "the ApplicationSet up to date, its refresh annotation removed",
        |v| {
            v["metadata"]["annotations"]["argocd.argoproj.io/application-set-refresh"].is_null()
                && v["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["type"] == "ResourcesUpToDate" && c["status"] == "True")
        },
    );
    // settled: the controller does not rewrite an unchanged status (no watch-event loop)
    let sget = ["get", "applicationsets.argoproj.io", "dirs", "-n", "argocd"];
    let rv = s.json(&sget)["metadata"]["resourceVersion"].clone();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        s.json(&sget)["metadata"]["resourceVersion"],
        rv,
        "status rewritten"
    );

    // a git files generator over the same repository: one Application per config file,
    // its JSON keys as parameters (Generators-Git.md, "Git Generator: Files")
    let third = commit(
        &repo,
        &[
            (
                "envs/dev/config.json",
                r#"{"env": "dev", "ns": "files-dev"}"#,
            ),
            (
                "envs/prod/config.json",
                r#"{"env": "prod", "ns": "files-prod"}"#,
            ),
        ],
        "three",
    );
    // the new commit is announced as users announce it: a push webhook (without it the
    // mirror, fetched less than its 3 s interval ago, may still be at "two" and the files
    // generator would wait for the next poll, as Argo CD's cached ls-remote would)
    let body = serde_json::json!({
        "object_kind": "push",
        "ref": "refs/heads/main",
        "before": second,
        "after": third,
        "project": {"web_url": format!("file://{}", repo.display()), "default_branch": "main"},
        "commits": [{"added": ["envs/dev/config.json", "envs/prod/config.json"]}],
    })
    .to_string();
    let (code, _) = post(
        &format!("{}/api/webhook", s.url),
        &[
            ("X-Gitlab-Event", "Push Hook"),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    );
    assert_eq!(code, 200);
    let files = format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata:\n  name: files\n  namespace: argocd\nspec:\n  generators:\n  - git:\n      repoURL: file://{repo}\n      revision: main\n      files:\n      - path: envs/*/config.json\n  template:\n    metadata:\n      name: 'cfg-{{{{env}}}}'\n    spec:\n      project: default\n      source:\n        repoURL: file://{repo}\n        targetRevision: HEAD\n        path: apps/alpha\n      destination:\n        server: https://kubernetes.default.svc\n        namespace: '{{{{ns}}}}'\n",
        repo = repo.display()
    );
    s.ok(&["apply", "-f", "-"], Some(&files));
    let v = s.wait_for(&list, "cfg-dev and cfg-prod generated", |v| {
        names(v) == ["alpha", "cfg-dev", "cfg-prod", "gamma"]
    });
    let prod = v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["metadata"]["name"] == "cfg-prod")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        prod["spec"]["destination"]["namespace"], "files-prod",
        "{prod:#}"
    );
    let _ = std::fs::remove_dir_all(&repo);
}

/// Against another API (`sluice serve --no-apiserver --kubeconfig`, as against a real
/// cluster) Sluice has no API port of its own: the `--listeners-listen` port serves Argo
/// CD's push webhook beside the EventListeners, and a push refreshes the Application at
/// once (docs operator-manual/webhook.md), not at the next poll (180 s here).
#[test]
fn push_webhook_refreshes_under_no_apiserver() {
    if !tools_available() {
        eprintln!("skipped: kubectl, git, curl or openssl not installed");
        return;
    }
    let repo = git_repo("gitops-noapi-repo");
    let first = commit(&repo, &[("app/cm.yaml", &cm("greeting", "hello"))], "one");
    let api = Serve::start_cmd("apiserver", "gitops-noapi", &[]);
    let data = temp_dir("gitops-noapi-ctl");
    let port = crate::serve_triggers::free_port();
    let mut ctl = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["serve", "--no-apiserver", "--kubeconfig"])
        .arg(api.dir.join("kubeconfig"))
        .arg("--data")
        .arg(&data)
        .args(["--listeners-listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("sluice serve starts");
    api.ok(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: Namespace\nmetadata: {name: argocd}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-cm, namespace: argocd}\ndata:\n  timeout.reconciliation: 180s\n"),
    );
    api.ok(
        &["apply", "-f", "-"],
        Some(&app("far", &repo, "HEAD", "app")),
    );
    let get = ["get", "applications.argoproj.io", "far", "-n", "argocd"];
    api.wait_for(&get, "far Synced at HEAD", |v| {
        v["status"]["sync"]["status"] == "Synced" && revision(v) == first
    });
    let second = commit(&repo, &[("app/cm.yaml", &cm("greeting", "bonjour"))], "two");
    let body = serde_json::json!({
        "ref": "refs/heads/main",
        "before": first,
        "after": second,
        "repository": {"html_url": format!("file://{}", repo.display()), "default_branch": "main"},
        "commits": [{"modified": ["app/cm.yaml"]}],
    })
    .to_string();
    let (code, _) = post(
        &format!("http://127.0.0.1:{port}/api/webhook"),
        &[
            ("X-GitHub-Event", "push"),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    );
    assert_eq!(code, 200, "the webhook is served on the listeners' port");
    let t0 = Instant::now();
    api.wait_for(&get, "far at the pushed commit", |v| {
        revision(v) == second && v["status"]["sync"]["status"] == "Synced"
    });
    assert!(
        t0.elapsed() < Duration::from_secs(30),
        "refreshed by the push"
    );
    let c = api.wait_for(
        &["get", "configmap", "greeting", "-n", "far"],
        "the new data",
        |v| v["data"]["greeting"] == "bonjour",
    );
    assert_eq!(c["data"]["greeting"], "bonjour");
    let _ = ctl.kill();
    let _ = ctl.wait();
    let _ = std::fs::remove_dir_all(&data);
}
