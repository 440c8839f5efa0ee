//! Job: gitops-engine `pkg/health/health_job.go`.

use serde_json::Value;

use super::{hs, supported, typed};
use crate::HealthStatus;
use crate::HealthStatusCode::{Degraded, Healthy, Progressing, Suspended};
use crate::value::{self as v, Conv};

pub fn health(obj: &Value) -> Conv<HealthStatus> {
    supported(obj, "Job", &["v1"])?;
    typed("Job", assess(obj))
}

fn assess(j: &Value) -> Conv<HealthStatus> {
    let (mut failed, mut complete, mut suspended) = (false, false, false);
    let (mut fail_msg, mut message) = ("", "");
    for c in v::array(j, &["status", "conditions"])? {
        match v::string(c, &["type"])? {
            "Failed" => {
                failed = true;
                complete = true;
                fail_msg = v::string(c, &["message"])?;
            }
            "Complete" => {
                complete = true;
                message = v::string(c, &["message"])?;
            }
            "Suspended" => {
                complete = true;
                message = v::string(c, &["message"])?;
                if v::string(c, &["status"])? == "True" {
                    suspended = true;
                }
            }
            _ => {}
        }
    }
    if !complete {
        hs(Progressing, message)
    } else if failed {
        hs(Degraded, fail_msg)
    } else if suspended {
        hs(Suspended, message)
    } else {
        hs(Healthy, message)
    }
}
