//! Argo Rollouts controllers: Rollouts (canary, blue-green) and AnalysisRuns, the I/O around the pure
//! engines of `sluice_rollouts`.
//!
//! - Rollout: reads the Rollout's ReplicaSets and AnalysisRuns (owned by its uid), the
//!   Services its strategy names and nginx's stable Ingresses, runs
//!   `sluice_rollouts::canary::reconcile` (canary or blue-green), switches Service selectors,
//!   sets or removes scale-down deadlines, creates or patches the canary Ingress, creates the
//!   new ReplicaSet (labelled and selected
//!   by `rollouts-pod-template-hash`, owned by the Rollout), scales the ReplicaSets, creates
//!   AnalysisRuns from AnalysisTemplates/ClusterAnalysisTemplates with the Rollout's args,
//!   terminates runs, and writes the status (a merge patch carrying the resourceVersion it
//!   read, so a concurrent `promote`/`abort` is never overwritten).
//! - AnalysisRun: `sluice_rollouts::analysis::reconcile_json` with the prometheus provider
//!   querying `address` over plain HTTP (bounded by [`PROVIDER_TIMEOUT`]); valueFrom
//!   secretKeyRef through the client.
//!
//! Pods are what the cluster's ReplicaSet controller makes of the ReplicaSets: on the
//! embedded server the simulated node creates them and turns them Ready, as for
//! Deployments.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::ApiResource;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use serde_json::{Value, json};
use sluice_rollouts::analysis::{self, Outcome, Task};
use sluice_rollouts::canary::{self, POD_TEMPLATE_HASH_LABEL, REVISION_ANNOTATION};
use sluice_rollouts::nginx;
use sluice_rollouts::services::{
    MANAGED_BY_ANNOTATION, SCALE_DOWN_DEADLINE_ANNOTATION, service_patch,
};

use crate::{Ctx, Error, gvk};

/// Connect, read and write timeout of one provider call.
pub const PROVIDER_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest provider answer read.
pub const MAX_PROVIDER_RESPONSE: usize = 10 * 1024 * 1024;

pub fn rollout_ar() -> ApiResource {
    gvk("argoproj.io", "v1alpha1", "Rollout", "rollouts")
}
pub fn analysisrun_ar() -> ApiResource {
    gvk("argoproj.io", "v1alpha1", "AnalysisRun", "analysisruns")
}
fn analysistemplate_ar() -> ApiResource {
    gvk(
        "argoproj.io",
        "v1alpha1",
        "AnalysisTemplate",
        "analysistemplates",
    )
}
fn clusteranalysistemplate_ar() -> ApiResource {
    gvk(
        "argoproj.io",
        "v1alpha1",
        "ClusterAnalysisTemplate",
        "clusteranalysistemplates",
    )
}
fn replicaset_ar() -> ApiResource {
    gvk("apps", "v1", "ReplicaSet", "replicasets")
}
fn service_ar() -> ApiResource {
    gvk("", "v1", "Service", "services")
}
fn ingress_ar() -> ApiResource {
    gvk("networking.k8s.io", "v1", "Ingress", "ingresses")
}

/// A GET that maps 404 to `None`.
async fn get_opt(
    api: &Api<DynamicObject>,
    name: &str,
    ar: &ApiResource,
) -> Result<Option<Value>, Error> {
    match api.get(name).await {
        Ok(o) => Ok(Some(to_json(&o, ar)?)),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Where a Rollout names the Services it manages (blue-green active/preview, canary
/// stable/canary).
const SERVICE_FIELDS: [&str; 4] = [
    "/spec/strategy/blueGreen/activeService",
    "/spec/strategy/blueGreen/previewService",
    "/spec/strategy/canary/stableService",
    "/spec/strategy/canary/canaryService",
];

/// The Services a Rollout (its JSON, or a `DynamicObject`'s `data`) names, as argo-rollouts
/// `serviceutil.GetRolloutServiceKeys`.
pub fn service_names(ro: &Value) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for p in SERVICE_FIELDS {
        let name = str_at(ro, p);
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// The Ingresses the Rollout `rollout` manages with nginx traffic routing: its stable Ingresses and the
/// canary Ingresses made of them, as argo-rollouts `ingressutil.GetRolloutIngressKeys`.
pub fn ingress_names(rollout: &str, ro: &Value) -> Vec<String> {
    let Some(ng) = nginx::config(ro) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for stable in nginx::stable_ingresses(ng) {
        out.push(nginx::canary_ingress_name(rollout, &stable));
        out.push(stable);
    }
    out
}

/// What a watched object is to the Rollouts that may name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Managed {
    Service,
    Ingress,
}

/// The Rollouts of `ns` that name the Service or Ingress `name` (the watch mapper: a change
/// to it enqueues them at once, as argo-rollouts' Service and Ingress controllers do through
/// their `byService` / `byIngress` indexes, service/service.go `getRolloutsByService`).
/// Reads the Rollout controller's own cache, so it keeps nothing of its own.
pub fn rollouts_naming<'a>(
    rollouts: impl IntoIterator<Item = &'a DynamicObject>,
    kind: Managed,
    ns: &str,
    name: &str,
) -> Vec<ObjectRef<DynamicObject>> {
    let mut out = Vec::new();
    for ro in rollouts {
        if ro.metadata.namespace.as_deref() != Some(ns) {
            continue;
        }
        let Some(ro_name) = ro.metadata.name.as_deref() else {
            continue;
        };
        let names = match kind {
            Managed::Service => service_names(&ro.data).contains(&name),
            Managed::Ingress => ingress_names(ro_name, &ro.data).iter().any(|n| n == name),
        };
        if names {
            out.push(ObjectRef::new_with(ro_name, rollout_ar()).within(ns));
        }
    }
    out
}

/// The Services the strategy names (blue-green active/preview, canary stable/canary) that
/// exist, as the engine sees them.
async fn referenced_services(
    client: &kube::Client,
    ns: &str,
    ro: &Value,
) -> Result<Vec<canary::Service>, Error> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &service_ar());
    let mut out = Vec::new();
    for name in service_names(ro) {
        if let Some(v) = get_opt(&api, name, &service_ar()).await? {
            out.push(canary::Service {
                name: name.to_owned(),
                selector_hash: v
                    .pointer("/spec/selector")
                    .and_then(|s| s.get(POD_TEMPLATE_HASH_LABEL))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                managed_by: v
                    .pointer("/metadata/annotations")
                    .and_then(|a| a.get(MANAGED_BY_ANNOTATION))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            });
        }
    }
    Ok(out)
}

