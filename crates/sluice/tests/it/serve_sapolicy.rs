//! Runs and EventListeners act as their ServiceAccounts (`sluice serve`, kubectl, curl).
//!
//! Upstream behaviour pinned here:
//! - tektoncd/pipeline docs/auth.md "Authentication at Run Time": a Secret annotated
//!   `tekton.dev/git-0` listed in the run's ServiceAccount's `secrets` becomes
//!   `~/.gitconfig` + `~/.git-credentials` in the steps (`pkg/credentials`);
//!   `spec.taskRunTemplate.serviceAccountName` names the ServiceAccount of a PipelineRun's
//!   TaskRuns (docs/pipelineruns.md).
//! - Sluice's rule on top (docs/security.md "Pipelines and ServiceAccounts"): the
//!   ServiceAccount must be allowed by RBAC to `get` the Secret, else the TaskRun fails with
//!   Tekton's `CreateContainerConfigError` and kube-apiserver's forbidden text naming the
//!   Secret and the ServiceAccount, and no Pod is created. The same holds for a
//!   `secretKeyRef` env and a `secret` workspace; the namespace's `default` ServiceAccount is
//!   exempt until a RoleBinding names it (Tekton's behaviour for runs that name none).
//! - tektoncd/triggers docs/eventlisteners.md "ServiceAccount" (and examples/rbac.yaml): the
//!   EventListener creates its TriggerTemplates' resources with its ServiceAccount's
//!   permissions (`create` on `pipelineruns` in `tekton.dev`); without them the sink's
//!   creation fails (`couldn't create resource with group version kind ...`, the API's 403)
//!   and nothing is created.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::apiserver_kubectl::kubectl_available;
use crate::serve_triggers::{Serve, post};

const SETUP: &str = r#"
apiVersion: v1
kind: Secret
metadata:
  name: git-creds
  namespace: sap
  annotations:
    tekton.dev/git-0: https://git.example.com
type: kubernetes.io/basic-auth
stringData:
  username: builder-user
  password: builder-pass
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: builder, namespace: sap}
secrets:
  - name: git-creds
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: intruder, namespace: sap}
secrets:
  - name: git-creds
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: listener, namespace: sap}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: read-git-creds, namespace: sap}
rules:
  - apiGroups: [""]
    resources: [secrets]
    resourceNames: [git-creds]
    verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: builder-reads-git-creds, namespace: sap}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: read-git-creds}
subjects:
  - {kind: ServiceAccount, name: builder, namespace: sap}
---
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: show-creds, namespace: sap}
spec:
  results:
    - {name: has-user, value: $(tasks.show.results.has-user)}
  tasks:
    - name: show
      taskSpec:
        results:
          - {name: has-user}
        steps:
          - name: show
            image: alpine
            script: |
              #!/bin/sh
              if grep -q '^https://builder-user:' "$HOME/.git-credentials" 2>/dev/null; then
                printf yes > $(results.has-user.path)
              else
                printf no > $(results.has-user.path)
              fi
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: el, namespace: sap}
spec:
  serviceAccountName: listener
  triggers:
    - name: push
      bindings:
        - {name: who, value: $(body.who)}
      template:
        spec:
          params:
            - name: who
          resourcetemplates:
            - apiVersion: tekton.dev/v1
              kind: PipelineRun
              metadata:
                generateName: pushed-$(tt.params.who)-
              spec:
                pipelineRef: {name: show-creds}
                taskRunTemplate: {serviceAccountName: builder}
"#;

const MORE: &str = r#"
apiVersion: v1
kind: Secret
metadata: {name: api-token, namespace: sap}
stringData: {token: t0ken-value}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: plain, namespace: sap}
"#;

/// A TaskRun as `sa` reading Secret api-token through `secretKeyRef` or a `secret`
/// workspace.
fn taskrun(name: &str, sa: &str, workspace: bool) -> String {
    let (env, ws, decl) = if workspace {
        (
            String::new(),
            "  workspaces:\n    - name: creds\n      secret: {secretName: api-token}\n",
            "    workspaces:\n      - name: creds\n",
        )
    } else {
        (
            "        env:\n          - name: TOKEN\n            valueFrom: {secretKeyRef: {name: api-token, key: token}}\n".to_owned(),
            "",
            "",
        )
    };
    let sa_line = if sa.is_empty() {
        String::new()
    } else {
        format!("  serviceAccountName: {sa}\n")
    };
    format!(
        "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata: {{name: {name}, namespace: sap}}\nspec:\n{sa_line}{ws}  taskSpec:\n{decl}    steps:\n      - name: s\n        image: alpine\n{env}        script: |\n          #!/bin/sh\n          true\n"
    )
}

const BIND_DEFAULT: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: default-reads-git-creds, namespace: sap}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: read-git-creds}
subjects:
  - {kind: ServiceAccount, name: default, namespace: sap}
"#;

