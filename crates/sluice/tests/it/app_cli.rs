//! `sluice app ...` (argocd habits) against a running `sluice serve`, with a local Git
//! repository. Pinned from argoproj/argo-cd cmd/argocd/commands/app.go: `app list` columns
//! (`printApplicationTable`), `app get`'s summary lines (`printAppSummaryTable`, "Sync
//! Status: Synced to HEAD (sha7)"), the resource table (`printAppResources`), `app history`
//! (`printApplicationHistoryTable`), `findRevisionHistory`'s errors, `waitOnApplicationStatus`'s
//! timeout message; and from server/application/application.go: a sync or rollback is the
//! Application's `operation`, a rollback is refused while auto-sync is on ("rollback cannot
//! be initiated when auto-sync is enabled"), so is a sync to another revision ("Cannot sync
//! to R: auto-sync currently set to T"); delete with cascade deletes the resources through
//! the resources finalizer.

use std::process::Output;

use serde_json::Value;

use crate::apiserver_kubectl::kubectl_available;
use crate::common::{sluice, stderr, stdout};
use crate::serve_gitops::{commit, git_repo};
use crate::serve_triggers::Serve;

fn app(s: &Serve, args: &[&str]) -> Output {
    let data = s.dir.display().to_string();
    let mut a: Vec<&str> = vec!["app"];
    a.extend_from_slice(args);
    a.extend(["--data", &data]);
    sluice(&a, None)
}

