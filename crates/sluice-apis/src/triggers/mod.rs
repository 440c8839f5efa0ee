//! Tekton Triggers (`triggers.tekton.dev/v1beta1`, and the `v1alpha1` forms), in the manner
//! of tektoncd/triggers `pkg/apis/triggers/v1beta1`: one file per kind, with its types,
//! defaults and validation side by side.
//!
//! Validation has two layers:
//! - what the Triggers admission webhook rejects (errors, upstream wording);
//! - what the EventListener sink would do with the objects at event time, found by resolving
//!   the references between the objects of the set (binding/template/trigger/interceptor
//!   refs, params a binding provides against those a template declares). A reference whose
//!   target is not among the inputs is a warning, never an error: it may exist in the cluster.
//!   A finding that makes the EventListener fail every event is an error; one that makes it
//!   produce something odd is a warning.

pub mod cluster_interceptor;
pub mod cluster_trigger_binding;
pub mod event_listener;
pub mod interceptor;
pub mod trigger;
pub mod trigger_binding;
pub mod trigger_template;

use serde::{Deserialize, Deserializer, Serialize};
use sluice_core::{FieldError, FieldErrors, FieldPath, Object};

use crate::Context;
use crate::meta::{NameRule, ObjectMeta, validate_meta};

pub use cluster_interceptor::ClusterInterceptor;
pub use cluster_trigger_binding::ClusterTriggerBinding;
pub use event_listener::EventListener;
pub use interceptor::Interceptor;
pub use trigger::Trigger;
pub use trigger_binding::TriggerBinding;
pub use trigger_template::TriggerTemplate;

/// The API group of every kind in this module.
pub const GROUP: &str = "triggers.tekton.dev";

/// Name of the Triggers feature-flags ConfigMap (`config.GetFeatureFlagsConfigName`).
pub const FEATURE_FLAGS_CONFIGMAP: &str = "feature-flags-triggers";

/// Versions each kind is served in (the CRDs of tektoncd/triggers `config/`).
fn served_versions(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "EventListener"
        | "Trigger"
        | "TriggerBinding"
        | "ClusterTriggerBinding"
        | "TriggerTemplate" => Some(&["v1alpha1", "v1beta1"]),
        "ClusterInterceptor" => Some(&["v1alpha1", "v1beta1"]),
        "Interceptor" => Some(&["v1alpha1"]),
        _ => None,
    }
}

/// Validates `obj` when it is a `triggers.tekton.dev` kind; `None` otherwise.
pub fn validate(obj: &Object, ctx: &Context<'_>) -> Option<FieldErrors> {
    let gvk = obj.gvk();
    if gvk.group != GROUP {
        return None;
    }
    let Some(versions) = served_versions(&gvk.kind) else {
        // kubectl: the API server has no such resource.
        return Some(
            FieldError::new(
                "kind",
                format!(
                    "no matches for kind {:?} in version {:?}",
                    gvk.kind,
                    gvk.api_version()
                ),
            )
            .into(),
        );
    };
    if !versions.contains(&gvk.version.as_str()) {
        return Some(
            FieldError::new(
                "apiVersion",
                format!(
                    "no matches for kind {:?} in version {:?}",
                    gvk.kind,
                    gvk.api_version()
                ),
            )
            .into(),
        );
    }
    let v1alpha1 = gvk.version == "v1alpha1";
    Some(match gvk.kind.as_str() {
        "EventListener" => event_listener::validate(obj, ctx, v1alpha1),
        "Trigger" => trigger::validate(obj, ctx, v1alpha1),
        "TriggerBinding" => trigger_binding::validate(obj),
        "ClusterTriggerBinding" => cluster_trigger_binding::validate(obj),
        "TriggerTemplate" => trigger_template::validate(obj),
        "ClusterInterceptor" => cluster_interceptor::validate(obj),
        "Interceptor" => interceptor::validate(obj),
        _ => FieldErrors::new(),
    })
}

/// Decodes `obj` as `T`; on a type error returns the errors to report (and no value).
pub(crate) fn decode_object<T: serde::de::DeserializeOwned>(
    obj: &Object,
) -> Result<(T, FieldErrors), FieldErrors> {
    crate::decode::decode::<T>(obj.value())
}

/// `metadata` checks shared by the kinds that Triggers validates with tektoncd/pipeline's
/// `validate.ObjectMetadata` (DNS-1123 subdomain, at most 63 characters).
pub(crate) fn validate_object_meta(meta: &ObjectMeta, rule: NameRule) -> FieldErrors {
    validate_meta(meta, rule)
}

/// Deserializes `null` as the default value, as Go's `encoding/json` leaves a field unset
/// when it meets `null` (YAML `name:` with nothing after it).
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// A TriggerBinding param (`v1beta1.Param`): a name and a value that may hold `$(...)`
/// JSONPath expressions over the event (`body`, `header`, `extensions`, `context`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Param {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// `None` when the field is absent (Go then binds the empty string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// A TriggerTemplate param declaration (`v1beta1.ParamSpec`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParamSpec {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// The Triggers feature flags (`feature-flags-triggers`) that change validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggersFlags {
    /// `enable-api-fields`: `stable` (default) or `alpha`.
    pub enable_api_fields: String,
    /// Whether the ConfigMap was among the inputs (otherwise the cluster's value is unknown).
    pub from_inputs: bool,
}

