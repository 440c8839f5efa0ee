//! Who a run or an EventListener acts as: the Secrets a TaskRun would read for its
//! ServiceAccount (credentials, `secret` workspaces and volumes, `secretKeyRef`/`secretRef`
//! env) and the RBAC check of each through a SubjectAccessReview
//! (`authorization.k8s.io/v1`), on the embedded server or any cluster.
//!
//! Upstream (tektoncd/pipeline docs/auth.md "Authentication at Run Time"): a Run gains
//! access to credential Secrets through its ServiceAccount's `secrets`; tektoncd/triggers
//! docs/eventlisteners.md "ServiceAccount": the EventListener creates the resources of its
//! TriggerTemplates with its ServiceAccount's permissions.
//!
//! The rule (ARCHITECTURE.md `sluice-kube`): a run's ServiceAccount must be allowed to
//! `get` every Secret the run reads, and an EventListener's to `create` every resource its
//! templates render, except the namespace's `default` ServiceAccount while no RoleBinding
//! or ClusterRoleBinding names it (Tekton's behaviour for runs that name no ServiceAccount,
//! kept so existing pipelines run unchanged; binding it opts it into the check).

use std::collections::BTreeSet;

use kube::Client;
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use kube::core::ApiResource;
use serde_json::{Value, json};
use sluice_auth::rbac::{Attributes, service_account_username};

use crate::Error;

/// The ServiceAccount a run or listener names, `default` when empty (Tekton's and
/// Triggers' default).
pub fn service_account_or_default(name: &str) -> &str {
    if name.is_empty() { "default" } else { name }
}

/// The user and groups of a ServiceAccount as kube-apiserver authenticates its tokens.
pub fn service_account_user(namespace: &str, name: &str) -> (String, Vec<String>) {
    (
        service_account_username(namespace, name),
        vec![
            "system:serviceaccounts".to_owned(),
            format!("system:serviceaccounts:{namespace}"),
            "system:authenticated".to_owned(),
        ],
    )
}

/// The SubjectAccessReview asking whether the ServiceAccount may `verb` the resource.
pub fn review(namespace: &str, sa: &str, a: &Attributes) -> Value {
    let (user, groups) = service_account_user(namespace, sa);
    let mut ra = json!({
        "verb": a.verb, "group": a.api_group, "resource": a.resource, "namespace": a.namespace,
    });
    if !a.name.is_empty() {
        ra["name"] = json!(a.name);
    }
    json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "metadata": {},
        "spec": {"user": user, "groups": groups, "resourceAttributes": ra},
    })
}

/// kube-apiserver's forbidden text for the ServiceAccount (`secrets "x" is forbidden: User
/// "system:serviceaccount:ns:sa" cannot get resource "secrets" in API group "" in the
/// namespace "ns"`).
pub fn forbidden(namespace: &str, sa: &str, a: &Attributes) -> String {
    let qualified = if a.api_group.is_empty() {
        a.resource.clone()
    } else {
        format!("{}.{}", a.resource, a.api_group)
    };
    let who = service_account_username(namespace, sa);
    if a.name.is_empty() {
        format!("{qualified} is forbidden: {}", a.forbidden_message(&who))
    } else {
        format!(
            "{qualified} {:?} is forbidden: {}",
            a.name,
            a.forbidden_message(&who)
        )
    }
}

/// Whether a (Cluster)RoleBinding names the ServiceAccount as a subject (a RoleBinding's
/// subject without a namespace is of the binding's namespace).
pub fn binding_names(binding: &Value, namespace: &str, sa: &str) -> bool {
    let own_ns = binding
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    binding
        .get("subjects")
        .and_then(Value::as_array)
        .is_some_and(|subs| {
            subs.iter().any(|s| {
                let ns = s
                    .get("namespace")
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty())
                    .unwrap_or(own_ns);
                s.get("kind").and_then(Value::as_str) == Some("ServiceAccount")
                    && s.get("name").and_then(Value::as_str) == Some(sa)
                    && ns == namespace
            })
        })
}

