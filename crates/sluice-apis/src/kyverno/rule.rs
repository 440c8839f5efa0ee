//! Kyverno `Rule` (kyverno/kyverno `api/kyverno/v1/rule_types.go`, `match_resources_types.go`,
//! `resource_description_types.go`, `user_info_types.go`, `common_types.go`) and its
//! validation (`pkg/validation/policy/validate.go`, `pkg/policy/validate/validate.go`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::{FieldError, FieldErrors};

use super::pattern;

/// One rule of a policy: match/exclude, preconditions, context and exactly one of
/// mutate, validate, generate, verifyImages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<ContextEntry>,
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub match_resources: Option<MatchResources>,
    #[serde(default, rename = "exclude", skip_serializing_if = "Option::is_none")]
    pub exclude_resources: Option<MatchResources>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_extractors: Option<Value>,
    /// `{any, all}` or (deprecated) a plain list of conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preconditions: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cel_preconditions: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutate: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validate: Option<Validation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_images: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_background_requests: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_properties: Option<Value>,
}

/// `MatchResources`: `any`/`all` of resource filters, or (legacy) one inline filter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MatchResources {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub any: Vec<ResourceFilter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub all: Vec<ResourceFilter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<Subject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceDescription>,
}

/// `ResourceFilter`: user info and a resource description.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceFilter {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<Subject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceDescription>,
}

/// `rbacv1.Subject`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_group: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// `ResourceDescription`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDescription {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
    /// Deprecated: use `names`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<String>,
}

impl ResourceDescription {
    fn is_empty(&self) -> bool {
        *self == ResourceDescription::default()
    }
}

impl MatchResources {
    /// Every kind the block names (`GetKinds`).
    pub fn kinds(&self) -> Vec<String> {
        let mut out = Vec::new();
        for f in self.any.iter().chain(&self.all) {
            if let Some(r) = &f.resources {
                out.extend(r.kinds.iter().cloned());
            }
        }
        if let Some(r) = &self.resources {
            out.extend(r.kinds.iter().cloned());
        }
        out
    }
}

/// `ContextEntry`: exactly one data source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextEntry {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<ConfigMapReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_call: Option<ApiCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_registry: Option<ImageRegistry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variable: Option<Variable>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_reference: Option<GlobalContextEntryReference>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapReference {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiCall {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<RequestData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub jmes_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestData {
    #[serde(default)]
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageRegistry {
    #[serde(default)]
    pub reference: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub jmes_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_registry_credentials: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Variable {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub jmes_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GlobalContextEntryReference {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub jmes_path: String,
}

/// `Condition`: `key operator value`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub operator: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// `AnyAllConditions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnyAllConditions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any: Option<Vec<Condition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<Vec<Condition>>,
}

/// `Validation`: exactly one of pattern, anyPattern, deny, foreach, podSecurity, cel,
/// manifests (with attestors), assert.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Validation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_action: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failure_action_overrides: Vec<super::policy::ValidationFailureActionOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_existing_violations: Option<bool>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifests: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreach: Option<Vec<ForEachValidation>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any_pattern: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny: Option<Deny>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_security: Option<PodSecurity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cel: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assert: Option<Value>,
}

/// `Deny`: conditions as `{any, all}` or (deprecated) a plain list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deny {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Value>,
}

/// `PodSecurity`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSecurity {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub level: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<PodSecurityStandard>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSecurityStandard {
    #[serde(default)]
    pub control_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restricted_field: Vec<Value>,
}

/// `ForEachValidation`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ForEachValidation {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub list: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub element_scope: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<ContextEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preconditions: Option<AnyAllConditions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any_pattern: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny: Option<Deny>,
    /// A nested foreach (kept raw, as upstream does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreach: Option<Value>,
}

/// Kyverno's condition operators (`ConditionOperators` in `api/kyverno/v1/common_types.go`).
pub const CONDITION_OPERATORS: &[&str] = &[
    "AllIn",
    "AllNotIn",
    "AnyIn",
    "AnyNotIn",
    "DurationGreaterThan",
    "DurationGreaterThanOrEquals",
    "DurationLessThan",
    "DurationLessThanOrEquals",
    "Equal",
    "Equals",
    "GreaterThan",
    "GreaterThanOrEquals",
    "In",
    "LessThan",
    "LessThanOrEquals",
    "NotEqual",
    "NotEquals",
    "NotIn",
];

