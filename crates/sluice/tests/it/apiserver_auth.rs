//! Authentication and RBAC of `sluice apiserver` with the real kubectl (v1.32): a
//! `--token-auth-file` user bound to `view`, ServiceAccount tokens from `kubectl create
//! token`, `kubectl auth can-i|whoami`, impersonation with `--as`, and escalation
//! prevention. Messages are kube-apiserver's (apiserver/pkg/endpoints/handlers/
//! responsewriters/errors.go forbiddenMessage; pkg/registry/rbac/validation/rule.go).

use crate::apiserver_kubectl::{Server, err, kubectl_available, out, temp_dir};

fn start() -> Server {
    let dir = temp_dir("auth");
    let tokens = dir.join("tokens.csv");
    std::fs::write(
        &tokens,
        "jane-token,jane,1001,\"devs,qa\"\nlead-token,lead,1002\n",
    )
    .expect("token file");
    let path = tokens.to_string_lossy().into_owned();
    Server::start_with(dir, 0, &["--token-auth-file", &path])
}

#[test]
fn token_users_rbac_and_reviews() {
    if !kubectl_available() {
        eprintln!("kubectl is not installed (scripts/test installs it): skipped");
        return;
    }
    let s = start();
    s.ok(&["create", "namespace", "dev"], None);
    s.ok(
        &[
            "create",
            "configmap",
            "cfg",
            "-n",
            "dev",
            "--from-literal=a=b",
        ],
        None,
    );
    s.ok(
        &[
            "create",
            "rolebinding",
            "jane-view",
            "--clusterrole=view",
            "--user=jane",
            "-n",
            "dev",
        ],
        None,
    );
    let jane = |args: &[&str]| {
        let mut a = vec!["--token", "jane-token"];
        a.extend_from_slice(args);
        s.kubectl(&a, None)
    };
    // view reads, does not write
    let o = jane(&["get", "configmaps", "-n", "dev", "-o", "name"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(out(&o).trim(), "configmap/cfg");
    let o = jane(&["create", "configmap", "x", "-n", "dev"]);
    assert!(!o.status.success());
    assert!(
        // kubectl's `create configmap` wraps the server's Status message as
        // "error: failed to create configmap: <message>"
        err(&o).contains(r#"configmaps is forbidden: User "jane" cannot create resource "configmaps" in API group "" in the namespace "dev""#),
        "{}",
        err(&o)
    );
    let o = jane(&["get", "configmaps", "-n", "default"]);
    assert!(err(&o).contains(r#"User "jane" cannot list resource "configmaps" in API group "" in the namespace "default""#), "{}", err(&o));
    let o = jane(&["get", "secrets", "-n", "dev"]);
    assert!(!o.status.success(), "view does not read Secrets");
    // a wrong token is 401 with no detail
    let o = s.kubectl(&["--token", "nope", "get", "pods"], None);
    assert!(err(&o).contains("Unauthorized"), "{}", err(&o));
    // can-i and whoami
    let o = jane(&["auth", "can-i", "list", "pods", "-n", "dev"]);
    assert_eq!(
        (out(&o).trim(), o.status.code()),
        ("yes", Some(0)),
        "{}",
        err(&o)
    );
    let o = jane(&["auth", "can-i", "create", "pods", "-n", "dev"]);
    assert_eq!(
        (out(&o).trim(), o.status.code()),
        ("no", Some(1)),
        "{}",
        err(&o)
    );
    let o = jane(&["auth", "can-i", "get", "pods/log", "-n", "dev"]);
    assert_eq!(out(&o).trim(), "yes");
    let o = jane(&["auth", "can-i", "--list", "-n", "dev"]);
    let list = out(&o);
    assert!(o.status.success(), "{}", err(&o));
    assert!(
        list.contains("selfsubjectaccessreviews.authorization.k8s.io"),
        "{list}"
    );
    assert!(
        list.lines()
            .any(|l| l.starts_with("pods ") && l.contains("[get list watch]")),
        "{list}"
    );
    let o = jane(&["auth", "whoami", "-o", "json"]);
    let who: serde_json::Value = serde_json::from_str(&out(&o)).expect("whoami json");
    assert_eq!(who["status"]["userInfo"]["username"], "jane");
    assert_eq!(
        who["status"]["userInfo"]["groups"],
        serde_json::json!(["devs", "qa", "system:authenticated"])
    );
    // the admin may check for others
    let o = s.kubectl(
        &[
            "auth",
            "can-i",
            "delete",
            "configmaps",
            "-n",
            "dev",
            "--as",
            "jane",
        ],
        None,
    );
    assert_eq!(out(&o).trim(), "no");

    // impersonation: the admin may, jane may not
    let o = s.kubectl(
        &[
            "--as",
            "jane",
            "get",
            "configmaps",
            "-n",
            "dev",
            "-o",
            "name",
        ],
        None,
    );
    assert_eq!(out(&o).trim(), "configmap/cfg", "{}", err(&o));
    let o = s.kubectl(
        &["--as", "jane", "create", "configmap", "y", "-n", "dev"],
        None,
    );
    assert!(
        err(&o).contains(r#"User "jane" cannot create resource "configmaps""#),
        "{}",
        err(&o)
    );
    let o = jane(&["--as", "lead", "get", "pods", "-n", "dev"]);
    assert!(
        err(&o).contains(r#"users "lead" is forbidden: User "jane" cannot impersonate resource "users" in API group "" at the cluster scope"#),
        "{}",
        err(&o)
    );

    // escalation: an admin of a namespace may grant what it holds, not more
    s.ok(&["create", "namespace", "team"], None);
    s.ok(
        &[
            "create",
            "rolebinding",
            "lead-admin",
            "--clusterrole=admin",
            "--user=lead",
            "-n",
            "team",
        ],
        None,
    );
    let lead = |args: &[&str]| {
        let mut a = vec!["--token", "lead-token"];
        a.extend_from_slice(args);
        s.kubectl(&a, None)
    };
    let o = lead(&[
        "create",
        "rolebinding",
        "jane-edit",
        "--clusterrole=edit",
        "--user=jane",
        "-n",
        "team",
    ]);
    assert!(o.status.success(), "{}", err(&o));
    let o = lead(&[
        "create",
        "rolebinding",
        "jane-root",
        "--clusterrole=cluster-admin",
        "--user=jane",
        "-n",
        "team",
    ]);
    assert!(
        err(&o).contains(r#"rolebindings.rbac.authorization.k8s.io "jane-root" is forbidden: user "lead" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held"#),
        "{}",
        err(&o)
    );
    let o = lead(&[
        "create",
        "role",
        "nodes",
        "--verb=list",
        "--resource=nodes",
        "-n",
        "team",
    ]);
    assert!(
        err(&o).contains("is attempting to grant RBAC permissions not currently held"),
        "{}",
        err(&o)
    );
    let o = lead(&[
        "create",
        "role",
        "reader",
        "--verb=get",
        "--resource=pods",
        "-n",
        "team",
    ]);
    assert!(o.status.success(), "{}", err(&o));
}

#[test]
fn service_account_tokens() {
    if !kubectl_available() {
        eprintln!("kubectl is not installed (scripts/test installs it): skipped");
        return;
    }
    let s = start();
    s.ok(&["create", "namespace", "ci"], None);
    s.ok(&["create", "serviceaccount", "builder", "-n", "ci"], None);
    let token = s.ok(
        &["create", "token", "builder", "-n", "ci", "--duration=20m"],
        None,
    );
    let token = token.trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    let sa = |args: &[&str]| {
        let mut a = vec!["--token", token.as_str()];
        a.extend_from_slice(args);
        s.kubectl(&a, None)
    };
    let o = sa(&["auth", "whoami", "-o", "json"]);
    let who: serde_json::Value = serde_json::from_str(&out(&o)).expect("whoami json");
    assert_eq!(
        who["status"]["userInfo"]["username"],
        "system:serviceaccount:ci:builder"
    );
    assert_eq!(
        who["status"]["userInfo"]["groups"],
        serde_json::json!([
            "system:serviceaccounts",
            "system:serviceaccounts:ci",
            "system:authenticated"
        ])
    );
    let o = sa(&["get", "pods", "-n", "ci"]);
    assert!(
        err(&o).contains(r#"User "system:serviceaccount:ci:builder" cannot list resource "pods""#),
        "{}",
        err(&o)
    );
    s.ok(
        &[
            "create",
            "rolebinding",
            "b",
            "--clusterrole=view",
            "--serviceaccount=ci:builder",
            "-n",
            "ci",
        ],
        None,
    );
    let o = sa(&["get", "pods", "-n", "ci"]);
    assert!(o.status.success(), "{}", err(&o));
    // a token shorter than 10 minutes is refused, as upstream
    let o = s.kubectl(
        &["create", "token", "builder", "-n", "ci", "--duration=5m"],
        None,
    );
    assert!(
        err(&o).contains("may not specify a duration less than 10 minutes"),
        "{}",
        err(&o)
    );
    // a token of a deleted ServiceAccount no longer authenticates (its uid is gone)
    s.ok(&["delete", "serviceaccount", "builder", "-n", "ci"], None);
    let o = sa(&["get", "pods", "-n", "ci"]);
    assert!(err(&o).contains("Unauthorized"), "{}", err(&o));
}

/// `sluice admin rbac can|validate` over files, as `argocd admin settings rbac can|validate`
/// (docs operator-manual/rbac.md; built-in roles of argo-cd assets/builtin-policy.csv) and
/// `kubectl auth can-i --as` decide.
#[test]
fn admin_rbac_can_and_validate() {
    use crate::common::{sluice, stderr, stdout};
    let dir = temp_dir("admin-rbac");
    let cm = dir.join("argocd-rbac-cm.yaml");
    std::fs::write(
        &cm,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-rbac-cm\n  namespace: argocd\ndata:\n  policy.default: role:readonly\n  policy.csv: |\n    g, platform-team, role:admin\n    p, role:developer, applications, get, */*, allow\n    p, role:developer, applications, sync, */*, allow\n    g, developers, role:developer\n  scopes: '[groups, email]'\n",
    )
    .expect("write");
    let cm = cm.to_string_lossy().into_owned();
    let can = |args: &[&str]| {
        let mut a = vec!["admin", "rbac", "can"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["--policy-file", &cm]);
        let o = sluice(&a, None);
        (stdout(&o).trim().to_owned(), o.status.code())
    };
    assert_eq!(
        can(&[
            "alice",
            "sync",
            "applications",
            "default/guestbook",
            "--group",
            "developers"
        ]),
        ("yes".into(), Some(0))
    );
    assert_eq!(
        can(&[
            "alice",
            "delete",
            "applications",
            "default/guestbook",
            "--group",
            "developers"
        ]),
        ("no".into(), Some(1))
    );
    assert_eq!(
        can(&["carol", "get", "applications", "default/guestbook"]),
        ("yes".into(), Some(0)),
        "policy.default"
    );
    assert_eq!(
        can(&["carol", "sync", "applications", "default/guestbook"]),
        ("no".into(), Some(1))
    );
    assert_eq!(
        can(&["role:admin", "delete", "clusters", "c1"]),
        ("yes".into(), Some(0))
    );

    // Kubernetes RBAC over files and the default roles
    let rb = dir.join("rb.yaml");
    std::fs::write(
        &rb,
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: jane-view, namespace: dev}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\nsubjects:\n- {apiGroup: rbac.authorization.k8s.io, kind: User, name: jane}\n",
    )
    .expect("write");
    let rb = rb.to_string_lossy().into_owned();
    let k = |args: &[&str]| {
        let mut a = vec!["admin", "rbac", "can"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["-f", &rb]);
        let o = sluice(&a, None);
        (stdout(&o).trim().to_owned(), o.status.code())
    };
    assert_eq!(
        k(&["jane", "list", "pods", "-n", "dev"]),
        ("yes".into(), Some(0))
    );
    assert_eq!(
        k(&["jane", "get", "pods/log", "-n", "dev"]),
        ("yes".into(), Some(0))
    );
    assert_eq!(
        k(&["jane", "create", "deployments.apps", "-n", "dev"]),
        ("no".into(), Some(1))
    );
    assert_eq!(
        k(&["jane", "list", "pods", "-n", "prod"]),
        ("no".into(), Some(1))
    );
    assert_eq!(
        k(&["jane", "get", "/apis"]),
        ("yes".into(), Some(0)),
        "system:discovery"
    );

    // validate: errors at their file lines
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-rbac-cm}\ndata:\n  policy.csv: |\n    g, a, role:admin\n    p, role:x, applications, get, */*\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r, namespace: dev}\nrules:\n- apiGroups: [\"\"]\n  resources: [pods]\n  verbs: []\n",
    )
    .expect("write");
    let o = sluice(
        &["admin", "rbac", "validate", &bad.to_string_lossy(), &rb],
        None,
    );
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}{}", stderr(&o));
    let b = bad.to_string_lossy();
    assert!(
        text.contains(&format!("{b}:7:1: data[policy.csv]: a p line has 5 fields")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with(&format!("{b}:15:"))
            && l.contains("Role \"r\": rules[0].verbs: Required value")),
        "{text}"
    );
    let o = sluice(&["admin", "rbac", "validate", &cm, &rb], None);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}