/// The stable Ingresses of nginx traffic routing that exist.
async fn stable_ingresses(
    client: &kube::Client,
    ns: &str,
    ro: &Value,
) -> Result<Vec<Value>, Error> {
    let Some(ng) = nginx::config(ro) else {
        return Ok(Vec::new());
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ingress_ar());
    let mut out = Vec::new();
    for name in nginx::stable_ingresses(ng) {
        if let Some(v) = get_opt(&api, &name, &ingress_ar()).await? {
            out.push(v);
        }
    }
    Ok(out)
}

/// nginx.go `SetWeightPerIngress`: the canary Ingress created, or patched (annotations,
/// labels, spec) when it differs; one controlled by another object is an error.
async fn apply_canary_ingress(
    client: &kube::Client,
    ns: &str,
    uid: &str,
    desired: &Value,
) -> Result<(), Error> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ingress_ar());
    let name = str_at(desired, "/metadata/name");
    let Some(live) = get_opt(&api, name, &ingress_ar()).await? else {
        let obj: DynamicObject = serde_json::from_value(desired.clone())?;
        return match api.create(&PostParams::default(), &obj).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
            Err(e) => Err(e.into()),
        };
    };
    let controlled = live
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|r| r.iter().any(|r| r["uid"] == uid && r["controller"] == true));
    if !controlled {
        return Err(Error::Other(format!(
            "canary ingress `{name}` controlled by different object"
        )));
    }
    let shape = |v: &Value| {
        json!({"metadata": {
            "annotations": v.pointer("/metadata/annotations").cloned().unwrap_or(json!({})),
            "labels": v.pointer("/metadata/labels").cloned().unwrap_or(json!({}))},
            "spec": v.get("spec").cloned().unwrap_or(json!({}))})
    };
    if shape(&live) == shape(desired) {
        return Ok(());
    }
    let patch = merge_diff(&shape(&live), &shape(desired));
    api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await?;
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn to_json(o: &DynamicObject, ar: &ApiResource) -> Result<Value, Error> {
    let mut v = serde_json::to_value(o)?;
    v["apiVersion"] = json!(ar.api_version);
    v["kind"] = json!(ar.kind);
    Ok(v)
}

fn owned_by(v: &Value, uid: &str) -> bool {
    v.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|r| r.iter().any(|r| r["uid"] == uid))
}

fn str_at<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

fn int_at(v: &Value, p: &str) -> i32 {
    v.pointer(p).and_then(Value::as_i64).unwrap_or(0) as i32
}

/// A JSON merge patch from `old` to `new`: changed keys set, removed keys null.
pub fn merge_diff(old: &Value, new: &Value) -> Value {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            let mut out = serde_json::Map::new();
            for (k, v) in n {
                match o.get(k) {
                    Some(ov) if ov == v => {}
                    Some(ov) if ov.is_object() && v.is_object() => {
                        out.insert(k.clone(), merge_diff(ov, v));
                    }
                    _ => {
                        out.insert(k.clone(), v.clone());
                    }
                }
            }
            for k in o.keys() {
                if !n.contains_key(k) {
                    out.insert(k.clone(), Value::Null);
                }
            }
            Value::Object(out)
        }
        _ => new.clone(),
    }
}

fn owner_ref(ro: &Value) -> Value {
    json!([{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "name": str_at(ro, "/metadata/name"), "uid": str_at(ro, "/metadata/uid"),
        "controller": true, "blockOwnerDeletion": true}])
}

