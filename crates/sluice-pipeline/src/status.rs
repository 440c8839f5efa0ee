//! Run status in Tekton's shape (tektoncd/pipeline `pkg/apis/pipeline/v1`
//! `taskrun_types.go`, `pipelinerun_types.go`): a `Succeeded` condition with a reason and
//! message, step states, results, child references, skipped tasks.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_apis::tekton::param::ParamValue;
use sluice_apis::tekton::when::WhenExpression;

/// TaskRun reasons (`TaskRunReason` in taskrun_types.go).
pub mod reason {
    pub const SUCCEEDED: &str = "Succeeded";
    pub const FAILED: &str = "Failed";
    pub const RUNNING: &str = "Running";
    pub const TASKRUN_TIMEOUT: &str = "TaskRunTimeout";
    pub const TASKRUN_CANCELLED: &str = "TaskRunCancelled";
    pub const TASKRUN_RESULT_TOO_LARGE: &str = "TaskRunResultLargerThanAllowedLimit";
    pub const TASKRUN_VALIDATION_FAILED: &str = "TaskRunValidationFailed";
    // PipelineRun reasons (pipelinerun_types.go)
    pub const COMPLETED: &str = "Completed";
    pub const PIPELINERUN_TIMEOUT: &str = "PipelineRunTimeout";
    pub const CANCELLED: &str = "Cancelled";
    pub const PIPELINE_VALIDATION_FAILED: &str = "PipelineValidationFailed";
}

/// Skipping reasons (`SkippingReason` in pipelinerun_types.go).
pub mod skip {
    pub const WHEN: &str = "When Expressions evaluated to false";
    pub const PARENT_SKIPPED: &str = "Parent Tasks were skipped";
    pub const STOPPING: &str = "PipelineRun was stopping";
    pub const CANCELLED: &str = "PipelineRun was cancelled";
    pub const GRACEFULLY_CANCELLED: &str = "PipelineRun was gracefully cancelled";
    pub const PIPELINE_TIMED_OUT: &str = "PipelineRun timeout has been reached";
    pub const TASKS_TIMED_OUT: &str = "PipelineRun Tasks timeout has been reached";
    pub const FINALLY_TIMED_OUT: &str = "PipelineRun Finally timeout has been reached";
    pub const MISSING_RESULTS: &str = "Results were missing";
    pub const EMPTY_ARRAY_IN_MATRIX: &str = "Matrix Parameters have an empty array";
}

/// A knative `Condition`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_transition_time: String,
}

impl Condition {
    pub fn succeeded(ok: Option<bool>, reason: &str, message: impl Into<String>) -> Self {
        Condition {
            type_: "Succeeded".into(),
            status: match ok {
                Some(true) => "True",
                Some(false) => "False",
                None => "Unknown",
            }
            .into(),
            reason: reason.into(),
            message: message.into(),
            last_transition_time: now(),
        }
    }

    pub fn is_true(&self) -> bool {
        self.status == "True"
    }
}

/// `ContainerStateTerminated` of a step.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Terminated {
    pub exit_code: i32,
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub started_at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub finished_at: String,
}

/// `StepState`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepState {
    pub name: String,
    pub container: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminated: Option<Terminated>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub termination_reason: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<RunResult>,
}

/// A result in a status (`TaskRunResult`, `PipelineRunResult`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunResult {
    pub name: String,
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub type_: String,
    pub value: ParamValue,
}

/// `SidecarState`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SidecarState {
    pub name: String,
    pub container: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminated: Option<Terminated>,
}

/// `TaskRunStatus`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRunStatus {
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pod_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub start_time: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub completion_time: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepState>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sidecars: Vec<SidecarState>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<RunResult>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retries_status: Vec<TaskRunStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_spec: Option<Value>,
}

impl TaskRunStatus {
    pub fn condition(&self) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == "Succeeded")
    }

    pub fn succeeded(&self) -> bool {
        self.condition().is_some_and(Condition::is_true)
    }

    pub fn reason(&self) -> &str {
        self.condition().map_or("", |c| c.reason.as_str())
    }
}

/// `ChildStatusReference`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChildReference {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub pipeline_task_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when_expressions: Vec<WhenExpression>,
}

/// `SkippedTask`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkippedTask {
    pub name: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when_expressions: Vec<WhenExpression>,
}

/// `PipelineRunStatus`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineRunStatus {
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub start_time: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub completion_time: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub finally_start_time: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub child_references: Vec<ChildReference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<RunResult>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_tasks: Vec<SkippedTask>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_spec: Option<Value>,
}

impl PipelineRunStatus {
    pub fn condition(&self) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == "Succeeded")
    }

    pub fn succeeded(&self) -> bool {
        self.condition().is_some_and(Condition::is_true)
    }
}

/// The current time as RFC 3339 UTC (`2024-01-02T03:04:05Z`).
pub fn now() -> String {
    rfc3339(SystemTime::now())
}

pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // civil-from-days (H. Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_formats_utc() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }
}
