//! Kyverno `ClusterPolicy` and `Policy` (kyverno/kyverno `api/kyverno/v1/clusterpolicy_types.go`,
//! `policy_types.go`, `spec_types.go`), also served as `kyverno.io/v2beta1`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::{FieldError, FieldErrors, Object};

use super::rule::{Rule, validate_rule};
use crate::meta::{NameRule, ObjectMeta, validate_meta};

/// A `ClusterPolicy` or `Policy`: the two kinds share their spec.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KyvernoPolicy {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: Spec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

/// `Spec` (`spec_types.go`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    /// `All` (default) or `One`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_rules: Option<String>,
    /// Deprecated: `webhookConfiguration.failurePolicy`. `Fail` (default) or `Ignore`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_policy: Option<String>,
    /// Deprecated: `validate.failureAction`. `Audit` (default), `Enforce`, and the deprecated
    /// lowercase `audit`/`enforce`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_failure_action: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validation_failure_action_overrides: Vec<ValidationFailureActionOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_warning: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emit_warning: Option<bool>,
    /// Default `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admission: Option<bool>,
    /// Default `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_validation: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_timeout_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutate_existing_on_policy_update: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate_existing_on_policy_update: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate_existing: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_server_side_apply: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_configuration: Option<WebhookConfiguration>,
}

/// `WebhookConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_conditions: Vec<Value>,
}

/// `ValidationFailureActionOverride`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationFailureActionOverride {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub action: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<Value>,
}

impl Spec {
    /// `BackgroundProcessingEnabled`.
    pub fn background(&self) -> bool {
        self.background.unwrap_or(true)
    }

    /// `AdmissionProcessingEnabled`.
    pub fn admission(&self) -> bool {
        self.admission.unwrap_or(true)
    }
}

const ACTIONS: &str = "\"audit\", \"enforce\", \"Audit\", \"Enforce\"";

fn check_action(a: &str, path: &str, errs: &mut FieldErrors) {
    match a {
        "Audit" | "Enforce" => {}
        // checkValidationFailureAction.
        "audit" | "enforce" => errs.push(FieldError::warning(
            path,
            "Validation failure actions enforce/audit are deprecated, use Enforce/Audit instead.",
        )),
        _ => errs.push(FieldError::new(
            path,
            format!("Unsupported value: {a:?}: supported values: {ACTIONS}"),
        )),
    }
}

/// Overrides: valid actions (`validateNamespaces`).
pub fn validate_overrides(o: &[ValidationFailureActionOverride]) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (i, ov) in o.iter().enumerate() {
        let mut e = FieldErrors::new();
        check_action(&ov.action, "action", &mut e);
        errs.also(e.via_index(i));
    }
    errs
}

fn enum_check(v: &Option<String>, allowed: &[&str], path: &str, errs: &mut FieldErrors) {
    if let Some(v) = v
        && !allowed.contains(&v.as_str())
    {
        let list: Vec<String> = allowed.iter().map(|a| format!("{a:?}")).collect();
        errs.push(FieldError::new(
            path,
            format!(
                "Unsupported value: {v:?}: supported values: {}",
                list.join(", ")
            ),
        ));
    }
}