/// Deprecated operators and their replacements (`pkg/engine/variables/operator/utils.go`).
fn deprecated_alternatives(op: &str) -> Option<&'static [&'static str]> {
    match op {
        "In" => Some(&["AllIn", "AnyIn"]),
        "NotIn" => Some(&["AllNotIn", "AnyNotIn"]),
        _ => None,
    }
}

fn quoted_list(items: &[&str]) -> String {
    let q: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", q.join(" "))
}

/// Validates one condition (`validateConditionValues`, `validateOperator`,
/// `checkDeprecatedOperator`, `validateConditionValuesKeyRequestOperation`).
pub fn validate_condition(c: &Condition) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let null = |v: &Option<Value>| v.as_ref().is_none_or(Value::is_null);
    if null(&c.key) || null(&c.value) || c.operator.is_empty() {
        errs.push(FieldError::new(
            "",
            "entered value of `key`, `value` or `operator` is missing or misspelled",
        ));
    }
    if !c.operator.is_empty() && !CONDITION_OPERATORS.contains(&c.operator.as_str()) {
        errs.push(FieldError::new(
            "operator",
            format!(
                "entered value of `operator` is invalid. valid values: {}",
                quoted_list(CONDITION_OPERATORS)
            ),
        ));
    }
    if let Some(alts) = deprecated_alternatives(&c.operator) {
        errs.push(FieldError::warning(
            "operator",
            format!(
                "Operator {} has been deprecated and will be removed soon. Use these instead: {}",
                c.operator,
                quoted_list(alts)
            ),
        ));
    }
    if let Some(Value::String(k)) = &c.key
        && k.replace(' ', "") == "{{request.operation}}"
    {
        const OPS: &[&str] = &["CREATE", "UPDATE", "DELETE", "CONNECT"];
        let bad = |v: &str, path: &str, errs: &mut FieldErrors| {
            let templated = v.len() >= 4 && v.starts_with("{{") && v.ends_with("}}");
            if !templated && !OPS.contains(&v) {
                errs.push(FieldError::new(
                    path,
                    format!("unknown value '{v}' found under the 'value' field. Only the following values are allowed: [CREATE, UPDATE, DELETE, CONNECT]"),
                ));
            }
        };
        match &c.value {
            Some(Value::String(v)) => bad(v, "value", &mut errs),
            Some(Value::Array(vs)) => {
                for (i, v) in vs.iter().enumerate() {
                    if let Some(s) = v.as_str() {
                        bad(s, &format!("value[{i}]"), &mut errs);
                    }
                }
            }
            _ => {}
        }
    }
    errs
}

/// Validates `{any, all}` conditions, or the deprecated plain list.
pub fn validate_conditions(v: &Value) -> FieldErrors {
    let mut errs = FieldErrors::new();
    match v {
        Value::Array(_) => match crate::decode::decode::<Vec<Condition>>(v) {
            Ok((conds, unknown)) => {
                errs.also(unknown);
                for (i, c) in conds.iter().enumerate() {
                    errs.also(validate_condition(c).via_index(i));
                }
            }
            Err(e) => {
                errs.also(e);
            }
        },
        Value::Object(_) => match crate::decode::decode::<AnyAllConditions>(v) {
            Ok((c, unknown)) => {
                errs.also(unknown);
                errs.also(validate_any_all(&c));
            }
            Err(e) => {
                errs.also(e);
            }
        },
        Value::Null => {}
        _ => errs.push(FieldError::new(
            "",
            "expected a list of conditions or an object with `any`/`all`",
        )),
    }
    errs
}

fn validate_any_all(c: &AnyAllConditions) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (name, list) in [("any", &c.any), ("all", &c.all)] {
        for (i, c) in list.iter().flatten().enumerate() {
            errs.also(validate_condition(c).via_field_index(name, i));
        }
    }
    errs
}

