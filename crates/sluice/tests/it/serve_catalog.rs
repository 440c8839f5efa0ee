//! What a TaskRun of `sluice serve` reads of its namespace (ConfigMaps, Secrets,
//! ServiceAccounts) is what is there when it starts, as a kubelet reads a Pod's volumes when
//! the Pod starts (kubernetes.io/docs/concepts/configuration/configmap: "mounted ConfigMaps
//! are updated automatically"; a Pod starting sees the current data): a TaskRun of a running
//! PipelineRun borrows the catalog its PipelineRun read only while the watches saw no change
//! in the namespace (crates/sluice-kube/src/snapshots.rs).

use crate::apiserver_kubectl::kubectl_available;
use crate::serve_triggers::Serve;

const RUN: &str = r#"
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: fresh
  namespace: ci
spec:
  workspaces:
  - {name: cfg, configMap: {name: settings}}
  - {name: later, configMap: {name: later}}
  pipelineSpec:
    workspaces: [{name: cfg}, {name: later}]
    results:
    - {name: seen, value: $(tasks.read.results.seen)}
    tasks:
    - name: wait
      workspaces: [{name: cfg}]
      taskSpec:
        workspaces: [{name: cfg}]
        steps:
        - {name: wait, image: alpine, script: "cat $(workspaces.cfg.path)/greeting; sleep 3"}
    - name: read
      runAfter: [wait]
      workspaces: [{name: cfg}, {name: later}]
      taskSpec:
        workspaces: [{name: cfg}, {name: later}]
        results: [{name: seen}]
        steps:
        - name: read
          image: alpine
          script: |
            printf '%s %s' "$(cat $(workspaces.cfg.path)/greeting)" "$(cat $(workspaces.later.path)/x)" > $(results.seen.path)
"#;

#[test]
fn a_taskrun_reads_configmaps_changed_and_created_while_its_pipelinerun_ran() {
    if !kubectl_available() {
        eprintln!("kubectl is not installed: skipped");
        return;
    }
    let s = Serve::start("catalog", &[]);
    s.ok(&["create", "namespace", "ci"], None);
    s.ok(
        &[
            "create",
            "configmap",
            "settings",
            "-n",
            "ci",
            "--from-literal=greeting=old",
        ],
        None,
    );
    s.ok(&["create", "-f", "-"], Some(RUN));
    // while the first task runs, one ConfigMap changes and the other appears
    s.wait_for(
        &["get", "taskrun", "fresh-wait", "-n", "ci"],
        "task wait running",
        |v| v["status"]["conditions"][0]["reason"] == "Running",
    );
    s.ok(
        &[
            "create",
            "configmap",
            "later",
            "-n",
            "ci",
            "--from-literal=x=made-later",
        ],
        None,
    );
    s.ok(&["apply", "-f", "-"], Some(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: ci}\ndata: {greeting: new}\n",
    ));
    let pr = s.wait_for(
        &["get", "pipelinerun", "fresh", "-n", "ci"],
        "the run's end",
        |v| v["status"]["completionTime"].is_string(),
    );
    let c = &pr["status"]["conditions"][0];
    assert_eq!(c["status"], "True", "{pr:#}");
    assert_eq!(
        pr["status"]["results"][0]["value"], "new made-later",
        "{pr:#}"
    );
}
