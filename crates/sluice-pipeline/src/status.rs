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
    /// A TaskRun whose steps failed while its pipeline task has `onError: continue`.
    pub const FAILURE_IGNORED: &str = "FailureIgnored";
    // PipelineRun reasons while finally runs after a graceful cancel/stop
    pub const CANCELLED_RUNNING_FINALLY: &str = "CancelledRunningFinally";
    pub const STOPPED_RUNNING_FINALLY: &str = "StoppedRunningFinally";
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
    pub const GRACEFULLY_CANCELLED: &str = "PipelineRun was gracefully cancelled";
    pub const GRACEFULLY_STOPPED: &str = "PipelineRun was gracefully stopped";
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

/// `TaskRunCancelledByPipelineMsg` (taskrun_types.go), the `spec.statusMessage` of a
/// TaskRun cancelled because its PipelineRun was cancelled.
pub const CANCELLED_BY_PIPELINE_MSG: &str =
    "TaskRun cancelled as the PipelineRun it belongs to has been cancelled.";
/// `TaskRunCancelledByPipelineTimeoutMsg` (taskrun_types.go).
pub const CANCELLED_BY_PIPELINE_TIMEOUT_MSG: &str =
    "TaskRun cancelled as the PipelineRun it belongs to has timed out.";

/// The condition message of a cancelled TaskRun (pkg/reconciler/taskrun/taskrun.go:
/// `TaskRun %q was cancelled. %s`, the second part being `spec.statusMessage`).
pub fn taskrun_cancelled_message(taskrun: &str, status_message: &str) -> String {
    format!(
        "TaskRun {} was cancelled. {status_message}",
        go_quote(taskrun)
    )
}

/// The condition message of a timed-out TaskRun (pkg/reconciler/taskrun/taskrun.go:
/// `TaskRun %q failed to finish within %q`, the timeout as a Go `time.Duration`).
pub fn taskrun_timeout_message(taskrun: &str, timeout: std::time::Duration) -> String {
    format!(
        "TaskRun {} failed to finish within {}",
        go_quote(taskrun),
        go_quote(&go_duration(timeout))
    )
}

/// The condition message when results exceed `max-result-size` (pkg/reconciler/taskrun/
/// taskrun.go: `"%s TaskRun \"%q\" failed: results exceeded size limit %d bytes"` with
/// `pipelineErrors.UserErrorLabel`, so the name is quoted twice).
pub fn result_too_large_message(taskrun: &str, limit: usize) -> String {
    format!(
        "[User error] TaskRun \"{}\" failed: results exceeded size limit {limit} bytes",
        go_quote(taskrun)
    )
}

/// Go's `%q` of a plain string: double quotes, with `"` and `\\` escaped.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `time.Duration.String()`: `1h0m0s`, `1m30s`, `1.5s`, `500ms`, `0s`.
pub fn go_duration(d: std::time::Duration) -> String {
    let n = d.as_nanos();
    if n == 0 {
        return "0s".into();
    }
    fn frac(int: u128, rem: u128, width: usize) -> String {
        if rem == 0 {
            int.to_string()
        } else {
            let r = format!("{rem:0width$}");
            format!("{int}.{}", r.trim_end_matches('0'))
        }
    }
    if n < 1_000 {
        return format!("{n}ns");
    }
    if n < 1_000_000 {
        return format!("{}\u{b5}s", frac(n / 1_000, n % 1_000, 3));
    }
    if n < 1_000_000_000 {
        return format!("{}ms", frac(n / 1_000_000, n % 1_000_000, 6));
    }
    let secs = n / 1_000_000_000;
    let sub = n % 1_000_000_000;
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let s = frac(s, sub, 9);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// The current time as RFC 3339 UTC (`2024-01-02T03:04:05Z`).
pub fn now() -> String {
    rfc3339(SystemTime::now())
}

pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    sluice_core::civil::rfc3339_utc(secs)
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

    // Go's time.Duration.String (src/time/time.go), which Tekton's messages print with %q.
    #[test]
    fn go_duration_strings() {
        let d = Duration::from_secs;
        assert_eq!(go_duration(d(0)), "0s");
        assert_eq!(go_duration(d(3600)), "1h0m0s");
        assert_eq!(go_duration(d(3660)), "1h1m0s");
        assert_eq!(go_duration(d(90)), "1m30s");
        assert_eq!(go_duration(d(5)), "5s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(go_duration(Duration::from_micros(1500)), "1.5ms");
    }

    // pkg/reconciler/taskrun/taskrun.go (tektoncd/pipeline): the cancelled, timed-out and
    // results-too-large messages; the statusMessage constants of
    // pkg/apis/pipeline/v1/taskrun_types.go.
    #[test]
    fn taskrun_messages_match_upstream() {
        assert_eq!(
            taskrun_cancelled_message("pr-build", CANCELLED_BY_PIPELINE_MSG),
            "TaskRun \"pr-build\" was cancelled. TaskRun cancelled as the PipelineRun it belongs to has been cancelled."
        );
        assert_eq!(
            taskrun_timeout_message("tr", Duration::from_secs(90)),
            "TaskRun \"tr\" failed to finish within \"1m30s\""
        );
        assert_eq!(
            result_too_large_message("tr", 4096),
            "[User error] TaskRun \"\"tr\"\" failed: results exceeded size limit 4096 bytes"
        );
    }

    // pkg/apis/pipeline/v1/pipelinerun_types.go SkippingReason and PipelineRunReason values.
    #[test]
    fn skipping_reasons_match_upstream() {
        assert_eq!(
            skip::GRACEFULLY_CANCELLED,
            "PipelineRun was gracefully cancelled"
        );
        assert_eq!(
            skip::GRACEFULLY_STOPPED,
            "PipelineRun was gracefully stopped"
        );
        assert_eq!(
            skip::TASKS_TIMED_OUT,
            "PipelineRun Tasks timeout has been reached"
        );
        assert_eq!(reason::CANCELLED_RUNNING_FINALLY, "CancelledRunningFinally");
        assert_eq!(reason::PIPELINERUN_TIMEOUT, "PipelineRunTimeout");
        assert_eq!(
            reason::TASKRUN_RESULT_TOO_LARGE,
            "TaskRunResultLargerThanAllowedLimit"
        );
    }
}
