//! The canary strategy of argo-rollouts `rollout/canary.go` as one pure reconcile pass: the
//! Rollout's spec and status, its ReplicaSets and its AnalysisRuns in, the new status, the
//! ReplicaSet scales and the AnalysisRuns to create or terminate out. No clock: `now` is an
//! argument.
//!
//! Replica arithmetic is `utils/replicaset/canary.go` `CalculateReplicaCountsForCanary`
//! (basic canary: the weight is the replica ratio, both sides rounded up, surge by one extra
//! when the weight does not divide the replicas, the stable scaled up first and the older
//! ReplicaSets scaled down first); maxSurge/maxUnavailable resolve as
//! `utils/replicaset/replicaset.go` `resolveFenceposts` (surge rounds up, unavailable down,
//! both zero means one unavailable). Steps: setWeight completes once the ReplicaSets are at
//! their desired counts, pause adds a `CanaryPauseStep` pause condition and completes after
//! its duration or when a promote removes the condition (`CompletedCanaryPauseStep`),
//! analysis completes when its AnalysisRun is Successful and aborts the rollout when it is
//! Failed or Error (Inconclusive pauses it, `InconclusiveAnalysisRun`); background analysis
//! runs from `startingStep` and aborts on failure. After the last step the canary is scaled
//! to 100% and becomes the stable once available.
//!
//! With nginx traffic routing (`crate::nginx`) the replica arithmetic is
//! `CalculateReplicaCountsForTrafficRoutedCanary` (the stable at 100% — or, with
//! `dynamicStableScale`, following the traffic —, the canary from the weight or
//! setCanaryScale, `minPodsPerReplicaSet`) and the weight goes to the canary Ingress; stableService and
//! canaryService select the stable and canary ReplicaSets (`crate::services`). A blue-green
//! strategy is handed to `crate::bluegreen`.
//!
//! Not implemented (reported as an `InvalidSpec` condition, phase Degraded, nothing scaled):
//! traffic routers other than nginx, experiment and plugin steps, header/mirror routes.

use serde_json::{Value as Json, json};

use crate::analysis::{Millis, format_rfc3339, parse_rfc3339};

/// The label that ties a ReplicaSet, its Pods and AnalysisRuns to a pod template.
pub const POD_TEMPLATE_HASH_LABEL: &str = "rollouts-pod-template-hash";
/// The revision annotation on the Rollout's ReplicaSets.
pub const REVISION_ANNOTATION: &str = "rollout.argoproj.io/revision";
/// `rollout-type` label values on AnalysisRuns.
pub const ROLLOUT_TYPE_LABEL: &str = "rollout-type";

// ---------------------------------------------------------------------------------------
// hashes

/// FNV-1a, 32 bits (Go `hash/fnv.New32a`).
pub fn fnv32a(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// k8s.io/apimachinery `util/rand.SafeEncodeString`: each character mapped into the
/// alphabet of `rand.String` (no vowels, no confusable digits).
pub fn safe_encode(s: &str) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    s.chars()
        .map(|c| ALPHANUMS[(c as usize) % ALPHANUMS.len()] as char)
        .collect()
}

/// The pod-template hash as argo-rollouts `utils/hash.ComputePodTemplateHash`: FNV-32a of
/// the template's JSON, then the collision count as 8 little-endian bytes (the low 4 set),
/// the decimal sum safe-encoded.
///
/// Difference from upstream: upstream hashes Go's `json.Marshal` of the typed
/// `PodTemplateSpec` (struct field order, `creationTimestamp: null`, `resources: {}`
/// added); this hashes the template's JSON as stored (key order as written). The hash is
/// therefore stable and has upstream's shape and alphabet, but is not the same string
/// upstream computes for the same template.
pub fn pod_template_hash(template: &Json, collision_count: Option<i32>) -> String {
    let mut bytes = serde_json::to_vec(template).unwrap_or_default();
    if let Some(c) = collision_count {
        let mut cc = [0u8; 8];
        cc[..4].copy_from_slice(&(c as u32).to_le_bytes());
        bytes.extend_from_slice(&cc);
    }
    safe_encode(&fnv32a(&bytes).to_string())
}

/// `utils/conditions.ComputeStepHash`: FNV-32a of the steps' JSON, safe-encoded.
pub fn step_hash(steps: &Json) -> String {
    let bytes = serde_json::to_vec(steps).unwrap_or_default();
    safe_encode(&fnv32a(&bytes).to_string())
}

// ---------------------------------------------------------------------------------------
// inputs and outputs

/// A ReplicaSet of the Rollout as the controller sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplicaSet {
    pub name: String,
    /// Its `rollouts-pod-template-hash` label.
    pub pod_hash: String,
    /// `spec.replicas`.
    pub replicas: i32,
    /// `status.replicas`.
    pub status_replicas: i32,
    pub ready: i32,
    pub available: i32,
    /// Its `rollout.argoproj.io/revision` annotation.
    pub revision: i64,
    /// Its `argo-rollouts.argoproj.io/scale-down-deadline` annotation (RFC 3339), if any.
    pub scale_down_deadline: Option<String>,
}

/// A Service the Rollout names (blue-green active/preview, canary stable/canary).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Service {
    pub name: String,
    /// Its `spec.selector["rollouts-pod-template-hash"]`, if any.
    pub selector_hash: Option<String>,
    /// Its `argo-rollouts.argoproj.io/managed-by-rollouts` annotation, if any.
    pub managed_by: Option<String>,
}

/// A Service selector switch (`rollout/service.go` `switchServiceSelector`): the
/// `rollouts-pod-template-hash` selector set to `pod_hash`, the managed-by annotation added
/// when the Service does not carry it yet. [`service_patch`] is the patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSwitch {
    pub name: String,
    pub pod_hash: String,
    pub add_managed_by: bool,
}

/// Which kind of analysis an AnalysisRun is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// An analysis step (`rollout-type: Step`), with its step index.
    Step(usize),
    /// Background analysis (`rollout-type: Background`).
    Background,
    /// Blue-green prePromotionAnalysis (`rollout-type: PrePromotion`).
    PrePromotion,
    /// Blue-green postPromotionAnalysis (`rollout-type: PostPromotion`).
    PostPromotion,
}

impl RunKind {
    pub fn label(self) -> &'static str {
        match self {
            RunKind::Step(_) => "Step",
            RunKind::Background => "Background",
            RunKind::PrePromotion => "PrePromotion",
            RunKind::PostPromotion => "PostPromotion",
        }
    }
}