/// Validates a decoded policy. `raw` is the object's value (for raw rule sections).
pub fn validate_policy(p: &KyvernoPolicy, raw: &Value) -> FieldErrors {
    let namespaced = p.kind == "Policy";
    // Policy names end up in labels of reports: Kyverno limits them to 63 characters.
    let mut errs = validate_meta(&p.metadata, NameRule::Dns1123SubdomainMax63);
    let s = &p.spec;
    let mut spec = FieldErrors::new();
    if let Some(a) = &s.validation_failure_action {
        check_action(a, "validationFailureAction", &mut spec);
    }
    spec.also(
        validate_overrides(&s.validation_failure_action_overrides)
            .via_field("validationFailureActionOverrides"),
    );
    if namespaced && !s.validation_failure_action_overrides.is_empty() {
        spec.push(FieldError::new(
            "validationFailureActionOverrides",
            "Use of validationFailureActionOverrides is supported only with ClusterPolicy",
        ));
    }
    enum_check(&s.apply_rules, &["All", "One"], "applyRules", &mut spec);
    enum_check(
        &s.failure_policy,
        &["Ignore", "Fail"],
        "failurePolicy",
        &mut spec,
    );
    if let Some(t) = s.webhook_timeout_seconds
        && !(1..=30).contains(&t)
    {
        spec.push(FieldError::new(
            "webhookTimeoutSeconds",
            "the timeout value must be between 1 and 30 seconds",
        ));
    }
    if let Some(wc) = &s.webhook_configuration {
        enum_check(
            &wc.failure_policy,
            &["Ignore", "Fail"],
            "webhookConfiguration.failurePolicy",
            &mut spec,
        );
        if let Some(t) = wc.timeout_seconds
            && !(1..=30).contains(&t)
        {
            spec.push(FieldError::new(
                "webhookConfiguration.timeoutSeconds",
                "the timeout value must be between 1 and 30 seconds",
            ));
        }
        if wc.timeout_seconds.is_some() && s.webhook_timeout_seconds.is_some() {
            spec.push(FieldError::new(
                "webhookTimeoutSeconds",
                "remove the deprecated field and use spec.webhookConfiguration.timeoutSeconds instead",
            ));
        }
        if wc.failure_policy.is_some() && s.failure_policy.is_some() {
            spec.push(FieldError::new(
                "failurePolicy",
                "remove the deprecated field and use spec.webhookConfiguration.failurePolicy instead",
            ));
        }
    }
    if !s.admission() && !s.background() {
        spec.push(FieldError::new(
            "",
            "disabling both admission and background processing is not allowed",
        ));
    }
    if s.rules.is_empty() {
        // CRD schema: `rules` is required with at least one item on create.
        spec.push(FieldError::new("rules", "Required value"));
    }
    // ValidateRuleNames.
    let mut seen = std::collections::BTreeSet::new();
    let raw_rules = raw
        .get("spec")
        .and_then(|s| s.get("rules"))
        .and_then(Value::as_array);
    for (i, r) in s.rules.iter().enumerate() {
        let mut e = FieldErrors::new();
        if !r.name.is_empty() && !seen.insert(r.name.as_str()) {
            e.push(FieldError::new(
                "name",
                format!("Duplicate rule name: '{}'", r.name),
            ));
        }
        let null = Value::Null;
        let raw_rule = raw_rules.and_then(|rs| rs.get(i)).unwrap_or(&null);
        e.also(validate_rule(r, raw_rule, s.background()));
        if let Some(v) = &r.validate
            && let Some(a) = &v.failure_action
            && (a == "audit" || a == "enforce")
        {
            e.push(FieldError::warning(
                "validate.failureAction",
                "Validation failure actions enforce/audit are deprecated, use Enforce/Audit instead.",
            ));
        }
        spec.also(e.via_field_index("rules", i));
    }
    errs.also(spec.via_field("spec"));
    errs
}

/// Decodes and validates a `ClusterPolicy`/`Policy` object.
pub fn validate(obj: &Object) -> FieldErrors {
    match crate::decode::decode::<KyvernoPolicy>(obj.value()) {
        Ok((p, mut errs)) => {
            errs.also(validate_policy(&p, obj.value()));
            errs
        }
        Err(errs) => errs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(spec: Value) -> Object {
        Object::new(
            json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
            "metadata": {"name": "p"}, "spec": spec}),
        )
    }

    fn pod_rule(name: &str) -> Value {
        json!({"name": name, "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "validate": {"message": "m", "pattern": {"metadata": {"name": "?*"}}}})
    }

    // api/kyverno/v1/spec_types.go ValidateRuleNames, Validate (webhookTimeoutSeconds);
    // pkg/validation/policy/validate.go checkValidationFailureAction.
    #[test]
    fn spec_rules() {
        let errs = validate(&policy(json!({
            "validationFailureAction": "enforce",
            "webhookTimeoutSeconds": 45,
            "admission": false, "background": false,
            "rules": [pod_rule("a"), pod_rule("a")]
        })));
        let got: Vec<(String, String, bool)> = errs
            .iter()
            .map(|e| {
                (
                    e.path.to_string(),
                    e.message.clone(),
                    e.severity == sluice_core::Severity::Warning,
                )
            })
            .collect();
        assert_eq!(got[0].0, "spec.validationFailureAction");
        assert!(got[0].2);
        assert_eq!(got[1].0, "spec.webhookTimeoutSeconds");
        assert_eq!(
            got[2].1,
            "disabling both admission and background processing is not allowed"
        );
        assert_eq!(got[3].0, "spec.rules[1].name");
        assert_eq!(got[3].1, "Duplicate rule name: 'a'");
        assert_eq!(got.len(), 4);
    }

    #[test]
    fn bad_action_and_unknown_fields() {
        let errs = validate(&policy(
            json!({"validationFailureAction": "Block", "rulez": [],
            "rules": [pod_rule("a")]}),
        ));
        let got: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            got,
            [
                "spec.rulez: unknown field \"spec.rulez\"",
                "spec.validationFailureAction: Unsupported value: \"Block\": supported values: \"audit\", \"enforce\", \"Audit\", \"Enforce\""
            ]
        );
    }

    // api/kyverno/v1/spec_types.go: overrides are for ClusterPolicy only.
    #[test]
    fn namespaced_overrides() {
        let obj = Object::new(json!({"apiVersion": "kyverno.io/v1", "kind": "Policy",
            "metadata": {"name": "p", "namespace": "n"}, "spec": {
                "validationFailureActionOverrides": [{"action": "Audit", "namespaces": ["x"]}],
                "rules": [pod_rule("a")]}}));
        let errs = validate(&obj);
        assert_eq!(errs.len(), 1);
        assert_eq!(
            errs.0[0].message,
            "Use of validationFailureActionOverrides is supported only with ClusterPolicy"
        );
    }
}
