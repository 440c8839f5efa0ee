//! References to Tasks and Pipelines (tektoncd/pipeline `taskref_types.go`,
//! `pipelineref_types.go`, `resolver_types.go`, and their `*_validation.go`).

use serde::{Deserialize, Serialize};
use sluice_core::{FieldError, FieldErrors, names};

use super::param::{Param, validate_params_unique};

/// `TaskRef`: a Task by name (and kind), or through a remote resolver.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRef {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resolver: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<Param>,
}

/// `PipelineRef`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineRef {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resolver: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<Param>,
}

/// Shared rules of `TaskRef.Validate` / `PipelineRef.Validate`: a name or a resolver (not
/// both, unless concise resolver syntax), resolver params only with a resolver, names valid.
fn validate_ref(
    name: &str,
    resolver: &str,
    params: &[Param],
    flags: &super::FeatureFlags,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if resolver.is_empty() {
        if name.is_empty() {
            errs.push(FieldError::missing("name"));
        } else if !name.contains("$(") {
            if flags.enable_concise_resolver_syntax && name.contains("://") {
                // A concise resolver reference (`git://...`).
            } else {
                for m in names::dns1123_subdomain(name) {
                    errs.push(FieldError::invalid("name", format!("{name:?}: {m}")));
                }
            }
        }
        if !params.is_empty() {
            errs.push(FieldError::missing("resolver"));
        }
    } else {
        if !name.is_empty() && !flags.enable_concise_resolver_syntax {
            errs.push(FieldError::multiple_one_of("", &["name", "resolver"]));
        }
        errs.also(validate_params_unique(params).via_field("params"));
    }
    errs
}

impl TaskRef {
    /// `TaskRef.Validate`. Paths relative to the ref.
    pub fn validate(&self, flags: &super::FeatureFlags) -> FieldErrors {
        validate_ref(&self.name, &self.resolver, &self.params, flags)
    }

    /// The referenced kind: `Task` unless set.
    pub fn kind_or_default(&self) -> &str {
        if self.kind.is_empty() {
            "Task"
        } else {
            &self.kind
        }
    }

    /// A Task or Pipeline found among the inputs by name: a plain name, no resolver, and a
    /// kind of Tekton's own (custom tasks have an apiVersion of their own).
    pub fn is_local(&self) -> bool {
        self.resolver.is_empty()
            && !self.name.is_empty()
            && !self.name.contains("$(")
            && (self.api_version.is_empty() || self.api_version.starts_with("tekton.dev/"))
            && matches!(self.kind_or_default(), "Task")
    }

    /// A custom task (an apiVersion and kind outside tekton.dev).
    pub fn is_custom(&self) -> bool {
        !self.api_version.is_empty() && !self.api_version.starts_with("tekton.dev/")
    }
}

impl PipelineRef {
    /// `PipelineRef.Validate`.
    pub fn validate(&self, flags: &super::FeatureFlags) -> FieldErrors {
        validate_ref(&self.name, &self.resolver, &self.params, flags)
    }

    pub fn is_local(&self) -> bool {
        self.resolver.is_empty() && !self.name.is_empty() && !self.name.contains("$(")
    }
}