impl TriggersFlags {
    /// Reads `feature-flags-triggers` from the set; upstream defaults otherwise.
    pub fn from_set(set: &crate::ObjectSet<'_>) -> Self {
        match set
            .of_kind("", "ConfigMap")
            .find(|o| o.name() == FEATURE_FLAGS_CONFIGMAP)
        {
            Some(cm) => TriggersFlags {
                enable_api_fields: cm
                    .value()
                    .pointer("/data/enable-api-fields")
                    .and_then(|v| v.as_str())
                    .map(str::to_lowercase)
                    .unwrap_or_else(|| "stable".to_owned()),
                from_inputs: true,
            },
            None => TriggersFlags {
                enable_api_fields: "stable".to_owned(),
                from_inputs: false,
            },
        }
    }

    /// `ValidateEnabledAPIFields(ctx, feature, "alpha")`. With the ConfigMap among the inputs
    /// a mismatch is the webhook's error; without it the cluster's setting is unknown and the
    /// upstream default (`stable`) would reject the field, so it is a warning.
    pub fn require_alpha(&self, path: &str, feature: &str) -> Option<FieldError> {
        if self.enable_api_fields == "alpha" {
            return None;
        }
        let msg = format!(
            "{feature} requires \"enable-api-fields\" feature gate to be \"alpha\" but it is {:?}",
            self.enable_api_fields
        );
        Some(if self.from_inputs {
            FieldError::new(path, msg)
        } else {
            FieldError::warning(
                path,
                format!(
                    "{msg} (the default; ConfigMap {FEATURE_FLAGS_CONFIGMAP} is not among the inputs)"
                ),
            )
        })
    }
}

/// Warning for a reference whose target is not among the inputs.
pub(crate) fn not_found(path: impl Into<FieldPath>, kind: &str, name: &str) -> FieldError {
    FieldError::warning(path, format!("{kind} {name:?} not found among the inputs"))
}

/// The roots a binding `$(...)` expression may start from: the fields of the event object the
/// sink evaluates JSONPath against (tektoncd/triggers `pkg/template/event.go`).
pub const EVENT_ROOTS: &[&str] = &["body", "header", "extensions", "context"];

/// Checks a binding param value the way the webhook does (`validateParamValue` in
/// `trigger_binding_validation.go`: a `$(` must not open inside an unterminated `$(`), then
/// the roots of its expressions. Paths are relative to the value.
pub fn validate_binding_value(value: &str) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if !value.contains("$(") {
        return errs;
    }
    let mut terminated = true;
    for segment in value.split("$(").skip(1) {
        if !terminated {
            errs.push(FieldError::invalid("", value));
            return errs;
        }
        terminated = false;
        let mut depth = 0i32;
        for ch in segment.chars() {
            match ch {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth < 0 {
                        terminated = true;
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    if !terminated {
        errs.push(FieldError::warning(
            "",
            format!("{value:?}: the last \"$(\" is never closed; the text is bound as is"),
        ));
    }
    for expr in binding_expressions(value) {
        let root = expression_root(expr);
        if !EVENT_ROOTS.contains(&root) {
            errs.push(FieldError::warning(
                "",
                format!(
                    "\"$({expr})\": the event has no field {root:?} (expected one of {}); the JSONPath lookup fails on every event unless the template gives this param a default",
                    EVENT_ROOTS.join(", ")
                ),
            ));
        }
    }
    errs
}

/// The `$(...)` expressions of a binding value, balanced on parentheses (the sink's
/// `findTektonExpressions`).
pub fn binding_expressions(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = value.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'$' && bytes[i + 1] == b'(' {
            let start = i + 2;
            let mut depth = 0i32;
            let mut j = start;
            let mut end = None;
            while j < bytes.len() {
                match bytes[j] {
                    b'(' => depth += 1,
                    b')' => {
                        if depth == 0 {
                            end = Some(j);
                            break;
                        }
                        depth -= 1;
                    }
                    _ => {}
                }
                j += 1;
            }
            match end {
                Some(e) => {
                    out.push(&value[start..e]);
                    i = e + 1;
                }
                None => break,
            }
        } else {
            i += 1;
        }
    }
    out
}

/// The first name of a relaxed JSONPath (`body.a`, `.body.a`, `{.body.a}`, `body["x"]`).
fn expression_root(expr: &str) -> &str {
    let e = expr.trim();
    let e = e.strip_prefix('{').unwrap_or(e);
    let e = e.strip_prefix('.').unwrap_or(e);
    let end = e.find(['.', '[', '}', ' ']).unwrap_or(e.len());
    &e[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    // tektoncd/triggers pkg/apis/triggers/v1beta1/trigger_binding_validation_test.go:
    // "$(body.(input3))" and "$(body.input1)-$(body.input2)" are valid, nested "$(" is not.
    #[test]
    fn binding_values_follow_the_webhook() {
        for ok in [
            "$(body.input1)",
            "$(body.(input3))",
            "$(body.input1)-$(body.input2)",
            "static",
            "$(header.X-GitHub-Event)",
            "$(extensions.truncated_sha)",
            "$(body)",
            "$(header)",
            "$(body.commits[0].message)",
        ] {
            let errs = validate_binding_value(ok);
            assert!(errs.is_empty(), "{ok}: {errs:?}");
        }
        for bad in [
            "$($(body.param1))",
            "$(body.test-$(body.param1))",
            "$($($(body.param1)))",
        ] {
            let errs = validate_binding_value(bad);
            assert!(errs.has_errors(), "{bad}");
            assert_eq!(errs.0[0].message, format!("invalid value: {bad}"));
        }
        let w = validate_binding_value("$(bdy.x)");
        assert!(!w.has_errors());
        assert!(w.0[0].message.contains("no field \"bdy\""), "{w:?}");
    }

    #[test]
    fn expressions_are_balanced() {
        assert_eq!(
            binding_expressions("a $(body.(x)) b $(header.y)"),
            ["body.(x)", "header.y"]
        );
        assert_eq!(expression_root("{.body.a}"), "body");
        assert_eq!(expression_root("body[\"a\"]"), "body");
    }
}
