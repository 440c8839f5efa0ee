//! Kubernetes Events (core/v1) for runs: `Started` when a run begins, `Succeeded` or
//! `Failed` (Warning) when it ends, as Tekton's controller emits them (`kubectl get events`).

use std::sync::atomic::{AtomicU64, Ordering};

use kube::api::{Api, DynamicObject};
use serde_json::{Value, json};

use crate::Ctx;

static SEQ: AtomicU64 = AtomicU64::new(0);

/// Records an Event about `obj` (a stored object: apiVersion, kind, metadata).
/// Failures to record are ignored: an Event is informative, never part of a run.
pub async fn record(ctx: &Ctx, obj: &Value, type_: &str, reason: &str, message: &str) {
    if let Some((api, ev)) = run_event(ctx, obj, type_, reason, message) {
        let _ = crate::create_unread(&api, &ev).await;
    }
}

/// [`record`] without waiting for the write: the Event is made now (its name and times
/// order it among the object's Events), created by a task of its own.
pub fn record_soon(ctx: &Ctx, obj: &Value, type_: &str, reason: &str, message: &str) {
    if let Some((api, ev)) = run_event(ctx, obj, type_, reason, message) {
        tokio::spawn(async move {
            let _ = crate::create_unread(&api, &ev).await;
        });
    }
}

/// The Event of a run (its controller's client and instance; component `PipelineRun` or
/// `TaskRun`).
fn run_event(
    ctx: &Ctx,
    obj: &Value,
    type_: &str,
    reason: &str,
    message: &str,
) -> Option<(Api<DynamicObject>, DynamicObject)> {
    let component = match obj["kind"].as_str() {
        Some("PipelineRun") => "PipelineRun",
        _ => "TaskRun",
    };
    event(
        &ctx.client,
        &ctx.instance,
        component,
        obj,
        type_,
        reason,
        message,
    )
}

/// [`record`] with an explicit client, reporting instance and source component.
pub async fn record_with(
    client: &kube::Client,
    instance: &str,
    component: &str,
    obj: &Value,
    type_: &str,
    reason: &str,
    message: &str,
) {
    if let Some((api, ev)) = event(client, instance, component, obj, type_, reason, message) {
        let _ = crate::create_unread(&api, &ev).await;
    }
}

/// The Event and where it is created.
fn event(
    client: &kube::Client,
    instance: &str,
    component: &str,
    obj: &Value,
    type_: &str,
    reason: &str,
    message: &str,
) -> Option<(Api<DynamicObject>, DynamicObject)> {
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or("default");
    let name = obj["metadata"]["name"].as_str().unwrap_or("");
    let now = sluice_pipeline::status::now();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let ev = json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("{name}.{:x}", nanos.wrapping_add(seq)), "namespace": ns},
        "involvedObject": {
            "apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": name, "namespace": ns,
            "uid": obj["metadata"]["uid"], "resourceVersion": obj["metadata"]["resourceVersion"],
        },
        "reason": reason,
        "message": message,
        "type": type_,
        "count": 1,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "source": {"component": component},
        "reportingComponent": "sluice",
        "reportingInstance": instance,
    });
    let d = serde_json::from_value::<DynamicObject>(ev).ok()?;
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), ns, &crate::gvk("", "v1", "Event", "events"));
    Some((api, d))
}