/// An existing AnalysisRun of the Rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub name: String,
    /// `status.phase` ("" while new).
    pub phase: String,
    pub message: String,
    /// `spec.terminate`.
    pub terminating: bool,
}

/// An AnalysisRun to create: from the templates of the step or of background analysis,
/// with the Rollout's args (`args` as in the Rollout spec, unresolved).
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    pub name: String,
    pub kind: RunKind,
    pub pod_hash: String,
    pub revision: i64,
    /// `RolloutAnalysis`: `templates`, `args`, `dryRun`, `measurementRetention`.
    pub analysis: Json,
}

/// What one reconcile decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The Rollout's new `status`.
    pub status: Json,
    /// The new ReplicaSet to create (name, pod hash, revision) when it does not exist.
    pub create_rs: Option<(String, String, i64)>,
    /// `spec.replicas` to set, by ReplicaSet name (the new one included).
    pub scale: Vec<(String, i32)>,
    pub create_runs: Vec<NewRun>,
    /// AnalysisRuns to terminate (`spec.terminate: true`), by name.
    pub terminate_runs: Vec<String>,
    /// When to reconcile again at the latest (`None`: on the next change).
    pub requeue_at: Option<Millis>,
    /// Service selector switches, in order.
    pub services: Vec<ServiceSwitch>,
    /// The scale-down-deadline annotation to set (`Some`) or remove (`None`), by ReplicaSet.
    pub rs_annotations: Vec<(String, Option<String>)>,
    /// The desired canary Ingresses (nginx traffic routing), whole objects.
    pub ingresses: Vec<Json>,
    /// A new revision for an existing ReplicaSet that becomes the new one again (its
    /// `rollout.argoproj.io/revision` annotation).
    pub rs_revisions: Vec<(String, i64)>,
}

impl Plan {
    pub(crate) fn empty() -> Plan {
        Plan {
            status: Json::Null,
            create_rs: None,
            scale: Vec::new(),
            create_runs: Vec::new(),
            terminate_runs: Vec::new(),
            requeue_at: None,
            services: Vec::new(),
            rs_annotations: Vec::new(),
            ingresses: Vec::new(),
            rs_revisions: Vec::new(),
        }
    }

    /// Requeue at `t` at the latest.
    pub(crate) fn requeue(&mut self, t: Millis) {
        self.requeue_at = Some(self.requeue_at.map_or(t, |r| r.min(t)));
    }
}

/// The Rollout and what it owns, read by the caller.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    /// The Rollout object (metadata, spec, status).
    pub rollout: &'a Json,
    pub replica_sets: &'a [ReplicaSet],
    /// AnalysisRuns owned by the Rollout, by name.
    pub runs: &'a [Run],
    /// The Services the Rollout names that exist (the others are missing).
    pub services: &'a [Service],
    /// The stable Ingresses nginx traffic routing names that exist, whole objects.
    pub ingresses: &'a [Json],
    pub now: Millis,
}

// ---------------------------------------------------------------------------------------
// spec helpers

fn int_or_percent(v: Option<&Json>, total: i32, round_up: bool, default: &str) -> i32 {
    let owned;
    let v = match v {
        Some(v) if !v.is_null() => v,
        _ => {
            owned = Json::String(default.into());
            &owned
        }
    };
    match v {
        Json::Number(n) => n.as_i64().unwrap_or(0).clamp(0, i64::from(i32::MAX)) as i32,
        Json::String(s) => match s.strip_suffix('%').map(str::parse::<f64>) {
            Some(Ok(p)) => {
                let x = f64::from(total) * p / 100.0;
                (if round_up { x.ceil() } else { x.floor() }).max(0.0) as i32
            }
            _ => s.parse::<i32>().unwrap_or(0).max(0),
        },
        _ => 0,
    }
}

/// (maxSurge, maxUnavailable) as `resolveFenceposts` over the canary's fields (defaults
/// `25%` each, `defaults.DefaultMaxSurge` / `DefaultMaxUnavailable`).
pub fn fenceposts(canary: &Json, replicas: i32) -> (i32, i32) {
    let surge = int_or_percent(canary.get("maxSurge"), replicas, true, "25%");
    let mut unavailable = int_or_percent(canary.get("maxUnavailable"), replicas, false, "25%");
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable.min(replicas))
}

/// `RolloutPause.DurationSeconds`: an integer is seconds, a string is an integer of seconds
/// or a Go duration; `None` for an indefinite pause, `Some(-1)` for one that does not parse.
pub fn pause_seconds(pause: &Json) -> Option<i64> {
    match pause.get("duration") {
        None | Some(Json::Null) => None,
        Some(Json::Number(n)) => Some(n.as_i64().unwrap_or(-1)),
        Some(Json::String(s)) => Some(match s.parse::<i64>() {
            Ok(n) => n,
            Err(_) => sluice_core::duration::parse_go_duration(s)
                .filter(|x| x.is_finite())
                .map_or(-1, |x| x as i64),
        }),
        Some(_) => Some(-1),
    }
}

