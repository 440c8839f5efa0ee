//! gitops-engine's built-in health checks (`pkg/health/health.go` `GetHealthCheckFunc`), one
//! module per kind as upstream has one file per kind. Each check reads the unstructured
//! object as the typed conversion would (missing fields are zero values) and fails, giving
//! Unknown with the conversion error, where the typed conversion fails.

pub mod apiservice;
pub mod argo;
pub mod daemonset;
pub mod deployment;
pub mod hpa;
pub mod ingress;
pub mod job;
pub mod pod;
pub mod pvc;
pub mod replicaset;
pub mod service;
pub mod statefulset;

use serde_json::Value;

use crate::value::{self, Conv};
use crate::{HealthStatus, HealthStatusCode};

type Check = fn(&Value) -> Conv<HealthStatus>;

/// The built-in check of a group and kind (gitops-engine `GetHealthCheckFunc`).
pub fn check_for(group: &str, kind: &str) -> Option<Check> {
    Some(match (group, kind) {
        ("apps", "Deployment") => deployment::health,
        ("apps", "StatefulSet") => statefulset::health,
        ("apps", "ReplicaSet") => replicaset::health,
        ("apps", "DaemonSet") => daemonset::health,
        ("extensions" | "networking.k8s.io", "Ingress") => ingress::health,
        ("argoproj.io", "Workflow") => argo::workflow_health,
        ("apiregistration.k8s.io", "APIService") => apiservice::health,
        ("", "Service") => service::health,
        ("", "PersistentVolumeClaim") => pvc::health,
        ("", "Pod") => pod::health,
        ("batch", "Job") => job::health,
        ("autoscaling", "HorizontalPodAutoscaler") => hpa::health,
        _ => return None,
    })
}

/// gitops-engine's built-in health of `obj` (no overrides, no deletion check): `None` when
/// it has no built-in check; a failed conversion gives Unknown with the error.
pub fn health(obj: &Value) -> Option<HealthStatus> {
    let (group, kind) = value::group_kind(obj);
    let check = check_for(group, kind)?;
    Some(check(obj).unwrap_or_else(HealthStatus::unknown))
}

/// Refuses a version the upstream check has no typed struct for.
pub(crate) fn supported(obj: &Value, kind: &str, versions: &[&str]) -> Conv<()> {
    let v = value::version(obj);
    if versions.contains(&v) {
        Ok(())
    } else {
        let (group, _) = value::group_kind(obj);
        let gv = if group.is_empty() {
            v.to_owned()
        } else {
            format!("{group}/{v}")
        };
        Err(format!("unsupported {kind} GVK: {gv}, Kind={kind}"))
    }
}

/// Wraps a conversion error as upstream's `failed to convert unstructured X to typed: ...`.
pub(crate) fn typed<T>(kind: &str, r: Conv<T>) -> Conv<T> {
    r.map_err(|e| format!("failed to convert unstructured {kind} to typed: {e}"))
}

pub(crate) fn hs(status: HealthStatusCode, message: impl Into<String>) -> Conv<HealthStatus> {
    Ok(HealthStatus::new(status, message))
}
