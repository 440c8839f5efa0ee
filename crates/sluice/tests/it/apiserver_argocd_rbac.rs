//! Argo CD's RBAC on the application API (`sluice apiserver` with the real kubectl): the
//! seed's argocd-rbac-cm (design doc section 4.2: platform-team admin, developers get/sync
//! applications and read logs, viewers read, policy.default role:readonly) decides for
//! token-file users whom Kubernetes RBAC grants nothing. Mapping as argo-cd's API server
//! enforces (docs operator-manual/rbac.md: `applications, <action>, <project>/<app>`;
//! server/application Sync -> `sync`, Get (refresh too) -> `get`, Delete -> `delete`,
//! PodLogs -> `logs, get`), and `sluice admin rbac can` on the same policy agrees with the
//! server on every case of the matrix.

use crate::apiserver_kubectl::{Server, err, kubectl_available, out, temp_dir};
use crate::common::sluice;

/// The seed's argocd-rbac-cm (its policy lines as the seed writes them).
const RBAC_CM: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-rbac-cm
  namespace: argocd
data:
  policy.default: role:readonly
  policy.csv: |
    g, platform-team, role:admin
    p, role:developer, applications, get, */*, allow
    p, role:developer, applications, sync, */*, allow
    p, role:developer, logs, get, */*, allow
    p, role:developer, exec, create, */*, allow
    g, developers, role:developer
    p, role:viewer, applications, get, */*, allow
    p, role:viewer, logs, get, */*, allow
    g, viewers, role:viewer
  scopes: '[groups, email]'
"#;

const OBJECTS: &str = r#"apiVersion: v1
kind: Namespace
metadata: {name: argocd}
---
apiVersion: v1
kind: Namespace
metadata: {name: prod}
---
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: team-a, namespace: argocd}
spec:
  sourceRepos: ['*']
  destinations: [{server: '*', namespace: '*'}]
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: guestbook, namespace: argocd}
spec:
  project: team-a
  source: {repoURL: 'https://git.example/gb.git', path: base, targetRevision: HEAD}
  destination: {server: 'https://kubernetes.default.svc', namespace: prod}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: billing, namespace: argocd}
spec:
  project: default
  source: {repoURL: 'https://git.example/b.git', path: base, targetRevision: HEAD}
  destination: {server: 'https://kubernetes.default.svc', namespace: prod}
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: prod
  labels: {app.kubernetes.io/instance: guestbook}
spec:
  containers: [{name: web, image: nginx}]
---
apiVersion: v1
kind: Secret
metadata:
  name: repo-gb
  namespace: argocd
  labels: {argocd.argoproj.io/secret-type: repository}
stringData: {url: 'https://git.example/gb.git', password: s3cret}
"#;

const SYNC: &str = r#"{"operation":{"initiatedBy":{"username":"x"},"sync":{"revision":"HEAD"}}}"#;

fn start() -> Server {
    let dir = temp_dir("argorbac");
    let tokens = dir.join("tokens.csv");
    std::fs::write(
        &tokens,
        "dev-token,dana,1,developers\nview-token,vic,2,viewers\nplat-token,pat,3,platform-team\nnone-token,nora,4\nfake-token,proj:team-a:ci,5\n",
    )
    .expect("token file");
    let path = tokens.to_string_lossy().into_owned();
    Server::start_with(dir, 0, &["--token-auth-file", &path])
}

/// Whether `token`'s kubectl command succeeds.
fn can(s: &Server, token: &str, args: &[&str]) -> bool {
    let mut a = vec!["--token", token];
    a.extend_from_slice(args);
    let o = s.kubectl(&a, None);
    if !o.status.success() {
        assert!(
            err(&o).contains("forbidden"),
            "kubectl {args:?} as {token}: {}",
            err(&o)
        );
    }
    o.status.success()
}

/// The server's decision on (action, app) for a token, each through the request Sluice's
/// clients send (dry-run writes: nothing changes).
fn server_says(s: &Server, token: &str, action: &str, app: &str) -> bool {
    let base = ["-n", "argocd", "applications.argoproj.io", app];
    match action {
        "get" => can(s, token, &["get", base[2], app, "-n", "argocd"]),
        "sync" => can(
            s,
            token,
            &[
                "patch",
                base[2],
                app,
                "-n",
                "argocd",
                "--type",
                "merge",
                "-p",
                SYNC,
                "--dry-run=server",
            ],
        ),
        "update" => can(
            s,
            token,
            &[
                "patch",
                base[2],
                app,
                "-n",
                "argocd",
                "--type",
                "merge",
                "-p",
                r#"{"spec":{"source":{"targetRevision":"v2"}}}"#,
                "--dry-run=server",
            ],
        ),
        "delete" => can(
            s,
            token,
            &["delete", base[2], app, "-n", "argocd", "--dry-run=server"],
        ),
        other => panic!("no case for {other}"),
    }
}

