//! Pure functions from runs to the objects the controllers write: child TaskRuns, Pods and
//! their status, workspace bindings, reasons of planning errors, progress messages.

use serde_json::{Map, Value, json};
use sluice_pipeline::TaskInvocation;
use sluice_pipeline::plan::{WsBinding, WsSource};
use sluice_pipeline::status::{TaskRunStatus, go_duration, go_quote};

/// Annotation holding the `context.*` variables of a child TaskRun (JSON object), so the
/// TaskRun controller substitutes `$(context.pipelineRun.name)` and friends as the engine
/// would.
pub const CONTEXT_ANNOTATION: &str = "sluice.dev/context";
/// Annotation on Pods whose containers Sluice's local executor runs: the embedded API
/// server's simulated node leaves them alone.
pub const EXECUTOR_ANNOTATION: &str = "sluice.dev/executor";

/// Tekton's TaskRun reason when the Pod's container configuration cannot be made
/// (tektoncd/pipeline pkg/pod/status.go `ReasonCreateContainerConfigError`): here, a Secret
/// the run's ServiceAccount may not read.
pub const CREATE_CONTAINER_CONFIG_ERROR: &str = "CreateContainerConfigError";

/// PipelineRun reasons of tektoncd/pipeline `pkg/reconciler/pipelinerun/pipelinerun.go`
/// and `internal/resolution/status.go`.
pub mod reason {
    pub const COULDNT_GET_PIPELINE: &str = "CouldntGetPipeline";
    pub const COULDNT_GET_TASK: &str = "CouldntGetTask";
    pub const PARAMETER_MISSING: &str = "ParameterMissing";
    pub const PARAMETER_TYPE_MISMATCH: &str = "ParameterTypeMismatch";
    pub const INVALID_WORKSPACE_BINDINGS: &str = "InvalidWorkspaceBindings";
    pub const INVALID_GRAPH: &str = "PipelineInvalidGraph";
    pub const FAILED_VALIDATION: &str = "PipelineValidationFailed";
    pub const PENDING: &str = "PipelineRunPending";
    pub const STARTED: &str = "Started";
    pub const RUNNING: &str = "Running";
    /// TaskRun: references could not be resolved.
    pub const TASKRUN_RESOLUTION_FAILED: &str = "TaskRunResolutionFailed";
    /// Sluice's: the server stopped (crash, kill -9) while the TaskRun's steps ran.
    pub const TASKRUN_INTERRUPTED: &str = "TaskRunInterrupted";
}

/// `Some(true)`/`Some(false)` once a status's Succeeded condition is True/False.
pub fn done(status: Option<&Value>) -> Option<bool> {
    let conds = status?.get("conditions")?.as_array()?;
    let c = conds.iter().find(|c| c["type"] == "Succeeded")?;
    match c["status"].as_str() {
        Some("True") => Some(true),
        Some("False") => Some(false),
        _ => None,
    }
}

/// The reason a planning error ends a PipelineRun with (Tekton's, from what failed).
pub fn pipelinerun_plan_reason(e: &sluice_pipeline::Error) -> &'static str {
    let m = e.to_string();
    match e {
        sluice_pipeline::Error::Dag(_) => reason::INVALID_GRAPH,
        _ if m.starts_with("pipelineRef:") => reason::COULDNT_GET_PIPELINE,
        _ if m.contains("Task ") && m.contains("not found") => reason::COULDNT_GET_TASK,
        _ if m.contains("taskRef") => reason::COULDNT_GET_TASK,
        _ if m.contains("is missing some parameters") => reason::PARAMETER_MISSING,
        _ if m.contains("param types don't match") => reason::PARAMETER_TYPE_MISMATCH,
        _ if m.contains("workspace") => reason::INVALID_WORKSPACE_BINDINGS,
        _ => reason::FAILED_VALIDATION,
    }
}

/// The reason a planning error ends a TaskRun with.
pub fn taskrun_plan_reason(e: &sluice_pipeline::Error) -> &'static str {
    let m = e.to_string();
    if m.contains("not found") {
        reason::COULDNT_GET_TASK
    } else if m.contains("remote resolution") {
        reason::TASKRUN_RESOLUTION_FAILED
    } else {
        sluice_pipeline::status::reason::TASKRUN_VALIDATION_FAILED
    }
}

