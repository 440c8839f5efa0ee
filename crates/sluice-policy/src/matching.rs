//! `match` and `exclude` (kyverno/kyverno `pkg/engine/utils/match.go`,
//! `pkg/utils/kube/kind.go`): kinds (`Pod`, `v1/Pod`, `apps/v1/Deployment`, `apps/*/Deployment`,
//! `*`, `Pod/status`), names, namespaces, annotations, selector, namespaceSelector,
//! operations, and user info (roles, clusterRoles, subjects). Wildcards everywhere a value is
//! a name.

use serde_json::{Map, Value};
use sluice_apis::kyverno::rule::{MatchResources, ResourceDescription, Subject};

use crate::wildcard;

/// The requesting user, as an admission request carries it (`userInfo`), plus the roles and
/// cluster roles Kyverno resolves for it.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub cluster_roles: Vec<String>,
}

/// What matching looks at.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub object: &'a Value,
    pub operation: &'a str,
    pub user: &'a UserInfo,
    pub namespace_labels: Option<&'a Map<String, Value>>,
    /// The kind the request is for when it differs from the object's (a subresource request:
    /// a `Scale` object for `apps/v1` `Deployment` subresource `scale`).
    pub request_kind: Option<&'a RequestKind>,
}

/// The resource kind of a request (`AdmissionRequest.kind` plus `subResource`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestKind {
    /// `group/version` or `version` for the core group.
    pub api_version: String,
    pub kind: String,
    pub subresource: String,
}

fn str_at<'v>(v: &'v Value, ptr: &str) -> &'v str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

/// `checkKind`: does `selector` name the object's kind?
pub fn kind_matches(selector: &str, api_version: &str, kind: &str) -> bool {
    kind_matches_sub(selector, api_version, kind, "")
}

/// `checkKind` for a request on `subresource` of `kind` (empty: the resource itself).
/// Kyverno matches `Pod/ephemeralcontainers` requests with a plain `Pod` selector too.
pub fn kind_matches_sub(selector: &str, api_version: &str, kind: &str, subresource: &str) -> bool {
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    if selector == "*" {
        return true;
    }
    let parts: Vec<&str> = selector.split('/').collect();
    let (g, v, k, sub) = match parts.as_slice() {
        [k] => ("*", "*", *k, ""),
        [a, b] => {
            // `v1/Pod` (version/kind) or `Pod/status` (kind/subresource)
            if b.chars().next().is_some_and(char::is_uppercase) || *b == "*" {
                ("*", *a, *b, "")
            } else {
                ("*", "*", *a, *b)
            }
        }
        [a, b, c] => (*a, *b, *c, ""),
        [a, b, c, d] => (*a, *b, *c, *d),
        _ => return false,
    };
    // Subresource selectors match only requests for that subresource (and `*` any).
    let sub_ok = if sub.is_empty() {
        subresource.is_empty() || subresource == "ephemeralcontainers"
    } else {
        wildcard::matches(sub, subresource)
    };
    if !sub_ok {
        return false;
    }
    // `v1/Pod`: the core group's version
    let group_ok = if parts.len() == 2 && v != "*" {
        group.is_empty() && wildcard::matches(v, version)
    } else {
        wildcard::matches(g, group) && wildcard::matches(v, version)
    };
    group_ok && wildcard::matches(k, kind)
}

fn labels_of(v: &Value) -> Map<String, Value> {
    v.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// A label selector with Kyverno's wildcard keys and values in `matchLabels`.
pub fn selector_matches(selector: &Value, labels: &Map<String, Value>) -> bool {
    let get = |k: &str| labels.get(k).and_then(Value::as_str);
    if let Some(ml) = selector.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in ml {
            let want = v.as_str().unwrap_or("");
            let ok = if wildcard::has_wildcard(k) {
                labels.iter().any(|(lk, lv)| {
                    wildcard::matches(k, lk) && wildcard::matches(want, lv.as_str().unwrap_or(""))
                })
            } else {
                get(k).is_some_and(|lv| wildcard::matches(want, lv))
            };
            if !ok {
                return false;
            }
        }
    }
    if let Some(exprs) = selector.get("matchExpressions").and_then(Value::as_array) {
        for e in exprs {
            let key = str_at(e, "/key");
            let values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let have = get(key);
            let ok = match str_at(e, "/operator") {
                "In" => have.is_some_and(|h| values.contains(&h)),
                "NotIn" => !have.is_some_and(|h| values.contains(&h)),
                "Exists" => have.is_some(),
                "DoesNotExist" => have.is_none(),
                _ => false,
            };
            if !ok {
                return false;
            }
        }
    }
    true
}