/// The label selector of the Rollout's `spec.selector.matchLabels` (`k=v,...`), which every
/// ReplicaSet it makes carries: its ReplicaSets are listed with it, as the Deployment
/// controller lists by selector, instead of the whole namespace per reconcile. `None` (list
/// all, the owner check decides) when there are no matchLabels.
pub fn match_labels_selector(ro: &Value) -> Option<String> {
    let labels = ro.pointer("/spec/selector/matchLabels")?.as_object()?;
    let mut out = Vec::new();
    for (k, v) in labels {
        out.push(format!("{k}={}", v.as_str()?));
    }
    (!out.is_empty()).then(|| out.join(","))
}

/// Whether the Rollout's AnalysisRuns matter to this pass: its strategy names an analysis
/// (a canary step or background `analysis`, blue-green pre-/post-promotion) or its status
/// still names a run. Otherwise there is no run to create, read or terminate and the
/// namespace's AnalysisRuns are not listed.
pub fn uses_analysis(ro: &Value) -> bool {
    let canary = ro.pointer("/spec/strategy/canary");
    let steps = canary
        .and_then(|c| c.get("steps"))
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|s| s.get("analysis").is_some()));
    steps
        || canary.and_then(|c| c.get("analysis")).is_some()
        || [
            "/spec/strategy/blueGreen/prePromotionAnalysis",
            "/spec/strategy/blueGreen/postPromotionAnalysis",
            "/status/canary/currentStepAnalysisRunStatus",
            "/status/canary/currentBackgroundAnalysisRunStatus",
            "/status/blueGreen/prePromotionAnalysisRunStatus",
            "/status/blueGreen/postPromotionAnalysisRunStatus",
        ]
        .iter()
        .any(|p| ro.pointer(p).is_some_and(|v| !v.is_null()))
}