/// `CalculateReplicaCountsForCanary` for a rollout without traffic routing: the desired
/// `(new, stable)` replica counts this reconcile may scale to. `weight` is the current
/// setWeight (0 when aborted, 100 past the last step); `old_replicas` the sum of
/// `spec.replicas` of the other ReplicaSets.
pub fn replica_counts(
    replicas: i32,
    weight: i32,
    (max_surge, max_unavailable): (i32, i32),
    new_rs: Option<&ReplicaSet>,
    stable_rs: Option<&ReplicaSet>,
    old_replicas: i32,
) -> (i32, i32) {
    let w = f64::from(weight) / 100.0;
    let mut desired_stable = (f64::from(replicas) * (1.0 - w)).ceil() as i32;
    let mut desired_new = (f64::from(replicas) * w).ceil() as i32;
    let stable_rs = stable_rs.filter(|s| new_rs.is_none_or(|n| n.name != s.name));
    let mut new_count = new_rs.map_or(0, |r| r.replicas);
    let mut stable_count = 0;
    if let Some(s) = stable_rs {
        stable_count = s.replicas;
    } else {
        desired_new = replicas;
        desired_stable = 0;
    }
    let extra = (f64::from(replicas) * w).fract() != 0.0;
    let max_allowed = replicas + max_surge + i32::from(extra);
    let total =
        old_replicas + new_rs.map_or(0, |r| r.replicas) + stable_rs.map_or(0, |r| r.replicas);
    let mut scale_up = max_allowed - total;
    if let Some(s) = stable_rs
        && s.replicas < desired_stable
        && scale_up > 0
    {
        if s.replicas + scale_up < desired_stable {
            stable_count = s.replicas + scale_up;
            scale_up = 0;
        } else {
            stable_count = desired_stable;
            scale_up -= desired_stable - s.replicas;
        }
    }
    if let Some(n) = new_rs
        && n.replicas < desired_new
        && scale_up > 0
    {
        new_count = if n.replicas + scale_up < desired_new {
            n.replicas + scale_up
        } else {
            desired_new
        };
    }
    if old_replicas > 0 {
        return (new_count, stable_count);
    }
    let min_available = replicas - max_unavailable;
    let increasing = new_rs.is_none_or(|n| desired_new >= n.replicas);
    let for_scale_down = |rs: Option<&ReplicaSet>, ignore_availability: bool| match rs {
        None => 0,
        Some(r) if r.replicas < r.available || ignore_availability => r.replicas,
        Some(r) => r.available,
    };
    let to_scale_down = for_scale_down(new_rs, !increasing) + for_scale_down(stable_rs, increasing);
    if to_scale_down <= min_available {
        return (new_count, stable_count);
    }
    let mut scale_down = to_scale_down - min_available;
    if let Some(n) = new_rs
        && n.replicas > desired_new
    {
        if n.replicas - scale_down < desired_new {
            new_count = desired_new;
            scale_down -= n.replicas - desired_new;
        } else {
            new_count = n.replicas - scale_down;
            scale_down = 0;
        }
    }
    if let Some(s) = stable_rs
        && s.replicas > desired_stable
    {
        stable_count = if s.replicas - scale_down < desired_stable {
            desired_stable
        } else {
            s.replicas - scale_down
        };
    }
    (new_count, stable_count)
}

// ---------------------------------------------------------------------------------------
// the reconcile pass

pub(crate) fn s<'a>(v: &'a Json, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Json::as_str).unwrap_or("")
}

/// `status.<section>.<key>` = `{name, status, message?}` of an AnalysisRun (the
/// `RolloutAnalysisRunStatus` both strategies record).
pub(crate) fn set_run_status(
    obj: &mut serde_json::Map<String, Json>,
    section: &str,
    key: &str,
    run: Option<&Run>,
    name: &str,
) {
    let c = obj.entry(section).or_insert_with(|| json!({}));
    if !c.is_object() {
        *c = json!({});
    }
    let phase = run.map_or("", |r| r.phase.as_str());
    let mut v = json!({"name": name, "status": phase});
    if let Some(r) = run
        && !r.message.is_empty()
    {
        v["message"] = json!(r.message);
    }
    c[key] = v;
}

/// What the status summary of one pass says: [`write_summary`]'s input.
pub(crate) struct Summary<'a> {
    pub phase: &'a str,
    pub message: &'a str,
    pub aborted: bool,
    pub paused: bool,
    pub available: bool,
    pub new_name: &'a str,
}

/// `status.phase`, `status.message` and the Progressing, Paused, Available and Healthy
/// conditions (argo-rollouts `calculateRolloutConditions`, `CalculateRolloutPhase`), as
/// the canary and blue-green passes both write them.
pub(crate) fn write_summary(
    obj: &mut serde_json::Map<String, Json>,
    sum: &Summary<'_>,
    stamp: &str,
    prev: &Json,
) {
    let (phase, message, new_name) = (sum.phase, sum.message, sum.new_name);
    obj.insert("phase".into(), json!(phase));
    if message.is_empty() {
        obj.remove("message");
    } else {
        obj.insert("message".into(), json!(message));
    }
    let healthy = phase == "Healthy";
    let progressing = if sum.aborted {
        condition("Progressing", false, "RolloutAborted", message, stamp, prev)
    } else if sum.paused {
        condition(
            "Progressing",
            true,
            "RolloutPaused",
            "Rollout is paused",
            stamp,
            prev,
        )
    } else if healthy {
        condition(
            "Progressing",
            true,
            "NewReplicaSetAvailable",
            &format!("ReplicaSet \"{new_name}\" has successfully progressed."),
            stamp,
            prev,
        )
    } else {
        condition(
            "Progressing",
            true,
            "ReplicaSetUpdated",
            &format!("ReplicaSet \"{new_name}\" is progressing."),
            stamp,
            prev,
        )
    };
    let paused_cond = if sum.paused {
        condition(
            "Paused",
            true,
            "RolloutPaused",
            "Rollout is paused",
            stamp,
            prev,
        )
    } else {
        condition(
            "Paused",
            false,
            "RolloutResumed",
            "Rollout is resumed",
            stamp,
            prev,
        )
    };
    let available_cond = condition(
        "Available",
        sum.available,
        "AvailableReason",
        if sum.available {
            "Rollout has minimum availability"
        } else {
            "Rollout does not have minimum availability"
        },
        stamp,
        prev,
    );
    let healthy_cond = condition(
        "Healthy",
        healthy,
        "RolloutHealthy",
        if healthy {
            "Rollout is healthy"
        } else {
            "Rollout is not healthy"
        },
        stamp,
        prev,
    );
    obj.insert(
        "conditions".into(),
        json!([progressing, paused_cond, available_cond, healthy_cond]),
    );
}

pub(crate) fn condition(
    kind: &str,
    status: bool,
    reason: &str,
    message: &str,
    now: &str,
    prev: &Json,
) -> Json {
    let st = if status { "True" } else { "False" };
    let old = prev
        .get("conditions")
        .and_then(Json::as_array)
        .and_then(|c| c.iter().find(|c| c["type"] == kind));
    let transition = match old {
        Some(o) if o["status"] == st => o["lastTransitionTime"].clone(),
        _ => json!(now),
    };
    let update = match old {
        Some(o) if o["status"] == st && o["reason"] == reason && o["message"] == message => {
            o["lastUpdateTime"].clone()
        }
        _ => json!(now),
    };
    json!({"type": kind, "status": st, "reason": reason, "message": message,
        "lastTransitionTime": transition, "lastUpdateTime": update})
}

/// The revision of the new ReplicaSet as `getAllReplicaSetsAndSyncRevision`: one more than
/// the highest of the others; an existing ReplicaSet with a lower one (a template that comes
/// back) gets it (`SetNewReplicaSetAnnotations`).
pub(crate) fn sync_revision(
    all: &[ReplicaSet],
    new_rs: Option<&ReplicaSet>,
    plan: &mut Plan,
) -> i64 {
    let want = all
        .iter()
        .filter(|r| new_rs.is_none_or(|n| n.name != r.name))
        .map(|r| r.revision)
        .max()
        .unwrap_or(0)
        + 1;
    match new_rs {
        Some(r) if r.revision < want => {
            plan.rs_revisions.push((r.name.clone(), want));
            want
        }
        Some(r) => r.revision,
        None => want,
    }
}

