//! APIService: gitops-engine `pkg/health/health_apiservice.go`.

use serde_json::Value;

use super::{hs, supported, typed};
use crate::HealthStatus;
use crate::HealthStatusCode::{Healthy, Progressing};
use crate::value::{self as v, Conv};

pub fn health(obj: &Value) -> Conv<HealthStatus> {
    supported(obj, "APIService", &["v1", "v1beta1"])?;
    typed("APIService", assess(obj))
}

fn assess(a: &Value) -> Conv<HealthStatus> {
    for c in v::array(a, &["status", "conditions"])? {
        if v::string(c, &["type"])? == "Available" {
            let msg = format!(
                "{}: {}",
                v::string(c, &["reason"])?,
                v::string(c, &["message"])?
            );
            let status = if v::string(c, &["status"])? == "True" {
                Healthy
            } else {
                Progressing
            };
            return hs(status, msg);
        }
    }
    hs(Progressing, "Waiting to be processed")
}
