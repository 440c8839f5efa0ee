//! A simulated node in the spirit of kwok: controller-like status for Deployments,
//! ReplicaSets, StatefulSets, DaemonSets, Jobs and Pods, so that health checks see real
//! transitions. NO CONTAINER RUNS: Pods are only records that turn Running and Ready after
//! a delay (and Job Pods Succeeded); their log is a fixed line saying so.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::ops::{WriteOpts, meta_str};
use crate::resources::ResourceInfo;
use crate::server::State;
use crate::store::{resource_key, rv_of};
use crate::util;

/// The annotation Sluice's local executor sets on the Pods of the TaskRuns it runs
/// (`sluice_kube::shape::EXECUTOR_ANNOTATION`, which a test holds equal: this crate cannot
/// depend on that one).
pub const EXECUTOR_ANNOTATION: &str = "sluice.dev/executor";

/// The simulated node's settings.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// The node's name (Pods get `spec.nodeName`).
    pub node_name: String,
    /// How long a Pod stays Pending before it is Running and Ready (a Job's Pod: Succeeded).
    pub ready_after: Duration,
    /// How often the simulated controllers run.
    pub tick: Duration,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            node_name: "sluice-node".into(),
            ready_after: Duration::from_secs(1),
            tick: Duration::from_millis(250),
        }
    }
}

/// The Node object of the simulated node.
pub fn ensure_node(st: &State, o: &SimOptions) -> Result<(), crate::Error> {
    if st.store.get("/nodes", "", &o.node_name).is_none() {
        let now = util::now_rfc3339();
        st.store.create(
            "/nodes",
            json!({
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": o.node_name, "uid": util::new_uid(), "creationTimestamp": now,
                    "labels": {"kubernetes.io/hostname": o.node_name, "kubernetes.io/os": "linux", "type": "sluice-simulated"},
                    "annotations": {"sluice.dev/simulated": "true: no container runs on this node"}},
                "spec": {},
                "status": {
                    "conditions": [{"type": "Ready", "status": "True", "reason": "SluiceSimulated", "message": "simulated node: no container runs", "lastHeartbeatTime": now, "lastTransitionTime": now}],
                    "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "1000"},
                    "capacity": {"cpu": "32", "memory": "256Gi", "pods": "1000"},
                    "nodeInfo": {"kubeletVersion": "v1.32.0-sluice", "operatingSystem": "linux", "architecture": std::env::consts::ARCH, "containerRuntimeVersion": "none://simulated"},
                },
            }),
        )?;
    }
    Ok(())
}

/// A Pod's log: nothing ran.
pub fn pod_log(pod: &Value) -> String {
    format!(
        "sluice: pod {}/{} runs on a simulated node; no container runs, so there is no log\n",
        meta_str(pod, "namespace"),
        meta_str(pod, "name")
    )
}

/// Runs the simulated controllers until the runtime stops, supervised: a panic in a pass is
/// logged and the loop restarts after a backoff (`supervise::task`); it never ends the
/// server.
pub fn spawn(st: Arc<State>, o: SimOptions) {
    crate::supervise::task(
        "simulated node",
        crate::supervise::Backoff::default(),
        move || {
            let st = st.clone();
            let o = o.clone();
            async move {
                let mut tick = tokio::time::interval(o.tick);
                let mut pace = Pace::default();
                loop {
                    tick.tick().await;
                    if pace.due(&st) {
                        pace.waiting = reconcile(&st, &o);
                    }
                }
            }
        },
    );
}

/// The store resources the simulated controllers read.
const WATCHED: [&str; 6] = [
    "apps/deployments",
    "apps/replicasets",
    "apps/statefulsets",
    "apps/daemonsets",
    "batch/jobs",
    "/pods",
];

/// Passes after which one runs even if nothing changed (a resync, as informers have).
const RESYNC_TICKS: u32 = 40;

