//! `TriggerTemplate`: params and the resources to create, with `$(tt.params.NAME)` and
//! `$(uid)` substituted at event time.
//!
//! Upstream: tektoncd/triggers `pkg/apis/triggers/v1beta1/trigger_template_types.go`,
//! `trigger_template_validation.go`; substitution in `pkg/template/resource.go`
//! (`applyParamToResourceTemplate` replaces `$(tt.params.NAME)` only). Since
//! tektoncd/triggers#1699 a resource template may be any kind, not only Tekton's.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::{FieldError, FieldErrors, FieldPath, Object, PathSeg};

use super::{ParamSpec, decode_object, nullable, validate_object_meta};
use crate::meta::{NameRule, ObjectMeta};

/// `triggers.tekton.dev/TriggerTemplate`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerTemplate {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: TriggerTemplateSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

/// `TriggerTemplateSpec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TriggerTemplateSpec {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub params: Vec<ParamSpec>,
    /// Raw objects (`runtime.RawExtension`): any field may hold a param.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub resourcetemplates: Vec<Value>,
}

/// Validates a `TriggerTemplate` object.
pub fn validate(obj: &Object) -> FieldErrors {
    let (t, mut errs) = match decode_object::<TriggerTemplate>(obj) {
        Ok(d) => d,
        Err(e) => return e,
    };
    errs.also(validate_object_meta(
        &t.metadata,
        NameRule::Dns1123SubdomainMax63,
    ));
    errs.also(validate_spec(&t.spec).via_field("spec"));
    errs
}

/// `TriggerTemplateSpec.validate`. Paths are relative to the spec.
pub fn validate_spec(s: &TriggerTemplateSpec) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if s.params.is_empty() && s.resourcetemplates.is_empty() {
        errs.push(FieldError::missing(""));
    }
    if s.resourcetemplates.is_empty() {
        errs.push(FieldError::missing("resourcetemplates"));
    }
    let mut seen = BTreeSet::new();
    for (i, p) in s.params.iter().enumerate() {
        let at = FieldPath::root().field("params").index(i).field("name");
        if p.name.is_empty() {
            errs.push(FieldError::missing(at));
        } else if !seen.insert(p.name.as_str()) {
            errs.push(FieldError::warning(
                at,
                format!("param {:?} is declared more than once", p.name),
            ));
        }
    }
    for (i, rt) in s.resourcetemplates.iter().enumerate() {
        let at = FieldPath::root().field("resourcetemplates").index(i);
        let Some(m) = rt.as_object() else {
            errs.push(FieldError::invalid(
                at,
                "a resource template must be an object with apiVersion and kind",
            ));
            continue;
        };
        for f in ["apiVersion", "kind"] {
            match m.get(f) {
                Some(Value::String(v)) if !v.is_empty() => {}
                _ => errs.push(FieldError::missing(at.clone().field(f))),
            }
        }
    }
    // verifyParamDeclarations: every $(tt.params.NAME) names a declared param.
    let declared: BTreeSet<&str> = s.params.iter().map(|p| p.name.as_str()).collect();
    for r in param_references(s) {
        if !declared.contains(r.name.as_str()) {
            errs.push(FieldError::invalid(
                r.path.clone(),
                format!(
                    "undeclared param '$(tt.params.{0})': '$(tt.params.{0})' must be declared in spec.params",
                    r.name
                ),
            ));
        }
    }
    // The pre-v0.10 form $(params.NAME) is no longer substituted.
    for (path, name) in old_param_references(s) {
        if declared.contains(name.as_str()) {
            errs.push(FieldError::warning(
                path,
                format!(
                    "$(params.{name}) is not substituted by Triggers (the old syntax); use $(tt.params.{name})"
                ),
            ));
        }
    }
    errs
}

/// One `$(tt.params.NAME)` occurrence in a resource template.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamReference {
    pub name: String,
    /// Path relative to the template spec (`resourcetemplates[0].spec.params[1].value`).
    pub path: FieldPath,
    /// In `metadata.name`, `metadata.generateName` or `metadata.namespace` of the resource,
    /// where an unsubstituted reference makes the API server reject it.
    pub in_object_name: bool,
}