/// The AnalysisRun name of a step (`<rollout>-<hash>-<revision>-<step>`) or of background
/// analysis (`<rollout>-<hash>-<revision>`), as `rollout/analysis.go`.
pub fn run_name(rollout: &str, pod_hash: &str, revision: i64, kind: RunKind) -> String {
    match kind {
        RunKind::Step(i) => format!("{rollout}-{pod_hash}-{revision}-{i}"),
        RunKind::Background => format!("{rollout}-{pod_hash}-{revision}"),
        RunKind::PrePromotion => format!("{rollout}-{pod_hash}-{revision}-pre"),
        RunKind::PostPromotion => format!("{rollout}-{pod_hash}-{revision}-post"),
    }
}

fn unsupported(spec: &Json) -> Option<String> {
    let strategy = spec.get("strategy").cloned().unwrap_or(Json::Null);
    let Some(canary) = strategy.get("canary").filter(|c| c.is_object()) else {
        return Some("spec.strategy: a canary or blueGreen strategy is required".into());
    };
    if let Some(tr) = canary.get("trafficRouting").and_then(Json::as_object) {
        if let Some(k) = tr.keys().find(|k| *k != "nginx") {
            return Some(format!(
                "spec.strategy.canary.trafficRouting.{k}: not supported by sluice yet (nginx is; remove trafficRouting for a replica-ratio canary)"
            ));
        }
        if let Some(ng) = tr.get("nginx") {
            let named = |k: &str| {
                canary
                    .get(k)
                    .and_then(Json::as_str)
                    .is_some_and(|s| !s.is_empty())
            };
            if !named("stableService") || !named("canaryService") {
                // validation.InvalidTrafficRoutingMessage
                return Some("spec.strategy.canary.trafficRouting: Invalid value: Canary service and Stable service must to be set to use Traffic Routing".into());
            }
            if let Some(e) = crate::nginx::invalid(ng) {
                return Some(e);
            }
        }
    }
    for (i, step) in canary
        .get("steps")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        for k in ["experiment", "plugin", "setHeaderRoute", "setMirrorRoute"] {
            if step.get(k).is_some_and(|v| !v.is_null()) {
                return Some(format!(
                    "spec.strategy.canary.steps[{i}].{k}: not supported by sluice yet"
                ));
            }
        }
        if let Some(p) = step.get("pause")
            && pause_seconds(p).is_some_and(|d| d < 0)
        {
            return Some(format!(
                "spec.strategy.canary.steps[{i}].pause.duration: invalid duration"
            ));
        }
    }
    None
}

/// The referenced Services and Ingresses that do not exist or do not fit, as upstream's
/// `getRolloutReferencedResources` reports them.
fn references(input: &Input) -> Option<String> {
    let ro = input.rollout;
    let svc = |k: &str| {
        ro.pointer(&format!("/spec/strategy/canary/{k}"))
            .and_then(Json::as_str)
            .unwrap_or("")
    };
    if let Some(e) = crate::services::missing_service(
        input.services,
        &[
            ("spec.strategy.canary.stableService", svc("stableService")),
            ("spec.strategy.canary.canaryService", svc("canaryService")),
        ],
    ) {
        return Some(e);
    }
    let ng = crate::nginx::config(ro)?;
    for name in crate::nginx::stable_ingresses(ng) {
        let Some(ing) = input
            .ingresses
            .iter()
            .find(|i| i.pointer("/metadata/name").and_then(Json::as_str) == Some(name.as_str()))
        else {
            return Some(format!(
                "{}: Invalid value: \"{name}\": ingress.networking.k8s.io \"{name}\" not found",
                crate::nginx::field_of(ng, &name)
            ));
        };
        if let Err(e) = crate::nginx::canary_ingress(ro, ing, 0) {
            return Some(e);
        }
    }
    None
}

/// `IsReplicaSetAvailable`: scaled up and every replica available.
fn rs_available(r: &ReplicaSet) -> bool {
    r.replicas != 0 && r.available != 0 && r.replicas <= r.available
}

