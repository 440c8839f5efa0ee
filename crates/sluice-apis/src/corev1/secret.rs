//! `Secret` (kubernetes `pkg/apis/core/validation` `ValidateSecret`). `stringData` is merged
//! into `data` before validation, as the API server's conversion does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sluice_core::{FieldError, FieldErrors};

use super::util::{KindNameRule, config_map_key, decode_base64, validate_object_meta};
use crate::meta::ObjectMeta;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Base64 in the manifest.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub string_data: BTreeMap<String, String>,
    /// `Opaque` when empty.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
}

impl Secret {
    /// `type`, defaulted to `Opaque`.
    pub fn secret_type(&self) -> &str {
        match self.type_.as_deref() {
            None | Some("") => "Opaque",
            Some(t) => t,
        }
    }

    /// The keys the stored Secret will have (`data` and `stringData`).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.data
            .keys()
            .chain(self.string_data.keys())
            .map(String::as_str)
    }

    fn has(&self, k: &str) -> bool {
        self.data.contains_key(k) || self.string_data.contains_key(k)
    }

    /// The decoded value of `k` (stringData wins, as upstream merges it last).
    pub fn value(&self, k: &str) -> Option<Vec<u8>> {
        if let Some(s) = self.string_data.get(k) {
            return Some(s.as_bytes().to_vec());
        }
        self.data.get(k).and_then(|v| decode_base64(v))
    }
}

pub fn validate(s: &Secret) -> FieldErrors {
    let mut errs = validate_object_meta(&s.metadata, KindNameRule::Subdomain);
    let mut size = 0usize;
    for (field, map) in [("data", &s.data), ("stringData", &s.string_data)] {
        for (k, v) in map {
            for m in config_map_key(k) {
                errs.push(
                    FieldError::invalid("", format!("{k:?}: {m}"))
                        .via_key(k)
                        .via_field(field),
                );
            }
            if field == "data" {
                match decode_base64(v) {
                    Some(b) => size += b.len(),
                    None => errs.push(
                        FieldError::new("", "illegal base64 data")
                            .via_key(k)
                            .via_field("data"),
                    ),
                }
            } else {
                size += v.len();
            }
        }
    }
    if size > super::configmap::MAX_SIZE {
        errs.push(FieldError::new(
            "data",
            format!(
                "Too long: may not be more than {} bytes",
                super::configmap::MAX_SIZE
            ),
        ));
    }
    let required = |k: &str| {
        FieldError::new("", "Required value")
            .via_key(k)
            .via_field("data")
    };
    match s.secret_type() {
        "kubernetes.io/service-account-token"
            if s.metadata
                .annotations
                .get("kubernetes.io/service-account.name")
                .is_none_or(String::is_empty) =>
        {
            errs.push(
                FieldError::new("", "Required value")
                    .via_key("kubernetes.io/service-account.name")
                    .via_field("annotations")
                    .via_field("metadata"),
            );
        }
        "kubernetes.io/dockercfg" => json_key(s, ".dockercfg", &mut errs),
        "kubernetes.io/dockerconfigjson" => json_key(s, ".dockerconfigjson", &mut errs),
        // username or password may be empty, but one of the fields must be present.
        "kubernetes.io/basic-auth" if !s.has("username") && !s.has("password") => {
            errs.push(required("username"));
            errs.push(required("password"));
        }
        "kubernetes.io/ssh-auth" if s.value("ssh-privatekey").is_none_or(|v| v.is_empty()) => {
            errs.push(required("ssh-privatekey"));
        }
        "kubernetes.io/tls" => {
            for k in ["tls.crt", "tls.key"] {
                if !s.has(k) {
                    errs.push(required(k));
                }
            }
        }
        _ => {}
    }
    errs
}

fn json_key(s: &Secret, key: &str, errs: &mut FieldErrors) {
    match s.value(key) {
        None if !s.has(key) => errs.push(
            FieldError::new("", "Required value")
                .via_key(key)
                .via_field("data"),
        ),
        None => {}
        Some(b) => {
            if let Err(e) = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&b)
            {
                errs.push(
                    FieldError::new(
                        "",
                        format!("Invalid value: \"<secret contents redacted>\": {e}"),
                    )
                    .via_key(key)
                    .via_field("data"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn check(v: Value) -> Vec<String> {
        let (s, _) = crate::decode::decode::<Secret>(&v).expect("decodes");
        validate(&s).iter().map(|e| e.to_string()).collect()
    }

    // kubernetes pkg/apis/core/validation/validation.go ValidateSecret, per type.
    #[test]
    fn typed_secrets() {
        let base = |t: &str, extra: Value| {
            let mut v =
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "type": t});
            if let (Some(m), Value::Object(e)) = (v.as_object_mut(), extra) {
                m.extend(e);
            }
            v
        };
        assert_eq!(
            check(base("kubernetes.io/basic-auth", json!({}))),
            [
                "data[username]: Required value",
                "data[password]: Required value"
            ]
        );
        assert!(
            check(base(
                "kubernetes.io/basic-auth",
                json!({"stringData": {"username": "u"}})
            ))
            .is_empty()
        );
        assert_eq!(
            check(base(
                "kubernetes.io/tls",
                json!({"data": {"tls.crt": "eA=="}})
            )),
            ["data[tls.key]: Required value"]
        );
        assert_eq!(
            check(base("kubernetes.io/dockerconfigjson", json!({}))),
            ["data[.dockerconfigjson]: Required value"]
        );
        assert_eq!(
            check(base(
                "kubernetes.io/ssh-auth",
                json!({"data": {"x": "not base64!"}})
            )),
            [
                "data[x]: illegal base64 data",
                "data[ssh-privatekey]: Required value"
            ]
        );
    }
}
