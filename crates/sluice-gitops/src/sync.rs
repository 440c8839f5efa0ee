//! The sync plan of an Application, as gitops-engine's sync context builds it (pure): which
//! objects are applied, pruned or run as hooks, in which phase and wave, in which order.
//!
//! Upstream: `gitops-engine/pkg/sync/sync_tasks.go` (phase, wave, kind order, name; namespaces
//! and CRDs bubbled before what needs them), `sync_context.go` (prune waves reversed,
//! `PruneLast` after the last Sync wave, `ApplyOutOfSyncOnly`), `syncwaves/waves.go`
//! (`argocd.argoproj.io/sync-wave`, else Helm's hook weight), `hook/delete_policy.go`
//! (`BeforeHookCreation` when no policy is given), `hook/helm` (Helm hook names).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

pub const ANNOTATION_HOOK: &str = "argocd.argoproj.io/hook";
pub const ANNOTATION_HOOK_DELETE_POLICY: &str = "argocd.argoproj.io/hook-delete-policy";
pub const ANNOTATION_SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";
pub const ANNOTATION_SYNC_OPTIONS: &str = "argocd.argoproj.io/sync-options";
pub const HELM_HOOK: &str = "helm.sh/hook";
pub const HELM_HOOK_WEIGHT: &str = "helm.sh/hook-weight";
pub const HELM_HOOK_DELETE_POLICY: &str = "helm.sh/hook-delete-policy";

/// A sync phase (gitops-engine `common.SyncPhase`), in execution order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    PreSync,
    Sync,
    PostSync,
    SyncFail,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::PreSync => "PreSync",
            Phase::Sync => "Sync",
            Phase::PostSync => "PostSync",
            Phase::SyncFail => "SyncFail",
        }
    }
}

/// A hook deletion policy (gitops-engine `common.HookDeletePolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeletePolicy {
    HookSucceeded,
    HookFailed,
    BeforeHookCreation,
}

/// What a task does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Apply the target (create or update).
    Apply,
    /// Create the hook object (recreated each sync when BeforeHookCreation applies).
    Hook,
    /// Delete the live object.
    Prune,
    /// The live object has no target but pruning is off for it (reported, not deleted).
    PruneSkipped,
}

/// One object of the sync.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub phase: Phase,
    pub wave: i64,
    pub action: Action,
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// The object to apply (Apply, Hook); `None` for Prune.
    pub target: Option<Value>,
    /// The live object, when there is one.
    pub live: Option<Value>,
    /// Hook deletion policies (hooks only).
    pub delete_policies: Vec<DeletePolicy>,
    /// Per-resource sync options of the object's `argocd.argoproj.io/sync-options`.
    pub options: SyncOptions,
}

/// One resource the plan is built from: its target (from the source) and live objects and
/// whether the comparison found it in sync.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub target: Option<Value>,
    pub live: Option<Value>,
    pub synced: bool,
}

/// Sync options (the Application's `syncPolicy.syncOptions`, or an object's annotation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncOptions {
    pub create_namespace: Option<bool>,
    pub prune_last: Option<bool>,
    pub apply_out_of_sync_only: Option<bool>,
    pub server_side_apply: Option<bool>,
    pub replace: Option<bool>,
    pub validate: Option<bool>,
    pub prune: Option<bool>,
    pub delete: Option<bool>,
    pub respect_ignore_differences: Option<bool>,
    pub prune_propagation_policy: Option<String>,
    /// Entries this version does not know, as written.
    pub unknown: Vec<String>,
}

impl SyncOptions {
    /// Parses `Key=value` entries (Argo CD's option strings).
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> SyncOptions {
        let mut o = SyncOptions::default();
        for e in entries {
            let e = e.trim();
            if e.is_empty() {
                continue;
            }
            let (k, v) = e.split_once('=').unwrap_or((e, ""));
            let b = match v {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            };
            let slot = match k {
                "CreateNamespace" => &mut o.create_namespace,
                "PruneLast" => &mut o.prune_last,
                "ApplyOutOfSyncOnly" => &mut o.apply_out_of_sync_only,
                "ServerSideApply" => &mut o.server_side_apply,
                "Replace" => &mut o.replace,
                "Validate" => &mut o.validate,
                "Prune" => &mut o.prune,
                "Delete" => &mut o.delete,
                "RespectIgnoreDifferences" => &mut o.respect_ignore_differences,
                "PrunePropagationPolicy" => {
                    o.prune_propagation_policy = Some(v.to_string());
                    continue;
                }
                _ => {
                    o.unknown.push(e.to_string());
                    continue;
                }
            };
            match b {
                Some(b) => *slot = Some(b),
                None => o.unknown.push(e.to_string()),
            }
        }
        o
    }