/// `validateRuleContext`.
pub fn validate_context(entries: &[ContextEntry]) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (i, e) in entries.iter().enumerate() {
        let mut here = FieldErrors::new();
        if e.name.is_empty() {
            here.push(FieldError::new(
                "name",
                "a name is required for context entries",
            ));
        }
        for v in [
            "images",
            "request",
            "serviceAccountName",
            "serviceAccountNamespace",
            "element",
            "elementIndex",
        ] {
            if e.name == v || e.name.starts_with(&format!("{v}.")) {
                here.push(FieldError::new(
                    "name",
                    format!(
                        "entry name {} is invalid as it conflicts with a pre-defined variable {v}",
                        e.name
                    ),
                ));
            }
        }
        let sources = [
            e.config_map.is_some(),
            e.api_call.is_some(),
            e.global_reference.is_some(),
            e.image_registry.is_some(),
            e.variable.is_some(),
        ];
        if sources.iter().filter(|b| **b).count() != 1 {
            here.push(FieldError::new(
                "",
                "exactly one of configMap or apiCall or imageRegistry or variable is required for context entries",
            ));
        } else if let Some(cm) = &e.config_map {
            if cm.name.is_empty() {
                here.push(FieldError::new(
                    "configMap.name",
                    "a name is required for configMap context entry",
                ));
            }
            if cm.namespace.is_empty() {
                here.push(FieldError::new(
                    "configMap.namespace",
                    "a namespace is required for configMap context entry",
                ));
            }
        } else if let Some(call) = &e.api_call {
            if !call.url_path.is_empty() && call.service.is_some() {
                here.push(FieldError::new(
                    "apiCall.urlPath",
                    "a URLPath cannot be used for service API calls",
                ));
            }
        } else if let Some(reg) = &e.image_registry {
            if reg.reference.is_empty() {
                here.push(FieldError::new(
                    "imageRegistry.reference",
                    "a ref is required for imageRegistry context entry",
                ));
            }
        } else if let Some(var) = &e.variable {
            if var.value.is_none() && var.jmes_path.is_empty() {
                here.push(FieldError::new(
                    "variable",
                    "a variable must define a value or a jmesPath expression",
                ));
            }
            if var.default.is_some() && var.jmes_path.is_empty() {
                here.push(FieldError::new(
                    "variable.default",
                    "a variable must define a default value only when a jmesPath expression is defined",
                ));
            }
        }
        errs.also(here.via_index(i));
    }
    errs
}

fn non_empty(v: &Option<Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Object(m)) => !m.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    }
}

impl Validation {
    fn is_empty(&self) -> bool {
        *self == Validation::default()
    }
}

/// Where the rule's variable-free sections are: `match`/`exclude` must not use variables
/// (`ruleForbiddenSectionsHaveVariables`: `\{\{[^{}]*\}\}`).
fn has_variables(v: &Value) -> bool {
    match v {
        Value::String(s) => s
            .find("{{")
            .is_some_and(|i| s[i + 2..].find("}}").is_some()),
        Value::Object(m) => m.iter().any(|(k, x)| k.contains("{{") || has_variables(x)),
        Value::Array(a) => a.iter().any(has_variables),
        _ => false,
    }
}

/// Validates one rule. `background` is the policy's effective `spec.background`. Paths are
/// relative to the rule.
pub fn validate_rule(rule: &Rule, raw: &Value, background: bool) -> FieldErrors {
    let mut errs = FieldErrors::new();
    // CRD schema: name is required, at most 63 characters.
    if rule.name.is_empty() {
        errs.push(FieldError::new("name", "Required value"));
    } else if rule.name.len() > 63 {
        errs.push(FieldError::new(
            "name",
            "Too long: may not be more than 63 bytes",
        ));
    }

    // ValidateRuleType.
    let has_mutate = non_empty(&rule.mutate);
    let has_validate = rule.validate.as_ref().is_some_and(|v| !v.is_empty());
    let has_generate = non_empty(&rule.generate);
    let has_verify = rule.verify_images.as_ref().is_some_and(|v| !v.is_empty());
    let count = [has_mutate, has_validate, has_generate, has_verify]
        .iter()
        .filter(|b| **b)
        .count();
    if count == 0 {
        errs.push(FieldError::new(
            "",
            format!(
                "No operation defined in the rule '{}'.(supported operations: mutate,validate,generate,verifyImages)",
                rule.name
            ),
        ));
    } else if count > 1 {
        errs.push(FieldError::new(
            "",
            format!(
                "Multiple operations defined in the rule '{}', only one operation (mutate,validate,generate,verifyImages) is allowed per rule",
                rule.name
            ),
        ));
    }
    if rule.image_extractors.is_some() && !has_verify {
        errs.push(FieldError::new(
            "imageExtractors",
            format!(
                "Invalid rule spec for rule '{}', imageExtractors can only be defined for verifyImages rule",
                rule.name
            ),
        ));
    }

    // match / exclude (validateResources, validateMatchKindHelper, validateWildcard).
    match &rule.match_resources {
        None => errs.push(FieldError::new("match", "Required value")),
        Some(m) => {
            errs.also(validate_match(m, true, background).via_field("match"));
        }
    }
    if let Some(x) = &rule.exclude_resources {
        errs.also(validate_match(x, false, background).via_field("exclude"));
    }
    for section in ["match", "exclude"] {
        if raw.get(section).is_some_and(has_variables) {
            errs.push(FieldError::new(
                section,
                format!(
                    "rule \"{}\" should not have variables in {section} section",
                    rule.name
                ),
            ));
        }
    }

    if let Some(p) = &rule.preconditions {
        errs.also(validate_conditions(p).via_field("preconditions"));
    }
    errs.also(validate_context(&rule.context).via_field("context"));

    if let Some(v) = &rule.validate
        && has_validate
    {
        let kinds = rule
            .match_resources
            .as_ref()
            .map(MatchResources::kinds)
            .unwrap_or_default();
        errs.also(validate_validation(v, rule, &kinds).via_field("validate"));
    }

    // Malformed `{{ }}` anywhere in the rule, and JMESPath that does not parse.
    errs.also(pattern::check_variables(raw));
    errs.also(super::expressions::check_rule_expressions(raw));
    errs
}

