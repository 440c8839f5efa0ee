//! `ServiceAccount` (kubernetes `ValidateServiceAccount`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::FieldErrors;

use super::util::{KindNameRule, validate_object_meta};
use crate::meta::ObjectMeta;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccount {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// `ObjectReference`s to Secrets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Value>,
    /// `LocalObjectReference`s.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automount_service_account_token: Option<bool>,
}

pub fn validate(sa: &ServiceAccount) -> FieldErrors {
    validate_object_meta(&sa.metadata, KindNameRule::Subdomain)
}
