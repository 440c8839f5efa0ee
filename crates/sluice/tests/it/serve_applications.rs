//! Argo CD Applications in `sluice serve` end to end: kubectl applies an Application whose
//! source is a kustomize overlay in a local Git repository (`file:///...`); the controller
//! renders it, applies it (CreateNamespace=true, a PreSync hook in wave -1 first), tracks
//! the objects with `app.kubernetes.io/instance` (docs user-guide/resource_tracking.md),
//! and reports Synced/Healthy with history and operationState (docs
//! operator-manual/declarative-setup.md). A change to the source makes it OutOfSync and
//! automated sync applies it and prunes what was removed, except an object annotated
//! `argocd.argoproj.io/sync-options: Prune=false` (docs user-guide/sync-options.md). A
//! manual sync is requested through `operation` as `argocd app sync` writes it. Invalid
//! Applications get a condition with a clear message (project destinations, a path
//! leading out of the repository).

use std::path::Path;

use serde_json::Value;

use crate::apiserver_kubectl::{kubectl_available, temp_dir};
use crate::serve_gitops::{commit, git};
use crate::serve_triggers::Serve;

/// Writes `files` into the repository's work tree and commits them.
fn write(root: &Path, files: &[(&str, &str)]) {
    if !root.join(".git").exists() {
        git(root, &["init", "-q", "-b", "main"]);
    }
    commit(root, files, "change");
}

const BASE_KUST: &str = "resources:\n- cm.yaml\n- deploy.yaml\n";
const BASE_CM: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\ndata:\n  greeting: hello\n";
const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n";
const HOOK: &str = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    argocd.argoproj.io/hook: PreSync\n    argocd.argoproj.io/sync-wave: \"-1\"\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: migrate\n        image: alpine\n        command: [\"true\"]\n";
const EXTRA: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  a: \"1\"\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: keep\n  annotations:\n    argocd.argoproj.io/sync-options: Prune=false\ndata:\n  a: \"1\"\n";

fn app(name: &str, project: &str, repo: &Path, path: &str, ns: &str, automated: bool) -> String {
    let auto = if automated {
        "    automated: {prune: true, selfHeal: true}\n"
    } else {
        ""
    };
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: argocd\nspec:\n  project: {project}\n  source:\n    repoURL: file://{}\n    targetRevision: HEAD\n    path: {path}\n    kustomize:\n      commonLabels: {{team: payments}}\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: {ns}\n  syncPolicy:\n{auto}    syncOptions: [CreateNamespace=true]\n",
        repo.display()
    )
}

fn synced_healthy(v: &Value) -> bool {
    v["status"]["sync"]["status"] == "Synced" && v["status"]["health"]["status"] == "Healthy"
}

