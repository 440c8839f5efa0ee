//! Admission: upstream defaulting, validation with `sluice_apis::validate_one` (the same
//! findings and field paths as `sluice validate`) and the hook later policy engines use.

use serde_json::Value;
use sluice_apis::{Context, ObjectSet};
use sluice_core::{FieldError, FieldErrors, Object, Severity};

use crate::resources::ResourceInfo;
use crate::status::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
}

/// What a hook sees. Mutating hooks change `object`.
pub struct AdmissionRequest<'a> {
    pub operation: Operation,
    pub resource: &'a ResourceInfo,
    pub object: &'a mut Value,
    pub old: Option<&'a Value>,
    pub dry_run: bool,
}

/// A policy engine's entry point: Ok(warnings) admits, Err denies (the error is returned to
/// the client as is, e.g. a 400 or 422 Status).
pub trait AdmissionHook: Send + Sync {
    fn admit(&self, req: &mut AdmissionRequest<'_>) -> Result<Vec<String>, ApiError>;

    /// Whether the hook has nothing to do at the moment (a policy engine with no policies):
    /// small writes then run on the async worker that received them instead of the request
    /// pool (`Options::inline_writes`). Only a scheduling hint: `admit` is called either way.
    fn idle(&self) -> bool {
        false
    }
}

/// Calls a hook with panic isolation: a hook that panics denies the request with a 500
/// (fail closed, as a webhook with `failurePolicy: Fail` that errors) and the server goes on.
pub fn call_hook(
    hook: &dyn AdmissionHook,
    req: &mut AdmissionRequest<'_>,
) -> Result<Vec<String>, ApiError> {
    match crate::supervise::isolate(|| hook.admit(req)) {
        Ok(r) => r,
        Err(panic) => {
            crate::log_warning(format!(
                "an admission hook panicked on {} {:?}: {panic}",
                req.resource.kind,
                crate::ops::meta_str(req.object, "name")
            ));
            Err(ApiError::internal(format!(
                "Internal error occurred: admission hook failed: {panic}"
            )))
        }
    }
}

/// `fieldValidation`: what unknown fields do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Strict,
    Warn,
    Ignore,
}

impl FieldValidation {
    pub fn parse(s: Option<&str>) -> Result<Self, ApiError> {
        match s {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation {other:?} is invalid: valid values are \"Strict\", \"Warn\" and \"Ignore\""
            ))),
        }
    }
}

/// kube-apiserver's defaults of a built-in kind on create (see [`crate::defaults`]).
pub fn default_builtin(info: &ResourceInfo, obj: &mut Value) {
    crate::defaults::apply(&info.group, &info.kind, obj, None);
}

/// A copy of `obj` as a user wrote it: server-set metadata and status removed.
fn as_written(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "managedFields",
            "selfLink",
        ] {
            m.remove(k);
        }
    }
    if let Some(m) = v.as_object_mut() {
        m.remove("status");
    }
    v
}

/// Validates with `sluice_apis::validate_one`. `related` are objects the validators may
/// resolve references against (same namespace). Returns (errors, warnings); unknown-field
/// findings are split out per `fv`.
pub fn validate(
    obj: &Value,
    related: &[Object],
    fv: FieldValidation,
) -> (FieldErrors, FieldErrors, Vec<String>) {
    let me = Object::new(as_written(obj));
    let mut objects: Vec<&Object> = vec![&me];
    objects.extend(related.iter().filter(|o| o.key() != me.key()));
    let set = ObjectSet::new(objects);
    let ctx = Context::new(&set);
    let found = sluice_apis::validate_one(&me, &ctx);
    // Argo CD and Argo Rollouts install no validating webhook: their controllers judge an
    // Application or Rollout after it is stored (Rollouts marks it InvalidSpec). So beyond the
    // schema (unknown fields), their findings are warnings at admission, not rejections.
    let webhookless = me.gvk().group == "argoproj.io";
    let mut errors = FieldErrors::new();
    let mut unknown = FieldErrors::new();
    let mut warnings = Vec::new();
    for e in found {
        let is_unknown = e.message.starts_with("unknown field");
        match (e.severity, is_unknown, fv) {
            (Severity::Warning, _, _) => warnings.push(warning_text(&e)),
            (Severity::Error, true, FieldValidation::Strict) => unknown.push(e),
            (Severity::Error, true, FieldValidation::Warn) => warnings.push(e.message.clone()),
            (Severity::Error, true, FieldValidation::Ignore) => {}
            (Severity::Error, false, _) if webhookless => warnings.push(warning_text(&e)),
            (Severity::Error, false, _) => errors.push(e),
        }
    }
    // The fields upstream's schema of a built-in kind does not declare (what kube-apiserver's
    // strict decoding rejects), beyond those the validators already reported.
    if fv != FieldValidation::Ignore {
        let gvk = me.gvk();
        for p in crate::openapi::unknown_fields(&gvk.group, &gvk.version, &gvk.kind, obj) {
            let msg = format!("unknown field {p:?}");
            if unknown.iter().any(|e| e.message == msg) || warnings.contains(&msg) {
                continue;
            }
            match fv {
                FieldValidation::Strict => unknown.push(FieldError::new(p.as_str(), msg)),
                _ => warnings.push(msg),
            }
        }
    }
    (errors, unknown, warnings)
}

fn warning_text(e: &FieldError) -> String {
    let p = e.path.to_string();
    if p.is_empty() {
        e.message.clone()
    } else {
        format!("{p}: {}", e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Argo Rollouts has no admission webhook: an invalid Rollout is stored (with warnings) and
    // its controller marks it InvalidSpec (argo-rollouts pkg/apis/rollouts/validation).
    #[test]
    fn argo_findings_warn_instead_of_rejecting() {
        let r = json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "r", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
                     "strategy": {"canary": {"trafficRouting": {"nginx": {"stableIngress": "x"}}}}},
        });
        let (errs, unknown, warnings) = validate(&r, &[], FieldValidation::Strict);
        assert!(errs.is_empty() && unknown.is_empty(), "{errs:?}");
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("Canary service and Stable service")),
            "{warnings:?}"
        );
    }

    // An invalid Pipeline gets the same findings as `sluice validate` (tektoncd/pipeline
    // pipeline_validation.go: a task needs a taskRef or taskSpec).
    #[test]
    fn invalid_pipeline_is_found() {
        let p = json!({
            "apiVersion": "tekton.dev/v1", "kind": "Pipeline",
            "metadata": {"name": "p", "namespace": "default", "uid": "x", "resourceVersion": "3"},
            "spec": {"tasks": [{"name": "a"}], "bogus": 1},
        });
        let (errs, unknown, _) = validate(&p, &[], FieldValidation::Strict);
        assert!(errs.has_errors(), "{errs:?}");
        assert!(
            errs.iter()
                .any(|e| e.path.to_string().starts_with("spec.tasks[0]"))
        );
        assert_eq!(unknown.len(), 1);
        assert_eq!(
            unknown.iter().next().map(|e| e.path.to_string()),
            Some("spec.bogus".into())
        );
        let (_, unknown, warnings) = validate(&p, &[], FieldValidation::Warn);
        assert!(unknown.is_empty());
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("unknown field \"spec.bogus\""))
        );
    }
}
