//! Kubernetes RBAC as kube-apiserver decides it. Rule matching pins
//! kubernetes/kubernetes pkg/apis/rbac/v1/evaluation_helpers.go (VerbMatches,
//! APIGroupMatches, ResourceMatches with `*/subresource`, ResourceNameMatches,
//! NonResourceURLMatches with trailing `*`); subjects plugin/pkg/auth/authorizer/rbac/rbac.go
//! `appliesToUser` (a ServiceAccount subject's namespace defaults to the binding's); the
//! default roles plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go; escalation
//! pkg/registry/rbac/validation/rule.go `ConfirmNoEscalation` / `Covers`.

use serde_json::{Value, json};
use sluice_auth::UserInfo;
use sluice_auth::rbac::{Attributes, PolicyRule, Rbac, covers, rule_allows, validate_object};

fn r(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
    PolicyRule {
        verbs: verbs.iter().map(|s| s.to_string()).collect(),
        api_groups: groups.iter().map(|s| s.to_string()).collect(),
        resources: resources.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

#[test]
fn rule_forms() {
    let a = |verb: &str, group: &str, res: &str| Attributes::resource(verb, group, res, "ns");
    // verbs, groups, resources: exact and *
    assert!(rule_allows(
        &a("get", "", "pods"),
        &r(&["get"], &[""], &["pods"])
    ));
    assert!(!rule_allows(
        &a("list", "", "pods"),
        &r(&["get"], &[""], &["pods"])
    ));
    assert!(rule_allows(
        &a("list", "apps", "deployments"),
        &r(&["*"], &["*"], &["*"])
    ));
    assert!(!rule_allows(
        &a("get", "apps", "deployments"),
        &r(&["get"], &[""], &["deployments"])
    ));
    // a subresource needs its own rule: pods does not grant pods/log
    assert!(!rule_allows(
        &a("get", "", "pods/log"),
        &r(&["get"], &[""], &["pods"])
    ));
    assert!(rule_allows(
        &a("get", "", "pods/log"),
        &r(&["get"], &[""], &["pods/log"])
    ));
    // */scale matches any resource's scale, not scale itself nor other subresources
    assert!(rule_allows(
        &a("update", "apps", "deployments/scale"),
        &r(&["update"], &["apps"], &["*/scale"])
    ));
    assert!(!rule_allows(
        &a("update", "apps", "deployments/status"),
        &r(&["update"], &["apps"], &["*/scale"])
    ));
    assert!(!rule_allows(
        &a("update", "apps", "scale"),
        &r(&["update"], &["apps"], &["*/scale"])
    ));
    // resourceNames: only the named objects; a list (no name) is not covered
    let mut named = r(&["get", "list"], &[""], &["configmaps"]);
    named.resource_names = vec!["cfg".into()];
    assert!(rule_allows(
        &a("get", "", "configmaps").named("cfg"),
        &named
    ));
    assert!(!rule_allows(
        &a("get", "", "configmaps").named("other"),
        &named
    ));
    assert!(!rule_allows(&a("list", "", "configmaps"), &named));
    // nonResourceURLs: exact, prefix*, *
    let url = |u: &[&str]| PolicyRule {
        verbs: vec!["get".into()],
        non_resource_urls: u.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let nr = |p: &str| Attributes::non_resource("get", p);
    assert!(rule_allows(&nr("/healthz"), &url(&["/healthz"])));
    assert!(!rule_allows(&nr("/healthz/etcd"), &url(&["/healthz"])));
    assert!(rule_allows(&nr("/healthz/etcd"), &url(&["/healthz/*"])));
    assert!(rule_allows(&nr("/metrics"), &url(&["*"])));
    assert!(
        !rule_allows(&nr("/metrics"), &r(&["*"], &["*"], &["*"])),
        "resource rules never match a path"
    );
}

fn rb(ns: &str, name: &str, kind: &str, role: &str, subjects: Value) -> Value {
    json!({"kind": "RoleBinding", "metadata": {"namespace": ns, "name": name},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
           "subjects": subjects})
}

fn with_defaults(roles: &[Value], extra_cr: &[Value], rbs: &[Value], crbs: &[Value]) -> Rbac {
    let mut cr: Vec<Value> = sluice_auth::bootstrap::objects()
        .into_iter()
        .filter(|o| o["kind"] == "ClusterRole")
        .collect();
    cr.extend(extra_cr.iter().cloned());
    let mut crb: Vec<Value> = sluice_auth::bootstrap::objects()
        .into_iter()
        .filter(|o| o["kind"] == "ClusterRoleBinding")
        .collect();
    crb.extend(crbs.iter().cloned());
    Rbac::new(roles, &cr, rbs, &crb)
}

#[test]
fn default_roles_and_bindings() {
    let jane = UserInfo::new("jane", &["system:authenticated"]);
    let rbac = with_defaults(
        &[],
        &[],
        &[rb(
            "dev",
            "jane-view",
            "ClusterRole",
            "view",
            json!([{"kind": "User", "name": "jane"}]),
        )],
        &[],
    );
    let can = |u: &UserInfo, verb: &str, g: &str, res: &str, ns: &str| {
        rbac.authorize(u, &Attributes::resource(verb, g, res, ns))
            .allowed
    };
    // view (aggregated from system:aggregate-to-view) reads but does not write, nor Secrets
    assert!(can(&jane, "get", "", "pods", "dev"));
    assert!(can(&jane, "list", "apps", "deployments", "dev"));
    assert!(can(&jane, "get", "", "pods/log", "dev"));
    assert!(
        can(&jane, "list", "tekton.dev", "pipelineruns", "dev"),
        "sluice:aggregate-to-view"
    );
    assert!(!can(&jane, "create", "", "pods", "dev"));
    assert!(!can(&jane, "get", "", "secrets", "dev"));
    assert!(
        !can(&jane, "get", "", "pods", "prod"),
        "a RoleBinding grants in its namespace only"
    );
    // system:basic-user and system:discovery for every authenticated user
    assert!(can(
        &jane,
        "create",
        "authorization.k8s.io",
        "selfsubjectaccessreviews",
        ""
    ));
    assert!(
        rbac.authorize(&jane, &Attributes::non_resource("get", "/apis/apps"))
            .allowed
    );
    assert!(
        !rbac
            .authorize(&jane, &Attributes::non_resource("get", "/metrics"))
            .allowed
    );
    // system:masters is cluster-admin
    let admin = UserInfo::new("root", &["system:masters"]);
    assert!(can(&admin, "delete", "", "secrets", "any"));
    assert!(
        rbac.authorize(&admin, &Attributes::non_resource("get", "/metrics"))
            .allowed
    );
    // edit is view + writes + secrets; admin is edit + roles
    let rbac = with_defaults(
        &[],
        &[],
        &[
            rb(
                "dev",
                "e",
                "ClusterRole",
                "edit",
                json!([{"kind": "Group", "name": "devs"}]),
            ),
            rb(
                "dev",
                "a",
                "ClusterRole",
                "admin",
                json!([{"kind": "User", "name": "lead"}]),
            ),
        ],
        &[],
    );
    let dev = UserInfo::new("bob", &["devs"]);
    let lead = UserInfo::new("lead", &[]);
    let can = |u: &UserInfo, verb: &str, g: &str, res: &str| {
        rbac.authorize(u, &Attributes::resource(verb, g, res, "dev"))
            .allowed
    };
    assert!(can(&dev, "create", "apps", "deployments"));
    assert!(can(&dev, "get", "", "secrets"));
    assert!(can(&dev, "get", "", "pods"), "edit aggregates view");
    assert!(!can(
        &dev,
        "create",
        "rbac.authorization.k8s.io",
        "rolebindings"
    ));
    assert!(can(
        &lead,
        "create",
        "rbac.authorization.k8s.io",
        "rolebindings"
    ));
    assert!(
        can(&lead, "list", "", "pods"),
        "admin aggregates edit and view"
    );
    assert!(can(&lead, "create", "tekton.dev", "pipelineruns"));
}

#[test]
fn subjects_roles_and_aggregation() {
    let role = json!({"kind": "Role", "metadata": {"namespace": "ci", "name": "runner"},
                      "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["git-creds"]}]});
    let agg = json!({"kind": "ClusterRole", "metadata": {"name": "monitoring"},
                     "aggregationRule": {"clusterRoleSelectors": [{"matchExpressions": [{"key": "team", "operator": "In", "values": ["mon"]}]}]}});
    let part = json!({"kind": "ClusterRole", "metadata": {"name": "mon-part", "labels": {"team": "mon"}},
                      "rules": [{"verbs": ["list"], "apiGroups": [""], "resources": ["nodes"]}]});
    let rbac = with_defaults(
        &[role],
        &[agg, part],
        &[
            // a ServiceAccount subject without namespace is the binding's namespace
            rb(
                "ci",
                "b",
                "Role",
                "runner",
                json!([{"kind": "ServiceAccount", "name": "builder"}]),
            ),
            // a RoleBinding to a Role of another namespace grants nothing
            rb(
                "other",
                "x",
                "Role",
                "runner",
                json!([{"kind": "User", "name": "eve"}]),
            ),
        ],
        &[
            json!({"kind": "ClusterRoleBinding", "metadata": {"name": "mon"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "monitoring"},
                "subjects": [{"kind": "User", "name": "prom"}]}),
        ],
    );
    let sa = UserInfo::new(
        "system:serviceaccount:ci:builder",
        &["system:serviceaccounts", "system:serviceaccounts:ci"],
    );
    let get = |u: &UserInfo, ns: &str, name: &str| {
        rbac.authorize(
            u,
            &Attributes::resource("get", "", "secrets", ns).named(name),
        )
        .allowed
    };
    assert!(get(&sa, "ci", "git-creds"));
    assert!(!get(&sa, "ci", "registry"));
    assert!(!get(&sa, "prod", "git-creds"));
    assert!(!get(
        &UserInfo::new("system:serviceaccount:prod:builder", &[]),
        "ci",
        "git-creds"
    ));
    assert!(!get(&UserInfo::new("eve", &[]), "other", "git-creds"));
    let prom = UserInfo::new("prom", &[]);
    assert!(
        rbac.authorize(&prom, &Attributes::resource("list", "", "nodes", ""))
            .allowed,
        "aggregated rule"
    );
    assert!(
        !rbac
            .authorize(&prom, &Attributes::resource("get", "", "nodes", ""))
            .allowed
    );
    let d = rbac.authorize(&prom, &Attributes::resource("list", "", "nodes", ""));
    assert!(
        d.reason.contains("ClusterRoleBinding \"mon\""),
        "{}",
        d.reason
    );
    // can-i --list: cluster rules plus the namespace's
    let rules = rbac.rules_for(&sa, "ci");
    assert!(
        rules
            .iter()
            .any(|r| r.resource_names == vec!["git-creds".to_string()])
    );
}

#[test]
fn forbidden_messages_as_kube_apiserver() {
    // apiserver/pkg/endpoints/handlers/responsewriters/errors.go forbiddenMessage
    assert_eq!(
        Attributes::resource("list", "", "pods", "ns").forbidden_message("x"),
        r#"User "x" cannot list resource "pods" in API group "" in the namespace "ns""#
    );
    assert_eq!(
        Attributes::resource("get", "", "pods/log", "ns").forbidden_message("x"),
        r#"User "x" cannot get resource "pods/log" in API group "" in the namespace "ns""#
    );
    assert_eq!(
        Attributes::resource("list", "apps", "deployments", "").forbidden_message("x"),
        r#"User "x" cannot list resource "deployments" in API group "apps" at the cluster scope"#
    );
    assert_eq!(
        Attributes::non_resource("get", "/metrics").forbidden_message("x"),
        r#"User "x" cannot get path "/metrics""#
    );
}

#[test]
fn escalation_covers() {
    let owner = vec![
        r(&["get", "list"], &[""], &["pods", "pods/log"]),
        r(&["*"], &["apps"], &["deployments"]),
    ];
    assert!(covers(&owner, &[r(&["get"], &[""], &["pods"])]).0);
    assert!(
        covers(
            &owner,
            &[r(&["create", "delete"], &["apps"], &["deployments"])]
        )
        .0
    );
    let (ok, missing) = covers(&owner, &[r(&["get", "create"], &[""], &["pods"])]);
    assert!(!ok);
    assert_eq!(missing, vec![r(&["create"], &[""], &["pods"])]);
    assert!(
        !covers(&owner, &[r(&["get"], &["*"], &["pods"])]).0,
        "a * group is more than owned"
    );
    let mut named = r(&["get"], &[""], &["secrets"]);
    named.resource_names = vec!["a".into()];
    let mut named_owner = named.clone();
    named_owner.resource_names = vec!["a".into(), "b".into()];
    assert!(covers(&[named_owner.clone()], &[named.clone()]).0);
    assert!(
        !covers(&[named_owner], &[r(&["get"], &[""], &["secrets"])]).0,
        "unnamed is all names"
    );
    assert!(covers(&[r(&["*"], &["*"], &["*"])], &[named]).0);
    assert!(
        covers(
            &[r(&["get"], &[""], &["*/log"])],
            &[r(&["get"], &[""], &["pods/log"])]
        )
        .0
    );
}

#[test]
fn validation_of_rbac_objects() {
    let errs = validate_object(
        &json!({"kind": "Role", "rules": [{"verbs": [], "apiGroups": [""], "resources": ["pods"]},
                                                                  {"verbs": ["get"], "nonResourceURLs": ["/x"]}]}),
    );
    let paths: Vec<&str> = errs.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(paths, vec!["rules[0].verbs", "rules[1].nonResourceURLs"]);
    let errs = validate_object(
        &json!({"kind": "ClusterRoleBinding", "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "x"},
                                       "subjects": [{"kind": "ServiceAccount", "name": "sa"}, {"kind": "Robot", "name": "r"}]}),
    );
    let paths: Vec<&str> = errs.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        paths,
        vec!["roleRef.kind", "subjects[0].namespace", "subjects[1].kind"]
    );
}