#[test]
fn applications_sync_prune_hooks_and_conditions() {
    if !kubectl_available() {
        eprintln!("skipped: kubectl not installed");
        return;
    }
    let repo = temp_dir("app-repo");
    write(
        &repo,
        &[
            ("base/kustomization.yaml", BASE_KUST),
            ("base/cm.yaml", BASE_CM),
            ("base/deploy.yaml", DEPLOY),
            (
                "overlays/dev/kustomization.yaml",
                "resources:\n- ../../base\n- hook.yaml\n- extra.yaml\nnamePrefix: dev-\n",
            ),
            ("overlays/dev/hook.yaml", HOOK),
            ("overlays/dev/extra.yaml", EXTRA),
        ],
    );
    let s = Serve::start("apps", &[]);
    s.ok(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: Namespace\nmetadata: {name: argocd}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-cm, namespace: argocd}\ndata:\n  timeout.reconciliation: 1s\n"),
    );
    s.ok(
        &["apply", "-f", "-"],
        Some(&app("demo", "default", &repo, "overlays/dev", "demo", true)),
    );
    let get = ["get", "applications.argoproj.io", "demo", "-n", "argocd"];
    let v = s.wait_for(&get, "demo Synced and Healthy", synced_healthy);
    let st = &v["status"];
    assert_eq!(st["operationState"]["phase"], "Succeeded", "{st:#}");
    assert_eq!(
        st["operationState"]["operation"]["initiatedBy"]["automated"],
        true
    );
    assert_eq!(st["history"].as_array().map(Vec::len), Some(1), "{st:#}");
    assert_eq!(st["sourceType"], "Kustomize");
    let rev = st["sync"]["revision"].as_str().unwrap_or("").to_string();
    assert!(!rev.is_empty());
    // the PreSync hook ran before the Sync wave and is in the sync result
    let results = st["operationState"]["syncResult"]["resources"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let hook = results
        .iter()
        .find(|r| r["kind"] == "Job")
        .expect("hook result");
    assert_eq!(hook["hookType"], "PreSync");
    assert_eq!(hook["hookPhase"], "Succeeded", "{hook:#}");
    assert_eq!(results[0]["kind"], "Job", "the hook is first: {results:#?}");
    // tracked objects, with the Application's kustomize overrides applied
    let d = s.json(&["get", "deployment", "dev-web", "-n", "demo"]);
    assert_eq!(
        d["metadata"]["labels"]["app.kubernetes.io/instance"],
        "demo"
    );
    assert_eq!(d["metadata"]["labels"]["team"], "payments");
    let names: Vec<String> = st["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            format!(
                "{}/{}",
                r["kind"].as_str().unwrap_or(""),
                r["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert!(
        names.contains(&"Deployment/dev-web".to_string()),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.starts_with("Job/")),
        "hooks are not resources: {names:?}"
    );

    // the source changes: OutOfSync, then automated sync applies it and prunes
    write(
        &repo,
        &[
            ("base/cm.yaml", &BASE_CM.replace("hello", "bonjour")),
            (
                "overlays/dev/kustomization.yaml",
                "resources:\n- ../../base\n- hook.yaml\nnamePrefix: dev-\n",
            ),
        ],
    );
    s.wait_for(
        &["get", "configmap", "dev-app-config", "-n", "demo"],
        "the new greeting applied",
        |v| v["data"]["greeting"] == "bonjour",
    );
    s.wait_for(
        &["get", "configmaps", "-n", "demo"],
        "dev-extra pruned",
        |v| {
            let names: Vec<&str> = v["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| i["metadata"]["name"].as_str())
                .collect();
            !names.contains(&"dev-extra") && names.contains(&"dev-keep")
        },
    );
    let v = s.wait_for(&get, "a second history entry", |v| {
        v["status"]["history"].as_array().map(Vec::len) >= Some(2)
    });
    assert_ne!(v["status"]["history"][1]["revision"], rev.as_str());
    // dev-keep is kept (Prune=false) and reported as requiring pruning
    let keep = v["status"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["name"] == "dev-keep")
        .cloned()
        .expect("dev-keep listed");
    assert_eq!(keep["requiresPruning"], true, "{keep:#}");

    // a manual sync through `operation`, as `argocd app sync` writes it
    s.ok(
        &["apply", "-f", "-"],
        Some(&app("manual", "default", &repo, "base", "manual", false)),
    );
    let mget = ["get", "applications.argoproj.io", "manual", "-n", "argocd"];
    s.wait_for(&mget, "manual OutOfSync", |v| {
        v["status"]["sync"]["status"] == "OutOfSync"
    });
    s.ok(
        &[
            "patch",
            "applications.argoproj.io",
            "manual",
            "-n",
            "argocd",
            "--type",
            "merge",
            "-p",
            r#"{"operation":{"sync":{"revision":"HEAD","prune":true},"initiatedBy":{"username":"tester"}}}"#,
        ],
        None,
    );
    let v = s.wait_for(&mget, "manual synced", synced_healthy);
    assert!(
        v.get("operation").is_none_or(Value::is_null),
        "operation consumed"
    );
    assert_eq!(
        v["status"]["operationState"]["operation"]["initiatedBy"]["username"],
        "tester"
    );

    // invalid Applications: a destination outside the project, a path leaving the repo
    s.ok(
        &["apply", "-f", "-"],
        Some("apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata: {name: restricted, namespace: argocd}\nspec:\n  sourceRepos: ['*']\n  destinations:\n  - {server: https://kubernetes.default.svc, namespace: only-this}\n"),
    );
    s.ok(
        &["apply", "-f", "-"],
        Some(&app("outside", "restricted", &repo, "base", "prod", true)),
    );
    let v = s.wait_for(
        &["get", "applications.argoproj.io", "outside", "-n", "argocd"],
        "a condition",
        |v| {
            v["status"]["conditions"]
                .as_array()
                .is_some_and(|c| !c.is_empty())
        },
    );
    let c = &v["status"]["conditions"][0];
    assert_eq!(c["type"], "InvalidSpecError", "{c:#}");
    assert!(
        c["message"]
            .as_str()
            .unwrap_or("")
            .contains("do not match any of the allowed destinations in project 'restricted'"),
        "{c:#}"
    );
    s.ok(
        &["apply", "-f", "-"],
        Some(&app("escape", "default", &repo, "../..", "x", true)),
    );
    let v = s.wait_for(
        &["get", "applications.argoproj.io", "escape", "-n", "argocd"],
        "a condition",
        |v| {
            v["status"]["conditions"]
                .as_array()
                .is_some_and(|c| !c.is_empty())
        },
    );
    let c = &v["status"]["conditions"][0];
    assert!(
        c["message"]
            .as_str()
            .unwrap_or("")
            .contains("leads outside the repository"),
        "{c:#}"
    );
    assert_eq!(
        s.kubectl(&["get", "namespace", "prod"], None).status.code(),
        Some(1),
        "nothing applied for an invalid Application"
    );
    let _ = std::fs::remove_dir_all(&repo);
}

/// A separately started `sluice apiserver` as a destination cluster: the server, its URL,
/// CA data (base64) and admin token.
fn remote_cluster(name: &str) -> (crate::apiserver_kubectl::Server, String, String, String) {
    let remote = crate::apiserver_kubectl::Server::start(name);
    let kc = std::fs::read_to_string(remote.dir().join("kubeconfig")).expect("kubeconfig");
    let field = |key: &str| {
        kc.lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .expect(key)
            .trim()
            .to_string()
    };
    let server = field("server:");
    let ca = field("certificate-authority-data:");
    let token = std::fs::read_to_string(remote.dir().join("token")).expect("token");
    (remote, server, ca, token.trim().to_string())
}

/// A cluster Secret whose config runs an exec credential plugin (Argo CD's
/// `execProviderConfig`: command, args, env, apiVersion; declarative-setup.md, "EKS" and
/// "GKE" examples, as Argo CD's RawRestConfig hands them to client-go): the command's
/// ExecCredential token is what the controller sends to the destination cluster.
#[test]
fn cluster_secrets_with_an_exec_provider_authenticate_with_its_token() {
    use base64::Engine as _;
    if !kubectl_available() {
        eprintln!("skipped: kubectl not installed");
        return;
    }
    let repo = temp_dir("app-exec-repo");
    write(
        &repo,
        &[
            ("app/kustomization.yaml", BASE_KUST),
            ("app/cm.yaml", BASE_CM),
            ("app/deploy.yaml", DEPLOY),
        ],
    );
    let (remote, server, ca, token) = remote_cluster("app-exec-remote");
    let plugin = repo.join("credential-plugin.sh");
    let called = repo.join("plugin-called");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\ntouch '{}'\ntest \"$1\" = issue || exit 3\nprintf '{{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"%s\"}}}}' \"$PLUGIN_TOKEN\"\n",
            called.display()
        ),
    )
    .expect("plugin");
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let config = serde_json::json!({
        "execProviderConfig": {
            "command": plugin.display().to_string(),
            "args": ["issue"],
            "env": {"PLUGIN_TOKEN": token},
            "apiVersion": "client.authentication.k8s.io/v1beta1",
        },
        "tlsClientConfig": {"caData": ca},
    });
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: exec-remote\n  namespace: argocd\n  labels: {{argocd.argoproj.io/secret-type: cluster}}\ndata:\n  name: {}\n  server: {}\n  config: {}\n",
        base64::engine::general_purpose::STANDARD.encode("exec-remote"),
        base64::engine::general_purpose::STANDARD.encode(&server),
        base64::engine::general_purpose::STANDARD.encode(config.to_string()),
    );
    let s = Serve::start("apps-exec", &[]);
    s.ok(
        &["apply", "-f", "-"],
        Some(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: argocd}}\n---\n{secret}"
        )),
    );
    let by_name = app("by-exec", "default", &repo, "app", "team", true).replace(
        "server: https://kubernetes.default.svc",
        "name: exec-remote",
    );
    s.ok(&["apply", "-f", "-"], Some(&by_name));
    s.wait_for(
        &["get", "applications.argoproj.io", "by-exec", "-n", "argocd"],
        "Synced and Healthy on the exec-authenticated cluster",
        synced_healthy,
    );
    assert!(called.exists(), "the credential plugin ran");
    let d = remote.json(&["get", "deployment", "web", "-n", "team"]);
    assert_eq!(
        d["metadata"]["labels"]["app.kubernetes.io/instance"],
        "by-exec"
    );
    let _ = std::fs::remove_dir_all(&repo);
}

