//! Argo CD Applications whose source is a chart of a Helm chart repository (`repoURL` +
//! `chart` + `targetRevision`, docs user-guide/helm.md "Helm chart repositories"; the
//! version picked as Helm's `repo.IndexFile.Get`: an exact version, else the highest
//! satisfying the constraint), rendered natively with the source's `helm` overrides:
//!
//! - an HTTP repository (`index.yaml` + archives, served by `python3 -m http.server` on
//!   loopback), the archive's `digest` checked;
//! - an OCI repository: `sluice serve`'s own registry (HTTPS on loopback), the chart
//!   pushed with `sluice helm push`, credentials from an Argo CD repository Secret
//!   (`type: helm`, `enableOCI`, `username`/`password`), the registry's CA from
//!   `argocd-tls-certs-cm` (docs operator-manual/declarative-setup.md "Repositories using
//!   self-signed TLS certificates").

use std::process::{Child, Command};

use serde_json::Value;

use crate::apiserver_kubectl::{kubectl_available, temp_dir};
use crate::registry_e2e::{certs_dir, host, ok, run, sha256, sluice_cmd, token, write_chart};
use crate::serve_triggers::Serve;

struct HttpServer(Child);

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn synced(v: &Value) -> bool {
    v["status"]["sync"]["status"] == "Synced"
}

fn app(repo_url: &str, chart: &str, rev: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: {repo_url}\n    chart: {chart}\n    targetRevision: {rev:?}\n    helm:\n      releaseName: rel\n      parameters:\n      - name: replicas\n        value: \"5\"\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: charts\n  syncPolicy:\n    automated: {{prune: true}}\n    syncOptions: [CreateNamespace=true]\n"
    )
}

const ARGOCD: &str = "apiVersion: v1\nkind: Namespace\nmetadata: {name: argocd}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-cm, namespace: argocd}\ndata:\n  timeout.reconciliation: 1s\n";

