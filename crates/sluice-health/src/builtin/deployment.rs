//! Deployment: gitops-engine `pkg/health/health_deployment.go` (kubectl's rollout status).

use serde_json::Value;

use super::{hs, supported, typed};
use crate::HealthStatus;
use crate::HealthStatusCode::{Degraded, Healthy, Progressing, Suspended};
use crate::value::{self as v, Conv, go_quote};

pub fn health(obj: &Value) -> Conv<HealthStatus> {
    supported(obj, "Deployment", &["v1", "v1beta1", "v1beta2"])?;
    typed("Deployment", assess(obj))
}

fn assess(d: &Value) -> Conv<HealthStatus> {
    if v::boolean(d, &["spec", "paused"])? {
        return hs(Suspended, "Deployment is paused");
    }
    let generation = v::int(d, &["metadata", "generation"])?;
    let observed = v::int(d, &["status", "observedGeneration"])?;
    if generation > observed {
        return hs(
            Progressing,
            "Waiting for rollout to finish: observed deployment generation less then desired generation",
        );
    }
    let cond = v::condition(d, &["status", "conditions"], "Progressing")?;
    let replicas = v::opt_int(d, &["spec", "replicas"])?;
    let updated = v::int(d, &["status", "updatedReplicas"])?;
    let status_replicas = v::int(d, &["status", "replicas"])?;
    let available = v::int(d, &["status", "availableReplicas"])?;
    if let Some(c) = cond
        && v::string(c, &["reason"])? == "ProgressDeadlineExceeded"
    {
        let name = v::string(d, &["metadata", "name"])?;
        return hs(
            Degraded,
            format!(
                "Deployment {} exceeded its progress deadline",
                go_quote(name)
            ),
        );
    }
    if let Some(r) = replicas
        && updated < r
    {
        return hs(
            Progressing,
            format!(
                "Waiting for rollout to finish: {updated} out of {r} new replicas have been updated..."
            ),
        );
    }
    if status_replicas > updated {
        return hs(
            Progressing,
            format!(
                "Waiting for rollout to finish: {} old replicas are pending termination...",
                status_replicas - updated
            ),
        );
    }
    if available < updated {
        return hs(
            Progressing,
            format!(
                "Waiting for rollout to finish: {available} of {updated} updated replicas are available..."
            ),
        );
    }
    hs(Healthy, "")
}