/// `pvc-<hash>`: the claim standing for a PipelineRun's volumeClaimTemplate workspace (as
/// Tekton creates one PVC per run and binds every TaskRun to it).
pub fn vct_claim(run_uid: &str, key: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in run_uid.bytes().chain([0]).chain(key.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    format!("pvc-{:010x}", h & 0xff_ffff_ffff)
}

fn items(items: &[(String, String)]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|(k, p)| json!({"key": k, "path": p}))
            .collect(),
    )
}

fn source_json(src: &WsSource, run_uid: &str) -> (String, Value) {
    match src {
        WsSource::EmptyDir | WsSource::HostDir(_) | WsSource::Unsupported(_) => {
            ("emptyDir".into(), json!({}))
        }
        WsSource::Pvc { claim } => ("persistentVolumeClaim".into(), json!({"claimName": claim})),
        WsSource::VolumeClaimTemplate { key } => (
            "persistentVolumeClaim".into(),
            json!({"claimName": vct_claim(run_uid, key)}),
        ),
        WsSource::ConfigMap {
            name,
            items: it,
            optional,
        } => {
            let mut v = json!({"name": name});
            if !it.is_empty() {
                v["items"] = items(it);
            }
            if *optional {
                v["optional"] = json!(true);
            }
            ("configMap".into(), v)
        }
        WsSource::Secret {
            name,
            items: it,
            optional,
        } => {
            let mut v = json!({"secretName": name});
            if !it.is_empty() {
                v["items"] = items(it);
            }
            if *optional {
                v["optional"] = json!(true);
            }
            ("secret".into(), v)
        }
        WsSource::Projected(srcs) => {
            let sources: Vec<Value> = srcs
                .iter()
                .filter_map(|s| {
                    let (k, mut v) = source_json(s, run_uid);
                    match k.as_str() {
                        "configMap" => Some(json!({"configMap": v})),
                        "secret" => {
                            if let Some(m) = v.as_object_mut()
                                && let Some(n) = m.remove("secretName")
                            {
                                m.insert("name".into(), n);
                            }
                            Some(json!({"secret": v}))
                        }
                        _ => None,
                    }
                })
                .collect();
            ("projected".into(), json!({"sources": sources}))
        }
    }
}

/// A resolved workspace binding as a TaskRun's `WorkspaceBinding`.
pub fn binding_json(name: &str, b: &WsBinding, run_uid: &str) -> Value {
    let (k, v) = source_json(&b.source, run_uid);
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    if !b.sub_path.is_empty() {
        m.insert("subPath".into(), json!(b.sub_path));
    }
    m.insert(k, v);
    Value::Object(m)
}

/// The PipelineRun a child TaskRun belongs to.
#[derive(Debug, Clone, Default)]
pub struct Parent {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    /// The Pipeline's name (`tekton.dev/pipeline`): the pipelineRef's, else the run's.
    pub pipeline: String,
    /// The PipelineRun's labels, propagated to its TaskRuns.
    pub labels: Map<String, Value>,
    /// Names of the finally tasks (`tekton.dev/memberOf: finally`).
    pub finally: Vec<String>,
    /// The Task each pipeline task refers to (`tekton.dev/task`), by pipeline task.
    pub task_refs: std::collections::HashMap<String, String>,
}