/// When a pass is worth running: something it reads was written since the last one, a Pod
/// waits for its ready delay, or the resync is due. A pass over an unchanged store with no
/// Pod waiting would change nothing.
#[derive(Debug, Default)]
struct Pace {
    seen: u64,
    waiting: bool,
    idle: u32,
}

impl Pace {
    fn due(&mut self, st: &State) -> bool {
        let written = st.store.last_write(&WATCHED);
        if written == self.seen && !self.waiting && self.idle < RESYNC_TICKS {
            self.idle += 1;
            return false;
        }
        // the pass's own writes move `written` again: the next tick looks once more
        self.seen = written;
        self.idle = 0;
        true
    }
}

fn info(st: &State, group: &str, plural: &str) -> Option<Arc<ResourceInfo>> {
    st.reg().by_group_resource(group, plural)
}

/// The objects the simulated controllers act on: quarantined ones are left alone.
fn list(st: &State, group: &str, plural: &str) -> Vec<Arc<Value>> {
    let key = resource_key(group, plural);
    let mut objs = st.store.list(&key, None, None).0;
    objs.retain(|o| !st.is_quarantined(&key, o));
    objs
}

/// The Pods each of `owners` owns (by ownerReferences uid), parsed; Pods of no owner in
/// `owners` are not parsed (most Pods are the executor's, owned by TaskRuns).
fn owned_pods(st: &State, owners: &[Arc<Value>]) -> HashMap<String, Vec<Arc<Value>>> {
    let mut out: HashMap<String, Vec<Arc<Value>>> = owners
        .iter()
        .map(|o| (meta_str(o, "uid").to_owned(), Vec::new()))
        .collect();
    if owners.is_empty() {
        return out;
    }
    let key = resource_key("", "pods");
    for p in st.store.list_stored(&key, None, None).0 {
        let mine: Vec<&str> = p
            .meta()
            .owners
            .iter()
            .map(|u| &**u)
            .filter(|u| out.contains_key(*u))
            .collect();
        if mine.is_empty() || st.is_quarantined_stored(&key, &p) {
            continue;
        }
        let v = Arc::new(p.value());
        for u in mine {
            if let Some(list) = out.get_mut(u) {
                list.push(v.clone());
            }
        }
    }
    out
}

/// What [`owned_pods`] found for `owner`.
fn owned_of<'a>(pods: &'a HashMap<String, Vec<Arc<Value>>>, owner: &Value) -> &'a [Arc<Value>] {
    pods.get(meta_str(owner, "uid"))
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn owned_by<'a>(objs: &'a [Arc<Value>], uid: &str) -> Vec<&'a Arc<Value>> {
    objs.iter()
        .filter(|o| {
            o.pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|r| {
                    r.iter()
                        .any(|r| r.get("uid").and_then(Value::as_str) == Some(uid))
                })
        })
        .collect()
}

fn owner_ref(owner: &Value, kind: &str, api_version: &str) -> Value {
    json!([{
        "apiVersion": api_version, "kind": kind, "name": meta_str(owner, "name"),
        "uid": meta_str(owner, "uid"), "controller": true, "blockOwnerDeletion": true,
    }])
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// `pod-template-hash`: a short safe string of the template.
fn template_hash(t: &Value) -> String {
    const ALPHA: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h = fnv(&t.to_string());
    (0..10)
        .map(|_| {
            let c = ALPHA[(h % ALPHA.len() as u64) as usize] as char;
            h /= ALPHA.len() as u64;
            c
        })
        .collect()
}

fn replicas(o: &Value) -> i64 {
    o.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

fn set_status(st: &State, key: &str, obj: &Arc<Value>, status: Value) {
    if obj.get("status") == Some(&status) || obj.pointer("/metadata/deletionTimestamp").is_some() {
        return;
    }
    let mut v = (**obj).clone();
    v["status"] = status;
    let _ = st.store.update(key, v, Some(rv_of(obj)));
}

fn create_pod(
    st: &State,
    ns: &str,
    name: &str,
    template: &Value,
    owner: Value,
    extra_labels: Value,
) {
    let Some(pinfo) = info(st, "", "pods") else {
        return;
    };
    let mut meta = template.get("metadata").cloned().unwrap_or(json!({}));
    meta["name"] = json!(name);
    meta["namespace"] = json!(ns);
    meta["ownerReferences"] = owner;
    if let (Some(l), Some(extra)) = (
        meta.get_mut("labels").and_then(Value::as_object_mut),
        extra_labels.as_object(),
    ) {
        for (k, v) in extra {
            l.insert(k.clone(), v.clone());
        }
    } else if extra_labels.as_object().is_some_and(|m| !m.is_empty()) {
        meta["labels"] = extra_labels;
    }
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta,
        "spec": template.get("spec").cloned().unwrap_or(json!({}))});
    let o = WriteOpts {
        field_manager: "sluice-simnode".into(),
        ..WriteOpts::default()
    };
    let _ = st.create(&pinfo, "v1", Some(ns), pod, &o);
}