#[test]
fn seed_argocd_rbac_decides_the_application_api() {
    if !kubectl_available() {
        eprintln!("kubectl is not installed (scripts/test installs it): skipped");
        return;
    }
    let s = start();
    s.ok(&["apply", "-f", "-"], Some(OBJECTS));
    s.ok(&["apply", "-f", "-"], Some(RBAC_CM));
    let cm_file = s.dir().join("argocd-rbac-cm.yaml");
    std::fs::write(&cm_file, RBAC_CM).expect("cm file");

    // the matrix: the server and `sluice admin rbac can` agree, and match the seed's intent
    let users = [
        ("dev-token", "dana", "developers"),
        ("view-token", "vic", "viewers"),
        ("plat-token", "pat", "platform-team"),
        ("none-token", "nora", ""),
    ];
    let mut table = Vec::new();
    for (token, user, group) in users {
        for action in ["get", "sync", "update", "delete"] {
            for (app, project) in [("guestbook", "team-a"), ("billing", "default")] {
                let server = server_says(&s, token, action, app);
                let object = format!("{project}/{app}");
                let mut args = vec![
                    "admin",
                    "rbac",
                    "can",
                    user,
                    action,
                    "applications",
                    &object,
                    "--policy-file",
                ];
                let f = cm_file.to_string_lossy().into_owned();
                args.push(&f);
                if !group.is_empty() {
                    args.extend(["--group", group]);
                }
                let o = sluice(&args, None);
                let cli = o.status.code() == Some(0);
                assert_eq!(
                    server,
                    cli,
                    "{user} {action} {object}: server {server}, `sluice admin rbac can` {cli}\n{}",
                    String::from_utf8_lossy(&o.stderr)
                );
                table.push((user, action, app, server));
            }
        }
    }
    let allowed = |u: &str, a: &str| {
        table
            .iter()
            .filter(|(tu, ta, _, _)| *tu == u && *ta == a)
            .all(|t| t.3)
    };
    let denied = |u: &str, a: &str| {
        table
            .iter()
            .filter(|(tu, ta, _, _)| *tu == u && *ta == a)
            .all(|t| !t.3)
    };
    // developers get and sync, not update or delete
    assert!(
        allowed("dana", "get") && allowed("dana", "sync"),
        "{table:?}"
    );
    assert!(
        denied("dana", "update") && denied("dana", "delete"),
        "{table:?}"
    );
    // viewers and everyone else only read (policy.default role:readonly)
    for u in ["vic", "nora"] {
        assert!(allowed(u, "get"), "{table:?}");
        assert!(denied(u, "sync") && denied(u, "update") && denied(u, "delete"));
    }
    // platform-team is admin
    for a in ["get", "sync", "update", "delete"] {
        assert!(allowed("pat", a), "{table:?}");
    }

    // a real sync by a developer writes the operation
    assert!(can(
        &s,
        "dev-token",
        &[
            "patch",
            "applications.argoproj.io",
            "guestbook",
            "-n",
            "argocd",
            "--type",
            "merge",
            "-p",
            SYNC
        ]
    ));
    let app = s.json(&[
        "get",
        "applications.argoproj.io",
        "guestbook",
        "-n",
        "argocd",
        "-o",
        "json",
    ]);
    assert_eq!(app["operation"]["sync"]["revision"], "HEAD");
    // `sluice app sync` as a user (a kubeconfig with the user's token): developers may,
    // viewers are refused with the server's 403
    let admin_token = std::fs::read_to_string(s.dir().join("token")).expect("token");
    let kubeconfig = std::fs::read_to_string(s.dir().join("kubeconfig")).expect("kubeconfig");
    for (token, allowed) in [("dev-token", true), ("view-token", false)] {
        let f = s.dir().join(format!("{token}.kubeconfig"));
        std::fs::write(&f, kubeconfig.replace(admin_token.trim(), token)).expect("kubeconfig");
        let f = f.to_string_lossy().into_owned();
        let o = sluice(
            &["app", "sync", "guestbook", "--async", "--kubeconfig", &f],
            None,
        );
        assert_eq!(
            o.status.success(),
            allowed,
            "{token}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        // reading works for both: `app get` and `app list` (applications, get)
        for args in [
            &["app", "get", "guestbook"][..],
            &["app", "list", "-o", "name"],
        ] {
            let mut a: Vec<&str> = args.to_vec();
            a.extend(["--kubeconfig", &f]);
            let o = sluice(&a, None);
            assert!(
                o.status.success(),
                "{token} {args:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            assert!(String::from_utf8_lossy(&o.stdout).contains("guestbook"));
        }
        if !allowed {
            assert!(
                String::from_utf8_lossy(&o.stderr).contains(
                    r#"User "vic" cannot patch resource "applications" in API group "argoproj.io""#
                ),
                "{}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
    // a refresh is a get: viewers may ask for it
    assert!(can(
        &s,
        "view-token",
        &[
            "annotate",
            "applications.argoproj.io",
            "guestbook",
            "-n",
            "argocd",
            "argocd.argoproj.io/refresh=normal"
        ]
    ));
    // listing shows the apps the policy lets them get
    let mut a = vec!["--token", "view-token"];
    a.extend([
        "get",
        "applications.argoproj.io",
        "-n",
        "argocd",
        "-o",
        "name",
    ]);
    let o = s.kubectl(&a, None);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(
        out(&o).lines().collect::<Vec<_>>(),
        [
            "application.argoproj.io/billing",
            "application.argoproj.io/guestbook"
        ]
    );
    // logs of a pod the app tracks (logs, get, team-a/guestbook)
    assert!(can(&s, "dev-token", &["logs", "web", "-n", "prod"]));
    assert!(can(&s, "none-token", &["logs", "web", "-n", "prod"]));
    // not Argo CD's: Kubernetes RBAC alone says no
    assert!(!can(&s, "dev-token", &["get", "pods", "-n", "prod"]));
    assert!(!can(
        &s,
        "plat-token",
        &["get", "configmaps", "-n", "argocd"]
    ));
    // repositories: readable (role:readonly) without credentials
    let o = s.kubectl(
        &[
            "--token",
            "view-token",
            "get",
            "secret",
            "repo-gb",
            "-n",
            "argocd",
            "-o",
            "json",
        ],
        None,
    );
    assert!(o.status.success(), "{}", err(&o));
    let sec: serde_json::Value = serde_json::from_str(&out(&o)).expect("json");
    assert!(sec["data"]["url"].is_string(), "{sec}");
    assert!(sec["data"].get("password").is_none(), "{sec}");
    assert!(!can(
        &s,
        "view-token",
        &[
            "delete",
            "secret",
            "repo-gb",
            "-n",
            "argocd",
            "--dry-run=server"
        ]
    ));
    assert!(can(
        &s,
        "plat-token",
        &[
            "delete",
            "secret",
            "repo-gb",
            "-n",
            "argocd",
            "--dry-run=server"
        ]
    ));

    // the policy is re-read when argocd-rbac-cm changes: without a default role and with
    // viewers limited to team-a, lists are filtered per item and others read nothing
    let narrowed = RBAC_CM
        .replace("  policy.default: role:readonly\n", "")
        .replace(
            "p, role:viewer, applications, get, */*, allow",
            "p, role:viewer, applications, get, team-a/*, allow",
        );
    s.ok(&["apply", "-f", "-"], Some(&narrowed));
    let o = s.kubectl(&a, None);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(out(&o).trim(), "application.argoproj.io/guestbook");
    // kubectl's table (a meta.k8s.io Table, filtered by row)
    let o = s.kubectl(
        &[
            "--token",
            "view-token",
            "get",
            "applications.argoproj.io",
            "-n",
            "argocd",
        ],
        None,
    );
    assert!(o.status.success(), "{}", err(&o));
    let table = out(&o);
    let names: Vec<&str> = table
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, ["guestbook"], "{table}");
    // a watch sends the events of allowed items only
    let o = s.kubectl(
        &[
            "--token",
            "view-token",
            "get",
            "--raw",
            "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications?watch=true&timeoutSeconds=1",
        ],
        None,
    );
    assert!(o.status.success(), "{}", err(&o));
    let watched: Vec<String> = out(&o)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|e| {
            e["object"]["metadata"]["name"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert_eq!(watched, ["guestbook"], "{}", out(&o));
    assert!(!server_says(&s, "view-token", "get", "billing"));
    assert!(!server_says(&s, "none-token", "get", "guestbook"));
    // a policy.csv that does not load keeps the last one that did (logged)
    let broken = narrowed.replace("g, viewers, role:viewer", "q, viewers");
    s.ok(&["apply", "-f", "-"], Some(&broken));
    assert!(server_says(&s, "view-token", "get", "guestbook"));
    assert!(!server_says(&s, "view-token", "get", "billing"));
}

fn proj(s: &Server, args: &[&str]) -> std::process::Output {
    let data = s.dir().to_string_lossy().into_owned();
    let mut a = vec!["proj", "role"];
    a.extend_from_slice(args);
    a.extend(["--data", &data]);
    sluice(&a, None)
}

fn proj_ok(s: &Server, args: &[&str]) -> String {
    let o = proj(s, args);
    assert!(
        o.status.success(),
        "sluice proj role {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// AppProject role tokens (argo-cd docs user-guide/projects.md "Project Roles": a token of
/// `proj:<project>:<role>` carries the role's policies, works for its project only, and is
/// revoked by deleting it from the role's `jwtTokens`; server/rbacpolicy
/// `enforceProjectToken` refuses objects of other projects).
#[test]
fn project_role_tokens_act_in_their_project_until_deleted() {
    if !kubectl_available() {
        eprintln!("kubectl is not installed (scripts/test installs it): skipped");
        return;
    }
    let s = start();
    s.ok(&["apply", "-f", "-"], Some(OBJECTS));
    s.ok(&["apply", "-f", "-"], Some(RBAC_CM));
    assert_eq!(
        proj_ok(&s, &["create", "team-a", "ci", "-d", "pipelines"]),
        "Role 'ci' created\n"
    );
    proj_ok(&s, &["add-policy", "team-a", "ci", "-a", "sync", "-o", "*"]);
    let list = proj_ok(&s, &["list", "team-a"]);
    assert_eq!(
        list.lines().collect::<Vec<_>>(),
        ["ROLE-NAME  DESCRIPTION", "ci         pipelines"]
    );
    let token = proj_ok(&s, &["create-token", "team-a", "ci", "-t", "-e", "1h"]);
    let token = token.trim().to_owned();
    let p = s.json(&[
        "get",
        "appprojects.argoproj.io",
        "team-a",
        "-n",
        "argocd",
        "-o",
        "json",
    ]);
    let recorded = &p["spec"]["roles"][0]["jwtTokens"][0];
    let iat = recorded["iat"].as_i64().expect("iat recorded");
    assert_eq!(recorded["exp"].as_i64(), Some(iat + 3600), "{p}");
    assert!(recorded["id"].as_str().is_some_and(|i| !i.is_empty()));
    assert_eq!(
        p["spec"]["roles"][0]["policies"],
        serde_json::json!(["p, proj:team-a:ci, applications, sync, team-a/*, allow"])
    );

    // a token-file user named like the role is not the role
    assert!(!server_says(&s, "fake-token", "sync", "guestbook"));
    // its project: sync (the role's policy) and get (policy.default); not delete
    assert!(server_says(&s, &token, "sync", "guestbook"));
    assert!(server_says(&s, &token, "get", "guestbook"));
    assert!(!server_says(&s, &token, "delete", "guestbook"));
    // another project: nothing, not even policy.default's get
    assert!(!server_says(&s, &token, "get", "billing"));
    assert!(!server_says(&s, &token, "sync", "billing"));
    let o = s.kubectl(
        &[
            "--token",
            &token,
            "get",
            "applications.argoproj.io",
            "-n",
            "argocd",
            "-o",
            "name",
        ],
        None,
    );
    assert_eq!(
        out(&o).trim(),
        "application.argoproj.io/guestbook",
        "{}",
        err(&o)
    );
    // a second id in use is refused
    let id = recorded["id"].as_str().unwrap_or("").to_owned();
    let o = proj(&s, &["create-token", "team-a", "ci", "-i", &id]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&format!("Token id '{id}' has been used")),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // `role get` lists it by its issued-at; deleting it revokes the token
    let get = proj_ok(&s, &["get", "team-a", "ci"]);
    assert!(get.contains(&format!("\n{iat}  ")), "{get}");
    proj_ok(&s, &["delete-token", "team-a", "ci", &iat.to_string()]);
    let o = s.kubectl(
        &[
            "--token",
            &token,
            "get",
            "applications.argoproj.io",
            "guestbook",
            "-n",
            "argocd",
        ],
        None,
    );
    // kubectl's text for a 401
    assert!(
        err(&o).contains("the server has asked for the client to provide credentials"),
        "{}",
        err(&o)
    );
    // only who may update the project may mint (argo-cd CreateToken: projects, update)
    let o = s.kubectl(
        &[
            "--token",
            "dev-token",
            "create",
            "--raw",
            "/apis/argoproj.io/v1alpha1/namespaces/argocd/appprojects/team-a/token",
            "-f",
            "-",
        ],
        Some(r#"{"role":"ci"}"#),
    );
    assert!(err(&o).contains("forbidden"), "{}", err(&o));
    let o = s.kubectl(
        &[
            "--token",
            "plat-token",
            "create",
            "--raw",
            "/apis/argoproj.io/v1alpha1/namespaces/argocd/appprojects/team-a/token",
            "-f",
            "-",
        ],
        Some(r#"{"role":"ci"}"#),
    );
    assert!(o.status.success(), "{}", err(&o));
}