fn validate_match(m: &MatchResources, is_match: bool, background: bool) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let inline = m.resources.as_ref().is_some_and(|r| !r.is_empty());
    if (!m.any.is_empty() || !m.all.is_empty()) && inline {
        errs.push(FieldError::new(
            "",
            if is_match {
                "can't specify any/all together with match resources"
            } else {
                "can't specify any/all together with exclude resources"
            },
        ));
    }
    if !m.any.is_empty() && !m.all.is_empty() {
        errs.push(FieldError::new("", "can't specify any and all together"));
    }
    let kinds_msg = "at least one element must be specified in a kind block, the kind attribute is mandatory when working with the resources element";
    for (name, list) in [("any", &m.any), ("all", &m.all)] {
        for (i, f) in list.iter().enumerate() {
            let kinds: &[String] = f.resources.as_ref().map_or(&[], |r| &r.kinds);
            let mut e = FieldErrors::new();
            if is_match && kinds.is_empty() {
                e.push(FieldError::new("resources.kinds", kinds_msg));
            }
            e.also(wildcard_kinds(kinds, background).via_field("resources"));
            errs.also(e.via_field_index(name, i));
        }
    }
    if m.any.is_empty() && m.all.is_empty() {
        let kinds: &[String] = m.resources.as_ref().map_or(&[], |r| &r.kinds);
        if is_match {
            if m.resources
                .as_ref()
                .is_none_or(ResourceDescription::is_empty)
                && m.roles.is_empty()
                && m.cluster_roles.is_empty()
                && m.subjects.is_empty()
            {
                errs.push(FieldError::new("", "match resources not specified"));
            } else if kinds.is_empty() {
                errs.push(FieldError::new("resources.kinds", kinds_msg));
            }
        }
        errs.also(wildcard_kinds(kinds, background).via_field("resources"));
    }
    errs
}

/// `validateWildcard`.
fn wildcard_kinds(kinds: &[String], background: bool) -> FieldErrors {
    let mut e = FieldErrors::new();
    if kinds.iter().any(|k| k == "*") {
        if background {
            e.push(FieldError::new(
                "kinds",
                "wildcard policy not allowed in background mode. Set spec.background=false to disable background mode for this policy rule ",
            ));
        }
        if kinds.len() > 1 {
            e.push(FieldError::new(
                "kinds",
                "wildcard policy can not deal with more than one kind",
            ));
        }
    }
    e
}

fn count_elements(v: &Validation) -> usize {
    let manifests = v
        .manifests
        .as_ref()
        .and_then(|m| m.get("attestors"))
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    [
        v.pattern.as_ref().is_some_and(|p| !p.is_null()),
        v.any_pattern.as_ref().is_some_and(|p| !p.is_null()),
        v.deny.is_some(),
        v.foreach.is_some(),
        v.pod_security.is_some(),
        v.cel.is_some(),
        manifests,
        v.assert.as_ref().is_some_and(|a| !a.is_null()),
    ]
    .iter()
    .filter(|b| **b)
    .count()
}

const FAILURE_ACTIONS: &[&str] = &["Audit", "Enforce"];