fn delete_obj(st: &State, group: &str, plural: &str, obj: &Value) {
    if let Some(i) = info(st, group, plural) {
        let _ = st.delete(
            &i,
            meta_str(obj, "namespace"),
            meta_str(obj, "name"),
            &crate::ops::DeleteOpts::default(),
        );
    }
}

fn pod_ready(p: &Value) -> bool {
    p.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

fn pod_phase(p: &Value) -> &str {
    p.pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending")
}

/// One pass of every simulated controller; whether a Pod waits for its ready delay (a later
/// pass has work even if nothing is written meanwhile).
pub fn reconcile(st: &State, o: &SimOptions) -> bool {
    deployments(st);
    replicasets(st);
    statefulsets(st);
    daemonsets(st, o);
    jobs(st);
    pods(st, o)
}

fn deployments(st: &State) {
    let rss = list(st, "apps", "replicasets");
    for d in list(st, "apps", "deployments") {
        if d.pointer("/metadata/deletionTimestamp").is_some() {
            continue;
        }
        let ns = meta_str(&d, "namespace");
        let template = d.pointer("/spec/template").cloned().unwrap_or(json!({}));
        let hash = template_hash(&template);
        let rs_name = format!("{}-{hash}", meta_str(&d, "name"));
        let mine = owned_by(&rss, meta_str(&d, "uid"));
        let want = replicas(&d);
        let paused = d.pointer("/spec/paused").and_then(Value::as_bool) == Some(true);
        if !paused {
            for old in mine.iter().filter(|r| meta_str(r, "name") != rs_name) {
                delete_obj(st, "apps", "replicasets", old);
            }
        }
        let current = mine.iter().find(|r| meta_str(r, "name") == rs_name);
        match current {
            None if !paused => {
                let Some(rinfo) = info(st, "apps", "replicasets") else {
                    continue;
                };
                let mut tmpl = template.clone();
                tmpl["metadata"]["labels"]["pod-template-hash"] = json!(hash);
                let mut sel = d.pointer("/spec/selector").cloned().unwrap_or(json!({}));
                sel["matchLabels"]["pod-template-hash"] = json!(hash);
                let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {"name": rs_name, "namespace": ns,
                        "labels": tmpl["metadata"]["labels"].clone(),
                        "annotations": {"deployment.kubernetes.io/revision": "1"},
                        "ownerReferences": owner_ref(&d, "Deployment", "apps/v1")},
                    "spec": {"replicas": want, "selector": sel, "template": tmpl}});
                let o = WriteOpts {
                    field_manager: "sluice-simnode".into(),
                    ..WriteOpts::default()
                };
                let _ = st.create(&rinfo, "v1", Some(ns), rs, &o);
            }
            Some(rs) if replicas(rs) != want => {
                let mut v = (***rs).clone();
                v["spec"]["replicas"] = json!(want);
                let _ = st.store.update("apps/replicasets", v, Some(rv_of(rs)));
            }
            _ => {}
        }
        let (ready, total) = current
            .map(|r| {
                (
                    r.pointer("/status/readyReplicas")
                        .and_then(Value::as_i64)
                        .unwrap_or(0),
                    r.pointer("/status/replicas")
                        .and_then(Value::as_i64)
                        .unwrap_or(0),
                )
            })
            .unwrap_or((0, 0));
        let generation = d
            .pointer("/metadata/generation")
            .cloned()
            .unwrap_or(json!(1));
        let available = ready >= want;
        let prev_time = |t: &str| {
            d.pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|c| {
                    c.iter().find(|c| {
                        c["type"] == t
                            && c["status"]
                                == if t == "Available" {
                                    if available { "True" } else { "False" }
                                } else {
                                    "True"
                                }
                    })
                })
                .and_then(|c| c.get("lastTransitionTime").cloned())
                .unwrap_or(json!(util::now_rfc3339()))
        };
        let mut status = json!({
            "observedGeneration": generation,
            "replicas": total,
            "updatedReplicas": total,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "conditions": [
                {"type": "Available", "status": if available { "True" } else { "False" },
                 "reason": if available { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
                 "message": if available { "Deployment has minimum availability." } else { "Deployment does not have minimum availability." },
                 "lastTransitionTime": prev_time("Available"), "lastUpdateTime": prev_time("Available")},
                {"type": "Progressing", "status": "True",
                 "reason": if available { "NewReplicaSetAvailable" } else { "ReplicaSetUpdated" },
                 "message": format!("ReplicaSet \"{rs_name}\" {}", if available { "has successfully progressed." } else { "is progressing." }),
                 "lastTransitionTime": prev_time("Progressing"), "lastUpdateTime": prev_time("Progressing")},
            ],
        });
        if total - ready > 0 {
            status["unavailableReplicas"] = json!(total - ready);
        }
        set_status(st, "apps/deployments", &d, status);
    }
}