fn subject_matches(s: &Subject, user: &UserInfo) -> bool {
    match s.kind.as_str() {
        "ServiceAccount" => {
            let want = format!(
                "system:serviceaccount:{}:{}",
                s.namespace.as_deref().unwrap_or(""),
                s.name
            );
            wildcard::matches(&want, &user.username)
        }
        "User" => wildcard::matches(&s.name, &user.username),
        "Group" => user.groups.iter().any(|g| wildcard::matches(&s.name, g)),
        _ => false,
    }
}

fn user_ok(
    roles: &[String],
    cluster_roles: &[String],
    subjects: &[Subject],
    user: &UserInfo,
) -> bool {
    (roles.is_empty() || roles.iter().any(|r| user.roles.contains(r)))
        && (cluster_roles.is_empty()
            || cluster_roles.iter().any(|r| user.cluster_roles.contains(r)))
        && (subjects.is_empty() || subjects.iter().any(|s| subject_matches(s, user)))
}

/// `doesResourceMatchConditionBlock`: every condition the description sets holds.
pub fn description_matches(d: &ResourceDescription, t: &Target<'_>) -> bool {
    let obj = t.object;
    let kind = str_at(obj, "/kind");
    let name = str_at(obj, "/metadata/name");
    let ns = str_at(obj, "/metadata/namespace");
    let (req_av, req_kind, req_sub) = match t.request_kind {
        Some(rk) => (
            rk.api_version.as_str(),
            rk.kind.as_str(),
            rk.subresource.as_str(),
        ),
        None => (str_at(obj, "/apiVersion"), kind, ""),
    };
    if !d.kinds.is_empty()
        && !d
            .kinds
            .iter()
            .any(|k| kind_matches_sub(k, req_av, req_kind, req_sub))
    {
        return false;
    }
    if let Some(n) = &d.name
        && !n.is_empty()
        && !wildcard::matches(n, name)
    {
        return false;
    }
    if !d.names.is_empty() && !d.names.iter().any(|n| wildcard::matches(n, name)) {
        return false;
    }
    if !d.namespaces.is_empty() {
        let ns = if kind == "Namespace" { name } else { ns };
        if !d.namespaces.iter().any(|n| wildcard::matches(n, ns)) {
            return false;
        }
    }
    if let Some(ann) = &d.annotations {
        let have = obj
            .pointer("/metadata/annotations")
            .and_then(Value::as_object);
        for (k, v) in ann {
            let ok = have.is_some_and(|h| {
                h.iter().any(|(hk, hv)| {
                    wildcard::matches(k, hk) && wildcard::matches(v, hv.as_str().unwrap_or(""))
                })
            });
            if !ok {
                return false;
            }
        }
    }
    if let Some(sel) = &d.selector
        && !selector_matches(sel, &labels_of(obj))
    {
        return false;
    }
    if let Some(sel) = &d.namespace_selector {
        let labels = if kind == "Namespace" {
            Some(labels_of(obj))
        } else if ns.is_empty() {
            None
        } else {
            t.namespace_labels.cloned().or_else(|| Some(Map::new()))
        };
        match labels {
            Some(l) if selector_matches(sel, &l) => {}
            _ => return false,
        }
    }
    if !d.operations.is_empty() && !d.operations.iter().any(|o| o == t.operation) {
        return false;
    }
    true
}

fn filter_matches(
    d: Option<&ResourceDescription>,
    roles: &[String],
    cluster_roles: &[String],
    subjects: &[Subject],
    t: &Target<'_>,
    ignore_user: bool,
) -> bool {
    // `matchesResourceDescriptionMatchHelper`: with no admission user info (the CLI without a
    // userinfo file, background scans) the user criteria of a match filter are dropped.
    let (roles, cluster_roles, subjects): (&[String], &[String], &[Subject]) = if ignore_user {
        (&[], &[], &[])
    } else {
        (roles, cluster_roles, subjects)
    };
    let empty_desc = d.is_none_or(|d| *d == ResourceDescription::default());
    if empty_desc && roles.is_empty() && cluster_roles.is_empty() && subjects.is_empty() {
        return false;
    }
    d.is_none_or(|d| description_matches(d, t)) && user_ok(roles, cluster_roles, subjects, t.user)
}

/// Does a `match` block select the target?
pub fn matches(m: &MatchResources, t: &Target<'_>) -> bool {
    block_matches(m, t, *t.user == UserInfo::default())
}

fn block_matches(m: &MatchResources, t: &Target<'_>, ignore_user: bool) -> bool {
    if !m.any.is_empty() {
        return m.any.iter().any(|f| {
            filter_matches(
                f.resources.as_ref(),
                &f.roles,
                &f.cluster_roles,
                &f.subjects,
                t,
                ignore_user,
            )
        });
    }
    if !m.all.is_empty() {
        return m.all.iter().all(|f| {
            filter_matches(
                f.resources.as_ref(),
                &f.roles,
                &f.cluster_roles,
                &f.subjects,
                t,
                ignore_user,
            )
        });
    }
    filter_matches(
        m.resources.as_ref(),
        &m.roles,
        &m.cluster_roles,
        &m.subjects,
        t,
        ignore_user,
    )
}

