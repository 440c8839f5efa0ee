//! An Application whose repoURL is an https Git server, end to end: `git http-backend` behind
//! basic auth and TLS on 127.0.0.1 (the server of crates/sluice-git/tests/support, included,
//! not copied), a `repository` Secret with username and password, the server's self-signed
//! certificate in argocd-tls-certs-cm under its host name (argo-cd docs
//! operator-manual/argocd-repositories.yaml, operator-manual/declarative-setup.md:
//! argocd-tls-certs-cm holds "Custom TLS certificates for connecting Git repositories via
//! HTTPS"). The Application syncs at the commit `main` resolves to; a repository without
//! credentials is a ComparisonError naming its URL, never a password.

use serde_json::Value;

use crate::apiserver_kubectl::{kubectl_available, temp_dir};
use crate::serve_gitops::{commit, git};
use crate::serve_triggers::Serve;

#[path = "../../../sluice-git/tests/support/git_http.rs"]
mod git_http;

const PASSWORD: &str = "e2e-s3cret-pw";

fn indent(text: &str, by: &str) -> String {
    text.lines()
        .map(|l| format!("{by}{l}\n"))
        .collect::<String>()
}

fn app(name: &str, url: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: {url}\n    targetRevision: main\n    path: app\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: {name}\n  syncPolicy:\n    automated: {{prune: true}}\n    syncOptions: [CreateNamespace=true]\n"
    )
}

#[test]
fn application_syncs_from_an_https_repository_with_a_repository_secret() {
    if !kubectl_available() {
        eprintln!("skipped: kubectl not installed");
        return;
    }
    // ROOT/repo.git, bare, served over https
    let root = temp_dir("git-https-root");
    let work = root.join("work");
    std::fs::create_dir_all(&work).expect("mkdir");
    git(&work, &["init", "-q", "-b", "main"]);
    commit(
        &work,
        &[(
            "app/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-https\ndata:\n  greeting: hello\n",
        )],
        "one",
    );
    git(&root, &["clone", "-q", "--bare", "work", "repo.git"]);
    let main = git(&root.join("repo.git"), &["rev-parse", "main"]);
    let (pem, tls) = git_http::tls_server();
    let (port, _seen) = git_http::serve_git(&root, "argo", PASSWORD, Some(tls));
    let url = format!("https://localhost:{port}/repo.git");
    let other = format!("https://localhost:{port}/other.git");

    let s = Serve::start("git-https", &[]);
    let config = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: argocd}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: argocd-tls-certs-cm, namespace: argocd}}\ndata:\n  localhost: |\n{}---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: private-repo\n  namespace: argocd\n  labels: {{argocd.argoproj.io/secret-type: repository}}\nstringData:\n  url: {url}\n  username: argo\n  password: {PASSWORD}\n",
        indent(&pem, "    ")
    );
    s.ok(&["apply", "-f", "-"], Some(&config));
    s.ok(&["apply", "-f", "-"], Some(&app("web", &url)));
    s.ok(&["apply", "-f", "-"], Some(&app("nocreds", &other)));
    let v = s.wait_for(
        &["get", "applications.argoproj.io", "web", "-n", "argocd"],
        "web Synced from https",
        |v| {
            v["status"]["sync"]["status"] == "Synced"
                && v["status"]["sync"]["revision"] == main.as_str()
        },
    );
    assert_eq!(v["status"]["sync"]["revision"], main.as_str());
    let cm = s.json(&["get", "configmap", "from-https", "-n", "web"]);
    assert_eq!(cm["data"]["greeting"], "hello");

    // no credentials for other.git: a ComparisonError naming the URL, no password anywhere
    let v = s.wait_for(
        &["get", "applications.argoproj.io", "nocreds", "-n", "argocd"],
        "nocreds ComparisonError",
        |v| {
            v["status"]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "ComparisonError"))
        },
    );
    let msg: Vec<&str> = v["status"]["conditions"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c["message"].as_str()).collect())
        .unwrap_or_default();
    let msg = msg.join("\n");
    assert!(msg.contains(&other), "{msg}");
    assert!(msg.contains("none are configured"), "{msg}");
    let all: Value = s.json(&["get", "applications.argoproj.io", "-n", "argocd"]);
    assert!(!all.to_string().contains(PASSWORD));
}