/// The TaskRun a PipelineRun creates for one invocation (tektoncd/pipeline
/// `pipelinerun.go` createTaskRun: ownerReference, labels, the resolved taskSpec, params,
/// workspaces, timeout, serviceAccountName).
pub fn child_taskrun(parent: &Parent, inv: &TaskInvocation) -> Result<Value, serde_json::Error> {
    let mut labels = parent.labels.clone();
    labels.insert(
        "app.kubernetes.io/managed-by".into(),
        json!("tekton-pipelines"),
    );
    labels.insert("tekton.dev/pipelineRun".into(), json!(parent.name));
    labels.insert("tekton.dev/pipelineRunUID".into(), json!(parent.uid));
    labels.insert("tekton.dev/pipeline".into(), json!(parent.pipeline));
    labels.insert("tekton.dev/pipelineTask".into(), json!(inv.task_label));
    if let Some(t) = parent.task_refs.get(&inv.task_label) {
        labels.insert("tekton.dev/task".into(), json!(t));
    }
    labels.insert(
        "tekton.dev/memberOf".into(),
        json!(if parent.finally.contains(&inv.task_label) {
            "finally"
        } else {
            "tasks"
        }),
    );
    let context: Map<String, Value> = inv
        .context
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let mut spec = json!({
        "taskSpec": serde_json::to_value(&inv.spec)?,
    });
    if !inv.params.is_empty() {
        spec["params"] = serde_json::to_value(&inv.params)?;
    }
    let ws: Vec<Value> = inv
        .workspaces
        .iter()
        .filter_map(|(d, b)| b.as_ref().map(|b| binding_json(&d.name, b, &parent.uid)))
        .collect();
    if !ws.is_empty() {
        spec["workspaces"] = Value::Array(ws);
    }
    if let Some(t) = inv.timeout {
        spec["timeout"] = json!(go_duration(t));
    }
    if !inv.service_account.is_empty() {
        spec["serviceAccountName"] = json!(inv.service_account);
    }
    Ok(json!({
        "apiVersion": "tekton.dev/v1",
        "kind": "TaskRun",
        "metadata": {
            "name": inv.taskrun_name,
            "namespace": parent.namespace,
            "labels": labels,
            "annotations": {CONTEXT_ANNOTATION: serde_json::to_string(&context)?},
            "ownerReferences": [{
                "apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "name": parent.name,
                "uid": parent.uid, "controller": true, "blockOwnerDeletion": true,
            }],
        },
        "spec": spec,
    }))
}

/// The name of a TaskRun's Pod: `<taskrun>-pod`, `-retryN` for retries (tektoncd/pipeline
/// `pkg/pod/pod.go` and `names.SimpleNameGenerator`, kept within 63 characters).
pub fn pod_name(taskrun: &str, retry: usize) -> String {
    let suffix = if retry == 0 {
        "-pod".to_owned()
    } else {
        format!("-pod-retry{retry}")
    };
    let mut base = taskrun.to_owned();
    let max = 63usize.saturating_sub(suffix.len());
    if base.len() > max {
        let mut cut = max;
        while !base.is_char_boundary(cut) {
            cut -= 1;
        }
        base.truncate(cut);
    }
    format!("{base}{suffix}")
}

/// One step: its container name and image.
#[derive(Debug, Clone)]
pub struct StepInfo {
    pub container: String,
    pub image: String,
}

/// The Pod standing for a TaskRun's execution: one container per step (`step-<name>`),
/// owned by the TaskRun, marked as run by the local executor.
pub fn pod_object(
    taskrun: &Value,
    pod: &str,
    steps: &[StepInfo],
    node: &str,
) -> Result<Value, serde_json::Error> {
    let meta = &taskrun["metadata"];
    let mut labels = meta
        .get("labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    labels.insert(
        "app.kubernetes.io/managed-by".into(),
        json!("tekton-pipelines"),
    );
    labels.insert("tekton.dev/taskRun".into(), meta["name"].clone());
    if let Some(uid) = meta.get("uid") {
        labels.insert("tekton.dev/taskRunUID".into(), uid.clone());
    }
    let containers: Vec<Value> = steps
        .iter()
        .map(|s| {
            json!({"name": s.container, "image": if s.image.is_empty() { "none" } else { s.image.as_str() }})
        })
        .collect();
    Ok(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod,
            "namespace": meta["namespace"],
            "labels": labels,
            "annotations": {EXECUTOR_ANNOTATION: "local: steps run as host processes of sluice serve"},
            "ownerReferences": [{
                "apiVersion": "tekton.dev/v1", "kind": "TaskRun", "name": meta["name"],
                "uid": meta["uid"], "controller": true, "blockOwnerDeletion": true,
            }],
        },
        "spec": {
            "restartPolicy": "Never",
            "nodeName": node,
            "containers": containers,
        },
    }))
}

/// The Pod's status while its steps run.
pub fn pod_running(steps: &[StepInfo], start: &str) -> Value {
    let cs: Vec<Value> = steps
        .iter()
        .map(|s| json!({"name": s.container, "image": s.image, "imageID": "", "ready": true, "started": true, "restartCount": 0,
            "state": {"running": {"startedAt": start}}}))
        .collect();
    json!({
        "phase": "Running", "startTime": start, "hostIP": "127.0.0.1", "podIP": "127.0.0.1",
        "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": start},
                       {"type": "Initialized", "status": "True", "lastTransitionTime": start},
                       {"type": "ContainersReady", "status": "True", "lastTransitionTime": start},
                       {"type": "Ready", "status": "True", "lastTransitionTime": start}],
        "containerStatuses": cs,
    })
}

