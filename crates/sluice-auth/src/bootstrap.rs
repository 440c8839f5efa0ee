//! The default ClusterRoles and ClusterRoleBindings kube-apiserver reconciles on start
//! (kubernetes plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go): cluster-admin
//! (bound to `system:masters`), the user-facing admin/edit/view aggregated from
//! `system:aggregate-to-*`, system:basic-user, system:discovery and
//! system:public-info-viewer; plus `sluice:aggregate-to-*` for the CRD groups Sluice serves
//! (Tekton, Triggers, Argo CD, Argo Rollouts, Kyverno), as their upstream installs ship
//! aggregate-to-view/edit/admin ClusterRoles.

use serde_json::{Value, json};

const RW: &[&str] = &["create", "delete", "deletecollection", "patch", "update"];
const RO: &[&str] = &["get", "list", "watch"];

fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> Value {
    json!({"verbs": verbs, "apiGroups": groups, "resources": resources})
}

fn url_rule(verbs: &[&str], urls: &[&str]) -> Value {
    json!({"verbs": verbs, "nonResourceURLs": urls})
}

fn cluster_role(name: &str, labels: Value, rules: Vec<Value>) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": name, "labels": labels,
                     "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
        "rules": rules,
    })
}

fn aggregated(name: &str, labels: Value, selector: &str) -> Value {
    let mut c = cluster_role(name, labels, vec![]);
    c["aggregationRule"] = json!({"clusterRoleSelectors": [{"matchLabels": {selector: "true"}}]});
    c
}

fn binding(name: &str, role: &str, groups: &[&str]) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
                     "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": groups.iter().map(|g| json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g})).collect::<Vec<_>>(),
    })
}

fn cat(a: &[&str], b: &[&str]) -> Vec<String> {
    a.iter().chain(b).map(|s| (*s).to_owned()).collect()
}

