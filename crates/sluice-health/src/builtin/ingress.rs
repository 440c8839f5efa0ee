//! Ingress: gitops-engine `pkg/health/health_ingress.go`: Progressing until the load
//! balancer has an ingress point.

use serde_json::Value;

use super::{hs, supported, typed};
use crate::HealthStatus;
use crate::HealthStatusCode::{Healthy, Progressing};
use crate::value::{self as v, Conv};

pub fn health(obj: &Value) -> Conv<HealthStatus> {
    supported(obj, "Ingress", &["v1", "v1beta1"])?;
    typed("Ingress", assess(obj))
}

fn assess(i: &Value) -> Conv<HealthStatus> {
    if v::array(i, &["status", "loadBalancer", "ingress"])?.is_empty() {
        hs(Progressing, "")
    } else {
        hs(Healthy, "")
    }
}
