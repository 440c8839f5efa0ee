//! StatefulSet: gitops-engine `pkg/health/health_statefulset.go` (kubectl's rollout status).

use serde_json::Value;

use super::{hs, supported, typed};
use crate::HealthStatus;
use crate::HealthStatusCode::{Healthy, Progressing};
use crate::value::{self as v, Conv};

pub fn health(obj: &Value) -> Conv<HealthStatus> {
    supported(obj, "StatefulSet", &["v1", "v1beta1", "v1beta2"])?;
    typed("StatefulSet", assess(obj))
}

fn assess(s: &Value) -> Conv<HealthStatus> {
    let observed = v::int(s, &["status", "observedGeneration"])?;
    let generation = v::int(s, &["metadata", "generation"])?;
    if observed == 0 || generation > observed {
        return hs(
            Progressing,
            "Waiting for statefulset spec update to be observed...",
        );
    }
    let replicas = v::opt_int(s, &["spec", "replicas"])?;
    let ready = v::int(s, &["status", "readyReplicas"])?;
    let updated = v::int(s, &["status", "updatedReplicas"])?;
    if let Some(r) = replicas
        && ready < r
    {
        return hs(
            Progressing,
            format!("Waiting for {} pods to be ready...", r - ready),
        );
    }
    let strategy = v::string(s, &["spec", "updateStrategy", "type"])?;
    if strategy == "RollingUpdate" && v::present(s, &["spec", "updateStrategy", "rollingUpdate"])? {
        let partition = v::opt_int(s, &["spec", "updateStrategy", "rollingUpdate", "partition"])?;
        if let (Some(r), Some(p)) = (replicas, partition)
            && updated < r - p
        {
            return hs(
                Progressing,
                format!(
                    "Waiting for partitioned roll out to finish: {updated} out of {} new pods have been updated...",
                    r - p
                ),
            );
        }
        return hs(
            Healthy,
            format!("partitioned roll out complete: {updated} new pods have been updated..."),
        );
    }
    if strategy == "OnDelete" {
        return hs(Healthy, format!("statefulset has {ready} ready pods"));
    }
    let update_rev = v::string(s, &["status", "updateRevision"])?;
    let current_rev = v::string(s, &["status", "currentRevision"])?;
    if update_rev != current_rev {
        return hs(
            Progressing,
            format!(
                "waiting for statefulset rolling update to complete {updated} pods at revision {update_rev}..."
            ),
        );
    }
    let current = v::int(s, &["status", "currentReplicas"])?;
    hs(
        Healthy,
        format!("statefulset rolling update complete {current} pods at revision {current_rev}..."),
    )
}
