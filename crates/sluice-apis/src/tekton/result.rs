//! Results (tektoncd/pipeline `pkg/apis/pipeline/v1/result_types.go`, `result_validation.go`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sluice_core::{FieldError, FieldErrors};

use super::param::{ParamValue, PropertySpec};
use super::{ApiLevel, FeatureFlags, api_fields};

/// Result names: `^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`.
pub fn is_valid_result_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

const RESULT_NAME_FMT: &str = "^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$";

fn validate_result_name(name: &str) -> FieldErrors {
    if is_valid_result_name(name) {
        FieldErrors::new()
    } else {
        FieldError::new(
            "name",
            format!("invalid key name {name:?}: must consist of alphanumeric characters, '-', '_', or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my-name',  or 'my_name', regex used for validation is '{RESULT_NAME_FMT}')"),
        )
        .into()
    }
}

fn validate_result_type(t: Option<&str>) -> FieldErrors {
    match t {
        None | Some("" | "string" | "array" | "object") => FieldErrors::new(),
        Some(t) => FieldError::new(
            "type",
            format!("invalid value: {t}: type must be string, array or object"),
        )
        .into(),
    }
}

/// `TaskResult`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskResult {
    #[serde(default)]
    pub name: String,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<BTreeMap<String, PropertySpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<ParamValue>,
}

impl TaskResult {
    /// `TaskResult.SetDefaults` (result_defaults.go): `string` unless properties say object.
    pub fn set_defaults(&mut self) {
        if self.type_.as_deref().is_none_or(str::is_empty) {
            self.type_ = Some(
                if self.properties.is_some() {
                    "object"
                } else {
                    "string"
                }
                .to_owned(),
            );
        }
    }

    pub fn effective_type(&self) -> &str {
        match self.type_.as_deref() {
            Some(t) if !t.is_empty() => t,
            _ if self.properties.is_some() => "object",
            _ => "string",
        }
    }

    /// `TaskResult.Validate`. Paths relative to the result.
    pub fn validate(&self, flags: &FeatureFlags) -> FieldErrors {
        let mut errs = validate_result_name(&self.name);
        errs.also(validate_result_type(self.type_.as_deref()));
        match self.effective_type() {
            "object" => {
                errs.also(api_fields(flags, "object results", ApiLevel::Beta));
                if self.properties.is_none() {
                    errs.push(FieldError::missing(
                        format!("{}.properties", self.name).as_str(),
                    ));
                }
                &mut errs
            }
            "array" => errs.also(api_fields(flags, "array results", ApiLevel::Beta)),
            _ => &mut errs,
        };
        if let Some(v) = &self.value {
            if !flags.enable_step_actions {
                errs.push(FieldError::new(
                    "value",
                    "feature flag enable-step-actions should be set to true to fetch Results from Steps using StepActions.",
                ));
            }
            if let ParamValue::String(s) = v
                && !s.starts_with("$(steps.")
            {
                errs.push(FieldError::new(
                    "value",
                    format!("invalid value: {s:?}: value must be a reference to a step result, e.g. $(steps.<stepName>.results.<resultName>)"),
                ));
            }
        }
        errs
    }
}

/// `StepResult`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepResult {
    #[serde(default)]
    pub name: String,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<BTreeMap<String, PropertySpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl StepResult {
    /// `StepResult.Validate`.
    pub fn validate(&self) -> FieldErrors {
        let mut errs = validate_result_name(&self.name);
        errs.also(validate_result_type(self.type_.as_deref()));
        if self.type_.as_deref() == Some("object") && self.properties.is_none() {
            errs.push(FieldError::missing(
                format!("{}.properties", self.name).as_str(),
            ));
        }
        errs
    }
}

/// `PipelineResult`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineResult {
    #[serde(default)]
    pub name: String,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub value: ParamValue,
}

impl PipelineResult {
    /// `PipelineResult.SetDefaults`: the type follows the value's.
    pub fn set_defaults(&mut self) {
        if self.type_.as_deref().is_none_or(str::is_empty) {
            self.type_ = Some(self.value.type_().0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_valid_result_name("IMAGE_DIGEST"));
        assert!(is_valid_result_name("a.b"));
        assert!(!is_valid_result_name("-a"));
        let r = TaskResult {
            name: "-bad".into(),
            ..TaskResult::default()
        };
        assert_eq!(
            r.validate(&FeatureFlags::default()).0[0].path.to_string(),
            "name"
        );
    }
}
