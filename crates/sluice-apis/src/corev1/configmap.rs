//! `ConfigMap` (kubernetes `pkg/apis/core/validation` `ValidateConfigMap`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sluice_core::{FieldError, FieldErrors};

use super::util::{KindNameRule, config_map_key, validate_object_meta};
use crate::meta::ObjectMeta;

/// Total size limit of `data` + `binaryData` (`MaxSecretSize`, also used for ConfigMaps).
pub const MAX_SIZE: usize = 1024 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMap {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
    /// Base64 in the manifest.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub binary_data: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
}

pub fn validate(cm: &ConfigMap) -> FieldErrors {
    let mut errs = validate_object_meta(&cm.metadata, KindNameRule::Subdomain);
    let mut size = 0usize;
    for (k, v) in &cm.data {
        for m in config_map_key(k) {
            errs.push(
                FieldError::invalid("", format!("{k:?}: {m}"))
                    .via_key(k)
                    .via_field("data"),
            );
        }
        size += v.len();
    }
    for (k, v) in &cm.binary_data {
        for m in config_map_key(k) {
            errs.push(
                FieldError::invalid("", format!("{k:?}: {m}"))
                    .via_key(k)
                    .via_field("binaryData"),
            );
        }
        if cm.data.contains_key(k) {
            errs.push(
                FieldError::invalid("", format!("{k:?}: duplicate of key present in data"))
                    .via_key(k)
                    .via_field("binaryData"),
            );
        }
        match super::util::decode_base64(v) {
            Some(b) => size += b.len(),
            None => errs.push(
                FieldError::new("", "illegal base64 data")
                    .via_key(k)
                    .via_field("binaryData"),
            ),
        }
    }
    if size > MAX_SIZE {
        errs.push(FieldError::new(
            "",
            format!("Too long: may not be more than {MAX_SIZE} bytes"),
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // kubernetes pkg/apis/core/validation/validation.go ValidateConfigMap.
    #[test]
    fn keys() {
        let (cm, unknown) = crate::decode::decode::<ConfigMap>(&json!({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
            "data": {"good.key": "1", "bad key": "2", "dup": "x"},
            "binaryData": {"dup": "eA=="}
        }))
        .expect("decodes");
        assert!(unknown.is_empty());
        let got: Vec<String> = validate(&cm).iter().map(|e| e.path.to_string()).collect();
        assert_eq!(got, ["data[bad key]", "binaryData[dup]"]);
    }
}