/// An Application whose destination is another cluster, named by an Argo CD cluster
/// Secret (docs/operator-manual/declarative-setup.md, "Clusters": keys name, server,
/// config with bearerToken and tlsClientConfig.caData): the objects land on that cluster's
/// API, not the controller's; health and pruning are judged there. A destination no
/// Secret names is an InvalidSpecError with Argo CD's message.
#[test]
fn applications_deploy_to_clusters_of_cluster_secrets() {
    use base64::Engine as _;
    if !kubectl_available() {
        eprintln!("skipped: kubectl not installed");
        return;
    }
    let repo = temp_dir("app-remote-repo");
    write(
        &repo,
        &[
            ("app/kustomization.yaml", BASE_KUST),
            ("app/cm.yaml", BASE_CM),
            ("app/deploy.yaml", DEPLOY),
        ],
    );
    let (remote, server, ca, token) = remote_cluster("app-remote");
    let config = serde_json::json!({"bearerToken": token, "tlsClientConfig": {"caData": ca}});
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: remote\n  namespace: argocd\n  labels: {{argocd.argoproj.io/secret-type: cluster}}\ndata:\n  name: {}\n  server: {}\n  config: {}\n",
        base64::engine::general_purpose::STANDARD.encode("remote"),
        base64::engine::general_purpose::STANDARD.encode(&server),
        base64::engine::general_purpose::STANDARD.encode(config.to_string()),
    );
    let s = Serve::start("apps-remote", &[]);
    s.ok(
        &["apply", "-f", "-"],
        Some(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: argocd}}\n---\n{secret}"
        )),
    );
    let by_server = app("by-server", "default", &repo, "app", "team", true)
        .replace("https://kubernetes.default.svc", &server);
    let by_name = app("by-name", "default", &repo, "app", "team2", true)
        .replace("server: https://kubernetes.default.svc", "name: remote");
    let unknown = app("unknown", "default", &repo, "app", "team3", true).replace(
        "https://kubernetes.default.svc",
        "https://nowhere.example:6443",
    );
    s.ok(
        &["apply", "-f", "-"],
        Some(&format!("{by_server}---\n{by_name}---\n{unknown}")),
    );
    for name in ["by-server", "by-name"] {
        s.wait_for(
            &["get", "applications.argoproj.io", name, "-n", "argocd"],
            "Synced and Healthy on the remote cluster",
            synced_healthy,
        );
    }
    // on the remote cluster, not on the controller's
    let d = remote.json(&["get", "deployment", "web", "-n", "team"]);
    assert_eq!(
        d["metadata"]["labels"]["app.kubernetes.io/instance"],
        "by-server"
    );
    remote.json(&["get", "configmap", "app-config", "-n", "team2"]);
    assert!(
        !s.kubectl(&["get", "deployment", "web", "-n", "team"], None)
            .status
            .success()
    );
    let v = s.wait_for(
        &["get", "applications.argoproj.io", "unknown", "-n", "argocd"],
        "an InvalidSpecError",
        |v| v["status"]["conditions"][0]["type"] == "InvalidSpecError",
    );
    assert_eq!(
        v["status"]["conditions"][0]["message"],
        "unable to find destination server: there are no clusters with this URL: https://nowhere.example:6443"
    );
}