/// One reconcile of a Rollout: the canary pass, or [`crate::bluegreen::reconcile`] for a
/// blue-green strategy.
pub fn reconcile(input: &Input) -> Plan {
    if input
        .rollout
        .pointer("/spec/strategy/blueGreen")
        .is_some_and(Json::is_object)
    {
        return crate::bluegreen::reconcile(input);
    }
    let ro = input.rollout;
    let now = input.now;
    let stamp = format_rfc3339(now);
    let name = s(ro, "/metadata/name");
    let spec = ro.get("spec").cloned().unwrap_or(Json::Null);
    let prev = ro.get("status").cloned().unwrap_or_else(|| json!({}));
    let mut st = prev.clone();
    if !st.is_object() {
        st = json!({});
    }
    let replicas = spec
        .get("replicas")
        .and_then(Json::as_i64)
        .map_or(1, |r| r.clamp(0, i64::from(i32::MAX)) as i32);
    let canary = spec
        .pointer("/strategy/canary")
        .cloned()
        .unwrap_or(Json::Null);
    let steps: Vec<Json> = canary
        .get("steps")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    let template = spec.get("template").cloned().unwrap_or(Json::Null);
    let collision = prev
        .get("collisionCount")
        .and_then(Json::as_i64)
        .map(|c| c as i32);
    let hash = pod_template_hash(&template, collision);
    let steps_hash = step_hash(&Json::Array(steps.clone()));
    let generation = ro
        .pointer("/metadata/generation")
        .and_then(Json::as_i64)
        .unwrap_or(1);
    st["observedGeneration"] = json!(generation.to_string());
    let selector = spec
        .pointer("/selector/matchLabels")
        .and_then(Json::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    st["selector"] = json!(selector);
    let mut plan = Plan::empty();
    let obj = st.as_object_mut().expect("status is an object");

    if let Some(msg) = unsupported(&spec).or_else(|| references(input)) {
        let c = condition("InvalidSpec", true, "InvalidSpec", &msg, &stamp, &prev);
        obj.insert("conditions".into(), json!([c]));
        obj.insert("phase".into(), json!("Degraded"));
        obj.insert("message".into(), json!(format!("InvalidSpec: {msg}")));
        plan.status = st;
        return plan;
    }

    // a new pod template (or new steps) starts the canary over
    let new_template = obj.get("currentPodHash").and_then(Json::as_str) != Some(hash.as_str());
    let new_steps = obj.get("currentStepHash").and_then(Json::as_str) != Some(steps_hash.as_str());
    if new_template || new_steps {
        obj.insert("currentPodHash".into(), json!(hash));
        obj.insert("currentStepHash".into(), json!(steps_hash));
        obj.insert("currentStepIndex".into(), json!(0));
        for k in [
            "abort",
            "abortedAt",
            "pauseConditions",
            "controllerPause",
            "promoteFull",
        ] {
            obj.remove(k);
        }
        if let Some(c) = obj.get_mut("canary").and_then(Json::as_object_mut) {
            c.remove("currentStepAnalysisRunStatus");
            c.remove("currentBackgroundAnalysisRunStatus");
        }
        // every run of another template ends
        for r in input.runs {
            if !r.terminating && !completed(&r.phase) && !r.name.contains(&format!("-{hash}-")) {
                plan.terminate_runs.push(r.name.clone());
            }
        }
    }
    // the first template is stable at once (`rollout/canary.go`: no steps on first deploy)
    if obj
        .get("stableRS")
        .and_then(Json::as_str)
        .is_none_or(str::is_empty)
    {
        obj.insert("stableRS".into(), json!(hash));
    }
    let stable_hash = obj["stableRS"].as_str().unwrap_or_default().to_owned();
    let promoted = stable_hash == hash;
    if promoted || obj.get("promoteFull").and_then(Json::as_bool) == Some(true) {
        obj.insert("currentStepIndex".into(), json!(steps.len()));
    }
    let mut index = obj
        .get("currentStepIndex")
        .and_then(Json::as_u64)
        .map_or(0, |i| i as usize)
        .min(steps.len());

    let new_rs = input.replica_sets.iter().find(|r| r.pod_hash == hash);
    let stable_rs = input
        .replica_sets
        .iter()
        .find(|r| r.pod_hash == stable_hash && !promoted);
    let revision = crate::canary::sync_revision(input.replica_sets, new_rs, &mut plan);
    let new_name = format!("{name}-{hash}");
    if new_rs.is_none() {
        plan.create_rs = Some((new_name.clone(), hash.clone(), revision));
    }
    let olds: Vec<&ReplicaSet> = input
        .replica_sets
        .iter()
        .filter(|r| {
            r.pod_hash != hash
                && Some(r.pod_hash.as_str()) != stable_rs.map(|s| s.pod_hash.as_str())
        })
        .collect();
    let aborted = obj.get("abort").and_then(Json::as_bool) == Some(true);
    let paused_spec = spec.get("paused").and_then(Json::as_bool) == Some(true);
    let tr = crate::nginx::config(ro).is_some();

    // stableService / canaryService select the stable / canary ReplicaSet once it is fully
    // available (`reconcileStableAndCanaryService`, `ensureSVCTargets`)
    let mut services = crate::services::Services::new(input.services);
    let stable_target = input
        .replica_sets
        .iter()
        .find(|r| r.pod_hash == stable_hash);
    for (key, target) in [("stableService", stable_target), ("canaryService", new_rs)] {
        let svc = canary.get(key).and_then(Json::as_str).unwrap_or("");
        if let Some(r) = target
            && !svc.is_empty()
            && services.selector(svc).as_deref() != Some(r.pod_hash.as_str())
            && rs_available(r)
        {
            services.switch(svc, &r.pod_hash, &mut plan);
        }
    }

    // analysis runs
    // the current runs are the ones the status names (`FilterCurrentRolloutAnalysisRuns`);
    // without one, a new run gets the first free name (`.1`, `.2` after a retry)
    let recorded = |key: &str| {
        obj.get("canary")
            .and_then(|c| c.get(key))
            .and_then(|c| c.get("name"))
            .and_then(Json::as_str)
            .map(str::to_owned)
    };
    let recorded_step = recorded("currentStepAnalysisRunStatus");
    let recorded_bg = recorded("currentBackgroundAnalysisRunStatus");
    let run_of = |kind: RunKind| {
        let base = run_name(name, &hash, revision, kind);
        let rec = match kind {
            RunKind::Step(_) => recorded_step.clone(),
            RunKind::Background | RunKind::PrePromotion | RunKind::PostPromotion => {
                recorded_bg.clone()
            }
        }
        .filter(|n| *n == base || n.strip_prefix(&base).is_some_and(|r| r.starts_with('.')));
        let n = rec.unwrap_or_else(|| {
            let taken = |n: &str| input.runs.iter().any(|r| r.name == n);
            if !taken(&base) {
                return base.clone();
            }
            (1..)
                .map(|i| format!("{base}.{i}"))
                .find(|n| !taken(n))
                .unwrap_or(base.clone())
        });
        (input.runs.iter().find(|r| r.name == n).cloned(), n)
    };
    let run_status =
        |key: &str, r: &Option<Run>, n: &str, obj: &mut serde_json::Map<String, Json>| {
            set_run_status(obj, "canary", key, r.as_ref(), n)
        };
    let mut abort_now: Option<String> = None;
    let mut pause_reason: Option<&str> = None;

    // background analysis from startingStep, while not promoted and not aborted
    if let Some(bg) = canary.get("analysis").filter(|a| a.is_object())
        && !promoted
        && !aborted
    {
        let starting = bg.get("startingStep").and_then(Json::as_u64).unwrap_or(0) as usize;
        if index >= starting.min(steps.len()) {
            let (run, n) = run_of(RunKind::Background);
            match &run {
                None => plan.create_runs.push(NewRun {
                    name: n.clone(),
                    kind: RunKind::Background,
                    pod_hash: hash.clone(),
                    revision,
                    analysis: bg.clone(),
                }),
                Some(r) if matches!(r.phase.as_str(), "Failed" | "Error") => {
                    abort_now = Some(format!("Background AnalysisRun {n} {}", r.phase));
                }
                Some(r) if r.phase == "Inconclusive" => {
                    pause_reason = Some("InconclusiveAnalysisRun")
                }
                _ => {}
            }
            run_status("currentBackgroundAnalysisRunStatus", &run, &n, obj);
        }
    }

    // the current step
    let mut advanced = false;
    let weight_of = |index: usize, aborted: bool| -> i32 {
        if aborted {
            return 0;
        }
        if index >= steps.len() {
            return 100;
        }
        steps[..=index]
            .iter()
            .rev()
            .find_map(|s| s.get("setWeight").and_then(Json::as_i64))
            .map_or(0, |w| w.clamp(0, 100) as i32)
    };
    let fence = fenceposts(&canary, replicas);
    let old_replicas: i32 = olds.iter().map(|r| r.replicas).sum();
    // `CalculateReplicaCountsForTrafficRoutedCanary` (utils/replicaset/canary.go): the canary
    // from setCanaryScale or the weight (`GetCanaryReplicasOrWeight`); the stable left at 100%
    // unless `dynamicStableScale`, then the higher of the desired and the current stable
    // weight's replicas (and, aborted, the canary the higher of the desired and the current
    // canary weight's); both at least `minPodsPerReplicaSet` when not zero
    let dynamic = tr && canary.get("dynamicStableScale").and_then(Json::as_bool) == Some(true);
    let min_pods = canary
        .get("minPodsPerReplicaSet")
        .and_then(Json::as_i64)
        .filter(|_| tr)
        .map(|m| m.clamp(0, i64::from(i32::MAX)) as i32);
    let at_least_min = |n: i32| match min_pods {
        Some(m) if n != 0 => n.max(m),
        _ => n,
    };
    let of_weight = |w: i64| (f64::from(replicas) * w.clamp(0, 100) as f64 / 100.0).ceil() as i32;
    let current_weight = |side: &str| {
        prev.pointer(&format!("/canary/weights/{side}/weight"))
            .and_then(Json::as_i64)
    };
    let canary_scale = |index: usize, aborted: bool| -> (Option<i32>, i64) {
        if aborted {
            return (None, 0);
        }
        if index >= steps.len() {
            return (None, 100);
        }
        for st in steps[..=index].iter().rev() {
            let Some(sc) = st.get("setCanaryScale") else {
                continue;
            };
            if sc.get("matchTrafficWeight").and_then(Json::as_bool) == Some(true) {
                break;
            }
            if let Some(n) = sc.get("replicas").and_then(Json::as_i64) {
                return (Some(n.clamp(0, i64::from(i32::MAX)) as i32), 0);
            }
            if let Some(w) = sc.get("weight").and_then(Json::as_i64) {
                return (None, w);
            }
            break;
        }
        (None, i64::from(weight_of(index, aborted)))
    };
    let tr_canary = |index: usize, aborted: bool| -> i32 {
        let (explicit, w) = canary_scale(index, aborted);
        let mut n = explicit.unwrap_or_else(|| at_least_min(of_weight(w)));
        if dynamic
            && aborted
            && let Some(cw) = current_weight("canary")
        {
            n = n.max(of_weight(cw));
        }
        if explicit.is_some() && !dynamic {
            return n;
        }
        at_least_min(n)
    };
    let tr_stable = |index: usize, aborted: bool| -> i32 {
        if !dynamic {
            return replicas;
        }
        let (_, w) = canary_scale(index, aborted);
        let mut n = of_weight(100 - w.clamp(0, 100));
        if let Some(sw) = current_weight("stable") {
            n = n.max(of_weight(sw));
        }
        at_least_min(n)
    };
    let at_desired = |index: usize| {
        if tr {
            let dn = if stable_rs.is_none() {
                replicas
            } else {
                tr_canary(index, aborted)
            };
            let ds = tr_stable(index, aborted);
            return new_rs.is_some_and(|n| n.replicas == dn && n.available == dn)
                && stable_rs.is_none_or(|s| s.replicas == ds && s.available == ds);
        }
        let w = weight_of(index, aborted);
        let (dn, ds) = if stable_rs.is_none() {
            (replicas, 0)
        } else {
            (
                (f64::from(replicas) * f64::from(w) / 100.0).ceil() as i32,
                (f64::from(replicas) * (1.0 - f64::from(w) / 100.0)).ceil() as i32,
            )
        };
        new_rs.is_some_and(|n| n.replicas == dn && n.available == dn)
            && stable_rs.is_none_or(|s| s.replicas == ds && s.available == ds)
            && olds.iter().all(|o| o.available == 0)
    };
    if !aborted && abort_now.is_none() && !paused_spec && index < steps.len() {
        let step = &steps[index];
        if step.get("setWeight").is_some() || step.get("setCanaryScale").is_some() {
            if at_desired(index) {
                advanced = true;
            }
        } else if let Some(p) = step.get("pause") {
            let conds = obj
                .get("pauseConditions")
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default();
            let mine = conds.iter().find(|c| c["reason"] == "CanaryPauseStep");
            let controller_pause = obj.get("controllerPause").and_then(Json::as_bool) == Some(true);
            match mine {
                Some(c) => {
                    if let Some(secs) = pause_seconds(p) {
                        let start = c["startTime"]
                            .as_str()
                            .and_then(parse_rfc3339)
                            .unwrap_or(now);
                        let end = start.saturating_add(secs.saturating_mul(1000));
                        if now >= end {
                            advanced = true;
                        } else {
                            plan.requeue_at = Some(end);
                            pause_reason = Some("CanaryPauseStep");
                        }
                    } else {
                        pause_reason = Some("CanaryPauseStep");
                    }
                }
                // promoted: the pause condition was removed by the user
                None if controller_pause => advanced = true,
                None => {
                    if pause_seconds(p) == Some(0) {
                        advanced = true;
                    } else {
                        let mut conds = conds.clone();
                        conds.push(json!({"reason": "CanaryPauseStep", "startTime": stamp}));
                        obj.insert("pauseConditions".into(), Json::Array(conds));
                        obj.insert("controllerPause".into(), json!(true));
                        pause_reason = Some("CanaryPauseStep");
                        if let Some(secs) = pause_seconds(p) {
                            plan.requeue_at = Some(now.saturating_add(secs.saturating_mul(1000)));
                        }
                    }
                }
            }
        } else if let Some(a) = step.get("analysis") {
            let (run, n) = run_of(RunKind::Step(index));
            match &run {
                None => plan.create_runs.push(NewRun {
                    name: n.clone(),
                    kind: RunKind::Step(index),
                    pod_hash: hash.clone(),
                    revision,
                    analysis: a.clone(),
                }),
                Some(r) if r.phase == "Successful" => advanced = true,
                Some(r) if matches!(r.phase.as_str(), "Failed" | "Error") => {
                    abort_now = Some(format!("Step-based AnalysisRun {n} {}", r.phase));
                }
                Some(r) if r.phase == "Inconclusive" => {
                    pause_reason = Some("InconclusiveAnalysisRun")
                }
                _ => {}
            }
            run_status("currentStepAnalysisRunStatus", &run, &n, obj);
        } else {
            advanced = true;
        }
    }
    if advanced {
        index += 1;
        obj.insert("currentStepIndex".into(), json!(index));
        if let Some(conds) = obj.get_mut("pauseConditions").and_then(Json::as_array_mut) {
            conds.retain(|c| c["reason"] != "CanaryPauseStep");
        }
        obj.remove("controllerPause");
        if obj
            .get("pauseConditions")
            .and_then(Json::as_array)
            .is_some_and(Vec::is_empty)
        {
            obj.remove("pauseConditions");
        }
        plan.requeue_at = Some(now);
    }
    if let Some(why) = &abort_now {
        obj.insert("abort".into(), json!(true));
        obj.insert("abortedAt".into(), json!(stamp));
        obj.insert("abortMessage".into(), json!(why));
        plan.requeue_at = Some(now);
    }
    let aborted = aborted || abort_now.is_some();
    if aborted {
        // every run of this revision ends
        for r in input.runs {
            if !r.terminating && !completed(&r.phase) && !plan.terminate_runs.contains(&r.name) {
                plan.terminate_runs.push(r.name.clone());
            }
        }
    }
    if let Some(reason) = pause_reason
        && reason == "InconclusiveAnalysisRun"
    {
        let mut conds = obj
            .get("pauseConditions")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default();
        if !conds.iter().any(|c| c["reason"] == reason) {
            conds.push(json!({"reason": reason, "startTime": stamp}));
        }
        obj.insert("pauseConditions".into(), Json::Array(conds));
        obj.insert("controllerPause".into(), json!(true));
    }

    // scale
    let weight = weight_of(index, aborted);
    let (mut want_new, mut want_stable) = if promoted {
        (replicas, 0)
    } else if tr {
        (tr_canary(index, aborted), tr_stable(index, aborted))
    } else {
        replica_counts(replicas, weight, fence, new_rs, stable_rs, old_replicas)
    };
    if new_rs.is_none() && stable_rs.is_none() {
        want_new = replicas;
        want_stable = 0;
    }
    // with traffic routing, an aborted canary is scaled down after
    // abortScaleDownDelaySeconds (`shouldDelayScaleDownOnAbort`, `reconcileNewReplicaSet`)
    let abort_delay = crate::services::seconds(
        &canary,
        "abortScaleDownDelaySeconds",
        crate::bluegreen::DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS,
    );
    // with dynamicStableScale and no explicit abortScaleDownDelaySeconds the canary follows
    // the traffic back down at once (`shouldDelayScaleDownOnAbort`)
    let dynamic_abort = dynamic && canary.get("abortScaleDownDelaySeconds").is_none();
    let delay_abort = tr && aborted && stable_rs.is_some() && abort_delay > 0 && !dynamic_abort;
    if let Some(n) = new_rs {
        if delay_abort {
            match crate::services::deadline(n) {
                Some(at) if at <= now => want_new = 0,
                Some(at) => {
                    want_new = n.replicas;
                    plan.requeue(at);
                }
                None => {
                    want_new = n.replicas;
                    if stable_rs.is_some_and(|s| s.available == replicas) {
                        crate::services::add_deadline(n, abort_delay, now, &mut plan);
                    }
                }
            }
        } else {
            crate::services::remove_deadline(n, &mut plan);
        }
    }
    if let Some(sr) = stable_rs {
        crate::services::remove_deadline(sr, &mut plan);
    }
    plan.scale.push((new_name.clone(), want_new));
    if let Some(sr) = stable_rs {
        plan.scale.push((sr.name.clone(), want_stable));
    }
    // with traffic routing, older ReplicaSets stay up for scaleDownDelaySeconds
    // (`scaleDownOldReplicaSetsForCanary`, `scaleDownDelayHelper`)
    let olds: Vec<&ReplicaSet> = if tr {
        let mut sorted = olds.clone();
        sorted.sort_by_key(|r| std::cmp::Reverse(r.revision));
        let delay = crate::services::seconds(
            &canary,
            "scaleDownDelaySeconds",
            crate::bluegreen::DEFAULT_SCALE_DOWN_DELAY_SECONDS,
        );
        let limit = canary
            .get("scaleDownDelayRevisionLimit")
            .and_then(Json::as_i64)
            .unwrap_or(i64::from(i32::MAX));
        let mut annotated = 0;
        for o in sorted {
            if o.replicas == 0 || o.pod_hash == stable_hash || services.selects(&o.pod_hash) {
                continue;
            }
            let want = crate::services::scale_down_delay(
                o,
                &mut annotated,
                limit,
                replicas,
                delay,
                now,
                &mut plan,
            );
            if want != o.replicas {
                plan.scale.push((o.name.clone(), want));
            }
        }
        Vec::new()
    } else {
        olds.clone()
    };
    // older ReplicaSets go first (all of them once promoted)
    let new_available = new_rs.map_or(0, |r| r.available);
    let min_available = replicas - fence.1;
    let mut budget = (new_available
        + stable_rs.map_or(0, |r| r.available)
        + olds.iter().map(|r| r.available).sum::<i32>())
        - min_available;
    for o in &olds {
        if o.replicas == 0 {
            continue;
        }
        let down = if promoted {
            o.replicas
        } else {
            o.replicas.min(budget.max(0))
        };
        budget -= down;
        plan.scale.push((o.name.clone(), o.replicas - down));
    }

    // promotion: past the last step with the canary fully available
    let mut promoted_now = false;
    if !promoted
        && !aborted
        && index >= steps.len()
        && new_rs.is_some_and(|n| n.available >= replicas && n.replicas == replicas)
    {
        obj.insert("stableRS".into(), json!(hash));
        obj.remove("promoteFull");
        promoted_now = true;
        if let Some(c) = obj.get_mut("canary").and_then(Json::as_object_mut) {
            c.remove("currentBackgroundAnalysisRunStatus");
        }
        for r in input.runs {
            if !r.terminating && !completed(&r.phase) && !plan.terminate_runs.contains(&r.name) {
                plan.terminate_runs.push(r.name.clone());
            }
        }
        plan.requeue_at = Some(now);
    }
    let promoted = promoted || promoted_now;

    // the canary Ingresses (`reconcileTrafficRouting`, nginx `SetWeight`): 0 once promoted or
    // aborted, or while the canary has no available pod; the previous setWeight while the
    // ReplicaSets are not at the current step's counts
    if let Some(ng) = crate::nginx::config(ro) {
        let promote_full = prev.get("promoteFull").and_then(Json::as_bool) == Some(true);
        let weight = if aborted && dynamic && !promoted {
            // `calculateDesiredWeightOnAbortOrStableRollback`: the canary keeps the traffic
            // the stable cannot take yet, never more than it had
            let available = stable_rs.map_or(0, |s| s.available);
            let w = 100 - (100 * available) / replicas.max(1);
            let w = current_weight("canary").map_or(i64::from(w), |c| c.min(i64::from(w)));
            w.clamp(0, 100) as i32
        } else if promoted || aborted || new_rs.is_none_or(|n| n.available == 0) {
            0
        } else if index < steps.len() {
            if !at_desired(index) && !promote_full {
                steps[..index]
                    .iter()
                    .rev()
                    .find_map(|s| s.get("setWeight").and_then(Json::as_i64))
                    .map_or(0, |w| w.clamp(0, 100) as i32)
            } else {
                weight_of(index, false)
            }
        } else {
            100
        };
        for name in crate::nginx::stable_ingresses(ng) {
            if let Some(ing) = input
                .ingresses
                .iter()
                .find(|i| i.pointer("/metadata/name").and_then(Json::as_str) == Some(name.as_str()))
                && let Ok(c) = crate::nginx::canary_ingress(ro, ing, weight)
            {
                plan.ingresses.push(c);
            }
        }
        let obj_stable = obj.get("stableRS").cloned().unwrap_or(Json::Null);
        let c = obj.entry("canary").or_insert_with(|| json!({}));
        if c.is_object() {
            c["weights"] = json!({
                "canary": {"weight": weight, "podTemplateHash": hash, "serviceName": canary["canaryService"]},
                "stable": {"weight": 100 - weight, "podTemplateHash": obj_stable, "serviceName": canary["stableService"]},
            });
        }
    }

    // counts
    let all = input.replica_sets;
    let sum = |f: fn(&ReplicaSet) -> i32| all.iter().map(f).sum::<i32>();
    obj.insert("replicas".into(), json!(sum(|r| r.status_replicas)));
    obj.insert(
        "updatedReplicas".into(),
        json!(new_rs.map_or(0, |r| r.status_replicas)),
    );
    obj.insert("readyReplicas".into(), json!(sum(|r| r.ready)));
    obj.insert("availableReplicas".into(), json!(sum(|r| r.available)));
    obj.insert("currentStepIndex".into(), json!(index));
    if steps.is_empty() {
        obj.remove("currentStepIndex");
    }
    let c = obj.entry("canary").or_insert_with(|| json!({}));
    if !c.is_object() {
        *c = json!({});
    }

    // phase, message, conditions (`utils/rollout/rolloututil.go` CalculateRolloutPhase)
    let paused = paused_spec
        || obj
            .get("pauseConditions")
            .and_then(Json::as_array)
            .is_some_and(|c| !c.is_empty());
    let available = sum(|r| r.available);
    let total = sum(|r| r.status_replicas);
    let updated = new_rs.map_or(0, |r| r.status_replicas);
    let new_available = new_rs.map_or(0, |r| r.available);
    let (phase, message) = if aborted {
        let why = obj
            .get("abortMessage")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_owned();
        let msg = format!(
            "RolloutAborted: Rollout aborted update to revision {revision}{}",
            if why.is_empty() {
                String::new()
            } else {
                format!(": {why}")
            }
        );
        ("Degraded", msg)
    } else if paused {
        let reason = obj
            .get("pauseConditions")
            .and_then(|c| c.get(0))
            .and_then(|c| c.get("reason"))
            .and_then(Json::as_str)
            .unwrap_or("PausedBySpec")
            .to_owned();
        ("Paused", reason)
    } else if !promoted || updated < replicas {
        ("Progressing", "more replicas need to be updated".to_owned())
    } else if new_available < replicas {
        (
            "Progressing",
            "updated replicas are still becoming available".to_owned(),
        )
    } else if total > updated && !tr {
        (
            "Progressing",
            "old replicas are pending termination".to_owned(),
        )
    } else {
        ("Healthy", String::new())
    };
    let avail = available >= replicas - fence.1;
    write_summary(
        obj,
        &Summary {
            phase,
            message: &message,
            aborted,
            paused,
            available: avail,
            new_name: &new_name,
        },
        &stamp,
        &prev,
    );
    if !promoted && !aborted && plan.requeue_at.is_none() {
        // waiting on ReplicaSets or runs: their watch events wake the controller; poll too
        plan.requeue_at = Some(now + 5_000);
    }
    plan.status = st;
    plan
}

pub(crate) fn completed(phase: &str) -> bool {
    matches!(phase, "Successful" | "Failed" | "Error" | "Inconclusive")
}

/// The status patch of kubectl-argo-rollouts `promote`: without `full`, a paused step is
/// resumed (its pause conditions removed) or, when not paused, the current step is skipped;
/// with `full`, `promoteFull` skips every remaining step and analysis.
pub fn promote_patch(rollout: &Json, full: bool) -> Json {
    let st = rollout.get("status").cloned().unwrap_or(Json::Null);
    if full {
        return json!({"status": {"promoteFull": true, "pauseConditions": null, "abort": null}});
    }
    let paused = st
        .get("pauseConditions")
        .and_then(Json::as_array)
        .is_some_and(|c| !c.is_empty());
    if paused {
        return json!({"status": {"pauseConditions": null}});
    }
    let steps = rollout
        .pointer("/spec/strategy/canary/steps")
        .and_then(Json::as_array)
        .map_or(0, Vec::len);
    let index = st
        .get("currentStepIndex")
        .and_then(Json::as_u64)
        .unwrap_or(0) as usize;
    if index < steps {
        json!({"status": {"currentStepIndex": index + 1}})
    } else {
        json!({"status": {}})
    }
}

/// `abort`: `status.abort: true` (the controller scales the canary down).
pub fn abort_patch() -> Json {
    json!({"status": {"abort": true}})
}

/// `retry rollout`: clears the abort; the canary starts again from the first step.
pub fn retry_patch() -> Json {
    json!({"status": {"abort": false, "abortedAt": null, "abortMessage": null, "currentStepIndex": 0,
        "pauseConditions": null, "controllerPause": null,
        "canary": {"currentStepAnalysisRunStatus": null, "currentBackgroundAnalysisRunStatus": null}}})
}

#[cfg(test)]
pub(crate) mod tests;