const RUNS: &str = r#"
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {name: as-builder, namespace: sap}
spec:
  pipelineRef: {name: show-creds}
  taskRunTemplate: {serviceAccountName: builder}
---
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {name: as-intruder, namespace: sap}
spec:
  pipelineRef: {name: show-creds}
  taskRunTemplate: {serviceAccountName: intruder}
"#;

const LISTENER_RBAC: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: create-runs, namespace: sap}
rules:
  - apiGroups: [tekton.dev]
    resources: [pipelineruns]
    verbs: [create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: listener-creates-runs, namespace: sap}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: create-runs}
subjects:
  - {kind: ServiceAccount, name: listener, namespace: sap}
"#;

fn finished(v: &Value) -> bool {
    v["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Succeeded"))
        .is_some_and(|c| c["status"] != "Unknown")
}

fn condition(v: &Value) -> (String, String, String) {
    let c = v["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Succeeded"))
        .cloned()
        .unwrap_or(Value::Null);
    let s = |k: &str| c[k].as_str().unwrap_or("").to_owned();
    (s("status"), s("reason"), s("message"))
}

fn record(s: &Serve, event_id: &str) -> Value {
    let t0 = Instant::now();
    loop {
        let v = s.json(&[
            "get",
            "configmaps",
            "-n",
            "sap",
            "-l",
            "sluice.dev/event-record=true",
        ]);
        if let Some(r) = v["items"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["data"]["eventID"] == event_id))
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

fn listener_runs(s: &Serve) -> Vec<Value> {
    s.json(&[
        "get",
        "pipelineruns",
        "-n",
        "sap",
        "-l",
        "triggers.tekton.dev/eventlistener=el",
    ])["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn runs_and_listeners_act_as_their_service_accounts() {
    if !kubectl_available() {
        eprintln!("kubectl is not installed: skipped");
        return;
    }
    let s = Serve::start("sapolicy", &[]);
    s.ok(&["create", "namespace", "sap"], None);
    s.ok(&["apply", "-f", "-"], Some(SETUP));
    // kubectl agrees with the rule the controllers apply
    let can = |sa: &str| {
        s.kubectl(
            &[
                "auth",
                "can-i",
                "get",
                "secret/git-creds",
                "-n",
                "sap",
                "--as",
                &format!("system:serviceaccount:sap:{sa}"),
            ],
            None,
        )
        .status
        .success()
    };
    assert!(can("builder"));
    assert!(!can("intruder"));

    s.ok(&["apply", "-f", "-"], Some(RUNS));
    let ok = s.wait_for(
        &["get", "pipelinerun", "as-builder", "-n", "sap"],
        "as-builder to finish",
        finished,
    );
    assert_eq!(condition(&ok).0, "True", "{ok:#}");
    let results = ok["status"]["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        results
            .iter()
            .any(|r| r["name"] == "has-user" && r["value"] == "yes"),
        "the step saw the credentials: {results:?}"
    );

    let denied = s.wait_for(
        &["get", "pipelinerun", "as-intruder", "-n", "sap"],
        "as-intruder to finish",
        finished,
    );
    assert_eq!(condition(&denied).0, "False", "{denied:#}");
    let trs = s.json(&[
        "get",
        "taskruns",
        "-n",
        "sap",
        "-l",
        "tekton.dev/pipelineRun=as-intruder",
    ]);
    let tr = trs["items"][0].clone();
    let (status, reason, message) = condition(&tr);
    assert_eq!(status, "False");
    assert_eq!(reason, "CreateContainerConfigError");
    assert!(
        message.contains(
            r#"secrets "git-creds" is forbidden: User "system:serviceaccount:sap:intruder" cannot get resource "secrets" in API group "" in the namespace "sap""#
        ) && message.contains(r#"ServiceAccount "intruder""#),
        "{message}"
    );
    // nothing half-way: no Pod for the refused TaskRun
    let tr_name = tr["metadata"]["name"].as_str().unwrap_or("");
    assert!(
        tr["status"]["podName"].as_str().unwrap_or("").is_empty(),
        "{tr:#}"
    );
    let pods = s.json(&["get", "pods", "-n", "sap"]);
    assert!(
        !pods["items"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with(tr_name))),
        "{pods:#}"
    );
    // the PipelineRun fails as Tekton's does when a TaskRun fails
    assert_eq!(condition(&denied).1, "Failed", "{denied:#}");

    // secretKeyRef and secret workspaces are checked too; `default` is exempt until bound
    s.ok(&["apply", "-f", "-"], Some(MORE));
    let run = |name: &str, sa: &str, ws: bool| {
        s.ok(&["apply", "-f", "-"], Some(&taskrun(name, sa, ws)));
        let tr = s.wait_for(
            &["get", "taskrun", name, "-n", "sap"],
            &format!("{name} to finish"),
            finished,
        );
        condition(&tr)
    };
    let denied_api_token = |c: &(String, String, String), sa: &str| {
        c.0 == "False"
            && c.1 == "CreateContainerConfigError"
            && c.2.contains(&format!(
                r#"secrets "api-token" is forbidden: User "system:serviceaccount:sap:{sa}" cannot get resource "secrets""#
            ))
    };
    let c = run("env-plain", "plain", false);
    assert!(denied_api_token(&c, "plain"), "{c:?}");
    let c = run("ws-plain", "plain", true);
    assert!(denied_api_token(&c, "plain"), "{c:?}");
    let c = run("env-default", "", false);
    assert_eq!(
        c.0, "True",
        "default, named by no binding, keeps Tekton's behaviour: {c:?}"
    );
    s.ok(&["apply", "-f", "-"], Some(BIND_DEFAULT));
    let c = run("env-default-bound", "", false);
    assert!(denied_api_token(&c, "default"), "{c:?}");

    // the EventListener's ServiceAccount may not create PipelineRuns: refused, recorded
    let url = format!("{}/listeners/sap/el", s.plain);
    let payload = br#"{"who": "alice"}"#;
    let headers = [("Content-Type", "application/json")];
    let (code, body) = post(&url, &headers, payload);
    assert_eq!(code, 500, "{body:#}");
    let expected = r#"couldn't create resource with group version kind "tekton.dev/v1, Resource=pipelineruns": pipelineruns.tekton.dev is forbidden: User "system:serviceaccount:sap:listener" cannot create resource "pipelineruns" in API group "tekton.dev" in the namespace "sap""#;
    let err = body["errorMessage"].as_str().unwrap_or("");
    assert!(err.contains(expected), "{body:#}");
    let rec = record(&s, body["eventID"].as_str().unwrap_or(""));
    assert_eq!(rec["status"], 500, "{rec:#}");
    assert_eq!(rec["triggers"][0]["outcome"], "Failed", "{rec:#}");
    let why = rec["triggers"][0]["reason"].as_str().unwrap_or("");
    assert!(why.contains(expected), "{rec:#}");
    assert!(listener_runs(&s).is_empty());

    // bound: the same payload creates the run, which runs as builder
    s.ok(&["apply", "-f", "-"], Some(LISTENER_RBAC));
    let (code, body) = post(&url, &headers, payload);
    assert_eq!(code, 202, "{body:#}");
    let rec = record(&s, body["eventID"].as_str().unwrap_or(""));
    assert_eq!(rec["triggers"][0]["outcome"], "Created", "{rec:#}");
    let runs = listener_runs(&s);
    assert_eq!(runs.len(), 1, "{runs:#?}");
    let name = runs[0]["metadata"]["name"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(name.starts_with("pushed-alice-"), "{name}");
    let done = s.wait_for(
        &["get", "pipelinerun", &name, "-n", "sap"],
        "the triggered run to finish",
        finished,
    );
    assert_eq!(condition(&done).0, "True", "{done:#}");
}

/// Against another API (`sluice serve --no-apiserver --kubeconfig`, as against a cluster) the
/// controllers ask that API's SubjectAccessReview: the same decisions.
#[test]
fn runs_are_checked_through_the_clusters_subjectaccessreview() {
    if !kubectl_available() {
        eprintln!("kubectl is not installed: skipped");
        return;
    }
    let api = Serve::start_cmd("apiserver", "sapolicy-api", &[]);
    let data = crate::apiserver_kubectl::temp_dir("sapolicy-ctl");
    let mut ctl = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["serve", "--no-apiserver", "--kubeconfig"])
        .arg(api.dir.join("kubeconfig"))
        .arg("--data")
        .arg(&data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("sluice serve starts");
    api.ok(&["create", "namespace", "sap"], None);
    api.ok(&["apply", "-f", "-"], Some(SETUP));
    api.ok(&["apply", "-f", "-"], Some(RUNS));
    let ok = api.wait_for(
        &["get", "pipelinerun", "as-builder", "-n", "sap"],
        "as-builder to finish",
        finished,
    );
    let denied = api.wait_for(
        &["get", "pipelinerun", "as-intruder", "-n", "sap"],
        "as-intruder to finish",
        finished,
    );
    let trs = api.json(&[
        "get",
        "taskruns",
        "-n",
        "sap",
        "-l",
        "tekton.dev/pipelineRun=as-intruder",
    ]);
    let _ = ctl.kill();
    let _ = ctl.wait();
    let _ = std::fs::remove_dir_all(&data);
    assert_eq!(condition(&ok).0, "True", "{ok:#}");
    assert_eq!(condition(&denied).0, "False", "{denied:#}");
    let (_, reason, message) = condition(&trs["items"][0]);
    assert_eq!(reason, "CreateContainerConfigError");
    assert!(
        message.contains(
            r#"secrets "git-creds" is forbidden: User "system:serviceaccount:sap:intruder""#
        ),
        "{message}"
    );
}