fn ok(s: &Serve, args: &[&str]) -> String {
    let o = app(s, args);
    assert!(
        o.status.success(),
        "sluice app {args:?}: exit {:?}\n{}\n{}",
        o.status.code(),
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

fn fails(s: &Serve, args: &[&str], code: i32, message: &str) {
    let o = app(s, args);
    assert_eq!(
        o.status.code(),
        Some(code),
        "sluice app {args:?}\n{}\n{}",
        stdout(&o),
        stderr(&o)
    );
    assert!(
        stderr(&o).contains(message),
        "sluice app {args:?}: {message:?} not in {}",
        stderr(&o)
    );
}

fn cm(greeting: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\ndata:\n  greeting: {greeting}\n"
    )
}

#[test]
fn app_commands_create_sync_history_rollback_wait_delete() {
    if !kubectl_available() {
        eprintln!("skipped: kubectl not installed");
        return;
    }
    let repo = git_repo("appcli-repo");
    let rev1 = commit(&repo, &[("base/cm.yaml", &cm("hello"))], "one");
    let url = format!("file://{}", repo.display());
    let s = Serve::start("appcli", &[]);
    s.ok(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: Namespace\nmetadata: {name: argocd}\n"),
    );

    let o = ok(
        &s,
        &[
            "create",
            "demo",
            "--repo",
            &url,
            "--path",
            "base",
            "--dest-server",
            "https://kubernetes.default.svc",
            "--dest-namespace",
            "demo",
            "--sync-option",
            "CreateNamespace=true",
        ],
    );
    assert_eq!(o, "application 'demo' created\n");
    // the same again is unchanged; a different spec needs --upsert
    let o = app(
        &s,
        &[
            "create",
            "demo",
            "--repo",
            &url,
            "--path",
            "other",
            "--dest-server",
            "https://kubernetes.default.svc",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("existing application spec is different, use upsert flag"));

    // list: argocd's columns, the controller's OutOfSync
    s.wait_for(
        &["get", "applications.argoproj.io", "demo", "-n", "argocd"],
        "demo compared",
        |v| v["status"]["sync"]["status"] == "OutOfSync",
    );
    let list = ok(&s, &["list"]);
    let mut lines = list.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "CLUSTER",
            "NAMESPACE",
            "PROJECT",
            "STATUS",
            "HEALTH",
            "SYNCPOLICY",
            "CONDITIONS"
        ]
    );
    let row: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    assert_eq!(
        row,
        [
            "demo",
            "https://kubernetes.default.svc",
            "demo",
            "default",
            "OutOfSync",
            "Missing",
            "Manual",
            "<none>"
        ],
        "{list}"
    );
    let wide = ok(&s, &["list", "-o", "wide"]);
    assert!(wide.contains(&format!("{url}  base  HEAD")), "{wide}");
    let json: Value = serde_json::from_str(&ok(&s, &["list", "-o", "json"])).expect("JSON");
    assert_eq!(json[0]["metadata"]["name"], "demo");
    assert_eq!(ok(&s, &["list", "-o", "name"]), "demo\n");

    // sync: the operation is written, the CLI waits for its result and prints it
    let o = ok(&s, &["sync", "demo", "--timeout", "60"]);
    assert!(
        o.contains(&format!(
            "Sync Status:        Synced to HEAD ({})\n",
            &rev1[..7]
        )),
        "{o}"
    );
    assert!(o.contains("Phase:              Succeeded\n"), "{o}");
    assert!(o.contains(&format!("Sync Revision:      {rev1}\n")), "{o}");
    assert!(
        o.contains("GROUP  KIND       NAMESPACE  NAME      STATUS  HEALTH  HOOK  MESSAGE"),
        "{o}"
    );
    let cmv = s.json(&["get", "configmap", "greeting", "-n", "demo"]);
    assert_eq!(cmv["data"]["greeting"], "hello");

    // a new commit: get --refresh sees it, a second sync deploys it
    let rev2 = commit(&repo, &[("base/cm.yaml", &cm("bonjour"))], "two");
    let o = ok(&s, &["get", "demo", "--refresh"]);
    assert!(o.contains("Name:               demo\n"), "{o}");
    assert!(
        o.contains(&format!(
            "Sync Status:        OutOfSync from HEAD ({})\n",
            &rev2[..7]
        )),
        "{o}"
    );
    ok(&s, &["sync", "demo", "--timeout", "60"]);
    let hist = ok(&s, &["history", "demo"]);
    let hl: Vec<&str> = hist.lines().collect();
    assert_eq!(hl[0], format!("SOURCE  {url}"), "{hist}");
    assert!(hl[1].starts_with("ID      DATE"), "{hist}");
    assert!(
        hl[2].starts_with("0 ") && hl[2].ends_with(&format!("HEAD ({})", &rev1[..7])),
        "{hist}"
    );
    assert!(
        hl[3].starts_with("1 ") && hl[3].ends_with(&format!("HEAD ({})", &rev2[..7])),
        "{hist}"
    );
    assert_eq!(ok(&s, &["history", "demo", "-o", "id"]), "0\n1\n");

    // rollback to the first deployment: the old content is back, the app OutOfSync
    fails(
        &s,
        &["rollback", "demo", "7"],
        1,
        "Application 'demo' does not have deployment id '7' in history",
    );
    let o = ok(&s, &["rollback", "demo", "--timeout", "60"]);
    assert!(o.contains("Phase:              Succeeded\n"), "{o}");
    assert!(o.contains(&format!("Sync Revision:      {rev1}\n")), "{o}");
    let cmv = s.json(&["get", "configmap", "greeting", "-n", "demo"]);
    assert_eq!(cmv["data"]["greeting"], "hello");
    let o = ok(&s, &["get", "demo"]);
    assert!(o.contains("Sync Status:        OutOfSync from HEAD"), "{o}");

    // automated: set turns it on, wait sees the controller sync to HEAD again
    ok(
        &s,
        &[
            "set",
            "demo",
            "--sync-policy",
            "automated",
            "--auto-prune",
            "--self-heal",
        ],
    );
    let o = ok(&s, &["wait", "demo", "--timeout", "60"]);
    assert!(o.contains("Sync Policy:        Automated (Prune)\n"), "{o}");
    assert!(o.contains("Health Status:      Healthy\n"), "{o}");
    let cmv = s.json(&["get", "configmap", "greeting", "-n", "demo"]);
    assert_eq!(cmv["data"]["greeting"], "bonjour");
    fails(
        &s,
        &["rollback", "demo", "0"],
        1,
        "rollback cannot be initiated when auto-sync is enabled",
    );
    fails(
        &s,
        &["sync", "demo", "--revision", &rev1],
        1,
        &format!("Cannot sync to {rev1}: auto-sync currently set to HEAD"),
    );
    fails(
        &s,
        &["wait", "demo", "--suspended", "--timeout", "1"],
        1,
        "timed out (1s) waiting for app \"demo\" match desired state",
    );
    fails(&s, &["get", "nosuch"], 1, "Error from server (NotFound)");
    fails(
        &s,
        &["set", "demo"],
        2,
        "Please set at least one option to update",
    );

    // delete cascades through the resources finalizer
    assert_eq!(ok(&s, &["delete", "demo"]), "application 'demo' deleted\n");
    s.wait_for(
        &["get", "configmaps", "-n", "demo"],
        "the ConfigMap deleted with the app",
        |v| {
            !v["items"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|i| i["metadata"]["name"] == "greeting")
        },
    );
    let _ = std::fs::remove_dir_all(&repo);
}