fn validate_validation(v: &Validation, rule: &Rule, kinds: &[String]) -> FieldErrors {
    let mut errs = FieldErrors::new();
    match count_elements(v) {
        0 => errs.push(FieldError::new(
            "",
            "one of pattern, anyPattern, deny, foreach, cel must be specified",
        )),
        1 => {}
        _ => errs.push(FieldError::new(
            "",
            "only one of pattern, anyPattern, deny, foreach, cel can be specified",
        )),
    }
    if let Some(a) = &v.failure_action
        && !FAILURE_ACTIONS.contains(&a.as_str())
    {
        errs.push(FieldError::new(
            "failureAction",
            format!("Unsupported value: {a:?}: supported values: \"Audit\", \"Enforce\""),
        ));
    }
    errs.also(
        super::policy::validate_overrides(&v.failure_action_overrides)
            .via_field("failureActionOverrides"),
    );
    if let Some(p) = &v.pattern {
        errs.also(pattern::validate_pattern(p).via_field("pattern"));
        errs.also(pattern::optional_list_lint(p, kinds).via_field("pattern"));
    }
    if let Some(ap) = &v.any_pattern {
        match ap {
            Value::Array(items) => {
                for (i, p) in items.iter().enumerate() {
                    errs.also(pattern::validate_pattern(p).via_field_index("anyPattern", i));
                }
            }
            Value::Null => {}
            _ => errs.push(FieldError::new(
                "anyPattern",
                "failed to deserialize anyPattern, expect array",
            )),
        }
    }
    if let Some(d) = &v.deny
        && let Some(c) = &d.conditions
    {
        errs.also(
            validate_conditions(c)
                .via_field("conditions")
                .via_field("deny"),
        );
    }
    if let Some(fe) = &v.foreach {
        for (i, f) in fe.iter().enumerate() {
            errs.also(validate_foreach(f).via_field_index("foreach", i));
        }
    }
    if let Some(ps) = &v.pod_security {
        const LEVELS: &[&str] = &["privileged", "baseline", "restricted"];
        if !ps.level.is_empty() && !LEVELS.contains(&ps.level.as_str()) {
            errs.push(FieldError::new(
                "podSecurity.level",
                format!(
                    "Unsupported value: {:?}: supported values: \"privileged\", \"baseline\", \"restricted\"",
                    ps.level
                ),
            ));
        }
    }
    if !rule.cel_preconditions.is_empty() && v.cel.is_none() {
        errs.push(FieldError::new(
            "",
            "celPrecondition can only be used with validate.cel",
        ));
    }
    if let Some(Value::Object(cel)) = &v.cel
        && let Some(Value::Array(exprs)) = cel.get("expressions")
    {
        for (i, e) in exprs.iter().enumerate() {
            if e.get("expression")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                errs.push(
                    FieldError::new("", "cel.expressions.expression is required")
                        .via_index(i)
                        .via_field("expressions")
                        .via_field("cel"),
                );
            }
        }
    }
    errs
}

