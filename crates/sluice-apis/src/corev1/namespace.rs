//! `Namespace` (kubernetes `ValidateNamespace`: DNS-1123 label names).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::FieldErrors;

use super::util::{KindNameRule, validate_object_meta};
use crate::meta::ObjectMeta;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Namespace {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<NamespaceSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
}

pub fn validate(ns: &Namespace) -> FieldErrors {
    validate_object_meta(&ns.metadata, KindNameRule::Label)
}

#[cfg(test)]
mod tests {
    use super::*;

    // kubernetes ValidateNamespace: ValidateNamespaceName = NameIsDNSLabel.
    #[test]
    fn label_names() {
        let ns = |n: &str| Namespace {
            metadata: ObjectMeta {
                name: Some(n.to_owned()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        assert!(validate(&ns("tekton-pipelines")).is_empty());
        assert_eq!(validate(&ns("a.b")).0[0].path.to_string(), "metadata.name");
    }
}
