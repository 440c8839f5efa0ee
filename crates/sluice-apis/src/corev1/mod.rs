//! Kubernetes built-in kinds (core `v1`, `apps/v1`, `batch/v1`, `rbac.authorization.k8s.io/v1`,
//! `networking.k8s.io/v1`, `autoscaling/v2`, `policy/v1`): strict decoding of the top level and
//! `metadata` (as `kubectl apply` with fieldValidation=Strict does), each kind's name rule
//! (kubernetes `pkg/apis/*/validation`), and the API server's checks for the kinds a GitOps
//! repository commonly holds. Deep Pod internals stay `serde_json::Value`.

pub mod configmap;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod generic;
pub mod job;
pub mod namespace;
pub mod persistentvolumeclaim;
pub mod secret;
pub mod service;
pub mod serviceaccount;
pub mod statefulset;
pub mod util;
pub mod volume;
pub mod workload;

use serde::de::DeserializeOwned;
use sluice_core::{FieldErrors, Object};

use crate::Context;

/// Validates `obj` when it is a built-in kind this module knows; `None` otherwise.
pub fn validate(obj: &Object, _ctx: &Context<'_>) -> Option<FieldErrors> {
    let gvk = obj.gvk();
    let errs = match (gvk.group.as_str(), gvk.version.as_str(), gvk.kind.as_str()) {
        ("", "v1", "ConfigMap") => typed(obj, configmap::validate),
        ("", "v1", "Secret") => typed(obj, secret::validate),
        ("", "v1", "ServiceAccount") => typed(obj, serviceaccount::validate),
        ("", "v1", "PersistentVolumeClaim") => typed(obj, persistentvolumeclaim::validate),
        ("", "v1", "Namespace") => typed(obj, namespace::validate),
        ("", "v1", "Service") => typed(obj, service::validate),
        ("apps", "v1", "Deployment") => typed(obj, deployment::validate),
        ("apps", "v1", "StatefulSet") => typed(obj, statefulset::validate),
        ("apps", "v1", "DaemonSet") => typed(obj, daemonset::validate),
        ("batch", "v1", "Job") => typed(obj, job::validate),
        ("batch", "v1", "CronJob") => typed(obj, cronjob::validate),
        (g, v, k) => generic::validate(obj, g, v, k)?,
    };
    Some(errs)
}

/// Decodes `obj` as `T` (strictly: unknown fields are errors) and runs `check` on it.
fn typed<T: DeserializeOwned>(obj: &Object, check: fn(&T) -> FieldErrors) -> FieldErrors {
    match crate::decode::decode::<T>(obj.value()) {
        Ok((t, mut errs)) => {
            errs.also(check(&t));
            errs
        }
        Err(errs) => errs,
    }
}
