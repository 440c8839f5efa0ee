//! `metav1.ObjectMeta` and the name rules shared by every kind.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::{FieldError, FieldErrors, names};

/// `metav1.ObjectMeta`. Fields Sluice does not interpret stay as `Value`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_timestamp: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_grace_period_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_references: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_fields: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_link: Option<String>,
}

/// Which rule a kind's `metadata.name` follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// `IsDNS1123Subdomain` (most kinds).
    Dns1123Subdomain,
    /// `IsDNS1123Label` (Namespaces, Services...).
    Dns1123Label,
    /// DNS-1123 subdomain and at most 63 characters (Tekton: names become label values).
    Dns1123SubdomainMax63,
}

/// Validates `metadata`: a name or generateName is required, names follow `rule`, label and
/// annotation keys are qualified names, label values are valid. Paths start at `metadata`.
pub fn validate_meta(meta: &ObjectMeta, rule: NameRule) -> FieldErrors {
    let mut errs = FieldErrors::new();
    match (meta.name.as_deref(), meta.generate_name.as_deref()) {
        (None | Some(""), None | Some("")) => errs.push(FieldError::new(
            "metadata.name",
            "name or generateName is required",
        )),
        (Some(name), _) if !name.is_empty() => {
            let mut msgs = match rule {
                NameRule::Dns1123Label => names::dns1123_label(name),
                NameRule::Dns1123Subdomain | NameRule::Dns1123SubdomainMax63 => {
                    names::dns1123_subdomain(name)
                }
            };
            if rule == NameRule::Dns1123SubdomainMax63 && name.len() > 63 {
                msgs.insert(0, "must be no more than 63 characters".to_owned());
            }
            for m in msgs {
                errs.push(FieldError::invalid(
                    "metadata.name",
                    format!("{name:?}: {m}"),
                ));
            }
        }
        _ => {}
    }
    if let Some(ns) = meta.namespace.as_deref().filter(|n| !n.is_empty()) {
        for m in names::dns1123_label(ns) {
            errs.push(FieldError::invalid(
                "metadata.namespace",
                format!("{ns:?}: {m}"),
            ));
        }
    }
    for (k, v) in &meta.labels {
        for m in names::qualified_name(k) {
            errs.push(FieldError::invalid(
                format!("metadata.labels[{k}]").as_str(),
                format!("{k:?}: {m}"),
            ));
        }
        for m in names::label_value(v) {
            errs.push(FieldError::invalid(
                format!("metadata.labels[{k}]").as_str(),
                format!("{v:?}: {m}"),
            ));
        }
    }
    for k in meta.annotations.keys() {
        for m in names::qualified_name(k) {
            errs.push(FieldError::invalid(
                format!("metadata.annotations[{k}]").as_str(),
                format!("{k:?}: {m}"),
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        let meta = ObjectMeta {
            name: Some("Bad_Name".into()),
            labels: BTreeMap::from([("app".into(), "a b".into())]),
            ..ObjectMeta::default()
        };
        let errs = validate_meta(&meta, NameRule::Dns1123Subdomain);
        let paths: Vec<String> = errs.iter().map(|e| e.path.to_string()).collect();
        assert_eq!(paths, ["metadata.name", "metadata.labels[app]"]);
        assert!(validate_meta(&ObjectMeta::default(), NameRule::Dns1123Label).has_errors());
        let ok = ObjectMeta {
            generate_name: Some("run-".into()),
            ..ObjectMeta::default()
        };
        assert!(validate_meta(&ok, NameRule::Dns1123SubdomainMax63).is_empty());
    }
}