fn replicasets(st: &State) {
    let owners = list(st, "apps", "replicasets");
    let pods = owned_pods(st, &owners);
    for rs in owners {
        if rs.pointer("/metadata/deletionTimestamp").is_some() {
            continue;
        }
        let ns = meta_str(&rs, "namespace");
        let mine: Vec<&Arc<Value>> = owned_of(&pods, &rs)
            .iter()
            .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
            .collect();
        let want = replicas(&rs) as usize;
        let template = rs.pointer("/spec/template").cloned().unwrap_or(json!({}));
        if mine.len() < want {
            for _ in mine.len()..want {
                let name = format!("{}-{}", meta_str(&rs, "name"), util::name_suffix());
                create_pod(
                    st,
                    ns,
                    &name,
                    &template,
                    owner_ref(&rs, "ReplicaSet", "apps/v1"),
                    json!({}),
                );
            }
        } else {
            for p in mine.iter().skip(want) {
                delete_obj(st, "", "pods", p);
            }
        }
        let n = mine.len().min(want) as i64;
        let ready = mine.iter().take(want).filter(|p| pod_ready(p)).count() as i64;
        set_status(
            st,
            "apps/replicasets",
            &rs,
            json!({
                "replicas": n, "fullyLabeledReplicas": n, "readyReplicas": ready, "availableReplicas": ready,
                "observedGeneration": rs.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
            }),
        );
    }
}

fn statefulsets(st: &State) {
    let owners = list(st, "apps", "statefulsets");
    let pods = owned_pods(st, &owners);
    for s in owners {
        if s.pointer("/metadata/deletionTimestamp").is_some() {
            continue;
        }
        let ns = meta_str(&s, "namespace");
        let name = meta_str(&s, "name");
        let mine = owned_of(&pods, &s);
        let want = replicas(&s);
        let template = s.pointer("/spec/template").cloned().unwrap_or(json!({}));
        for i in 0..want {
            let pname = format!("{name}-{i}");
            if !mine.iter().any(|p| meta_str(p, "name") == pname) {
                let labels = json!({"statefulset.kubernetes.io/pod-name": pname, "apps.kubernetes.io/pod-index": i.to_string()});
                create_pod(
                    st,
                    ns,
                    &pname,
                    &template,
                    owner_ref(&s, "StatefulSet", "apps/v1"),
                    labels,
                );
            }
        }
        for p in mine {
            let idx = meta_str(p, "name")
                .rsplit('-')
                .next()
                .and_then(|i| i.parse::<i64>().ok())
                .unwrap_or(0);
            if idx >= want {
                delete_obj(st, "", "pods", p);
            }
        }
        let ready = mine.iter().filter(|p| pod_ready(p)).count() as i64;
        let n = (mine.len() as i64).min(want);
        set_status(
            st,
            "apps/statefulsets",
            &s,
            json!({
                "replicas": n, "readyReplicas": ready.min(want), "currentReplicas": n, "updatedReplicas": n,
                "availableReplicas": ready.min(want),
                "observedGeneration": s.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
            }),
        );
    }
}