/// The Secrets a TaskRun reads besides credentials: `secretKeyRef`/`secretRef` of env and
/// envFrom, `secret` volumes and projected sources, in its task spec, pod template and
/// workspace bindings (JSON as written; any depth).
pub fn referenced_secrets(values: &[&Value]) -> BTreeSet<String> {
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let name = match k.as_str() {
                        "secretKeyRef" | "secretRef" => x.get("name"),
                        "secret" => x.get("secretName").or_else(|| x.get("name")),
                        _ => None,
                    };
                    if let Some(n) = name.and_then(Value::as_str).filter(|n| !n.is_empty()) {
                        out.insert(n.to_owned());
                    }
                    walk(x, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    for v in values {
        walk(v, &mut out);
    }
    out
}

/// Whether a Secret becomes credentials (`sluice_exec::creds`): annotated
/// `tekton.dev/git-*`/`tekton.dev/docker-*`, or a dockerconfigjson.
fn is_credential(s: &sluice_pipeline::plan::SecretData) -> bool {
    s.type_ == "kubernetes.io/dockerconfigjson"
        || s.annotations
            .keys()
            .any(|k| k.starts_with("tekton.dev/git-") || k.starts_with("tekton.dev/docker-"))
}

/// Every Secret a TaskRun of `sa` reads: the credential Secrets of the ServiceAccount's
/// `secrets` that exist (those upstream's creds-init mounts) plus those it references.
pub fn secrets_read(
    catalog: &sluice_pipeline::plan::Catalog,
    sa: &str,
    referenced: BTreeSet<String>,
) -> BTreeSet<String> {
    let mut out = referenced;
    if let Some(names) = catalog.service_accounts.get(sa) {
        out.extend(
            names
                .iter()
                .filter(|n| catalog.secrets.get(*n).is_some_and(is_credential))
                .cloned(),
        );
    }
    out
}

fn ar(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: if group.is_empty() {
            version.into()
        } else {
            format!("{group}/{version}")
        },
        kind: kind.into(),
        plural: plural.into(),
    }
}