/// Reconciles one Rollout.
pub async fn reconcile_rollout(obj: Arc<DynamicObject>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    if obj.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ro = to_json(&obj, &rollout_ar())?;
    let ns = obj.metadata.namespace.clone().unwrap_or_default();
    let name = obj.metadata.name.clone().unwrap_or_default();
    let uid = obj.metadata.uid.clone().unwrap_or_default();
    let client = ctx.client.clone();
    let rs_api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &replicaset_ar());
    let ar_api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &analysisrun_ar());
    let mut rss = Vec::new();
    let mut rs_objs = Vec::new();
    let mut lp = ListParams::default();
    if let Some(sel) = match_labels_selector(&ro) {
        lp = lp.labels(&sel);
    }
    for o in rs_api.list(&lp).await?.items {
        let v = to_json(&o, &replicaset_ar())?;
        if !owned_by(&v, &uid) || v.pointer("/metadata/deletionTimestamp").is_some() {
            continue;
        }
        rss.push(canary::ReplicaSet {
            name: str_at(&v, "/metadata/name").to_owned(),
            pod_hash: v
                .pointer("/metadata/labels")
                .and_then(|l| l.get(POD_TEMPLATE_HASH_LABEL))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            replicas: int_at(&v, "/spec/replicas"),
            status_replicas: int_at(&v, "/status/replicas"),
            ready: int_at(&v, "/status/readyReplicas"),
            available: int_at(&v, "/status/availableReplicas"),
            revision: v
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(REVISION_ANNOTATION))
                .and_then(Value::as_str)
                .and_then(|r| r.parse().ok())
                .unwrap_or(0),
            scale_down_deadline: v
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(SCALE_DOWN_DEADLINE_ANNOTATION))
                .and_then(Value::as_str)
                .map(str::to_owned),
        });
        rs_objs.push(v);
    }
    let mut runs = Vec::new();
    let run_list = if uses_analysis(&ro) {
        ar_api.list(&ListParams::default()).await?.items
    } else {
        Vec::new()
    };
    for o in run_list {
        let v = to_json(&o, &analysisrun_ar())?;
        if !owned_by(&v, &uid) {
            continue;
        }
        runs.push(canary::Run {
            name: str_at(&v, "/metadata/name").to_owned(),
            phase: str_at(&v, "/status/phase").to_owned(),
            message: str_at(&v, "/status/message").to_owned(),
            terminating: v.pointer("/spec/terminate").and_then(Value::as_bool) == Some(true),
        });
    }
    let services = referenced_services(&client, &ns, &ro).await?;
    let ingresses = stable_ingresses(&client, &ns, &ro).await?;
    let now = now_ms();
    let plan = canary::reconcile(&canary::Input {
        rollout: &ro,
        replica_sets: &rss,
        runs: &runs,
        services: &services,
        ingresses: &ingresses,
        now,
    });

    if let Some((rs_name, hash, revision)) = &plan.create_rs {
        let want = plan
            .scale
            .iter()
            .find(|(n, _)| n == rs_name)
            .map_or(0, |(_, n)| *n);
        let mut template = ro.pointer("/spec/template").cloned().unwrap_or(json!({}));
        template["metadata"]["labels"][POD_TEMPLATE_HASH_LABEL] = json!(hash);
        let mut selector = ro.pointer("/spec/selector").cloned().unwrap_or(json!({}));
        selector["matchLabels"][POD_TEMPLATE_HASH_LABEL] = json!(hash);
        let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": rs_name, "namespace": ns,
                "labels": template["metadata"]["labels"].clone(),
                "annotations": {REVISION_ANNOTATION: revision.to_string()},
                "ownerReferences": owner_ref(&ro)},
            "spec": {"replicas": want, "selector": selector, "template": template}});
        let rs: DynamicObject = serde_json::from_value(rs)?;
        match rs_api.create(&PostParams::default(), &rs).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
    }
    for (rs_name, rev) in &plan.rs_revisions {
        rs_api
            .patch(
                rs_name,
                &PatchParams::default(),
                &Patch::Merge(
                    json!({"metadata": {"annotations": {REVISION_ANNOTATION: rev.to_string()}}}),
                ),
            )
            .await?;
    }
    for (rs_name, deadline) in &plan.rs_annotations {
        rs_api
            .patch(
                rs_name,
                &PatchParams::default(),
                &Patch::Merge(
                    json!({"metadata": {"annotations": {SCALE_DOWN_DEADLINE_ANNOTATION: deadline}}}),
                ),
            )
            .await?;
    }
    for (rs_name, n) in &plan.scale {
        let current = rs_objs
            .iter()
            .find(|v| str_at(v, "/metadata/name") == rs_name)
            .map(|v| int_at(v, "/spec/replicas"));
        if current.is_some_and(|c| c != *n) {
            rs_api
                .patch(
                    rs_name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"spec": {"replicas": n}})),
                )
                .await?;
        }
    }
    let svc_api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &service_ar());
    for sw in &plan.services {
        svc_api
            .patch(
                &sw.name,
                &PatchParams::default(),
                &Patch::Merge(service_patch(&name, sw)),
            )
            .await?;
    }
    for ing in &plan.ingresses {
        apply_canary_ingress(&client, &ns, &uid, ing).await?;
    }
    for nr in &plan.create_runs {
        let spec = match run_spec(&client, &ns, &nr.analysis, &nr.pod_hash, &ro).await {
            Ok(s) => s,
            Err(msg) => {
                eprintln!("rollout {ns}/{name}: analysis {}: {msg}", nr.name);
                return Ok(Action::requeue(Duration::from_secs(5)));
            }
        };
        let ar = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
            "metadata": {"name": nr.name, "namespace": ns,
                "labels": {POD_TEMPLATE_HASH_LABEL: nr.pod_hash, canary::ROLLOUT_TYPE_LABEL: nr.kind.label()},
                "annotations": {REVISION_ANNOTATION: nr.revision.to_string()},
                "ownerReferences": owner_ref(&ro)},
            "spec": spec});
        let ar: DynamicObject = serde_json::from_value(ar)?;
        match ar_api.create(&PostParams::default(), &ar).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
    }
    for t in &plan.terminate_runs {
        let _ = ar_api
            .patch(
                t,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"terminate": true}})),
            )
            .await;
    }
    let old_status = ro.get("status").cloned().unwrap_or(json!({}));
    if plan.status != old_status {
        let mut patch = json!({"status": merge_diff(&old_status, &plan.status)});
        if let Some(rv) = &obj.metadata.resource_version {
            patch["metadata"] = json!({"resourceVersion": rv});
        }
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &rollout_ar());
        match api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(patch))
            .await
        {
            Ok(_) => {}
            // someone (promote, abort) wrote first: the watch brings the new version
            Err(kube::Error::Api(e)) if e.code == 409 => {
                return Ok(Action::requeue(Duration::from_millis(100)));
            }
            Err(e) => return Err(e.into()),
        }
    }
    // `spec.restartAt`: the Pods restarted one at a time (rollouts_restart)
    let hashes: Vec<String> = rss.iter().map(|r| r.pod_hash.clone()).collect();
    if let Some(wait) =
        crate::rollouts_restart::reconcile(&client, &ns, &name, &ro, &hashes, now).await?
    {
        let wait = wait.clamp(Duration::from_millis(50), Duration::from_secs(30));
        let next = requeue_at(plan.requeue_at, now);
        return Ok(match plan.requeue_at {
            Some(t) if Duration::from_millis((t - now).max(0) as u64) < wait => next,
            _ => Action::requeue(wait),
        });
    }
    Ok(requeue_at(plan.requeue_at, now))
}

fn requeue_at(at: Option<i64>, now: i64) -> Action {
    match at {
        Some(t) => Action::requeue(Duration::from_millis((t - now).clamp(50, 30_000) as u64)),
        None => Action::requeue(Duration::from_secs(30)),
    }
}