    /// The options of an object's `argocd.argoproj.io/sync-options` annotation (comma
    /// separated, as `resourceutil.GetAnnotationCSVs`).
    pub fn of_object(obj: &Value) -> SyncOptions {
        match annotation(obj, ANNOTATION_SYNC_OPTIONS) {
            Some(s) => SyncOptions::parse(s.split(',')),
            None => SyncOptions::default(),
        }
    }
}

/// Options of the whole operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Prune live objects that have no target (`--prune`, `automated.prune`).
    pub prune: bool,
    /// The Application's sync options.
    pub app: SyncOptions,
}

pub(crate) fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

fn csv(obj: &Value, key: &str) -> Vec<String> {
    annotation(obj, key)
        .map(|s| {
            s.split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// The sync wave of an object: `argocd.argoproj.io/sync-wave` when it is an integer, else
/// Helm's `helm.sh/hook-weight`, else 0 (`syncwaves.Wave`).
pub fn wave(obj: &Value) -> i64 {
    if let Some(w) = annotation(obj, ANNOTATION_SYNC_WAVE).and_then(|s| s.parse::<i64>().ok()) {
        return w;
    }
    annotation(obj, HELM_HOOK_WEIGHT)
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(0)
}

/// The hook phases of an object (`hook.Types`): Argo CD's annotation, else Helm's hook names
/// mapped as `hook/helm/type.go` does; empty when it is not a hook. `None`: the `Skip`
/// hook, the object is left out of the sync.
pub fn hook_phases(obj: &Value) -> Option<Vec<Phase>> {
    let argo = csv(obj, ANNOTATION_HOOK);
    if !argo.is_empty() {
        let mut out = Vec::new();
        for h in argo {
            match h.as_str() {
                "PreSync" => out.push(Phase::PreSync),
                "Sync" => out.push(Phase::Sync),
                "PostSync" => out.push(Phase::PostSync),
                "SyncFail" => out.push(Phase::SyncFail),
                "Skip" => return None,
                _ => {}
            }
        }
        return Some(out);
    }
    let mut out = Vec::new();
    for h in csv(obj, HELM_HOOK) {
        let p = match h.as_str() {
            "crd-install" | "pre-install" | "pre-upgrade" => Phase::PreSync,
            "post-install" | "post-upgrade" => Phase::PostSync,
            _ => continue,
        };
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Some(out)
}

/// Hook deletion policies (`hook.DeletePolicies`): Argo CD's and Helm's annotations,
/// `BeforeHookCreation` when none is given.
pub fn delete_policies(obj: &Value) -> Vec<DeletePolicy> {
    let mut out = Vec::new();
    for p in csv(obj, ANNOTATION_HOOK_DELETE_POLICY) {
        match p.as_str() {
            "HookSucceeded" => out.push(DeletePolicy::HookSucceeded),
            "HookFailed" => out.push(DeletePolicy::HookFailed),
            "BeforeHookCreation" => out.push(DeletePolicy::BeforeHookCreation),
            _ => {}
        }
    }
    for p in csv(obj, HELM_HOOK_DELETE_POLICY) {
        match p.as_str() {
            "hook-succeeded" => out.push(DeletePolicy::HookSucceeded),
            "hook-failed" => out.push(DeletePolicy::HookFailed),
            "before-hook-creation" => out.push(DeletePolicy::BeforeHookCreation),
            _ => {}
        }
    }
    if out.is_empty() {
        out.push(DeletePolicy::BeforeHookCreation);
    }
    out
}

/// Whether an object is a hook (has Argo CD's or Helm's hook annotation).
pub fn is_hook(obj: &Value) -> bool {
    annotation(obj, ANNOTATION_HOOK).is_some() || annotation(obj, HELM_HOOK).is_some()
}

/// The kinds in the order gitops-engine applies them within a wave (Helm's kind sorter);
/// kinds not listed come after all of these.
pub const KIND_ORDER: &[&str] = &[
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

fn kind_rank(kind: &str) -> i64 {
    // listed kinds are negative, unknown ones 0 (last), as upstream's map default
    match KIND_ORDER.iter().position(|k| *k == kind) {
        Some(i) => i as i64 - KIND_ORDER.len() as i64,
        None => 0,
    }
}

pub(crate) fn meta_str<'a>(obj: &'a Value, key: &str) -> &'a str {
    obj.get("metadata")
        .and_then(|m| m.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

pub(crate) fn group_of(obj: &Value) -> &str {
    let av = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    match av.split_once('/') {
        Some((g, _)) => g,
        None => "",
    }
}

fn task_for(obj: &Value, phase: Phase, wave: i64, action: Action, target: bool) -> Task {
    Task {
        phase,
        wave,
        action,
        group: group_of(obj).to_string(),
        kind: obj
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        namespace: meta_str(obj, "namespace").to_string(),
        name: {
            let n = meta_str(obj, "name");
            if n.is_empty() {
                meta_str(obj, "generateName").to_string()
            } else {
                n.to_string()
            }
        },
        target: target.then(|| obj.clone()),
        live: (!target).then(|| obj.clone()),
        delete_policies: Vec::new(),
        options: SyncOptions::of_object(obj),
    }
}

/// The ordered tasks of a sync (`syncTasks.Sort` plus the prune-wave adjustments of
/// `sync_context.go`). Hooks are taken from the targets; a live object without a target is
/// pruned when `opts.prune` (or skipped: `Prune=false` on it, or pruning off).
pub fn plan(resources: &[Resource], opts: &PlanOptions) -> Vec<Task> {
    let mut tasks: Vec<Task> = Vec::new();
    let out_of_sync_only = opts.app.apply_out_of_sync_only == Some(true);
    for r in resources {
        match (&r.target, &r.live) {
            (Some(t), live) => {
                match hook_phases(t) {
                    None => continue, // Skip
                    Some(phases) if !phases.is_empty() => {
                        for p in phases {
                            let mut task = task_for(t, p, wave(t), Action::Hook, true);
                            task.delete_policies = delete_policies(t);
                            task.live = live.clone();
                            tasks.push(task);
                        }
                        continue;
                    }
                    Some(_) => {}
                }
                if out_of_sync_only && r.synced {
                    continue;
                }
                let mut task = task_for(t, Phase::Sync, wave(t), Action::Apply, true);
                task.live = live.clone();
                tasks.push(task);
            }
            (None, Some(l)) => {
                // hooks left in the cluster are not pruned (gitops-engine skips live hooks)
                if is_hook(l) {
                    continue;
                }
                let keep = SyncOptions::of_object(l).prune == Some(false);
                let action = if opts.prune && !keep {
                    Action::Prune
                } else {
                    Action::PruneSkipped
                };
                tasks.push(task_for(l, Phase::Sync, wave(l), action, false));
            }
            (None, None) => {}
        }
    }
    reverse_prune_waves(&mut tasks);
    // PruneLast: after the last wave of the Sync phase (prune tasks counted)
    let last = tasks
        .iter()
        .filter(|t| t.phase == Phase::Sync)
        .map(|t| t.wave)
        .max()
        .unwrap_or(0)
        .max(0)
        + 1;
    for t in tasks.iter_mut() {
        if t.action == Action::Prune
            && (opts.app.prune_last == Some(true) || t.options.prune_last == Some(true))
        {
            t.wave = last;
        }
    }
    sort(&mut tasks);
    tasks
}

/// Prune tasks run in the reverse of their creation order: the prune waves are swapped
/// symmetrically (first with last), as `sync_context.go` does.
fn reverse_prune_waves(tasks: &mut [Task]) {
    let waves: BTreeSet<i64> = tasks
        .iter()
        .filter(|t| t.action == Action::Prune)
        .map(|t| t.wave)
        .collect();
    let waves: Vec<i64> = waves.into_iter().collect();
    let n = waves.len();
    let mut map = BTreeMap::new();
    for (i, w) in waves.iter().enumerate() {
        map.insert(*w, waves[n - 1 - i]);
    }
    for t in tasks.iter_mut().filter(|t| t.action == Action::Prune) {
        if let Some(w) = map.get(&t.wave) {
            t.wave = *w;
        }
    }
}

fn sort(tasks: &mut [Task]) {
    tasks.sort_by(|a, b| {
        a.phase
            .cmp(&b.phase)
            .then(a.wave.cmp(&b.wave))
            .then(kind_rank(&a.kind).cmp(&kind_rank(&b.kind)))
            .then(a.name.cmp(&b.name))
    });
    // namespaces before the objects in them
    adjust_deps(
        tasks,
        |t| (t.kind == "Namespace" && t.group.is_empty()).then(|| t.name.clone()),
        |t| (!t.namespace.is_empty()).then(|| t.namespace.clone()),
    );
    // CRDs before their custom resources
    adjust_deps(
        tasks,
        |t| {
            if t.kind != "CustomResourceDefinition" || t.group != "apiextensions.k8s.io" {
                return None;
            }
            let o = t.target.as_ref()?;
            let g = o.pointer("/spec/group")?.as_str()?;
            let k = o.pointer("/spec/names/kind")?.as_str()?;
            Some(format!("{g}/{k}"))
        },
        |t| Some(format!("{}/{}", t.group, t.kind)),
    );
}

/// `syncTasks.adjustDeps`: a dependency found after the first task that refers to it moves
/// just before that task and takes its phase and wave.
fn adjust_deps(
    tasks: &mut [Task],
    is_dep: impl Fn(&Task) -> Option<String>,
    refs_dep: impl Fn(&Task) -> Option<String>,
) {
    let mut first: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..tasks.len() {
        if tasks[i].target.is_none() {
            continue;
        }
        if let Some(key) = is_dep(&tasks[i]) {
            if let Some(&index) = first.get(&key) {
                let (wave, phase) = (tasks[index].wave, tasks[index].phase);
                tasks[i].wave = wave;
                tasks[i].phase = phase;
                tasks[index..=i].rotate_right(1);
                for v in first.values_mut() {
                    if *v >= index {
                        *v += 1;
                    }
                }
            }
        } else if let Some(key) = refs_dep(&tasks[i]) {
            first.entry(key).or_insert(i);
        }
    }
}

/// The tasks grouped into steps run one after the other: consecutive tasks of the same
/// phase and wave (the next step starts when the previous one is done and healthy).
pub fn steps(tasks: &[Task]) -> Vec<&[Task]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=tasks.len() {
        if i == tasks.len()
            || tasks[i].phase != tasks[start].phase
            || tasks[i].wave != tasks[start].wave
        {
            if i > start {
                out.push(&tasks[start..i]);
            }
            start = i;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(kind: &str, name: &str, ns: &str, ann: Value) -> Value {
        let api = match kind {
            "Deployment" => "apps/v1",
            "Job" => "batch/v1",
            "CustomResourceDefinition" => "apiextensions.k8s.io/v1",
            "Widget" => "example.com/v1",
            _ => "v1",
        };
        let mut m = json!({"name": name, "annotations": ann});
        if !ns.is_empty() {
            m["namespace"] = json!(ns);
        }
        json!({"apiVersion": api, "kind": kind, "metadata": m})
    }
    fn target(o: Value) -> Resource {
        Resource {
            target: Some(o),
            live: None,
            synced: false,
        }
    }
    fn names(ts: &[Task]) -> Vec<String> {
        ts.iter()
            .map(|t| format!("{}:{}:{}/{}", t.phase.as_str(), t.wave, t.kind, t.name))
            .collect()
    }

    // gitops-engine sync_tasks.go: phase, wave, kind order (unknown kinds last), name
    #[test]
    fn order_is_phase_wave_kind_name() {
        let rs = vec![
            target(obj("Deployment", "b", "ns", json!({}))),
            target(obj("Widget", "w", "ns", json!({}))),
            target(obj("Service", "a", "ns", json!({}))),
            target(obj("ConfigMap", "z", "ns", json!({}))),
            target(obj("ConfigMap", "y", "ns", json!({}))),
            target(obj(
                "Job",
                "migrate",
                "ns",
                json!({"argocd.argoproj.io/hook": "PreSync"}),
            )),
            target(obj(
                "Job",
                "notify",
                "ns",
                json!({"argocd.argoproj.io/hook": "PostSync"}),
            )),
            target(obj(
                "ConfigMap",
                "late",
                "ns",
                json!({"argocd.argoproj.io/sync-wave": "2"}),
            )),
            target(obj(
                "Deployment",
                "early",
                "ns",
                json!({"argocd.argoproj.io/sync-wave": "-1"}),
            )),
        ];
        let t = plan(&rs, &PlanOptions::default());
        assert_eq!(
            names(&t),
            vec![
                "PreSync:0:Job/migrate",
                "Sync:-1:Deployment/early",
                "Sync:0:ConfigMap/y",
                "Sync:0:ConfigMap/z",
                "Sync:0:Service/a",
                "Sync:0:Deployment/b",
                "Sync:0:Widget/w",
                "Sync:2:ConfigMap/late",
                "PostSync:0:Job/notify",
            ]
        );
        assert_eq!(steps(&t).len(), 5);
        assert_eq!(t[0].action, Action::Hook);
        assert_eq!(t[0].delete_policies, vec![DeletePolicy::BeforeHookCreation]);
    }

    // sync_tasks.go Sort: adjustDeps moves a namespace before the first object in it, with
    // that object's phase and wave; the same for a CRD and its custom resources
    #[test]
    fn namespaces_and_crds_move_before_dependents() {
        let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com", "annotations": {"argocd.argoproj.io/sync-wave": "5"}},
            "spec": {"group": "example.com", "names": {"kind": "Widget"}}});
        let rs = vec![
            target(obj(
                "ConfigMap",
                "c",
                "team",
                json!({"argocd.argoproj.io/sync-wave": "-2"}),
            )),
            target(obj(
                "Namespace",
                "team",
                "",
                json!({"argocd.argoproj.io/sync-wave": "3"}),
            )),
            target(obj("Widget", "w", "other", json!({}))),
            target(crd),
        ];
        let t = plan(&rs, &PlanOptions::default());
        assert_eq!(
            names(&t),
            vec![
                "Sync:-2:Namespace/team",
                "Sync:-2:ConfigMap/c",
                "Sync:0:CustomResourceDefinition/widgets.example.com",
                "Sync:0:Widget/w",
            ]
        );
    }

    // sync_context.go: prune waves reversed; PruneLast after the last Sync wave; Prune=false
    #[test]
    fn prune_order_and_options() {
        let live = |o: Value| Resource {
            target: None,
            live: Some(o),
            synced: false,
        };
        let rs = vec![
            target(obj(
                "ConfigMap",
                "keep",
                "ns",
                json!({"argocd.argoproj.io/sync-wave": "1"}),
            )),
            live(obj(
                "ConfigMap",
                "p0",
                "ns",
                json!({"argocd.argoproj.io/sync-wave": "0"}),
            )),
            live(obj(
                "ConfigMap",
                "p2",
                "ns",
                json!({"argocd.argoproj.io/sync-wave": "2"}),
            )),
            live(obj(
                "ConfigMap",
                "last",
                "ns",
                json!({"argocd.argoproj.io/sync-options": "PruneLast=true"}),
            )),
            live(obj(
                "ConfigMap",
                "stay",
                "ns",
                json!({"argocd.argoproj.io/sync-options": "Prune=false"}),
            )),
        ];
        let opts = PlanOptions {
            prune: true,
            ..Default::default()
        };
        let t = plan(&rs, &opts);
        let got: Vec<(String, Action)> = t
            .iter()
            .map(|t| (format!("{}:{}", t.wave, t.name), t.action))
            .collect();
        assert_eq!(
            got,
            vec![
                ("0:p2".into(), Action::Prune),
                ("0:stay".into(), Action::PruneSkipped),
                ("1:keep".into(), Action::Apply),
                ("2:p0".into(), Action::Prune),
                ("3:last".into(), Action::Prune),
            ]
        );
        // without --prune nothing is deleted
        let t = plan(&rs, &PlanOptions::default());
        assert!(t.iter().all(|t| t.action != Action::Prune));
    }

    #[test]
    fn options_hooks_and_skip() {
        let o = SyncOptions::parse(["CreateNamespace=true", "ServerSideApply=true", "Bogus=1"]);
        assert_eq!(o.create_namespace, Some(true));
        assert_eq!(o.server_side_apply, Some(true));
        assert_eq!(o.unknown, vec!["Bogus=1".to_string()]);
        let skip = obj(
            "ConfigMap",
            "s",
            "ns",
            json!({"argocd.argoproj.io/hook": "Skip"}),
        );
        let helm = obj(
            "Job",
            "h",
            "ns",
            json!({"helm.sh/hook": "pre-install,pre-upgrade", "helm.sh/hook-weight": "-5",
                   "helm.sh/hook-delete-policy": "hook-succeeded"}),
        );
        let t = plan(&[target(skip), target(helm)], &PlanOptions::default());
        assert_eq!(names(&t), vec!["PreSync:-5:Job/h"]);
        assert_eq!(t[0].delete_policies, vec![DeletePolicy::HookSucceeded]);
        // ApplyOutOfSyncOnly leaves synced objects out
        let synced = Resource {
            target: Some(obj("ConfigMap", "a", "ns", json!({}))),
            live: Some(obj("ConfigMap", "a", "ns", json!({}))),
            synced: true,
        };
        let opts = PlanOptions {
            prune: false,
            app: SyncOptions::parse(["ApplyOutOfSyncOnly=true"]),
        };
        assert!(plan(&[synced], &opts).is_empty());
    }
}
