//! The controllers of `sluice serve` act as their own ServiceAccounts
//! (`system:serviceaccount:sluice-system:NAME`, ClusterRole `sluice:controller:NAME`), not
//! as the server: Kubernetes RBAC authorizes each of their requests, and the audit log
//! names them (issue 16 item 2; kube-controller-manager's `--use-service-account-credentials`
//! gives each of its controllers a ServiceAccount bound to a `system:controller:*` role).

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::apiserver_kubectl::temp_dir;
use crate::serve_kubectl::{Proc, need_kubectl};

const POLICY: &str = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n";

#[test]
fn controllers_act_as_their_service_accounts() {
    if !need_kubectl() {
        return;
    }
    let dir = temp_dir("identities");
    let policy = dir.with_extension("policy.yaml");
    std::fs::write(&policy, POLICY).expect("policy");
    let log = dir.with_extension("audit.log");
    let s = Proc::start_with(
        "serve",
        dir,
        0,
        &[
            "--audit-policy-file",
            &policy.to_string_lossy(),
            "--audit-log-path",
            &log.to_string_lossy(),
        ],
    );
    s.ok(
        &["apply", "-f", "-"],
        Some(
            "apiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata:\n  name: id\nspec:\n  pipelineSpec:\n    tasks:\n      - name: t\n        taskSpec:\n          steps:\n            - name: s\n              image: alpine\n              script: echo hi\n",
        ),
    );
    let t0 = Instant::now();
    loop {
        let st = s.ok(
            &[
                "get",
                "pipelinerun",
                "id",
                "-o",
                "jsonpath={.status.conditions[0].status}",
            ],
            None,
        );
        if st == "True" {
            break;
        }
        assert!(st != "False", "the run failed");
        assert!(t0.elapsed() < Duration::from_secs(60), "run not done");
        std::thread::sleep(Duration::from_millis(200));
    }
    // the run's status and its TaskRun were written by the pipelines controller's account
    let events = || -> Vec<Value> {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    let pipelines = "system:serviceaccount:sluice-system:pipelines";
    let t0 = Instant::now();
    loop {
        let ev = events();
        let by = |user: &str, resource: &str, verbs: &[&str]| {
            ev.iter().any(|e| {
                e["user"]["username"] == user
                    && e["objectRef"]["resource"] == resource
                    && verbs.iter().any(|v| e["verb"] == *v)
            })
        };
        if by(pipelines, "taskruns", &["create"])
            && by(pipelines, "pipelineruns", &["update", "patch"])
        {
            // nothing of the run was written as the server itself
            assert!(
                !ev.iter()
                    .any(|e| e["user"]["username"] == "system:apiserver"
                        && e["objectRef"]["resource"] == "taskruns"),
                "a TaskRun was written as system:apiserver"
            );
            let e = ev
                .iter()
                .find(|e| e["user"]["username"] == pipelines)
                .expect("an event of the controller");
            assert_eq!(
                e["user"]["groups"],
                serde_json::json!([
                    "system:serviceaccounts",
                    "system:serviceaccounts:sluice-system",
                    "system:authenticated"
                ])
            );
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no TaskRun create and PipelineRun write by {pipelines} in the audit log: {:?}",
            events()
                .iter()
                .map(|e| (
                    e["user"]["username"].clone(),
                    e["verb"].clone(),
                    e["objectRef"]["resource"].clone()
                ))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // what each account may do is what `kubectl auth can-i` answers
    let can = |who: &str, args: &[&str]| {
        let user = format!("system:serviceaccount:sluice-system:{who}");
        let mut a = vec!["auth", "can-i"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["--as", &user]);
        let o = s.kubectl(&a, None);
        String::from_utf8_lossy(&o.stdout).trim() == "yes"
    };
    assert!(can(
        "pipelines",
        &["create", "taskruns.tekton.dev", "-n", "ci"]
    ));
    assert!(can("pipelines", &["get", "secrets", "-n", "ci"]));
    assert!(!can("pipelines", &["create", "secrets", "-n", "ci"]));
    assert!(!can(
        "pipelines",
        &["delete", "applications.argoproj.io", "-n", "argocd"]
    ));
    assert!(can("gitops", &["delete", "deployments.apps", "-n", "prod"]));
    assert!(can(
        "rollouts",
        &["patch", "replicasets.apps", "-n", "prod"]
    ));
    assert!(!can(
        "rollouts",
        &["get", "pipelineruns.tekton.dev", "-n", "ci"]
    ));
    assert!(can(
        "notifications",
        &["patch", "applications.argoproj.io", "-n", "argocd"]
    ));
    assert!(!can("notifications", &["create", "pods", "-n", "argocd"]));
    assert!(!can(
        "triggers",
        &["delete", "pipelineruns.tekton.dev", "-n", "ci"]
    ));
}

/// Issue 16 item 7: the audit log records who synced which app. A user of the token file
/// (bound to `edit`) asks for a sync the way `argocd app sync` and `sluice app sync` do (an
/// `operation` written on the Application); the log names that user, the app and the
/// operation, and the deploying writes that follow name the gitops controller's account.
#[test]
fn the_audit_log_records_who_synced_which_app() {
    if !need_kubectl() {
        return;
    }
    let repo = crate::serve_gitops::git_repo("audit-sync-repo");
    crate::serve_gitops::commit(
        &repo,
        &[(
            "app/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\ndata:\n  hello: world\n",
        )],
        "one ConfigMap",
    );
    let dir = temp_dir("audit-sync");
    let policy = dir.with_extension("policy.yaml");
    std::fs::write(
        &policy,
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Request\n  resources:\n  - group: argoproj.io\n    resources: [applications]\n- level: Metadata\n",
    )
    .expect("policy");
    let tokens = dir.with_extension("tokens.csv");
    std::fs::write(&tokens, "jane-token,jane,1001,\"developers\"\n").expect("tokens");
    let log = dir.with_extension("audit.log");
    let s = Proc::start_with(
        "serve",
        dir,
        0,
        &[
            "--token-auth-file",
            &tokens.to_string_lossy(),
            "--audit-policy-file",
            &policy.to_string_lossy(),
            "--audit-log-path",
            &log.to_string_lossy(),
        ],
    );
    s.ok(&["create", "namespace", "argocd"], None);
    s.ok(&["create", "namespace", "shop"], None);
    s.ok(
        &[
            "create",
            "rolebinding",
            "jane-edit",
            "--clusterrole=edit",
            "--user=jane",
            "-n",
            "argocd",
        ],
        None,
    );
    let app = format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: shop\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: file://{}\n    targetRevision: HEAD\n    path: app\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: shop\n",
        repo.display()
    );
    s.ok(&["apply", "-f", "-"], Some(&app));
    // jane syncs it (no automated policy: nothing deploys until she does)
    let o = s.kubectl(
        &[
            "--token",
            "jane-token",
            "patch",
            "applications.argoproj.io",
            "shop",
            "-n",
            "argocd",
            "--type",
            "merge",
            "-p",
            r#"{"operation":{"initiatedBy":{"username":"jane"},"sync":{"revision":"HEAD"}}}"#,
        ],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let t0 = Instant::now();
    while s
        .kubectl(&["get", "configmap", "greeting", "-n", "shop"], None)
        .status
        .code()
        != Some(0)
    {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the sync did not deploy"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let t0 = Instant::now();
    loop {
        let ev: Vec<Value> = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let synced = ev.iter().find(|e| {
            e["user"]["username"] == "jane"
                && e["verb"] == "patch"
                && e["objectRef"]["resource"] == "applications"
                && e["objectRef"]["name"] == "shop"
                && e["stage"] == "ResponseComplete"
        });
        let deployed = ev.iter().any(|e| {
            e["user"]["username"] == "system:serviceaccount:sluice-system:gitops"
                && e["objectRef"]["resource"] == "configmaps"
                && e["objectRef"]["namespace"] == "shop"
                && e["objectRef"]["name"] == "greeting"
        });
        if let (Some(e), true) = (synced, deployed) {
            assert_eq!(e["objectRef"]["namespace"], "argocd");
            assert_eq!(e["responseStatus"]["code"], 200);
            assert_eq!(
                e["requestObject"]["operation"]["sync"]["revision"], "HEAD",
                "{e}"
            );
            assert_eq!(
                e["user"]["groups"],
                serde_json::json!(["developers", "system:authenticated"])
            );
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no audit event of jane's sync and the gitops account's deploy"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