/// The Pod's status once the TaskRun ended: Succeeded or Failed, each step's container
/// terminated with its exit code.
pub fn pod_finished(steps: &[StepInfo], st: &TaskRunStatus) -> Value {
    let end = if st.completion_time.is_empty() {
        sluice_pipeline::status::now()
    } else {
        st.completion_time.clone()
    };
    let cs: Vec<Value> = steps
        .iter()
        .map(|s| {
            let term = st
                .steps
                .iter()
                .find(|x| x.container == s.container)
                .and_then(|x| x.terminated.clone());
            let state = match term {
                Some(t) => json!({"terminated": {
                    "exitCode": t.exit_code, "reason": t.reason,
                    "startedAt": if t.started_at.is_empty() { end.clone() } else { t.started_at },
                    "finishedAt": if t.finished_at.is_empty() { end.clone() } else { t.finished_at },
                }}),
                None => {
                    json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": end, "finishedAt": end}})
                }
            };
            json!({"name": s.container, "image": s.image, "imageID": "", "ready": false, "started": false, "restartCount": 0, "state": state})
        })
        .collect();
    let phase = if st.succeeded() {
        "Succeeded"
    } else {
        "Failed"
    };
    json!({
        "phase": phase,
        "startTime": st.start_time,
        "hostIP": "127.0.0.1",
        "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": st.start_time},
                       {"type": "Ready", "status": "False", "reason": "PodCompleted", "lastTransitionTime": end}],
        "containerStatuses": cs,
    })
}

/// Counts of a PipelineRun's tasks, for the Running condition's message.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Progress {
    pub succeeded: usize,
    pub failed: usize,
    pub cancelled: usize,
    pub skipped: usize,
    pub incomplete: usize,
}

/// `Tasks Completed: N (Failed: F, Cancelled C), Incomplete: I, Skipped: S`, the message of
/// a running PipelineRun (tektoncd/pipeline `pipelinerunstate.go` GetPipelineConditionStatus).
pub fn progress_message(p: &Progress) -> String {
    format!(
        "Tasks Completed: {} (Failed: {}, Cancelled {}), Incomplete: {}, Skipped: {}",
        p.succeeded + p.failed + p.cancelled,
        p.failed,
        p.cancelled,
        p.incomplete,
        p.skipped
    )
}

/// `PipelineRun "x" is pending` / `was cancelled`.
pub fn pending_message(name: &str) -> String {
    format!("PipelineRun {} is pending", go_quote(name))
}
pub fn cancelled_message(name: &str) -> String {
    format!("PipelineRun {} was cancelled", go_quote(name))
}