/// Whether the check applies to the ServiceAccount: always, but for `default` only while a
/// binding names it.
pub async fn enforced(client: &Client, namespace: &str, sa: &str) -> Result<bool, Error> {
    if sa != "default" {
        return Ok(true);
    }
    let lp = ListParams::default();
    let rb: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        namespace,
        &ar(
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            "rolebindings",
        ),
    );
    let crb: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ar(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
        ),
    );
    for api in [rb, crb] {
        let list = crate::retry(|| api.list(&lp)).await?;
        for b in list.items {
            if binding_names(&serde_json::to_value(&b)?, namespace, sa) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Asks the API (SubjectAccessReview) whether the ServiceAccount may do `a`.
pub async fn allowed(
    client: &Client,
    namespace: &str,
    sa: &str,
    a: &Attributes,
) -> Result<bool, Error> {
    let api: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ar(
            "authorization.k8s.io",
            "v1",
            "SubjectAccessReview",
            "subjectaccessreviews",
        ),
    );
    let body: DynamicObject = serde_json::from_value(review(namespace, sa, a))?;
    let pp = PostParams::default();
    let r = match crate::retry(|| api.create(&pp, &body)).await {
        Ok(r) => r,
        Err(kube::Error::Api(e)) if e.code == 403 => {
            return Err(Error::Other(format!(
                "the controllers' credentials may not create subjectaccessreviews.authorization.k8s.io (bind them to ClusterRole system:auth-delegator): {}",
                e.message
            )));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(r.data
        .pointer("/status/allowed")
        .and_then(Value::as_bool)
        .unwrap_or(false))
}

/// The first of `checks` the ServiceAccount may not do, as kube's forbidden text; `None`
/// when all are allowed or the check does not apply to it.
pub async fn first_denied(
    client: &Client,
    namespace: &str,
    sa: &str,
    checks: &[Attributes],
) -> Result<Option<String>, Error> {
    if checks.is_empty() || !enforced(client, namespace, sa).await? {
        return Ok(None);
    }
    for a in checks {
        if !allowed(client, namespace, sa, a).await? {
            return Ok(Some(forbidden(namespace, sa, a)));
        }
    }
    Ok(None)
}

/// The checks of reading each Secret.
pub fn secret_gets(namespace: &str, names: &BTreeSet<String>) -> Vec<Attributes> {
    names
        .iter()
        .map(|n| Attributes::resource("get", "", "secrets", namespace).named(n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_pipeline::plan::{Catalog, SecretData};

    #[test]
    fn default_service_account() {
        // tektoncd/pipeline docs/taskruns.md: with no serviceAccountName the run uses the
        // namespace's `default`; tektoncd/triggers docs/eventlisteners.md likewise.
        assert_eq!(service_account_or_default(""), "default");
        assert_eq!(service_account_or_default("bot"), "bot");
    }

    #[test]
    fn user_and_groups_as_kube_apiserver() {
        let (u, g) = service_account_user("ci", "bot");
        assert_eq!(u, "system:serviceaccount:ci:bot");
        assert_eq!(
            g,
            [
                "system:serviceaccounts",
                "system:serviceaccounts:ci",
                "system:authenticated"
            ]
        );
    }

    #[test]
    fn review_shape() {
        let a = Attributes::resource("get", "", "secrets", "ci").named("git-creds");
        let r = review("ci", "bot", &a);
        assert_eq!(r["kind"], "SubjectAccessReview");
        assert_eq!(r["spec"]["user"], "system:serviceaccount:ci:bot");
        assert_eq!(
            r["spec"]["resourceAttributes"],
            json!({"verb": "get", "group": "", "resource": "secrets", "namespace": "ci", "name": "git-creds"})
        );
    }

    #[test]
    fn forbidden_text_is_kubes() {
        let a = Attributes::resource("get", "", "secrets", "ci").named("git-creds");
        assert_eq!(
            forbidden("ci", "bot", &a),
            r#"secrets "git-creds" is forbidden: User "system:serviceaccount:ci:bot" cannot get resource "secrets" in API group "" in the namespace "ci""#
        );
        let c = Attributes::resource("create", "tekton.dev", "pipelineruns", "ci");
        assert_eq!(
            forbidden("ci", "el", &c),
            r#"pipelineruns.tekton.dev is forbidden: User "system:serviceaccount:ci:el" cannot create resource "pipelineruns" in API group "tekton.dev" in the namespace "ci""#
        );
    }

    #[test]
    fn bindings_naming_a_service_account() {
        let rb = json!({"metadata": {"namespace": "ci"},
            "subjects": [{"kind": "ServiceAccount", "name": "default"}]});
        assert!(binding_names(&rb, "ci", "default"));
        assert!(!binding_names(&rb, "other", "default"));
        let crb = json!({"metadata": {},
            "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "ci"},
                         {"kind": "Group", "name": "system:serviceaccounts"}]});
        assert!(binding_names(&crb, "ci", "default"));
        assert!(!binding_names(&crb, "ci", "bot"));
        assert!(!binding_names(&json!({"subjects": "x"}), "ci", "default"));
    }

    #[test]
    fn secrets_a_run_reads() {
        let spec = json!({"steps": [
            {"env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s1", "key": "k"}}},
                     {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}],
             "envFrom": [{"secretRef": {"name": "s2"}}]}],
            "volumes": [{"name": "v", "secret": {"secretName": "s3"}},
                        {"name": "p", "projected": {"sources": [{"secret": {"name": "s4"}}]}}]});
        let ws = json!([{"name": "w", "secret": {"secretName": "s5"}}]);
        let refs = referenced_secrets(&[&spec, &ws]);
        assert_eq!(
            refs.iter().map(String::as_str).collect::<Vec<_>>(),
            ["s1", "s2", "s3", "s4", "s5"]
        );
        // credentials: the ServiceAccount's listed Secrets that exist and that creds-init
        // mounts (tektoncd/pipeline pkg/pod/creds_init.go: `sa.Secrets` whose annotations a
        // builder matches)
        let mut cat = Catalog::default();
        cat.service_accounts.insert(
            "bot".into(),
            vec!["git-creds".into(), "gone".into(), "plain".into()],
        );
        let mut git = SecretData::default();
        git.annotations
            .insert("tekton.dev/git-0".into(), "https://github.com".into());
        cat.secrets.insert("git-creds".into(), git);
        cat.secrets.insert("plain".into(), SecretData::default());
        let all = secrets_read(&cat, "bot", refs.clone());
        assert!(all.contains("git-creds") && !all.contains("gone") && !all.contains("plain"));
        assert_eq!(secrets_read(&cat, "other", refs.clone()), refs);
        let checks = secret_gets("ci", &all);
        assert_eq!(checks.len(), 6);
        assert!(
            checks
                .iter()
                .all(|c| c.verb == "get" && c.resource == "secrets")
        );
    }

    proptest::proptest! {
        /// A reference at any depth under arrays and objects is found, whatever other keys
        /// surround it; unrelated values add nothing.
        #[test]
        fn references_found_at_any_depth(
            name in "[a-z][a-z0-9-]{0,20}",
            path in proptest::collection::vec(proptest::option::of("[a-zA-Z]{1,8}"), 0..12),
            key in proptest::sample::select(vec!["secretKeyRef", "secretRef", "secret"]),
            noise in "[a-z]{0,8}",
        ) {
            let inner = if key == "secret" {
                json!({"secretName": name})
            } else {
                json!({"name": name})
            };
            let mut v = json!({ key: inner, "other": {"configMapKeyRef": {"name": noise}} });
            for p in path.iter().rev() {
                v = match p {
                    Some(k) => json!({ k.as_str(): v, "noise-key": noise }),
                    None => json!([noise, v]),
                };
            }
            let found = referenced_secrets(&[&v]);
            proptest::prop_assert!(found.contains(&name));
            proptest::prop_assert_eq!(found.len(), 1);
        }
    }
}