/// `syncPolicy.retry` (docs user-guide/auto_sync.md "Automatic Retry", controller
/// appcontroller.go): a sync that fails (a Service the API server refuses) is retried with
/// backoff until the limit, the operation Running in between with `retryCount` and
/// "Retrying attempt #n"; then Failed "(retried 2 times)."; a fixed source syncs.
#[test]
fn failed_syncs_are_retried_with_backoff() {
    if !kubectl_available() {
        eprintln!("skipped: kubectl not installed");
        return;
    }
    let repo = temp_dir("retry-repo");
    let bad =
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 99999\n";
    write(&repo, &[("svc.yaml", bad)]);
    let s = Serve::start("apps-retry", &[]);
    s.ok(
        &["apply", "-f", "-"],
        Some(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: argocd}}\n---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: flaky\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: file://{}\n    targetRevision: HEAD\n    path: .\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: flaky\n  syncPolicy:\n    automated: {{}}\n    syncOptions: [CreateNamespace=true]\n    retry:\n      limit: 2\n      backoff: {{duration: 1s, factor: 1, maxDuration: 1s}}\n",
            repo.display()
        )),
    );
    let get = ["get", "applications.argoproj.io", "flaky", "-n", "argocd"];
    // a retry waits 1 s: a loaded machine's poll may see the second one first, never none
    let v = s.wait_for(&get, "a retry to be pending", |v| {
        let op = &v["status"]["operationState"];
        op["phase"] == "Running" && op["retryCount"].as_u64().is_some_and(|n| n >= 1)
            || op["phase"] == "Failed"
    });
    let op = &v["status"]["operationState"];
    if op["phase"] == "Running" {
        let n = op["retryCount"].as_u64().unwrap_or_default();
        assert!(
            op["message"]
                .as_str()
                .is_some_and(|m| m.contains(&format!(". Retrying attempt #{n} at "))),
            "{op:#}"
        );
        assert_eq!(v["operation"]["retry"]["limit"], 2, "{v:#}");
    }
    let v = s.wait_for(&get, "the retries to run out", |v| {
        v["status"]["operationState"]["phase"] == "Failed"
    });
    let op = &v["status"]["operationState"];
    assert_eq!(op["retryCount"], 2, "{op:#}");
    assert!(
        op["message"]
            .as_str()
            .is_some_and(|m| m.ends_with(" (retried 2 times).")),
        "{op:#}"
    );
    assert!(v.get("operation").is_none_or(Value::is_null), "{v:#}");
    // the source is fixed: the new revision syncs
    write(&repo, &[("svc.yaml", &bad.replace("99999", "80"))]);
    s.ok(
        &[
            "annotate",
            "applications.argoproj.io",
            "flaky",
            "-n",
            "argocd",
            "argocd.argoproj.io/refresh=normal",
            "--overwrite",
        ],
        None,
    );
    s.wait_for(&get, "the fixed revision to sync", |v| {
        v["status"]["operationState"]["phase"] == "Succeeded"
            && v["status"]["sync"]["status"] == "Synced"
    });
}