/// The AnalysisRun spec of a `RolloutAnalysis` (`templates`, `args`, `dryRun`,
/// `measurementRetention`): the templates' metrics, dryRun and retention concatenated, the
/// templates' args with the Rollout's values (`podTemplateHashValue` resolved; `fieldRef`
/// resolved against the Rollout), as `analysisutil.NewAnalysisRunFromTemplates`.
async fn run_spec(
    client: &kube::Client,
    ns: &str,
    analysis: &Value,
    pod_hash: &str,
    ro: &Value,
) -> Result<Value, String> {
    let mut metrics = Vec::new();
    let mut dry = Vec::new();
    let mut retention = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    for t in analysis
        .get("templates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let tname = str_at(t, "/templateName");
        let cluster = t.get("clusterScope").and_then(Value::as_bool) == Some(true);
        let api: Api<DynamicObject> = if cluster {
            Api::all_with(client.clone(), &clusteranalysistemplate_ar())
        } else {
            Api::namespaced_with(client.clone(), ns, &analysistemplate_ar())
        };
        let kind = if cluster {
            "ClusterAnalysisTemplate"
        } else {
            "AnalysisTemplate"
        };
        let o = api
            .get(tname)
            .await
            .map_err(|e| format!("{kind} {tname:?}: {e}"))?;
        let v = serde_json::to_value(&o).map_err(|e| e.to_string())?;
        let spec = v.get("spec").cloned().unwrap_or(json!({}));
        for (key, out) in [
            ("metrics", &mut metrics),
            ("dryRun", &mut dry),
            ("measurementRetention", &mut retention),
        ] {
            out.extend(
                spec.get(key)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
            );
        }
        for a in spec
            .get("args")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !args.iter().any(|x| x["name"] == a["name"]) {
                args.push(a.clone());
            }
        }
    }
    for given in analysis
        .get("args")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let mut resolved = given.clone();
        if let Some(vf) = given.get("valueFrom") {
            if let Some(which) = vf.get("podTemplateHashValue").and_then(Value::as_str) {
                let h = if which == "Stable" {
                    str_at(ro, "/status/stableRS")
                } else {
                    pod_hash
                };
                resolved = json!({"name": given["name"], "value": h});
            } else if let Some(path) = vf.pointer("/fieldRef/fieldPath").and_then(Value::as_str) {
                let p = format!("/{}", path.replace('.', "/"));
                let val = match ro.pointer(&p) {
                    Some(Value::String(s)) => s.clone(),
                    Some(v) => v.to_string(),
                    None => {
                        return Err(format!(
                            "args.{}: fieldPath {path:?} not found",
                            given["name"]
                        ));
                    }
                };
                resolved = json!({"name": given["name"], "value": val});
            }
        }
        match args.iter_mut().find(|x| x["name"] == given["name"]) {
            Some(a) => *a = resolved,
            None => args.push(resolved),
        }
    }
    let mut spec = json!({"metrics": metrics, "args": args});
    if !dry.is_empty() {
        spec["dryRun"] = Value::Array(dry);
    }
    if !retention.is_empty() {
        spec["measurementRetention"] = Value::Array(retention);
    }
    for k in ["dryRun", "measurementRetention"] {
        if let Some(extra) = analysis.get(k).and_then(Value::as_array) {
            let mut all = spec
                .get(k)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            all.extend(extra.iter().cloned());
            spec[k] = Value::Array(all);
        }
    }
    Ok(spec)
}

// ---------------------------------------------------------------------------------------
// AnalysisRun

struct Lookup {
    handle: tokio::runtime::Handle,
    client: kube::Client,
    ns: String,
}

impl analysis::args::ArgLookup for Lookup {
    fn secret(&self, name: &str, key: &str) -> Result<Option<String>, String> {
        let api: Api<DynamicObject> = Api::namespaced_with(
            self.client.clone(),
            &self.ns,
            &gvk("", "v1", "Secret", "secrets"),
        );
        let o = self
            .handle
            .block_on(api.get(name))
            .map_err(|_| format!("secrets \"{name}\" not found"))?;
        let v = serde_json::to_value(&o).map_err(|e| e.to_string())?;
        let Some(b64) = v
            .pointer("/data")
            .and_then(|d| d.get(key))
            .and_then(Value::as_str)
        else {
            return Ok(None);
        };
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| format!("secret {name} key {key}: {e}"))?;
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }
    fn field(&self, field_path: &str) -> Result<String, String> {
        Err(format!(
            "fieldRef {field_path:?}: resolved by the Rollout when it creates the run"
        ))
    }
}

/// One measurement of a provider (blocking).
pub fn measure(task: &Task) -> Outcome {
    if task.provider.get("prometheus").is_some() {
        let url = match sluice_rollouts::providers::prometheus_query_url(&task.provider) {
            Ok(u) => u,
            Err(e) => return Outcome::Error(e),
        };
        return match http_get(&url) {
            Ok((status, body)) => sluice_rollouts::providers::prometheus_outcome(status, &body),
            Err(e) => Outcome::Error(e),
        };
    }
    if task.provider.get("web").is_some() {
        let req = match sluice_rollouts::providers::web_request(&task.provider) {
            Ok(r) => r,
            Err(e) => return Outcome::Error(e),
        };
        return match crate::http_out::send(&crate::http_out::Request {
            method: &req.method,
            url: &req.url,
            headers: &req.headers,
            body: req.body.as_bytes(),
            insecure_skip_verify: req.insecure,
        }) {
            Ok((status, body)) => {
                sluice_rollouts::providers::web_outcome(status, &body, &req.json_path)
            }
            Err(e) => Outcome::Error(e),
        };
    }
    let kind = task
        .provider
        .as_object()
        .and_then(|o| o.keys().next().cloned())
        .unwrap_or_default();
    Outcome::Error(format!(
        "provider {kind:?} is not supported by sluice serve yet"
    ))
}