#[test]
fn helm_http_repository_charts_sync() {
    if !kubectl_available() {
        eprintln!("skipped: kubectl not installed");
        return;
    }
    let s = Serve::start("helmrepo-http", &[]);
    // a chart repository: two versions, an index with relative URLs and digests
    let repo = temp_dir("helmrepo-http-files");
    let mut entries = String::new();
    for v in ["0.1.0", "0.1.5", "0.2.0"] {
        let src = s.dir.join(format!("chart-{v}"));
        write_chart(&src, v);
        std::fs::write(src.join("values-prod.yaml"), "replicas: 7\n").expect("values file");
        ok(
            run(sluice_cmd(&s)
                .args(["helm", "package"])
                .arg(&src)
                .arg("-d")
                .arg(repo.join("pkgs"))),
            "sluice helm package",
        );
        let tgz = std::fs::read(repo.join(format!("pkgs/demo-{v}.tgz"))).expect("tgz");
        entries.push_str(&format!(
            "  - apiVersion: v2\n    name: demo\n    version: {v}\n    urls: [pkgs/demo-{v}.tgz]\n    digest: {}\n",
            sha256(&tgz)
        ));
    }
    std::fs::write(
        repo.join("index.yaml"),
        format!("apiVersion: v1\nentries:\n  demo:\n{entries}"),
    )
    .expect("index");
    let port = free_port();
    let _http = HttpServer(
        Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .current_dir(&repo)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 -m http.server"),
    );
    s.ok(&["apply", "-f", "-"], Some(ARGOCD));
    let url = format!("http://127.0.0.1:{port}");
    s.ok(&["apply", "-f", "-"], Some(&app(&url, "demo", "0.1.*")));
    let get = ["get", "applications.argoproj.io", "web", "-n", "argocd"];
    let v = s.wait_for(&get, "web Synced", synced);
    // 0.1.* picks the highest 0.1 version
    assert_eq!(
        v["status"]["sync"]["revision"], "0.1.5",
        "{:#}",
        v["status"]
    );
    let cm = s.json(&["get", "configmap", "rel", "-n", "charts"]);
    assert_eq!(cm["data"]["replicas"], "5", "{cm:#}");
    assert_eq!(
        cm["metadata"]["labels"]["app.kubernetes.io/instance"], "web",
        "{cm:#}"
    );
    // helm.valueFiles name files of the chart
    let with_file = app(&url, "demo", "0.1.0").replace(
        "      parameters:\n      - name: replicas\n        value: \"5\"\n",
        "      valueFiles: [values-prod.yaml]\n",
    );
    s.ok(&["apply", "-f", "-"], Some(&with_file));
    s.wait_for(&get, "web at 0.1.0", |v| {
        synced(v) && v["status"]["sync"]["revision"] == "0.1.0"
    });
    let cm = s.json(&["get", "configmap", "rel", "-n", "charts"]);
    assert_eq!(cm["data"]["replicas"], "7", "{cm:#}");
    // a version that is not in the index: a ComparisonError naming it
    s.ok(&["apply", "-f", "-"], Some(&app(&url, "demo", "9.9.9")));
    let v = s.wait_for(&get, "a ComparisonError", |v| {
        v["status"]["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["type"] == "ComparisonError"))
    });
    let msg = v["status"]["conditions"].to_string();
    assert!(msg.contains("9.9.9"), "{msg}");
    // a tampered archive: its digest no longer matches the index
    std::fs::write(repo.join("pkgs/demo-0.2.0.tgz"), b"not the chart").expect("tamper");
    s.ok(
        &["apply", "-f", "-"],
        Some(&app(&url, "demo", ">=0.2.0 <1")),
    );
    let v = s.wait_for(&get, "a digest error", |v| {
        v["status"]["conditions"].to_string().contains("digest")
    });
    assert!(
        v["status"]["conditions"]
            .to_string()
            .contains("demo-0.2.0.tgz"),
        "{:#}",
        v["status"]
    );
}

#[test]
fn helm_oci_repository_charts_sync() {
    if !kubectl_available() {
        eprintln!("skipped: kubectl not installed");
        return;
    }
    let s = Serve::start("helmrepo-oci", &[]);
    let host = host(&s);
    for v in ["1.0.0", "1.1.0"] {
        let src = s.dir.join(format!("chart-{v}"));
        write_chart(&src, v);
        let dist = s.dir.join("dist");
        ok(
            run(sluice_cmd(&s)
                .args(["helm", "package"])
                .arg(&src)
                .arg("-d")
                .arg(&dist)),
            "sluice helm package",
        );
        ok(
            run(sluice_cmd(&s)
                .args(["helm", "push"])
                .arg(dist.join(format!("demo-{v}.tgz")))
                .arg(format!("oci://{host}/charts"))),
            "sluice helm push",
        );
    }
    s.ok(&["apply", "-f", "-"], Some(ARGOCD));
    // the registry's CA for its host, as Argo CD takes it (argocd-tls-certs-cm, keyed by
    // host name)
    let pem = std::fs::read_to_string(certs_dir(&s).join("ca.crt")).expect("ca.crt");
    let cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "argocd-tls-certs-cm", "namespace": "argocd"},
        "data": {"127.0.0.1": pem}});
    s.ok(&["apply", "-f", "-"], Some(&cm.to_string()));
    // Argo CD's repository Secret for an OCI Helm repository (no scheme, enableOCI)
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: charts\n  namespace: argocd\n  labels:\n    argocd.argoproj.io/secret-type: repository\nstringData:\n  type: helm\n  name: charts\n  url: {host}/charts\n  enableOCI: \"true\"\n  username: admin\n  password: {}\n",
        token(&s)
    );
    s.ok(&["apply", "-f", "-"], Some(&secret));
    s.ok(
        &["apply", "-f", "-"],
        Some(&app(&format!("{host}/charts"), "demo", "1.*")),
    );
    let get = ["get", "applications.argoproj.io", "web", "-n", "argocd"];
    let v = s.wait_for(&get, "web Synced", synced);
    assert_eq!(
        v["status"]["sync"]["revision"], "1.1.0",
        "{:#}",
        v["status"]
    );
    let cm = s.json(&["get", "configmap", "rel", "-n", "charts"]);
    assert_eq!(cm["data"]["replicas"], "5", "{cm:#}");
    // oci:// with an exact version
    s.ok(
        &["apply", "-f", "-"],
        Some(&app(&format!("oci://{host}/charts"), "demo", "1.0.0")),
    );
    s.wait_for(&get, "web at 1.0.0", |v| {
        synced(v) && v["status"]["sync"]["revision"] == "1.0.0"
    });
}