fn validate_foreach(f: &ForEachValidation) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if f.list.is_empty() {
        errs.push(FieldError::new("list", "foreach.list is required"));
    }
    let nested = f
        .foreach
        .as_ref()
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    let count = [
        f.pattern.as_ref().is_some_and(|p| !p.is_null()),
        f.any_pattern.as_ref().is_some_and(|p| !p.is_null()),
        f.deny.is_some(),
        nested,
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if count == 0 {
        errs.push(FieldError::new(
            "",
            "one of pattern, anyPattern, deny, or a nested foreach must be specified",
        ));
    } else if count > 1 {
        errs.push(FieldError::new(
            "",
            "only one of pattern, anyPattern, deny, or a nested foreach can be specified",
        ));
    }
    if let Some(p) = &f.pattern {
        errs.also(pattern::validate_pattern(p).via_field("pattern"));
    }
    if let Some(Value::Array(items)) = &f.any_pattern {
        for (i, p) in items.iter().enumerate() {
            errs.also(pattern::validate_pattern(p).via_field_index("anyPattern", i));
        }
    }
    if let Some(pre) = &f.preconditions {
        errs.also(validate_any_all(pre).via_field("preconditions"));
    }
    if let Some(d) = &f.deny
        && let Some(c) = &d.conditions
    {
        errs.also(
            validate_conditions(c)
                .via_field("conditions")
                .via_field("deny"),
        );
    }
    errs.also(validate_context(&f.context).via_field("context"));
    if let Some(Value::Array(nested)) = &f.foreach {
        match crate::decode::decode::<Vec<ForEachValidation>>(&Value::Array(nested.clone())) {
            Ok((fes, unknown)) => {
                errs.also(unknown.via_field("foreach"));
                for (i, n) in fes.iter().enumerate() {
                    errs.also(validate_foreach(n).via_field_index("foreach", i));
                }
            }
            Err(e) => {
                errs.also(e.via_field("foreach"));
            }
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule_errs(v: Value) -> Vec<(String, String)> {
        let (rule, unknown) = crate::decode::decode::<Rule>(&v).expect("decodes");
        let mut errs = unknown;
        errs.also(validate_rule(&rule, &v, true));
        errs.iter()
            .map(|e| (e.path.to_string(), e.message.clone()))
            .collect()
    }

    // api/kyverno/v1/rule_types.go ValidateRuleType.
    #[test]
    fn exactly_one_operation() {
        let got =
            rule_errs(json!({"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}}));
        assert_eq!(
            got,
            [(
                String::new(),
                "No operation defined in the rule 'r'.(supported operations: mutate,validate,generate,verifyImages)".to_owned()
            )]
        );
        let got = rule_errs(
            json!({"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "validate": {"deny": {}}, "mutate": {"patchStrategicMerge": {"a": 1}}}),
        );
        assert!(
            got[0]
                .1
                .starts_with("Multiple operations defined in the rule 'r'")
        );
    }

    // pkg/validation/policy/validate.go validateMatchKindHelper / validateResources.
    #[test]
    fn match_needs_kinds() {
        let got = rule_errs(
            json!({"name": "r", "match": {"any": [{"resources": {"names": ["x"]}}]},
            "validate": {"deny": {}}}),
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "match.any[0].resources.kinds");
        assert!(
            got[0]
                .1
                .starts_with("at least one element must be specified in a kind block")
        );
        let got = rule_errs(json!({"name": "r", "validate": {"deny": {}}}));
        assert_eq!(got, [("match".to_owned(), "Required value".to_owned())]);
        let got = rule_errs(
            json!({"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}],
            "resources": {"kinds": ["Pod"]}}, "validate": {"deny": {}}}),
        );
        assert_eq!(
            got[0].1,
            "can't specify any/all together with match resources"
        );
    }

    // pkg/validation/policy/validate.go validateConditionValues / validateOperator /
    // checkDeprecatedOperator.
    #[test]
    fn conditions() {
        let got = rule_errs(
            json!({"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "preconditions": {"all": [
                {"key": "{{ request.operation }}", "operator": "AnyIn", "value": ["CREATE", "PATCH"]},
                {"key": "a", "operator": "Equalz", "value": "b"},
                {"key": "a", "operator": "In", "value": ["b"]},
                {"key": "a", "operator": "Equals"}
            ]},
            "validate": {"deny": {"conditions": [{"key": "a", "operator": "NotIn", "value": []}]}}}),
        );
        assert_eq!(got[0].0, "preconditions.all[0].value[1]");
        assert!(got[0].1.starts_with("unknown value 'PATCH'"));
        assert_eq!(got[1].0, "preconditions.all[1].operator");
        assert!(
            got[1]
                .1
                .starts_with("entered value of `operator` is invalid. valid values: [\"AllIn\"")
        );
        assert_eq!(got[2].0, "preconditions.all[2].operator");
        assert_eq!(
            got[2].1,
            "Operator In has been deprecated and will be removed soon. Use these instead: [\"AllIn\" \"AnyIn\"]"
        );
        assert_eq!(got[3].0, "preconditions.all[3]");
        assert_eq!(
            got[3].1,
            "entered value of `key`, `value` or `operator` is missing or misspelled"
        );
        assert_eq!(got[4].0, "validate.deny.conditions[0].operator");
    }

    // pkg/policy/validate/validate.go validateElements; pkg/validation/policy/validate.go
    // validateRuleContext.
    #[test]
    fn validate_elements_and_context() {
        let got = rule_errs(
            json!({"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "context": [{"name": "request", "variable": {"value": 1}}, {"name": "c", "configMap": {"name": "x"}}],
            "validate": {"message": "m", "pattern": {"a": 1}, "deny": {}}}),
        );
        let paths: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "context[0].name",
                "context[1].configMap.namespace",
                "validate"
            ]
        );
        assert_eq!(
            got[2].1,
            "only one of pattern, anyPattern, deny, foreach, cel can be specified"
        );
    }

    #[test]
    fn malformed_variables_and_names() {
        let got = rule_errs(
            json!({"name": "x".repeat(64), "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "validate": {"message": "{{ request.object.metadata.name }", "deny": {}}}),
        );
        assert_eq!(got[0].0, "name");
        assert_eq!(got[1].0, "validate.message");
        assert!(got[1].1.starts_with("malformed variable"));
    }
}