/// A plain-HTTP GET bounded by [`PROVIDER_TIMEOUT`] and [`MAX_PROVIDER_RESPONSE`].
pub fn http_get(url: &str) -> Result<(u16, Vec<u8>), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// addresses are queried by sluice serve"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("{url}: bad port {p:?}"))?,
        ),
        None => (authority, 80),
    };
    let addr = (host.trim_start_matches('[').trim_end_matches(']'), port)
        .to_socket_addrs()
        .map_err(|e| format!("{url}: {e}"))?
        .next()
        .ok_or_else(|| format!("{url}: host not found"))?;
    let mut s =
        TcpStream::connect_timeout(&addr, PROVIDER_TIMEOUT).map_err(|e| format!("{url}: {e}"))?;
    let _ = s.set_read_timeout(Some(PROVIDER_TIMEOUT));
    let _ = s.set_write_timeout(Some(PROVIDER_TIMEOUT));
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes())
        .map_err(|e| format!("{url}: {e}"))?;
    let mut raw = Vec::new();
    s.take(MAX_PROVIDER_RESPONSE as u64 + 1)
        .read_to_end(&mut raw)
        .map_err(|e| format!("{url}: {e}"))?;
    if raw.len() > MAX_PROVIDER_RESPONSE {
        return Err(format!(
            "{url}: answer larger than {MAX_PROVIDER_RESPONSE} bytes"
        ));
    }
    let (status, _, body) =
        crate::interceptor_http::parse_response(&raw).map_err(|e| format!("{url}: {e}"))?;
    Ok((status, body))
}

/// Reconciles one AnalysisRun.
pub async fn reconcile_run(obj: Arc<DynamicObject>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    if obj.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let v = to_json(&obj, &analysisrun_ar())?;
    let phase = str_at(&v, "/status/phase");
    if matches!(phase, "Successful" | "Failed" | "Error" | "Inconclusive") {
        return Ok(Action::await_change());
    }
    let ns = obj.metadata.namespace.clone().unwrap_or_default();
    let name = obj.metadata.name.clone().unwrap_or_default();
    let spec = v.get("spec").cloned().unwrap_or(json!({}));
    let status = v.get("status").cloned().unwrap_or(json!({}));
    let lookup = Lookup {
        handle: tokio::runtime::Handle::current(),
        client: ctx.client.clone(),
        ns: ns.clone(),
    };
    let now = now_ms();
    let (spec2, status2) = (spec.clone(), status.clone());
    let run = sluice_rollouts::providers::RunRef {
        namespace: ns.clone(),
        name: name.clone(),
        uid: obj.metadata.uid.clone().unwrap_or_default(),
    };
    let (handle, client) = (lookup.handle.clone(), ctx.client.clone());
    let run2 = run.clone();
    let out = tokio::task::spawn_blocking(move || {
        analysis::reconcile_json(&spec2, &status2, now, &lookup, &mut |t| {
            if t.provider.get("job").is_some() {
                crate::analysis_job::measure(&handle, &client, &run2, t)
            } else {
                measure(t)
            }
        })
    })
    .await
    .map_err(|e| Error::Other(format!("analysis run {ns}/{name}: {e}")))?;
    let (new_status, requeue) = match out {
        Ok(x) => x,
        Err(e) => (
            json!({"phase": "Error", "message": format!("Analysis spec invalid: {}", e.0)}),
            None,
        ),
    };
    if new_status != status {
        let api: Api<DynamicObject> =
            Api::namespaced_with(ctx.client.clone(), &ns, &analysisrun_ar());
        api.patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": merge_diff(&status, &new_status)})),
        )
        .await?;
    }
    collect_jobs(&ctx.client, &run, &spec, &new_status).await;
    let done = matches!(
        new_status.get("phase").and_then(Value::as_str),
        Some("Successful" | "Failed" | "Error" | "Inconclusive")
    );
    if done {
        return Ok(Action::await_change());
    }
    Ok(requeue_at(requeue.or(Some(now + 10_000)), now))
}