/// AppProject sync windows (docs user-guide/sync_windows.md; types.go `CanSync`,
/// controller sync.go `syncWindowPreventsSync`): an active deny window keeps the automated
/// sync from running and holds a manual operation Running with "Sync operation blocked by
/// sync window"; once the window is gone the operation runs.
#[test]
fn sync_windows_hold_syncs() {
    if !kubectl_available() {
        eprintln!("skipped: kubectl not installed");
        return;
    }
    let repo = temp_dir("window-repo");
    write(
        &repo,
        &[
            ("kustomization.yaml", "resources:\n- cm.yaml\n"),
            ("cm.yaml", BASE_CM),
        ],
    );
    let s = Serve::start("apps-window", &[]);
    s.ok(
        &["apply", "-f", "-"],
        Some(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: argocd}}\n---\napiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata: {{name: frozen, namespace: argocd}}\nspec:\n  sourceRepos: ['*']\n  destinations: [{{server: '*', namespace: '*'}}]\n  syncWindows:\n  - kind: deny\n    schedule: '* * * * *'\n    duration: 1h\n    applications: ['*']\n---\n{}",
            app("held", "frozen", &repo, ".", "held", true)
        )),
    );
    let get = ["get", "applications.argoproj.io", "held", "-n", "argocd"];
    s.wait_for(&get, "the comparison", |v| {
        v["status"]["sync"]["status"] == "OutOfSync"
    });
    std::thread::sleep(std::time::Duration::from_secs(3));
    let v = s.json(&get);
    assert!(
        v["status"].get("operationState").is_none_or(Value::is_null),
        "the automated sync must wait: {v:#}"
    );
    // a manual sync is held, Running
    s.ok(
        &[
            "patch",
            "applications.argoproj.io",
            "held",
            "-n",
            "argocd",
            "--type",
            "merge",
            "-p",
            r#"{"operation":{"sync":{"prune":false},"initiatedBy":{"username":"admin"}}}"#,
        ],
        None,
    );
    let v = s.wait_for(&get, "the manual sync to be held", |v| {
        v["status"]["operationState"]["phase"] == "Running"
    });
    assert_eq!(
        v["status"]["operationState"]["message"], "Sync operation blocked by sync window",
        "{v:#}"
    );
    // the window goes: the operation runs
    s.ok(
        &[
            "patch",
            "appprojects.argoproj.io",
            "frozen",
            "-n",
            "argocd",
            "--type",
            "json",
            "-p",
            r#"[{"op":"remove","path":"/spec/syncWindows"}]"#,
        ],
        None,
    );
    s.wait_for(&get, "the sync after the window", |v| {
        v["status"]["operationState"]["phase"] == "Succeeded"
            && v["status"]["sync"]["status"] == "Synced"
    });
}