/// Every `$(tt.params.NAME)` in the resource templates, in keys and values
/// (`paramsRegexp`: `\$\(tt.params.([_a-zA-Z][_a-zA-Z0-9.-]*)\)`).
pub fn param_references(s: &TriggerTemplateSpec) -> Vec<ParamReference> {
    let mut out = Vec::new();
    for (i, rt) in s.resourcetemplates.iter().enumerate() {
        let base = FieldPath::root().field("resourcetemplates").index(i);
        walk_strings(rt, base, &mut |path, text| {
            for name in tt_param_names(text) {
                let in_object_name = is_object_name_path(&path);
                out.push(ParamReference {
                    name,
                    path: path.clone(),
                    in_object_name,
                });
            }
        });
    }
    out
}

fn is_object_name_path(p: &FieldPath) -> bool {
    matches!(
        p.0.as_slice(),
        [PathSeg::Field(_), PathSeg::Index(_), PathSeg::Field(m), PathSeg::Field(f)]
            if m == "metadata" && (f == "name" || f == "generateName" || f == "namespace")
    )
}

fn old_param_references(s: &TriggerTemplateSpec) -> Vec<(FieldPath, String)> {
    let mut out = Vec::new();
    for (i, rt) in s.resourcetemplates.iter().enumerate() {
        let base = FieldPath::root().field("resourcetemplates").index(i);
        walk_strings(rt, base, &mut |path, text| {
            let mut rest = text;
            while let Some(at) = rest.find("$(params.") {
                let after = &rest[at + "$(params.".len()..];
                match after.find(')') {
                    Some(end) => {
                        out.push((path.clone(), after[..end].to_owned()));
                        rest = &after[end..];
                    }
                    None => break,
                }
            }
        });
    }
    out
}

/// Calls `f` with every string (map keys included) and its path.
fn walk_strings(v: &Value, path: FieldPath, f: &mut dyn FnMut(FieldPath, &str)) {
    match v {
        Value::String(s) => f(path, s),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk_strings(item, path.clone().index(i), f);
            }
        }
        Value::Object(m) => {
            for (k, item) in m {
                if k.contains("$(") {
                    f(path.clone().field(k.clone()), k);
                }
                walk_strings(item, path.clone().field(k.clone()), f);
            }
        }
        _ => {}
    }
}

/// Names in `$(tt.params.NAME)` occurrences, as upstream's regular expression captures them.
pub fn tt_param_names(text: &str) -> Vec<String> {
    const PREFIX: &str = "$(tt.params.";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(PREFIX) {
        let after = &rest[at + PREFIX.len()..];
        let bytes = after.as_bytes();
        let ok_first = bytes
            .first()
            .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_');
        let mut end = 0;
        if ok_first {
            end = 1;
            while end < bytes.len()
                && (bytes[end].is_ascii_alphanumeric() || matches!(bytes[end], b'_' | b'.' | b'-'))
            {
                end += 1;
            }
        }
        if ok_first && bytes.get(end) == Some(&b')') {
            out.push(after[..end].to_owned());
            rest = &after[end + 1..];
        } else {
            rest = after;
        }
    }
    out
}