fn daemonsets(st: &State, o: &SimOptions) {
    let owners = list(st, "apps", "daemonsets");
    let pods = owned_pods(st, &owners);
    for ds in owners {
        if ds.pointer("/metadata/deletionTimestamp").is_some() {
            continue;
        }
        let ns = meta_str(&ds, "namespace");
        let mine = owned_of(&pods, &ds);
        if mine.is_empty() {
            let template = ds.pointer("/spec/template").cloned().unwrap_or(json!({}));
            let name = format!("{}-{}", meta_str(&ds, "name"), util::name_suffix());
            create_pod(
                st,
                ns,
                &name,
                &template,
                owner_ref(&ds, "DaemonSet", "apps/v1"),
                json!({}),
            );
        }
        let ready = mine.iter().filter(|p| pod_ready(p)).count() as i64;
        let _ = &o.node_name;
        set_status(
            st,
            "apps/daemonsets",
            &ds,
            json!({
                "desiredNumberScheduled": 1, "currentNumberScheduled": mine.len().min(1),
                "numberReady": ready.min(1), "updatedNumberScheduled": mine.len().min(1),
                "numberAvailable": ready.min(1), "numberMisscheduled": 0,
                "observedGeneration": ds.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
            }),
        );
    }
}

fn jobs(st: &State) {
    let owners = list(st, "batch", "jobs");
    let pods = owned_pods(st, &owners);
    for j in owners {
        if j.pointer("/metadata/deletionTimestamp").is_some() {
            continue;
        }
        // a finished Job is left as it is, as the job controller leaves it
        // (pkg/controller/job/job_controller.go: `IsJobFinished` ends the sync)
        let finished = j
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|c| {
                matches!(c["type"].as_str(), Some("Complete" | "Failed")) && c["status"] == "True"
            });
        if finished {
            continue;
        }
        let ns = meta_str(&j, "namespace");
        let mine = owned_of(&pods, &j);
        let completions = j
            .pointer("/spec/completions")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let parallelism = j
            .pointer("/spec/parallelism")
            .and_then(Value::as_i64)
            .unwrap_or(1)
            .max(1);
        let succeeded = mine.iter().filter(|p| pod_phase(p) == "Succeeded").count() as i64;
        let active = mine
            .iter()
            .filter(|p| matches!(pod_phase(p), "Pending" | "Running"))
            .count() as i64;
        let suspended = j.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true);
        if !suspended
            && succeeded < completions
            && active < parallelism.min(completions - succeeded)
        {
            let template = j.pointer("/spec/template").cloned().unwrap_or(json!({}));
            let name = format!("{}-{}", meta_str(&j, "name"), util::name_suffix());
            let labels = json!({"batch.kubernetes.io/job-name": meta_str(&j, "name"), "job-name": meta_str(&j, "name")});
            create_pod(
                st,
                ns,
                &name,
                &template,
                owner_ref(&j, "Job", "batch/v1"),
                labels,
            );
        }
        let start = j
            .pointer("/status/startTime")
            .cloned()
            .unwrap_or(json!(util::now_rfc3339()));
        let mut status = json!({"startTime": start, "active": active, "succeeded": succeeded, "ready": mine.iter().filter(|p| pod_ready(p)).count()});
        if succeeded >= completions {
            let done = j
                .pointer("/status/completionTime")
                .cloned()
                .unwrap_or(json!(util::now_rfc3339()));
            status["completionTime"] = done.clone();
            status["active"] = json!(0);
            status["conditions"] = json!([
                {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods", "lastProbeTime": done, "lastTransitionTime": done},
                {"type": "Complete", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods", "lastProbeTime": done, "lastTransitionTime": done},
            ]);
        }
        set_status(st, "batch/jobs", &j, status);
    }
}

