//! HorizontalPodAutoscaler: gitops-engine `pkg/health/health_hpa.go`. autoscaling/v1 keeps
//! its conditions as JSON in the `autoscaling.alpha.kubernetes.io/conditions` annotation.

use serde_json::Value;

use super::{hs, supported, typed};
use crate::HealthStatus;
use crate::HealthStatusCode::{Degraded, Healthy, Progressing};
use crate::value::{self as v, Conv};

const WAITING: &str = "Waiting to Autoscale";

pub fn health(obj: &Value) -> Conv<HealthStatus> {
    supported(obj, "HPA", &["v1", "v2beta1", "v2beta2", "v2"])?;
    if v::version(obj) == "v1" {
        let ann = typed(
            "HPA",
            v::map_get(
                obj,
                &["metadata", "annotations"],
                "autoscaling.alpha.kubernetes.io/conditions",
            ),
        )?;
        let Some(ann) = ann else {
            return hs(Progressing, WAITING);
        };
        let conds: Value = serde_json::from_str(ann)
            .map_err(|e| format!("failed to convert conditions annotation to typed: {e}"))?;
        let conds = match conds {
            Value::Array(a) => a,
            Value::Null => Vec::new(),
            _ => {
                return Err("failed to convert conditions annotation to typed: \
                     json: cannot unmarshal into []hpaCondition"
                    .to_owned());
            }
        };
        if conds.is_empty() {
            return hs(Progressing, WAITING);
        }
        return typed("HPA", check_conditions(&conds));
    }
    let conds = typed("HPA", v::array(obj, &["status", "conditions"]))?;
    typed("HPA", check_conditions(conds))
}

/// gitops-engine `isDegraded`: the scale target or a metric cannot be read. Upstream lists
/// FailedGetScale, FailedUpdateScale, FailedGetResourceMetric and InvalidSelector; the
/// conformance testdata `hpa-v1-degraded-failedgetobjectmetric` pins FailedGetObjectMetric
/// too, so every `FailedGet*Metric` reason of ScalingActive counts.
fn is_degraded(ty: &str, reason: &str) -> bool {
    matches!(
        (ty, reason),
        ("AbleToScale", "FailedGetScale" | "FailedUpdateScale")
            | ("ScalingActive", "InvalidSelector")
    ) || (ty == "ScalingActive" && reason.starts_with("FailedGet") && reason.ends_with("Metric"))
}

/// gitops-engine `checkConditions` (argo-cd `gitops-engine/pkg/health/health_hpa.go`): a
/// degraded condition, then the first healthy one (AbleToScale or ScalingLimited True) gives
/// the status with its message, else "Waiting to Autoscale". Degraded is looked for in every
/// condition before healthy (the same testdata has AbleToScale True first and expects
/// Degraded).
fn check_conditions(conds: &[Value]) -> Conv<HealthStatus> {
    for c in conds {
        if is_degraded(v::string(c, &["type"])?, v::string(c, &["reason"])?) {
            return hs(Degraded, v::string(c, &["message"])?);
        }
    }
    for c in conds {
        let ty = v::string(c, &["type"])?;
        if matches!(ty, "AbleToScale" | "ScalingLimited") && v::string(c, &["status"])? == "True" {
            return hs(Healthy, v::string(c, &["message"])?);
        }
    }
    hs(Progressing, WAITING)
}
