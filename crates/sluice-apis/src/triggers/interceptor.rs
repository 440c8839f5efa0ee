//! `Interceptor` (namespaced, `v1alpha1`; the Go type is `NamespacedInterceptor`) and the
//! `clientConfig` it shares with ClusterInterceptor.
//!
//! Upstream: tektoncd/triggers `pkg/apis/triggers/v1alpha1/namespaced_interceptor_types.go`,
//! `namespaced_interceptor_validation.go`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::{FieldError, FieldErrors, Object};

use super::{decode_object, nullable, validate_object_meta};
use crate::meta::{NameRule, ObjectMeta};

/// `triggers.tekton.dev/Interceptor`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Interceptor {
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

/// `InterceptorSpec` / `ClusterInterceptorSpec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InterceptorSpec {
    #[serde(default)]
    pub client_config: ClientConfig,
}

/// How to reach the interceptor: a URL or a Service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceReference>,
    /// PEM bundle (base64 in JSON) for an HTTPS interceptor.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub ca_bundle: String,
}

/// `ServiceReference`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceReference {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub namespace: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
}

impl ClientConfig {
    /// `ResolveAddress`: the interceptor's URL (port 80 for HTTP, 8443 with a CA bundle).
    pub fn address(&self) -> Option<String> {
        if let Some(u) = &self.url {
            return Some(u.clone());
        }
        let svc = self.service.as_ref()?;
        let (scheme, default_port) = if self.ca_bundle.is_empty() {
            ("http", 80)
        } else {
            ("https", 8443)
        };
        let port = svc.port.unwrap_or(default_port);
        let path = if svc.path.is_empty() || svc.path.starts_with('/') {
            svc.path.clone()
        } else {
            format!("/{}", svc.path)
        };
        Some(format!(
            "{scheme}://{}.{}.svc:{port}{path}",
            svc.name, svc.namespace
        ))
    }
}

/// `spec.validate` of (Cluster|Namespaced)Interceptor. Paths are relative to the object.
pub fn validate_spec(s: &InterceptorSpec) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let c = &s.client_config;
    if c.url.is_some() && c.service.is_some() {
        errs.push(FieldError::multiple_one_of(
            "spec.clientConfig",
            &["url", "service"],
        ));
    }
    if c.url.is_none() && c.service.is_none() {
        errs.push(FieldError::warning(
            "spec.clientConfig",
            "neither url nor service is set: interceptor URL was nil, every event using it fails",
        ));
    }
    if let Some(svc) = &c.service {
        if svc.namespace.is_empty() {
            errs.push(FieldError::missing("spec.clientConfig.service.namespace"));
        }
        if svc.name.is_empty() {
            errs.push(FieldError::missing("spec.clientConfig.service.name"));
        }
    }
    errs
}

/// Validates an `Interceptor` object.
pub fn validate(obj: &Object) -> FieldErrors {
    let (t, mut errs) = match decode_object::<Interceptor>(obj) {
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

    // v1alpha1/namespaced_interceptor_validation.go: url xor service; service needs name and
    // namespace.
    #[test]
    fn client_config_rules() {
        let e = validate(&Object::new(json!({
            "apiVersion": "triggers.tekton.dev/v1alpha1", "kind": "Interceptor",
            "metadata": {"name": "i"},
            "spec": {"clientConfig": {"url": "http://x", "service": {"name": ""}}}
        })));
        let m: Vec<String> = e
            .iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect();
        assert_eq!(
            m,
            [
                "spec.clientConfig: expected exactly one, got both: url, service",
                "spec.clientConfig.service.namespace: missing field(s)",
                "spec.clientConfig.service.name: missing field(s)"
            ]
        );
        let c = ClientConfig {
            service: Some(ServiceReference {
                name: "s".into(),
                namespace: "ns".into(),
                path: "cel".into(),
                port: Some(8082),
            }),
            ..ClientConfig::default()
        };
        assert_eq!(c.address().as_deref(), Some("http://s.ns.svc:8082/cel"));
    }
}