/// What the Pod pass reads of a Pod to decide whether it has work: parsed from the stored
/// text without building a `Value` (most Pods are the executor's, or settled).
#[derive(Deserialize, Default)]
#[serde(default)]
struct PodView<'a> {
    #[serde(borrow)]
    metadata: PodMetaView<'a>,
    #[serde(borrow)]
    spec: PodSpecView<'a>,
    #[serde(borrow)]
    status: PodStatusView<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct PodMetaView<'a> {
    deletion_timestamp: Option<serde::de::IgnoredAny>,
    #[serde(borrow)]
    creation_timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    annotations: Option<HashMap<Cow<'a, str>, serde::de::IgnoredAny>>,
    #[serde(borrow)]
    owner_references: Vec<OwnerView<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OwnerView<'a> {
    #[serde(borrow)]
    kind: Cow<'a, str>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct PodSpecView<'a> {
    #[serde(borrow)]
    node_name: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PodStatusView<'a> {
    #[serde(borrow)]
    phase: Option<Cow<'a, str>>,
}

/// Whether the Pod pass has work on a Pod (`Some(true)`: now; `Some(false)`: once its ready
/// delay has passed; `None`: none). A text the view cannot read is left to the full object
/// (`Some(true)`), whose pass decides again from the parsed Pod.
fn pod_work(text: &str, now: i64, o: &SimOptions) -> Option<bool> {
    let Ok(v) = serde_json::from_str::<PodView>(text) else {
        return Some(true);
    };
    // Pods of Sluice's local executor (`sluice serve`'s TaskRuns) get their status from
    // the controller that runs their steps
    if v.metadata.deletion_timestamp.is_some()
        || v.metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(EXECUTOR_ANNOTATION))
    {
        return None;
    }
    if v.spec.node_name.is_none() {
        return Some(true);
    }
    let job_pod = v.metadata.owner_references.iter().any(|r| r.kind == "Job");
    match v.status.phase.as_deref() {
        Some("Succeeded" | "Failed") => None,
        Some("Running") if !job_pod => None,
        _ => {
            let created = v
                .metadata
                .creation_timestamp
                .as_deref()
                .and_then(util::parse_rfc3339)
                .unwrap_or(now);
            Some(now - created >= o.ready_after.as_secs() as i64)
        }
    }
}

