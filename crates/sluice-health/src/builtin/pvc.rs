//! PersistentVolumeClaim: gitops-engine `pkg/health/health_pvc.go`.

use serde_json::Value;

use super::{hs, supported, typed};
use crate::HealthStatus;
use crate::HealthStatusCode::{Degraded, Healthy, Progressing, Unknown};
use crate::value::{self as v, Conv};

pub fn health(obj: &Value) -> Conv<HealthStatus> {
    supported(obj, "PersistentVolumeClaim", &["v1"])?;
    typed("PersistentVolumeClaim", assess(obj))
}

fn assess(p: &Value) -> Conv<HealthStatus> {
    let status = match v::string(p, &["status", "phase"])? {
        "Lost" => Degraded,
        "Pending" => Progressing,
        "Bound" => Healthy,
        _ => Unknown,
    };
    hs(status, "")
}