/// Many Applications reconciled at once, each render reading repository credentials
/// through the in-process API (re-read after 3 s): the API keeps answering and every app
/// syncs, then all follow a new commit on a hard refresh. Renders used to run on the
/// runtime's workers and wait, under a lock, for API reads those same workers serve: with
/// 10,000 apps (bench/applications.py, release build) the server stopped answering. This
/// test did not hit that interleaving on the old code (80 or 300 apps); the benchmark did.
#[test]
fn many_applications_at_once_never_starve_the_api() {
    const N: usize = 80;
    if !kubectl_available() {
        eprintln!("skipped: kubectl not installed");
        return;
    }
    let repo = temp_dir("many-apps-repo");
    let files: Vec<(String, String)> = (0..N)
        .map(|i| {
            (
                format!("a{i}/cm.yaml"),
                format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  i: \"{i}\"\n"),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    write(&repo, &refs);
    let s = Serve::start("apps-many", &[]);
    s.ok(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: Namespace\nmetadata: {name: argocd}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: many}\n"),
    );
    let apps: Vec<String> = (0..N)
        .map(|i| {
            format!(
                "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: m{i}\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: file://{}\n    targetRevision: HEAD\n    path: a{i}\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: many\n  syncPolicy:\n    automated: {{prune: true}}\n",
                repo.display()
            )
        })
        .collect();
    s.ok(&["apply", "-f", "-"], Some(&apps.join("---\n")));
    let first = git(&repo, &["rev-parse", "HEAD"]);
    wait_all_synced(&s, N, &first);
    // the credentials read expires (3 s); then every app refreshes at once on a new commit
    std::thread::sleep(std::time::Duration::from_millis(3500));
    let files: Vec<(String, String)> = files
        .into_iter()
        .map(|(p, t)| (p, t.replace("i: ", "j: ")))
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    write(&repo, &refs);
    let second = git(&repo, &["rev-parse", "HEAD"]);
    s.ok(
        &[
            "annotate",
            "applications.argoproj.io",
            "--all",
            "-n",
            "argocd",
            "argocd.argoproj.io/refresh=hard",
        ],
        None,
    );
    wait_all_synced(&s, N, &second);
    let cms = s.json(&["get", "configmaps", "-n", "many"]);
    let updated = cms["items"]
        .as_array()
        .map(|a| a.iter().filter(|c| c["data"].get("j").is_some()).count())
        .unwrap_or(0);
    assert_eq!(updated, N);
    let _ = std::fs::remove_dir_all(&repo);
}

/// Polls until `n` Applications of `argocd` are Synced at `revision`; every poll must be
/// answered within 10 s.
fn wait_all_synced(s: &Serve, n: usize, revision: &str) {
    let t0 = std::time::Instant::now();
    loop {
        let o = s.kubectl(
            &[
                "get",
                "applications.argoproj.io",
                "-n",
                "argocd",
                "-o",
                "json",
                "--request-timeout=10s",
            ],
            None,
        );
        assert!(
            o.status.success(),
            "the API stopped answering: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let v: Value = serde_json::from_slice(&o.stdout).expect("json");
        let synced = v["items"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|a| {
                        a["status"]["sync"]["status"] == "Synced"
                            && a["status"]["sync"]["revision"] == revision
                    })
                    .count()
            })
            .unwrap_or(0);
        if synced == n {
            return;
        }
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(180),
            "{synced}/{n} Applications synced at {revision}"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}