/// The Pod pass; whether a Pod waits for its ready delay.
fn pods(st: &State, o: &SimOptions) -> bool {
    let now = util::unix_now();
    let key = resource_key("", "pods");
    let mut waiting = false;
    for stored in st.store.list_stored(&key, None, None).0 {
        match pod_work(stored.json(), now, o) {
            None => continue,
            Some(false) => {
                waiting = true;
                continue;
            }
            Some(true) => {}
        }
        if st.is_quarantined_stored(&key, &stored) {
            continue;
        }
        let p = Arc::new(stored.value());
        let created = util::parse_rfc3339(meta_str(&p, "creationTimestamp")).unwrap_or(now);
        let due = now - created >= o.ready_after.as_secs() as i64;
        let phase = pod_phase(&p).to_owned();
        let job_pod = p
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .is_some_and(|r| r.iter().any(|r| r["kind"] == "Job"));
        let containers: Vec<String> = p
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .map(|c| {
                c.iter()
                    .map(|c| c["name"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        let ts = util::rfc3339(now);
        let node_missing = p.pointer("/spec/nodeName").is_none();
        if node_missing {
            let mut v = (*p).clone();
            v["spec"]["nodeName"] = json!(o.node_name);
            v["status"] = json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": ts}]});
            let _ = st.store.update("/pods", v, Some(rv_of(&p)));
            continue;
        }
        if !due || phase == "Succeeded" || phase == "Failed" || (phase == "Running" && !job_pod) {
            waiting |= !due;
            continue;
        }
        let ip = format!("10.244.0.{}", fnv(meta_str(&p, "uid")) % 250 + 2);
        let status = if job_pod {
            let cs: Vec<Value> = containers.iter().map(|c| json!({"name": c, "ready": false, "restartCount": 0, "image": "", "imageID": "",
                "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": ts, "finishedAt": ts}}})).collect();
            json!({"phase": "Succeeded", "podIP": ip, "hostIP": "127.0.0.1", "startTime": ts, "containerStatuses": cs,
                "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": ts},
                               {"type": "Ready", "status": "False", "reason": "PodCompleted", "lastTransitionTime": ts}]})
        } else {
            let cs: Vec<Value> = containers.iter().map(|c| json!({"name": c, "ready": true, "started": true, "restartCount": 0, "image": "", "imageID": "",
                "state": {"running": {"startedAt": ts}}})).collect();
            json!({"phase": "Running", "podIP": ip, "hostIP": "127.0.0.1", "startTime": ts, "containerStatuses": cs,
                "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": ts},
                               {"type": "Initialized", "status": "True", "lastTransitionTime": ts},
                               {"type": "ContainersReady", "status": "True", "lastTransitionTime": ts},
                               {"type": "Ready", "status": "True", "lastTransitionTime": ts}]})
        };
        set_status(st, "/pods", &p, status);
    }
    waiting
}

#[cfg(test)]
mod tests {
    use super::*;

    fn work(pod: Value, now: i64) -> Option<bool> {
        pod_work(&pod.to_string(), now, &SimOptions::default())
    }

    #[test]
    fn the_pod_pass_reads_which_pods_have_work_without_parsing_them() {
        let t0 = util::parse_rfc3339("2026-12-05T10:00:00Z").unwrap_or_default();
        let created = json!({"creationTimestamp": "2026-12-05T10:00:00Z"});
        let pod = |meta: Value, spec: Value, status: Value| {
            let mut m = created.clone();
            if let (Some(m), Some(extra)) = (m.as_object_mut(), meta.as_object()) {
                m.extend(extra.clone());
            }
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": m, "spec": spec, "status": status})
        };
        let node = json!({"nodeName": "sluice-node", "containers": [{"name": "c"}]});
        // not yet scheduled: work now
        assert_eq!(work(pod(json!({}), json!({}), json!({})), t0), Some(true));
        // scheduled, Pending: waits for the ready delay, then has work
        let pending = pod(json!({}), node.clone(), json!({"phase": "Pending"}));
        assert_eq!(work(pending.clone(), t0), Some(false));
        assert_eq!(work(pending, t0 + 1), Some(true));
        // Running: settled, unless a Job's (which turns Succeeded)
        let running = json!({"phase": "Running"});
        assert_eq!(
            work(pod(json!({}), node.clone(), running.clone()), t0 + 5),
            None
        );
        let job = json!({"ownerReferences": [{"kind": "Job", "name": "j", "uid": "u"}]});
        assert_eq!(work(pod(job, node.clone(), running), t0 + 5), Some(true));
        assert_eq!(
            work(
                pod(json!({}), node.clone(), json!({"phase": "Succeeded"})),
                t0 + 5
            ),
            None
        );
        // the executor's Pods and Pods being deleted are left alone
        let exec = json!({"annotations": {"sluice.dev/executor": "local", "a\"b": "x"}});
        assert_eq!(work(pod(exec, json!({}), json!({})), t0), None);
        let gone = json!({"deletionTimestamp": "2026-12-05T10:00:01Z"});
        assert_eq!(work(pod(gone, json!({}), json!({})), t0), None);
    }
}
