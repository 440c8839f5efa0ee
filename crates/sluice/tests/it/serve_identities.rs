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
