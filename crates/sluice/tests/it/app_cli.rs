//! `sluice app ...` (argocd habits) against a running `sluice serve`, with a local Git
//! repository. Pinned from argoproj/argo-cd cmd/argocd/commands/app.go: `app list` columns
//! (`printApplicationTable`), `app get`'s summary lines (`printAppSummaryTable`, "Sync
//! Status: Synced to HEAD (sha7)"), the resource table (`printAppResources`), `app history`
//! (`printApplicationHistoryTable`), `findRevisionHistory`'s errors, `waitOnApplicationStatus`'s
//! timeout message; and from server/application/application.go: a sync or rollback is the
//! Application's `operation`, a rollback is refused while auto-sync is on ("rollback cannot
//! be initiated when auto-sync is enabled"), so is a sync to another revision ("Cannot sync
//! to R: auto-sync currently set to T"); delete with cascade deletes the resources through
//! the resources finalizer; `app diff` prints `===== group/Kind ns/name ======` and runs
//! `diff LIVE DESIRED` per differing resource (cmdutil.PrintDiff), exit 1 on differences.

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
    if !o.status.success() {
        let apps = s.kubectl(
            &[
                "get",
                "applications.argoproj.io",
                "-n",
                "argocd",
                "-o",
                "yaml",
            ],
            None,
        );
        panic!(
            "sluice app {args:?}: exit {:?}\n{}\n{}\nApplications:\n{}",
            o.status.code(),
            stdout(&o),
            stderr(&o),
            stdout(&apps)
        );
    }
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
    // app diff (argo-cd cmdutil.PrintDiff: the header, then `diff LIVE DESIRED`): exit 1
    let o = app(&s, &["diff", "demo"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let d = stdout(&o);
    assert!(
        d.starts_with("===== /ConfigMap demo/greeting ======\n"),
        "{d}"
    );
    assert!(
        d.contains("<   greeting: hello\n") && d.contains(">   greeting: bonjour\n"),
        "{d}"
    );
    assert!(!d.contains("uid"), "server fields are not differences: {d}");
    let local = repo.join("../appcli-local");
    std::fs::create_dir_all(&local).expect("mkdir");
    std::fs::write(local.join("cm.yaml"), cm("hola")).expect("write");
    let o = app(
        &s,
        &["diff", "demo", "--local", &local.display().to_string()],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(">   greeting: hola\n"),
        "{}",
        stdout(&o)
    );
    let _ = std::fs::remove_dir_all(&local);
    ok(&s, &["sync", "demo", "--timeout", "60"]);
    assert_eq!(ok(&s, &["diff", "demo"]), "");
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

fn cmd(s: &Serve, args: &[&str]) -> Output {
    let data = s.dir.display().to_string();
    let mut a: Vec<&str> = args.to_vec();
    a.extend(["--data", &data]);
    sluice(&a, None)
}

fn cmd_ok(s: &Serve, args: &[&str]) -> String {
    let o = cmd(s, args);
    assert!(
        o.status.success(),
        "sluice {args:?}: exit {:?}\n{}\n{}",
        o.status.code(),
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

fn decoded(secret: &Value, key: &str) -> String {
    use base64::Engine as _;
    let b = secret["data"][key].as_str().unwrap_or("");
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b)
            .expect("base64"),
    )
    .expect("utf-8")
}

/// `sluice repo|repocreds|cluster|proj`: the Secrets Argo CD's own CLI writes (labels
/// `argocd.argoproj.io/secret-type`, names `repo-<fnv32a>`, `creds-<fnv32a>`,
/// `cluster-<host>-<fnv32a>` as util/db `RepoURLToSecretName`/`URIToSecretName`), read back
/// by the list commands with argocd's columns (cmd/argocd/commands/repo.go `printRepoTable`,
/// repocreds.go, cluster.go, project.go `printProjectLine`/`printProject`).
#[test]
fn repo_cluster_and_project_commands_write_argo_cd_secrets() {
    if !kubectl_available() {
        eprintln!("skipped: kubectl not installed");
        return;
    }
    let s = Serve::start("appcli-admin", &[]);
    s.ok(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: Namespace\nmetadata: {name: argocd}\n"),
    );
    let url = "https://git.example.com/team/app.git";
    assert_eq!(
        cmd_ok(
            &s,
            &[
                "repocreds",
                "add",
                "https://git.example.com/team",
                "--username",
                "bot",
                "--password",
                "pw"
            ]
        ),
        "Repository credentials for 'https://git.example.com/team' added\n"
    );
    assert_eq!(
        cmd_ok(&s, &["repo", "add", url, "--name", "app"]),
        format!("Repository '{url}' added\n")
    );
    // the same again is fine; other values need --upsert
    cmd_ok(&s, &["repo", "add", url, "--name", "app"]);
    let o = cmd(&s, &["repo", "add", url, "--name", "other"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("use upsert flag"), "{}", stderr(&o));
    cmd_ok(&s, &["repo", "add", url, "--name", "other", "--upsert"]);

    let secrets = s.json(&[
        "get",
        "secrets",
        "-n",
        "argocd",
        "-l",
        "argocd.argoproj.io/secret-type=repository",
    ]);
    let items = secrets["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 1, "{secrets:#}");
    assert!(
        items[0]["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .starts_with("repo-")
    );
    assert_eq!(decoded(&items[0], "url"), url);
    assert_eq!(decoded(&items[0], "name"), "other");
    assert_eq!(decoded(&items[0], "type"), "git");

    let list = cmd_ok(&s, &["repo", "list"]);
    let lines: Vec<Vec<&str>> = list
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        [
            "TYPE", "NAME", "REPO", "INSECURE", "OCI", "LFS", "CREDS", "STATUS", "MESSAGE",
            "PROJECT"
        ]
    );
    assert_eq!(
        lines[1],
        [
            "git",
            "other",
            url,
            "false",
            "false",
            "false",
            "inherited",
            "Unknown"
        ],
        "{list}"
    );
    let creds = cmd_ok(&s, &["repocreds", "list"]);
    assert!(
        creds.contains("https://git.example.com/team  bot       false      false"),
        "{creds}"
    );

    // a cluster from the kubeconfig's current context: server, bearer token and CA
    let o = cmd_ok(&s, &["cluster", "add", "--name", "prod"]);
    assert_eq!(o, format!("Cluster '{}' added\n", s.url));
    let secrets = s.json(&[
        "get",
        "secrets",
        "-n",
        "argocd",
        "-l",
        "argocd.argoproj.io/secret-type=cluster",
    ]);
    let c = &secrets["items"][0];
    assert!(
        c["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .starts_with("cluster-127.0.0.1-"),
        "{c:#}"
    );
    assert_eq!(decoded(c, "server"), s.url);
    let config: Value = serde_json::from_str(&decoded(c, "config")).expect("config JSON");
    assert!(
        config["bearerToken"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert!(config["tlsClientConfig"]["caData"].as_str().is_some());
    let list = cmd_ok(&s, &["cluster", "list"]);
    let lines: Vec<Vec<&str>> = list
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        ["SERVER", "NAME", "VERSION", "STATUS", "MESSAGE", "PROJECT"]
    );
    assert_eq!(
        lines[1],
        ["https://kubernetes.default.svc", "in-cluster", "Unknown"]
    );
    assert_eq!(lines[2], [s.url.as_str(), "prod", "Unknown"]);
    assert_eq!(
        cmd_ok(&s, &["cluster", "rm", "prod"]),
        "Cluster 'prod' removed\n"
    );
    let o = cmd(&s, &["cluster", "rm", "prod"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        cmd_ok(&s, &["repo", "rm", url]),
        format!("Repository '{url}' removed\n")
    );
    assert!(!cmd_ok(&s, &["repo", "list"]).contains(url));

    // projects
    cmd_ok(
        &s,
        &[
            "proj",
            "create",
            "team",
            "--description",
            "the team",
            "-d",
            "https://kubernetes.default.svc,team-*",
            "-s",
            "*",
        ],
    );
    let list = cmd_ok(&s, &["proj", "list"]);
    assert!(
        list.starts_with("NAME  DESCRIPTION  DESTINATIONS"),
        "{list}"
    );
    assert!(
        list.contains("team  the team     https://kubernetes.default.svc,team-*  *"),
        "{list}"
    );
    let get = cmd_ok(&s, &["proj", "get", "team"]);
    assert!(get.contains("Repositories:                *\n"), "{get}");
    let o = cmd(&s, &["proj", "create", "team", "-d", "nocomma"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("Expected destination of the form: server,namespace"));
}

const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n";

fn dep_app(name: &str, repo: &str, path: &str, depends_on: &str, automated: bool) -> String {
    let ann = if depends_on.is_empty() {
        String::new()
    } else {
        format!("  annotations:\n    sluice.dev/depends-on: \"{depends_on}\"\n")
    };
    let auto = if automated {
        "  syncPolicy:\n    automated: {}\n    syncOptions: [CreateNamespace=true]\n"
    } else {
        "  syncPolicy:\n    syncOptions: [CreateNamespace=true]\n"
    };
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: argocd\n{ann}spec:\n  project: default\n  source:\n    repoURL: {repo}\n    targetRevision: HEAD\n    path: {path}\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: deps\n{auto}"
    )
}

/// `sluice.dev/depends-on` (docs/applications.md "Dependencies between Applications",
/// beyond Argo CD: argo-cd#3454): an automated app waits, with an operation in phase
/// Running saying for what, until its dependency is Synced and Healthy; a cycle is an
/// InvalidSpecError naming it.
#[test]
fn depends_on_holds_the_sync_until_the_dependency_is_synced_and_healthy() {
    if !kubectl_available() {
        eprintln!("skipped: kubectl not installed");
        return;
    }
    let repo = git_repo("appcli-deps");
    commit(
        &repo,
        &[
            ("db/cm.yaml", &cm("db").replace("greeting\n", "db\n")),
            (
                "web/cm.yaml",
                &cm("web").replace("name: greeting", "name: web"),
            ),
            ("web/deploy.yaml", DEPLOY),
        ],
        "apps",
    );
    let url = format!("file://{}", repo.display());
    let s = Serve::start("appcli-deps", &[]);
    s.ok(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: Namespace\nmetadata: {name: argocd}\n"),
    );
    s.ok(
        &["apply", "-f", "-"],
        Some(&format!(
            "{}---\n{}",
            dep_app("db", &url, "db", "", false),
            dep_app("web", &url, "web", "db", true)
        )),
    );
    let web = ["get", "applications.argoproj.io", "web", "-n", "argocd"];
    let v = s.wait_for(&web, "web waiting", |v| {
        v["status"]["operationState"]["phase"] == "Running"
    });
    let msg = v["status"]["operationState"]["message"]
        .as_str()
        .unwrap_or("");
    assert!(msg.starts_with("waiting for dependencies: db ("), "{msg}");
    std::thread::sleep(std::time::Duration::from_secs(2));
    let cms = s.json(&["get", "configmaps", "-n", "deps"]);
    assert!(
        !cms["items"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|i| i["metadata"]["name"] == "web"),
        "web synced before its dependency: {cms:#}"
    );
    // `app wait` sees the pending operation as running
    let o = app(&s, &["wait", "web", "--operation", "--timeout", "1"]);
    assert_eq!(o.status.code(), Some(1));
    // argocd's progress lines (waitFormatString) while it waits, then the timeout notice
    let text = stdout(&o);
    assert!(text.starts_with("TIMESTAMP  "), "{text}");
    assert!(
        text.contains("The command timed out waiting for the conditions to be met."),
        "{text}"
    );

    ok(&s, &["sync", "db", "--timeout", "60"]);
    let o = ok(&s, &["wait", "web", "--timeout", "60"]);
    assert!(o.contains("Sync Status:        Synced to HEAD"), "{o}");
    let v = s.json(&web);
    assert_eq!(v["status"]["operationState"]["phase"], "Succeeded");
    // `app get -o tree` (cmd/argocd/commands/tree.go): what the app's resources own below them
    let t = ok(&s, &["get", "web", "-o", "tree"]);
    assert!(t.contains("\nKIND/NAME "), "{t}");
    assert!(t.contains("\nDeployment/web "), "{t}");
    assert!(t.contains("\n└─ReplicaSet/web-"), "{t}");
    assert!(t.contains("\n  └─Pod/web-"), "{t}");
    assert!(t.contains("\nConfigMap/web "), "{t}");
    let db_done = s.json(&["get", "applications.argoproj.io", "db", "-n", "argocd"])["status"]
        ["operationState"]["finishedAt"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let web_started = v["status"]["operationState"]["startedAt"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(
        web_started.as_str() >= db_done.as_str(),
        "{web_started} < {db_done}"
    );

    // a cycle is refused with the path
    s.ok(
        &["apply", "-f", "-"],
        Some(&format!(
            "{}---\n{}",
            dep_app("c1", &url, "db", "c2", true),
            dep_app("c2", &url, "db", "c1", true)
        )),
    );
    let v = s.wait_for(
        &["get", "applications.argoproj.io", "c1", "-n", "argocd"],
        "c1's condition",
        |v| {
            v["status"]["conditions"]
                .as_array()
                .is_some_and(|c| !c.is_empty())
        },
    );
    let c = &v["status"]["conditions"][0];
    assert_eq!(c["type"], "InvalidSpecError", "{c:#}");
    assert_eq!(
        c["message"],
        "dependency cycle: c1 -> c2 -> c1 (annotation sluice.dev/depends-on)"
    );
    let _ = std::fs::remove_dir_all(&repo);
}

fn appset(name: &str, repo: &str, preserve: bool) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata:\n  name: {name}\n  namespace: argocd\nspec:\n  generators:\n  - list:\n      elements:\n      - app: {name}-app\n  syncPolicy:\n    preserveResourcesOnDeletion: {preserve}\n  template:\n    metadata:\n      name: '{{{{app}}}}'\n    spec:\n      project: default\n      source:\n        repoURL: {repo}\n        targetRevision: HEAD\n        path: '{name}'\n      destination:\n        server: https://kubernetes.default.svc\n        namespace: {name}\n      syncPolicy:\n        automated: {{}}\n        syncOptions: [CreateNamespace=true]\n"
    )
}

/// ApplicationSet `syncPolicy.preserveResourcesOnDeletion` (operator-manual/applicationset/
/// Application-Deletion.md): generated Applications carry the resources finalizer only when
/// it is false, so deleting the ApplicationSet deletes its Applications (owner references)
/// and, with the finalizer, their resources; with `true` the resources stay.
#[test]
fn appset_preserve_resources_on_deletion() {
    if !kubectl_available() {
        eprintln!("skipped: kubectl not installed");
        return;
    }
    let repo = git_repo("appcli-preserve");
    commit(
        &repo,
        &[
            ("keep/cm.yaml", &cm("kept")),
            ("drop/cm.yaml", &cm("dropped")),
        ],
        "apps",
    );
    let url = format!("file://{}", repo.display());
    let s = Serve::start("appcli-preserve", &[]);
    s.ok(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: Namespace\nmetadata: {name: argocd}\n"),
    );
    s.ok(
        &["apply", "-f", "-"],
        Some(&format!(
            "{}---\n{}",
            appset("keep", &url, true),
            appset("drop", &url, false)
        )),
    );
    for ns in ["keep", "drop"] {
        s.wait_for(
            &["get", "configmaps", "-n", ns],
            "the generated app synced",
            |v| {
                v["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|i| i["metadata"]["name"] == "greeting")
            },
        );
    }
    // appset list/get (cmd/argocd/commands/applicationset.go printApplicationSetTable,
    // printAppSetSummaryTable)
    let list = cmd_ok(&s, &["appset", "list"]);
    assert!(list.starts_with("NAME  PROJECT  SYNCPOLICY"), "{list}");
    assert!(
        list.contains("keep  default  &{preserveResourcesOnDeletion=true}"),
        "{list}"
    );
    let get = cmd_ok(&s, &["appset", "get", "keep"]);
    assert!(
        get.starts_with("Name:               keep\nProject:            default\n"),
        "{get}"
    );
    assert!(get.contains("SyncPolicy:         Automated\n"), "{get}");
    let o = cmd(&s, &["appset", "get", "nosuch"]);
    assert_eq!(o.status.code(), Some(1));
    let keep = s.json(&[
        "get",
        "applications.argoproj.io",
        "keep-app",
        "-n",
        "argocd",
    ]);
    assert!(
        keep["metadata"]
            .get("finalizers")
            .is_none_or(|f| f.as_array().is_none_or(|a| a.is_empty())),
        "{keep:#}"
    );
    s.ok(
        &[
            "delete",
            "applicationsets.argoproj.io",
            "keep",
            "drop",
            "-n",
            "argocd",
        ],
        None,
    );
    s.wait_for(
        &["get", "applications.argoproj.io", "-n", "argocd"],
        "the generated Applications deleted",
        |v| v["items"].as_array().is_some_and(|a| a.is_empty()),
    );
    s.wait_for(
        &["get", "configmaps", "-n", "drop"],
        "drop's resources deleted",
        |v| {
            !v["items"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|i| i["metadata"]["name"] == "greeting")
        },
    );
    let kept = s.json(&["get", "configmap", "greeting", "-n", "keep"]);
    assert_eq!(kept["data"]["greeting"], "kept");
    let _ = std::fs::remove_dir_all(&repo);
}
