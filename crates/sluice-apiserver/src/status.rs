//! Kubernetes `Status` errors (k8s.io/apimachinery/pkg/api/errors), as kubectl prints them:
//! `Error from server (NotFound): configmaps "x" not found`.

use serde_json::{Value, json};
use sluice_core::FieldErrors;

/// An API error: becomes a `meta.k8s.io/v1 Status` body with `code` as the HTTP status.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason} ({code}): {message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

fn details(group: &str, kind: &str, name: &str) -> Value {
    let mut d = json!({ "name": name, "kind": kind });
    if !group.is_empty() {
        d["group"] = json!(group);
    }
    d
}

/// `configmaps` or `deployments.apps`, as upstream's `schema.GroupResource.String()`.
pub fn group_resource(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_owned()
    } else {
        format!("{resource}.{group}")
    }
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    /// `errors.NewNotFound`: `configmaps "x" not found`.
    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        ApiError {
            details: Some(details(group, resource, name)),
            ..ApiError::new(
                404,
                "NotFound",
                format!("{} \"{name}\" not found", group_resource(group, resource)),
            )
        }
    }

    /// A path that names no resource: upstream's generic 404.
    pub fn no_route() -> Self {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// `errors.NewAlreadyExists`.
    pub fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        ApiError {
            details: Some(details(group, resource, name)),
            ..ApiError::new(
                409,
                "AlreadyExists",
                format!(
                    "{} \"{name}\" already exists",
                    group_resource(group, resource)
                ),
            )
        }
    }

    /// `errors.NewConflict` with `registry.OptimisticLockErrorMsg`.
    pub fn conflict(group: &str, resource: &str, name: &str) -> Self {
        ApiError::conflict_msg(
            group,
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    pub fn conflict_msg(group: &str, resource: &str, name: &str, msg: &str) -> Self {
        ApiError {
            details: Some(details(group, resource, name)),
            ..ApiError::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} \"{name}\": {msg}",
                    group_resource(group, resource)
                ),
            )
        }
    }

    /// `errors.NewInvalid`: 422 with one cause per field error.
    pub fn invalid(group: &str, kind: &str, name: &str, errs: &FieldErrors) -> Self {
        let causes: Vec<Value> = errs
            .iter()
            .map(|e| {
                json!({
                    "reason": cause_reason(&e.message),
                    "message": e.message,
                    "field": e.path.to_string(),
                })
            })
            .collect();
        let list: Vec<String> = errs
            .iter()
            .map(|e| {
                let p = e.path.to_string();
                if p.is_empty() {
                    e.message.clone()
                } else {
                    format!("{p}: {}", e.message)
                }
            })
            .collect();
        let summary = if list.len() == 1 {
            list[0].clone()
        } else {
            format!("[{}]", list.join(", "))
        };
        let qualified = if group.is_empty() {
            kind.to_owned()
        } else {
            format!("{kind}.{group}")
        };
        let mut d = details(group, kind, name);
        d["causes"] = Value::Array(causes);
        ApiError {
            details: Some(d),
            ..ApiError::new(
                422,
                "Invalid",
                format!("{qualified} \"{name}\" is invalid: {summary}"),
            )
        }
    }

    pub fn bad_request(msg: impl Into<String>) -> Self {
        ApiError::new(400, "BadRequest", msg)
    }

    pub fn method_not_allowed(msg: impl Into<String>) -> Self {
        ApiError::new(405, "MethodNotAllowed", msg)
    }

    pub fn unauthorized() -> Self {
        ApiError::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn forbidden(msg: impl Into<String>) -> Self {
        ApiError::new(403, "Forbidden", msg)
    }

    /// `errors.NewResourceExpired`.
    pub fn gone(msg: impl Into<String>) -> Self {
        ApiError::new(410, "Expired", msg)
    }

    pub fn too_large() -> Self {
        ApiError::new(
            413,
            "RequestEntityTooLarge",
            "Request entity too large: limit is 3145728",
        )
    }

    /// A patch type the resource does not take (custom resources take no strategic merge
    /// patch).
    pub fn unsupported_media_type(ct: &str, strategic: bool) -> Self {
        let smp = if strategic {
            ", application/strategic-merge-patch+json"
        } else {
            ""
        };
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml{smp} (got {ct:?})"
            ),
        )
    }

    pub fn internal(msg: impl Into<String>) -> Self {
        ApiError::new(500, "InternalError", msg)
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s
    }
}

/// `metav1.CauseType` from a message's shape.
fn cause_reason(msg: &str) -> &'static str {
    if msg.starts_with("unknown field") {
        "FieldValueInvalid"
    } else if msg.starts_with("Required value") || msg.starts_with("missing field") {
        "FieldValueRequired"
    } else if msg.starts_with("Duplicate value") {
        "FieldValueDuplicate"
    } else if msg.starts_with("Unsupported value") {
        "FieldValueNotSupported"
    } else if msg.starts_with("Not found") {
        "FieldValueNotFound"
    } else if msg.starts_with("Forbidden") {
        "FieldValueForbidden"
    } else {
        "FieldValueInvalid"
    }
}

/// A `Status` of success (delete of some resources, deletecollection of none).
pub fn success_status(details: Option<Value>) -> Value {
    let mut s = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
    });
    if let Some(d) = details {
        s["details"] = d;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::FieldError;

    // k8s.io/apimachinery/pkg/api/errors/errors.go NewNotFound, NewInvalid.
    #[test]
    fn status_messages_match_upstream() {
        let e = ApiError::not_found("apps", "deployments", "web");
        assert_eq!(e.message, "deployments.apps \"web\" not found");
        assert_eq!(e.to_status()["details"]["group"], "apps");
        let errs: FieldErrors = vec![
            FieldError::new(
                "metadata.name",
                "Required value: name or generateName is required",
            ),
            FieldError::new("spec.x", "unknown field \"spec.x\""),
        ]
        .into();
        let e = ApiError::invalid("tekton.dev", "Pipeline", "p", &errs);
        assert_eq!(e.code, 422);
        assert!(
            e.message.starts_with(
                "Pipeline.tekton.dev \"p\" is invalid: [metadata.name: Required value"
            )
        );
        let s = e.to_status();
        assert_eq!(s["details"]["causes"][1]["field"], "spec.x");
        assert_eq!(s["details"]["causes"][0]["reason"], "FieldValueRequired");
    }
}
