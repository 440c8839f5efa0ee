//! `ClusterInterceptor`: a cluster-scoped interceptor service (the core `cel`, `github`,
//! `gitlab`, `bitbucket` and `slack` interceptors are ClusterInterceptors).
//!
//! Upstream: tektoncd/triggers `pkg/apis/triggers/v1beta1/cluster_interceptor_types.go`,
//! `cluster_interceptor_validation.go`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::{FieldErrors, Object};

use super::interceptor::{InterceptorSpec, validate_spec};
use super::{decode_object, validate_object_meta};
use crate::meta::{NameRule, ObjectMeta};

/// `triggers.tekton.dev/ClusterInterceptor`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterInterceptor {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: InterceptorSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

/// Validates a `ClusterInterceptor` object.
pub fn validate(obj: &Object) -> FieldErrors {
    let (t, mut errs) = match decode_object::<ClusterInterceptor>(obj) {
        Ok(d) => d,
        Err(e) => return e,
    };
    errs.also(validate_object_meta(
        &t.metadata,
        NameRule::Dns1123Subdomain,
    ));
    errs.also(validate_spec(&t.spec));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // v1beta1/cluster_interceptor_validation.go.
    #[test]
    fn service_needs_namespace() {
        let e = validate(&Object::new(json!({
            "apiVersion": "triggers.tekton.dev/v1alpha1", "kind": "ClusterInterceptor",
            "metadata": {"name": "cel"},
            "spec": {"clientConfig": {"service": {"name": "x"}}}
        })));
        assert_eq!(
            e.0[0].path.to_string(),
            "spec.clientConfig.service.namespace"
        );
    }
}