/// Does an `exclude` block exclude the target? (An empty block excludes nothing.)
pub fn excluded(x: &MatchResources, t: &Target<'_>) -> bool {
    block_matches(x, t, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // kyverno/kyverno pkg/utils/kube/kind.go ParseKindSelector; pkg/engine/utils/match.go.
    #[test]
    fn kinds() {
        assert!(kind_matches("Pod", "v1", "Pod"));
        assert!(kind_matches("v1/Pod", "v1", "Pod"));
        assert!(!kind_matches("v1/Pod", "apps/v1", "Pod"));
        assert!(kind_matches("apps/v1/Deployment", "apps/v1", "Deployment"));
        assert!(kind_matches("apps/*/Deployment", "apps/v1", "Deployment"));
        assert!(!kind_matches("batch/v1/Job", "apps/v1", "Job"));
        assert!(kind_matches("*", "v1", "Anything"));
        assert!(kind_matches(
            "Ingress*",
            "networking.k8s.io/v1",
            "IngressClass"
        ));
        assert!(!kind_matches("Pod/status", "v1", "Pod"));
    }

    #[test]
    fn descriptions() {
        let obj = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1",
            "namespace": "prod", "labels": {"app": "web"}, "annotations": {"team": "a"}}});
        let user = UserInfo::default();
        let t = Target {
            object: &obj,
            operation: "CREATE",
            user: &user,
            namespace_labels: None,
            request_kind: None,
        };
        let d: ResourceDescription = serde_json::from_value(json!({"kinds": ["Pod"],
            "names": ["web-*"], "namespaces": ["prod"], "annotations": {"team": "?"},
            "selector": {"matchLabels": {"app": "w*"}}, "operations": ["CREATE"]}))
        .expect("decodes");
        assert!(description_matches(&d, &t));
        let d: ResourceDescription =
            serde_json::from_value(json!({"kinds": ["Pod"], "operations": ["UPDATE"]}))
                .expect("decodes");
        assert!(!description_matches(&d, &t));
        let d: ResourceDescription =
            serde_json::from_value(json!({"namespaceSelector": {"matchLabels": {"env": "prod"}}}))
                .expect("decodes");
        assert!(!description_matches(&d, &t));
        let ns = json!({"env": "prod"});
        let t2 = Target {
            namespace_labels: ns.as_object(),
            ..t
        };
        assert!(description_matches(&d, &t2));
    }

    // kyverno/kyverno pkg/engine/utils/match.go matchesResourceDescriptionMatchHelper: with an
    // empty RequestInfo the user criteria of a match filter are dropped (not of an exclude).
    #[test]
    fn match_ignores_user_criteria_without_user_info() {
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        let anon = UserInfo::default();
        let t = Target {
            object: &obj,
            operation: "CREATE",
            user: &anon,
            namespace_labels: None,
            request_kind: None,
        };
        let m: MatchResources = serde_json::from_value(json!({"any": [{"resources": {"kinds":
            ["ConfigMap"]}, "subjects": [{"kind": "ServiceAccount", "name": "dev",
            "namespace": "kube-system"}]}]}))
        .expect("decodes");
        assert!(matches(&m, &t));
        assert!(!excluded(&m, &t));
        let other = UserInfo {
            username: "alice".into(),
            ..UserInfo::default()
        };
        assert!(!matches(&m, &Target { user: &other, ..t }));
        // only user criteria: nothing left to match
        let m: MatchResources =
            serde_json::from_value(json!({"any": [{"subjects": [{"kind": "User", "name": "x"}]}]}))
                .expect("decodes");
        assert!(!matches(&m, &t));
    }

    // kyverno/kyverno pkg/utils/match CheckKind: `Deployment/scale` selects a request on the
    // scale subresource of a Deployment; plain `Pod` also selects Pod/ephemeralcontainers.
    #[test]
    fn subresource_kinds() {
        assert!(kind_matches_sub(
            "Deployment/scale",
            "apps/v1",
            "Deployment",
            "scale"
        ));
        assert!(!kind_matches_sub(
            "Deployment/scale",
            "apps/v1",
            "Deployment",
            ""
        ));
        assert!(!kind_matches_sub(
            "Deployment",
            "apps/v1",
            "Deployment",
            "scale"
        ));
        assert!(kind_matches_sub("Pod", "v1", "Pod", "ephemeralcontainers"));
        assert!(!kind_matches_sub(
            "Deployment/status",
            "apps/v1",
            "Deployment",
            "scale"
        ));
    }
}