/// The default ClusterRoles, then the default ClusterRoleBindings.
pub fn objects() -> Vec<Value> {
    let boot = json!({"kubernetes.io/bootstrapping": "rbac-defaults"});
    let to = |what: &str| {
        json!({"kubernetes.io/bootstrapping": "rbac-defaults",
               format!("rbac.authorization.k8s.io/aggregate-to-{what}"): "true"})
    };
    let rw_ro: Vec<String> = cat(RW, RO);
    let rw_ro: Vec<&str> = rw_ro.iter().map(String::as_str).collect();
    let core_edit = [
        "pods",
        "pods/attach",
        "pods/proxy",
        "pods/exec",
        "pods/portforward",
        "replicationcontrollers",
        "replicationcontrollers/scale",
        "serviceaccounts",
        "services",
        "services/proxy",
        "persistentvolumeclaims",
        "configmaps",
        "secrets",
        "events",
    ];
    let sluice_groups = [
        "tekton.dev",
        "triggers.tekton.dev",
        "argoproj.io",
        "kyverno.io",
        "wgpolicyk8s.io",
    ];
    let sluice_to =
        |what: &str| json!({format!("rbac.authorization.k8s.io/aggregate-to-{what}"): "true"});
    vec![
        cluster_role(
            "cluster-admin",
            boot.clone(),
            vec![rule(&["*"], &["*"], &["*"]), url_rule(&["*"], &["*"])],
        ),
        aggregated(
            "admin",
            boot.clone(),
            "rbac.authorization.k8s.io/aggregate-to-admin",
        ),
        aggregated(
            "edit",
            to("admin"),
            "rbac.authorization.k8s.io/aggregate-to-edit",
        ),
        aggregated(
            "view",
            to("edit"),
            "rbac.authorization.k8s.io/aggregate-to-view",
        ),
        cluster_role(
            "system:aggregate-to-admin",
            to("admin"),
            vec![
                rule(
                    &["create"],
                    &["authorization.k8s.io"],
                    &["localsubjectaccessreviews"],
                ),
                rule(
                    &rw_ro,
                    &["rbac.authorization.k8s.io"],
                    &["rolebindings", "roles"],
                ),
            ],
        ),
        cluster_role(
            "system:aggregate-to-edit",
            to("edit"),
            vec![
                rule(&["impersonate"], &[""], &["serviceaccounts"]),
                rule(&rw_ro, &[""], &core_edit),
                rule(&["create"], &[""], &["serviceaccounts/token"]),
                rule(
                    &rw_ro,
                    &["apps"],
                    &[
                        "daemonsets",
                        "deployments",
                        "deployments/rollback",
                        "deployments/scale",
                        "replicasets",
                        "replicasets/scale",
                        "statefulsets",
                        "statefulsets/scale",
                    ],
                ),
                rule(&rw_ro, &["autoscaling"], &["horizontalpodautoscalers"]),
                rule(&rw_ro, &["batch"], &["cronjobs", "jobs"]),
                rule(&rw_ro, &["policy"], &["poddisruptionbudgets"]),
                rule(
                    &rw_ro,
                    &["networking.k8s.io"],
                    &["ingresses", "networkpolicies"],
                ),
                rule(&rw_ro, &["coordination.k8s.io"], &["leases"]),
            ],
        ),
        cluster_role(
            "system:aggregate-to-view",
            to("view"),
            vec![
                rule(
                    RO,
                    &[""],
                    &[
                        "pods",
                        "replicationcontrollers",
                        "replicationcontrollers/scale",
                        "serviceaccounts",
                        "services",
                        "services/status",
                        "endpoints",
                        "persistentvolumeclaims",
                        "persistentvolumeclaims/status",
                        "configmaps",
                    ],
                ),
                rule(
                    RO,
                    &[""],
                    &[
                        "limitranges",
                        "resourcequotas",
                        "bindings",
                        "events",
                        "pods/status",
                        "resourcequotas/status",
                        "namespaces/status",
                        "replicationcontrollers/status",
                        "pods/log",
                    ],
                ),
                rule(RO, &[""], &["namespaces"]),
                rule(RO, &["discovery.k8s.io"], &["endpointslices"]),
                rule(
                    RO,
                    &["apps"],
                    &[
                        "controllerrevisions",
                        "statefulsets",
                        "statefulsets/scale",
                        "statefulsets/status",
                        "daemonsets",
                        "daemonsets/status",
                        "deployments",
                        "deployments/scale",
                        "deployments/status",
                        "replicasets",
                        "replicasets/scale",
                        "replicasets/status",
                    ],
                ),
                rule(
                    RO,
                    &["autoscaling"],
                    &[
                        "horizontalpodautoscalers",
                        "horizontalpodautoscalers/status",
                    ],
                ),
                rule(
                    RO,
                    &["batch"],
                    &["cronjobs", "cronjobs/status", "jobs", "jobs/status"],
                ),
                rule(
                    RO,
                    &["policy"],
                    &["poddisruptionbudgets", "poddisruptionbudgets/status"],
                ),
                rule(
                    RO,
                    &["networking.k8s.io"],
                    &["ingresses", "ingresses/status", "networkpolicies"],
                ),
            ],
        ),
        cluster_role(
            "sluice:aggregate-to-edit",
            sluice_to("edit"),
            vec![rule(&rw_ro, &sluice_groups, &["*"])],
        ),
        cluster_role(
            "sluice:aggregate-to-view",
            sluice_to("view"),
            vec![rule(RO, &sluice_groups, &["*"])],
        ),
        // Tekton Triggers' release installs these for EventListener ServiceAccounts to be
        // bound to (tektoncd/triggers config/200-clusterrole.yaml, examples/rbac.yaml,
        // docs/eventlisteners.md "ServiceAccount"): Sluice's sink creates a template's
        // resources only as the listener's ServiceAccount may (sluice-kube `access`).
        cluster_role(
            "tekton-triggers-eventlistener-roles",
            json!({"app.kubernetes.io/part-of": "tekton-triggers"}),
            vec![
                rule(
                    RO,
                    &["triggers.tekton.dev"],
                    &[
                        "eventlisteners",
                        "triggerbindings",
                        "interceptors",
                        "triggertemplates",
                        "triggers",
                    ],
                ),
                rule(RO, &[""], &["configmaps", "secrets"]),
                rule(
                    &["create"],
                    &["tekton.dev"],
                    &["pipelineruns", "pipelineresources", "taskruns"],
                ),
                rule(&["impersonate"], &[""], &["serviceaccounts"]),
                rule(&["create", "patch"], &[""], &["events"]),
            ],
        ),
        cluster_role(
            "tekton-triggers-eventlistener-clusterroles",
            json!({"app.kubernetes.io/part-of": "tekton-triggers"}),
            vec![
                rule(
                    RO,
                    &["triggers.tekton.dev"],
                    &["clustertriggerbindings", "clusterinterceptors"],
                ),
                rule(RO, &[""], &["secrets"]),
            ],
        ),
        cluster_role(
            "system:basic-user",
            boot.clone(),
            vec![
                rule(
                    &["create"],
                    &["authorization.k8s.io"],
                    &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                ),
                rule(
                    &["create"],
                    &["authentication.k8s.io"],
                    &["selfsubjectreviews"],
                ),
            ],
        ),
        cluster_role(
            "system:discovery",
            boot.clone(),
            vec![url_rule(
                &["get"],
                &[
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                    "/healthz",
                    "/livez",
                    "/openapi",
                    "/openapi/*",
                    "/readyz",
                    "/version",
                    "/version/",
                ],
            )],
        ),
        cluster_role(
            "system:public-info-viewer",
            boot.clone(),
            vec![url_rule(
                &["get"],
                &["/healthz", "/livez", "/readyz", "/version", "/version/"],
            )],
        ),
        binding("cluster-admin", "cluster-admin", &["system:masters"]),
        binding(
            "system:basic-user",
            "system:basic-user",
            &["system:authenticated"],
        ),
        binding(
            "system:discovery",
            "system:discovery",
            &["system:authenticated"],
        ),
        binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            &["system:authenticated", "system:unauthenticated"],
        ),
    ]
    .into_iter()
    .chain(controller_objects())
    .collect()
}