/// `garbageCollectMeasurements` for job metrics: once a metric holds its measurement limit
/// (`measurementRetention` or 10), its Jobs beyond that limit are deleted, oldest first.
async fn collect_jobs(
    client: &kube::Client,
    run: &sluice_rollouts::providers::RunRef,
    spec: &Value,
    status: &Value,
) {
    for m in spec
        .get("metrics")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if m.pointer("/provider/job").is_none() {
            continue;
        }
        let metric = str_at(m, "/name");
        let limit = spec
            .get("measurementRetention")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|r| r.get("metricName").and_then(Value::as_str) == Some(metric))
            .and_then(|r| r.get("limit").and_then(Value::as_u64))
            .filter(|l| *l > 0)
            .map_or(analysis::DEFAULT_MEASUREMENT_HISTORY_LIMIT, |l| l as usize);
        let held = status
            .get("metricResults")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|r| r.get("name").and_then(Value::as_str) == Some(metric))
            .and_then(|r| r.get("measurements").and_then(Value::as_array))
            .map_or(0, Vec::len);
        if held < limit {
            continue;
        }
        if let Err(e) = crate::analysis_job::garbage_collect(client, run, metric, limit).await {
            eprintln!(
                "rollouts: analysis run {}/{}: job garbage collection: {e}",
                run.namespace, run.name
            );
        }
    }
}

/// Runs the Rollout and AnalysisRun controllers.
pub async fn run(ctx: Arc<Ctx>) {
    let client = ctx.client.clone();
    let ros: Api<DynamicObject> = Api::all_with(client.clone(), &rollout_ar());
    let ars: Api<DynamicObject> = Api::all_with(client.clone(), &analysisrun_ar());
    let ro_ctl = Controller::new_with(ros, watcher::Config::default(), rollout_ar());
    let ar_ctl = Controller::new_with(ars, watcher::Config::default(), analysisrun_ar());
    // rollout_info, analysis_run_info...: read from the caches at scrape time
    let (ro_store, ar_store) = (ro_ctl.store(), ar_ctl.store());
    let ro_cache = ro_store.clone();
    ctx.opts
        .metrics
        .cd
        .set_rollouts(Box::new(move || ro_store.state()));
    ctx.opts
        .metrics
        .cd
        .set_analysis_runs(Box::new(move || ar_store.state()));
    let ro_ctl = ro_ctl
        .owns_with(
            Api::<DynamicObject>::all_with(client.clone(), &replicaset_ar()),
            replicaset_ar(),
            watcher::Config::default(),
        )
        .owns_with(
            Api::<DynamicObject>::all_with(client.clone(), &analysisrun_ar()),
            analysisrun_ar(),
            watcher::Config::default(),
        )
        .watches_with(
            Api::<DynamicObject>::all_with(client.clone(), &service_ar()),
            service_ar(),
            watcher::Config::default(),
            mapper(ro_cache.clone(), Managed::Service),
        )
        .watches_with(
            Api::<DynamicObject>::all_with(client.clone(), &ingress_ar()),
            ingress_ar(),
            watcher::Config::default(),
            mapper(ro_cache, Managed::Ingress),
        )
        .run(reconcile_rollout, error_policy, ctx.clone())
        .for_each(|_| futures::future::ready(()));
    // the job provider's Jobs wake their run when they finish (upstream's job informer,
    // filtered by the run-uid label)
    let ar_ctl = ar_ctl
        .owns_with(
            Api::<DynamicObject>::all_with(client.clone(), &crate::analysis_job::job_ar()),
            crate::analysis_job::job_ar(),
            watcher::Config::default().labels(sluice_rollouts::providers::JOB_RUN_UID_LABEL),
        )
        .run(reconcile_run, error_policy, ctx.clone())
        .for_each(|_| futures::future::ready(()));
    futures::future::join(ro_ctl, ar_ctl).await;
}

/// The watch mapper of Services or Ingresses: the Rollouts of the controller's cache that
/// name the object.
fn mapper(
    rollouts: kube::runtime::reflector::Store<DynamicObject>,
    kind: Managed,
) -> impl Fn(DynamicObject) -> Vec<ObjectRef<DynamicObject>> + Send + Sync + 'static {
    move |o: DynamicObject| {
        let (Some(ns), Some(name)) = (o.metadata.namespace.as_deref(), o.metadata.name.as_deref())
        else {
            return Vec::new();
        };
        let all = rollouts.state();
        rollouts_naming(all.iter().map(|r| r.as_ref()), kind, ns, name)
    }
}

