//! Service: gitops-engine `pkg/health/health_service.go`: a LoadBalancer is Progressing
//! until it has an ingress point.

use serde_json::Value;

use super::{hs, supported, typed};
use crate::HealthStatus;
use crate::HealthStatusCode::{Healthy, Progressing};
use crate::value::{self as v, Conv};

pub fn health(obj: &Value) -> Conv<HealthStatus> {
    supported(obj, "Service", &["v1"])?;
    typed("Service", assess(obj))
}

fn assess(s: &Value) -> Conv<HealthStatus> {
    if v::string(s, &["spec", "type"])? == "LoadBalancer"
        && v::array(s, &["status", "loadBalancer", "ingress"])?.is_empty()
    {
        return hs(Progressing, "");
    }
    hs(Healthy, "")
}
