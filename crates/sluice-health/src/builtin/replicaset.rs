//! ReplicaSet: gitops-engine `pkg/health/health_replicaset.go`.

use serde_json::Value;

use super::{hs, supported, typed};
use crate::HealthStatus;
use crate::HealthStatusCode::{Degraded, Healthy, Progressing};
use crate::value::{self as v, Conv};

pub fn health(obj: &Value) -> Conv<HealthStatus> {
    supported(obj, "ReplicaSet", &["v1", "v1beta2"])?;
    typed("ReplicaSet", assess(obj))
}

fn assess(r: &Value) -> Conv<HealthStatus> {
    let generation = v::int(r, &["metadata", "generation"])?;
    let observed = v::int(r, &["status", "observedGeneration"])?;
    if generation > observed {
        return hs(
            Progressing,
            "Waiting for rollout to finish: observed replica set generation less then desired generation",
        );
    }
    if let Some(c) = v::condition(r, &["status", "conditions"], "ReplicaFailure")?
        && v::string(c, &["status"])? == "True"
    {
        return hs(Degraded, v::string(c, &["message"])?);
    }
    let available = v::int(r, &["status", "availableReplicas"])?;
    if let Some(want) = v::opt_int(r, &["spec", "replicas"])?
        && available < want
    {
        return hs(
            Progressing,
            format!(
                "Waiting for rollout to finish: {available} out of {want} new replicas are available..."
            ),
        );
    }
    hs(Healthy, "")
}