fn error_policy(obj: Arc<DynamicObject>, err: &Error, _ctx: Arc<Ctx>) -> Action {
    eprintln!(
        "rollouts: {}/{}: {err}",
        obj.metadata.namespace.as_deref().unwrap_or(""),
        obj.metadata.name.as_deref().unwrap_or("")
    );
    Action::requeue(Duration::from_secs(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout(ns: &str, name: &str, strategy: Value) -> DynamicObject {
        serde_json::from_value(
            json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"strategy": strategy}}),
        )
        .expect("rollout")
    }

    fn names(refs: Vec<ObjectRef<DynamicObject>>) -> Vec<String> {
        refs.into_iter()
            .map(|r| format!("{}/{}", r.namespace.unwrap_or_default(), r.name))
            .collect()
    }

    /// argo-rollouts enqueues the Rollouts whose `GetRolloutServiceKeys` (activeService,
    /// previewService, stableService, canaryService) or `GetRolloutIngressKeys` (the nginx
    /// stable Ingresses and their `<rollout>-<ingress>-canary`) name the changed object, in
    /// its namespace only (service/service.go `getRolloutsByService`, ingress/ingress.go).
    #[test]
    fn watch_mapper_finds_the_rollouts_naming_a_service_or_ingress() {
        let ros = [
            rollout(
                "a",
                "bg",
                json!({"blueGreen": {"activeService": "web", "previewService": "web-preview"}}),
            ),
            rollout(
                "a",
                "can",
                json!({"canary": {"stableService": "web", "canaryService": "web-canary",
                    "trafficRouting": {"nginx": {"stableIngress": "ing",
                        "additionalStableIngresses": ["extra"]}}}}),
            ),
            rollout(
                "a",
                "multi",
                json!({"canary": {"stableService": "s", "canaryService": "c",
                    "trafficRouting": {"nginx": {"stableIngresses": ["ing", "two"]}}}}),
            ),
            rollout("b", "other", json!({"blueGreen": {"activeService": "web"}})),
            rollout("a", "plain", json!({"canary": {"steps": []}})),
        ];
        let find = |kind, ns, name| names(rollouts_naming(ros.iter(), kind, ns, name));
        assert_eq!(find(Managed::Service, "a", "web"), ["a/bg", "a/can"]);
        assert_eq!(find(Managed::Service, "a", "web-preview"), ["a/bg"]);
        assert_eq!(find(Managed::Service, "a", "web-canary"), ["a/can"]);
        assert_eq!(find(Managed::Service, "b", "web"), ["b/other"]);
        assert!(find(Managed::Service, "c", "web").is_empty());
        assert!(find(Managed::Service, "a", "unnamed").is_empty());
        // an Ingress with a Service's name is not that Service
        assert!(find(Managed::Ingress, "a", "web").is_empty());
        assert_eq!(find(Managed::Ingress, "a", "ing"), ["a/can", "a/multi"]);
        assert_eq!(find(Managed::Ingress, "a", "extra"), ["a/can"]);
        assert_eq!(find(Managed::Ingress, "a", "can-ing-canary"), ["a/can"]);
        assert_eq!(find(Managed::Ingress, "a", "can-extra-canary"), ["a/can"]);
        assert_eq!(find(Managed::Ingress, "a", "multi-two-canary"), ["a/multi"]);
        assert!(find(Managed::Ingress, "b", "ing").is_empty());
        // the refs are Rollouts
        let r = rollouts_naming(ros.iter(), Managed::Service, "a", "web-preview");
        assert_eq!(r[0].dyntype.kind, "Rollout");
    }

    #[test]
    fn replica_sets_are_listed_by_the_rollouts_match_labels() {
        let ro = json!({"spec": {"selector": {"matchLabels": {"app": "web", "tier": "fe"}}}});
        assert_eq!(
            match_labels_selector(&ro).as_deref(),
            Some("app=web,tier=fe")
        );
        let exprs = json!({"spec": {"selector": {"matchExpressions": [
            {"key": "app", "operator": "In", "values": ["web"]}]}}});
        assert_eq!(match_labels_selector(&exprs), None);
        assert_eq!(match_labels_selector(&json!({"spec": {}})), None);
        let bad = json!({"spec": {"selector": {"matchLabels": {"app": 1}}}});
        assert_eq!(match_labels_selector(&bad), None);
    }

    #[test]
    fn analysis_runs_are_read_only_when_the_rollout_has_analysis() {
        let plain = json!({"spec": {"strategy": {"canary": {"steps": [
            {"setWeight": 50}, {"pause": {"duration": "1s"}}]}}}});
        assert!(!uses_analysis(&plain));
        assert!(!uses_analysis(&json!({"spec": {"strategy": {"blueGreen": {
            "activeService": "a"}}}})));
        for ro in [
            json!({"spec": {"strategy": {"canary": {"steps": [
                {"analysis": {"templates": [{"templateName": "t"}]}}]}}}}),
            json!({"spec": {"strategy": {"canary": {"analysis": {"templates": []}}}}}),
            json!({"spec": {"strategy": {"blueGreen": {"prePromotionAnalysis": {}}}}}),
            json!({"spec": {"strategy": {"blueGreen": {"postPromotionAnalysis": {}}}}}),
            // the spec dropped its analysis; the run the status names is still read
            json!({"spec": {"strategy": {"canary": {"steps": []}}},
                "status": {"canary": {"currentStepAnalysisRunStatus": {"name": "r"}}}}),
            json!({"status": {"blueGreen": {"postPromotionAnalysisRunStatus": {"name": "r"}}}}),
        ] {
            assert!(uses_analysis(&ro), "{ro}");
        }
    }

    #[test]
    fn merge_diff_nulls_removed_keys() {
        let old = json!({"a": 1, "b": {"c": 1, "d": 2}, "e": [1]});
        let new = json!({"a": 1, "b": {"c": 2}, "f": true});
        assert_eq!(
            merge_diff(&old, &new),
            json!({"b": {"c": 2, "d": null}, "e": null, "f": true})
        );
    }
}