/// The namespace of the controllers' ServiceAccounts (kube-system's role for Sluice).
pub const CONTROLLER_NAMESPACE: &str = "sluice-system";

/// The controllers of `sluice serve`, each acting as its own ServiceAccount
/// (`system:serviceaccount:sluice-system:NAME`) bound to ClusterRole
/// `sluice:controller:NAME`, as kube-controller-manager's controllers are bound to their
/// `system:controller:*` roles.
pub const CONTROLLERS: &[&str] = &[
    "pipelines",
    "triggers",
    "rollouts",
    "gitops",
    "notifications",
];

/// The identity controller `name` acts as.
pub fn controller_user(name: &str) -> crate::UserInfo {
    crate::UserInfo::new(
        format!("system:serviceaccount:{CONTROLLER_NAMESPACE}:{name}"),
        &[
            "system:serviceaccounts",
            &format!("system:serviceaccounts:{CONTROLLER_NAMESPACE}"),
            "system:authenticated",
        ],
    )
}

/// The rules of controller `name`'s ClusterRole: what it reads and writes, from the
/// upstream installs it replaces where they are narrower than `*`.
fn controller_rules(name: &str) -> Vec<Value> {
    let all = &["*"][..];
    let rw_ro: Vec<String> = cat(RW, RO);
    let rw_ro: Vec<&str> = rw_ro.iter().map(String::as_str).collect();
    let events = rule(
        &["create", "patch", "update"],
        &["", "events.k8s.io"],
        &["events"],
    );
    let sar = rule(
        &["create"],
        &["authorization.k8s.io"],
        &["subjectaccessreviews"],
    );
    match name {
        // tekton-pipelines-controller-cluster-access and -tenant-access (Tekton's
        // config/200-clusterrole.yaml): runs and their definitions, the TaskRuns' Pods,
        // what steps mount (read), claims of workspaces; a ServiceAccount's Secrets are
        // checked by a SubjectAccessReview; a run's end notifies (argocd-notifications-cm)
        "pipelines" => vec![
            rule(all, &["tekton.dev", "resolution.tekton.dev"], all),
            rule(
                &["get", "list", "watch", "update", "patch"],
                &["triggers.tekton.dev"],
                &["eventlisteners", "eventlisteners/status"],
            ),
            rule(
                &rw_ro,
                &[""],
                &["pods", "pods/status", "persistentvolumeclaims"],
            ),
            rule(
                RO,
                &[""],
                &[
                    "pods/log",
                    "configmaps",
                    "secrets",
                    "serviceaccounts",
                    "namespaces",
                    "limitranges",
                ],
            ),
            // whether a run's `default` ServiceAccount is named by a binding
            rule(
                RO,
                &["rbac.authorization.k8s.io"],
                &["rolebindings", "clusterrolebindings"],
            ),
            events.clone(),
            sar.clone(),
        ],
        // the EventListeners' sink: reads the listeners and their parts, keeps delivery
        // records (ConfigMaps), and creates what a TriggerTemplate makes once a
        // SubjectAccessReview said the listener's ServiceAccount may (upstream: the
        // listener's own Pod, as that ServiceAccount)
        "triggers" => vec![
            rule(RO, &["triggers.tekton.dev"], all),
            rule(&rw_ro, &[""], &["configmaps"]),
            rule(RO, &[""], &["secrets", "serviceaccounts"]),
            rule(&["create"], all, all),
            rule(
                RO,
                &["rbac.authorization.k8s.io"],
                &["rolebindings", "clusterrolebindings"],
            ),
            events.clone(),
            sar.clone(),
        ],
        // argo-rollouts' ClusterRole (manifests/role/argo-rollouts-clusterrole.yaml)
        "rollouts" => vec![
            rule(
                all,
                &["argoproj.io"],
                &[
                    "rollouts",
                    "rollouts/status",
                    "rollouts/finalizers",
                    "analysisruns",
                    "analysisruns/status",
                    "analysisruns/finalizers",
                    "experiments",
                    "experiments/status",
                    "experiments/finalizers",
                ],
            ),
            rule(
                RO,
                &["argoproj.io"],
                &["analysistemplates", "clusteranalysistemplates"],
            ),
            rule(all, &["apps"], &["replicasets"]),
            rule(RO, &["apps"], &["deployments"]),
            rule(&rw_ro, &[""], &["services"]),
            rule(
                &["get", "list", "watch", "delete", "patch", "update"],
                &[""],
                &["pods"],
            ),
            rule(RO, &[""], &["configmaps", "secrets"]),
            rule(&rw_ro, &["networking.k8s.io", "extensions"], &["ingresses"]),
            rule(all, &["batch"], &["jobs"]),
            events.clone(),
        ],
        // argocd-application-controller and -applicationset-controller: Argo CD deploys
        // anything, so upstream's ClusterRole is `*` on everything
        "gitops" => vec![rule(all, all, all), url_rule(all, all)],
        // argocd-notifications-controller: Applications (the notified-annotation),
        // PipelineRuns, its ConfigMap and Secret
        "notifications" => vec![
            rule(
                &["get", "list", "watch", "patch", "update"],
                &["argoproj.io"],
                &["applications", "appprojects"],
            ),
            rule(
                RO,
                &["tekton.dev"],
                &["pipelineruns", "pipelines", "taskruns"],
            ),
            rule(RO, &[""], &["configmaps", "secrets"]),
            events,
        ],
        _ => Vec::new(),
    }
}