/// Substitutes params and `$(uid)` into the resource templates as the sink does
/// (`ResolveResources`): plain text replacement of `$(tt.params.NAME)` in the JSON of each
/// template, so a value lands verbatim inside a JSON string.
pub fn render(
    spec: &TriggerTemplateSpec,
    params: &BTreeMap<String, String>,
    uid: &str,
) -> Vec<Result<Value, String>> {
    spec.resourcetemplates
        .iter()
        .map(|rt| {
            let mut text = serde_json::to_string(rt).map_err(|e| e.to_string())?;
            for (name, value) in params {
                text = text.replace(&format!("$(tt.params.{name})"), value);
            }
            text = text.replace("$(uid)", uid);
            serde_json::from_str(&text).map_err(|e| format!("invalid JSON after substitution: {e}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: Value) -> TriggerTemplateSpec {
        serde_json::from_value(v).expect("spec")
    }

    // tektoncd/triggers v1beta1/trigger_template_validation_test.go: missing resource
    // templates, apiVersion/kind required, undeclared $(tt.params.foo).
    #[test]
    fn upstream_cases() {
        let e = validate_spec(&spec(json!({"params": [{"name": "foo"}]})));
        assert_eq!(e.0[0].path.to_string(), "resourcetemplates");
        assert_eq!(e.0[0].message, "missing field(s)");

        let e = validate_spec(&spec(
            json!({"resourcetemplates": [{"apiVersion": "tekton.dev/v1beta1"}]}),
        ));
        assert_eq!(e.0[0].path.to_string(), "resourcetemplates[0].kind");

        let e = validate_spec(&spec(
            json!({"resourcetemplates": [{"kind": "PipelineRun"}]}),
        ));
        assert_eq!(e.0[0].path.to_string(), "resourcetemplates[0].apiVersion");

        let e = validate_spec(&spec(json!({"resourcetemplates": [{
            "apiVersion": "tekton.dev/v1beta1", "kind": "PipelineRun",
            "spec": {"params": [{"name": "message", "value": "$(tt.params.foo)"}]}}]})));
        assert_eq!(e.len(), 1);
        assert_eq!(
            e.0[0].path.to_string(),
            "resourcetemplates[0].spec.params[0].value"
        );
        assert_eq!(
            e.0[0].message,
            "invalid value: undeclared param '$(tt.params.foo)': '$(tt.params.foo)' must be declared in spec.params"
        );

        // "$(.foo)" is not a tt.params reference: accepted.
        let e = validate_spec(&spec(json!({"resourcetemplates": [{
            "apiVersion": "tekton.dev/v1beta1", "kind": "PipelineRun",
            "spec": {"params": [{"name": "message", "value": "$(.foo)"}]}}]})));
        assert!(e.is_empty(), "{e:?}");

        // Any kind may be templated (tektoncd/triggers#1699).
        let e = validate_spec(&spec(
            json!({"params": [{"name": "a"}], "resourcetemplates": [{
            "apiVersion": "v1", "kind": "ConfigMap", "data": {"f": "$(tt.params.a)"}}]}),
        ));
        assert!(e.is_empty(), "{e:?}");

        let e = validate_spec(&TriggerTemplateSpec::default());
        let paths: Vec<String> = e.iter().map(|e| e.path.to_string()).collect();
        assert_eq!(paths, ["", "resourcetemplates"]);
    }

    #[test]
    fn old_syntax_is_a_warning_only_for_template_params() {
        let e = validate_spec(&spec(
            json!({"params": [{"name": "a"}], "resourcetemplates": [{
            "apiVersion": "tekton.dev/v1", "kind": "TaskRun",
            "spec": {"params": [{"name": "x", "value": "$(params.a) $(params.b)"}]}}]}),
        ));
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e.0[0].severity, sluice_core::Severity::Warning);
        assert!(e.0[0].message.starts_with("$(params.a) is not substituted"));
    }

    #[test]
    fn names_and_rendering() {
        assert_eq!(
            tt_param_names("x $(tt.params.a-b.c) $(tt.params.1x) $(tt.params._y)"),
            ["a-b.c", "_y"]
        );
        let s = spec(json!({"params": [{"name": "n"}], "resourcetemplates": [{
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"generateName": "x-$(tt.params.n)-$(uid)"}}]}));
        let refs = param_references(&s);
        assert!(refs[0].in_object_name);
        let out = render(&s, &BTreeMap::from([("n".into(), "v".into())]), "u1");
        assert_eq!(
            out[0].as_ref().expect("renders")["metadata"]["generateName"],
            "x-v-u1"
        );
    }
}
