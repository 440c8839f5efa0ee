//! DaemonSet: gitops-engine `pkg/health/health_daemonset.go` (kubectl's rollout status).

use serde_json::Value;

use super::{hs, supported, typed};
use crate::HealthStatus;
use crate::HealthStatusCode::{Healthy, Progressing};
use crate::value::{self as v, Conv, go_quote};

pub fn health(obj: &Value) -> Conv<HealthStatus> {
    supported(obj, "DaemonSet", &["v1", "v1beta2"])?;
    typed("DaemonSet", assess(obj))
}

fn assess(d: &Value) -> Conv<HealthStatus> {
    let generation = v::int(d, &["metadata", "generation"])?;
    let observed = v::int(d, &["status", "observedGeneration"])?;
    if generation > observed {
        return hs(
            Progressing,
            "Waiting for rollout to finish: observed daemon set generation less then desired generation",
        );
    }
    let updated = v::int(d, &["status", "updatedNumberScheduled"])?;
    let desired = v::int(d, &["status", "desiredNumberScheduled"])?;
    let available = v::int(d, &["status", "numberAvailable"])?;
    let name = v::string(d, &["metadata", "name"])?;
    if v::string(d, &["spec", "updateStrategy", "type"])? == "OnDelete" {
        return hs(
            Healthy,
            format!("daemon set {updated} out of {desired} new pods have been updated"),
        );
    }
    if updated < desired {
        return hs(
            Progressing,
            format!(
                "Waiting for daemon set {} rollout to finish: {updated} out of {desired} new pods have been updated...",
                go_quote(name)
            ),
        );
    }
    if available < desired {
        return hs(
            Progressing,
            format!(
                "Waiting for daemon set {} rollout to finish: {available} of {desired} updated pods are available...",
                go_quote(name)
            ),
        );
    }
    hs(Healthy, "")
}
