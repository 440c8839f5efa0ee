//! Built-in kinds validated for their shape only: known top-level fields (unknown ones are
//! errors under strict decoding), `metadata`, and the kind's name rule.

use serde_json::Value;
use sluice_core::{FieldError, FieldErrors, Object};

use super::util::{KindNameRule, validate_object_meta};
use crate::meta::ObjectMeta;

/// `(group, kind, top-level fields besides apiVersion/kind/metadata, name rule)`.
const KINDS: &[(&str, &str, &[&str], KindNameRule)] = &[
    ("", "Pod", &["spec", "status"], KindNameRule::Subdomain),
    ("", "PodTemplate", &["template"], KindNameRule::Subdomain),
    (
        "",
        "ReplicationController",
        &["spec", "status"],
        KindNameRule::Subdomain,
    ),
    (
        "",
        "PersistentVolume",
        &["spec", "status"],
        KindNameRule::Subdomain,
    ),
    ("", "Endpoints", &["subsets"], KindNameRule::Subdomain),
    ("", "LimitRange", &["spec"], KindNameRule::Subdomain),
    (
        "",
        "ResourceQuota",
        &["spec", "status"],
        KindNameRule::Subdomain,
    ),
    ("", "Node", &["spec", "status"], KindNameRule::Subdomain),
    (
        "",
        "Event",
        &[
            "involvedObject",
            "reason",
            "message",
            "source",
            "firstTimestamp",
            "lastTimestamp",
            "count",
            "type",
            "eventTime",
            "series",
            "action",
            "related",
            "reportingComponent",
            "reportingInstance",
        ],
        KindNameRule::Subdomain,
    ),
    (
        "apps",
        "ReplicaSet",
        &["spec", "status"],
        KindNameRule::Subdomain,
    ),
    (
        "apps",
        "ControllerRevision",
        &["data", "revision"],
        KindNameRule::Subdomain,
    ),
    (
        "rbac.authorization.k8s.io",
        "Role",
        &["rules"],
        KindNameRule::PathSegment,
    ),
    (
        "rbac.authorization.k8s.io",
        "ClusterRole",
        &["rules", "aggregationRule"],
        KindNameRule::PathSegment,
    ),
    (
        "rbac.authorization.k8s.io",
        "RoleBinding",
        &["subjects", "roleRef"],
        KindNameRule::PathSegment,
    ),
    (
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
        &["subjects", "roleRef"],
        KindNameRule::PathSegment,
    ),
    (
        "networking.k8s.io",
        "Ingress",
        &["spec", "status"],
        KindNameRule::Subdomain,
    ),
    (
        "networking.k8s.io",
        "IngressClass",
        &["spec"],
        KindNameRule::Subdomain,
    ),
    (
        "networking.k8s.io",
        "NetworkPolicy",
        &["spec", "status"],
        KindNameRule::Subdomain,
    ),
    (
        "autoscaling",
        "HorizontalPodAutoscaler",
        &["spec", "status"],
        KindNameRule::Subdomain,
    ),
    (
        "policy",
        "PodDisruptionBudget",
        &["spec", "status"],
        KindNameRule::Subdomain,
    ),
];

/// Validates the shape of a known built-in kind; `None` for kinds this module does not know.
pub fn validate(obj: &Object, group: &str, version: &str, kind: &str) -> Option<FieldErrors> {
    let known_version = match group {
        "" | "apps" | "rbac.authorization.k8s.io" | "networking.k8s.io" | "policy" => {
            version == "v1"
        }
        "autoscaling" => matches!(version, "v1" | "v2"),
        _ => false,
    };
    if !known_version {
        return None;
    }
    let &(_, _, fields, rule) = KINDS
        .iter()
        .find(|(g, k, _, _)| *g == group && *k == kind)?;
    let mut errs = FieldErrors::new();
    if let Value::Object(m) = obj.value() {
        for k in m.keys() {
            if !matches!(k.as_str(), "apiVersion" | "kind" | "metadata")
                && !fields.contains(&k.as_str())
            {
                errs.push(FieldError::new(
                    k.as_str(),
                    format!("unknown field \"{k}\""),
                ));
            }
        }
    }
    let meta = obj.value().get("metadata").cloned().unwrap_or(Value::Null);
    let meta = if meta.is_null() {
        Value::Object(Default::default())
    } else {
        meta
    };
    match crate::decode::decode::<ObjectMeta>(&meta) {
        Ok((m, unknown)) => {
            errs.also(unknown.via_field("metadata"));
            errs.also(validate_object_meta(&m, rule));
        }
        Err(e) => {
            errs.also(e.via_field("metadata"));
        }
    }
    if matches!(kind, "RoleBinding" | "ClusterRoleBinding") && obj.value().get("roleRef").is_none()
    {
        errs.push(FieldError::new("roleRef", "Required value"));
    }
    Some(errs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // kubernetes pkg/apis/rbac/validation: ValidateRBACName = path.IsValidPathSegmentName.
    #[test]
    fn rbac_names_and_unknown_fields() {
        let o = Object::new(
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "system:aggregate-to-edit", "labelz": {}}, "rules": [], "rulez": []}),
        );
        let got: Vec<String> = validate(&o, "rbac.authorization.k8s.io", "v1", "ClusterRole")
            .expect("known")
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            got,
            [
                "rulez: unknown field \"rulez\"",
                "metadata.labelz: unknown field \"labelz\""
            ]
        );
    }
}
