//! `PersistentVolumeClaim` (kubernetes `ValidatePersistentVolumeClaim`,
//! `ValidatePersistentVolumeClaimSpec`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::{FieldError, FieldErrors};

use super::util::{KindNameRule, parse_quantity, validate_object_meta};
use crate::meta::ObjectMeta;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolumeClaim {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: PersistentVolumeClaimSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolumeClaimSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_modes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<VolumeResourceRequirements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_source: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_source_ref: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_attributes_class_name: Option<String>,
}

/// `VolumeResourceRequirements`: quantities as written (strings or numbers).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeResourceRequirements {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, Value>,
}

pub const ACCESS_MODES: &[&str] = &[
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];

/// Parses a quantity written as a string or a number.
pub fn quantity(v: &Value) -> Result<f64, String> {
    match v {
        Value::String(s) => parse_quantity(s),
        Value::Number(n) => n.as_f64().ok_or_else(|| "invalid number".to_owned()),
        _ => Err("quantities must be a string or a number".to_owned()),
    }
}

/// `ValidatePersistentVolumeClaimSpec`; paths relative to the spec.
pub fn validate_spec(spec: &PersistentVolumeClaimSpec) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if spec.access_modes.is_empty() {
        errs.push(FieldError::new(
            "accessModes",
            "Required value: at least 1 access mode is required",
        ));
    }
    for m in &spec.access_modes {
        if !ACCESS_MODES.contains(&m.as_str()) {
            let list: Vec<String> = ACCESS_MODES.iter().map(|a| format!("{a:?}")).collect();
            errs.push(FieldError::new(
                "accessModes",
                format!(
                    "Unsupported value: {m:?}: supported values: {}",
                    list.join(", ")
                ),
            ));
        }
    }
    if spec.access_modes.iter().any(|m| m == "ReadWriteOncePod") && spec.access_modes.len() > 1 {
        errs.push(FieldError::new(
            "accessModes",
            "may not use ReadWriteOncePod with other access modes",
        ));
    }
    let requests = spec.resources.as_ref().map(|r| &r.requests);
    match requests.and_then(|r| r.get("storage")) {
        None => errs.push(
            FieldError::new("", "Required value")
                .via_key("storage")
                .via_field("resources"),
        ),
        Some(q) => match quantity(q) {
            Err(m) => errs.push(
                FieldError::new("", m)
                    .via_key("storage")
                    .via_field("requests")
                    .via_field("resources"),
            ),
            Ok(n) if n <= 0.0 => errs.push(
                FieldError::new("", "must be greater than zero")
                    .via_key("storage")
                    .via_field("requests")
                    .via_field("resources"),
            ),
            Ok(_) => {}
        },
    }
    for (field, map) in [
        ("requests", requests),
        ("limits", spec.resources.as_ref().map(|r| &r.limits)),
    ] {
        for (k, q) in map.into_iter().flatten() {
            if k == "storage" && field == "requests" {
                continue;
            }
            if let Err(m) = quantity(q) {
                errs.push(
                    FieldError::new("", m)
                        .via_key(k)
                        .via_field(field)
                        .via_field("resources"),
                );
            }
        }
    }
    if let Some(m) = &spec.volume_mode
        && m != "Block"
        && m != "Filesystem"
    {
        errs.push(FieldError::new(
            "volumeMode",
            format!("Unsupported value: {m:?}: supported values: \"Block\", \"Filesystem\""),
        ));
    }
    errs
}

pub fn validate(pvc: &PersistentVolumeClaim) -> FieldErrors {
    let mut errs = validate_object_meta(&pvc.metadata, KindNameRule::Subdomain);
    errs.also(validate_spec(&pvc.spec).via_field("spec"));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // kubernetes ValidatePersistentVolumeClaimSpec: access modes, storage request.
    #[test]
    fn spec_rules() {
        let (p, _) = crate::decode::decode::<PersistentVolumeClaim>(&json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "p"},
            "spec": {"accessModes": ["ReadWriteAll"], "resources": {"requests": {"storage": "50GB"}}}
        }))
        .expect("decodes");
        let got: Vec<String> = validate(&p).iter().map(|e| e.path.to_string()).collect();
        assert_eq!(
            got,
            ["spec.accessModes", "spec.resources.requests[storage]"]
        );
        let (p, _) = crate::decode::decode::<PersistentVolumeClaim>(&json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "p"}, "spec": {}
        }))
        .expect("decodes");
        let got: Vec<String> = validate(&p).iter().map(|e| e.to_string()).collect();
        assert_eq!(
            got,
            [
                "spec.accessModes: Required value: at least 1 access mode is required",
                "spec.resources[storage]: Required value"
            ]
        );
    }
}