/// Seconds since the Unix epoch of an RFC 3339 UTC time (`2024-01-02T03:04:05Z`, optional
/// fraction); `None` when malformed.
pub fn unix_seconds(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || !t.ends_with('Z') {
        return None;
    }
    let n = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (h, mi, s) = (n(11..13)?, n(14..16)?, n(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    // days from civil (Howard Hinnant's algorithm)
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + s)
}

/// How long ago an RFC 3339 time was (zero for a time in the future).
pub fn since(t: &str) -> Option<std::time::Duration> {
    let then = unix_seconds(t)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs() as i64;
    Some(std::time::Duration::from_secs(
        now.saturating_sub(then).max(0) as u64,
    ))
}

#[cfg(test)]
mod tests {
    /// The embedded API server's simulated node leaves the executor's Pods alone by this
    /// annotation; it names it itself (it cannot depend on this crate).
    #[test]
    fn the_simulated_node_knows_the_executor_annotation() {
        assert_eq!(
            super::EXECUTOR_ANNOTATION,
            sluice_apiserver::simnode::EXECUTOR_ANNOTATION
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, ..Default::default() })]
        /// What `status::rfc3339` prints parses back to the same second; any other string
        /// parses to None or a time, never a panic.
        #[test]
        fn rfc3339_round_trips(secs in 0u64..8_000_000_000, junk in ".{0,30}") {
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
            let s = sluice_pipeline::status::rfc3339(t);
            proptest::prop_assert_eq!(unix_seconds(&s), Some(secs as i64));
            let _ = unix_seconds(&junk);
        }
    }

    #[test]
    fn rfc3339_times_parse() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_seconds("2024-02-29T12:30:15Z"), Some(1_709_209_815));
        assert_eq!(
            unix_seconds("2024-02-29T12:30:15.250Z"),
            Some(1_709_209_815)
        );
        assert_eq!(unix_seconds("2024-13-01T00:00:00Z"), None);
        assert_eq!(unix_seconds("yesterday"), None);
        let now = sluice_pipeline::status::now();
        assert!(since(&now).is_some_and(|d| d.as_secs() < 5));
    }

    use super::*;

    #[test]
    fn done_reads_the_succeeded_condition() {
        assert_eq!(done(None), None);
        let s = json!({"conditions": [{"type": "Succeeded", "status": "Unknown"}]});
        assert_eq!(done(Some(&s)), None);
        let s = json!({"conditions": [{"type": "Other", "status": "True"}, {"type": "Succeeded", "status": "False"}]});
        assert_eq!(done(Some(&s)), Some(false));
        let s = json!({"conditions": [{"type": "Succeeded", "status": "True"}]});
        assert_eq!(done(Some(&s)), Some(true));
    }

    #[test]
    fn plan_errors_get_tektons_reasons() {
        use sluice_pipeline::Error;
        let r = |s: &str| pipelinerun_plan_reason(&Error::Resolve(s.into()));
        assert_eq!(
            r("pipelineRef: Pipeline \"x\" not found among the inputs"),
            "CouldntGetPipeline"
        );
        assert_eq!(
            r(
                "PipelineRun \"a\" parameters is missing some parameters required by Pipeline \"p\"'s parameters: x"
            ),
            "ParameterMissing"
        );
        assert_eq!(
            r("param types don't match the user-specified type: [x]"),
            "ParameterTypeMismatch"
        );
        assert_eq!(
            r("pipeline requires workspace with name \"w\" be provided by pipelinerun"),
            "InvalidWorkspaceBindings"
        );
        assert_eq!(
            pipelinerun_plan_reason(&Error::Dag("cycle".into())),
            "PipelineInvalidGraph"
        );
        assert_eq!(r("something else"), "PipelineValidationFailed");
    }

    #[test]
    fn pod_names_follow_tekton_and_stay_short() {
        assert_eq!(pod_name("run-build", 0), "run-build-pod");
        assert_eq!(pod_name("run-build", 2), "run-build-pod-retry2");
        let long = "x".repeat(80);
        assert_eq!(pod_name(&long, 0).len(), 63);
        assert!(pod_name(&long, 0).ends_with("-pod"));
    }

    #[test]
    fn bindings_round_trip_to_tekton_shape() {
        let b = WsBinding {
            source: WsSource::VolumeClaimTemplate { key: "src".into() },
            sub_path: "dir".into(),
        };
        let v = binding_json("source", &b, "uid-1");
        assert_eq!(v["name"], "source");
        assert_eq!(v["subPath"], "dir");
        assert_eq!(
            v["persistentVolumeClaim"]["claimName"],
            json!(vct_claim("uid-1", "src"))
        );
        // same run, same claim; another run, another claim
        assert_eq!(vct_claim("uid-1", "src"), vct_claim("uid-1", "src"));
        assert_ne!(vct_claim("uid-1", "src"), vct_claim("uid-2", "src"));
        let b = WsBinding {
            source: WsSource::Secret {
                name: "s".into(),
                items: vec![("k".into(), "p".into())],
                optional: true,
            },
            sub_path: String::new(),
        };
        let v = binding_json("creds", &b, "u");
        assert_eq!(
            v,
            json!({"name": "creds", "secret": {"secretName": "s", "items": [{"key": "k", "path": "p"}], "optional": true}})
        );
        // what the engine reads back is what it gave
        let wb: sluice_apis::tekton::workspace::WorkspaceBinding =
            serde_json::from_value(v).expect("decodes");
        assert_eq!(sluice_pipeline::plan::ws_binding(&wb), b);
    }

    #[test]
    fn progress_message_is_tektons() {
        let p = Progress {
            succeeded: 1,
            failed: 1,
            cancelled: 0,
            skipped: 2,
            incomplete: 3,
        };
        assert_eq!(
            progress_message(&p),
            "Tasks Completed: 2 (Failed: 1, Cancelled 0), Incomplete: 3, Skipped: 2"
        );
        assert_eq!(pending_message("a"), "PipelineRun \"a\" is pending");
    }
}