/// The controllers' ClusterRoles and their ClusterRoleBindings.
fn controller_objects() -> Vec<Value> {
    let labels = json!({"app.kubernetes.io/part-of": "sluice"});
    let mut out = Vec::new();
    for name in CONTROLLERS {
        let role = format!("sluice:controller:{name}");
        out.push(cluster_role(&role, labels.clone(), controller_rules(name)));
        out.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": role, "labels": labels,
                         "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": CONTROLLER_NAMESPACE}],
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UserInfo;
    use crate::rbac::{Attributes, Rbac};

    fn default_rbac() -> Rbac {
        let all = objects();
        let pick =
            |k: &str| -> Vec<Value> { all.iter().filter(|o| o["kind"] == k).cloned().collect() };
        Rbac::new(&[], &pick("ClusterRole"), &[], &pick("ClusterRoleBinding"))
    }

    #[test]
    fn controllers_hold_only_their_own_rights() {
        let rbac = default_rbac();
        let can = |ctl: &str, verb: &str, g: &str, res: &str, ns: &str| {
            rbac.authorize(
                &controller_user(ctl),
                &Attributes::resource(verb, g, res, ns),
            )
            .allowed
        };
        // each does its job
        assert!(can(
            "pipelines",
            "update",
            "tekton.dev",
            "pipelineruns/status",
            "ci"
        ));
        assert!(can("pipelines", "create", "", "pods", "ci"));
        assert!(can("pipelines", "get", "", "secrets", "ci"));
        assert!(can(
            "pipelines",
            "create",
            "authorization.k8s.io",
            "subjectaccessreviews",
            ""
        ));
        assert!(can(
            "triggers",
            "create",
            "tekton.dev",
            "pipelineruns",
            "ci"
        ));
        assert!(can("triggers", "delete", "", "configmaps", "ci"));
        assert!(can("rollouts", "patch", "apps", "replicasets", "prod"));
        assert!(can("rollouts", "create", "batch", "jobs", "prod"));
        assert!(can("gitops", "delete", "apps", "deployments", "prod"));
        assert!(can(
            "notifications",
            "patch",
            "argoproj.io",
            "applications",
            "argocd"
        ));
        // and nothing beside it
        assert!(!can("pipelines", "create", "", "secrets", "ci"));
        assert!(!can(
            "pipelines",
            "get",
            "argoproj.io",
            "applications",
            "argocd"
        ));
        assert!(!can(
            "pipelines",
            "create",
            "rbac.authorization.k8s.io",
            "clusterrolebindings",
            ""
        ));
        assert!(!can(
            "triggers",
            "delete",
            "tekton.dev",
            "pipelineruns",
            "ci"
        ));
        assert!(!can("triggers", "update", "", "secrets", "ci"));
        assert!(!can("rollouts", "get", "tekton.dev", "pipelineruns", "ci"));
        assert!(!can("rollouts", "delete", "", "secrets", "prod"));
        assert!(!can(
            "notifications",
            "delete",
            "argoproj.io",
            "applications",
            "argocd"
        ));
        assert!(!can("notifications", "create", "", "pods", "argocd"));
        // an unknown controller name holds nothing
        assert!(!can("nobody", "get", "", "configmaps", "ci"));
    }

    #[test]
    fn triggers_eventlistener_roles_let_a_bound_listener_create_runs() {
        // tektoncd/triggers examples/rbac.yaml: a RoleBinding of the EventListener's
        // ServiceAccount to ClusterRole tekton-triggers-eventlistener-roles lets it create
        // the PipelineRuns of its templates in that namespace, nowhere else.
        let all = objects();
        let cr: Vec<Value> = all
            .iter()
            .filter(|o| o["kind"] == "ClusterRole")
            .cloned()
            .collect();
        let crb: Vec<Value> = all
            .iter()
            .filter(|o| o["kind"] == "ClusterRoleBinding")
            .cloned()
            .collect();
        let rb = json!({"kind": "RoleBinding",
            "metadata": {"namespace": "ci", "name": "el"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "tekton-triggers-eventlistener-roles"},
            "subjects": [{"kind": "ServiceAccount", "name": "el-sa", "namespace": "ci"}]});
        let rbac = Rbac::new(&[], &cr, &[rb], &crb);
        let sa = UserInfo::new(
            "system:serviceaccount:ci:el-sa",
            &["system:serviceaccounts", "system:serviceaccounts:ci"],
        );
        let can = |verb: &str, g: &str, res: &str, ns: &str| {
            rbac.authorize(&sa, &Attributes::resource(verb, g, res, ns))
                .allowed
        };
        assert!(can("create", "tekton.dev", "pipelineruns", "ci"));
        assert!(can("get", "triggers.tekton.dev", "triggertemplates", "ci"));
        assert!(!can("create", "tekton.dev", "pipelineruns", "other"));
        assert!(!can("delete", "tekton.dev", "pipelineruns", "ci"));
        let other = UserInfo::new(
            "system:serviceaccount:ci:default",
            &["system:serviceaccounts", "system:serviceaccounts:ci"],
        );
        assert!(
            !rbac
                .authorize(
                    &other,
                    &Attributes::resource("create", "tekton.dev", "pipelineruns", "ci")
                )
                .allowed
        );
    }
}
